"""Solving a program over its symmetric solutions only.

Given permutations of the columns under which a linear program is invariant (its
feasible set and objective), every optimum averages to a symmetric optimum, so the
program may be restricted to columns that are constant on orbits: x = P z with P the
0/1 orbit matrix. The reduced program has one column per orbit. Rows that the group maps
onto each other become copies; they are one row (:func:`reduce_with_rows`), because
an interior point method with a direct factorization pays for every duplicate (the
public good's LB-G-14: 64 s with them in Clarabel, 10 s without). Exact, not a heuristic.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .lp import ConstraintFamily, IndexSet, LinearProgram, VariableBlock, chunks, row_largest


def orbit_matrix(n_cols: int, permutations: list[np.ndarray]) -> sp.csr_matrix:
    """P with P[c, o] = 1 when column c lies in orbit o of the group the permutations
    generate, the orbits numbered in the order of their first columns."""
    if not permutations:
        return sp.identity(n_cols, format="csr")
    labels = _orbit_labels(n_cols, permutations)
    if labels is None:
        rows = np.concatenate([np.arange(n_cols) for _ in permutations])
        cols = np.concatenate(permutations)
        graph = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_cols, n_cols))
        _, labels = connected_components(graph, directed=False)  # numbered by first member too
    n_orbits = int(labels.max(initial=-1)) + 1
    return sp.csr_matrix((np.ones(n_cols), labels, np.arange(n_cols + 1)), shape=(n_cols, n_orbits))


#: rounds of :func:`_orbit_labels` before the orbits are found as a graph's components
ORBIT_ROUNDS = 16


def _orbit_labels(n: int, permutations: list[np.ndarray]) -> np.ndarray | None:
    """Each item's orbit, numbered by the orbits' first items: every item takes the
    smallest first item among itself and its images, until nothing changes (one round
    for a swap of two agents, a few for the permutations of three); None after
    ``ORBIT_ROUNDS`` rounds (long cycles), where the graph's components are found
    instead."""
    first = np.arange(n)
    for _ in range(ORBIT_ROUNDS):
        before = first
        for perm in permutations:
            first = np.minimum(first, first[perm])
        # and back along each permutation (its inverse), so that a round moves the
        # smallest member both ways
        for perm in permutations:
            back = np.empty_like(first)
            back[perm] = first
            first = np.minimum(first, back)
        if np.array_equal(first, before):
            is_first = first == np.arange(n)
            return (np.cumsum(is_first) - 1)[first]
    return None


def reduce_program(lp: LinearProgram, permutations: list[np.ndarray]) -> tuple[LinearProgram, sp.csr_matrix]:
    """The program restricted to orbit-constant columns, and P (x = P z)."""
    reduced, P, _ = reduce_with_rows(lp, permutations)
    return reduced, P


def reduce_with_rows(lp: LinearProgram, permutations: list[np.ndarray],
                     row_orbits: sp.csr_matrix | None = None, column_orbits: sp.csr_matrix | None = None,
                     ) -> tuple[LinearProgram, sp.csr_matrix, np.ndarray]:
    """The program restricted to orbit-constant columns, P (x = P z), and for every row
    of the full program the reduced row that stands for it.

    Rows the group maps onto each other (``row_orbits``: the :func:`orbit_matrix` of the
    row permutations that go with ``permutations``, from :func:`row_permutation`) are one
    row of the reduced program:
    row r's coefficient on orbit o is Σ_{c ∈ o} A[r, c], and its image's is the same sum
    in another order, which in floating point may differ in the last bit (three agents'
    cost shares of 1/3: UB-P-6 of the N = 3 public good kept 63,713 of its 202,615 rows
    when copies had to be bit-identical, 35,151 by its row orbits). A member is merged
    with its orbit's first row only where their reduced rows agree to the quantum of
    :func:`row_groups` (the invariance check itself allows 1e-9), and identical rows
    beyond the orbits are dropped too (:func:`row_groups`). ``column_orbits``, where the
    caller has it, is ``orbit_matrix(lp.n_cols, permutations)``, not found again."""
    P = orbit_matrix(lp.n_cols, permutations) if column_orbits is None else column_orbits
    counts = np.asarray(P.sum(axis=0)).ravel()
    # bounds are equal on an orbit when the program is invariant; take the tightest anyway
    col_lower = np.full(P.shape[1], -np.inf)
    col_upper = np.full(P.shape[1], np.inf)
    labels = P.indices  # one nonzero per row of P, in row order
    np.maximum.at(col_lower, labels, lp.col_lower)
    np.minimum.at(col_upper, labels, lp.col_upper)
    A = (lp.A @ P).tocsr()
    first = np.arange(lp.n_rows)  # each row -> the first row of its row orbit
    if row_orbits is not None:
        orbit = row_orbits.indices  # one nonzero per row: its orbit
        _, first_of, which = np.unique(orbit, return_index=True, return_inverse=True)
        first = first_of[which.ravel()]
        # the invariance check matched rows to a tolerance: a member whose reduced row is
        # not its leader's (up to the quantum) stands for itself
        apart = abs(A - A[first]).max(axis=1).toarray().ravel() > _row_quantum(A)
        first[apart] = np.flatnonzero(apart)
    # the sorted distinct firsts, by a mask rather than a sort
    leaders = np.flatnonzero(np.bincount(first, minlength=lp.n_rows))
    kept, leader_representative = row_groups(A[leaders], lp.row_lower[leaders], lp.row_upper[leaders])
    keep = leaders[kept]
    position = np.full(lp.n_rows, -1, dtype=np.int64)
    position[leaders] = np.arange(len(leaders))
    representative = leaders[leader_representative[position[first]]]
    position[:] = -1
    position[keep] = np.arange(len(keep))
    reduced_row = position[representative]
    reduced = LinearProgram(
        name=lp.name + " (symmetric)",
        sense=lp.sense,
        cost=P.T @ lp.cost,
        A=A[keep],
        row_lower=lp.row_lower[keep],
        row_upper=lp.row_upper[keep],
        col_lower=col_lower,
        col_upper=col_upper,
        variables={"orbits": VariableBlock("orbits", 0, (P.shape[1],), "one column per orbit of the symmetry group")},
        families=_kept_families(lp.families, keep),
        offset=lp.offset,
        build_seconds=lp.build_seconds,
        metadata={**lp.metadata, "orbit_sizes": counts},
    )
    return reduced, P, reduced_row


def unique_rows(A: sp.csr_matrix, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Sorted indices of the first of each group of identical rows (same bounds, the same
    coefficients up to :data:`ROW_QUANTUM`); see :func:`row_groups`."""
    return row_groups(A, lower, upper)[0]


# rows equal to this share of their largest entry (a power of two at or below it) are
# copies: the same sums of coefficients, added in another order, differ in the last bits
ROW_QUANTUM = 2.0 ** -44


def row_groups(A: sp.csr_matrix, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted indices of the first of each group of identical rows (same bounds, the
    same coefficients up to :data:`ROW_QUANTUM` of the row's largest), and for every row
    the first row of its group. Candidates are grouped by two random projections of the
    row, its coefficients rounded to that quantum, and its bounds; each candidate is then
    compared entry by entry with its group's first row, so a hash collision can never
    merge rows that differ."""
    A = A.tocsr()
    if not A.has_canonical_format:  # a copy only where the caller's matrix would change
        A = A.copy()
        A.sum_duplicates()
        A.sort_indices()
    quantum = _row_quantum(A)
    # the rounded coefficients on A's own structure (no copy of A to overwrite)
    snapped = sp.csr_matrix((np.round(A.data / np.repeat(quantum, np.diff(A.indptr))), A.indices, A.indptr),
                            shape=A.shape)
    key = _row_keys(snapped, lower, upper, _normal(0, (A.shape[1], 2)))
    # one number per row (a random combination): np.unique of a vector, not of rows,
    # takes a tenth of the time; identical rows give bit-identical numbers, and a
    # coincidence between different rows is caught by the comparison below
    key = np.column_stack([key, quantum]) @ _normal(3, (key.shape[1] + 1,))
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    group = group.ravel()
    representative = first[group]
    dropped = np.flatnonzero(representative != np.arange(A.shape[0]))
    if len(dropped):
        twin = representative[dropped]
        # infinite bounds compare equal to themselves (-inf == -inf), as they should
        same = abs(A[dropped] - A[twin]).max(axis=1).toarray().ravel() <= quantum[dropped]
        same &= (lower[dropped] == lower[twin]) & (upper[dropped] == upper[twin])
        keep = np.ones(A.shape[0], dtype=bool)
        keep[dropped[same]] = False
        representative = np.arange(A.shape[0])
        representative[dropped[same]] = twin[same]
        return np.flatnonzero(keep), representative
    return np.arange(A.shape[0]), np.arange(A.shape[0])


def _row_quantum(A: sp.csr_matrix) -> np.ndarray:
    """Per row, :data:`ROW_QUANTUM` times the largest power of two not above its largest
    magnitude (1 for an empty row): a power of two, so rows whose largest entries differ
    in the last bits get the same quantum, unless they straddle a power of two (then they
    are not merged, which is safe)."""
    largest = row_largest(A)
    return ROW_QUANTUM * np.exp2(np.floor(np.log2(np.where(largest > 0, largest, 1.0))))


def _kept_families(families: dict, keep: np.ndarray) -> dict:
    """Families are contiguous row ranges; so are their kept rows, renumbered."""
    out = {}
    for name, fam in families.items():
        start = int(np.searchsorted(keep, fam.start))
        stop = int(np.searchsorted(keep, fam.start + fam.count))
        out[name] = ConstraintFamily(fam.name, start, stop - start, fam.description)
    return out


def max_violation(lp: LinearProgram, x: np.ndarray, activity: np.ndarray | None = None) -> float:
    """The largest violation of a row or column bound by x (0 when feasible); ``activity``
    is A x where the caller has computed it from x."""
    act = lp.A @ x if activity is None else activity
    worst = 0.0
    for value, lower, upper in ((act, "row_lower", "row_upper"), (x, "col_lower", "col_upper")):
        for part in chunks(len(value)):  # small temporaries on programs of millions of rows
            v = value[part]
            # np.max keeps a NaN, which the certificate refuses (robustmech.api.certify_solution)
            worst = np.max([worst, (lp.vector_part(lower, part) - v).max(initial=0.0),
                            (v - lp.vector_part(upper, part)).max(initial=0.0)])
    return float(worst)


# -- the action of an environment's symmetry on a program's columns ---------------------


def _relabel(labels: tuple, names: tuple, images: tuple[int, ...]) -> np.ndarray | None:
    """The permutation of ``labels`` (a subset of ``names``) induced by name i -> name
    images[i]; None when the subset is not closed under it."""
    where = {name: j for j, name in enumerate(names)}
    position = {label: j for j, label in enumerate(labels)}
    out = np.empty(len(labels), dtype=np.int64)
    for j, label in enumerate(labels):
        if label not in where:
            return None
        target = position.get(names[images[where[label]]])
        if target is None:
            return None
        out[j] = target
    return out


def index_permutation(index: IndexSet, symmetry, agents: tuple, states: tuple, outcomes: tuple) -> np.ndarray | None:
    """How a symmetry (π, τ, φ) of the environment (lower/symmetry.py) permutes the
    members of one index set, by the set's kind: profiles x -> πx, agents i -> π(i),
    states θ -> τθ, outcomes ω -> φω, a class of states C -> the member whose class is
    τC. A set of no kind is left in place (the identity; whether the program is then
    invariant is checked on the program itself). None when the symmetry cannot act on
    the set (profiles whose agents have different values, a class with no image)."""
    from ..lower.symmetry import profile_permutation

    if index.kind == "profile":
        pi = tuple(symmetry.agents)
        if len(pi) != len(index.axes) or any(index.axes[i] != index.axes[pi[i]] for i in range(len(pi))):
            return None
        return profile_permutation(index.shape, pi)
    if index.kind == "agent":
        return _relabel(index.members, tuple(agents), tuple(symmetry.agents))
    if index.kind == "state":
        return _relabel(index.members, tuple(states), tuple(symmetry.states))
    if index.kind == "outcome":
        return _relabel(index.members, tuple(outcomes), tuple(symmetry.outcomes))
    if index.kind == "state class":
        image = {states[s]: states[t] for s, t in enumerate(symmetry.states)}
        where = {frozenset(c): j for j, c in enumerate(index.classes)}
        if len(where) != len(index.classes):
            return None  # two members stand for the same states: their images are ambiguous
        targets = [where.get(frozenset(image[label] for label in c)) for c in index.classes]
        if any(t is None for t in targets):
            return None
        return np.asarray(targets, dtype=np.int64)  # a bijection: distinct classes have distinct images
    return np.arange(index.size)


def _block_image(index_sets: tuple[IndexSet, ...], symmetry, agents: tuple, states: tuple, outcomes: tuple,
                 kinds_only: bool = False) -> np.ndarray | None:
    """Where a symmetry sends each member of a block (or family) indexed by the product of
    ``index_sets`` in C order, as positions within the block; None where it cannot act on
    a set, or (``kinds_only``) where a set of more than one member has no kind, so that
    how it moves is not declared."""
    flat = np.zeros(1, dtype=np.int64)
    for index in index_sets:
        if kinds_only and not index.kind and index.size > 1:
            return None
        image = index_permutation(index, symmetry, agents, states, outcomes)
        if image is None:
            return None
        flat = (flat[:, None] * index.size + image[None, :]).ravel()
    return flat


def column_permutation(lp: LinearProgram, symmetry, agents: tuple, states: tuple,
                       outcomes: tuple) -> np.ndarray | None:
    """The column permutation of ``lp`` that a symmetry of the environment induces through
    the declared index sets of its variable blocks (column c -> perm[c]), or None when a
    block declares no index sets or the symmetry cannot act on one of them."""
    perm = np.empty(lp.n_cols, dtype=np.int64)
    for block in lp.variables.values():
        if not block.index:
            if block.size == 1:
                perm[block.slice] = block.start  # a scalar (a profit bound) stays where it is
                continue
            return None
        flat = _block_image(block.index, symmetry, agents, states, outcomes)
        if flat is None:
            return None
        perm[block.slice] = block.start + flat
    return perm


def declared_row_images(lp: LinearProgram, symmetry, agents: tuple, states: tuple,
                        outcomes: tuple) -> np.ndarray | None:
    """Where a symmetry sends each row by its family's declared index sets (row r -> image
    r', as :func:`column_permutation` for the columns), -1 for the rows of a family of
    several rows whose index sets do not say (a set of more than one member without a
    kind, no sets, sets whose product is not the family's size) and for a row in no
    family: those are found by matching (:class:`RowImages`). A family of one row stays
    where it is (where a symmetry swaps two such families, the check fails and the rows
    are matched). None when the symmetry cannot act on a declared set. Not checked here:
    a declaration is a claim, which :class:`RowImages` checks on the program's numbers
    (that the images are a permutation, too)."""
    image = np.full(lp.n_rows, -1, dtype=np.int64)
    for family in lp.families.values():
        if family.count == 1:
            image[family.start] = family.start
            continue
        if not family.index or int(np.prod([s.size for s in family.index])) != family.count:
            continue
        flat = _block_image(family.index, symmetry, agents, states, outcomes, kinds_only=True)
        if flat is not None:
            image[family.slice] = family.start + flat
        elif all(s.kind or s.size == 1 for s in family.index):
            return None  # declared, and the symmetry cannot act on it
    return image


def is_invariant(lp: LinearProgram, perm: np.ndarray, rtol: float = 1e-9) -> bool:
    """Whether the program maps onto itself under the column permutation (see
    :func:`row_permutation`)."""
    return row_permutation(lp, perm, rtol) is not None


def row_permutation(lp: LinearProgram, perm: np.ndarray, rtol: float = 1e-9) -> np.ndarray | None:
    """The permutation of the rows that goes with the column permutation ``perm`` (row r
    -> row rows[r]) when the program maps onto itself: the same objective and column
    bounds on each column's image, and the same set of rows (with their bounds) after
    the columns are relabelled; None when it does not. Checked on the program's own
    numbers, so a reduction is only made where it is exact. To check several
    permutations of one program, :class:`RowMatcher` computes the program's side once."""
    return RowMatcher(lp, rtol).rows(perm)


class RowMatcher:
    """:func:`row_permutation` for any number of column permutations of one program: the
    program's row keys, their sort and its largest coefficient are computed once (they do
    not depend on the permutation), so each permutation costs one sparse product, one
    sort and one gather of the matrix (on the N = 3 public good's LB-G-5, 0.15 s a
    permutation before, most of it temporaries of the program's side made again)."""

    def __init__(self, lp: LinearProgram, rtol: float = 1e-9, among: np.ndarray | None = None):
        self.lp, self.rtol = lp, rtol
        # ``among``: the rows to match among themselves (those whose images are not
        # declared, :class:`RowImages`); all of them by default
        whole = lp.A.tocsr()
        self.A = whole if among is None else whole[among]
        self.project = _normal(1, (self.A.shape[1], 3))
        lower, upper = (lp.row_lower, lp.row_upper) if among is None else (lp.row_lower[among], lp.row_upper[among])
        self.lower, self.upper = lower, upper
        lo_inf, hi_inf = ~np.isfinite(lower), ~np.isfinite(upper)
        bounds = (np.where(lo_inf, 0.0, lower), np.where(hi_inf, 0.0, upper))
        keys = self.A @ self.project
        largest = max(_largest_magnitude(keys), *(_largest_magnitude(b) for b in bounds))
        self.step = self.rtol * 1e3 * max(1.0, largest)
        self.keys = np.round(keys / self.step)
        # the bounds enter the sort key rounded, as the coefficients (the exact bounds are
        # compared after the match); the infinity flags are 0 or 1 at any step
        self.mix = _normal(2, (7,))
        m = self.mix
        self.bound_key = (np.round(bounds[0] / self.step) * m[3] + np.round(bounds[1] / self.step) * m[4]
                          + lo_inf * m[5] + hi_inf * m[6])
        # one sort on a random combination of the keys (a tenth of a lexsort's time on the
        # N = 3 public good's 1.1 million rows); only identical keys tie
        self.order = _stable_argsort(self._sort_key(self.keys))
        self.scale = max(1.0, _largest_magnitude(whole.data))  # the program's, with ``among`` too
        self.cost_scale = max(1.0, _largest_magnitude(lp.cost))

    def _sort_key(self, keys: np.ndarray) -> np.ndarray:
        # column by column, not a matrix product: a row's number must not depend on where
        # the row lies (a BLAS kernel may sum the rows of a block in another order)
        m = self.mix
        return keys[:, 0] * m[0] + keys[:, 1] * m[1] + keys[:, 2] * m[2] + self.bound_key

    def rows(self, perm: np.ndarray, check: bool = True) -> np.ndarray | None:
        """The row permutation that goes with ``perm``, or None (:func:`row_permutation`);
        with ``among``, the permutation of those rows, as positions in ``among``. Without
        ``check``, neither the columns' bounds and costs nor the rows whose keys match
        are compared (a caller that compares them with the others does)."""
        lp, rtol, A = self.lp, self.rtol, self.A
        if check and not columns_match(lp, perm, rtol, self.cost_scale):
            return None
        # row r of A, relabelled: coefficient A[r, c] moves to column perm[c] (the same
        # entries in new columns, unsorted within a row, which the products and the
        # subtraction below handle: no column gather)
        moved = sp.csr_matrix((A.data, perm[A.indices], A.indptr), shape=A.shape)
        moved_keys = np.round((moved @ self.project) / self.step)
        order = _stable_argsort(self._sort_key(moved_keys))
        # the relabelled row order[i] is A's row self.order[i]
        rows = np.empty(A.shape[0], dtype=np.int64)
        rows[order] = self.order
        if not np.array_equal(self.keys[rows], moved_keys):
            return None  # a near-tie between different rows can only end here: safe (no reduction)
        if check and not _images_match(A, self.lower, self.upper, rows, moved, rtol * self.scale):
            return None
        return rows


def columns_match(lp: LinearProgram, perm: np.ndarray, rtol: float, cost_scale: float) -> bool:
    """Whether each column's image has its bounds (exactly) and its cost (to ``rtol`` of
    ``cost_scale``)."""
    return bool(np.array_equal(lp.col_lower[perm], lp.col_lower) and np.array_equal(lp.col_upper[perm], lp.col_upper)
                and np.abs(lp.cost[perm] - lp.cost).max(initial=0.0) <= rtol * cost_scale)


def _images_match(A: sp.csr_matrix, lower: np.ndarray, upper: np.ndarray, rows: np.ndarray, moved: sp.csr_matrix,
                  tolerance: float) -> bool:
    """Whether row ``rows[r]`` of ``A`` is row r with its columns relabelled (``moved``):
    the same bounds exactly (rounded keys hold them only to a step: a row 1e7·x0 >= 0 and
    a free one 1e7·x1 would otherwise pass as images of each other) and the same
    coefficients to ``tolerance``."""
    if not (np.array_equal(lower[rows], lower) and np.array_equal(upper[rows], upper)):
        return False
    diff = A[rows] - moved
    return not (diff.nnz and _largest_magnitude(diff.data) > tolerance)


class RowImages:
    """The row permutation that goes with each column permutation of one program (the
    action of an environment's symmetry, :func:`column_permutation`): each row's image by
    its family's declared index sets where they say how the symmetry acts
    (:func:`declared_row_images`), by matching the other rows among themselves
    (:class:`RowMatcher`, made once, on those rows only); then every image is checked on
    the program's numbers, as the matcher checks its own. Where the declared images fail
    the check (a family declared with sets that do not say how its rows move), the whole
    program is matched. On the N = 3 public good's LB-G-5, whose strategic and
    feasibility rows are declared and whose 4,056 participation rows are not, a symmetry
    costs one gather and one subtraction of the matrix instead of a projection and a sort
    of all 74,360 rows."""

    def __init__(self, lp: LinearProgram, agents: tuple, states: tuple, outcomes: tuple, rtol: float = 1e-9):
        self.lp, self.rtol, self.names = lp, rtol, (agents, states, outcomes)
        self.A = lp.A.tocsr()
        self.scale = max(1.0, _largest_magnitude(self.A.data))
        self.cost_scale = max(1.0, _largest_magnitude(lp.cost))
        self._matchers: dict = {}

    def _matcher(self, among: np.ndarray | None) -> RowMatcher:
        key = None if among is None else among.tobytes()
        if key not in self._matchers:
            self._matchers[key] = RowMatcher(self.lp, self.rtol, among)
        return self._matchers[key]

    def rows(self, symmetry, perm: np.ndarray) -> np.ndarray | None:
        """Row r -> its image, for the column permutation ``perm`` of ``symmetry``; None
        where the program is not invariant under it."""
        lp, A = self.lp, self.A
        if not columns_match(lp, perm, self.rtol, self.cost_scale):
            return None
        image = declared_row_images(lp, symmetry, *self.names)
        if image is None:  # a declared set the symmetry cannot act on: the numbers decide
            return self._matcher(None).rows(perm)
        undeclared = np.flatnonzero(image < 0)
        if len(undeclared) > lp.n_rows // 2:
            # most rows to match anyway (UB-P-k's rows over the outcome space's vertices):
            # all at once, without the declared ones' separate check
            return self._matcher(None).rows(perm)
        if len(undeclared):
            found = self._matcher(undeclared).rows(perm, check=False)  # checked below, with the rest
            if found is None:
                return self._matcher(None).rows(perm)
            image[undeclared] = undeclared[found]
        # the images must be a permutation (families declared over overlapping rows, or a
        # set with a repeated label, would send two rows to one), and each row's image the
        # row relabelled: a declaration that does not hold is matched instead
        if np.bincount(image, minlength=lp.n_rows).max(initial=0) > 1:
            return self._matcher(None).rows(perm)
        moved = sp.csr_matrix((A.data, perm[A.indices], A.indptr), shape=A.shape)
        if not _images_match(A, lp.row_lower, lp.row_upper, image, moved, self.rtol * self.scale):
            return self._matcher(None).rows(perm)
        return image


def _largest_magnitude(values: np.ndarray) -> float:
    """``np.abs(values).max(initial=0.0)`` without the temporary of magnitudes (a NaN
    gives NaN in both)."""
    return float(max(values.max(initial=0.0), -values.min(initial=0.0)))


def _stable_argsort(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")``: numpy's default sort (vectorized, 60 % of the
    stable sort's time on the N = 3 public good's 74,360 rows), then each run of equal
    keys put back in index order, as the stable sort leaves it; where a key is not finite
    (a NaN's place is not fixed by the comparisons), the stable sort itself."""
    if not np.isfinite(key).all():
        return np.argsort(key, kind="stable")
    order = np.argsort(key)
    ranked = key[order]
    tie = np.flatnonzero(ranked[1:] == ranked[:-1])
    if len(tie):
        tied = np.zeros(len(key), dtype=bool)
        tied[tie] = tied[tie + 1] = True
        where = np.flatnonzero(tied)
        order[where] = order[where][np.lexsort((order[where], ranked[where]))]
    return order


#: random projections of at most this many numbers are made once and kept (a small
#: program's cost more to draw than to use); larger ones are drawn each time, not held
KEPT_PROJECTION = 1 << 18


def _normal(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """``np.random.default_rng(seed).standard_normal(shape)``, read only; made once where
    it is small (:data:`KEPT_PROJECTION`)."""
    if int(np.prod(shape)) <= KEPT_PROJECTION:
        return _kept_normal(seed, shape)
    return np.random.default_rng(seed).standard_normal(shape)


@functools.lru_cache(maxsize=64)
def _kept_normal(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    out = np.random.default_rng(seed).standard_normal(shape)
    out.flags.writeable = False
    return out


def _row_keys(A: sp.csr_matrix, lower: np.ndarray, upper: np.ndarray, project: np.ndarray) -> np.ndarray:
    """Random projections of each row and its bounds (an infinite bound as a flag)."""
    lo_inf, hi_inf = ~np.isfinite(lower), ~np.isfinite(upper)
    return np.column_stack([A @ project, np.where(lo_inf, 0.0, lower), np.where(hi_inf, 0.0, upper),
                            lo_inf.astype(float), hi_inf.astype(float)])
