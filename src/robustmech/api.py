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
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .directives import directives as check_directives
from .errors import ModelError, SolverError
from .lower.arrays import LoweredEnvironment, lower_environment
from .lower.quasilinear import is_quasilinear
from .lower.size import SizeEstimate, check_program_size, check_whole_grid, fits_on_box, is_large, large_note
from .lower.symmetry import find_symmetries
from .model.environment import Environment
from .programs import truncation
from .programs.base import Program, ReadBack, bounding_pair
from .programs.base import program as get_program
from .programs.lp import LinearProgram, chunks
from .programs.reductions import Applied, Chain, Reduction, symmetry_reduction
from .programs.symmetry import max_violation
from .results.bounds import Bounds, ProgramResult
from .solve import LPSolution, SolverOptions, dual_objective, solver_names
from .solve import backend as solver_backend
from .solve import solve as solve_lp


def parse_model(text: str, filename: str = "<model>"):
    """The syntax tree of a model file's text (errors name file:line:col)."""
    from .dsl.parser import parse

    return parse(text, filename)


def load_model(path: str | os.PathLike, params: Mapping[str, Any] | None = None,
               restrict: Sequence[str] = ()) -> Environment:
    """Read, parse and elaborate a ``.mech`` file, with parameter overrides, and run
    every check that can be made before a solve. ``restrict``: restrictions added to the
    model's own ``restrict`` statements, each written as after the word (``"anonymous"``,
    ``"aggregate E"``); their errors name ``--restrict``."""
    import dataclasses

    from .dsl.parser import read_model
    from .model.elaborate import elaborate
    from .results.io import ResultFiles

    path, text = read_model(path)
    ast = parse_model(text, path)
    if restrict:
        extra = tuple(s for spec in restrict for s in parse_model(f"restrict {spec}", "--restrict").statements)
        if any(type(s).__name__ != "RestrictStmt" for s in extra):
            raise ModelError(f"--restrict takes a restriction (anonymous, aggregate, ...), got {list(restrict)!r}")
        ast = dataclasses.replace(ast, statements=ast.statements + extra)
    env = elaborate(ast, params or {}, source=text, loader=ResultFiles())
    check_directives(env)  # an unknown program or option in a directive names its line
    validate(env)
    return env


def validate(env: Environment) -> LoweredEnvironment:
    """Lower ``env`` to arrays and run the numeric checks (a participation-secure
    mechanism can exist); returns the arrays."""
    from .programs.restrictions import check as check_restrictions

    low = lower_environment(env, check=True)
    check_restrictions(low)  # each `restrict` applies to the model (symmetries, transfers), naming its line
    return low


@dataclass
class Solved:
    """One program run through the chain: the full program, its solution (reductions
    inverted, duals included), what it means, and the certificate of the point."""

    program: Program
    lp: LinearProgram
    solution: LPSolution
    readback: ReadBack
    certificate: dict
    build_seconds: float


def run(low: LoweredEnvironment, program: str | Program, options: Mapping[str, Any], solver: SolverOptions,
        symmetry: bool = True, export: str | None = None, truncate: bool = True) -> Solved:
    """The one way through for every program: build -> reductions -> solve -> invert ->
    certify the point and its duals against the full program -> read back.

    Which reductions apply is decided from the program's declared index sets and the
    environment's symmetries (:func:`robustmech.programs.reductions.symmetry_reduction`),
    never from the program's name. With ``truncate`` (and the solver ``auto``), a large
    program whose solution stays near the origin of its grid (``Program.truncation``) is
    first solved on boxes of low profiles, and the first answer that the whole program's
    rows and weak-duality bound certify is kept (:func:`solve_truncated`); otherwise the
    whole grid is solved."""
    prog = get_program(program)
    extend = prog.truncation(low) if truncate and solver.solver == "auto" else None

    def on_boxes(est) -> bool:
        return extend is not None and truncation.tried_on_boxes(low.n_agents, est.columns)

    size = check_program_size(low, prog, options, on_boxes)  # refuse what cannot fit in memory before building it
    if size is None or not on_boxes(size):
        extend = None
    if is_large(size) and solver.progress is not None:
        solver.progress(large_note(size, on_boxes=extend is not None))
    # on boxes, the whole program is kept structured: folded onto each box, and applied to
    # vectors to certify the answer, never assembled unless no box is certified
    lp, inverse = prog.build_structured(low, **dict(options)) if extend else prog.build(low, **dict(options))
    if export:
        if lp.structured:
            check_whole_grid(size, low.env.name, "exporting it assembles the whole grid")
        lp.assembled().export(export)
    symmetries = find_symmetries(low) if symmetry and extend is not None else []

    def box_symmetry(box: LinearProgram) -> Reduction | None:
        return symmetry_reduction(box, symmetries, low.env.agents, low.env.states.labels, low.outcome_names)[0]

    boxes = (solve_truncated(lp, solver, extend, size, box_symmetry if symmetries else None) if extend is not None
             else Truncated(None, [], 0.0))
    if boxes.answer is not None:
        solution, certificate, reduce_seconds = boxes.answer
        return Solved(prog, lp, solution, prog.read(lp, solution, inverse), certificate,
                      lp.build_seconds + reduce_seconds)
    if lp.structured:
        check_whole_grid(size, low.env.name, "no box of low profiles was certified")
    lp = lp.assembled()
    if boxes.attempts and solver.time_limit is not None:
        solver = replace(solver, time_limit=max(solver.time_limit - boxes.seconds, 1.0))
    start = time.perf_counter()
    reductions: list[Reduction] = []
    report: dict[str, Any] = {}
    solved = lp
    reformulation = prog.reformulation(lp, inverse, solver.solver)  # e.g. 001's (3) through (3-D)
    if reformulation is not None:
        reductions.append(reformulation)
        solved, _ = reformulation.apply(lp)
    if symmetry:
        reduction, report = symmetry_reduction(solved, find_symmetries(low), low.env.agents, low.env.states.labels,
                                               low.outcome_names)
        if reduction is not None:
            reductions.append(reduction)
    detect_seconds = time.perf_counter() - start
    solution, certificate, reduce_seconds = solve_built(lp, solver, reductions)
    if boxes.attempts:  # the boxes tried first, none certified: their time is part of this solve
        certificate["truncation"] = {"certified": False, "attempts": boxes.attempts}
        solution.solve_seconds += boxes.seconds
    if symmetry and "symmetry" not in certificate and report.get("detected"):
        certificate["symmetry"] = report
    if solved is not lp and "symmetry" in certificate:
        certificate["symmetry"]["program"] = solved.name  # the reformulation's sizes, not lp's
    return Solved(prog, lp, solution, prog.read(lp, solution, inverse), certificate,
                  lp.build_seconds + detect_seconds + reduce_seconds)


@dataclass
class Truncated:
    """What :func:`solve_truncated` did: the certified answer (None where no box was),
    every box tried, and the seconds its solves and reductions took."""

    answer: tuple[LPSolution, dict[str, Any], float] | None
    attempts: list[dict[str, Any]]
    seconds: float


def solve_truncated(lp: LinearProgram, solver: SolverOptions, extend: truncation.Extension,
                    size: SizeEstimate | None = None,
                    symmetry: Callable[[LinearProgram], Reduction | None] | None = None) -> Truncated:
    """``lp`` solved on growing boxes of low profiles
    (:class:`robustmech.programs.truncation.GridTruncation`, the boxes of
    :func:`~robustmech.programs.truncation.boxes`), each answer inverted onto the whole
    grid and certified on ``lp``'s own rows: the first whose point is feasible and whose
    value meets the weak-duality bound is the answer (solution, certificate with every
    attempt under ``truncation``, seconds of the reductions; the solution's seconds are
    all attempts' solves). No answer where the program is too small to gain, has no
    grid, no box is certified, or a box says the whole program cannot be solved there
    (infeasible, unbounded, out of time: the whole grid is then solved, and says why).
    The solver's time limit is shared by the attempts. With the whole program's ``size``,
    the boxes stop before one whose program would not fit in memory. ``symmetry`` gives
    the symmetry reduction of a box program (None where it has none): the box is then
    solved over symmetric solutions, as the whole grid would be."""
    shape = truncation.grid_shape(lp)
    attempts: list[dict[str, Any]] = []
    if shape is None or "k" not in lp.metadata or not truncation.tried_on_boxes(len(shape), lp.n_cols):
        return Truncated(None, attempts, 0.0)
    start = time.perf_counter()
    solve_seconds = reduce_seconds = 0.0
    for box in truncation.boxes(shape[0], int(lp.metadata["k"])):
        if size is not None and not fits_on_box(size, ((box + 2) / shape[0]) ** len(shape)):
            _note(solver, f"{lp.name}: the box x <= {box}/k would not fit in memory; the whole grid")
            break
        options = solver
        if solver.time_limit is not None:
            left = solver.time_limit - (time.perf_counter() - start)
            if left <= 0:
                break
            options = replace(solver, time_limit=left)
        attempt_start = time.perf_counter()
        try:
            # where a symmetry reduction follows, it merges the rows a primal fold makes
            # identical (with its orbits): they are merged once, not twice
            fold = truncation.GridTruncation(box, extend, merge_rows=symmetry is None or extend == "dual")
            small, data = fold.apply(lp)  # folded once: the chain reuses it
            on_box = symmetry(small) if symmetry is not None else None
            if on_box is None and not fold.merge_rows:  # no symmetry on this box after all
                fold = truncation.GridTruncation(box, extend)
                small, data = fold.apply(lp)
            chain: list[Reduction] = [Applied(fold, lp, small, data)]
            if on_box is not None:
                chain.append(on_box)
            fold_seconds = time.perf_counter() - attempt_start
            del small, data  # the chain holds them; the next box is folded without them
            solution, certificate, seconds = solve_built(lp, options, chain)
            seconds += fold_seconds
            if on_box is not None and "symmetry" in certificate:
                certificate["symmetry"]["program"] = f"{lp.name} on the box x <= {box}/k"
            del chain
        except SolverError as error:
            if error.status == "interrupted":
                raise
            solve_seconds += time.perf_counter() - attempt_start
            attempts.append({"box": box, "certified": False, "why": str(error)})
            if error.status != "uncertified":
                # infeasible or unbounded on a box, or out of time: the whole grid says which and why
                _note(solver, f"{lp.name} on the box x <= {box}/k: not solved ({error.status}); the whole grid")
                break
            _note(solver, f"{lp.name} on the box x <= {box}/k: its point, extended beyond the box, breaks the "
                          "whole program's rows; a larger box")
            continue
        solve_seconds += solution.solve_seconds
        reduce_seconds += seconds
        gap = abs(solution.objective - solution.dual_objective)
        attempts.append({"box": box, "certified": certificate["dual_certified"], "value": solution.objective,
                         "dual_value": solution.dual_objective, "gap": gap})
        if certificate["dual_certified"]:
            _note(solver, f"{lp.name} on the box x <= {box}/k: certified on the whole grid (gap {gap:.1e})")
            certificate["truncation"]["attempts"] = attempts
            if "vertex" in certificate:
                certificate["vertex"] = f"{certificate['vertex']} (a vertex of the box program)"
            solution.solve_seconds = solve_seconds
            return Truncated((solution, certificate, reduce_seconds), attempts, solve_seconds + reduce_seconds)
        _note(solver, f"{lp.name} on the box x <= {box}/k: {solution.objective:.9g} against the bound "
                      f"{solution.dual_objective:.9g} on the whole grid; a larger box")
    else:
        _note(solver, f"{lp.name}: no box was certified; the whole grid is solved")
    return Truncated(None, attempts, solve_seconds + reduce_seconds)


def _note(solver: SolverOptions, line: str) -> None:
    if solver.progress is not None:
        solver.progress(line)


def solve_built(lp: LinearProgram, solver: SolverOptions,
                reductions: Sequence[Reduction] = ()) -> tuple[LPSolution, dict[str, Any], float]:
    """The chain after the build, for a program already built (every program of
    :func:`run`, and each LP stage of 000's refinements): apply the reductions, solve,
    invert them, and certify the point and the weak-duality bound against ``lp`` itself.
    Returns the solution of ``lp``, its certificate (``max_violation``,
    ``dual_certified``, what the reductions did) and the seconds the reductions took."""
    start = time.perf_counter()
    chain = Chain(list(reductions))
    reduced, data = chain.apply(lp)
    reduce_seconds = time.perf_counter() - start
    solved = solve_lp(reduced, solver)
    certify_start = time.perf_counter()  # the inverse and the checks on lp's own rows
    solution = chain.invert(solved, data)
    activity = None
    if reductions:
        # the point and the duals of the reduced program, spread over the full program:
        # its own row activity and reduced costs (each product once), and the bound
        # recomputed on its own rows
        activity = lp.A @ solution.x
        reduced_costs = -(lp.A.T @ solution.row_dual)
        for part in chunks(lp.n_cols):  # c - Aᵀy, the cost read a range at a time
            reduced_costs[part] += lp.vector_part("cost", part)
        solution = replace(solution, row_activity=activity, col_dual=reduced_costs)
        solution.dual_objective = dual_objective(lp, solution.row_dual, reduced_costs, activity, solution.x,
                                                 own_reduced_costs=True)
    certificate = certify_solution(lp, solution.x, solution, activity)
    certificate["certify_seconds"] = time.perf_counter() - certify_start
    described = chain.describe(data)
    certificate.update({key: value for key, value in described.items() if key != "symmetry"})
    if "symmetry" in described:
        certificate["symmetry"] = {**described["symmetry"], "max_violation": certificate["max_violation"]}
    if solution.vertex:
        # the default path's interior point, purified into a vertex (robustmech.solve.vertex)
        certificate["vertex"] = solution.vertex
    elif solution.solver in solver_names() and solver_backend(solution.solver).interior:
        # a point of the optimal face from an interior point or first-order method, not a
        # vertex: entries a vertex would leave at zero are small, not zero (a mechanism's
        # or structure's support is blurred)
        certificate["interior_solution"] = True
        if solution.interior_kept:
            certificate["interior_kept"] = solution.interior_kept
    return solution, certificate, reduce_seconds


def solve(
    env: Environment | LoweredEnvironment,
    program: str = "guarantee",
    k: int | None = None,
    solver: str = "auto",
    time_limit: float | None = None,
    verbose: bool = False,
    export: str | None = None,
    symmetry: bool = True,
    progress=None,
    options: Mapping[str, Any] | None = None,
    threads: int | None = None,
    truncate: bool = True,
    **program_options: Any,
) -> ProgramResult:
    """Build and solve one program of the registry (``robustmech.programs.base.names()``):
    ``guarantee`` (LB-G-k, (9) of 004), ``potential`` (UB-P-k, (10)), ``dual`` (the
    relaxed dual (12)), 001's ``auction-guarantee`` ((41)), ``auction-guarantee-transfers``
    ((4)), ``auction-potential`` ((3)), ``auction-dual`` ((3-D)) (options
    ``correlation``, ``penalty``), ``bce-worst`` / ``bce-best`` (option ``mechanism``),
    ``direct`` (option ``information``). ``threads``: the solver's thread count (its
    own default when None).

    With ``symmetry`` (the default), symmetries of the environment are detected
    (:func:`robustmech.lower.symmetry.find_symmetries`); where the program is invariant
    under them (checked on the program itself) it is solved over symmetric solutions
    only, which is exact for a linear program, and the expanded solution and its duals
    are checked against every row of the full program.

    With ``truncate`` (the default) and the solver ``auto``, LB-G-k and UB-P-k of
    100,000 columns or more are solved first on boxes of low profiles
    (:mod:`robustmech.programs.truncation`); the first answer whose point and weak-duality
    bound the whole program's own rows certify is kept, else the whole grid is solved.

    Raises :class:`~robustmech.errors.SolverError` (with the families to blame)
    unless the solve is optimal.
    """
    low = env if isinstance(env, LoweredEnvironment) else validate(env)
    given = {**dict(options or {}), **program_options}
    if k is not None:
        given["k"] = k
    solver_options = SolverOptions(solver=solver, time_limit=time_limit, verbose=verbose, progress=progress,
                                   threads=threads)
    solved = run(low, program, given, solver_options, symmetry=symmetry, export=export, truncate=truncate)
    return result_of(low, solved, given.get("k"))


def result_of(low: LoweredEnvironment, solved: Solved, k: int | None = None) -> ProgramResult:
    """The :class:`ProgramResult` of a program run through the chain."""
    sol, back = solved.solution, solved.readback
    return ProgramResult(
        program=solved.program.name,
        k=k,
        value=float(sol.objective),
        status=sol.status,
        dual_value=float(sol.dual_objective),
        build_seconds=solved.build_seconds,
        solve_seconds=sol.solve_seconds,
        solver=sol.solver,
        model=low.env.name,
        params=dict(low.env.params),
        n_variables=solved.lp.n_cols,
        n_constraints=solved.lp.n_rows,
        mechanism=back.mechanism,
        information=back.information,
        multipliers=dict(back.arrays),
        state_labels=low.env.states.labels,
        state_points=low.env.states.values(),
        extra={**back.extra, **solved.certificate},
    )


def bounds(env: Environment | LoweredEnvironment, k: int, solver: str = "auto", time_limit: float | None = None,
           verbose: bool = False, symmetry: bool = True, progress=None, family: str = "auto",
           options: Mapping[str, Any] | None = None, concurrent: bool | None = None, truncate: bool = True) -> Bounds:
    """LB(k) and UB(k): Theorem 1 of 004 says LB(k) <= max guarantee <= min potential <= UB(k).

    ``family``: ``"general"`` (LB-G-k and UB-P-k of 004), ``"auction"`` (the restricted
    programs (41) and (3) of 001, transfers solved out, for quasilinear environments), or
    ``"auto"`` (the auction programs when the environment is recognised as quasilinear and
    the model restricts no mechanisms; with ``restrict`` statements, the general family,
    whose LB-G-k takes them: UB-P-k still bounds the restricted max guarantee from above;
    with a ``baseline`` signal, the general family, whose UB-P-k refines it).

    ``concurrent``: solve the two programs at once, each in a process of its own
    (:mod:`robustmech.parallel`) and on half the cores. None (the default) does so when
    this process may use two cores or more, the larger program has at least
    ``CONCURRENT_FROM_NONZEROS`` nonzeros, both fit in memory together, and this process
    is not itself a worker of a multiprocessing pool. A job that cannot be sent to a child
    (an object of a class defined in a script's ``__main__``) is solved here, with a
    progress line saying why. Each result's times are its own process's."""
    low = env if isinstance(env, LoweredEnvironment) else validate(env)
    if family not in FAMILIES:
        raise ModelError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    if family == "auto":
        # 001's potential (3) knows no baseline signal: a model with one takes the general family
        family = ("auction" if is_quasilinear(low) and not low.env.restrictions and low.baseline is None
                  else "general")
    lower, upper = bounding_pair(family)
    start = time.perf_counter()
    run_options: dict[str, Any] = dict(solver=solver, time_limit=time_limit, verbose=verbose, symmetry=symmetry,
                                       options=dict(options) if options else None, truncate=truncate)
    if concurrent is None:
        concurrent = _worth_concurrent(low, (lower.name, upper.name), k, truncate and solver == "auto")
    if concurrent:
        from .parallel import Job, JobNotSent, run_jobs, usable_cores

        threads = max(1, usable_cores() // 2)
        jobs = [Job(low, name, k, {**run_options, "threads": threads}, f"{tag}: ")
                for name, tag in ((lower.name, "LB"), (upper.name, "UB"))]
        try:
            lb, ub = run_jobs(jobs, progress)
            return Bounds(lb, ub, time.perf_counter() - start, concurrent=True)
        except JobNotSent as why:
            if progress is not None:
                progress(f"{why}: the two programs are solved one after the other, in this process")
    lb = solve(low, lower.name, k, progress=progress, **run_options)
    ub = solve(low, upper.name, k, progress=progress, **run_options)
    return Bounds(lb, ub, time.perf_counter() - start)


#: the size (nonzeros, :func:`robustmech.lower.size.estimate`) from which ``bounds`` solves
#: LB(k) and UB(k) at once: about ten seconds a program (public good N = 2 from k = 14,
#: N = 3 from k = 5; 001's two-bidder auction from k = 13); a child costs a second or two
CONCURRENT_FROM_NONZEROS = 1_000_000


def _worth_concurrent(low: LoweredEnvironment, programs: tuple[str, str], k: int, truncate: bool = False) -> bool:
    import multiprocessing

    from .lower.size import available_memory, estimate
    from .parallel import usable_cores

    if usable_cores() < 2 or multiprocessing.parent_process() is not None:
        return False  # a worker of a pool shares its cores with the pool's other workers
    try:
        sizes = [estimate(low, name, k) for name in programs]
    except Exception:  # a program the estimate does not know: no evidence it is large
        return False
    if truncate and all(get_program(name).truncation(low) is not None
                        and truncation.tried_on_boxes(low.n_agents, size.columns)
                        for name, size in zip(programs, sizes)):
        # both are solved on small boxes (seconds each); two children would each build
        # the whole program, twice the memory for a second or two
        return False
    return (max(s.nonzeros for s in sizes) >= CONCURRENT_FROM_NONZEROS
            and sum(s.bytes for s in sizes) < available_memory())


FAMILIES = ("auto", "general", "auction")
CERTIFICATE_TOLERANCE = 1e-6


def certify_solution(lp, x, sol, activity: np.ndarray | None = None) -> dict:
    """Refuse to report a value that is not a bound, and say whether it is certified optimal.

    A point that satisfies every row and column bound (to ``CERTIFICATE_TOLERANCE``,
    relative to the value's size) gives a valid bound in the program's direction: a
    feasible LB-G-k mechanism's value is at most the max guarantee, a feasible UB-P-k
    structure's at least the min potential. A point that violates them does not, and
    is refused (first-order methods such as PDLP that stop early fail here loudly).
    Optimality is certified separately by the weak-duality value of the duals.
    ``activity``: A x, computed by the caller from ``x`` (never a solver's report)."""
    scale = max(1.0, abs(sol.objective))
    violation = max_violation(lp, x, activity)
    if not (np.isfinite(violation) and np.isfinite(sol.objective)) or violation > CERTIFICATE_TOLERANCE * scale:
        raise SolverError(
            f"{lp.name}: the solver's point violates the program by {violation:.1e}, so its value is not a bound; "
            "rerun with --solver highs-simplex or highs-ipm", "uncertified")
    gap = abs(sol.objective - sol.dual_objective)
    return {"max_violation": violation,
            "dual_certified": bool(np.isfinite(gap) and gap <= CERTIFICATE_TOLERANCE * scale)}


__all__ = ["parse_model", "load_model", "validate", "run", "solve", "solve_built", "bounds", "result_of", "Solved",
           "SolverError", "ModelError"]

from .refine import refine  # noqa: E402  (the refinements of 000; robustmech.refine)

__all__ += ["refine"]
