"""Grid truncation: a grid program solved on a box of low profiles, exactly.

The bounding programs of 004 live on X(k) = {0, 1/k, ..., k}^N, but their solutions do
not reach far into it. At k = 30 for the public good (N = 2, vbar = 3, Figure 1 of
004), UB-P-k's information structure σ puts no mass above x_i = 3 (the index 90 of 900),
and the rows of LB-G-k that bind (those with a positive dual: the weights of the
designer's worst case) stay below x_i = 2.2; beyond that the mechanism only has to go on
satisfying rows that do not bind. The grid, though, grows as (k² + 1)^N. This reduction
solves the program on the box B = {x : every agent's index <= b} and extends both the
point and the duals to the whole grid, so that the whole program's own rows and
weak-duality bound judge the answer (:func:`robustmech.api.solve_built`). One side is
extended by zero, the other as a constant beyond the box's edge:

- ``extend="dual"`` (UB-P-k, whose *primal* support is local): every row outside the box
  is added to the row of the same family at the clipped profile π(x) (each agent's index
  capped at b), so the duals are constant outside the box; the columns that this makes
  identical are merged (every column outside the box is then a copy of one at the edge).
  The program is a relaxation: its value is at most the whole program's, and its duals,
  copied onto the rows they stand for, are feasible for the whole program by
  construction (each column's reduced cost is its merged column's). Its point, each
  merged column's value on a member inside the box (within the members' bounds) and the
  columns outside at zero, is feasible for the whole program when the solution does not
  reach the box's edge (for UB-P-k: the merged columns standing for the outside carry
  no mass); then the two values meet.
- ``extend="primal"`` (LB-G-k, whose *dual* support is local): every column outside the
  box is replaced by the column of the same block at π(x), so the point is constant
  outside the box; the rows this makes identical are merged. The program is a
  restriction (its value is at most the whole program's, in the max direction), its
  point is feasible for the whole program by construction, and its duals, on one row of
  each merged set and zero elsewhere, are feasible for the whole program when the rows at
  and beyond the box's edge carry no dual weight (a column without bounds that those
  rows touch leaves no finite bound otherwise).

Either way, equality of the point's value and the weak-duality bound on the whole
program proves both optimal; where they do not meet (the box is too small) the caller
tries a larger box (:func:`boxes`) and, in the end, the whole grid.

Rows and columns are placed on the grid by their declared index sets: a family or block
indexed by the profiles ``X`` (alone or with other sets) is local, anything else (the
multipliers λ(θ), the marginal rows, the participation rows indexed by (i, θ, x_-i))
is kept as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import scipy.sparse as sp

from .lp import ConstraintFamily, LinearProgram, VariableBlock
from .reductions import Reduction
from .symmetry import row_groups

#: from this many columns the default path tries the truncated programs first (below it
#: the whole program takes about a second)
TRUNCATE_FROM_COLUMNS = 100_000
#: grids of more agents keep the whole grid: the support reaches further into a smaller
#: grid (N = 3, vbar = 4 at k = 6: UB-P-6 needs more than the box x <= 3 of the grid's
#: 6), and the box program lacks the symmetry reduction that the whole one has (UB-P-6
#: on that box took PDLP 258 s, the symmetric whole program 22.5 s)
TRUNCATE_UP_TO_AGENTS = 2
#: the first box reaches the value 2 of X(k) (index 2k); each next one is this much larger
FIRST_BOX_VALUE = 2.0
BOX_GROWTH = 1.5

Extension = Literal["primal", "dual"]


def tried_on_boxes(n_agents: int, columns: int) -> bool:
    """Whether the default path tries boxes first for a program of this grid dimension
    and size (of a program that offers a truncation)."""
    return n_agents <= TRUNCATE_UP_TO_AGENTS and columns >= TRUNCATE_FROM_COLUMNS


def boxes(points_per_agent: int, k: int) -> list[int]:
    """The boxes to try, as the largest index b kept for each agent: from the value
    ``FIRST_BOX_VALUE`` up by ``BOX_GROWTH``, while the box is smaller than the grid."""
    out: list[int] = []
    b = int(round(FIRST_BOX_VALUE * k))
    while b < points_per_agent - 1:
        out.append(b)
        b = int(np.ceil(b * BOX_GROWTH))
    return out


@dataclass(frozen=True)
class _Placed:
    """Where the items (rows or columns) of a program sit on the grid."""

    point: np.ndarray  # each item's flat profile, -1 for an item that is not local
    # per local group: (first item, position of X in its index, shape of its index)
    groups: tuple[tuple[int, int, tuple[int, ...]], ...]

    def outside(self, inside: np.ndarray) -> np.ndarray:
        """Whether each item is local and its profile outside the box (``inside`` per profile)."""
        return (self.point >= 0) & ~inside[np.maximum(self.point, 0)]

    def moved(self, to_point: np.ndarray) -> np.ndarray:
        """For every item, the item of the same group and other indices at profile
        ``to_point[its profile]`` (non-local items map to themselves)."""
        out = np.arange(len(self.point))
        for start, pos, shape in self.groups:
            count = int(np.prod(shape))
            sub = list(np.unravel_index(np.arange(count), shape))
            sub[pos] = to_point[sub[pos]]
            out[start:start + count] = start + np.ravel_multi_index(tuple(sub), shape)
        return out


def grid_shape(lp: LinearProgram) -> tuple[int, ...] | None:
    """The shape of the profiles ``X`` the program's local rows and columns are indexed
    by, or None when it has none (or several different ones)."""
    groups: list[ConstraintFamily | VariableBlock] = [*lp.families.values(), *lp.variables.values()]
    shapes = {s.shape for group in groups for s in group.index if s.name == "X" and s.axes}
    return next(iter(shapes)) if len(shapes) == 1 else None


def _place(groups, n_items: int) -> _Placed:
    point = np.full(n_items, -1, dtype=np.int64)
    placed = []
    for g in groups:
        names = [s.name for s in g.index]
        if "X" not in names:
            continue
        shape = tuple(s.size for s in g.index)
        pos = names.index("X")
        start = g.slice.start
        count = int(np.prod(shape))
        point[start:start + count] = np.unravel_index(np.arange(count), shape)[pos]
        placed.append((start, pos, shape))
    return _Placed(point, tuple(placed))


def _clip(shape: tuple[int, ...], b: int) -> tuple[np.ndarray, np.ndarray]:
    """For every flat profile: whether it lies in the box, and its clipped profile π(x)."""
    index = np.indices(shape).reshape(len(shape), -1)
    inside = np.asarray((index <= b).all(axis=0))
    return inside, np.asarray(np.ravel_multi_index(tuple(np.minimum(index, b)), shape))


def _by_group(group: np.ndarray, later: np.ndarray) -> np.ndarray:
    """The items in order of their group, then of ``later`` (smaller first), then of index."""
    return np.lexsort((np.arange(len(group)), later, group))


def _preferred(group: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """Per group (0..G-1), the member that stands for it: one inside the box (or not
    local) if any, else its first."""
    order = _by_group(group, outside)
    first = np.ones(len(group), dtype=bool)
    first[1:] = group[order][1:] != group[order][:-1]
    return order[first]


def _kept_range(group: ConstraintFamily | VariableBlock, kept: np.ndarray) -> tuple[int, int]:
    sl = group.slice
    lo, hi = np.searchsorted(kept, [sl.start, sl.stop])
    return int(lo), int(hi - lo)


def _families(families: dict[str, ConstraintFamily], kept: np.ndarray) -> dict[str, ConstraintFamily]:
    """The families of the kept rows, renumbered; each keeps its name and description,
    indexed by position (the product structure is gone)."""
    ranges = {name: _kept_range(f, kept) for name, f in families.items()}
    return {name: ConstraintFamily(name, start, count, families[name].description)
            for name, (start, count) in ranges.items() if count}


def _blocks(variables: dict[str, VariableBlock], kept: np.ndarray) -> dict[str, VariableBlock]:
    """The variable blocks of the kept columns, renumbered (as :func:`_families`)."""
    ranges = {name: _kept_range(v, kept) for name, v in variables.items()}
    return {name: VariableBlock(name, start, (count,), variables[name].description)
            for name, (start, count) in ranges.items() if count}


@dataclass(frozen=True)
class _TruncationData:
    full: LinearProgram
    box: int
    extend: Extension
    row_of: np.ndarray  # full row -> small row (extend="dual": the row it was added to)
    col_of: np.ndarray  # full column -> small column
    stand_in_rows: np.ndarray  # per small row, the full row that takes its dual
    stand_in_cols: np.ndarray  # per small column, the full column that takes its value
    rows: int
    columns: int


class GridTruncation(Reduction):
    """The program on the box of profiles with every agent's index at most ``box``, with
    the duals (``extend="dual"``) or the point (``extend="primal"``) constant beyond the
    box's edge (module docstring). Not exact by itself: the inverted solution is exact
    where its value meets the whole program's weak-duality bound, which the caller
    checks."""

    def __init__(self, box: int, extend: Extension):
        if extend not in ("primal", "dual"):
            raise ValueError(f"extend must be 'primal' or 'dual', got {extend!r}")
        self.box = int(box)
        self.extend: Extension = extend

    def apply(self, lp: LinearProgram) -> tuple[LinearProgram, _TruncationData]:
        shape = grid_shape(lp)
        if shape is None:
            raise ValueError(f"{lp.name} has no single grid of profiles X to truncate")
        inside, clipped = _clip(shape, self.box)
        rows, cols = _place(lp.families.values(), lp.n_rows), _place(lp.variables.values(), lp.n_cols)
        if self.extend == "dual":
            # rows outside added to their clipped row; then identical columns merged
            target = rows.moved(clipped)
            kept_rows = np.unique(target)
            row_of = np.searchsorted(kept_rows, target)
            R = sp.csr_matrix((np.ones(lp.n_rows), (row_of, np.arange(lp.n_rows))), shape=(len(kept_rows), lp.n_rows))
            A = (R @ lp.A).tocsc()
            lower, upper = _summed(R, lp.row_lower), _summed(R, lp.row_upper)
            columns = sp.hstack([A.T.tocsr(), sp.csr_matrix(lp.cost[:, None])], format="csr")
            zeros = np.zeros(lp.n_cols)
            kept_cols, first = row_groups(columns, zeros, zeros)
            col_of = np.searchsorted(kept_cols, first)
            C = sp.csr_matrix((np.ones(lp.n_cols), (np.arange(lp.n_cols), col_of)), shape=(lp.n_cols, len(kept_cols)))
            small_A = A[:, kept_cols].tocsr()
            merge = C.T.tocsr()
            col_lower, col_upper = _summed(merge, lp.col_lower), _summed(merge, lp.col_upper)
            cost = lp.cost[kept_cols]
            stand_in_rows = kept_rows  # each kept row is the row inside the box its outside rows were added to
            stand_in_cols = _preferred(col_of, cols.outside(inside))
        else:
            # columns outside replaced by their clipped column; then identical rows merged
            target = cols.moved(clipped)
            kept_cols = np.unique(target)
            col_of = np.searchsorted(kept_cols, target)
            C = sp.csr_matrix((np.ones(lp.n_cols), (np.arange(lp.n_cols), col_of)), shape=(lp.n_cols, len(kept_cols)))
            A = (lp.A @ C).tocsr()
            cost = C.T @ lp.cost
            col_lower = np.full(len(kept_cols), -np.inf)
            np.maximum.at(col_lower, col_of, lp.col_lower)
            col_upper = np.full(len(kept_cols), np.inf)
            np.minimum.at(col_upper, col_of, lp.col_upper)
            kept_rows, first = row_groups(A, lp.row_lower, lp.row_upper)
            row_of = np.searchsorted(kept_rows, first)
            small_A = A[kept_rows]
            lower, upper = lp.row_lower[kept_rows], lp.row_upper[kept_rows]
            stand_in_rows = _preferred(row_of, rows.outside(inside))
            stand_in_cols = kept_cols
        small = LinearProgram(
            name=f"{lp.name} on the box x <= {self.box}/k", sense=lp.sense, cost=np.asarray(cost, dtype=float),
            A=small_A, row_lower=lower, row_upper=upper, col_lower=col_lower, col_upper=col_upper,
            variables=_blocks(lp.variables, kept_cols), families=_families(lp.families, kept_rows), offset=lp.offset,
            metadata={**lp.metadata, "truncated_to": self.box})
        data = _TruncationData(lp, self.box, self.extend, row_of, col_of, stand_in_rows, stand_in_cols, small.n_rows,
                               small.n_cols)
        return small, data

    def invert(self, solution, data: _TruncationData):
        lp = data.full
        if data.extend == "dual":
            x = _spread(solution.x, data.col_of, data.stand_in_cols, lp.col_lower, lp.col_upper)
            y = solution.row_dual[data.row_of] if len(solution.row_dual) else np.zeros(lp.n_rows)
        else:
            x = solution.x[data.col_of]
            y = np.zeros(lp.n_rows)
            if len(solution.row_dual):
                y[data.stand_in_rows] = solution.row_dual
        return replace(solution, x=x, objective=float(lp.cost @ x + lp.offset), row_dual=y,
                       col_dual=lp.cost - lp.A.T @ y, row_activity=lp.A @ x)

    def describe(self, data: _TruncationData) -> dict:
        return {"truncation": {"box": data.box, "extended": data.extend, "columns": data.columns,
                               "rows": data.rows, "full_columns": data.full.n_cols, "full_rows": data.full.n_rows}}


def _spread(values: np.ndarray, group: np.ndarray, first: np.ndarray, lower: np.ndarray,
            upper: np.ndarray) -> np.ndarray:
    """Each merged column's value shared among its members (``group``: each full column's
    merged column) within their bounds: every member starts at the bound nearest zero, and
    what is left fills the members in turn (up to their upper bounds, or down to their
    lower ones), the member ``first[g]`` first (one inside the box where there is one)."""
    x = np.clip(0.0, lower, upper)
    left = values - np.bincount(group, weights=x, minlength=len(values))
    later = np.ones(len(group))
    later[first] = 0.0
    order = _by_group(group, later)  # by group, its chosen member first
    g = group[order]
    for sign, room in ((1.0, upper - x), (-1.0, x - lower)):
        need = np.maximum(sign * left, 0.0)[g]
        room = room[order]
        # what the earlier members of the same group can take (an infinite room takes the rest)
        taken_before = _earlier_in_group(np.minimum(room, need), g)
        x[order] += sign * np.clip(need - taken_before, 0.0, room)
    return x


def _earlier_in_group(amounts: np.ndarray, group: np.ndarray) -> np.ndarray:
    """For items sorted by ``group``, the sum of ``amounts`` over the earlier items of the
    same group."""
    total = np.cumsum(amounts) - amounts
    if not len(group):
        return total
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    first_of = np.repeat(starts, np.diff(np.r_[starts, len(group)]))
    return total - total[first_of]


def _summed(R: sp.csr_matrix, bounds: np.ndarray) -> np.ndarray:
    """R @ bounds with infinite bounds kept infinite (a sum with one infinite term is
    infinite; the rows summed here have bounds of one sign)."""
    finite = np.isfinite(bounds)
    total = R @ np.where(finite, bounds, 0.0)
    infinite = (R @ (~finite).astype(float)) > 0
    sign = np.sign(R @ np.where(finite, 0.0, np.sign(bounds)))
    return np.where(infinite, np.copysign(np.inf, sign), total)
