"""The default path (``--solver auto``) gives answers that do not depend on where an
interior point method stopped: a vertex with the simplex method's support, a
weak-duality certificate, and progress lines in the program's own terms."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import robustmech as rm
from robustmech.programs import bounding
from robustmech.solve import SolverOptions, solve
from robustmech.solve.highs import condense

from conftest import MODELS


@pytest.fixture(scope="module")
def public_good():
    return rm.validate(rm.load_model(MODELS / "public_good.mech", params={"N": 2, "vbar": 3}))


def test_vertex_of_an_interior_point_is_the_simplex_vertex_of_ub_p_6(public_good):
    """UB-P-6 of 004 ((10), the full program, 4,107 columns): Clarabel's interior point has
    nearly every entry positive; purified (robustmech.solve.vertex) it is the point HiGHS's
    simplex method finds, entry for entry, with a certified value."""
    lp, _ = bounding.build("potential", public_good, 6)
    interior = solve(lp, SolverOptions(solver="clarabel"))
    vertex = solve(lp, SolverOptions(solver="clarabel", vertex=True))
    simplex = solve(lp, SolverOptions(solver="highs-simplex"))
    assert (interior.x > 0).sum() > 4 * (simplex.x > 1e-9).sum()  # the interior point's blur
    assert vertex.vertex and not interior.vertex
    assert np.array_equal(vertex.x > 1e-9, simplex.x > 1e-9)
    assert np.array_equal(vertex.x > 0, simplex.x > 1e-9)  # entries off the support are exactly 0
    assert np.abs(vertex.x - simplex.x).max() <= 1e-9
    assert vertex.objective == pytest.approx(simplex.objective, abs=1e-9)
    assert abs(vertex.objective - vertex.dual_objective) <= 1e-9


def test_default_ub_p_10_has_the_simplex_support(public_good):
    """004 Figure 1's program at k = 10 (symmetric UB-P-10, 15,352 columns, so ``auto``
    chooses Clarabel): the default result's ρ has exactly the 496 positive entries of the
    simplex solution (``robustmech solve models/public_good.mech --program potential --k 10
    --solver highs-simplex``; benchmarks/vertex_cost.py), none of Clarabel's 10,201, and is
    certified by its dual bound."""
    result = rm.solve(public_good, "potential", 10)
    assert result.solver == "clarabel" and "vertex" in result.extra and "interior_solution" not in result.extra
    rho = np.asarray(result.information.signal_distribution())
    assert rho.shape == (101, 101)
    assert int((rho > 1e-9).sum()) == int((rho > 0).sum()) == 496
    assert result.extra["dual_certified"]


@pytest.mark.slow
def test_default_ub_p_10_is_the_simplex_structure(public_good):
    """The same, against a simplex solve run here (about 20 s)."""
    def rho(solver: str) -> np.ndarray:
        return np.asarray(rm.solve(public_good, "potential", 10, solver=solver).information.signal_distribution())

    default, simplex = rho("auto"), rho("highs-simplex")
    assert np.array_equal(default > 1e-9, simplex > 1e-9)
    assert np.abs(default - simplex).max() <= 1e-9


def test_explicit_clarabel_keeps_its_interior_point(public_good):
    """``--solver clarabel`` asks for the interior point: no vertex, and the result says so."""
    result = rm.solve(public_good, "potential", 6, solver="clarabel")
    assert "vertex" not in result.extra and result.extra["interior_solution"]


def test_vertex_certifies_where_the_interior_duals_do_not():
    """001 Online Appendix B.1.1 with c = 0.1 (models/correlated_values.mech), LB-G-4:
    the purified point carries a weak-duality bound equal to HiGHS's optimum."""
    low = rm.validate(rm.load_model(MODELS / "correlated_values.mech"))
    lp, _ = bounding.build("guarantee", low, 4)
    vertex = solve(lp, SolverOptions(solver="clarabel", vertex=True))
    simplex = solve(lp, SolverOptions(solver="highs"))
    assert vertex.vertex
    assert vertex.objective == pytest.approx(simplex.objective, abs=1e-8)
    assert np.isfinite(vertex.dual_objective) and abs(vertex.objective - vertex.dual_objective) <= 1e-8


@pytest.mark.slow
def test_correlated_values_guarantee_at_7_is_certified_on_the_default_path():
    """The issue's case: LB-G-7 (10,010 columns, so Clarabel, which stops AlmostSolved with
    no dual bound: free transfer columns keep reduced costs up to 3e-8) is certified on the
    default path, at HiGHS's value 0.298461532 (``--solver highs``)."""
    result = rm.solve(rm.load_model(MODELS / "correlated_values.mech"), "guarantee", 7)
    assert result.extra["dual_certified"] and result.dual_value is not None
    assert result.value == pytest.approx(0.298461532, abs=1e-9)
    assert result.dual_value == pytest.approx(0.298461532, abs=1e-9)


def test_progress_lines_show_the_guarantee_with_its_sign(public_good):
    """HiGHS minimises; for the guarantee (a maximisation) its iteration lines carry the
    negated objective. The progress line says the guarantee (LB-G-8 = 1.5299752117)."""
    assert condense("7540 -1.5299752117e+00 Pr: 0(0); Du: 0(8.4e-10) 2.8s", "max") == (
        "simplex iteration 7540, objective 1.529975212, primal infeasibilities 0 (sum 0), "
        "dual infeasibilities 0 (sum 8.4e-10)")
    assert condense("7540 1.5e+00 Pr: 3(0.5)", "min") == "simplex iteration 7540, objective 1.5, " \
        "primal infeasibilities 3 (sum 0.5)"
    assert condense("12   -1.52967362e+00  -1.53520831e+00   9.10e-14   3.25e-09  2.19e-03       6.5", "max") == (
        "interior point iteration 12, primal objective 1.5296736, dual objective 1.5352083, residuals 9.10e-14 / "
        "3.25e-09")
    assert condense("Presolving model", "max") == "Presolving model"
    lines: list[str] = []
    lp, _ = bounding.build("guarantee", public_good, 6)
    # every line, from the start: how fast this machine solves LB-G-6 must not matter
    result = solve(lp, SolverOptions(solver="highs-simplex", progress=lines.append, progress_after=0.0,
                                     progress_every=0.0))
    shown = [line for line in lines if "iteration " in line and "objective " in line]  # the condensed ones
    assert result.objective > 0 and shown
    for line in shown:
        value = float(line.split("objective ")[1].split(",")[0])
        assert value > 0


def test_convergence_plot_of_the_public_good_names_the_model_not_001():
    """The public good's bounds are welfare, not 001's profit Π: the default title names
    the model, and the legend uses 004's LB(k), UB(k)."""
    from robustmech.results import plots

    rows = [{"k": k, "lower": lo, "upper": up, "status": "optimal", "model": "public_good", "params": {}}
            for k, lo, up in ((2, 1.2, 1.9), (3, 1.3, 1.8))]
    fig = plots.convergence_figure(rows)
    assert fig._suptitle.get_text() == "LB(k) and UB(k) against k: public_good"
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["upper bound UB(k)", "lower bound LB(k)", "$\\frac{k-1}{k}$ UB(k)"]
    assert not any("Pi" in label or "001" in label for label in labels)


# ---------------------------------------------------------------------------
# 001's auction programs on grids where the censored geometric marginal is tiny


@pytest.mark.parametrize("n, k", [(1, 18), (1, 24), (2, 5), (3, 3)])
def test_auction_programs_equal_the_general_programs(n, k):
    """The restricted programs of 001 ((41) and (3), transfers solved out) give the general
    LB-G-k and UB-P-k of 004 on the pure common value auction (value uniform on ten
    points), so both families give the same bounds (both are the same max-min and
    min-max values on X(k); 004 Section 5). For one bidder at k = 18 and 24, ρ falls to
    (1 - 1/k)^{k²}/k ≈ 5e-10 and 1e-12 at the top of the grid, where (3) written in σ
    itself was declared infeasible by HiGHS's presolve ("dropping 'signal_marginal'
    makes it feasible")."""
    low = rm.validate(rm.load_model(MODELS / "common_value_auction.mech", {"N": n}))
    auction = rm.bounds(low, k, family="auction")
    general = rm.bounds(low, k, family="general")
    assert auction.upper.program == "auction-potential" and general.upper.program == "potential"
    for a, g in ((auction.lower, general.lower), (auction.upper, general.upper)):
        assert a.status == g.status == "optimal"
        assert a.value == pytest.approx(g.value, abs=1e-7)
        assert a.extra["dual_certified"] and g.extra["dual_certified"]
    assert auction.lower.value <= auction.upper.value


@pytest.mark.slow
def test_full_auction_potential_at_k8_is_solved_and_certified():
    """auction-potential-8 on 001 B.1.1's common value (N = 2, ten values), symmetry off,
    with HiGHS (47,894 columns, about a minute): it was reported infeasible in σ's own
    units; scaled, it solves, its duals certify it, and it equals the symmetric solve."""
    low = rm.validate(rm.load_model(MODELS / "common_value_auction.mech", {"N": 2, "nvalues": 10}))
    full = rm.solve(low, "auction-potential", 8, solver="highs", symmetry=False)
    symmetric = rm.solve(low, "auction-potential", 8, solver="highs")
    assert full.extra["dual_certified"]
    assert full.value == pytest.approx(symmetric.value, abs=1e-7)


def _one_buyer_revenue_bracket(values, mesh):
    """An independent bracket [low, high] on the one-buyer max-min revenue of a prior
    uniform on ``values`` (001 with N = 1; Du (2018): max-min = min-max for one buyer).
    With one buyer, min over information of Myerson's revenue is min over distributions
    G of posterior means, G a mean-preserving contraction of F, of max_p p P_G(m >= p)
    (posted prices are optimal for one buyer). Both sides are LPs in mu(v, m), the
    joint law of value and posterior mean, with m on the grid {0, 1/mesh, ..., 1}:
    ``high`` puts every posterior mean on a grid point (a restriction: an upper bound);
    ``low`` lets bin b hold the posteriors in [m_b, m_{b+1}) (m_b <= E[v | bin] <=
    m_{b+1}) and offers only grid prices (a relaxation: a lower bound)."""
    import scipy.sparse as sp
    from scipy.optimize import linprog

    v = np.asarray(values, dtype=float)
    m = np.arange(mesh + 1) / mesh
    nv, nm = len(v), len(m)
    n = nv * nm + 1                                   # mu[v, m] row-major, then the revenue bound pi
    value_of = np.repeat(np.arange(nv), nm)
    bin_of = np.tile(np.arange(nm), nv)
    cols = np.arange(nv * nm)
    marginal = sp.csr_matrix((np.ones(nv * nm), (value_of, cols)), shape=(nv, n))

    def mean_rows(edge):                              # sum_v mu(v, b) (v - edge_b)
        return sp.csr_matrix((v[value_of] - edge[bin_of], (bin_of, cols)), shape=(nm, n))

    mass = sp.csr_matrix((np.ones(nv * nm), (bin_of, cols)), shape=(nm, n))
    revenue = sp.diags(m) @ sp.csr_matrix(np.triu(np.ones((nm, nm)))) @ mass   # p P(m >= p) at p = m_c
    revenue = sp.hstack([revenue[:, :-1], -np.ones((nm, 1))])
    cost = np.zeros(n)
    cost[-1] = 1.0
    f = np.full(nv, 1.0 / nv)
    high = linprog(cost, A_ub=revenue, b_ub=np.zeros(nm), A_eq=sp.vstack([marginal, mean_rows(m)]),
                   b_eq=np.r_[f, np.zeros(nm)], method="highs")
    upper_edge = np.r_[m[1:], m[-1]]
    low = linprog(cost, A_ub=sp.vstack([revenue, -mean_rows(m), mean_rows(upper_edge)]), b_ub=np.zeros(3 * nm),
                  A_eq=marginal, b_eq=f, method="highs")
    assert high.status == 0 and low.status == 0
    return low.fun, high.fun


@pytest.mark.parametrize("k", [18, 24])
def test_one_buyer_bounds_bracket_the_independent_revenue(k):
    """LB(k) <= the one-buyer robust revenue <= UB(k) (004 Theorem 1), with the revenue
    bracketed by an independent LP on posterior means (above). Measured: the bracket at
    mesh 180 is [0.194860, 0.197887] (at mesh 720, [0.195996, 0.196751]); LB(24) =
    0.192210 and UB(24) = 0.200567 on both families."""
    low = rm.validate(rm.load_model(MODELS / "common_value_auction.mech", {"N": 1}))
    revenue_low, revenue_high = _one_buyer_revenue_bracket(np.arange(10) / 9, 180)
    assert revenue_low <= revenue_high
    for family in ("auction", "general"):
        result = rm.bounds(low, k, family=family)
        assert result.lower.extra["dual_certified"] and result.upper.extra["dual_certified"]
        assert result.lower.value <= revenue_high + 1e-9
        assert result.upper.value >= revenue_low - 1e-9


def test_a_certified_interior_mechanism_is_kept_where_a_vertex_would_be_a_simplex_solve(public_good):
    """LB-G-10 (symmetric, 15,353 columns, so Clarabel): its optimal mechanisms are
    lotteries, nearly every entry of Clarabel's point is off its bounds, and a vertex
    would cost a simplex solve of the whole program (20 s against 1 s). The default path
    keeps the interior point, says why, and its value is HiGHS's interior point method's
    (an independent solver) with a dual bound certifying it; UB-P-10, whose structure
    sits mostly at zero, is still made a vertex (the test above)."""
    from robustmech.solve.vertex import worth_purifying

    result = rm.solve(public_good, "guarantee", 10)
    assert result.solver == "clarabel" and "vertex" not in result.extra
    assert result.extra["interior_solution"] and "certified by its duals" in result.extra["interior_kept"]
    assert result.extra["dual_certified"]
    reference = rm.solve(public_good, "guarantee", 10, solver="highs-ipm")
    assert result.value == pytest.approx(reference.value, abs=1e-8)
    # an uncertified point is always purified
    lp, _ = bounding.build("guarantee", public_good, 4)
    point = solve(lp, SolverOptions(solver="clarabel"))
    assert worth_purifying(lp, point) == ""  # small: fewer than 2,000 columns off their bounds
    assert worth_purifying(lp, replace(point, dual_objective=float("inf"))) == ""


def test_an_uncertified_mostly_interior_point_is_solved_again_with_crossover():
    """001's common-value guarantee (41) (N = 2, ten values, k = 7, full program): its
    optimal allocations are lotteries, so nearly every bounded column of Clarabel's point
    is off its bounds and the restricted simplex solve of a vertex would be the whole
    program. When such a point is not certified by its duals (here made so by hand), the
    vertex step solves the program again by HiGHS's interior point method with crossover:
    a basic solution with a dual bound, whose value is Clarabel's (an independent
    algorithm) and 001 Appendix B.1.1's 0.2564."""
    from robustmech.programs.base import program
    from robustmech.solve.vertex import _mostly_free, vertex

    low = rm.validate(rm.load_model(MODELS / "common_value_auction.mech", params={"N": 2, "nvalues": 10}))
    lp, _ = program("auction-guarantee").build(low, k=7)
    point = solve(lp, SolverOptions(solver="clarabel"))
    assert _mostly_free(lp, point.x)[0]
    purified = vertex(lp, replace(point, dual_objective=float("inf")), SolverOptions())
    assert "crossover" in purified.vertex
    assert abs(purified.objective - purified.dual_objective) <= 1e-8
    assert purified.objective == pytest.approx(point.objective, abs=1e-8)
    assert round(purified.objective, 4) == 0.2564


@pytest.mark.slow
def test_the_common_value_guarantee_at_10_is_certified_by_crossover_on_the_default_path():
    """At k = 10 (15,362 symmetric columns) ``auto`` chooses Clarabel, whose duals leave
    reduced costs of about 3e-9 on the free columns Ξ(x) and so certify nothing; the
    default path solves the program again with crossover (6 s, where the restricted
    simplex solve took 225 s) and the answer is certified and equals Clarabel's own
    (uncertified, but an independent algorithm) to its accuracy of about 1e-8."""
    low = rm.validate(rm.load_model(MODELS / "common_value_auction.mech", params={"N": 2, "nvalues": 10}))
    result = rm.solve(low, "auction-guarantee", 10)
    assert result.solver == "clarabel" and "crossover" in result.extra["vertex"]
    assert result.extra["dual_certified"]
    reference = rm.solve(low, "auction-guarantee", 10, solver="clarabel")
    assert not reference.extra["dual_certified"]
    assert result.value == pytest.approx(reference.value, abs=3e-8)
