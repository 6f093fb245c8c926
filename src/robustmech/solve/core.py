"""The solver layer's core: options, solutions, the recomputed dual bound, the registry of
backends, the choice by size, the recovery after a numerical failure, the diagnosis of
failed solves and the public :func:`solve`.

A backend is one module with a :class:`Backend` subclass and one ``register(...)`` line
in ``robustmech/solve/__init__.py``; this module imports no backend. The backends met
here by name (``highs``, ``highs-simplex``, ``highs-ipm``, ``highs-pdlp``,
``highs-ipm-interior``, ``clarabel``) are looked up in the registry when they are
needed.

Every solution carries its status, the primal objective, the dual objective computed
from the row duals (:func:`dual_objective`, a certificate that the optimum is one), and
timings.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from ..errors import SolverError
from ..programs.lp import LinearProgram, chunks

log = logging.getLogger(__name__)

# From this many columns the default solver is Clarabel (or PDLP, below): on the public good's symmetric
# LB-G-10 (15,353 columns) Clarabel took 0.7 s against HiGHS's 8.7 s (simplex) and 10 s
# (IPM); below a few thousand columns HiGHS's simplex is as fast and returns a vertex.
AUTO_INTERIOR_COLUMNS = 10_000

# From this grid dimension (the number of agents whose actions or signals index the
# program's grid, ``LinearProgram.metadata["grid_dimension"]``) the default solver at
# that size is HiGHS's first-order method PDLP: a direct factorization of a grid program
# fills in like a d-dimensional grid's, which in three dimensions grows much faster than
# the matrix, while PDLP only multiplies by it. Measured on the public good, N = 3,
# vbar = 4, symmetric programs, two cores: LB-G-5 1.4 s against Clarabel's 6.1 s, LB-G-6
# 7.6 s against 106 s, UB-P-6 41 s against 163 s, UB-P-5 9.9 s against 8.8 s; UB-P-8
# 480 s and LB-G-8 113 s, where Clarabel ran past 17 and 20 minutes. In two dimensions
# Clarabel stays ahead (LB-G-14 of the N = 2 public good: 38 s with PDLP, 9.9 s).
FIRST_ORDER_GRID_DIMENSION = 3

# A program folded onto a box of its grid (``metadata["truncated_to"]``,
# robustmech.programs.truncation) is chosen for apart: its edge rows or columns sum up to
# k times as many of the whole grid's as the others, which a first-order method pays for
# in iterations, and the box is small enough to factorize. On a grid of three or more
# agents the default there is HiGHS's interior point method; measured on the public
# good, N = 3, vbar = 4, symmetric boxes x <= 3, two cores, seconds of PDLP / HiGHS IPM
# with its crossover / Clarabel: LB-G-10 187 / 23.7 / 22.2, UB-P-10 28.3 / 13.4 / 37.8,
# UB-P-8 10.1 / 3.4 / 6.8, LB-G-8 2.1 / 5.7 / 4.8. The crossover is a third of that
# time, and up to half: without it, its point treated as Clarabel's (kept where it is
# certified and a vertex would gain little, LB-G-k's lotteries; purified otherwise,
# robustmech.solve.vertex), the default path took LB-G-8 2.4 s (4.9 with the
# crossover), UB-P-8 2.3 (3.0), LB-G-10 15.1 (21.7), UB-P-10 8.4 (12.3), the same values,
# certified (HiPO: benchmarks/hipo_solver.py). On two agents
# it is Clarabel at every size, below AUTO_INTERIOR_COLUMNS too; N = 2, vbar = 3,
# seconds of HiGHS's choice / Clarabel / HiGHS IPM: LB-G-14 (2,796 symmetric columns)
# 0.60 / 0.08 / 0.31, LB-G-20 (5,613) 3.24 / 0.29 / 1.07, UB-P-14 (2,882) 0.35 / 0.18 /
# 0.28, UB-P-20 (5,735) 1.42 / 0.52 / 1.03.
BOX_METHOD = "highs-ipm-interior"
BOX_METHOD_TWO_AGENTS = "clarabel"

# HiGHS's own default feasibility tolerances. Some programs (the direct-mechanism LP of
# an information structure with probabilities near 1e-10, whose free transfers must be
# huge to exploit them) make both simplex and the interior point method fail with a
# numerical error at our tighter default of 1e-9 but solve at this one
# (two_goods_common_values, UB-P-6 structure: IPM 2 s, simplex 24 s).
RECOVERY_TOLERANCE = 1e-7

AUTO_HELP = ("auto (default): Clarabel for programs with at least 10,000 columns and on the boxes of a "
             "two-agent grid (HiGHS's PDLP on the grids of three or more agents, its interior point method "
             "without crossover on their boxes), HiGHS's own choice below")


@dataclass
class SolverOptions:
    solver: str = "auto"
    time_limit: float | None = None
    tolerance: float = 1e-9  # primal/dual feasibility tolerance handed to the solver
    verbose: bool = False
    threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # backend options by the backend's own names
    # called with condensed solver log lines once a solve has run for `progress_after` s
    progress: Callable[[str], Any] | None = None
    progress_after: float = 2.0
    progress_every: float = 1.0  # at most one progress line this often (seconds)
    # purify an interior point into a vertex (robustmech.solve.vertex): None (the default)
    # does so when `auto` chose an interior method, True always, False never
    vertex: bool | None = None


@dataclass
class LPSolution:
    status: str  # "optimal" | "infeasible" | "unbounded" | "time_limit" | "error" | ...
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
    vertex: str = ""  # how an interior point was made a vertex (robustmech.solve.vertex), when it was
    interior_kept: str = ""  # why the default path kept a certified interior point (robustmech.solve.vertex)

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"

    @property
    def duality_gap(self) -> float:
        return abs(self.objective - self.dual_objective)


def dual_objective(lp: LinearProgram, y: np.ndarray, z: np.ndarray, activity: np.ndarray, x: np.ndarray,
                   tol: float = 1e-9, own_reduced_costs: bool = False) -> float:
    """A weak-duality bound on the optimum from the row duals y alone.

    The column duals are recomputed as z = c - Aᵀy (the solver's reported reduced costs
    are not trusted). Each dual multiplies the bound its sign selects (for a
    minimisation, a positive dual the lower bound, a negative one the upper bound; the
    reverse for a maximisation). Where that bound is finite it is used whatever the
    dual's size, so the value is a bound up to rounding. Where it is infinite, a dual
    below ``tol`` (relative to the largest) is taken as zero, and a larger one makes the
    duals infeasible: the function returns -inf for a minimisation (+inf for a
    maximisation), no certificate. So |primal - dual| certifies optimality independently
    of the solver's claim. Row duals follow HiGHS's sign convention (c - Aᵀy is the
    vector of reduced costs); every backend returns them so. With ``own_reduced_costs``
    the caller has computed ``z`` as c - Aᵀy from these ``y`` itself (one product fewer
    on a program of millions of columns).
    """
    sign = 1.0 if lp.sense == "min" else -1.0
    if not np.all(np.isfinite(y)):
        return -sign * np.inf  # a NaN or infinite dual certifies nothing
    if not own_reduced_costs:
        z = lp.cost - lp.A.T @ y
    total = lp.offset
    for dual, lower, upper in ((y, "row_lower", "row_upper"), (z, "col_lower", "col_upper")):
        if not len(dual):
            continue
        scale = max(1.0, abs(float(dual.max())), abs(float(dual.min())))
        for part in chunks(len(dual)):  # a program on X(40) has millions of rows: small temporaries
            d = dual[part]
            bound = np.where(sign * d > 0, lp.vector_part(lower, part), lp.vector_part(upper, part))
            finite = np.isfinite(bound)
            if not np.all(finite | (np.abs(d) <= tol * scale)):
                return -sign * np.inf
            # zeros where the bound is infinite (no boolean gathers: a tenth of the time)
            total += float(np.dot(np.where(finite, d, 0.0), np.where(finite, bound, 0.0)))
    return float(total)


# ---------------------------------------------------------------------------- registry

Recovery = Literal["none", "tolerance", "auto"]


class Backend(ABC):
    """A way to solve a :class:`LinearProgram`, selected by ``SolverOptions.solver``.

    Subclasses set ``name`` (the ``--solver`` value) and ``description`` (its text in
    ``--help``; consecutive backends with the same description share one entry there, and
    an empty one is left out), and implement :meth:`solve`. ``solve`` returns an
    :class:`LPSolution` whatever the outcome (a failure is a status, not an exception;
    Ctrl-C may raise :class:`SolverError` with status ``interrupted``), with row duals in
    HiGHS's sign convention so that :func:`dual_objective` applies, and ``solver`` set to
    the backend's name.

    ``recovery`` says when :func:`solve` retries a solve that ended with status
    ``error`` (see :func:`_recover`): ``"tolerance"`` when the tolerance asked for was
    tighter than ``RECOVERY_TOLERANCE`` and no backend options (``extra``) were given,
    ``"auto"`` only when ``auto`` chose the backend, ``"none"`` never.
    """

    name: str = ""
    description: str = ""
    label: str = ""  # who solved, in messages ("HiGHS"); the name when empty
    install_hint: str = ""  # how to install what `available()` looks for
    recovery: Recovery = "none"
    interior: bool = False  # its optimal points are interior points, not vertices (no crossover)
    first_order: bool = False  # it only multiplies by the matrix (no factorization)

    def available(self) -> bool:
        """Whether what this backend needs is installed."""
        return True

    @abstractmethod
    def solve(self, lp: LinearProgram, options: SolverOptions) -> LPSolution:
        """Solve ``lp`` with ``options`` (``options.solver`` may name another choice,
        e.g. ``auto``; the backend solves as itself)."""

    def unbounded_ray(self, lp: LinearProgram) -> np.ndarray | None:
        """A direction of the columns along which the objective of an unbounded ``lp``
        improves without limit, where this backend can give one."""
        return None

    @property
    def who(self) -> str:
        return self.label or self.name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


_REGISTRY: dict[str, Backend] = {}


def register(b: Backend, *, override: bool = False) -> Backend:
    """Make ``b`` selectable as ``SolverOptions(solver=b.name)`` and ``--solver b.name``
    (the command line's choices are read when ``robustmech.cli`` is imported). A name
    already taken is an error unless ``override``."""
    if not b.name or b.name == "auto":
        raise ValueError(f"a solver backend needs a name other than 'auto' (got {b.name!r})")
    if b.name in _REGISTRY and not override:
        raise ValueError(f"a solver backend named '{b.name}' is already registered ({_REGISTRY[b.name]!r})")
    _REGISTRY[b.name] = b
    return b


def unregister(name: str) -> Backend:
    """Remove the backend ``name`` from the registry and return it."""
    return _REGISTRY.pop(name)


def solver_names() -> tuple[str, ...]:
    """The values ``SolverOptions.solver`` accepts: ``auto``, then the backends in the
    order they were registered."""
    return ("auto", *_REGISTRY)


def solver_help() -> str:
    """The ``--solver`` help: ``auto``, then each run of backends sharing a description."""
    entries: list[tuple[list[str], str]] = []
    for b in _REGISTRY.values():
        if not b.description:
            continue
        if entries and entries[-1][1] == b.description:
            entries[-1][0].append(b.name)
        else:
            entries.append(([b.name], b.description))
    return "; ".join([AUTO_HELP] + [f"{'|'.join(names)}: {text}" for names, text in entries])


def backend(name: str) -> Backend:
    """The registered backend ``name``; :class:`SolverError` naming the choices if none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise SolverError(f"unknown solver '{name}'; choose one of {', '.join(solver_names())}", "error") from None


def method_for(lp: LinearProgram, solver: str) -> str:
    """The solver ``auto`` stands for on this program (any other name is itself)."""
    if solver != "auto":
        return solver
    dimension = int(lp.metadata.get("grid_dimension", 0))
    if "truncated_to" in lp.metadata:  # a box of a grid (above)
        chosen = _REGISTRY.get(BOX_METHOD if dimension >= FIRST_ORDER_GRID_DIMENSION else BOX_METHOD_TWO_AGENTS)
        if chosen is not None and chosen.available():
            return chosen.name
    if lp.n_cols < AUTO_INTERIOR_COLUMNS:
        return "highs"
    if dimension >= FIRST_ORDER_GRID_DIMENSION:
        first_order = _REGISTRY.get("highs-pdlp")
        if first_order is not None and first_order.available():
            return "highs-pdlp"
    interior = _REGISTRY.get("clarabel")
    return "clarabel" if interior is not None and interior.available() else "highs"


# ----------------------------------------------------------------------------- solving

def solve(lp: LinearProgram, options: SolverOptions | None = None, *, raise_on_failure: bool = True) -> LPSolution:
    """Solve ``lp``; on failure raise :class:`SolverError` naming the families to blame.
    A structured program (:attr:`LinearProgram.structured`) is assembled first."""
    lp = lp.assembled()
    options = options or SolverOptions()
    chosen = backend(method_for(lp, options.solver))
    if not chosen.available():
        hint = f": {chosen.install_hint}" if chosen.install_hint else ""
        raise SolverError(f"the {chosen.name} solver is not installed{hint}", "error")
    own = options if options.solver == chosen.name else replace(options, solver=chosen.name)
    solution = chosen.solve(lp, own)
    if solution.status == "error" and _recovers(chosen, options):
        solution = _recover(lp, own, solution)
    if solution.optimal and not solution.recovery and _purifies(chosen, options):
        from .vertex import vertex, worth_purifying

        keep = "" if options.vertex else worth_purifying(lp, solution)
        solution = replace(solution, interior_kept=keep) if keep else vertex(lp, solution, own)
    if raise_on_failure and not solution.optimal:
        raise diagnose(lp, solution, options)
    return solution


def _purifies(chosen: Backend, options: SolverOptions) -> bool:
    """Whether an optimal point of ``chosen`` is purified into a vertex: interior point
    methods without crossover (``Backend.interior``) when ``auto`` chose them (an explicit
    ``--solver clarabel`` keeps its interior point) or ``options.vertex`` asks."""
    if options.vertex is not None:
        return options.vertex and chosen.interior
    return chosen.interior and options.solver == "auto"


def _recovers(chosen: Backend, options: SolverOptions) -> bool:
    """Whether a numerical failure of ``chosen`` on ``options`` is solved again."""
    if chosen.recovery == "tolerance":
        return options.tolerance < RECOVERY_TOLERANCE and not options.extra
    if chosen.recovery == "auto":
        return options.solver == "auto"
    return False


def _recover(lp: LinearProgram, options: SolverOptions, failed: LPSolution) -> LPSolution:
    """After a numerical failure at a tight tolerance, solve again with HiGHS's interior
    point method (with crossover) at HiGHS's default tolerance; ``LPSolution.recovery``
    says so. Tried once: a failure of the retry returns ``failed``. Callers check the point
    they get against the rows (``api.certify_solution``)."""
    remaining = None
    if options.time_limit:
        remaining = options.time_limit - failed.solve_seconds
        if remaining <= 1.0:
            return failed
    retry = SolverOptions(solver="highs-ipm", time_limit=remaining, tolerance=RECOVERY_TOLERANCE,
                          verbose=options.verbose, threads=options.threads, progress=options.progress,
                          progress_after=options.progress_after)
    solution = backend(retry.solver).solve(lp, retry)
    solution.solve_seconds += failed.solve_seconds
    if solution.optimal:
        failed_by = _REGISTRY.get(failed.solver)
        where = f" at tolerance {options.tolerance:g}" if failed_by is None or failed_by.recovery == "tolerance" else ""
        solution.recovery = (f"{failed.solver} failed ({failed.message}){where}; "
                             f"solved by HiGHS's interior point method at tolerance {RECOVERY_TOLERANCE:g}")
        return solution
    return failed


def diagnose(lp: LinearProgram, solution: LPSolution, options: SolverOptions) -> SolverError:
    """A SolverError that says which constraint family (or variable block) is to blame.

    An infeasible program is solved again without each constraint family in turn (with
    the ``highs`` backend, 30 s each); an unbounded one is asked for a ray (the
    ``highs-simplex`` backend, presolve off)."""
    status = solution.status
    if status in ("time_limit", "iteration_limit"):
        return SolverError(f"{lp.name}: the solver stopped at its {status.replace('_', ' ')} without an optimum "
                           f"after {solution.solve_seconds:.1f} s", "time_limit")
    if status in ("infeasible", "infeasible_or_unbounded"):
        feasibility = backend("highs")
        blamed = []
        for fam in lp.families:
            relaxed = lp.without_families({fam})
            probe = feasibility.solve(relaxed,
                                      SolverOptions(solver="highs", tolerance=options.tolerance, time_limit=30.0))
            if probe.status in ("optimal", "unbounded"):
                blamed.append(fam)
        if blamed:
            where = ", ".join(f"'{b}' ({lp.families[b].description})" if lp.families[b].description else f"'{b}'"
                              for b in blamed)
            msg = f"{lp.name} is infeasible; dropping the constraint family {where} alone makes it feasible"
        else:
            msg = (f"{lp.name} is infeasible, and no single constraint family is to blame alone "
                   "(variable bounds conflict)")
        return SolverError(msg, "infeasible", tuple(blamed))
    if status == "unbounded":
        blocks: list[str] = []
        try:
            ray = backend("highs-simplex").unbounded_ray(lp)
            if ray is not None:
                blocks = sorted({lp.block_of_column(int(j)) for j in np.flatnonzero(np.abs(ray) > 1e-9)})
        except Exception:  # diagnosis is best effort: the status alone is still reported
            log.debug("no unbounded ray for %s", lp.name, exc_info=True)
        tail = f"; the objective improves without limit along variables {', '.join(blocks)}" if blocks else ""
        return SolverError(f"{lp.name} is unbounded{tail}", "unbounded", tuple(blocks))
    other = "highs-ipm" if options.solver in ("auto", "highs", "highs-simplex") else "highs-simplex"
    failed_by = _REGISTRY.get(solution.solver)
    who = failed_by.who if failed_by is not None else solution.solver
    return SolverError(f"{lp.name}: {who} stopped without a solution (status: {solution.message}), usually numerical "
                       f"trouble on a large program; try --solver {other}", "error")
