"""Every program as a pyomo.environ model: solved by Pyomo's own solver interfaces
(appsi_highs, and GLPK, a solver that is not HiGHS), read back, extended by a user.

The values are those of the README's table for the public good (004 Section 4.1, N = 2,
vbar = 3): LB(3) = 10/7 = 1.428571, UB(3) = 1.772779, LB(4) = 1.485301; the relaxed
dual (12) of 004 is the LP dual of UB-P-k (10), so its value is UB(k).
"""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys

import numpy as np
import pyomo.environ as pyo
import pytest
import scipy.sparse as sp
from pyomo.core.expr.visitor import identify_variables

import robustmech as rm
from robustmech.certify import guarantee, potential
from robustmech.programs import bounding
from robustmech.programs.lp import LinearProgram
from robustmech.pyomo import from_pyomo, model_from_program, solution_from_model, solve_model, to_pyomo
from robustmech.solve import SolverOptions
from robustmech.solve import solve as solve_lp

from conftest import MODELS, ROOT

LB3, UB3, LB4 = 10 / 7, 1.772779, 1.485301  # README table (public good, N = 2, vbar = 3)
README_DIGITS = 5e-7  # the table has six decimals
PUBLISHED = {"guarantee": LB3, "potential": UB3, "dual": UB3}


def _solvers():
    """appsi_highs and GLPK; a missing one is skipped, except in CI (.ci/run installs GLPK)."""
    out = []
    for name in ("appsi_highs", "glpk"):
        missing = not pyo.SolverFactory(name).available(exception_flag=False) and not os.environ.get("CI")
        out.append(pytest.param(name, marks=pytest.mark.skipif(missing, reason=f"{name} is not installed")))
    return out


SOLVERS = _solvers()


@pytest.fixture(scope="module")
def public_good():
    return rm.validate(rm.load_model(MODELS / "public_good.mech", params={"N": 2, "vbar": 3}))


@pytest.fixture(scope="module")
def array_path(public_good):
    """The bounding programs at k = 3 solved from the arrays by HiGHS (no symmetry: the
    same program as the Pyomo model)."""
    return {p: rm.solve(public_good, p, 3, symmetry=False, solver="highs") for p in PUBLISHED}


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("program", list(PUBLISHED))
def test_bounding_programs_solve_through_pyomo(public_good, array_path, program, solver):
    """LB-G-3 (9), UB-P-3 (10) and the dual (12) of 004 give the README's values through
    Pyomo's solver interfaces, equal to the array path's, certified by the duals read from
    the ``dual`` suffix; the objects read back are as good as the array path's by an
    independent exact evaluation (Theorem 1 of 004: LB(k) <= G(M_LB), P(I_UB) <= UB(k))."""
    model = to_pyomo(public_good, program, k=3)
    solve_model(model, solver)
    result = from_pyomo(model)
    assert result.value == pytest.approx(PUBLISHED[program], abs=README_DIGITS)
    assert result.value == pytest.approx(array_path[program].value, abs=1e-8)
    assert result.dual_value == pytest.approx(result.value, abs=1e-8)  # the suffix duals certify the optimum
    assert result.extra["dual_certified"] and result.solver == solver
    if program == "guarantee":
        assert guarantee(public_good, result.mechanism, best=False).value >= LB3 - 1e-7
    elif program == "potential":
        assert potential(public_good, result.information).value <= UB3 + README_DIGITS
    else:  # the mechanism of (12) is a lottery at every profile, as the array path's
        np.testing.assert_allclose(result.mechanism.rule.sum(axis=-1), 1.0, atol=1e-9)
        assert result.mechanism.rule.shape == array_path[program].mechanism.rule.shape


def test_names_read_as_economics(public_good):
    """Variables are indexed by profiles, outcomes and states, constraints as in (9) and (10)."""
    lb = to_pyomo(public_good, "guarantee", k=4)
    assert lb.m[0.25, 0.5, "paid_by[1]"].lb == 0.0 and lb.m[0.25, 0.5, "paid_by[1]"].ub == 1.0
    assert list(lb.Omega) == ["none", "paid_by[1]", "paid_by[2]"]
    assert list(lb.lam) == list(public_good.env.states.labels)
    assert lb.X.dimen == 2 and len(lb.X) == 17 ** 2  # X(4) = {0, 1/4, ..., 4}^2
    assert (0.25, 0.5) in lb.X and lb.X.first() == (0.0, 0.0) and lb.X.last() == (4.0, 4.0)
    assert lb.strategic.index_set().dimen == 3 and len(lb.strategic) == 2 * 17 ** 2  # Θ × X
    theta = public_good.env.states.labels[0]
    assert lb.strategic[theta, 0.25, 0.5].upper == 0.0
    # participation[i, θ, x_-i]: agent i's action 0 against the others' x_-i
    agent = public_good.env.agents[0]
    row = lb.participation[agent, theta, 0.5]
    assert {v.name for v in identify_variables(row.body)} <= {f"m[0.0,0.5,'{w}']" for w in lb.Omega}
    assert row.lower == 0.0 and row.upper is None
    ub = to_pyomo(public_good, "potential", k=4)
    assert ub.sigma[theta, 0.5, 1.0].lb == 0.0 and ub.gamma[0.5, 1.0].lb is None
    assert list(ub.marginal) == list(public_good.env.states.labels)
    assert ub.marginal[theta].equality and ub.marginal[theta].upper == pytest.approx(0.5)
    assert len(ub.V) == 3 and len(ub.virtual) == 3 * 17 ** 2  # one row per vertex of Δ(Ω) and profile


def test_a_hand_solved_program_without_index_sets():
    """max x1 + 2 x2 s.t. x1 + x2 <= 3/2, 0 <= x <= 1 (by hand: x = (1/2, 1), value 5/2, the
    row's dual 1): blocks and families without index sets are indexed by RangeSets, a
    family called "objective" does not displace the objective, a free row is left out."""
    from robustmech.programs.lp import ProgramBuilder

    b = ProgramBuilder("toy", "max")
    b.add_variables("x", 2, upper=1.0)
    b.set_cost("x", [1.0, 2.0])
    b.add_rows("objective", {"x": sp.csr_matrix(np.ones((1, 2)))}, upper=1.5)
    b.add_rows("free", {"x": sp.csr_matrix(np.ones((1, 2)))})
    model = model_from_program(b.build())
    assert list(model.x_index) == [1, 2] and len(model.objective_2) == 1 and len(model.free) == 0
    solve_model(model, "appsi_highs")
    _, solution, checks = solution_from_model(model)
    np.testing.assert_allclose(solution.x, [0.5, 1.0], atol=1e-9)
    np.testing.assert_allclose(solution.row_dual, [1.0, 0.0], atol=1e-9)
    assert solution.objective == pytest.approx(2.5) and solution.dual_objective == pytest.approx(2.5)
    assert checks["dual_certified"]


def test_rows_are_the_programs_rows(public_good):
    """Each constraint's body, evaluated by Pyomo at a random point, is its row of A times
    the point: the rows sit at the index members their family declares."""
    lp, _ = bounding.build("guarantee", public_good, 3)
    model = model_from_program(lp)
    point = np.random.default_rng(7).uniform(size=lp.n_cols)
    for var, value in zip(model._robustmech.columns, point):
        var.set_value(float(value), skip_validation=True)
    activity = lp.A @ point
    bodies = np.array([pyo.value(row.body) for row in model._robustmech.rows])
    np.testing.assert_allclose(bodies, activity, atol=1e-12)
    assert pyo.value(model.objective) == pytest.approx(float(lp.cost @ point + lp.offset), abs=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
def test_continuous_outcomes_with_free_transfers(solver):
    """The common-value auction (free transfers t[i]): UB-P-3's lineality rows and LB-G-3's
    polyhedral feasibility rows through Pyomo equal the array path."""
    env = rm.validate(rm.load_model(MODELS / "common_value_auction.mech"))
    for program, rows in (("potential", "lineality"), ("guarantee", "feasibility_ub")):
        direct = rm.solve(env, program, 3, symmetry=False, solver="highs")
        model = to_pyomo(env, program, k=3)
        assert hasattr(model, rows)
        solve_model(model, solver)
        result = from_pyomo(model)
        assert result.value == pytest.approx(direct.value, abs=1e-8)
        assert result.dual_value == pytest.approx(result.value, abs=1e-8)


@pytest.mark.parametrize("solver", SOLVERS)
def test_rays_of_the_outcome_space(solver):
    """Bidders who only pay (t[i] >= 0): the outcome space has rays along the transfers,
    and UB-P-3's rows (10) bound the informational virtual objective along each. Through
    Pyomo the value is the array path's."""
    b = rm.ModelBuilder("paying_bidders")
    b.agents(2)
    (v,) = b.states(["v"], [0, 0.5, 1])
    b.prior_uniform()
    q = b.allocation("q")
    t = tuple(b.variable(f"t[{i}]", lower=0, role="transfer") for i in (1, 2))
    for i in range(2):
        b.utility(i, v * q[i] - t[i])
    b.designer(sum(t))
    env = rm.validate(b.build())
    direct = rm.solve(env, "potential", 3, symmetry=False, solver="highs")
    model = to_pyomo(env, "potential", k=3)
    assert set(model.R) == {"t[1]", "t[2]"} and len(model.rays) == 2 * len(model.X)
    assert model.rays["t[1]", 0.0, 0.0].upper == 0.0
    solve_model(model, solver)
    result = from_pyomo(model)
    assert result.value == pytest.approx(direct.value, abs=1e-8)
    assert result.dual_value == pytest.approx(result.value, abs=1e-8)


@pytest.mark.parametrize("program", ["auction-guarantee", "auction-potential", "auction-dual"])
def test_auction_programs_solve_through_pyomo(program):
    """001's restricted programs (41), (3) and (3-D) have declared index sets too; through
    Pyomo they give the array path's value."""
    env = rm.validate(rm.load_model(MODELS / "common_value_auction.mech"))
    direct = rm.solve(env, program, 3, symmetry=False, solver="highs")
    model = to_pyomo(env, program, k=3)
    solve_model(model, "appsi_highs")
    result = from_pyomo(model)
    assert result.value == pytest.approx(direct.value, abs=1e-8)
    assert result.dual_value == pytest.approx(result.value, abs=1e-8)


@pytest.mark.parametrize("solver", SOLVERS)
def test_bce_and_direct_programs_solve_through_pyomo(public_good, solver):
    """The exact evaluations through Pyomo: the worst BCE of LB-G-3's mechanism and the best
    direct mechanism for UB-P-3's structure give the array path's values, and Theorem 1 of
    004's links LB(3) <= G(M_LB), P(I_UB) <= UB(3). The direct program has a family without
    declared index sets (indexed by a RangeSet)."""
    lower = rm.solve(public_good, "guarantee", 3)
    upper = rm.solve(public_good, "potential", 3)
    for program, options in (("bce-worst", {"mechanism": lower.mechanism}),
                             ("direct", {"information": upper.information})):
        direct = rm.solve(public_good, program, symmetry=False, solver="highs", **options)
        model = to_pyomo(public_good, program, **options)
        solve_model(model, solver)
        result = from_pyomo(model)
        assert result.value == pytest.approx(direct.value, abs=1e-8)
        assert result.dual_value == pytest.approx(result.value, abs=1e-8)
        if program == "bce-worst":
            assert list(model.obedience_1.index_set().subsets())[0] is model.D1 and result.value >= LB3 - 1e-7
        else:
            assert model.feasibility_eq.index_set() is model.feasibility_eq_index  # a RangeSet over its rows
            assert list(model.feasibility_eq_index) == list(range(1, len(model.feasibility_eq) + 1))
            assert result.value <= UB3 + README_DIGITS


def test_the_documented_extension(capsys, monkeypatch):
    """docs/pyomo.md's example (run from docs/examples/pyomo_extension.py, the same code
    as on the page): a cap on the probability that agent 1 pays, at every profile. The
    capped guarantee is the array path's program with the cap's rows appended, and at
    most the unrestricted LB(4) of the README; the mechanism read back obeys the cap."""
    page = (ROOT / "docs" / "pyomo.md").read_text()
    example = ROOT / "docs" / "examples" / "pyomo_extension.py"
    code = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    assert code.strip() in example.read_text()
    monkeypatch.chdir(ROOT)
    names = runpy.run_path(str(example))
    capped, model = names["capped"], names["model"]
    assert capped.mechanism.outcome("paid_by[1]").max() <= 0.5 + 1e-9
    assert capped.value <= LB4 + README_DIGITS
    assert capped.value < LB4 - 0.1  # the cap binds
    assert capped.extra["pyomo"]["added_constraints"] == ["cap"] and capped.extra["dual_certified"]
    assert "LB-G-4 with the cap" in capsys.readouterr().out
    # independently: the IR with one row m(paid_by[1] | x) <= 1/2 per profile, solved from the arrays
    lp = model._robustmech.program
    block = lp.variables["m"]
    n_x, d = block.shape
    cap = sp.csr_matrix((np.ones(n_x), (np.arange(n_x), block.start + np.arange(n_x) * d + 1)), shape=(n_x, lp.n_cols))
    arrays = LinearProgram(lp.name, lp.sense, lp.cost, sp.vstack([lp.A, cap], format="csr"),
                           np.concatenate([lp.row_lower, np.full(n_x, -np.inf)]),
                           np.concatenate([lp.row_upper, np.full(n_x, 0.5)]), lp.col_lower, lp.col_upper,
                           lp.variables, lp.families, lp.offset)
    assert capped.value == pytest.approx(solve_lp(arrays, SolverOptions(solver="highs")).objective, abs=1e-8)


def test_a_violated_added_constraint_is_reported_by_name(public_good):
    """Solve LB-G-3, then add a constraint the solution violates and read back without
    re-solving: the check names it, and from_pyomo refuses the value."""
    model = to_pyomo(public_good, "guarantee", k=3)
    solve_model(model, "appsi_highs")
    busy = max(model.X, key=lambda x: model.m[x + ("paid_by[1]",)].value)
    model.no_payment_by_1 = pyo.Constraint(expr=model.m[busy + ("paid_by[1]",)] <= 0.0)
    _, solution, checks = solution_from_model(model)
    assert set(checks["violations"]) == {"no_payment_by_1"}
    assert checks["violations"]["no_payment_by_1"] == pytest.approx(model.m[busy + ("paid_by[1]",)].value)
    assert not checks["dual_certified"]
    with pytest.raises(rm.SolverError, match="no_payment_by_1") as err:
        from_pyomo(model)
    assert err.value.families == ("no_payment_by_1",)


def test_a_changed_objective_and_a_deactivated_family_are_read_back(public_good):
    """Maximise λ in the first state alone, and drop participation security: the value is
    that of the arrays with the same change, certified by the duals of the changed model."""
    lp, _ = bounding.build("guarantee", public_good, 3)
    model = model_from_program(lp)
    theta = public_good.env.states.labels[0]
    model.objective.deactivate()
    model.first_state = pyo.Objective(expr=model.lam[theta], sense=pyo.maximize)
    model.participation.deactivate()
    solve_model(model, "appsi_highs")
    extended, solution, checks = solution_from_model(model)
    assert checks["objective_changed"] and checks["deactivated"] == ["participation"]
    relaxed = lp.without_families({"participation"})
    relaxed.cost = np.zeros(lp.n_cols)
    relaxed.cost[lp.variables["lambda"].start] = 1.0
    assert solution.objective == pytest.approx(solve_lp(relaxed, SolverOptions(solver="highs")).objective, abs=1e-8)
    assert checks["dual_certified"] and solution.dual_objective == pytest.approx(solution.objective, abs=1e-8)


@pytest.mark.parametrize("solver", SOLVERS)
def test_an_added_variable_and_objective(public_good, solver):
    """A max-min design: an added variable w <= λ(θ) in every state, maximised. The
    extended program has w as a column, its duals certify the value, and the value is at
    most LB(3) (min_θ λ(θ) <= Σ_θ μ(θ) λ(θ)) and equals the smallest λ read back."""
    model = to_pyomo(public_good, "guarantee", k=3)
    model.worst = pyo.Var()
    model.below = pyo.Constraint(model.Theta, rule=lambda m, theta: m.worst <= m.lam[theta])
    model.objective.deactivate()
    model.max_min = pyo.Objective(expr=model.worst, sense=pyo.maximize)
    solve_model(model, solver)
    extended, solution, checks = solution_from_model(model)
    assert list(extended.variables)[-1] == "worst" and extended.n_cols == model._robustmech.program.n_cols + 1
    assert checks["added_variables"] == ["worst"] and checks["added_constraints"] == ["below"]
    assert checks["dual_certified"] and solution.dual_objective == pytest.approx(solution.objective, abs=1e-8)
    assert solution.objective <= LB3 + 1e-9
    assert solution.objective == pytest.approx(min(model.lam[t].value for t in model.Theta), abs=1e-9)


def test_pyomo_highs_backend_and_export(public_good, tmp_path):
    """--solver pyomo-highs solves the environ model with appsi_highs and returns its
    duals (the dual value is a number); --export writes it with symbolic labels."""
    through_pyomo = rm.solve(public_good, "guarantee", 3, solver="pyomo-highs")
    assert through_pyomo.value == pytest.approx(LB3, abs=1e-8)
    assert through_pyomo.dual_value == pytest.approx(LB3, abs=1e-8)
    path = tmp_path / "lb.lp"
    bounding.build("guarantee", public_good, 2)[0].export(str(path))
    text = path.read_text()
    assert "strategic(" in text and "participation(" in text and "lam(" in text
    assert "m(0_5_0_0__paid_by(1)_)" in text  # m[0.5, 0.0, "paid_by[1]"]
    mps = tmp_path / "ub.mps"
    bounding.build("potential", public_good, 2)[0].export(str(mps))
    assert "marginal(" in mps.read_text()
    with pytest.raises(rm.ParameterError):
        bounding.build("potential", public_good, 2)[0].export(str(tmp_path / "ub.txt"))


def test_command_line_solves_through_pyomo(tmp_path):
    """robustmech solve --solver pyomo-highs --json: the command line sends solver logs to
    stderr (sys.stdout is sys.stderr there, where appsi's output capture would deadlock);
    stdout carries the JSON alone, with LB(3) = 10/7 and its dual bound."""
    proc = subprocess.run([sys.executable, "-m", "robustmech", "solve", str(MODELS / "public_good.mech"), "--k", "3",
                           "--solver", "pyomo-highs", "--verbose", "--json", "--export", str(tmp_path / "lb.lp")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["value"] == pytest.approx(LB3, abs=1e-8) and out["dual_value"] == pytest.approx(LB3, abs=1e-8)
    assert "HiGHS" in proc.stderr and (tmp_path / "lb.lp").read_text().startswith("\\* Source Pyomo model")


def test_symmetry_option_ties_mirror_variables():
    """``to_pyomo(..., symmetry=True)``, as ``robustmech.solve``'s option: the symmetric
    solutions only, through a ``symmetry`` family on the economic variables. The value is
    LB(4) = 1.485301 (004's (9), the README's table) and the mechanism read back treats
    the agents alike: m(paid_by[1] | x1, x2) = m(paid_by[2] | x2, x1)."""
    env = rm.load_model(MODELS / "public_good.mech")
    model = rm.to_pyomo(env, "guarantee", k=4, symmetry=True)
    assert len(model.symmetry) > 0
    pyo.SolverFactory("appsi_highs").solve(model)
    result = rm.from_pyomo(model)
    assert result.value == pytest.approx(1.485301, abs=5e-7) and result.extra["dual_certified"]
    rule = result.mechanism.rule
    np.testing.assert_allclose(rule[..., 1], np.swapaxes(rule[..., 2], 0, 1), atol=1e-9)
