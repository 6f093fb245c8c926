"""Solving a :class:`~robustmech.programs.lp.LinearProgram`: options, solutions, the
recomputed dual bound, the solver registry and its backends.

Import from here, not from a backend module: ``from robustmech.solve import solve,
SolverOptions, LPSolution``.
"""

from .highs import (
    AUTO_INTERIOR_COLUMNS,
    SOLVER_HELP,
    SOLVERS,
    LPSolution,
    SolverOptions,
    diagnose,
    dual_objective,
    method_for,
    solve,
)

__all__ = ["AUTO_INTERIOR_COLUMNS", "SOLVER_HELP", "SOLVERS", "LPSolution", "SolverOptions", "diagnose",
           "dual_objective", "method_for", "solve"]
