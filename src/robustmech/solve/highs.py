"""Solving a :class:`~robustmech.programs.lp.LinearProgram`: HiGHS, or Clarabel.

The fast path hands the arrays to ``highspy`` in one ``passModel`` call (CSC matrix,
bounds, costs). The ``pyomo`` route writes the Pyomo model of the same program to MPS
through Pyomo's writer and has HiGHS read that, so tests can check that the two give
the same optimum. ``clarabel`` (an interior point method with a sparse direct
factorization, :mod:`robustmech.solve.clarabel`) solves the large grid programs many
times faster; the default ``auto`` uses it from ``AUTO_INTERIOR_COLUMNS`` columns up.
Every solution carries its status, the primal objective, the dual objective computed
from the duals (a certificate that the optimum is one), and timings.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import SolverError
from ..programs.lp import LinearProgram

METHODS = {
    "highs": "choose",
    "highs-simplex": "simplex",
    "highs-ipm": "ipm",
    "highs-pdlp": "pdlp",
}
SOLVERS = ("auto",) + tuple(METHODS) + ("clarabel", "pyomo-highs")
SOLVER_HELP = ("auto (default): Clarabel for programs with at least 10,000 columns, HiGHS's own choice below; "
               "highs-simplex|highs-ipm|highs-pdlp: that HiGHS method; clarabel: the Clarabel interior point "
               "method; pyomo-highs: HiGHS on the Pyomo model")
# From this many columns the default solver is Clarabel: on the public good's symmetric
# LB-G-10 (15,353 columns) Clarabel took 0.7 s against HiGHS's 8.7 s (simplex) and 10 s
# (IPM); below a few thousand columns HiGHS's simplex is as fast and returns a vertex.
AUTO_INTERIOR_COLUMNS = 10_000


def method_for(lp: LinearProgram, solver: str) -> str:
    """The solver ``auto`` stands for on this program (any other name is itself)."""
    if solver != "auto":
        return solver
    from . import clarabel

    return "clarabel" if lp.n_cols >= AUTO_INTERIOR_COLUMNS and clarabel.available() else "highs"


@dataclass
class SolverOptions:
    solver: str = "auto"
    time_limit: float | None = None
    tolerance: float = 1e-9  # primal/dual feasibility tolerance handed to HiGHS
    verbose: bool = False
    threads: int | None = None
    extra: dict = field(default_factory=dict)
    # called with condensed solver log lines once a solve has run for `progress_after` s
    progress: object = None
    progress_after: float = 2.0


@dataclass
class LPSolution:
    status: str  # "optimal" | "infeasible" | "unbounded" | "time_limit" | "error"
    objective: float
    dual_objective: float
    x: np.ndarray
    row_dual: np.ndarray
    col_dual: np.ndarray
    row_activity: np.ndarray
    solve_seconds: float
    solver: str
    message: str = ""
    iterations: int = 0
    recovery: str = ""  # set when a numerical failure was recovered from (see _recover)

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"

    @property
    def duality_gap(self) -> float:
        return abs(self.objective - self.dual_objective)


def solve(lp: LinearProgram, options: SolverOptions | None = None, *, raise_on_failure: bool = True) -> LPSolution:
    """Solve ``lp``; on failure raise :class:`SolverError` naming the families to blame."""
    options = options or SolverOptions()
    if options.solver not in SOLVERS:
        raise SolverError(f"unknown solver '{options.solver}'; choose one of {', '.join(SOLVERS)}", "error")
    method = method_for(lp, options.solver)
    if method == "pyomo-highs":
        solution = _solve_through_pyomo(lp, options)
    elif method == "clarabel":
        from . import clarabel

        if not clarabel.available():
            raise SolverError("the clarabel solver is not installed: pip install clarabel", "error")
        solution = clarabel.solve(lp, options)
        if solution.status == "error" and options.solver == "auto":
            solution = _recover(lp, options, solution)
    else:
        options = options if method == options.solver else replace(options, solver=method)
        h = _highs(options)
        h.passModel(_highs_lp(lp))
        solution = _run(h, lp, options)
        if solution.status == "error" and options.tolerance < RECOVERY_TOLERANCE and not options.extra:
            solution = _recover(lp, options, solution)
    if raise_on_failure and not solution.optimal:
        raise diagnose(lp, solution, options)
    return solution


# HiGHS's own default feasibility tolerances. Some programs (the direct-mechanism LP of
# an information structure with probabilities near 1e-10, whose free transfers must be
# huge to exploit them) make both simplex and the interior point method fail with a
# numerical error at our tighter default of 1e-9 but solve at this one
# (two_goods_common_values, UB-P-6 structure: IPM 2 s, simplex 24 s).
RECOVERY_TOLERANCE = 1e-7


def _recover(lp: LinearProgram, options: SolverOptions, failed: LPSolution) -> LPSolution:
    """After a numerical failure at a tight tolerance, solve again with the interior point
    method (with crossover) at HiGHS's default tolerance; ``LPSolution.recovery`` says so.
    Callers check the point they get against the rows (``api.certify_solution``)."""
    remaining = None
    if options.time_limit:
        remaining = options.time_limit - failed.solve_seconds
        if remaining <= 1.0:
            return failed
    retry = SolverOptions(solver="highs-ipm", time_limit=remaining, tolerance=RECOVERY_TOLERANCE,
                          verbose=options.verbose, threads=options.threads, progress=options.progress,
                          progress_after=options.progress_after)
    h = _highs(retry)
    h.passModel(_highs_lp(lp))
    solution = _run(h, lp, retry)
    solution.solve_seconds += failed.solve_seconds
    if solution.optimal:
        where = "" if failed.solver == "clarabel" else f" at tolerance {options.tolerance:g}"
        solution.recovery = (f"{failed.solver} failed ({failed.message}){where}; "
                             f"solved by HiGHS's interior point method at tolerance {RECOVERY_TOLERANCE:g}")
        return solution
    return failed


_BANNER_SHOWN = False


def new_highs():
    """A ``highspy.Highs`` object. HiGHS prints a banner on stdout when the first one is
    made; that would corrupt ``--json`` output, so the first is made with fd 1 muted."""
    global _BANNER_SHOWN
    import highspy

    if _BANNER_SHOWN:
        return highspy.Highs()
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    _BANNER_SHOWN = True
    return h


class _stdout_muted:
    """Point file descriptor 1 at /dev/null for the duration (C code prints there)."""

    def __enter__(self):
        sys.stdout.flush()
        self.saved, self.devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        os.dup2(self.devnull, 1)

    def __exit__(self, *exc):
        os.dup2(self.saved, 1)
        os.close(self.saved)
        os.close(self.devnull)
        return False


def _highs(options: SolverOptions):
    h = new_highs()
    h.setOptionValue("output_flag", bool(options.verbose))
    if options.verbose:
        h.setOptionValue("log_to_console", True)
    method = METHODS.get(options.solver, "choose")
    h.setOptionValue("solver", method)
    if options.time_limit:
        h.setOptionValue("time_limit", float(options.time_limit))
    if options.threads:
        h.setOptionValue("threads", int(options.threads))
    h.setOptionValue("primal_feasibility_tolerance", options.tolerance)
    h.setOptionValue("dual_feasibility_tolerance", options.tolerance)
    for key, value in options.extra.items():
        h.setOptionValue(key, value)
    return h


def _highs_lp(lp: LinearProgram):
    import highspy

    model = highspy.HighsLp()
    model.num_col_ = lp.n_cols
    model.num_row_ = lp.n_rows
    model.col_cost_ = np.asarray(lp.cost, dtype=float)
    model.col_lower_ = _inf(lp.col_lower)
    model.col_upper_ = _inf(lp.col_upper)
    model.row_lower_ = _inf(lp.row_lower)
    model.row_upper_ = _inf(lp.row_upper)
    model.offset_ = float(lp.offset)
    model.sense_ = highspy.ObjSense.kMinimize if lp.sense == "min" else highspy.ObjSense.kMaximize
    csc = lp.A.tocsc()
    csc.sort_indices()
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = csc.indptr.astype(np.int32)
    model.a_matrix_.index_ = csc.indices.astype(np.int32)
    model.a_matrix_.value_ = csc.data.astype(float)
    model.a_matrix_.num_col_ = lp.n_cols
    model.a_matrix_.num_row_ = lp.n_rows
    return model


def _inf(a: np.ndarray) -> np.ndarray:
    import highspy

    out = np.asarray(a, dtype=float).copy()
    out[out == np.inf] = highspy.kHighsInf
    out[out == -np.inf] = -highspy.kHighsInf
    return out


def _run(h, lp: LinearProgram, options: SolverOptions, column_order: np.ndarray | None = None,
         row_order: np.ndarray | None = None, rows_match: bool = True) -> LPSolution:
    import highspy

    start = time.perf_counter()
    if options.progress is not None and not options.verbose:
        _attach_progress(h, options, start)
    h.HandleKeyboardInterrupt = True  # Ctrl-C cancels the solve instead of killing Python mid-call
    if options.verbose:
        h.solve()
    else:
        with _stdout_muted():  # some HiGHS methods (PDLP) print to stdout even with output off
            h.solve()
    seconds = time.perf_counter() - start
    status = h.getModelStatus()
    MS = highspy.HighsModelStatus
    if status == MS.kInterrupt:
        raise SolverError(f"{lp.name}: interrupted by the user (Ctrl-C) after {seconds:.1f} s; no solution", "interrupted")
    name = {
        MS.kOptimal: "optimal",
        MS.kInfeasible: "infeasible",
        MS.kUnbounded: "unbounded",
        MS.kUnboundedOrInfeasible: "infeasible_or_unbounded",
        MS.kTimeLimit: "time_limit",
        MS.kIterationLimit: "iteration_limit",
    }.get(status, "error")
    info = h.getInfo()
    sol = h.getSolution()
    x = np.asarray(sol.col_value, dtype=float)
    y = np.asarray(sol.row_dual, dtype=float)
    z = np.asarray(sol.col_dual, dtype=float)
    act = np.asarray(sol.row_value, dtype=float)
    if column_order is not None and len(x):
        x, z = x[column_order], z[column_order]
    if row_order is not None and len(y):
        y, act = y[row_order], act[row_order]
    objective = float(info.objective_function_value) if name == "optimal" else float("nan")
    # the duals certify the optimum only when the solved rows are the program's rows
    dual = dual_objective(lp, y, z, act, x) if name == "optimal" and rows_match else float("nan")
    return LPSolution(
        status=name,
        objective=objective,
        dual_objective=dual,
        x=x,
        row_dual=y,
        col_dual=z,
        row_activity=act,
        solve_seconds=seconds,
        solver=options.solver,
        message=h.modelStatusToString(status),
        iterations=int(getattr(info, "simplex_iteration_count", 0) or 0) + int(getattr(info, "ipm_iteration_count", 0) or 0),
    )


def _attach_progress(h, options: SolverOptions, start: float) -> None:
    """Forward HiGHS's log, condensed to about one line a second, once the solve has
    taken longer than ``options.progress_after`` seconds."""
    h.setOptionValue("output_flag", True)
    h.setOptionValue("log_to_console", False)
    last = [0.0]

    def on_log(event) -> None:
        now = time.perf_counter()
        line = str(getattr(event, "message", "")).strip()
        if not line or now - start < options.progress_after or now - last[0] < 1.0:
            return
        last[0] = now
        options.progress(f"[{now - start:6.1f} s] {line}")

    h.cbLogging.subscribe(on_log)
    h.startCallback(highspy_callback_logging())


def highspy_callback_logging():
    import highspy

    return highspy.cb.HighsCallbackType.kCallbackLogging


def dual_objective(lp: LinearProgram, y: np.ndarray, z: np.ndarray, activity: np.ndarray, x: np.ndarray,
                   tol: float = 1e-9) -> float:
    """A weak-duality bound on the optimum from the row duals y alone.

    The column duals are recomputed as z = c - Aᵀy (the solver's reported reduced costs
    are not trusted). Each dual multiplies the bound its sign selects (for a
    minimisation, a positive dual the lower bound, a negative one the upper bound; the
    reverse for a maximisation). Where that bound is finite it is used whatever the
    dual's size, so the value is a bound up to rounding. Where it is infinite, a dual
    below ``tol`` (relative to the largest) is taken as zero, and a larger one makes the
    duals infeasible: the function returns -inf for a minimisation (+inf for a
    maximisation), no certificate. So |primal - dual| certifies optimality independently
    of the solver's claim.
    """
    sign = 1.0 if lp.sense == "min" else -1.0
    z = lp.cost - lp.A.T @ y
    total = lp.offset
    for dual, lower, upper in ((y, lp.row_lower, lp.row_upper), (z, lp.col_lower, lp.col_upper)):
        if not len(dual):
            continue
        scale = np.maximum(1.0, np.abs(dual).max(initial=0.0))
        use_lower = sign * dual > 0
        bound = np.where(use_lower, lower, upper)
        infinite = ~np.isfinite(bound)
        if np.any(infinite & (np.abs(dual) > tol * scale)):
            return -sign * np.inf
        total += float(np.dot(dual[~infinite], bound[~infinite]))
    return float(total)


def diagnose(lp: LinearProgram, solution: LPSolution, options: SolverOptions) -> SolverError:
    """A SolverError that says which constraint family (or variable block) is to blame."""
    status = solution.status
    if status in ("time_limit", "iteration_limit"):
        return SolverError(f"{lp.name}: the solver stopped at its {status.replace('_', ' ')} without an optimum "
                           f"after {solution.solve_seconds:.1f} s", "time_limit")
    if status in ("infeasible", "infeasible_or_unbounded"):
        blamed = []
        for fam in lp.families:
            relaxed = lp.without_families({fam})
            h = _highs(SolverOptions(solver="highs", tolerance=options.tolerance))
            h.setOptionValue("time_limit", 30.0)
            h.passModel(_highs_lp(relaxed))
            h.run()
            import highspy

            if h.getModelStatus() in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kUnbounded):
                blamed.append(fam)
        if blamed:
            where = ", ".join(f"'{b}' ({lp.families[b].description})" if lp.families[b].description else f"'{b}'" for b in blamed)
            msg = f"{lp.name} is infeasible; dropping the constraint family {where} alone makes it feasible"
        else:
            msg = f"{lp.name} is infeasible, and no single constraint family is to blame alone (variable bounds conflict)"
        return SolverError(msg, "infeasible", tuple(blamed))
    if status == "unbounded":
        blocks = []
        try:
            import highspy

            h = _highs(SolverOptions(solver="highs-simplex"))
            h.setOptionValue("presolve", "off")  # presolve proves unboundedness without a ray
            h.passModel(_highs_lp(lp))
            h.run()
            *_, has, ray = h.getPrimalRay()
            if has:
                ray = np.asarray(ray)
                blocks = sorted({lp.block_of_column(j) for j in np.flatnonzero(np.abs(ray) > 1e-9)})
        except Exception:  # pragma: no cover - diagnosis is best effort
            pass
        tail = f"; the objective improves without limit along variables {', '.join(blocks)}" if blocks else ""
        return SolverError(f"{lp.name} is unbounded{tail}", "unbounded", tuple(blocks))
    other = "highs-ipm" if options.solver in ("auto", "highs", "highs-simplex") else "highs-simplex"
    who = "Clarabel" if solution.solver == "clarabel" else "HiGHS"
    return SolverError(f"{lp.name}: {who} stopped without a solution (status: {solution.message}), usually numerical "
                       f"trouble on a large program; try --solver {other}", "error")


def _solve_through_pyomo(lp: LinearProgram, options: SolverOptions) -> LPSolution:
    """Write the Pyomo model to MPS with Pyomo, read it into HiGHS, solve, and map the
    columns back by their Pyomo names."""
    import highspy

    block = lp.to_pyomo()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.mps")
        symbol_map = block.write(path, format="mps")
        h = _highs(SolverOptions(solver="highs", tolerance=options.tolerance, time_limit=options.time_limit, verbose=options.verbose))
        h.readModel(path)
    # map HiGHS's column order to ours through the writer's symbol map
    names = list(h.getLp().col_names_)
    by_name = {symbol_map.getSymbol(v): j for j, v in enumerate(block.columns)}
    order_highs = np.array([by_name.get(n, -1) for n in names])
    if (order_highs < 0).any() or len(order_highs) != lp.n_cols:
        # Pyomo drops columns that appear nowhere; solve the arrays instead of guessing
        raise SolverError("pyomo-highs: the written model does not map back onto the program's columns", "error")
    column_order = np.argsort(order_highs)
    row_names = list(h.getLp().row_names_)
    rows_by_name = {}
    for r, con in enumerate(block.row_list):
        rows_by_name[symbol_map.getSymbol(con)] = r
    row_order = None
    if len(row_names) == lp.n_rows and all(n in rows_by_name for n in row_names):
        row_order = np.argsort(np.array([rows_by_name[n] for n in row_names]))
    sol = _run(h, lp, options, column_order=column_order, row_order=row_order, rows_match=row_order is not None)
    sol.solver = "pyomo-highs"
    return sol
