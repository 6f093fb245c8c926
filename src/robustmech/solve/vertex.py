"""A vertex from an interior point: the default path's answer must not depend on which
point of the optimal face an interior point method (or a first-order method, PDLP)
stopped at.

Clarabel converges to (near) the analytic centre of the optimal face, where every entry
that some optimal solution makes positive is positive, and the rest are ~1e-10 to 1e-14
instead of 0 (the public good's UB-P-10: all 10,201 entries of ρ positive, 496 above
1e-9); PDLP stops at some point of the face, at its tolerances. :func:`vertex`
purifies it: the columns the interior point leaves at a bound (within
``SUPPORT_THRESHOLD`` of it, relative to the point's scale) are fixed there,
and HiGHS's simplex method solves what is left. A basic solution of that restricted
program is a basic solution of the full one (the fixed columns are nonbasic at their
bound), so a vertex; where the support was read right it is optimal for the full
program too, which a dual bound on the *full* program must show:

0. an uncertified interior point (not PDLP's) with most of its bounded columns off
   their bounds, for which the restricted program would be most of the program, is
   solved again by HiGHS's interior point method with crossover, which ends at a basic
   solution; only if that fails do the steps below follow;

1. the restricted solve's own row duals, when :func:`~robustmech.solve.dual_objective`
   on the full program certifies them (a basic primal-dual pair);
2. else the interior point's duals, when their bound meets the vertex's value (the
   primal is a vertex, the duals stay interior; ``LPSolution.vertex`` says so);
3. else the simplex method goes on from the restricted basis on the full program
   (every column free again), which ends at a basic optimal solution with HiGHS's
   duals (or fails, and the interior point is returned unchanged).

Measured on the public good (N = 2, vbar = 3), symmetric UB-P-k, two shared cores
(``benchmarks/vertex_cost.py``): the restricted solve takes 0.3 s at k = 10 and 1.9 s at
k = 14 after Clarabel's 2 s and 33 s, against 26 s and minutes for the simplex method
alone; step 2 certifies both. The restricted solve is cheap when most columns are at a
bound (a structure, a mechanism's allocation); a program of mostly free columns (001's
guarantee with its free transfers) gains little over the simplex method, so the default
path keeps a certified interior point whose restricted program would be most of the
program (:func:`worth_purifying`; LB-G-k's mechanisms are mostly interior lotteries), and
solves an uncertified one again with crossover (step 0). On 001's common-value auction
(N = 2, ten values, symmetric programs), whose Clarabel points are not certified: the
guarantee (41) at k = 10 took 225 s by steps 1-3 after Clarabel's 2.2 s, and 6.2 s by
step 0; at k = 15, 73 s by step 0; the potential (3) at k = 10 took 80 s by steps 1-3,
30 s by step 0.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from ..programs.lp import LinearProgram
from .core import LPSolution, SolverOptions, backend, solver_names

# an entry within this of a bound (relative to max(1, the largest |x|)) is at the bound
SUPPORT_THRESHOLD = 1e-7
# the vertex's value may differ from the interior point's by this (relative) and still
# be taken for the same optimum; a larger difference means the support was misread
VALUE_TOLERANCE = 1e-6
# a dual bound certifies a value within this (relative to max(1, |value|))
CERTIFY_TOLERANCE = 1e-7
# the default path keeps a certified interior point when more than this share of the
# bounded columns (and more than VERTEX_SMALL of them) are off their bounds:
# the simplex method would then solve nearly the whole program again. Measured on the
# public good's symmetric programs at k = 10: UB-P-10 leaves 5% of its columns free
# (the vertex costs 0.3 s after Clarabel's 1 s), LB-G-10 99% (20 s after 1 s; at
# k = 30 the simplex method on 1.2 million columns is out of reach)
VERTEX_MAX_FREE_SHARE = 0.25
VERTEX_SMALL = 2_000


def at_bounds(lp: LinearProgram, x: np.ndarray, threshold: float = SUPPORT_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """The columns of ``x`` at their lower and at their upper bound (boolean masks)."""
    scale = threshold * max(1.0, float(np.abs(x).max(initial=0.0)))
    lower = np.isfinite(lp.col_lower) & (x - lp.col_lower <= scale)
    upper = np.isfinite(lp.col_upper) & (lp.col_upper - x <= scale) & ~lower
    return lower, upper


def _certified(value: float, bound: float) -> bool:
    return bool(np.isfinite(bound) and abs(value - bound) <= CERTIFY_TOLERANCE * max(1.0, abs(value)))


def _mostly_free(lp: LinearProgram, x: np.ndarray) -> tuple[bool, int, int]:
    """Whether more than ``VERTEX_MAX_FREE_SHARE`` of the bounded columns of ``x`` (and
    more than ``VERTEX_SMALL``) are off their bounds, which the restricted program of
    :func:`vertex` would leave free; and the two counts."""
    lower, upper = at_bounds(lp, x)
    bounded = np.isfinite(lp.col_lower) | np.isfinite(lp.col_upper)  # a column without bounds is never fixed
    n_bounded = int(np.count_nonzero(bounded))
    free = int(np.count_nonzero(bounded & ~(lower | upper)))
    return free > VERTEX_SMALL and free > VERTEX_MAX_FREE_SHARE * n_bounded, free, n_bounded


def worth_purifying(lp: LinearProgram, interior: LPSolution) -> str:
    """Why the default path keeps ``interior`` as it is ("" when it purifies it): a point
    certified by its own duals with more than ``VERTEX_MAX_FREE_SHARE`` of its bounded
    columns (and more than ``VERTEX_SMALL``) off their bounds, which the restricted
    program would leave free. An
    uncertified point is always purified (the vertex may be certified where it is not)."""
    if not _certified(interior.objective, interior.dual_objective):
        return ""
    mostly_free, free, n_bounded = _mostly_free(lp, interior.x)
    if not mostly_free:
        return ""
    return (f"kept the interior point, certified by its duals: {free} of its {n_bounded} bounded columns are off "
            f"their bounds, and a vertex would solve that much again by the simplex method")


def vertex(lp: LinearProgram, interior: LPSolution, options: SolverOptions) -> LPSolution:
    """A vertex of ``lp``'s optimal face from the interior point ``interior`` (see the
    module's text); ``interior`` itself, unchanged, when none could be had."""
    from .highs import _highs, _highs_lp, _inf, _run

    start = time.perf_counter()
    # one deadline for every stage (the interior point's own solve counts against it)
    deadline = start + options.time_limit - interior.solve_seconds if options.time_limit else None

    def left() -> float | None:
        return None if deadline is None else deadline - time.perf_counter()

    def out_of_time() -> bool:
        return deadline is not None and deadline - time.perf_counter() <= 1.0

    if out_of_time():
        return interior
    first_order = interior.solver in solver_names() and backend(interior.solver).first_order
    uncertified = not _certified(interior.objective, interior.dual_objective)
    if uncertified and not first_order and _mostly_free(lp, interior.x)[0]:
        # the restricted program would be most of the program, and the simplex method on
        # it is slow where an interior point method with crossover is not (after a
        # first-order method, chosen where a factorization fills in, it is not tried)
        crossed = _crossover(lp, interior, options, left())
        if crossed is not None:
            return crossed
        if out_of_time():
            return interior
    simplex = _stage("highs-simplex", options, interior, left())
    lower, upper = at_bounds(lp, interior.x)
    fixed = np.flatnonzero(lower | upper).astype(np.int32)
    h = _highs(simplex)
    h.passModel(_highs_lp(lp))
    if len(fixed):
        value = np.where(lower, lp.col_lower, lp.col_upper)[fixed]
        h.changeColsBounds(len(fixed), fixed, _inf(value), _inf(value))
    restricted = _run(h, lp, simplex)
    how = f"vertex: {len(fixed)} of {lp.n_cols} columns at a bound fixed, the rest solved by HiGHS's simplex method"
    same = restricted.optimal and abs(restricted.objective - interior.objective) <= VALUE_TOLERANCE * max(
        1.0, abs(interior.objective))
    if same and _certified(restricted.objective, restricted.dual_objective):
        return _done(restricted, interior, start, how + "; its duals certify it on the full program")
    if same and _certified(restricted.objective, interior.dual_objective):
        return _done(replace(restricted, dual_objective=interior.dual_objective, row_dual=interior.row_dual,
                             col_dual=interior.col_dual), interior, start,
                     how + "; certified by the interior point's duals (the duals are interior)")
    # the simplex method on the full program from the restricted basis
    if len(fixed):
        h.changeColsBounds(len(fixed), fixed, _inf(lp.col_lower[fixed]), _inf(lp.col_upper[fixed]))
    if deadline is not None:
        h.setOptionValue("time_limit", max(1.0, deadline - time.perf_counter()))
    full = _run(h, lp, simplex)
    if full.optimal and _certified(full.objective, full.dual_objective):
        return _done(full, interior, start, how + "; then the full program from that basis (a basic optimal solution)")
    if full.optimal and not _certified(interior.objective, interior.dual_objective):
        # neither is certified: the simplex method's optimum is at least a vertex solved to
        # HiGHS's tolerances, where an uncertified interior point may have stopped early
        return _done(full, interior, start, how + "; then the full program from that basis (the simplex method's "
                     "optimum; no dual bound certifies it)")
    return interior


def _crossover(lp: LinearProgram, interior: LPSolution, options: SolverOptions,
               remaining: float | None) -> LPSolution | None:
    """The program solved again by HiGHS's interior point method with crossover (a basic
    solution), for an uncertified point of a program that the restricted simplex solve
    would not make smaller; None when it fails."""
    start = time.perf_counter()
    ipm = _stage("highs-ipm", options, interior, remaining)
    crossed = backend(ipm.solver).solve(lp, ipm)
    if not crossed.optimal:
        return None
    how = ("vertex: the interior point's duals do not certify it and most of its columns are off their bounds, so "
           "the program was solved again by HiGHS's interior point method with crossover (a basic solution)")
    if not _certified(crossed.objective, crossed.dual_objective):
        how += "; no dual bound certifies it either (HiGHS's optimum at its tolerances)"
    return _done(crossed, interior, start, how)


def _stage(solver: str, options: SolverOptions, interior: LPSolution, time_limit: float | None) -> SolverOptions:
    """The options of one HiGHS stage after the interior point: the caller's threads,
    verbosity and progress, a tolerance no looser than 1e-9, and the time left."""
    return SolverOptions(solver=solver, time_limit=time_limit, tolerance=max(options.tolerance, 1e-9),
                         threads=options.threads, verbose=options.verbose, progress=options.progress,
                         progress_after=max(0.0, options.progress_after - interior.solve_seconds))


def _done(solution: LPSolution, interior: LPSolution, start: float, how: str) -> LPSolution:
    return replace(solution, solver=interior.solver, solve_seconds=interior.solve_seconds + time.perf_counter() - start,
                   iterations=interior.iterations + solution.iterations, message=interior.message, vertex=how,
                   recovery=interior.recovery)
