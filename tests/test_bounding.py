"""The bounding programs of 004 Section 3 on the public-good application of Section 4.

Sources: LB-G-k is LP (9) of 004, UB-P-k is LP (10), the relaxed dual is (12);
Theorem 1 gives LB(k) <= max guarantee <= min potential <= UB(k); the closed form of the
max guarantee for the public good is (15)-(17) of 004 Section 4.2.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import robustmech as rm
from robustmech.programs import bounding
from robustmech.solve import SolverOptions, solve

from conftest import common_value_auction, public_good

K_RANGE = range(2, 9)


@pytest.fixture(scope="module")
def public_good_bounds(public_good_lowered):
    """LB(k), UB(k) for the public good N = 2, vbar = 3, k = 2..8 (004 Section 4.2)."""
    return {k: rm.bounds(public_good_lowered, k) for k in K_RANGE}


def test_lower_bound_rises_and_upper_bound_falls(public_good_bounds):
    """004 Section 4.2 (Figure 1's setting, N = 2, vbar = 3): the grid X(k) is not nested
    in X(k+1), but the bounds still improve monotonically on this model for k = 2..8."""
    lower = [public_good_bounds[k].lower.value for k in K_RANGE]
    upper = [public_good_bounds[k].upper.value for k in K_RANGE]
    assert all(b > a for a, b in zip(lower, lower[1:])), lower
    assert all(b < a for a, b in zip(upper, upper[1:])), upper


def test_bracket_contains_closed_form_guarantee(public_good_bounds):
    """Theorem 1 of 004 with the closed-form max guarantee λ of (15)-(17): every
    bracket [LB(k), UB(k)] contains λ (about 1.5567 for N = 2, vbar = 3)."""
    from robustmech.symbolic.public_good import public_good_solution

    lam = public_good_solution(2, 3).guarantee
    assert 1.55 < lam < 1.56
    for k in K_RANGE:
        assert public_good_bounds[k].contains(lam, tol=0.0), (k, public_good_bounds[k])


def test_every_solve_is_certified_by_its_duals(public_good_bounds):
    """The dual objective computed from HiGHS's duals equals the primal value: the
    optimum is certified independently of the solver's status."""
    for k in K_RANGE:
        for result in (public_good_bounds[k].lower, public_good_bounds[k].upper):
            assert result.status == "optimal"
            assert result.duality_gap <= 1e-7 * max(1.0, abs(result.value)), (k, result.program)


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_relaxed_dual_equals_upper_bound(public_good_lowered, k):
    """(12) of 004 is the LP dual of UB-P-k (10): strong duality makes the values equal."""
    upper = rm.solve(public_good_lowered, "potential", k).value
    dual = rm.solve(public_good_lowered, "dual", k).value
    assert dual == pytest.approx(upper, abs=1e-8)


def test_lower_bound_mechanism_is_participation_secure(public_good_bounds, public_good_lowered):
    """The LB-G-k mechanism is in M0_k (004 Section 3.1.2): action 0 is participation
    secure, u_i(m(0, x_-i), θ) >= 0 for all i, x_-i, θ, and m(·|x) is a lottery."""
    low = public_good_lowered
    for k in (4, 6):
        mech = public_good_bounds[k].lower.mechanism
        assert mech.is_lottery(1e-8)
        for i in range(2):
            at_zero = np.take(mech.rule, 0, axis=i)  # m(·|0, x_-i), shape (K, Ω)
            utilities = at_zero @ low.utility_coef[i].T  # (K, Θ)
            assert utilities.min() >= -1e-9


def test_upper_bound_information_has_the_prior_as_marginal(public_good_bounds, public_good_lowered):
    """UB-P-k's σ is in I_k: non-negative with marginal μ on Θ (constraint of (10))."""
    for k in (4, 6):
        info = public_good_bounds[k].upper.information
        assert info.joint.min() >= 0
        np.testing.assert_allclose(info.state_marginal(), public_good_lowered.prior, atol=1e-9)


def test_lower_bound_mechanism_has_figure_1_structure(public_good_lowered):
    """004 Figure 1 (left panels) and Section 4.2.1: below the boundary where total
    expenditure first reaches 1, E(x) = 1 - m(0|x) depends only on the aggregate
    action Σx, increases in it, and agent 1's share e_1(x)/E(x) is x_1/(x_1 + x_2)
    (proportional cost sharing). Checked at k = 6 on the solved arrays."""
    k = 6
    result = rm.solve(public_good_lowered, "guarantee", k)
    rule = result.mechanism.rule
    expenditure = 1.0 - rule[..., 0]
    grid = rm.Grid(2, k)
    aggregate = grid.aggregate().reshape(grid.shape)
    levels = np.unique(np.round(aggregate, 9))
    top = np.array([expenditure[np.isclose(aggregate, a)].max() for a in levels])
    boundary = levels[np.argmax(top >= 0.99)]  # the first aggregate level where E reaches ~1
    below = [a for a in levels if 0 < a < boundary]
    assert len(below) >= 6  # the structure is checked on a real region, not a point
    per_level = []
    for a in below:
        at_level = expenditure[np.isclose(aggregate, a)]
        assert np.ptp(at_level) <= 1e-7, a  # E depends on Σx only
        per_level.append(at_level.mean())
    assert all(b > a for a, b in zip(per_level, per_level[1:]))  # and increases in Σx
    x1 = grid.values[:, None] + 0 * grid.values[None, :]
    region = (aggregate > 0) & (aggregate < boundary)
    share = rule[..., 1][region] / expenditure[region]
    np.testing.assert_allclose(share, (x1 / np.where(aggregate > 0, aggregate, 1))[region], atol=1e-7)


def test_pyomo_model_gives_the_same_optimum(public_good_lowered, tmp_path):
    """The Pyomo model of each program (a pyomo.environ model built in bulk) is the same
    LP as the arrays: solved by HiGHS through Pyomo it gives the same value."""
    for program in ("guarantee", "potential", "dual"):
        direct = rm.solve(public_good_lowered, program, 3)
        through_pyomo = rm.solve(public_good_lowered, program, 3, solver="pyomo-highs")
        assert through_pyomo.value == pytest.approx(direct.value, abs=1e-8)
    path = tmp_path / "lb.lp"
    rm.solve(public_good_lowered, "guarantee", 2, export=str(path))
    text = path.read_text()
    assert text.startswith("\\* Source Pyomo model") and "\nmax" in text
    assert "strategic(" in text and "participation(" in text and "lam(" in text


def test_three_agents_bracket():
    """004 Section 4.2 with N = 3, vbar = 4 (vbar/N > 1): the bracket at k = 2, 3
    contains the closed-form guarantee of (15)-(17)."""
    from robustmech.symbolic.public_good import public_good_solution

    lam = public_good_solution(3, 4).guarantee
    low = rm.validate(public_good(3, 4))
    for k in (2, 3):
        b = rm.bounds(low, k)
        assert b.contains(lam, tol=0.0), (k, str(b), lam)


def test_quasilinear_environment_bounds_are_ordered():
    """Theorem 1 of 004 with continuous allocations and free transfers (004 Section 2's
    auction embedding): LB(k) <= UB(k), the LB mechanism's action 0 pays nothing in the
    zero-value state (participation security), and LB rises with k."""
    low = rm.validate(common_value_auction(2, (0, 0.5, 1)))
    previous = -np.inf
    for k in (2, 3, 4):
        b = rm.bounds(low, k, family="general")  # 004's programs, not 001's auction programs
        assert b.lower.value <= b.upper.value + 1e-9
        assert b.lower.value >= previous - 1e-9
        previous = b.lower.value
        rule = b.lower.mechanism.rule  # (K, K, q1, q2, t1, t2)
        assert rule[0, :, 2].max() <= 1e-9 and rule[:, 0, 3].max() <= 1e-9  # t_i(0, x_-i) <= 0
        assert b.upper.value <= 0.5 + 1e-9  # the potential is at most E[v] = 1/2


def test_grid_derivatives_match_004():
    """(1) of 004 has the factor k - 1 (footnote 13); ∇- has k inside, 1 at the top and
    k f(0) at 0; (7) of 004 is the adjoint of ∇- (Lemma 2): Σ f ∇-g = -Σ g ∇̃+f."""
    k = 3
    grid = rm.Grid(1, k)
    f = np.random.default_rng(0).normal(size=grid.size)
    up = grid.upward(0) @ f
    np.testing.assert_allclose(up[:-1], (k - 1) * np.diff(f))
    assert up[-1] == 0
    down = grid.downward(0) @ f
    assert down[0] == pytest.approx(k * f[0])
    np.testing.assert_allclose(down[1:-1], k * np.diff(f)[:-1])
    assert down[-1] == pytest.approx(f[-1] - f[-2])
    adj = grid.adjoint_upward(0) @ f
    assert adj[-1] == pytest.approx(-f[-1])
    assert adj[-2] == pytest.approx(f[-1] - k * f[-2])
    np.testing.assert_allclose(adj[:-2], k * np.diff(f)[:-1])
    grid2 = rm.Grid(2, 2)
    assert grid2.size == (2 * 2 + 1) ** 2


def _adjoint_upward_of_7(f: np.ndarray, k: int, axis: int) -> np.ndarray:
    """∇̃+_i f of eq. (7) of 004, written out point by point from the paper (independent of
    ``lower/grid.py``, which builds it as minus the transpose of ∇-_i): -f(k, x_-i) at
    x_i = k; f(k, x_-i) - k f(k - 1/k, x_-i) at x_i = k - 1/k; k[f(x_i + 1/k, x_-i) - f(x)]
    elsewhere. The grid points per agent are 0, 1/k, ..., k (k² + 1 of them)."""
    top = k * k
    out = np.empty_like(f)
    for idx in np.ndindex(*f.shape):
        j = idx[axis]
        at = lambda m, idx=idx: f[idx[:axis] + (m,) + idx[axis + 1:]]  # noqa: E731
        if j == top:
            out[idx] = -at(top)
        elif j == top - 1:
            out[idx] = at(top) - k * at(top - 1)
        else:
            out[idx] = k * (at(j + 1) - at(j))
    return out


def _downward_of_004(f: np.ndarray, k: int, axis: int) -> np.ndarray:
    """∇-_i of 004 Section 3.1.3, point by point: k f(0, x_-i) at x_i = 0, k[f(x) - f(x - 1/k)]
    inside, f(k, x_-i) - f(k - 1/k, x_-i) at x_i = k."""
    top = k * k
    out = np.empty_like(f)
    for idx in np.ndindex(*f.shape):
        j = idx[axis]
        at = lambda m, idx=idx: f[idx[:axis] + (m,) + idx[axis + 1:]]  # noqa: E731
        out[idx] = k * at(0) if j == 0 else (at(top) - at(top - 1) if j == top else k * (at(j) - at(j - 1)))
    return out


@pytest.mark.parametrize("n_agents, k", [(1, 1), (1, 2), (1, 4), (2, 1), (2, 2), (2, 3), (3, 2)])
def test_adjoint_upward_is_formula_7_of_004_entry_by_entry(n_agents, k):
    """Every entry of ∇̃+_i and ∇-_i, for every agent i, against the point-by-point formulas
    of 004 ((7) and Section 3.1.3; the special cases at the top two grid points included),
    applied to the unit vectors (so the whole matrix is compared, exactly: the entries are
    the integers 0, ±1, ±k). Lemma 2's summation by parts then holds between the two
    formulas, each from its own definition."""
    grid = rm.Grid(n_agents, k)
    eye = np.eye(grid.size)
    for i in range(n_agents):
        want_adj = np.column_stack([_adjoint_upward_of_7(e.reshape(grid.shape), k, i).ravel() for e in eye])
        want_down = np.column_stack([_downward_of_004(e.reshape(grid.shape), k, i).ravel() for e in eye])
        np.testing.assert_array_equal(grid.adjoint_upward(i).toarray(), want_adj)
        np.testing.assert_array_equal(grid.downward(i).toarray(), want_down)
        f, g = np.random.default_rng(i).normal(size=(2, grid.size))
        assert f @ (want_down @ g) == pytest.approx(-(g @ (want_adj @ f)), abs=1e-12 * grid.size * k)


@pytest.mark.parametrize("solver", ["highs", "clarabel"])
def test_solver_error_names_the_family(solver):
    """An infeasible program says which constraint family is to blame (with either solver)."""
    import scipy.sparse as sp

    from robustmech.programs.lp import ProgramBuilder

    b = ProgramBuilder("toy", "max")
    b.add_variables("x", 2, lower=0, upper=5)
    b.set_cost("x", [1, 1])
    b.add_rows("capacity", {"x": sp.csr_matrix(np.ones((1, 2)))}, upper=1.0, description="x1 + x2 <= 1")
    b.add_rows("demand", {"x": sp.csr_matrix(np.ones((1, 2)))}, lower=3.0, description="x1 + x2 >= 3")
    with pytest.raises(rm.SolverError) as err:
        solve(b.build(), SolverOptions(solver=solver))
    assert err.value.status == "infeasible"
    assert set(err.value.families) == {"capacity", "demand"}
    assert "capacity" in str(err.value)


@pytest.mark.parametrize("solver", ["highs", "clarabel"])
def test_unbounded_program_is_reported(solver):
    import scipy.sparse as sp

    from robustmech.programs.lp import ProgramBuilder

    b = ProgramBuilder("toy", "max")
    b.add_variables("x", 1, lower=0)
    b.add_variables("y", 1, lower=0, upper=1)
    b.set_cost("x", 1.0)
    b.add_rows("link", {"y": sp.csr_matrix(np.ones((1, 1)))}, upper=1.0)
    with pytest.raises(rm.SolverError) as err:
        solve(b.build(), SolverOptions(solver=solver))
    assert err.value.status == "unbounded"
    assert "x" in err.value.families


@pytest.mark.parametrize("structured", [False, True])
def test_the_program_keeps_its_own_vectors(structured):
    """A program's costs and bounds are what they were when given: the caller changing
    its arrays afterwards (before or after the program is built, before its vectors are
    first read) changes nothing of the program."""
    import scipy.sparse as sp

    from robustmech.programs.lp import ProgramBuilder

    b = ProgramBuilder("toy", "max", structured=structured)
    lower, upper, cost = np.array([0.0, -1.0]), np.array([5.0, 4.0]), np.array([1.0, 2.0])
    b.add_variables("x", 2, lower=lower, upper=upper)
    b.set_cost("x", cost)
    b.add_rows("capacity", {"x": sp.csr_matrix(np.ones((1, 2)))}, upper=1.0)
    cost[0] = 9.0
    lp = b.build()
    lower[1], upper[0] = -7.0, 0.5
    np.testing.assert_array_equal(lp.cost, [1.0, 2.0])
    np.testing.assert_array_equal(lp.col_lower, [0.0, -1.0])
    np.testing.assert_array_equal(lp.col_upper, [5.0, 4.0])


@pytest.mark.parametrize(
    "make, ks",
    [(lambda: public_good(2, 3), (3, 5)), (lambda: public_good(3, 4), (2,)),
     (lambda: common_value_auction(2, (0, 0.5, 1)), (2, 3))],
)
def test_symmetric_reduction_keeps_every_value(make, ks):
    """Solving over symmetric mechanisms/information structures only is exact (the
    programs are convex and invariant under the detected relabelings of agents, states
    and outcomes): the values equal the full programs' and the expanded solutions are
    feasible in the full programs."""
    from robustmech.lower.symmetry import find_symmetries

    low = rm.validate(make())
    syms = find_symmetries(low)
    assert len(syms) == (5 if low.n_agents == 3 else 1)  # the whole symmetric group S_N minus the identity
    for k in ks:
        for program in ("guarantee", "potential", "dual"):
            full = rm.solve(low, program, k, symmetry=False)
            reduced = rm.solve(low, program, k, symmetry=True)
            assert reduced.value == pytest.approx(full.value, abs=1e-8)
            assert reduced.extra["symmetry"]["columns"] < full.n_variables
            assert reduced.extra["symmetry"]["max_violation"] <= 1e-9


def test_symmetry_search_stops_at_its_cut_offs():
    """The search for symmetries gives up (no reduction, which is always safe) when it
    would try more than ``max_outcome_perms`` pairs (agent permutation, permutation of the
    d outcome coordinates: N! d! of them) or when two states have the same payoffs and
    prior (the state map τ would not be unique). The two-bidder auction has d = 4
    coordinates (q1, q2, t1, t2): 2! 4! = 48 pairs, so the swap is found at a cut-off of 48
    and not at 47; a payoff-irrelevant second state variable makes two states identical."""
    from robustmech.lower.symmetry import find_symmetries

    low = rm.validate(common_value_auction(2, (0, 1)))
    assert low.utility_coef.shape[2] == 4
    [swap] = find_symmetries(low, max_outcome_perms=48)
    assert swap.agents == (1, 0)
    assert find_symmetries(low, max_outcome_perms=47) == []

    b = rm.ModelBuilder("twin_states")
    b.agents(2)
    v, _z = b.states(["v", "z"], [(0, 0), (0, 1), (1, 0)])  # (0, 0) and (0, 1): same payoffs, same prior
    b.prior_uniform()
    q = b.allocation("q")
    t = b.transfer("t")
    for i in range(2):
        b.utility(i, v * q[i] - t[i])
    b.designer(sum(t))
    twins = rm.validate(b.build())
    assert find_symmetries(twins) == []
    result = rm.solve(twins, "guarantee", 2)
    assert "symmetry" not in result.extra or result.extra["symmetry"].get("group_order", 1) == 1
    # the same environment with the twin states merged (v = 0 with mass 2/3) has the same value
    merged = rm.ModelBuilder("merged")
    merged.agents(2)
    (w,) = merged.states(["v"], [0, 1])
    merged.prior([sympy.Rational(2, 3), sympy.Rational(1, 3)])
    mq = merged.allocation("q")
    mt = merged.transfer("t")
    for i in range(2):
        merged.utility(i, w * mq[i] - mt[i])
    merged.designer(sum(mt))
    assert rm.solve(merged.build(), "guarantee", 2).value == pytest.approx(result.value, abs=1e-8)


def test_asymmetric_prior_is_not_reduced():
    """A symmetry must be found, never assumed: with an asymmetric prior the public
    good has none."""
    from robustmech.lower.symmetry import find_symmetries

    b = rm.ModelBuilder("lopsided")
    b.agents(2)
    theta = b.states(["a", "b"], [(3, 0), (0, 3)])
    b.prior([0.3, 0.7])
    b.finite_outcomes(["none", "p1", "p2"])
    b.utility(0, {"none": 0, "p1": theta[0] - 1, "p2": theta[0]})
    b.utility(1, {"none": 0, "p1": theta[1], "p2": theta[1] - 1})
    b.designer({"none": 0, "p1": sum(theta) - 1, "p2": sum(theta) - 1})
    assert find_symmetries(rm.validate(b.build())) == []


def test_dual_value_is_a_weak_duality_bound():
    """The reported dual value is recomputed from the row duals alone (z = c - Aᵀy) and
    bounds the optimum from the other side; duals of the wrong sign give no bound."""
    import scipy.sparse as sp

    from robustmech.programs.lp import ProgramBuilder
    from robustmech.solve import dual_objective

    b = ProgramBuilder("toy", "min")  # min x1 + x2  s.t.  x1 + x2 >= 1, x >= 0: optimum 1
    b.add_variables("x", 2, lower=0)
    b.set_cost("x", [1, 1])
    b.add_rows("cover", {"x": sp.csr_matrix(np.ones((1, 2)))}, lower=1.0)
    lp = b.build()
    none = np.zeros(0)
    assert dual_objective(lp, np.array([1.0]), none, none, none) == pytest.approx(1.0)
    assert dual_objective(lp, np.array([0.5]), none, none, none) == pytest.approx(0.5)  # feasible, not optimal
    assert dual_objective(lp, np.array([-1.0]), none, none, none) == -np.inf  # wrong sign: no certificate
    result = rm.solve(public_good(), "guarantee", 3)
    assert result.extra["dual_certified"] and result.extra["max_violation"] <= 1e-9


@pytest.mark.parametrize("program", ["guarantee", "potential"])
def test_clarabel_gives_the_simplex_values_with_certified_duals(public_good_lowered, program):
    """Clarabel (the default for large programs) and HiGHS's simplex method give the same
    LB-G-6 (9) and UB-P-6 (10) of 004 on the public good, on the side of the closed-form
    max guarantee λ of (15)-(17) that Theorem 1 puts them, and Clarabel's duals, mapped
    back to HiGHS's sign convention, certify its optimum."""
    from robustmech.symbolic.public_good import public_good_solution

    simplex = rm.solve(public_good_lowered, program, 6, solver="highs-simplex")
    interior = rm.solve(public_good_lowered, program, 6, solver="clarabel")
    assert interior.solver == "clarabel"
    assert interior.value == pytest.approx(simplex.value, abs=1e-8)
    lam = public_good_solution(2, 3).guarantee
    assert interior.value <= lam if program == "guarantee" else interior.value >= lam  # LB(6) <= λ <= UB(6)
    assert interior.extra["dual_certified"]
    assert abs(interior.value - interior.dual_value) <= 1e-8


def test_auto_solver_picks_clarabel_for_large_programs_only(public_good_lowered):
    """``auto`` means HiGHS below AUTO_INTERIOR_COLUMNS columns and Clarabel from there on."""
    from robustmech.solve import AUTO_INTERIOR_COLUMNS, method_for

    small, _ = bounding.build("guarantee", public_good_lowered, 4)
    large, _ = bounding.build("guarantee", public_good_lowered, 10)
    assert small.n_cols < AUTO_INTERIOR_COLUMNS <= large.n_cols
    assert method_for(small, "auto") == "highs" and method_for(large, "auto") == "clarabel"
    assert method_for(large, "highs-simplex") == "highs-simplex"
    assert rm.solve(public_good_lowered, "guarantee", 4).solver == "highs"


def test_auto_solver_picks_pdlp_on_the_grids_of_three_agents(monkeypatch):
    """From AUTO_INTERIOR_COLUMNS columns, ``auto`` chooses HiGHS's first-order method
    PDLP for a program over the grid of three or more agents (``grid_dimension`` in its
    metadata), HiGHS's interior point method for such a program folded onto a box of its
    grid, and Clarabel for two agents (on a box of their grid, at every size). PDLP's point is purified like Clarabel's
    (:mod:`robustmech.solve.vertex`). The N = 3 public good with vbar = 4 at k = 3, with
    the threshold lowered so that it counts as large: the values equal HiGHS's simplex
    method on the full program (no symmetry reduction), and they bracket the closed-form
    max guarantee λ of (15)-(17) of 004 (Theorem 1)."""
    from robustmech.solve import AUTO_INTERIOR_COLUMNS, core, method_for
    from robustmech.symbolic.public_good import public_good_solution

    three = rm.validate(public_good(3, 4))
    lp3, _ = bounding.build("guarantee", three, 5)
    assert lp3.metadata["grid_dimension"] == 3 and lp3.n_cols >= AUTO_INTERIOR_COLUMNS
    assert method_for(lp3, "auto") == "highs-pdlp"
    # folded onto a box of its grid (x <= 3 of X(5)), it is HiGHS's interior point method's,
    # without its crossover
    from robustmech.programs.truncation import GridTruncation

    box, _ = GridTruncation(15, "primal").apply(lp3)
    assert box.metadata["grid_dimension"] == 3 and box.n_cols >= AUTO_INTERIOR_COLUMNS
    assert method_for(box, "auto") == core.BOX_METHOD == "highs-ipm-interior"
    two = rm.validate(public_good(2, 3))
    lp2, _ = bounding.build("guarantee", two, 10)
    assert lp2.metadata["grid_dimension"] == 2 and method_for(lp2, "auto") == "clarabel"
    # on a box of a two-agent grid it is Clarabel's below AUTO_INTERIOR_COLUMNS too
    box2, _ = GridTruncation(30, "primal").apply(lp2)
    assert box2.n_cols < AUTO_INTERIOR_COLUMNS and method_for(box2, "auto") == core.BOX_METHOD_TWO_AGENTS

    monkeypatch.setattr(core, "AUTO_INTERIOR_COLUMNS", 1)
    lam = public_good_solution(3, 4).guarantee
    values = {}
    for program in ("guarantee", "potential"):
        auto = rm.solve(three, program, 3)
        full = rm.solve(three, program, 3, solver="highs-simplex", symmetry=False)
        assert auto.solver == "highs-pdlp" and auto.extra["dual_certified"]
        assert auto.value == pytest.approx(full.value, abs=1e-6)
        assert abs(auto.value - auto.dual_value) <= 1e-6
        # PDLP's own point, before any vertex step, already has the simplex method's value
        raw = rm.solve(three, program, 3, solver="highs-pdlp")
        assert "vertex" not in raw.extra and raw.extra["dual_certified"]
        assert raw.value == pytest.approx(full.value, rel=1e-6)
        values[program] = auto.value
        assert "vertex" in auto.extra  # below VERTEX_SMALL free columns a vertex is cheap
    assert values["guarantee"] <= lam <= values["potential"]


@pytest.mark.slow
def test_pdlp_on_the_three_agent_public_good_agrees_with_clarabel():
    """The default path on the N = 3 public good (vbar = 4) at k = 5, where ``auto``
    chooses PDLP: LB-G-5 keeps PDLP's certified point (most of its 12,403 columns are
    interior lotteries) and UB-P-5 is purified into a vertex; both equal Clarabel's
    interior point method on the same programs (an independent algorithm) to PDLP's
    relative tolerance 1e-7, and bracket λ = 1.840179 of (15)-(17) of 004."""
    from robustmech.symbolic.public_good import public_good_solution

    three = rm.validate(public_good(3, 4))
    lam = public_good_solution(3, 4).guarantee
    lb, ub = rm.solve(three, "guarantee", 5), rm.solve(three, "potential", 5)
    assert lb.solver == ub.solver == "highs-pdlp"
    assert "interior_kept" in lb.extra and "vertex" in ub.extra
    for auto, program in ((lb, "guarantee"), (ub, "potential")):
        reference = rm.solve(three, program, 5, solver="clarabel")
        assert auto.extra["dual_certified"] and reference.extra["dual_certified"]
        assert auto.value == pytest.approx(reference.value, rel=2e-7)
    assert lb.value <= lam <= ub.value


def test_symmetric_reduction_drops_exactly_the_duplicate_rows():
    """Rows the symmetry group maps onto each other become identical after the orbit
    reduction and are dropped; rows that differ in one coefficient or one bound stay."""
    import scipy.sparse as sp

    from robustmech.programs.symmetry import unique_rows

    A = sp.csr_matrix(np.array([[1.0, 2.0, 0.0], [1.0, 2.0, 0.0], [1.0, 2.0, 1e-12], [1.0, 2.0, 0.0], [0.0, 0.0, 1.0]]))
    lower = np.array([0.0, 0.0, 0.0, -np.inf, -np.inf])
    upper = np.array([1.0, 1.0, 1.0, 1.0, np.inf])
    assert unique_rows(A, lower, upper).tolist() == [0, 2, 3, 4]
    k = 5
    low = rm.validate(public_good(2, 3))
    reduced = rm.solve(low, "guarantee", k)
    full, _ = bounding.build("guarantee", low, k)
    # Swapping the two agents (θ = (3, 0) <-> (0, 3), x = (x1, x2) <-> (x2, x1)) is an
    # involution on the rows of (9), and the reduction keeps one row per orbit; an involution
    # with f fixed points on n rows has (n + f)/2 orbits. The strategic rows (θ, x) and the
    # participation rows (i, θ, x_-i) have no fixed point (θ changes); the feasibility rows
    # (one per x in X(k)², K = k² + 1 points per agent) are fixed on the diagonal x1 = x2.
    K = k * k + 1
    families = {name: fam.count for name, fam in full.families.items()}
    assert families == {"strategic": 2 * K * K, "participation": 2 * 2 * K, "feasibility_eq": K * K}
    orbits = families["strategic"] // 2 + families["participation"] // 2 + (K * K + K) // 2
    assert reduced.extra["symmetry"]["rows"] == orbits


def test_three_agents_keep_one_row_per_row_orbit_although_their_sums_differ_in_the_last_bit():
    """UB-P-k (10) of 004 for N = 3, vbar = 4: the agents' permutations (S_3) act on the
    rows (ω, x) of the virtual family. The row of outcome `none` is γ(x) >= 0, one orbit
    per multiset {x_1, x_2, x_3}: C(K + 2, 3) of them (K = k² + 1 points per agent); the
    rows of `paid_by[j]` have one orbit per (x_j, the others' unordered pair): K·K(K+1)/2.
    The three marginal rows (one per state) are one orbit. Reduced rows sum three cost
    shares in different orders, so copies differ in the last bit; they are still one row.
    The value is unchanged (k = 3: the full program solved by HiGHS)."""
    from math import comb

    from robustmech.lower.symmetry import find_symmetries
    from robustmech.programs.reductions import symmetry_reduction

    k, K = 4, 4 * 4 + 1
    low = rm.validate(public_good(3, 4))
    full, _ = bounding.build("potential", low, k)
    reduction, _ = symmetry_reduction(full, find_symmetries(low), low.env.agents, low.env.states.labels,
                                      low.outcome_names)
    assert reduction is not None
    reduced, _ = reduction.apply(full)
    counts = {name: fam.count for name, fam in reduced.families.items()}
    assert counts == {"virtual": comb(K + 2, 3) + K * K * (K + 1) // 2, "marginal": 1}
    symmetric = rm.solve(low, "potential", 3, solver="highs")
    assert symmetric.extra["symmetry"]["rows"] == comb(12, 3) + 10 * 10 * 11 // 2 + 1  # K = 10
    assert symmetric.extra["dual_certified"]
    assert symmetric.value == pytest.approx(rm.solve(low, "potential", 3, solver="highs", symmetry=False).value,
                                            abs=1e-9)


def test_rounding_noise_is_dropped_from_the_matrix_and_nothing_else():
    """An entry below 1e-13 of its row's largest is the rounding error of a zero sum
    (UB-P-k for three agents, w·I - Σ_i u_i ∇̃+_i with cost shares of 1/3); larger
    entries, however small in absolute terms, stay."""
    import scipy.sparse as sp

    from robustmech.programs.lp import drop_rounding_noise

    A = sp.csr_matrix(np.array([[18.0, 4e-15, -1.0], [0.0, 0.0, 0.0], [1e-20, 3e-20, 0.0], [1.0, 1e-12, 0.0]]))
    cleaned = drop_rounding_noise(A).toarray()
    assert cleaned.tolist() == [[18.0, 0.0, -1.0], [0.0, 0.0, 0.0], [1e-20, 3e-20, 0.0], [1.0, 1e-12, 0.0]]
    low = rm.validate(public_good(3, 4))
    lp, _ = bounding.build("potential", low, 4)
    data = np.abs(lp.A.tocsr().data)
    assert data.min() > 1e-3  # every coefficient of (10) here is a payoff times a grid factor, none is noise
    assert lp.metadata["rounding_noise_dropped"] > 0


def test_clarabel_reports_progress_from_its_log(public_good_lowered):
    """Clarabel's iteration log, read from a pipe on file descriptor 1, becomes progress
    lines (the CLI prints them on stderr) and never reaches stdout (--json stays clean)."""
    lines = []
    lp, _ = bounding.build("potential", public_good_lowered, 6)
    sol = solve(lp, SolverOptions(solver="clarabel", progress=lines.append, progress_after=0.0))
    simplex = solve(lp, SolverOptions(solver="highs-simplex"))  # the same UB-P-6 (004 (10)) by another method
    assert sol.optimal and sol.objective == pytest.approx(simplex.objective, abs=1e-8)
    assert lines and all("clarabel iteration" in line for line in lines)


def _one_sided_transfers(cap=None):
    """Two bidders, a common value v uniform on {0, 1}, q_i >= 0 with Σq <= 1, and transfers
    t_i >= 0 bounded above only by ``cap`` (none: a one-sided unbounded outcome, whose
    recession cone is generated by the rays e_{t_1}, e_{t_2})."""
    b = rm.ModelBuilder("one_sided_transfers")
    b.agents(2)
    (v,) = b.states(["v"], [0, 1])
    b.prior_uniform()
    q = b.allocation("q")
    t = [b.variable(f"t[{i}]", lower=0, upper=cap, role="transfer") for i in (1, 2)]
    for i in range(2):
        b.utility(i, v * q[i] - t[i])
    b.designer(sum(t))
    return b.build()


def test_rays_rows_of_ub_p_k_for_a_one_sided_unbounded_outcome():
    """UB-P-k (10) of 004 over an outcome set with extreme rays: besides a virtual row per
    vertex, one row per ray r and profile x says the informational virtual objective does
    not grow along r: Σ_θ [w(r, θ) σ(x, θ) - Σ_j u_j(r, θ) ∇̃+_j σ(x, θ)] <= 0. For the ray
    e_{t_i} (w = 1, u_i = -1, u_j = 0) that is ρ(x) + ∇̃+_i ρ(x) <= 0, checked here on the
    solution with ∇̃+ computed from (7) point by point. Independently, capping the transfers
    at T (a polytope: vertices only, no ray rows) gives a value at most UB(k) (a smaller
    outcome set), and equal to it once T is large (T = 10, 100)."""
    k = 2
    low = rm.validate(_one_sided_transfers())
    lp, _ = bounding.build("potential", low, k)
    K2 = (k * k + 1) ** 2
    assert lp.families["rays"].count == 2 * K2
    result = rm.solve(low, "potential", k)
    assert result.extra["dual_certified"]
    grid = rm.Grid(2, k)
    rho = result.information.joint.sum(axis=-1)
    assert rho.shape == grid.shape
    for i in range(2):
        assert np.max(rho + _adjoint_upward_of_7(rho, k, i)) <= 1e-9, i
    for cap in (1, 10, 100):
        capped = rm.solve(_one_sided_transfers(cap), "potential", k)
        assert "rays" not in bounding.build("potential", rm.validate(_one_sided_transfers(cap)), k)[0].families
        assert capped.value <= result.value + 1e-9
    assert capped.value == pytest.approx(result.value, abs=1e-8)


def test_a_permutation_that_moves_a_bounded_row_onto_a_free_one_is_not_a_symmetry():
    """Rows 1e7·x0 >= 0 and 1e7·x1 (no bounds), with free columns: swapping x0 and x1
    maps the first row's coefficients onto the second's, but not its bound, so the
    program is not invariant. The row keys hold the bounds only to their rounding step
    (1e-6 of the largest key, here 1e7), so the bounds are compared exactly; the same
    program with both rows bounded is invariant, and the rows swap."""
    import scipy.sparse as sp

    from robustmech.programs.lp import LinearProgram
    from robustmech.programs.symmetry import row_permutation

    def program(second_bounded: bool) -> LinearProgram:
        inf = np.inf
        return LinearProgram("two", "min", np.zeros(2), sp.csr_matrix(np.diag([1e7, 1e7])),
                             np.array([0.0, 0.0 if second_bounded else -inf]), np.array([inf, inf]),
                             np.full(2, -inf), np.full(2, inf), {}, {})

    swap = np.array([1, 0])
    assert row_permutation(program(second_bounded=False), swap) is None
    assert row_permutation(program(second_bounded=True), swap).tolist() == [1, 0]


def test_rows_the_invariance_check_matched_to_its_tolerance_stay_apart():
    """x0 <= 1, (1 + 1e-6)·x1 <= 1 and 1e5·x2 <= 1: the invariance check compares rows to
    1e-9 of the matrix's largest entry (here 1e-4), so swapping x0 and x1 passes as a
    symmetry and pairs the first two rows. Their reduced rows (z0 <= 1 and (1 + 1e-6)·z0
    <= 1) differ by far more than the rounding of a sum, so both are kept, and the
    symmetric optimum (min -x0 - x1 over the orbit z0 = x0 = x1) satisfies every full row."""
    import scipy.sparse as sp

    from robustmech.programs.lp import LinearProgram
    from robustmech.programs.symmetry import max_violation, orbit_matrix, reduce_with_rows, row_permutation

    inf = np.inf
    lp = LinearProgram("near", "min", np.array([-1.0, -1.0, 0.0]), sp.csr_matrix(np.diag([1.0, 1.0 + 1e-6, 1e5])),
                       np.full(3, -inf), np.ones(3), np.zeros(3), np.full(3, inf), {}, {})
    swap = np.array([1, 0, 2])
    rows = row_permutation(lp, swap)
    assert rows is not None and rows.tolist() == [1, 0, 2]
    reduced, P, reduced_row = reduce_with_rows(lp, [swap], orbit_matrix(3, [rows]))
    assert reduced.n_rows == 3 and sorted(reduced_row.tolist()) == [0, 1, 2]
    z0 = 1.0 / (1.0 + 1e-6)  # the tighter of the two kept rows
    assert max_violation(lp, P @ np.array([z0, 0.0])) == 0.0
