"""The solver registry (``robustmech.solve.core``) and every backend in it, on two small
linear programs whose optima and dual certificates are worked out by hand below.

LP-MAX  max 3x + 2y  s.t.  x + y <= 4,  2x + y <= 6,  x, y >= 0.
    Vertices: (0,0) 0, (3,0) 9, (0,4) 8, and (2,2), where both rows bind: 10.
    Dual certificate: y = (1, 1) >= 0 gives 1 + 2 >= 3 and 1 + 1 >= 2 (dual feasible),
    4·1 + 6·1 = 10 = the primal value, so 10 is the optimum. Only the two rows bind at
    (2,2), so the vertex and the duals are unique.

LP-MIN  min 1 + a + 2b + 3c  s.t.  a + b + c = 3,  a - b <= 1/2,  1/2 <= b + c <= 5/2,
        0 <= a, b, c <= 2.
    With c = 3 - a - b the cost is 10 - 2a - b; a - b <= 1/2 and a + b <= 3 (c >= 0)
    meet at a = 7/4, b = 5/4, c = 0, cost 10 - 7/2 - 5/4 = 21/4. Dual certificate in
    HiGHS's sign convention (reduced costs c - Aᵀy): y = (3/2, -1/2, 0) makes the reduced
    costs of a and b zero (1 - 3/2 + 1/2 = 0, 2 - 3/2 - 1/2 = 0) and that of c, which
    sits at its lower bound, 3 - 3/2 = 3/2 >= 0; the ≤ row's dual is <= 0 as it must be
    for a minimisation; the bound 1 + 3·3/2 + (1/2)(-1/2) + 0·(3/2) = 21/4 equals the
    primal value. The equality row, the ranged row (inactive) and the finite column
    bounds exercise every case of the dual bound's sign rule; all column bounds are
    finite, so the recomputed bound is a valid lower bound for any row duals at all.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import scipy.sparse as sp

from robustmech.errors import SolverError
from robustmech.programs.lp import LinearProgram, ProgramBuilder
from robustmech.solve import (
    AUTO_INTERIOR_COLUMNS,
    Backend,
    LPSolution,
    SolverOptions,
    backend,
    dual_objective,
    method_for,
    register,
    solve,
    solver_help,
    solver_names,
    unregister,
)

# the package itself (``robustmech.solve`` as an attribute is the API's solve function)
solve_pkg = importlib.import_module("robustmech.solve")


def lp_max() -> LinearProgram:
    b = ProgramBuilder("lp-max", "max")
    b.add_variables("x", 2, description="x, y")
    b.set_cost("x", [3.0, 2.0])
    b.add_rows("capacity", {"x": sp.csr_matrix([[1.0, 1.0], [2.0, 1.0]])}, upper=[4.0, 6.0])
    return b.build()


def lp_min() -> LinearProgram:
    b = ProgramBuilder("lp-min", "min")
    b.add_variables("v", 3, lower=0.0, upper=2.0, description="a, b, c")
    b.set_cost("v", [1.0, 2.0, 3.0])
    b.offset = 1.0
    b.add_rows("total", {"v": sp.csr_matrix([[1.0, 1.0, 1.0]])}, lower=3.0, upper=3.0)
    b.add_rows("gap", {"v": sp.csr_matrix([[1.0, -1.0, 0.0]])}, upper=0.5)
    b.add_rows("range", {"v": sp.csr_matrix([[0.0, 1.0, 1.0]])}, lower=0.5, upper=2.5)
    return b.build()


# program, optimum, optimal point, row duals (HiGHS's convention), all by hand above
CASES = {
    "lp-max": (lp_max, 10.0, [2.0, 2.0], [1.0, 1.0]),
    "lp-min": (lp_min, 21 / 4, [7 / 4, 5 / 4, 0.0], [3 / 2, -1 / 2, 0.0]),
}

# the backends that solve to the default tolerance (1e-9); PDLP, a first-order method,
# is tested below at the tolerance it is given
EXACT = [name for name in solver_names() if name not in ("auto", "highs-pdlp")]

def budget(optimum: float) -> float:
    """A hundred times the default feasibility tolerance, relative to the optimum: the
    data here are O(1), so a vertex (simplex, IPM with crossover) is exact to rounding
    and Clarabel (stopping at a relative gap of 1e-10) well inside this."""
    return 100 * SolverOptions().tolerance * (1 + abs(optimum))


def cases():
    return [pytest.param(name, case, id=f"{name}-{case}") for name in EXACT for case in CASES]


@pytest.mark.parametrize(("name", "case"), cases())
def test_each_backend_finds_the_optimum(name, case):
    build, optimum, point, _ = CASES[case]
    sol = solve(build(), SolverOptions(solver=name))
    assert sol.optimal and sol.solver == name and not sol.recovery
    assert sol.objective == pytest.approx(optimum, abs=budget(optimum))
    np.testing.assert_allclose(sol.x, point, atol=budget(optimum))


@pytest.mark.parametrize(("name", "case"), cases())
def test_each_backend_certifies_the_optimum_by_its_duals(name, case):
    """The dual objective recomputed from the backend's row duals equals the optimum,
    and the duals are the certificate above (unique: the optima are nondegenerate)."""
    build, optimum, _, duals = CASES[case]
    lp = build()
    sol = solve(lp, SolverOptions(solver=name))
    assert sol.dual_objective == pytest.approx(optimum, abs=budget(optimum))
    np.testing.assert_allclose(sol.row_dual, duals, atol=budget(optimum))
    again = dual_objective(lp, sol.row_dual, sol.col_dual, sol.row_activity, sol.x)
    assert again == pytest.approx(sol.dual_objective, abs=1e-12)


def test_the_hand_certificates_are_certificates():
    """dual_objective itself, on the certificates worked out by hand."""
    for build, optimum, point, duals in CASES.values():
        lp = build()
        x, y = np.array(point), np.array(duals)
        assert dual_objective(lp, y, lp.cost - lp.A.T @ y, lp.A @ x, x) == pytest.approx(optimum, abs=1e-14)
        assert float(lp.cost @ x + lp.offset) == pytest.approx(optimum, abs=1e-14)


def test_highs_pdlp_within_its_tolerance():
    """PDLP (HiGHS's cuPDLP-C) stops once, with ε the tolerances passed (HiGHS hands it
    primal_feasibility_tolerance, dual_feasibility_tolerance and
    pdlp_optimality_tolerance), the relative primal residual ‖Ax - b‖ / (1 + ‖b‖), the
    relative dual residual ‖c - Aᵀy - λ‖ / (1 + ‖c‖) and the relative gap
    |p - d| / (1 + |p| + |d|) are all below ε. Its value then differs from the optimum
    by at most the gap plus what the residuals can move the two objectives: the primal
    residual times the (known, unique) duals, the dual residual times the width of the
    column bounds. Since every column of LP-MIN is bounded, the bound recomputed from the
    row duals alone is a true lower bound whatever the duals are."""
    eps = 1e-6
    lp = lp_min()
    _, optimum, _, duals = CASES["lp-min"]
    bounds = np.concatenate([lp.row_lower, lp.row_upper])
    rhs = np.linalg.norm(bounds[np.isfinite(bounds)])  # at least ‖b‖, however the rows are split
    width = lp.col_upper - lp.col_lower
    allowed = eps * ((1 + 2 * abs(optimum)) + (1 + rhs) * np.linalg.norm(duals)
                     + (1 + np.linalg.norm(lp.cost)) * np.linalg.norm(width))
    options = SolverOptions(solver="highs-pdlp", tolerance=eps,
                            extra={"pdlp_optimality_tolerance": eps, "presolve": "off"})
    sol = solve(lp, options)
    # PDLP's own answer: any extra option turns the IPM retry off, and PDLP ran
    assert sol.optimal and sol.solver == "highs-pdlp" and not sol.recovery and sol.iterations > 0
    assert sol.objective == pytest.approx(optimum, abs=allowed)
    assert sol.dual_objective == pytest.approx(optimum, abs=allowed)
    assert sol.dual_objective <= optimum + 1e-12  # weak duality, up to rounding
    assert backend("highs-pdlp").solve(lp, options).objective == pytest.approx(optimum, abs=allowed)


def test_unknown_solver_names_the_choices():
    with pytest.raises(SolverError, match="unknown solver 'gurobi'") as err:
        solve(lp_max(), SolverOptions(solver="gurobi"))
    assert err.value.status == "error"
    for name in solver_names():
        assert name in str(err.value)
    with pytest.raises(SolverError, match="unknown solver"):
        backend("gurobi")


def test_solvers_and_help_come_from_the_registry():
    assert solve_pkg.SOLVERS == solver_names()
    assert solve_pkg.SOLVERS[0] == "auto"
    assert {"highs", "highs-simplex", "highs-ipm", "highs-pdlp", "clarabel", "pyomo-highs"} <= set(solve_pkg.SOLVERS)
    assert solve_pkg.SOLVER_HELP == solver_help()
    assert solve_pkg.SOLVER_HELP.startswith("auto (default)")
    for name in solve_pkg.SOLVERS[1:]:
        if backend(name).description:
            assert backend(name).description in solve_pkg.SOLVER_HELP


class Toy(Backend):
    """A backend of its own: HiGHS's simplex under another name, counting its calls."""

    name = "toy"
    description = "the toy backend of the registry test"
    label = "Toy"

    def __init__(self, status: str = "optimal"):
        self.calls = 0
        self.status = status

    def solve(self, lp: LinearProgram, options: SolverOptions) -> LPSolution:
        self.calls += 1
        sol = backend("highs-simplex").solve(lp, options)
        sol.solver = self.name
        if self.status != "optimal":
            sol.status, sol.message = self.status, "toy trouble"
        return sol


@pytest.fixture
def registered():
    added: list[str] = []

    def add(b: Backend, **kwargs) -> Backend:
        register(b, **kwargs)
        added.append(b.name)
        return b

    yield add
    for name in added:
        unregister(name)


def test_a_registered_backend_is_selectable_by_name(registered):
    toy = registered(Toy())
    assert "toy" in solver_names() and "toy" in solve_pkg.SOLVERS
    assert "toy: the toy backend of the registry test" in solve_pkg.SOLVER_HELP
    assert backend("toy") is toy
    sol = solve(lp_max(), SolverOptions(solver="toy"))
    assert toy.calls == 1 and sol.solver == "toy"
    assert sol.objective == pytest.approx(10.0, abs=budget(10.0))
    assert sol.dual_objective == pytest.approx(10.0, abs=budget(10.0))
    with pytest.raises(ValueError, match="already registered"):
        register(Toy())


def test_unregistered_backend_is_unknown_again(registered):
    register(Toy())
    unregister("toy")
    assert "toy" not in solve_pkg.SOLVERS
    with pytest.raises(SolverError, match="unknown solver 'toy'"):
        solve(lp_max(), SolverOptions(solver="toy"))


def test_register_refuses_auto_and_nameless():
    class Auto(Toy):
        name = "auto"

    class Nameless(Toy):
        name = ""

    for b in (Auto(), Nameless()):
        with pytest.raises(ValueError, match="name other than 'auto'"):
            register(b)


def test_a_failing_backend_without_recovery_is_reported_by_its_label(registered):
    toy = registered(Toy(status="error"))
    with pytest.raises(SolverError, match="Toy stopped without a solution") as err:
        solve(lp_max(), SolverOptions(solver="toy"))
    assert err.value.status == "error" and toy.calls == 1  # recovery "none": not retried
    sol = solve(lp_max(), SolverOptions(solver="toy"), raise_on_failure=False)
    assert sol.status == "error" and not sol.recovery


def test_an_unavailable_backend_says_how_to_install_it(registered):
    class Missing(Toy):
        name = "missing"
        install_hint = "pip install missing"

        def available(self) -> bool:
            return False

    registered(Missing())
    with pytest.raises(SolverError, match="the missing solver is not installed: pip install missing"):
        solve(lp_max(), SolverOptions(solver="missing"))


def columns(n: int) -> LinearProgram:
    """A program with n columns and no rows (method_for looks at the size only)."""
    return LinearProgram("wide", "min", np.zeros(n), sp.csr_matrix((0, n)), np.zeros(0), np.zeros(0),
                         np.zeros(n), np.ones(n), {}, {})


def test_auto_picks_clarabel_from_the_threshold_and_highs_below():
    assert backend("clarabel").available()
    assert method_for(columns(AUTO_INTERIOR_COLUMNS), "auto") == "clarabel"
    assert method_for(columns(AUTO_INTERIOR_COLUMNS + 1), "auto") == "clarabel"
    assert method_for(columns(AUTO_INTERIOR_COLUMNS - 1), "auto") == "highs"
    assert method_for(lp_max(), "auto") == "highs"
    for name in solver_names()[1:]:
        assert method_for(columns(AUTO_INTERIOR_COLUMNS), name) == name


def test_auto_falls_back_to_highs_without_clarabel():
    real = backend("clarabel")

    class NoClarabel(Toy):
        name = "clarabel"

        def available(self) -> bool:
            return False

    register(NoClarabel(), override=True)
    try:
        assert method_for(columns(AUTO_INTERIOR_COLUMNS), "auto") == "highs"
    finally:
        register(real, override=True)
    assert backend("clarabel") is real


def test_a_clarabel_failure_under_auto_is_solved_again_by_highs(monkeypatch):
    """`auto` on a large program chooses Clarabel; when Clarabel ends with a numerical
    failure (status error), the program is solved again by HiGHS's interior point method
    and the solution says so; an explicit `--solver clarabel` gets no such retry and the
    failure is raised. The threshold is lowered so that a two-column program is large."""
    import dataclasses

    core = importlib.import_module("robustmech.solve.core")
    clarabel = backend("clarabel")
    real = type(clarabel).solve

    def failing(self, lp, options):
        return dataclasses.replace(real(self, lp, options), status="error", message="numerical trouble (injected)")

    monkeypatch.setattr(core, "AUTO_INTERIOR_COLUMNS", 1)
    monkeypatch.setattr(type(clarabel), "solve", failing)
    lp = lp_max()
    assert method_for(lp, "auto") == "clarabel"
    sol = solve(lp, SolverOptions(solver="auto"))
    assert sol.optimal and sol.solver == "highs-ipm"
    assert sol.objective == pytest.approx(10.0, abs=1e-7)  # max 3x + 2y on x + y <= 4, 2x + y <= 6: (2, 2)
    assert sol.recovery.startswith("clarabel failed (numerical trouble (injected))")
    assert "interior point method" in sol.recovery
    with pytest.raises(SolverError) as err:
        solve(lp, SolverOptions(solver="clarabel"))
    assert err.value.status == "error"


def test_a_point_that_violates_its_program_is_refused(monkeypatch):
    """A solver that reports `optimal` with a point outside the program (as a first-order
    method that stops early can) gives no bound: the solve is refused with status
    `uncertified` (exit code 3), naming the violation, instead of reporting its value."""
    import dataclasses

    import robustmech as rm

    from conftest import public_good

    highs = backend("highs")
    real = type(highs).solve

    def off_the_program(self, lp, options):
        sol = real(self, lp, options)
        return dataclasses.replace(sol, x=sol.x + 0.5)  # every variable moved by 1/2

    monkeypatch.setattr(type(highs), "solve", off_the_program)
    with pytest.raises(SolverError, match="violates the program by") as err:
        rm.solve(public_good(2, 3), "guarantee", 2, solver="highs")
    assert err.value.status == "uncertified" and err.value.exit_code == 3


def test_the_interior_point_method_without_crossover_stops_inside_the_optimal_face():
    """max x1 + x2 s.t. x1 + x2 <= 1, 0 <= x <= 1: every point of the segment from (1, 0)
    to (0, 1) is optimal. HiGHS's interior point method with its crossover ends at a
    vertex (one entry 0); without it (``highs-ipm-interior``) at a point inside the face,
    both entries well away from 0, with the same value, and ``auto``'s purification
    (robustmech.solve.vertex) makes it a vertex again."""
    b = ProgramBuilder("face", "max")
    b.add_variables("x", 2, lower=0.0, upper=1.0)
    b.set_cost("x", [1.0, 1.0])
    b.add_rows("budget", {"x": sp.csr_matrix([[1.0, 1.0]])}, upper=1.0)
    lp = b.build()
    whole = {"presolve": "off"}  # presolve alone would solve it, at a vertex
    crossed = solve(lp, SolverOptions(solver="highs-ipm", extra=whole))
    inside = solve(lp, SolverOptions(solver="highs-ipm-interior", extra=whole))
    assert crossed.objective == pytest.approx(1.0, abs=1e-9) and inside.objective == pytest.approx(1.0, abs=1e-7)
    assert min(crossed.x) == pytest.approx(0.0, abs=1e-9)
    assert min(inside.x) > 0.1
    assert backend("highs-ipm-interior").interior and not backend("highs-ipm").interior
    purified = solve(lp, SolverOptions(solver="highs-ipm-interior", vertex=True, extra=whole))
    assert min(purified.x) == pytest.approx(0.0, abs=1e-9) and purified.vertex
