"""Solving a :class:`~robustmech.programs.lp.LinearProgram`: options, solutions, the
recomputed dual bound, the solver registry and its backends.

Import from here, not from a backend module: ``from robustmech.solve import solve,
SolverOptions, LPSolution``.

The registry (:mod:`robustmech.solve.core`) is filled below, one ``register`` line per
backend; a new backend is a module with a :class:`Backend` subclass and one line here.
``SOLVERS`` and ``SOLVER_HELP`` are read from the registry each time they are asked for
(``solver_names()`` and ``solver_help()``).
"""

from . import clarabel, highs, pyomo_highs
from .core import (
    AUTO_INTERIOR_COLUMNS,
    Backend,
    LPSolution,
    SolverOptions,
    backend,
    diagnose,
    dual_objective,
    method_for,
    register,
    solve,
    solver_help,
    solver_names,
    unregister,
)

register(highs.HighsBackend("highs"))
register(highs.HighsBackend("highs-simplex"))
register(highs.HighsBackend("highs-ipm"))
register(highs.HighsBackend("highs-pdlp"))
register(highs.HighsBackend("highs-ipm-interior"))
register(clarabel.ClarabelBackend())
register(pyomo_highs.PyomoHighsBackend())

# not bound here: module __getattr__ below answers them from the registry
SOLVERS: tuple[str, ...]
SOLVER_HELP: str


def __getattr__(name: str) -> object:
    if name == "SOLVERS":
        return solver_names()
    if name == "SOLVER_HELP":
        return solver_help()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AUTO_INTERIOR_COLUMNS",
    "SOLVERS",
    "SOLVER_HELP",
    "Backend",
    "LPSolution",
    "SolverOptions",
    "backend",
    "diagnose",
    "dual_objective",
    "method_for",
    "register",
    "solve",
    "solver_help",
    "solver_names",
    "unregister",
]
