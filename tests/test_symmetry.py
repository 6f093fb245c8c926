"""The symmetry check and reduction (robustmech.programs.symmetry) against the way they
were first written: the same row permutations, the same refusals, the same reduced
programs. The reference below is the first version of ``row_permutation``: both
programs' rows keyed, sorted and compared, the relabelled matrix a column gather."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

import robustmech as rm
from robustmech.lower.symmetry import find_symmetries
from robustmech.programs import bounding
from robustmech.programs.lp import ConstraintFamily, LinearProgram, VariableBlock, labelled
from robustmech.programs.reductions import symmetry_reduction
from robustmech.programs.symmetry import (
    RowImages,
    RowMatcher,
    _images_match,
    _row_keys,
    _stable_argsort,
    column_permutation,
    declared_row_images,
    orbit_matrix,
    reduce_with_rows,
    row_permutation,
)

from conftest import MODELS


def _reference_rows(lp, perm, rtol=1e-9):
    if not (np.array_equal(lp.col_lower[perm], lp.col_lower) and np.array_equal(lp.col_upper[perm], lp.col_upper)):
        return None
    scale = max(1.0, float(np.abs(lp.cost).max(initial=0.0)))
    if np.abs(lp.cost[perm] - lp.cost).max(initial=0.0) > rtol * scale:
        return None
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(perm.size)
    A = lp.A.tocsr()
    moved = A[:, inverse].tocsr()
    project = np.random.default_rng(1).standard_normal((A.shape[1], 3))
    ka = _row_keys(A, lp.row_lower, lp.row_upper, project)
    kb = _row_keys(moved, lp.row_lower, lp.row_upper, project)
    step = rtol * 1e3 * max(1.0, float(np.abs(ka).max(initial=0.0)))
    ra, rb = np.round(ka / step), np.round(kb / step)
    mix = np.random.default_rng(2).standard_normal(ra.shape[1])
    order_a, order_b = np.argsort(ra @ mix, kind="stable"), np.argsort(rb @ mix, kind="stable")
    if not np.array_equal(ra[order_a], rb[order_b]):
        return None
    if not (np.array_equal(lp.row_lower[order_a], lp.row_lower[order_b])
            and np.array_equal(lp.row_upper[order_a], lp.row_upper[order_b])):
        return None
    diff = A[order_a] - moved[order_b]
    if diff.nnz and abs(diff).max() > rtol * max(1.0, abs(A).max()):
        return None
    rows = np.empty(lp.n_rows, dtype=np.int64)
    rows[order_b] = order_a
    return rows


@pytest.fixture(scope="module")
def programs():
    out = []
    for n, vbar, k in ((3, 4, 3), (2, 3, 6)):
        low = rm.validate(rm.load_model(MODELS / "public_good.mech", params={"N": n, "vbar": vbar}))
        syms = find_symmetries(low)
        for name in ("guarantee", "potential", "dual"):
            lp, _ = bounding.build(name, low, k)
            perms = [column_permutation(lp, s, low.env.agents, low.env.states.labels, low.outcome_names)
                     for s in syms]
            out.append((low, syms, lp, [p for p in perms if p is not None]))
    return out


def test_the_stable_sort_is_numpys():
    rng = np.random.default_rng(5)
    for trial in range(40):
        n = int(rng.integers(0, 300))
        key = rng.integers(0, 1 + trial, n).astype(float) * rng.choice([1.0, -1.0, 0.5])
        if trial % 5 == 0 and n:
            key[rng.integers(0, n, 3)] = rng.choice([np.nan, np.inf, -np.inf, -0.0])
        assert np.array_equal(_stable_argsort(key), np.argsort(key, kind="stable"))


def test_row_permutations_are_the_first_versions(programs):
    for _, _, lp, perms in programs:
        matcher = RowMatcher(lp)
        for perm in perms:
            expected = _reference_rows(lp, perm)
            assert expected is not None
            assert np.array_equal(matcher.rows(perm), expected)
            assert np.array_equal(row_permutation(lp, perm), expected)


def test_refusals_are_the_first_versions(programs):
    """A program that is no longer invariant is refused by both: a row bound moved, a
    coefficient moved beyond the tolerance (and one within it, accepted by both), a cost."""
    _, _, lp, perms = programs[0]
    perm = perms[0]
    A = lp.A.tocsr().copy()
    images = _reference_rows(lp, perm)
    moving = np.flatnonzero((images != np.arange(lp.n_rows)) & (np.diff(A.indptr) > 0))
    r = int(moving[len(moving) // 3])  # a row mapped onto another
    bumped_far, bumped_near = A.copy(), A.copy()
    bumped_far.data[A.indptr[r]] += 1e-3
    bumped_near.data[A.indptr[r]] += 1e-13
    lower = lp.row_lower.copy()
    finite = np.flatnonzero(np.isfinite(lower) & (images != np.arange(lp.n_rows)))
    lower[finite[len(finite) // 2]] += 1e-12
    cost = lp.cost.copy()
    cost[np.flatnonzero(perm != np.arange(perm.size))[0]] += 1.0
    for changed, accepted in ((replace(lp, A=bumped_far), False), (replace(lp, A=bumped_near), True),
                              (replace(lp, row_lower=lower), False), (replace(lp, cost=cost), False)):
        expected = _reference_rows(changed, perm)
        assert (expected is not None) == accepted
        got = RowMatcher(changed).rows(perm)
        assert (got is None and expected is None) or np.array_equal(got, expected)


def test_the_reduction_with_the_detections_orbits_is_the_same(programs):
    for low, syms, lp, _ in programs:
        reduction, _ = symmetry_reduction(lp, syms, low.env.agents, low.env.states.labels, low.outcome_names)
        assert reduction is not None and reduction.column_orbits is not None
        rows = orbit_matrix(lp.n_rows, reduction.row_permutations)
        fresh, P, reduced_row = reduce_with_rows(lp, reduction.permutations, rows)  # P found again
        reused, data = reduction.apply(lp)  # P from the detection
        assert np.array_equal(P.indices, data.orbit_matrix.indices)
        assert np.array_equal(reduced_row, data.reduced_row)
        assert (fresh.A != reused.A).nnz == 0
        for field in ("row_lower", "row_upper", "col_lower", "col_upper", "cost"):
            assert np.array_equal(getattr(fresh, field), getattr(reused, field))


def test_declared_row_images_are_the_matched_ones(programs):
    """Each row's image by its family's declared index sets (a symmetry (π, τ, φ) acting
    on X, Θ and Ω, :func:`declared_row_images`), the undeclared rows matched among
    themselves: the permutation the reference above finds by keying and sorting every
    row, on LB-G-k, UB-P-k and the dual of 004 for N = 3 and N = 2. LB-G-k's strategic
    and feasibility rows are declared, its participation rows (agent, state, others'
    profile) are not."""
    declared_any = False
    for low, syms, lp, _ in programs:
        names = (low.env.agents, low.env.states.labels, low.outcome_names)
        images = RowImages(lp, *names)
        for sym in syms:
            perm = column_permutation(lp, sym, *names)
            if perm is None:
                continue
            declared = declared_row_images(lp, sym, *names)
            assert declared is not None
            expected = _reference_rows(lp, perm)
            assert expected is not None
            known = declared >= 0
            # where the rows are distinct the image is unique: the declared one is the matched one
            assert np.array_equal(declared[known], expected[known])
            declared_any |= bool(known.sum() > lp.n_rows // 2)
            assert np.array_equal(images.rows(sym, perm), expected)
    assert declared_any


def test_a_declaration_that_does_not_hold_is_matched_instead(programs):
    """A family declared with index sets that do not say how its rows move (LB-G-k's
    strategic rows indexed by (Θ, X) declared as (X, Θ)) fails the check on the
    program's numbers: its rows are then matched, and the permutation is still the
    reference's. A program that is not invariant is refused either way."""
    low, syms, lp, _ = programs[0]
    names = (low.env.agents, low.env.states.labels, low.outcome_names)
    family = lp.families["strategic"]
    theta, x = family.index
    wrong = replace(lp, families={**lp.families, "strategic": replace(family, index=(x, theta))})
    for sym in syms:
        perm = column_permutation(lp, sym, *names)
        if perm is None or np.array_equal(perm, np.arange(lp.n_cols)):
            continue
        claimed = declared_row_images(wrong, sym, *names)
        assert not np.array_equal(claimed[family.slice], _reference_rows(lp, perm)[family.slice])
        assert np.array_equal(RowImages(wrong, *names).rows(sym, perm), _reference_rows(lp, perm))
        lower = lp.row_lower.copy()
        moving = np.flatnonzero((_reference_rows(lp, perm) != np.arange(lp.n_rows)) & np.isfinite(lower))
        lower[moving[0]] += 1e-6
        assert RowImages(replace(lp, row_lower=lower), *names).rows(sym, perm) is None


def test_declared_images_that_send_two_rows_to_one_are_refused():
    """Two families declared over overlapping rows (a hand-built program: the builder
    never makes one) send rows 0 and 2, both x_1 <= 1, to row 1 (x_2 <= 1) under the
    agents' swap. Each image passes the entry-by-entry check, but the images are no
    permutation: the rows, two copies of x_1 <= 1 and one of x_2 <= 1, do not map onto
    themselves, and a dual averaged over such "orbits" would not be a group average.
    Refused, as the reference refuses it."""
    agents = labelled("I", (1, 2), kind="agent")
    A = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))
    lp = LinearProgram(name="overlap", sense="max", cost=np.ones(2), A=A,
                       row_lower=np.full(3, -np.inf), row_upper=np.ones(3), col_lower=np.zeros(2),
                       col_upper=np.full(2, np.inf), variables={"x": VariableBlock("x", 0, (2,), "", (agents,))},
                       families={"first": ConstraintFamily("first", 0, 2, "", (agents,)),
                                 "second": ConstraintFamily("second", 1, 2, "", (agents,))})
    swap = SimpleNamespace(agents=(1, 0), states=(), outcomes=())
    names = ((1, 2), (), ())
    perm = column_permutation(lp, swap, *names)
    assert perm.tolist() == [1, 0]
    claimed = declared_row_images(lp, swap, *names)
    assert claimed.tolist() == [1, 2, 1]
    moved = sp.csr_matrix((A.data, perm[A.indices], A.indptr), shape=A.shape)
    assert _images_match(A, lp.row_lower, lp.row_upper, claimed, moved, 1e-9)  # each image passes
    assert _reference_rows(lp, perm) is None
    assert RowImages(lp, *names).rows(swap, perm) is None


@pytest.mark.parametrize("seed", range(4))
def test_orbits_are_the_components_of_the_permutations_graph(seed, monkeypatch):
    """The orbit matrix against the connected components of the graph with an edge i -
    perm(i) for every generator (scipy.sparse.csgraph, an independent computation): the
    same orbits, numbered by their first members; on random permutations of 1 to 3
    generators (long cycles among them, past the rounds of the minimum's propagation, so
    that both ways are taken), on the swap of two agents' profiles, and on the six
    permutations of three agents' profiles of X(2) generated by two of them."""
    from scipy.sparse.csgraph import connected_components

    from robustmech.lower.symmetry import profile_permutation
    from robustmech.programs import symmetry

    rng = np.random.default_rng(seed)
    cases = [[rng.permutation(n) for _ in range(int(rng.integers(1, 4)))] for n in rng.integers(1, 400, 25)]
    cases += [[profile_permutation((5, 5), (1, 0))],
              [profile_permutation((5, 5, 5), (1, 0, 2)), profile_permutation((5, 5, 5), (1, 2, 0))]]
    for rounds in (symmetry.ORBIT_ROUNDS, 1):  # with one round only, most go through the graph
        monkeypatch.setattr(symmetry, "ORBIT_ROUNDS", rounds)
        for perms in cases:
            n = len(perms[0])
            graph = sp.csr_matrix((np.ones(n * len(perms)), (np.tile(np.arange(n), len(perms)), np.concatenate(perms))),
                                  shape=(n, n))
            count, labels = connected_components(graph, directed=False)
            P = orbit_matrix(n, perms)
            assert P.shape == (n, count)
            np.testing.assert_array_equal(P.toarray(), np.eye(count)[labels])


def test_only_small_random_projections_are_kept():
    """The projections a program's rows are keyed by are the seeded generator's numbers at
    every size; the small ones are made once and shared read-only, the large ones (a whole
    grid's columns) drawn each time and not held by the process."""
    from robustmech.programs import symmetry

    small, large = (5, 3), (symmetry.KEPT_PROJECTION // 2 + 1, 2)
    for shape in (small, large):
        np.testing.assert_array_equal(symmetry._normal(4, shape), np.random.default_rng(4).standard_normal(shape))
    assert symmetry._normal(4, small) is symmetry._normal(4, small)
    assert not symmetry._normal(4, small).flags.writeable
    kept = symmetry._kept_normal.cache_info().currsize
    assert symmetry._normal(4, large) is not symmetry._normal(4, large)
    assert symmetry._kept_normal.cache_info().currsize == kept
