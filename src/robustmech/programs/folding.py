"""Where the rows and columns of a grid program go on a box of its grid.

A family of rows or a block of columns indexed by the profiles X(k) (alone or with other
index sets) is *local*: its items fold onto the box {x : every agent's index <= b} with
each agent's index clipped, by the one-agent maps of :func:`one_agent_fold`; any other
group is kept as it is. :class:`Folding` places the groups, folds a vector group by
group and axis by axis on the views it was written as (a bound repeated over the grid,
a broadcast view, is folded from one entry), spreads a folded vector back, and makes
the whole-size maps (each item's folded item, each folded item's representative) only
when they are asked for. :mod:`robustmech.programs.truncation` builds the box programs
with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import scipy.sparse as sp

from ..lower.kron import IndexFold
from .lp import joined

Extension = Literal["primal", "dual"]


def one_agent_fold(points: int, box: int, extend: Extension) -> IndexFold:
    """The one-agent maps R (rows) and C (columns) that turn an agent's factor F of the
    whole program into R F C on the box: for ``extend="dual"`` the rows beyond ``box``
    added to the row at ``box`` and the columns kept up to ``box + 1`` (every column
    beyond then equals that one: R ∇̃+ is zero there, R I is the edge's unit row), for
    ``extend="primal"`` the rows kept up to ``box`` and the columns beyond added to the
    one at ``box`` (the point is constant there; the rows beyond are copies of the
    edge's, ∇+ being zero across the edge)."""
    index = np.arange(points, dtype=np.int64)
    clipped = np.minimum(index, box)
    if extend == "dual":
        return IndexFold(clipped, box + 1, np.where(index <= box + 1, index, -1), box + 2)
    return IndexFold(np.where(index <= box, index, -1), box + 1, clipped, box + 1)


@dataclass(frozen=True)
class _Group:
    """Where one group (family or block) of items lies before and after the fold, and how
    its items are indexed: ``pre`` × profiles × ``post`` for a local group (its index sets
    before and after the profiles X), ``count`` items kept as they are otherwise."""

    start: int
    count: int
    folded_start: int
    folded_count: int
    local: bool
    pre: int
    post: int
    points: int  # points per agent after the fold


class Folding:
    """Where the items (rows or columns) of a program go on the box: each local item (of a
    group indexed by the profiles X) to the item of its group with every agent's index
    clipped to ``points - 1``, every other item to itself. The whole-size maps (each
    item's folded item, ...) are made only when asked for (the inverse; a block folded
    through them): the vectors fold group by group (:meth:`vector`)."""

    def __init__(self, groups, n_items: int, shape: tuple[int, ...], points: int | list[int], box: int):
        groups = list(groups)
        per_group = points if isinstance(points, list) else [points] * len(groups)
        placed, fstart, covered = [], 0, 0
        profiles = int(np.prod(shape))
        for g, own in zip(groups, per_group):
            start, names = g.slice.start, [s.name for s in g.index]
            full = tuple(s.size for s in g.index) or (g.slice.stop - start,)
            count = int(np.prod(full))
            if start != covered:
                raise ValueError("the groups must cover the items in order")
            local = "X" in names
            pre = post = 1
            fcount = count
            if local:
                pos = names.index("X")
                pre, post = int(np.prod(full[:pos])), int(np.prod(full[pos + 1:]))
                fcount = pre * own ** len(shape) * post
                if full[pos] != profiles:
                    raise ValueError("a group's profiles must be the grid's")
            placed.append(_Group(start, count, fstart, fcount, local, pre, post, own))
            fstart += fcount
            covered += count
        if covered != n_items:
            raise ValueError("the groups must cover every item")
        self.groups, self.count, self.shape, self.box = tuple(placed), fstart, tuple(shape), box

    @cached_property
    def _maps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        maps = {p: _profile_maps(self.shape, p, self.box) for p in {g.points for g in self.groups}}
        targets, reps, outs = [], [], []
        for g in self.groups:
            if g.local:
                x_target, x_rep, x_outside = maps[g.points]
                a, c = np.arange(g.pre)[:, None, None], np.arange(g.post)[None, None, :]
                targets.append(g.folded_start + ((a * len(x_rep) + x_target[None, :, None]) * g.post + c).ravel())
                reps.append(g.start + ((a * len(x_target) + x_rep[None, :, None]) * g.post + c).ravel())
                outs.append(np.broadcast_to(x_outside[None, :, None], (g.pre, len(x_rep), g.post)).ravel())
            else:
                targets.append(g.folded_start + np.arange(g.count))
                reps.append(g.start + np.arange(g.count))
                outs.append(np.zeros(g.count, dtype=bool))
        return joined(targets, np.int64), joined(reps, np.int64), joined(outs, bool)

    @property
    def target(self) -> np.ndarray:
        """Each item's folded item."""
        return self._maps[0]

    @property
    def representative(self) -> np.ndarray:
        """Each folded item's item with the same indices (unclipped)."""
        return self._maps[1]

    @property
    def outside(self) -> np.ndarray:
        """Whether each folded item is local with some agent's index beyond the box."""
        return self._maps[2]

    def matrix(self, kind: str, g: int | None = None) -> sp.csr_matrix:
        """Folded items × items: ``"membership"``, 1 where an item goes to the folded item;
        ``"selection"``, 1 at each folded item's representative. With ``g``, the part on
        group ``g`` only."""
        target, representative, count, n = self.target, self.representative, self.count, len(self.target)
        if g is not None:
            group = self.groups[g]
            start, n, fstart, count = group.start, group.count, group.folded_start, group.folded_count
            target = target[start:start + n] - fstart
            representative = representative[fstart:fstart + count] - start
        if kind == "membership":
            return sp.csr_matrix((np.ones(n), (target, np.arange(n))), shape=(count, n))
        return sp.csr_matrix((np.ones(count), (np.arange(count), representative)), shape=(count, n))

    def vector(self, views: list[np.ndarray], how: str) -> np.ndarray:
        """A vector on these items (its views per group, :meth:`LinearProgram.segments`)
        folded: ``"select"`` keeps each folded item's representative's entry, ``"sum"``,
        ``"max"`` and ``"min"`` reduce the entries of the items that go to it. Each agent's
        axis is folded in turn on the group's view, so a bound repeated over the grid (a
        broadcast view) is read, never written at the whole grid's size."""
        reduce = {"sum": np.add, "max": np.maximum, "min": np.minimum}.get(how)
        parts = []
        for g, view in zip(self.groups, views):
            if not g.local:
                parts.append(np.asarray(view, dtype=float).ravel())
                continue
            v = np.reshape(view, (g.pre, *self.shape, g.post))
            p = g.points
            folded_shape = (g.pre,) + (p,) * len(self.shape) + (g.post,)
            weight = np.ones((1,) * len(folded_shape))
            for axis in range(1, len(self.shape) + 1):
                at = (slice(None),) * axis
                if v.strides[axis] == 0:
                    # constant along this agent (a broadcast view): one entry stands for the
                    # axis, and a sum counts the entries the edge takes
                    v = v[at + (slice(0, 1),)]
                    if how == "sum":
                        counts = np.ones(p)
                        counts[-1] = self.shape[axis - 1] - p + 1
                        weight = weight * counts.reshape((-1,) + (1,) * (len(folded_shape) - axis - 1))
                    continue
                head = at + (slice(0, p if reduce is None else p - 1),)
                if reduce is None:
                    v = v[head]
                    continue
                tail = reduce.reduce(v[at + (slice(p - 1, None),)], axis=axis, keepdims=True)
                v = np.concatenate([v[head], tail], axis=axis)
            parts.append((np.broadcast_to(v, folded_shape) * weight).ravel())
        return joined(parts, float)


    def spread(self, folded: np.ndarray) -> np.ndarray:
        """Each item takes its folded item's value (``folded[target]``), one agent's axis
        at a time."""
        parts = []
        for g in self.groups:
            f = folded[g.folded_start:g.folded_start + g.folded_count]
            if g.local:
                f = f.reshape((g.pre,) + (g.points,) * len(self.shape) + (g.post,))
                for axis, n in enumerate(self.shape, start=1):
                    f = np.take(f, np.minimum(np.arange(n), g.points - 1), axis=axis)
            parts.append(f.ravel())
        return joined(parts, folded.dtype)

    def place(self, folded: np.ndarray) -> np.ndarray:
        """Each folded item's value on its representative, zero on every other item."""
        out = np.zeros(self.groups[-1].start + self.groups[-1].count if self.groups else 0, dtype=folded.dtype)
        for g in self.groups:
            f = folded[g.folded_start:g.folded_start + g.folded_count]
            if g.local:
                inside = (slice(None),) + (slice(0, g.points),) * len(self.shape)
                out[g.start:g.start + g.count].reshape((g.pre, *self.shape, g.post))[inside] = f.reshape(
                    (g.pre,) + (g.points,) * len(self.shape) + (g.post,))
            else:
                out[g.start:g.start + g.count] = f
        return out


def _profile_maps(shape: tuple[int, ...], points: int, box: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the profiles of ``shape`` folded onto ``points`` points per agent: each profile's
    folded profile, each folded profile's own profile, and whether it lies beyond the box."""
    full_points = shape[0]
    along, beyond = np.minimum(np.arange(full_points), points - 1), np.arange(full_points) > box
    x_target, x_outside, x_rep = along, beyond, np.arange(points)
    for _ in shape[1:]:  # the profiles in C order, one agent at a time
        x_target = (x_target[:, None] * points + along[None, :]).ravel()
        x_outside = (x_outside[:, None] | beyond[None, :]).ravel()
        x_rep = (x_rep[:, None] * full_points + np.arange(points)[None, :]).ravel()
    return x_target, x_rep, x_outside[x_rep]


def compact(view: np.ndarray) -> np.ndarray:
    """The view with each broadcast axis (stride 0) cut to one entry: the same values, as
    few as were written."""
    return view[tuple(slice(0, 1) if stride == 0 else slice(None) for stride in view.strides)]
