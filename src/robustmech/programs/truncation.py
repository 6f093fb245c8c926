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
  capped at b), so the duals are constant outside the box; every column beyond the box is
  then a copy of one at b + 1 (at b for a block only identities act on, γ of UB-P-k), which
  stands for it (an assembled program has the copies found and merged numerically).
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

The whole program need not be assembled. Built structured
(:meth:`robustmech.programs.base.Program.build_structured`, blocks of
:mod:`robustmech.lower.kron`), each of its blocks is a sum of Kronecker products of
one-agent factors, and the box program is each factor F replaced by R F C
(:func:`one_agent_fold`): the certificate then applies the whole program's blocks to
the extended point and duals, and the whole grid costs only its vectors. A plain block
(and an assembled program) is folded through the whole-size maps R A Cᵀ instead, with
the same result.

Rows and columns are placed on the grid by their declared index sets: a family or block
indexed by the profiles ``X`` (alone or with other sets) is local, anything else (the
multipliers λ(θ), the marginal rows, the participation rows indexed by (i, θ, x_-i))
is kept as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ..lower.kron import Blocks, IndexFold, Kron, tocsr
from ..lower.kron import fold as kron_fold
from .folding import Extension, Folding, compact, one_agent_fold
from .lp import ConstraintFamily, IndexSet, LinearProgram, VariableBlock, chunks, drop_rounding_noise
from .reductions import NOT_YET_COMPUTED, Reduction
from .symmetry import row_groups

#: from this many columns the default path tries the truncated programs first (below it
#: the whole program takes about a second)
TRUNCATE_FROM_COLUMNS = 100_000
#: grids of more agents keep the whole grid. Three agents are tried since each box is
#: solved over symmetric solutions (N = 3, vbar = 4: LB-G-8 and UB-P-8 certified on
#: x <= 3 in 5.9 s and 3.3 s of HiGHS's interior point method, where the symmetric whole
#: programs take PDLP 102 s and 234 s; without the symmetry on the box, PDLP took 21 s
#: and past 7 minutes)
TRUNCATE_UP_TO_AGENTS = 3
#: the first box reaches the value 3 of X(k) (index 3k); each next one is this much larger.
#: From 2, measured on the public good (N = 2, vbar = 3): UB-P-k was refused on x <= 2 at
#: every k tried (k = 10 to 30: σ reaches x = vbar) and LB-G-k from k = 20, each refusal
#: one more fold and solve; both are certified on x <= 3 at k = 10, 14, 20 and 30
FIRST_BOX_VALUE = 3.0
BOX_GROWTH = 1.5



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


def grid_shape(lp: LinearProgram) -> tuple[int, ...] | None:
    """The shape of the profiles ``X`` the program's local rows and columns are indexed
    by, or None when it has none (or several different ones)."""
    groups: list[ConstraintFamily | VariableBlock] = [*lp.families.values(), *lp.variables.values()]
    shapes = {s.shape for group in groups for s in group.index if s.name == "X" and s.axes}
    return next(iter(shapes)) if len(shapes) == 1 else None


def _diagonal_blocks(lp: LinearProgram) -> list[bool]:
    """Per variable block, whether its columns beyond the box equal the edge's once the
    rows are folded: the block is local, of constant cost and bounds, and every block of
    its columns sits in a local family and is structured with identities (None factors)
    on grid axes that are grid rows too (γ(x) in UB-P-k's rows γ(x) >= ...). An assembled
    program: none."""
    if not lp.structured:
        return [False] * len(lp.variables)
    out = []
    blocks = list(lp.variables.values())
    views = zip(*([compact(v) for v in lp.segments(name, blocks)] for name in ("cost", "col_lower", "col_upper")))
    for j, (v, (cost, lower, upper)) in enumerate(zip(blocks, views)):
        constant = all(np.ptp(vec) == 0 for vec in (cost, lower, upper)
                       if vec.size and np.all(np.isfinite(vec))) and all(
            np.all(np.isinf(vec)) or np.all(np.isfinite(vec)) for vec in (lower, upper))
        cells = [(f, row[j]) for f, row in zip(lp.families.values(), lp.A.cells) if row[j] is not None]
        out.append(any(s.name == "X" for s in v.index) and constant and bool(cells)
                   and all(any(s.name == "X" for s in f.index) and _grid_identity(op) for f, op in cells))
    return out


def _krons(op):
    """The Kronecker blocks a structured operator is made of (a plain matrix: None)."""
    if isinstance(op, Kron):
        yield op
    elif isinstance(op, Blocks):
        for row in op.cells:
            for o in row:
                if o is not None:
                    yield from _krons(o)
    else:
        yield None


def _grid_identity(op) -> bool:
    """Whether ``op`` acts on its grid columns by the identity onto grid rows only."""
    krons = list(_krons(op))
    for k in krons:
        grid = [j for j, a in enumerate(k.axes) if a.col_grid] if k is not None else []
        if not grid or not all(k.axes[j].row_grid for j in grid) or any(
                factors[j] is not None for _, factors in k.terms for j in grid):
            return False
    return bool(krons)


def _has_grid(op, side: str) -> bool:
    """Whether a structured operator has an axis whose rows (``side="row"``) or columns are
    grid points."""
    return any(k is not None and any(a.row_grid if side == "row" else a.col_grid for a in k.axes)
               for k in _krons(op))


def _folded_matrix(lp: LinearProgram, rows: Folding, cols: Folding, kinds: tuple[str, str],
                   folds: list[IndexFold]) -> sp.csr_matrix:
    """R A Cᵀ, with R and C the folded items × items maps of ``kinds`` (rows, columns), block
    by block: a structured block whose grid axes are those of its family and variable
    block is folded factor by factor with the one-agent maps (never assembled at the whole
    grid's size); any other block, and an assembled program, through the whole-size maps."""
    if not lp.structured:
        return sp.csr_matrix(rows.matrix(kinds[0]) @ lp.A @ cols.matrix(kinds[1]).T)
    A: Blocks = lp.A
    done: dict = {}  # the folded factors, shared by the blocks
    cells: list[list] = []
    for i, row in enumerate(A.cells):
        out_row: list = []
        for j, op in enumerate(row):
            if op is None:
                out_row.append(None)
                continue
            want = (rows.groups[i].folded_count, cols.groups[j].folded_count)
            folded = None
            if _has_grid(op, "row") == rows.groups[i].local and _has_grid(op, "col") == cols.groups[j].local:
                folded = kron_fold(op, folds[j], done)
            if folded is not None and tuple(folded.shape) == want:
                out_row.append(tocsr(folded))
            else:
                out_row.append(sp.csr_matrix(rows.matrix(kinds[0], i) @ tocsr(op) @ cols.matrix(kinds[1], j).T))
        cells.append(out_row)
    return Blocks(cells, [g.folded_count for g in rows.groups], [g.folded_count for g in cols.groups]).tocsr()


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
    and its index sets where it is kept whole (otherwise it is indexed by position: the
    product structure is gone)."""
    out = {}
    for name, f in families.items():
        start, count = _kept_range(f, kept)
        if count:
            out[name] = ConstraintFamily(name, start, count, f.description, f.index if count == f.count else ())
    return out


def _blocks(variables: dict[str, VariableBlock], kept: np.ndarray) -> dict[str, VariableBlock]:
    """The variable blocks of the kept columns, renumbered (as :func:`_families`); a block
    kept whole keeps its shape and index sets (what a symmetry acts on)."""
    out = {}
    for name, v in variables.items():
        start, count = _kept_range(v, kept)
        if count == v.size:
            out[name] = VariableBlock(name, start, v.shape, v.description, v.index, v.symbol)
        elif count:
            out[name] = VariableBlock(name, start, (count,), v.description)
    return out


def _on_box(index: tuple[IndexSet, ...], points: int) -> tuple[IndexSet, ...]:
    """The index sets of a folded group: the profiles X cut to each agent's first
    ``points`` values (the last standing for all beyond it where the columns go to b + 1)."""
    return tuple(IndexSet(s.name, axes=tuple(a[:points] for a in s.axes), kind=s.kind, description=s.description)
                 if s.name == "X" and s.axes else s for s in index)


@dataclass(frozen=True)
class _TruncationData:
    """What the inverse needs: the whole program, the foldings of its rows and columns,
    and the merge after the fold (``extend="dual"``: folded column -> small column, the
    small columns being the folded ones ``kept``; ``extend="primal"``: folded row -> small
    row, likewise). The inverse works group by group on the foldings; the whole-size maps
    below (each full column's small column, each small column's stand-in) are made only
    where it cannot: an assembled program, or a point :func:`_on_representatives` cannot
    place."""

    full: LinearProgram
    box: int
    extend: Extension
    rows: Folding
    cols: Folding
    merged: np.ndarray
    kept: np.ndarray
    small_rows: int
    small_columns: int

    @property
    def col_of(self) -> np.ndarray:
        """Each full column's small column."""
        return self.merged[self.cols.target] if self.extend == "dual" else self.cols.target

    @property
    def stand_in_cols(self) -> np.ndarray:
        """Per small column, the full column that takes its value: a folded column inside
        the box where there is one, then its representative (a member inside the box, or
        the first beyond it)."""
        if self.extend == "dual":
            return self.cols.representative[_preferred(self.merged, self.cols.outside)]
        return self.cols.representative


class GridTruncation(Reduction):
    """The program on the box of profiles with every agent's index at most ``box``, with
    the duals (``extend="dual"``) or the point (``extend="primal"``) constant beyond the
    box's edge (module docstring). Not exact by itself: the inverted solution is exact
    where its value meets the whole program's weak-duality bound, which the caller
    checks."""

    def __init__(self, box: int, extend: Extension, merge_rows: bool = True):
        if extend not in ("primal", "dual"):
            raise ValueError(f"extend must be 'primal' or 'dual', got {extend!r}")
        self.box = int(box)
        self.extend: Extension = extend
        # ``extend="primal"``: whether the rows the fold makes identical are merged here;
        # a symmetry reduction applied next merges them itself (with its orbits), and the
        # rows, kept in place, keep their index sets for it
        self.merge_rows = merge_rows

    def apply(self, lp: LinearProgram) -> tuple[LinearProgram, _TruncationData]:
        shape = grid_shape(lp)
        if shape is None:
            raise ValueError(f"{lp.name} has no single grid of profiles X to truncate")
        points, dual = shape[0], self.extend == "dual"
        if not 0 <= self.box < points - 1:
            raise ValueError(f"a box of {lp.name}'s grid keeps the indices 0..b with 0 <= b < {points - 1} "
                             f"(its last index), got b = {self.box}")
        one_agent = one_agent_fold(points, self.box, self.extend)
        # dual, structured: a block that no grid factor but the identity acts on (γ(x) of
        # UB-P-k) has its columns beyond the box equal to the edge's, so it keeps b + 1
        # points, the others b + 2, and no columns are left to merge: the blocks keep
        # their index sets, and a symmetry can act on the box
        diagonal = _diagonal_blocks(lp) if dual else [False] * len(lp.variables)
        col_points = [self.box + 1 if d else one_agent.cols for d in diagonal]
        folds = [one_agent.first_columns(p) for p in col_points]
        families, blocks = list(lp.families.values()), list(lp.variables.values())
        rows = Folding(families, lp.n_rows, shape, self.box + 1, self.box)
        cols = Folding(blocks, lp.n_cols, shape, col_points, self.box)
        # dual: rows beyond the box added to the edge's, the columns up to box + 1 kept
        # (those beyond equal them), each standing for its members, then (an assembled
        # program) identical columns merged; primal: the rows up to the box kept (those
        # beyond are copies), the columns beyond added to the edge's (the point is
        # constant there), then identical rows merged
        kinds = ("membership", "selection") if dual else ("selection", "membership")
        A = _folded_matrix(lp, rows, cols, kinds, folds)
        if lp.metadata.get("drop_rounding"):
            A = drop_rounding_noise(A, copy=False)  # the folded terms summed, as the builder's assembly does
        def row_vector(name: str, how: str) -> np.ndarray:
            return rows.vector(lp.segments(name, families), how)

        def col_vector(name: str, how: str) -> np.ndarray:
            return cols.vector(lp.segments(name, blocks), how)

        if dual:
            lower, upper = row_vector("row_lower", "sum"), row_vector("row_upper", "sum")
            folded_cost = col_vector("cost", "select")
            if lp.structured:
                kept_cols = first = np.arange(cols.count)
                col_lower, col_upper = col_vector("col_lower", "sum"), col_vector("col_upper", "sum")
            else:
                columns = sp.hstack([A.T.tocsr(), sp.csr_matrix(folded_cost[:, None])], format="csr")
                zeros = np.zeros(cols.count)
                kept_cols, first = row_groups(columns, zeros, zeros)
            merged = np.searchsorted(kept_cols, first)  # folded column -> small column
            if not lp.structured:
                col_of = merged[cols.target]
                col_lower, col_upper = (_summed(col_of, len(kept_cols), lp.col_lower),
                                        _summed(col_of, len(kept_cols), lp.col_upper))
            small_A = A if len(kept_cols) == A.shape[1] else A[:, kept_cols].tocsr()  # structured: all kept
            cost = folded_cost[kept_cols]
            kept_rows, kept = np.arange(rows.count), kept_cols
        else:
            cost = col_vector("cost", "sum")
            col_lower, col_upper = col_vector("col_lower", "max"), col_vector("col_upper", "min")
            row_lower, row_upper = row_vector("row_lower", "select"), row_vector("row_upper", "select")
            if self.merge_rows:
                kept_rows, first = row_groups(A, row_lower, row_upper)
                small_A = A[kept_rows]
            else:
                kept_rows = first = np.arange(rows.count)
                small_A = A
            lower, upper = row_lower[kept_rows], row_upper[kept_rows]
            kept_cols, kept = np.arange(cols.count), kept_rows
            merged = np.searchsorted(kept_rows, first)  # folded row -> small row
        folded_families = {f.name: ConstraintFamily(f.name, g.folded_start, g.folded_count, f.description,
                                                    _on_box(f.index, g.points))
                           for f, g in zip(lp.families.values(), rows.groups)}
        folded_blocks = {v.name: VariableBlock(v.name, g.folded_start, tuple(s.size for s in _on_box(v.index, p))
                                               if v.index else (g.folded_count,), v.description,
                                               _on_box(v.index, p), v.symbol)
                         for v, g, p in zip(lp.variables.values(), cols.groups, col_points)}
        small = LinearProgram(
            name=f"{lp.name} on the box x <= {self.box}/k", sense=lp.sense, cost=np.asarray(cost, dtype=float),
            A=small_A, row_lower=lower, row_upper=upper, col_lower=col_lower, col_upper=col_upper,
            variables=_blocks(folded_blocks, kept_cols), families=_families(folded_families, kept_rows),
            offset=lp.offset, metadata={**{k: v for k, v in lp.metadata.items() if k != "drop_rounding"},
                                        "truncated_to": self.box})
        data = _TruncationData(lp, self.box, self.extend, rows, cols, merged, kept, small.n_rows, small.n_cols)
        return small, data

    def invert(self, solution, data: _TruncationData):
        lp = data.full
        rows, cols = data.rows, data.cols
        if data.extend == "dual":
            x = _on_representatives(lp, cols, solution.x) if lp.structured else None
            if x is None:
                x = _spread(solution.x, data.col_of, data.stand_in_cols, lp.col_lower, lp.col_upper)
            y = rows.spread(solution.row_dual) if len(solution.row_dual) else np.zeros(lp.n_rows)
        else:
            x = cols.spread(solution.x)
            y = np.zeros(lp.n_rows)
            if len(solution.row_dual):
                folded = np.zeros(rows.count)
                folded[data.kept] = solution.row_dual  # each small row's dual on its first folded row
                y = rows.place(folded)
        # A x and c - Aᵀy are the whole program's, made once where the chain ends
        objective = sum(float(lp.vector_part("cost", part) @ x[part]) for part in chunks(len(x))) + lp.offset
        return replace(solution, x=x, objective=objective, row_dual=y,
                       col_dual=NOT_YET_COMPUTED, row_activity=NOT_YET_COMPUTED)

    def describe(self, data: _TruncationData) -> dict:
        return {"truncation": {"box": data.box, "extended": data.extend, "columns": data.small_columns,
                               "rows": data.small_rows, "full_columns": data.full.n_cols,
                               "full_rows": data.full.n_rows}}


def _on_representatives(lp: LinearProgram, cols: Folding, values: np.ndarray) -> np.ndarray | None:
    """A structured program's point from the box's (``extend="dual"``, where no columns were
    merged after the fold, so each folded column stands for its members and its
    representative is the member :func:`_spread` fills first): each value on its
    representative and zero elsewhere, which is what :func:`_spread` gives when zero lies
    within every column's bounds and each value within its representative's; None
    otherwise (then :func:`_spread` shares it out)."""
    blocks = list(lp.variables.values())
    lower, upper = lp.segments("col_lower", blocks), lp.segments("col_upper", blocks)
    if not all(np.all(compact(lo) <= 0.0) and np.all(compact(hi) >= 0.0) for lo, hi in zip(lower, upper)):
        return None
    if not np.all((values >= cols.vector(lower, "select")) & (values <= cols.vector(upper, "select"))):
        return None
    return cols.place(values)


def _spread(values: np.ndarray, group: np.ndarray, first: np.ndarray, lower: np.ndarray,
            upper: np.ndarray) -> np.ndarray:
    """Each merged column's value shared among its members (``group``: each full column's
    merged column) within their bounds: every member starts at the bound nearest zero, and
    what is left fills the members in turn (up to their upper bounds, or down to their
    lower ones), the member ``first[g]`` first (one inside the box where there is one)."""
    x = np.clip(0.0, lower, upper)
    left = values - np.bincount(group, weights=x, minlength=len(values))
    # where the chosen member can take what is left of its group's value, it does; the
    # members of the other groups (rare: a bounded member, or a value past the bounds'
    # sum) are filled in turn
    absorbed = (left <= upper[first] - x[first]) & (-left <= x[first] - lower[first])
    x[first[absorbed]] += left[absorbed]
    rest = np.flatnonzero(~absorbed[group])
    if not len(rest):
        return x
    later = np.ones(len(group))
    later[first] = 0.0
    order = rest[_by_group(group[rest], later[rest])]  # by group, its chosen member first
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


def _summed(target: np.ndarray, count: int, bounds: np.ndarray) -> np.ndarray:
    """The bounds of the items going to each of ``count`` targets, summed (the items summed
    here have bounds of one sign, so a sum with an infinite term is that infinity)."""
    return np.bincount(target, weights=bounds, minlength=count)
