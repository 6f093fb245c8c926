"""The HiGHS backends: ``highs`` (HiGHS's own choice of method), ``highs-simplex``,
``highs-ipm``, ``highs-pdlp`` and ``highs-ipm-interior`` (the interior point method
without its crossover).

The arrays go to ``highspy`` in one ``passModel`` call (CSC matrix, bounds, costs);
:func:`_run` solves, maps HiGHS's status to ours and recomputes the dual bound from the
row duals. ``robustmech.solve.pyomo_highs`` reuses :func:`_highs` and :func:`_run` on the
model HiGHS reads from Pyomo's MPS file.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import replace

import numpy as np

from ..errors import SolverError
from ..programs.lp import LinearProgram
from .core import Backend, LPSolution, SolverOptions, dual_objective

# backend name -> HiGHS's `solver` option
METHODS = {
    "highs": "choose",
    "highs-simplex": "simplex",
    "highs-ipm": "ipm",
    "highs-pdlp": "pdlp",
    "highs-ipm-interior": "ipm",  # without the crossover (below)
}

# the --help text of each; the three methods share one entry, and `highs` is the
# "HiGHS's own choice" of auto's entry
DESCRIPTIONS = {
    "highs": "",
    "highs-simplex": "that HiGHS method",
    "highs-ipm": "that HiGHS method",
    "highs-pdlp": "that HiGHS method",
    "highs-ipm-interior": "HiGHS's interior point method without its crossover (a point of the optimal face)",
}


# the backends whose interior point method stops without its crossover
WITHOUT_CROSSOVER = frozenset({"highs-ipm-interior"})


class HighsBackend(Backend):
    """HiGHS through ``highspy`` with one of its methods (:data:`METHODS`)."""

    label = "HiGHS"
    install_hint = "pip install highspy"
    recovery = "tolerance"

    def __init__(self, name: str):
        if name not in METHODS:
            raise ValueError(f"no HiGHS method is called '{name}'; one of {', '.join(METHODS)}")
        self.name = name
        self.method = METHODS[name]
        self.description = DESCRIPTIONS[name]
        # PDLP stops at a point of the optimal face, not a vertex (no crossover), and so
        # does the interior point method without its crossover: `auto` purifies them like
        # Clarabel's (robustmech.solve.vertex)
        self.first_order = self.method == "pdlp"
        self.interior = self.first_order or name in WITHOUT_CROSSOVER

    def available(self) -> bool:
        try:
            import highspy  # noqa: F401
        except ImportError:
            return False
        return True

    def solve(self, lp: LinearProgram, options: SolverOptions) -> LPSolution:
        options = options if options.solver == self.name else replace(options, solver=self.name)
        h = _highs(options)
        h.passModel(_highs_lp(lp))
        return _run(h, lp, options)

    def unbounded_ray(self, lp: LinearProgram) -> np.ndarray | None:
        """HiGHS's primal ray, from the simplex method without presolve (presolve proves
        unboundedness without a ray)."""
        h = _highs(SolverOptions(solver="highs-simplex"))
        h.setOptionValue("presolve", "off")
        h.passModel(_highs_lp(lp))
        h.run()
        *_, has, ray = h.getPrimalRay()
        return np.asarray(ray, dtype=float) if has else None


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
    if options.solver in WITHOUT_CROSSOVER:
        h.setOptionValue("run_crossover", "off")
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
        _attach_progress(h, options, start, lp.sense)
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
        raise SolverError(f"{lp.name}: interrupted by the user (Ctrl-C) after {seconds:.1f} s; no solution",
                          "interrupted")
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
        iterations=sum(int(getattr(info, f"{method}_iteration_count", 0) or 0)
                       for method in ("simplex", "ipm", "pdlp")),
    )


def _attach_progress(h, options: SolverOptions, start: float, sense: str = "min") -> None:
    """Forward HiGHS's log, condensed to about one line a second, once the solve has
    taken longer than ``options.progress_after`` seconds; iteration lines are rewritten
    with the program's own objective (:func:`condense`)."""
    progress = options.progress
    if progress is None:
        return
    h.setOptionValue("output_flag", True)
    h.setOptionValue("log_to_console", False)
    last = [0.0]

    def on_log(event) -> None:
        now = time.perf_counter()
        line = str(getattr(event, "message", "")).strip()
        if not line or now - start < options.progress_after or now - last[0] < options.progress_every:
            return
        last[0] = now
        progress(f"[{now - start:6.1f} s] {condense(line, sense)}")

    h.cbLogging.subscribe(on_log)
    h.startCallback(highspy_callback_logging())


_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|inf|nan)"
# the simplex method's iteration line: "7540 -1.5299752117e+00 Pr: 0(0); Du: 0(1e-12) 2.8s"
_SIMPLEX_LINE = re.compile(rf"^(\d+)\s+({_NUMBER})\s+Pr:\s*(\d+)\(([^)]*)\)(?:;?\s*Du:\s*(\d+)\(([^)]*)\))?")
# the interior point method's: "12 -1.52967362e+00 -1.53520831e+00 9.10e-14 3.25e-09 2.19e-03 6.5"
_IPM_LINE = re.compile(rf"^(\d+)\s+({_NUMBER})\s+({_NUMBER})\s+({_NUMBER})\s+({_NUMBER})\s+({_NUMBER})")


def condense(line: str, sense: str = "min") -> str:
    """One HiGHS log line in the program's terms. HiGHS minimises: for a maximisation its
    iteration lines show the objective of the negated program (LB-G-8's guarantee
    1.5299752117 appears as -1.5299752117e+00), so it is negated back here and named.
    Other lines are returned as they are."""
    flip = -1.0 if sense == "max" else 1.0
    match = _SIMPLEX_LINE.match(line)
    if match:
        iteration, objective, n_primal, primal, n_dual, dual = match.groups()
        text = (f"simplex iteration {iteration}, objective {flip * float(objective):.10g}, "
                f"primal infeasibilities {n_primal} (sum {primal})")
        return text + (f", dual infeasibilities {n_dual} (sum {dual})" if n_dual is not None else "")
    match = _IPM_LINE.match(line)
    if match:
        iteration, primal, dual, primal_res, dual_res, mu = match.groups()
        return (f"interior point iteration {iteration}, primal objective {flip * float(primal):.8g}, "
                f"dual objective {flip * float(dual):.8g}, residuals {primal_res} / {dual_res}")
    return line


def highspy_callback_logging():
    import highspy

    return highspy.cb.HighsCallbackType.kCallbackLogging


