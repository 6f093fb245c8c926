"""How the refinement algorithms call a solver: optimal or an error, and levels held exactly.

Solving is the caller's: every algorithm takes ``solver``, a callable
``LinearProgram -> solution`` (``robustmech.solve.solve`` with options), so this package
never imports the solve layer.

Tolerances. A level fixed with a slack τ lets later stages overshoot through chains of
IC constraints (the public good's recursion multiplies errors by k(θ_h-θ_ℓ)/S_k at each
step). Levels are therefore fixed with τ = 0 (only the solver's feasibility tolerance
remains); only when the solver then reports infeasibility is τ raised (1e-10, 1e-9, ...
times the level's scale), and every τ used is recorded by the caller.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...errors import SolverError
from ...lower.prior_free import PriorFreeArrays
from ..lp import LinearProgram

Solver = Callable[[LinearProgram], Any]
RELAXATIONS = (0.0, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6)


def solve_optimal(solver: Solver, lp: LinearProgram):
    """The solver's solution, or a :class:`~robustmech.errors.SolverError` unless optimal."""
    sol = solver(lp)
    if getattr(sol, "status", "optimal") != "optimal":
        raise SolverError(f"{lp.name}: {sol.status}", sol.status)
    return sol


def solve_relaxing(solver: Solver, build: Callable[..., LinearProgram]) -> tuple[LinearProgram, Any, float]:
    """Solve with levels held exactly (τ = 0); on infeasibility raise τ through
    ``RELAXATIONS`` (relative to each level's scale). Returns (lp, solution, τ)."""
    last: SolverError | None = None
    for tau in RELAXATIONS:
        lp = build(tau)
        try:
            return lp, solve_optimal(solver, lp), tau
        except SolverError as exc:
            if exc.status not in ("infeasible", "infeasible_or_unbounded"):
                raise
            last = exc
    assert last is not None  # RELAXATIONS is not empty
    raise last


def scale(values) -> float:
    """max(1, max |values|): the size that relative tolerances multiply."""
    values = np.asarray(values, dtype=float)
    return max(1.0, float(np.max(np.abs(values))) if values.size else 1.0)


def mechanism(a: PriorFreeArrays, lp: LinearProgram, x: np.ndarray) -> np.ndarray:
    """The block z of a solution, as (n_cells, dim)."""
    return lp.block(x, "z").reshape(a.n_cells, a.dim)


def belief_from_duals(y: np.ndarray, cells: np.ndarray, n: int, sign: float = 1.0) -> np.ndarray:
    """Row duals of rows indexed by ``cells`` as a belief (mass per cell) over n cells:
    the positive part of ``sign * y``, normalized."""
    y = sign * np.asarray(y, dtype=float)
    y = np.where(y > 0, y, 0.0)
    mass = np.zeros(n)
    mass[cells] = y
    total = mass.sum()
    if total <= 0:
        raise SolverError("the solver returned no usable duals for a belief", "error")
    return mass / total
