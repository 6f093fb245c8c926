"""Solving a program's Pyomo model with a Pyomo solver, remembering what the read-back needs."""

from __future__ import annotations

import time
from typing import Any

from ..errors import SolverError

DEFAULT_SOLVER = "appsi_highs"


def solve_model(model, solver: str = DEFAULT_SOLVER, time_limit: float | None = None, tee: bool = False,
                options: dict | None = None):
    """Solve ``model`` with ``pyomo.environ.SolverFactory(solver)`` (``appsi_highs``,
    ``glpk``, ``cbc``, ``gurobi``, ...) and return Pyomo's results. Duals come back in
    ``model.dual``. The results, the solver's name and the wall time are kept on the
    model for :func:`robustmech.pyomo.solution_from_model`. Raises
    :class:`~robustmech.errors.SolverError` when the solver is missing or stops without
    an optimum."""
    import pyomo.environ as pyo

    from .readback import _status

    opt = pyo.SolverFactory(solver)
    if opt is None or not opt.available(exception_flag=False):
        raise SolverError(f"the Pyomo solver '{solver}' is not available on this machine", "error")
    kwargs: dict[str, Any] = {"tee": tee}
    if time_limit:
        kwargs["timelimit"] = float(time_limit)
    if options:
        kwargs["options"] = dict(options)
    start = time.perf_counter()
    try:
        results = opt.solve(model, **kwargs)
    except (RuntimeError, ValueError) as exc:  # appsi refuses to load a non-optimal solution
        raise SolverError(f"{model.name}: {solver} stopped without a solution to load ({exc})", "error") from exc
    model._robustmech_results = results
    model._robustmech_solve = {"solver": solver, "seconds": time.perf_counter() - start}
    status = _status(results)
    if status != "optimal":
        raise SolverError(f"{model.name}: {solver} stopped without an optimum "
                          f"(termination condition: {results.solver.termination_condition})", status)
    return results
