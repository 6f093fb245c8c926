"""The one way through: parse -> elaborate -> lower -> build -> solve -> read back.

These functions are the Python API that the command line is a thin layer over::

    import robustmech as rm
    env = rm.load_model("models/public_good.mech", params={"N": 2, "vbar": 3})
    result = rm.solve(env, "guarantee", k=6)       # LB-G-6, eq. (9) of 004
    bounds = rm.bounds(env, k=6)                    # LB(6) and UB(6)
"""

from __future__ import annotations

import os
import time

import numpy as np
from typing import Any, Mapping

from .errors import ModelError, SolverError
from .lower.arrays import LoweredEnvironment, lower_environment
from .model.environment import Environment
from .lower.symmetry import find_symmetries
from .lower.quasilinear import is_quasilinear
from .lower.quasilinear import recognise as recognise_quasilinear
from .programs import auction, bounding
from .programs.symmetry import max_violation, reduce_program
from .results.bounds import Bounds, ProgramResult
from .solve import SolverOptions
from .solve import solve as solve_lp


def parse_model(text: str, filename: str = "<model>"):
    """The syntax tree of a model file's text (errors name file:line:col)."""
    from .dsl.parser import parse

    return parse(text, filename)


def load_model(path: str | os.PathLike, params: Mapping[str, Any] | None = None) -> Environment:
    """Read, parse and elaborate a ``.mech`` file, with parameter overrides, and run
    every check that can be made before a solve."""
    from .model.elaborate import elaborate

    from .dsl.parser import read_model

    path, text = read_model(path)
    env = elaborate(parse_model(text, path), params or {}, source=text)
    validate(env)
    return env


def validate(env: Environment) -> LoweredEnvironment:
    """Lower ``env`` to arrays and run the numeric checks (a participation-secure
    mechanism can exist); returns the arrays."""
    return lower_environment(env, check=True)


def solve(
    env: Environment | LoweredEnvironment,
    program: str = "guarantee",
    k: int = 4,
    solver: str = "auto",
    time_limit: float | None = None,
    verbose: bool = False,
    export: str | None = None,
    symmetry: bool = True,
    progress=None,
    options: Mapping[str, Any] | None = None,
) -> ProgramResult:
    """Build and solve one bounding program of 004: ``guarantee`` (LB-G-k, (9)),
    ``potential`` (UB-P-k, (10)) or ``dual`` (the relaxed dual (12)).

    With ``symmetry`` (the default), symmetries of the environment are detected
    (:func:`robustmech.lower.symmetry.find_symmetries`) and the program is solved over
    symmetric solutions only, which is exact for these convex programs; the expanded
    solution is checked against every row of the full program.

    Raises :class:`~robustmech.errors.SolverError` (with the families to blame)
    unless the solve is optimal.
    """
    low = env if isinstance(env, LoweredEnvironment) else validate(env)
    if not isinstance(k, int) or k < 1:
        raise ModelError(f"k must be a positive integer, got {k!r}")
    if program in auction.PROGRAMS:  # quasilinear auctions: 001 (3), (4), (41), (3-D); options: correlation, penalty
        return _solve_auction(low, program, k, SolverOptions(solver=solver, time_limit=time_limit, verbose=verbose),
                              export, dict(options or {}))
    lp, inverse = bounding.build(program, low, k)
    if export:
        lp.export(export)
    options = SolverOptions(solver=solver, time_limit=time_limit, verbose=verbose, progress=progress)
    extra = {}
    symmetries = find_symmetries(low) if symmetry else []
    if symmetries:
        start = time.perf_counter()
        reduced, P = reduce_program(lp, bounding.column_permutations(lp, inverse, symmetries))
        reduce_seconds = time.perf_counter() - start
        sol = solve_lp(reduced, options)
        x = P @ sol.x
        violation = max_violation(lp, x)
        if violation > 1e-6:
            raise SolverError(f"{lp.name}: the symmetric solution violates the full program by {violation:.2e}; "
                              "rerun with symmetry off", "error")
        extra["symmetry"] = {"group_order": len(symmetries) + 1, "columns": reduced.n_cols, "rows": reduced.n_rows,
                             "full_columns": lp.n_cols, "max_violation": violation}
        build_seconds = lp.build_seconds + reduce_seconds
    else:
        sol = solve_lp(lp, options)
        x = sol.x
        build_seconds = lp.build_seconds
    extra.update(certify_solution(lp, x, sol))
    if sol.solver == "clarabel":
        # an interior point of the optimal face, not a vertex: entries a vertex would leave
        # at zero are ~1e-10 here (a mechanism's or structure's support is blurred)
        extra["interior_solution"] = True
    objects = bounding.read(lp, x, inverse)
    multipliers = {name: objects[name] for name in ("lambda", "gamma") if name in objects}
    return ProgramResult(
        program=program,
        k=k,
        value=float(sol.objective),
        status=sol.status,
        dual_value=float(sol.dual_objective),
        build_seconds=build_seconds,
        solve_seconds=sol.solve_seconds,
        solver=sol.solver,
        model=low.env.name,
        params=dict(low.env.params),
        n_variables=lp.n_cols,
        n_constraints=lp.n_rows,
        mechanism=objects.get("mechanism"),
        information=objects.get("information"),
        multipliers=multipliers,
        state_labels=low.env.states.labels,
        extra=extra,
    )


def bounds(env: Environment | LoweredEnvironment, k: int, solver: str = "auto", time_limit: float | None = None,
           verbose: bool = False, symmetry: bool = True, progress=None, family: str = "auto",
           options: Mapping[str, Any] | None = None) -> Bounds:
    """LB(k) and UB(k): Theorem 1 of 004 says LB(k) <= max guarantee <= min potential <= UB(k).

    ``family``: ``"general"`` (LB-G-k and UB-P-k of 004), ``"auction"`` (the restricted
    programs (41) and (3) of 001, transfers solved out, for quasilinear environments), or
    ``"auto"`` (the auction programs when the environment is recognised as quasilinear)."""
    low = env if isinstance(env, LoweredEnvironment) else validate(env)
    if family not in ("auto", "general", "auction"):
        raise ModelError(f"family must be auto, general or auction, got {family!r}")
    if family == "auction" or (family == "auto" and is_quasilinear(low)):
        lower = solve(low, auction.LOWER, k, solver=solver, time_limit=time_limit, verbose=verbose, options=options)
        upper = solve(low, auction.UPPER, k, solver=solver, time_limit=time_limit, verbose=verbose, options=options)
        return Bounds(lower, upper)
    options = dict(solver=solver, time_limit=time_limit, verbose=verbose, symmetry=symmetry, progress=progress)
    lower = solve(low, "guarantee", k, **options)
    upper = solve(low, "potential", k, **options)
    return Bounds(lower, upper)


CERTIFICATE_TOLERANCE = 1e-6


def certify_solution(lp, x, sol) -> dict:
    """Refuse to report a value that is not a bound, and say whether it is certified optimal.

    A point that satisfies every row and column bound (to ``CERTIFICATE_TOLERANCE``,
    relative to the value's size) gives a valid bound in the program's direction: a
    feasible LB-G-k mechanism's value is at most the max guarantee, a feasible UB-P-k
    structure's at least the min potential. A point that violates them does not, and
    is refused (first-order methods such as PDLP that stop early fail here loudly).
    Optimality is certified separately by the weak-duality value of the duals."""
    scale = max(1.0, abs(sol.objective))
    violation = max_violation(lp, x)
    if violation > CERTIFICATE_TOLERANCE * scale:
        raise SolverError(
            f"{lp.name}: the solver's point violates the program by {violation:.1e}, so its value is not a bound; "
            "rerun with --solver highs-simplex or highs-ipm", "uncertified")
    gap = abs(sol.objective - sol.dual_objective)
    return {"max_violation": violation, "dual_certified": bool(np.isfinite(gap) and gap <= CERTIFICATE_TOLERANCE * scale)}


def _solve_auction(low: LoweredEnvironment, program: str, k: int, solver_options: SolverOptions, export: str | None,
                   options: dict) -> ProgramResult:
    """Recognise the quasilinear structure, build, solve and read back an auction program."""
    ql = recognise_quasilinear(low)
    lp, inverse = auction.build(program, ql, k, **options)
    if export:
        lp.export(export)
    sol = solve_lp(lp, solver_options)
    certificate = certify_solution(lp, sol.x, sol)
    objects = auction.read(lp, sol, inverse)
    arrays = {name: objects[name] for name in ("lam", "Xi", "gamma", "allocation", "transfers", "interim_values",
                                               "virtual_values", "aggregate_allocation", "aggregate_transfer",
                                               "worst_case_weights")
              if objects.get(name) is not None}
    if "lam" in arrays:
        arrays["lambda"] = arrays.pop("lam")
    extra = {"equation": lp.metadata.get("equation"), "correlation": inverse.correlation, **certificate}
    if sol.solver == "clarabel":
        extra["interior_solution"] = True  # not a vertex (see solve above)
    extra.update(objects.get("checks", {}))
    extra.update({f"decomposition_{key}": value for key, value in objects.get("decomposition", {}).items()})
    return ProgramResult(
        program=program, k=k, value=float(sol.objective), status=sol.status, dual_value=float(sol.dual_objective),
        build_seconds=lp.build_seconds, solve_seconds=sol.solve_seconds, solver=sol.solver, model=low.env.name,
        params=dict(low.env.params), n_variables=lp.n_cols, n_constraints=lp.n_rows,
        mechanism=objects.get("mechanism"), information=objects.get("information"), multipliers=arrays,
        state_labels=low.env.states.labels, extra=extra,
    )


__all__ = ["parse_model", "load_model", "validate", "solve", "bounds", "SolverError", "ModelError"]
