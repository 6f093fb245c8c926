"""Kronecker-structured blocks (robustmech.lower.kron) and the programs kept in that form.

Each check compares with an independent computation: ``scipy.sparse.kron`` and ``bmat``
of the same factors, the dense product, the fold written as whole-size sparse maps
R A Cᵀ, and the assembled program of the same builder (its rows checked against the
programs of 004, (9) and (10), by the rest of the suite).
"""

from __future__ import annotations

from functools import reduce

import numpy as np
import pytest
import scipy.sparse as sp

import robustmech as rm
from robustmech.api import solve_built
from robustmech.lower.kron import Axis, Blocks, Kron, hstack, kron, vstack
from robustmech.programs import bounding
from robustmech.programs.folding import Folding, one_agent_fold
from robustmech.programs.lp import VECTORS, Segments
from robustmech.programs.truncation import GridTruncation, grid_shape
from robustmech.solve import SolverOptions

from conftest import MODELS

RNG = np.random.default_rng(4)


def _random(rows: int, cols: int, density: float = 0.5) -> sp.csr_matrix:
    return sp.random(rows, cols, density=density, random_state=RNG, format="csr")


def _example() -> tuple[Kron, sp.csr_matrix]:
    """2.5 · I ⊗ D ⊗ c − D' ⊗ I ⊗ c' on grid axes of 4 and 3 points and a coefficient row
    of 5, and the same matrix through scipy.sparse.kron."""
    D, D2 = _random(3, 3), _random(4, 4)
    c, c2 = _random(1, 5, 1.0), _random(1, 5, 1.0)
    grid = Kron((Axis(4, 4, True, True), Axis(3, 3, True, True)), ((1.0, (None, None)),))
    term1 = Kron(grid.axes, ((2.5, (None, D)),)).kron(Kron.factor(c))
    term2 = Kron(grid.axes, ((1.0, (D2, None)),)).kron(Kron.factor(c2))
    structured = term1 - term2
    plain = 2.5 * reduce(sp.kron, [sp.identity(4), D, c]) - reduce(sp.kron, [D2, sp.identity(3), c2])
    return structured, sp.csr_matrix(plain)


def test_a_sum_of_kronecker_products_is_the_matrix_scipy_builds():
    structured, plain = _example()
    assert structured.shape == plain.shape == (12, 60)
    np.testing.assert_allclose(structured.tocsr().toarray(), plain.toarray(), atol=1e-14)
    x, y = RNG.random(60), RNG.random(12)
    np.testing.assert_allclose(structured @ x, plain @ x, atol=1e-12)
    np.testing.assert_allclose(structured.T @ y, plain.T @ y, atol=1e-12)


def _scipy_sum(block: Kron) -> sp.csr_matrix:
    """The assembly as it was written first: scipy.sparse.kron of every term's factors
    (identities as such), the terms added one by one."""
    total = sp.csr_matrix(block.shape)
    for c, factors in block.terms:
        mats = [sp.identity(a.rows, format="csr") if f is None else f for a, f in zip(block.axes, factors)]
        total = total + c * reduce(lambda left, right: sp.kron(left, right, format="csr"), mats)
    return total.tocsr()


def _same_csr(a: sp.csr_matrix, b: sp.csr_matrix) -> bool:
    return (a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices) and np.array_equal(a.data, b.data))


def test_the_assembly_is_scipys_to_the_bit():
    """Kron.tocsr builds its products in one pass and runs of identities as one: the same
    entries, in the same order, with the same values as scipy.sparse.kron's, on random
    factors (sparse, dense, empty rows, a non-canonical one that goes through scipy) and
    on every block of the public good's programs."""
    axes = (Axis(3, 3, True, True), Axis(4, 4, True, True), Axis(2, 2, True, True), Axis(1, 5))
    for trial in range(30):
        terms = []
        for _ in range(1 + trial % 4):
            factors = tuple(None if RNG.random() < 0.4 and a.rows == a.cols else
                            _random(a.rows, a.cols, RNG.choice([0.0, 0.2, 0.7, 1.0])) for a in axes)
            terms.append((float(RNG.normal()), factors))
        block = Kron(axes, tuple(terms))
        assert _same_csr(block.tocsr(), _scipy_sum(block))
    messy = sp.csr_matrix((np.array([1.0, 2.0, 3.0]), np.array([2, 0, 2]), np.array([0, 3, 3])), shape=(2, 3))
    assert not messy.has_canonical_format
    block = Kron((Axis(2, 3), Axis(3, 3)), ((1.5, (messy, None)), (-1.0, (messy, _random(3, 3)))))
    assert _same_csr(block.tocsr(), _scipy_sum(block))
    # a first term with explicit zeros: dropped, as the sum with the empty matrix drops them
    zeros = sp.csr_matrix((np.array([0.0, 2.0, -0.0]), np.array([0, 1, 2]), np.array([0, 2, 3])), shape=(2, 3))
    for terms in (((1.0, (zeros, None)),), ((1.0, (zeros, None)), (2.0, (zeros, _random(3, 3))))):
        block = Kron((Axis(2, 3), Axis(3, 3)), terms)
        assert _same_csr(block.tocsr(), _scipy_sum(block))
    low = rm.validate(rm.load_model(MODELS / "public_good.mech", params={"N": 3, "vbar": 4}))
    for name in ("guarantee", "potential", "dual"):
        lp, _ = bounding.build(name, low, 3, structured=True)
        blocks = [op for row in lp.A.cells for op in row if isinstance(op, Kron)]
        nested = [op for row in lp.A.cells for cell in row if isinstance(cell, Blocks)
                  for inner in cell.cells for op in inner if isinstance(op, Kron)]
        assert blocks or nested
        for op in blocks + nested:
            assert _same_csr(op.tocsr(), _scipy_sum(op))


def test_blocks_are_laid_out_as_bmat():
    structured, plain = _example()
    extra = _random(12, 7)
    blocks = vstack([hstack([structured, extra]), hstack([-structured, _random(12, 7)])])
    assert isinstance(blocks, Blocks)
    dense = blocks.tocsr().toarray()
    assert dense.shape == (24, 67)
    np.testing.assert_allclose(dense[:12, :60], plain.toarray(), atol=1e-14)
    np.testing.assert_allclose(dense[12:, :60], -plain.toarray(), atol=1e-14)
    x, y = RNG.random(67), RNG.random(24)
    np.testing.assert_allclose(blocks @ x, dense @ x, atol=1e-12)
    np.testing.assert_allclose(blocks.T @ y, dense.T @ y, atol=1e-12)
    # plain matrices stay plain
    assert isinstance(kron(sp.identity(2), np.ones((3, 1))), sp.csr_matrix)
    # zero blocks are filled in as empty CSR blocks: the matrix bmat builds with None
    sparse = Blocks([[structured, None], [None, extra], [-structured, extra]])
    reference = sp.bmat([[plain, None], [None, extra], [-plain, extra]], format="csr")
    assert _same_csr(sparse.tocsr(), reference)


@pytest.mark.parametrize("extend", ["primal", "dual"])
def test_a_fold_is_the_whole_size_maps_applied(extend):
    """Folding factor by factor equals (⊗ R) A (⊗ C) on the grid axes, with the coefficient
    axis untouched: the one-agent maps of the box x <= 2 of 6 points."""
    D = _random(6, 6)
    c = _random(1, 3, 1.0)
    axes = (Axis(6, 6, True, True), Axis(6, 6, True, True))
    structured = (Kron(axes, ((1.0, (D, None)), (-0.5, (None, D)))).kron(Kron.factor(c)))
    fold = one_agent_fold(6, 2, extend)
    R, C = fold.matrices()
    whole_R = sp.kron(sp.kron(R, R), sp.identity(1))
    whole_C = sp.kron(sp.kron(C, C), sp.identity(3))
    expected = (whole_R @ structured.tocsr() @ whole_C).toarray()
    np.testing.assert_allclose(structured.fold(fold).tocsr().toarray(), expected, atol=1e-14)
    # axes whose rows are not grid points (the participation rows' others' profiles, a
    # column of ones over the grid): only the grid side is folded
    e0 = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, 6))
    mixed = Kron((Axis(1, 6, False, True), Axis(6, 6, False, True)), ((1.0, (e0, None)),)).kron(
        Kron.factor(np.ones((6, 1)), row_grid=True))
    expected = (sp.kron(sp.kron(sp.identity(1), sp.identity(6)), R) @ mixed.tocsr()
                @ sp.kron(sp.kron(C, C), sp.identity(1))).toarray()
    np.testing.assert_allclose(mixed.fold(fold).tocsr().toarray(), expected, atol=1e-14)


@pytest.mark.parametrize("extend", ["primal", "dual"])
def test_the_one_agent_maps_merge_or_drop_points(extend):
    """The one-agent maps of the box x <= 2 of 6 points, written out (the module docstring
    of robustmech.programs.folding): rows beyond the box added to the edge's (dual) or
    dropped (primal); columns kept up to b + 1 (dual) or added to the edge's (primal). A
    factor folded through them is the sparse product R F C, with a column of C dropped
    (the first columns only, as a block of UB-P-k's γ keeps them) and with F not
    canonical (a duplicate entry, a row's columns out of order: the fold sums what lands
    on one place, as the dense product of F does)."""
    fold = one_agent_fold(6, 2, extend)
    R, C = fold.matrices()
    merge = np.zeros((3, 6))
    merge[[0, 1, 2, 2, 2, 2], range(6)] = 1.0
    keep_rows, keep_cols = np.eye(6)[:3], np.eye(6)[:, :4]
    np.testing.assert_array_equal(R.toarray(), merge if extend == "dual" else keep_rows)
    np.testing.assert_array_equal(C.toarray(), keep_cols if extend == "dual" else merge.T)
    np.testing.assert_array_equal(fold.first_columns(2).matrices()[1].toarray(), C.toarray()[:, :2])
    F = _random(6, 6)
    # a CSR matrix with a duplicate entry and a row's columns out of order: not canonical
    F_dup = sp.csr_matrix((np.array([1.0, 0.5, 0.25, -2.0, 3.0]), np.array([4, 1, 4, 0, 5]),
                           np.array([0, 3, 3, 3, 4, 5, 5])), shape=(6, 6))
    assert not F_dup.has_canonical_format
    for f in (F, F_dup, None):
        dense = np.eye(6) if f is None else f.toarray()
        for axis in (Axis(6, 6, True, True), Axis(6, 6, True, False), Axis(6, 6, False, True)):
            for narrowed in (fold, fold.first_columns(2)):
                got = narrowed.apply(axis, f)
                r = narrowed.matrices()[0].toarray() if axis.row_grid else np.eye(6)
                c = narrowed.matrices()[1].toarray() if axis.col_grid else np.eye(6)
                # the dense product of a copy (F's duplicates summed by scipy, not by the fold)
                np.testing.assert_allclose(got.toarray(), r @ dense @ c, atol=1e-15)
                assert got.has_canonical_format and (got.data != 0).all()


def test_factors_of_any_sparse_format_assemble_as_scipy_does():
    """Factors given as CSC, COO, a sparse array or a dense array (each term its own, so
    the assembly's cache of a factor's entries sees many short-lived conversions): the
    block is scipy.sparse.kron's sum of its terms, and folds as its CSR twin does."""
    rng = np.random.default_rng(8)
    axes = (Axis(5, 5, True, True), Axis(3, 4))
    makers = (sp.csc_matrix, sp.coo_matrix, sp.csr_array, lambda m: m.toarray())
    terms = tuple((float(rng.standard_normal()), (make(_random(5, 5)), make(_random(3, 4))))
                  for make in makers for _ in range(2))
    block = Kron(axes, terms)
    twin = Kron(axes, tuple((c, tuple(sp.csr_matrix(f) for f in fs)) for c, fs in terms))
    expected = _scipy_sum(twin)
    np.testing.assert_allclose(block.tocsr().toarray(), expected.toarray(), atol=1e-14)
    fold = one_agent_fold(5, 2, "primal")
    np.testing.assert_allclose(block.fold(fold).tocsr().toarray(), twin.fold(fold).tocsr().toarray(), atol=1e-14)


@pytest.fixture(scope="module")
def public_goods():
    return {n: rm.validate(rm.load_model(MODELS / "public_good.mech", params={"N": n, "vbar": 3 if n == 2 else 4}))
            for n in (2, 3)}


def _reference_rows(name: str, low, k: int) -> sp.csr_matrix:
    """The block of (9)'s strategic rows on m (LB-G-k) or of (10)'s virtual rows on σ
    (UB-P-k) of 004, written directly with scipy.sparse.kron of the grid's assembled
    derivatives: w(·, θ) ⊗ I + Σ_i u_i(·, θ) ⊗ ∇+_i per state, and Σ_θ [w(v, θ) I −
    Σ_i u_i(v, θ) ∇̃+_i] per vertex v of the outcome space."""
    grid = rm.Grid(low.n_agents, k)
    eye = sp.identity(grid.size, format="csr")
    if name == "guarantee":
        blocks = []
        for s in range(low.n_states):
            block = sp.kron(eye, low.designer_coef[s][None, :])
            for i in range(low.n_agents):
                block = block + sp.kron(grid.upward(i), low.utility_coef[i, s][None, :])
            blocks.append(block)
        return -sp.vstack(blocks).tocsr()
    rows = []
    for v in low.polytope.generators.vertices:
        cols = []
        for s in range(low.n_states):
            block = (low.designer_coef[s] @ v + low.designer_const[s]) * eye
            for i in range(low.n_agents):
                block = block - (low.utility_coef[i, s] @ v + low.utility_const[i, s]) * grid.adjoint_upward(i)
            cols.append(block)
        rows.append(sp.hstack(cols))
    return -sp.vstack(rows).tocsr()


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("name", ["guarantee", "potential"])
def test_the_structured_program_is_the_program_of_004(public_goods, n, name):
    """LB-G-4 and UB-P-4 of 004 kept structured: applied to vectors factor by factor they
    give what the assembled program gives, and the assembled rows of (9) and (10) are
    those written directly with scipy.sparse.kron of the grid's derivatives (up to the
    rounding noise the builder drops)."""
    low = public_goods[n]
    lp, _ = bounding.build(name, low, 4)
    structured, _ = bounding.build(name, low, 4, structured=True)
    assert structured.structured and not lp.structured
    for name_ in VECTORS:  # kept as their views, joined when read: the same vectors
        np.testing.assert_array_equal(getattr(structured, name_), getattr(lp, name_))
    x, y = RNG.random(lp.n_cols), RNG.random(lp.n_rows)
    scale = abs(lp.A).max()
    np.testing.assert_allclose(structured.A @ x, lp.A @ x, atol=1e-12 * scale * lp.n_cols)
    np.testing.assert_allclose(structured.A.T @ y, lp.A.T @ y, atol=1e-12 * scale * lp.n_rows)
    family, block = ("strategic", "m") if name == "guarantee" else ("virtual", "sigma")
    built = lp.A[lp.families[family].slice][:, lp.variables[block].slice]
    assert abs(built - _reference_rows(name, low, 4)).max() <= 1e-12 * scale


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("name, extend", [("guarantee", "primal"), ("potential", "dual")])
def test_the_box_folded_factor_by_factor_is_the_box_of_the_assembled_program(public_goods, n, name, extend):
    """GridTruncation on the structured program (each block folded factor by factor, never
    assembled at the whole grid's size) and on the assembled one (the whole-size maps
    R A Cᵀ) give the same box matrix."""
    low = public_goods[n]
    lp, _ = bounding.build(name, low, 4)
    structured, _ = bounding.build(name, low, 4, structured=True)
    for box in (3, 6, 9):
        small, _ = GridTruncation(box, extend).apply(lp)
        folded, _ = GridTruncation(box, extend).apply(structured)
        assert folded.A.shape == small.A.shape
        assert abs(folded.A - small.A).max() <= 1e-12
        for name_ in VECTORS:
            np.testing.assert_allclose(getattr(folded, name_), getattr(small, name_), rtol=1e-14, atol=0)
    # folding never wrote the whole grid's vectors: they are still the builder's views
    assert all(isinstance(structured.__dict__["_" + name_], Segments) for name_ in VECTORS)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("name, extend", [("guarantee", "primal"), ("potential", "dual")])
def test_vectors_fold_as_the_whole_size_maps_fold_them(public_goods, n, name, extend):
    """Each group's vector folded axis by axis on its view (``Folding.vector``) against
    the whole-size maps: the membership matrix (sums), the selection matrix (each folded
    item's representative) and an unbuffered scatter of the items onto their targets (max
    and min), on random vectors over the rows and the columns of LB-G-4 and UB-P-4; and
    the way back (``spread``, ``place``) against indexing with those maps."""
    low = public_goods[n]
    lp, _ = bounding.build(name, low, 4, structured=True)
    shape = grid_shape(lp)
    for box in (3, 9):
        for groups, n_items, points in ((lp.families, lp.n_rows, box + 1), (lp.variables, lp.n_cols, box + 2)):
            folding = Folding(list(groups.values()), n_items, shape, points, box)
            membership, selection = folding.matrix("membership"), folding.matrix("selection")
            # entries that vary everywhere, and views broadcast over the profiles (a bound per
            # outcome, the same at every x: what the builder keeps), which fold without being read
            # entry by entry
            varying = [RNG.standard_normal(g.slice.stop - g.slice.start) for g in groups.values()]
            repeated = [np.broadcast_to(RNG.standard_normal(tuple(1 if s.name == "X" else s.size for s in g.index)),
                                        tuple(s.size for s in g.index)) if g.index else v
                        for g, v in zip(groups.values(), varying)]
            for views in (varying, repeated):
                v = np.concatenate([np.ravel(w) for w in views])
                np.testing.assert_allclose(folding.vector(views, "sum"), membership @ v, rtol=1e-12, atol=1e-12)
                np.testing.assert_array_equal(folding.vector(views, "select"), selection @ v)
                for how, ufunc, start in (("max", np.maximum, -np.inf), ("min", np.minimum, np.inf)):
                    expected = np.full(folding.count, start)
                    ufunc.at(expected, folding.target, v)
                    np.testing.assert_array_equal(folding.vector(views, how), expected)
            # back onto the whole grid (the inverse): each item its folded item's value, and
            # each folded item's value on its representative only
            f = RNG.standard_normal(folding.count)
            np.testing.assert_array_equal(folding.spread(f), f[folding.target])
            placed = np.zeros(n_items)
            placed[folding.representative] = f
            np.testing.assert_array_equal(folding.place(f), placed)


@pytest.mark.parametrize("name, extend, box", [("guarantee", "primal", 20), ("potential", "dual", 30)])
def test_the_certificate_on_the_structured_program_is_the_assembled_ones(public_goods, name, extend, box):
    """LB-G-10 and UB-P-10 (N = 2) on a box, certified on the whole grid kept structured and
    on the whole grid assembled: the same point, the same violation and weak-duality bound."""
    low = public_goods[2]
    options = SolverOptions(solver="highs")
    lp, _ = bounding.build(name, low, 10)
    structured, _ = bounding.build(name, low, 10, structured=True)
    on_assembled, certificate, _ = solve_built(lp, options, [GridTruncation(box, extend)])
    on_structured, structured_certificate, _ = solve_built(structured, options, [GridTruncation(box, extend)])
    assert certificate["dual_certified"] and structured_certificate["dual_certified"]
    np.testing.assert_allclose(on_structured.x, on_assembled.x, atol=1e-12)
    assert on_structured.dual_objective == pytest.approx(on_assembled.dual_objective, abs=1e-9)
    assert structured_certificate["max_violation"] == pytest.approx(certificate["max_violation"], abs=1e-12)


def test_a_range_of_a_kept_vector_is_the_joined_vectors_range():
    """``Segments.part`` (what the certificate reads, a chunk at a time) against slicing
    the joined vector, on views as the builder keeps them: a bound per state broadcast
    over the profiles, a plain vector, a bound per outcome repeated over the profiles, a
    scalar repeated, and a (state, profile, outcome) view; ranges inside one view, across
    views and across rows, and every chunk of :func:`robustmech.programs.lp.chunks`."""
    from robustmech.programs.lp import chunks

    views = [np.broadcast_to(RNG.standard_normal((3, 1)), (3, 400_000)), RNG.standard_normal(1000),
             np.broadcast_to(RNG.standard_normal(5), (300_000, 5)), np.broadcast_to(np.float64(2.0), (7,)),
             np.broadcast_to(RNG.standard_normal((2, 1, 4)), (2, 200_000, 4))]
    kept = Segments(views)
    joined = np.concatenate([np.ravel(v) for v in views])
    assert kept.size == joined.size
    for start, stop in [(0, 10), (399_995, 400_010), (1_199_990, 1_201_005), (kept.size - 5, kept.size),
                        (5, kept.size)]:
        np.testing.assert_array_equal(kept.part(start, stop), joined[start:stop])
    for part in chunks(kept.size):
        np.testing.assert_array_equal(kept.part(part.start, part.stop), joined[part])


@pytest.mark.parametrize("n", [2, 3])
def test_a_box_point_goes_back_as_spread_shares_it(public_goods, n):
    """UB-P-4's box point (``extend="dual"``) taken back onto the whole grid: each folded
    column's value on its representative (the structured program's shortcut, where zero
    lies within every column's bounds) is what ``_spread`` gives through the whole-size
    maps; a value its representative's bounds refuse (σ >= 0) leaves it to ``_spread``."""
    from robustmech.programs.truncation import _on_representatives, _spread

    lp, _ = bounding.build("potential", public_goods[n], 4, structured=True)
    for box in (3, 9):
        _, data = GridTruncation(box, "dual").apply(lp)
        values = RNG.random(data.cols.count)
        shared = _spread(values, data.col_of, data.stand_in_cols, lp.col_lower, lp.col_upper)
        np.testing.assert_array_equal(_on_representatives(lp, data.cols, values), shared)
        values[0] = -1.0
        assert _on_representatives(lp, data.cols, values) is None
