"""The ``pyomo-highs`` backend: HiGHS through Pyomo, on the program's Pyomo model.

The program's ``pyomo.environ`` model (:func:`robustmech.pyomo.model_from_program`,
indexed sets, variables and constraints named as in the papers) is solved with Pyomo's
persistent HiGHS interface (``appsi``, the solver behind ``SolverFactory("appsi_highs")``)
and read back by :func:`robustmech.pyomo.solution_from_model`: values and row duals in
the program's order, so the dual value is the weak-duality bound of the duals HiGHS
returned through Pyomo. Tests check that this route and the arrays give the same
optimum. :func:`solve` is the whole route: replacing this module replaces it.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Iterator

import numpy as np

from ..programs.lp import LinearProgram
from .core import Backend, LPSolution, SolverOptions


class PyomoHighsBackend(Backend):
    name = "pyomo-highs"
    description = "HiGHS on the Pyomo model"
    label = "HiGHS"
    install_hint = "pip install pyomo highspy"

    def available(self) -> bool:
        try:
            from pyomo.contrib.appsi.solvers import Highs
        except ImportError:
            return False
        return bool(Highs().available())

    def solve(self, lp: LinearProgram, options: SolverOptions) -> LPSolution:
        return solve(lp, options)


@contextlib.contextmanager
def _stdout_apart_from_stderr(verbose: bool) -> Iterator[None]:
    """appsi captures the solver's output with Pyomo's ``capture_output(capture_fd=True)``,
    which deadlocks joining its reader threads when ``sys.stdout`` is ``sys.stderr`` (as
    in the command line, which sends solver logs to stderr). Without ``verbose`` nothing
    of that output is wanted; with it, it goes to a stream of its own on file descriptor 1."""
    if not verbose:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
        return
    if sys.stdout is not sys.stderr:
        yield
        return
    stream = io.TextIOWrapper(os.fdopen(os.dup(1), "wb", buffering=0), write_through=True)
    try:
        with contextlib.redirect_stdout(stream):
            yield
    finally:
        stream.close()


def _status(condition) -> str:
    """An appsi termination condition in robustmech's status words."""
    from pyomo.contrib.appsi.base import TerminationCondition as TC

    return {TC.optimal: "optimal", TC.infeasible: "infeasible", TC.unbounded: "unbounded",
            TC.infeasibleOrUnbounded: "infeasible_or_unbounded", TC.maxTimeLimit: "time_limit",
            TC.maxIterations: "iteration_limit", TC.interrupted: "interrupted"}.get(condition, "error")


def solve(lp: LinearProgram, options: SolverOptions) -> LPSolution:
    """Build the Pyomo model of ``lp``, solve it with appsi's HiGHS at the tolerance and
    time limit of ``options``, and read values and duals back in program order."""
    from pyomo.contrib.appsi.solvers import Highs

    from ..errors import SolverError
    from ..pyomo import model_from_program, solution_from_model

    model = model_from_program(lp)
    opt = Highs()
    opt.config.load_solution = False  # a non-optimal end is a status, not an exception
    opt.config.stream_solver = bool(options.verbose)
    if options.time_limit:
        opt.config.time_limit = float(options.time_limit)
    opt.highs_options = {"primal_feasibility_tolerance": options.tolerance,
                         "dual_feasibility_tolerance": options.tolerance, **dict(options.extra)}
    start = time.perf_counter()
    with _stdout_apart_from_stderr(options.verbose):
        results = opt.solve(model)
    seconds = time.perf_counter() - start
    status = _status(results.termination_condition)
    if status == "interrupted":
        raise SolverError(f"{lp.name}: interrupted by the user (Ctrl-C) after {seconds:.1f} s; no solution",
                          "interrupted")
    if status != "optimal":
        empty = np.zeros(0)
        return LPSolution(status=status, objective=float("nan"), dual_objective=float("nan"), x=empty,
                          row_dual=empty, col_dual=empty, row_activity=empty, solve_seconds=seconds,
                          solver="pyomo-highs", message=str(results.termination_condition))
    results.solution_loader.load_vars()
    model.dual.update(results.solution_loader.get_duals())
    model._robustmech_solve = {"solver": "pyomo-highs", "seconds": seconds}
    _, solution, _ = solution_from_model(model)
    solution.status = "optimal"
    solution.message = str(results.termination_condition)
    return solution
