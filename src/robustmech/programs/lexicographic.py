"""Lexicographic refinements of maxmin (000, Kambhampati) as sequences of linear programs.

Every program here is a reduction over the mechanism polytope M of a prior-free
environment (:mod:`robustmech.lower.prior_free`): an outcome z(c) per cell, dominant-
strategy IC, ex post participation, feasibility. With v(c) = w(c)·z(c) + w0(c) the
designer's payoff per type profile:

* ``bayes``: max Σ_θ ρ(θ) v(θ) (Bayesian optimum, Proposition 1 of 000);
* ``lps``: the preemptive sequence for an LPS µ = (µ_1, ..., µ_K), eq. (1) of 000: stage k
  maximizes Σ µ_k v holding the earlier stage values;
* ``robust``: max t s.t. t <= v(θ) for all θ, eq. (2) of 000; by Proposition 2 robust =
  maxmin, and the duals of the rows t <= v(θ) are Nature's adversarial belief;
* ``perfect``: maxmin, then a full-support objective over the maxmin face; a mechanism is
  perfectly robust iff maxmin and admissible (Proposition 3), tested by the admissibility
  LP max Σ_θ e(θ) s.t. v'(θ) - e(θ) >= v̄(θ), e >= 0: admissible iff its value (the total
  slack gain) is 0; the duals of its rows give a full-support belief (Lemma 1);
* ``proper``: leximin (Proposition 4), by sequential maxmin with saturation tests, or by
  the ordered-outcomes formulation (cumulative sums of the k smallest payoffs); the
  certificate LPS of Proposition 4 is built from level sets: µ_k has support
  Θ(1) ∪ ... ∪ Θ(k) and comes from the admissibility LP restricted to that set.

Programs are built here; solving is the caller's: the drivers take ``solver``, a
callable ``LinearProgram -> solution`` (``robustmech.solve.highs.solve``), so this
module never imports the solve layer. Beliefs are *mass per cell* (for the anonymous
program, the total mass of the profiles a cell stands for).

Tolerances. A level fixed with a slack τ lets later stages overshoot through chains of
IC constraints (the public good's recursion multiplies errors by k(θ_h-θ_ℓ)/S_k at each
step). Levels are therefore fixed with τ = 0 (only the solver's feasibility tolerance
remains); only when the solver then reports infeasibility is τ raised (1e-9, 1e-8, ...
times the level's scale), and every τ used is recorded. Each sequential-maxmin stage
fixes at least the profile of largest dual weight (the duals sum to one), so the loop
ends after at most |Θ| stages. ``exact_verify`` re-verifies a result in rational
arithmetic (small instances).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from ..errors import SolverError, UnsupportedError
from ..lower.prior_free import PriorFreeArrays
from .lp import LinearProgram, ProgramBuilder

CRITERIA = ("bayes", "lps", "robust", "perfect", "proper")
Solver = Callable[[LinearProgram], Any]
MAX_ORDERED_PROFILES = 400


# ---------------------------------------------------------------------------
# the mechanism polytope M as triplets (shared by the float LPs and the exact checks)


def _block_diagonal(A: np.ndarray):
    """Triplets of the block-diagonal matrix with blocks A[c] (r x d), rows c*r + k, cols c*d + j."""
    n, r, d = A.shape
    rows = np.broadcast_to((np.arange(n)[:, None] * r + np.arange(r)[None, :])[:, :, None], A.shape)
    cols = np.broadcast_to((np.arange(n) * d)[:, None, None] + np.arange(d)[None, None, :], A.shape)
    return rows.reshape(-1), cols.reshape(-1), A.reshape(-1)


def mechanism_families(a: PriorFreeArrays) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, int, np.ndarray, np.ndarray, str]]:
    """The constraint families of M: (name, rows, cols, data, n_rows, lower, upper, description),
    over the columns z (cell-major, ``c * d + slot``); data may be exact Fractions."""
    n, d = a.n_cells, a.dim
    fams = []
    inf = np.inf
    if a.A_eq.shape[1]:
        r, c, v = _block_diagonal(a.A_eq)
        b = a.b_eq.reshape(-1)
        fams.append(("feasibility_eq", r, c, v, len(b), b, b, "the outcome at each profile is feasible (equalities)"))
    if a.A_ub.shape[1]:
        r, c, v = _block_diagonal(a.A_ub)
        b = a.b_ub.reshape(-1)
        fams.append(("feasibility_ub", r, c, v, len(b), np.full(len(b), -inf, dtype=object), b,
                     "the outcome at each profile is feasible (inequalities)"))
    m = len(a.ic_cell)
    if m:
        rows = np.repeat(np.arange(m), d)
        own_cols = (a.ic_cell[:, None] * d + np.arange(d)[None, :]).reshape(-1)
        dev_cols = (a.ic_dev[:, None] * d + np.arange(d)[None, :]).reshape(-1)
        fams.append(("incentive", np.concatenate([rows, rows]), np.concatenate([own_cols, dev_cols]),
                     np.concatenate([a.ic_own.reshape(-1), -a.ic_other.reshape(-1)]), m,
                     np.zeros(m, dtype=object), np.full(m, inf, dtype=object),
                     "dominant-strategy incentive compatibility" + (" (downward-adjacent only)" if a.env.incentive == "adjacent" else "")))
    m = len(a.ir_cell)
    if m:
        rows = np.repeat(np.arange(m), d)
        cols = (a.ir_cell[:, None] * d + np.arange(d)[None, :]).reshape(-1)
        fams.append(("participation", rows, cols, a.ir_coef.reshape(-1), m, -a.ir_const, np.full(m, inf, dtype=object),
                     "ex post participation u_i(z(θ), θ) >= 0"))
    return fams


def payoff_matrix(a: PriorFreeArrays) -> sp.csr_matrix:
    """V with v = V z + w_const: one row per cell."""
    r, c, v = _block_diagonal(a.w_coef[:, None, :])
    M = sp.csr_matrix((np.asarray(v, dtype=float), (r, c)), shape=(a.n_cells, a.n_cells * a.dim))
    M.eliminate_zeros()
    return M


def _f(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _mechanism(a: PriorFreeArrays, name: str, sense: str) -> ProgramBuilder:
    b = ProgramBuilder(name, sense)
    b.add_variables("z", (a.n_cells, a.dim), lower=_f(a.lower).reshape(-1), upper=_f(a.upper).reshape(-1),
                    description="z(θ): the outcome (allocations, transfers) at each type profile")
    for fam, r, c, v, m, lo, hi, desc in mechanism_families(a):
        M = sp.csr_matrix((_f(v), (r, c)), shape=(m, a.n_cells * a.dim))
        M.eliminate_zeros()
        b.add_rows(fam, {"z": M}, lower=_f(lo), upper=_f(hi), description=desc)
    return b


def _cells_rows(V: sp.csr_matrix, cells: np.ndarray) -> sp.csr_matrix:
    return V[cells]


# ---------------------------------------------------------------------------
# programs


def build_bayes(a: PriorFreeArrays, mass: np.ndarray, floors: list[tuple[np.ndarray, float]] = (), name: str = "bayes") -> LinearProgram:
    """max Σ_c mass(c) v(c) over M (a Bayesian objective, 000 Section 2.1), subject to
    earlier stage values ``Σ_c µ_j(c) v(c) >= value_j`` (the preemptive LPs of (1))."""
    b = _mechanism(a, name, "max")
    V = payoff_matrix(a)
    w0 = _f(a.w_const)
    mass = _f(mass)
    b.set_cost("z", V.T @ mass)
    b.offset = float(mass @ w0)
    if isinstance(floors, tuple) and len(floors) == 2 and sp.issparse(floors[0]):
        rows, vals = floors[0].tocsr(), np.asarray(floors[1], dtype=float)  # already a sparse block
    elif len(floors):
        rows = sp.csr_matrix(np.vstack([_f(m) for m, _ in floors]))
        vals = np.array([val for _, val in floors], dtype=float)
    else:
        rows = None
    if rows is not None:
        b.add_rows("stage_values", {"z": rows @ V}, lower=vals - rows @ w0,
                   description="earlier beliefs of the LPS keep their optimal values")
    return b.build(metadata={"program": name, "source": "000 eq. (1)"})


def build_maxmin(a: PriorFreeArrays, free: np.ndarray, floors: np.ndarray, name: str = "maxmin") -> LinearProgram:
    """max t s.t. t <= v(c) for the free cells, v(c) >= floors(c) for the fixed ones, z ∈ M
    (the maxmin problem (2) of 000; one stage of sequential leximin)."""
    b = _mechanism(a, name, "max")
    V, w0 = payoff_matrix(a), _f(a.w_const)
    b.add_variables("t", 1, lower=-np.inf, upper=np.inf, description="t: the worst payoff over the free profiles")
    b.set_cost("t", 1.0)
    free = np.flatnonzero(free)
    b.add_rows("worst", {"z": -V[free], "t": sp.csr_matrix(np.ones((len(free), 1)))}, upper=w0[free],
               description="t <= v(θ) at every free profile")
    fixed = np.flatnonzero(np.isfinite(floors))
    if len(fixed):
        b.add_rows("levels", {"z": V[fixed]}, lower=floors[fixed] - w0[fixed],
                   description="profiles fixed at earlier stages keep their levels")
    return b.build(metadata={"program": name, "source": "000 eq. (2)", "free": free, "fixed": fixed})


def build_admissibility(a: PriorFreeArrays, target: np.ndarray, support: np.ndarray | None = None,
                        name: str = "admissibility") -> LinearProgram:
    """max Σ_{θ ∈ S} e(θ) s.t. v(θ) - e(θ) >= v̄(θ), e >= 0 on S, z ∈ M (Definition 3 and
    Lemma 1 of 000, restricted to S as in the proof of Proposition 4). The mechanism with
    payoffs v̄ is undominated on S iff the value is 0; the duals of the ``gain`` rows are
    then a belief with support S against which it is optimal. Cells count with their
    multiplicity."""
    support = np.arange(a.n_cells) if support is None else np.asarray(support)
    b = _mechanism(a, name, "max")
    V, w0 = payoff_matrix(a), _f(a.w_const)
    k = len(support)
    b.add_variables("e", k, lower=0.0, description="e(θ): the payoff gained over the tested mechanism")
    b.set_cost("e", _f(a.multiplicity[support]))
    b.add_rows("gain", {"z": V[support], "e": -sp.identity(k, format="csr")}, lower=_f(target)[support] - w0[support],
               description="v(θ) - e(θ) >= v̄(θ): no profile loses")
    return b.build(metadata={"program": name, "source": "000 Lemma 1, Proposition 3", "support": support})


def build_ordered(a: PriorFreeArrays, stage: int, earlier: list[float], name: str = "ordered") -> LinearProgram:
    """Stage k of the ordered-outcomes formulation of leximin: maximize
    θ_k(v) = max_r k r - Σ_c mult(c) (r - v(c))^+, the sum of the k smallest payoffs, with
    θ_j >= θ_j* for j < k."""
    b = _mechanism(a, name, "max")
    V, w0 = payoff_matrix(a), _f(a.w_const)
    n = a.n_cells
    mult = _f(a.multiplicity)
    K = stage
    b.add_variables("r", K, lower=-np.inf, description="r_k: the threshold of the k-th cumulative ordered sum")
    b.add_variables("d", (K, n), lower=0.0, description="d_k(θ) >= (r_k - v(θ))^+")
    # d_k(c) + v(c) - r_k >= 0
    rows_V = sp.kron(np.ones((K, 1)), V, format="csr")
    r_sel = sp.kron(sp.identity(K), np.ones((n, 1)), format="csr")
    b.add_rows("shortfall", {"z": rows_V, "r": -r_sel, "d": sp.identity(K * n, format="csr")},
               lower=-np.tile(w0, K), description="d_k(θ) >= r_k - v(θ)")
    ks = np.arange(1, K + 1, dtype=float)
    theta_r = sp.diags(ks, format="csr")  # θ_j = j r_j - Σ mult d_j
    theta_d = -sp.kron(sp.identity(K), mult[None, :], format="csr")
    if K > 1:
        b.add_rows("cumulative", {"r": theta_r[: K - 1], "d": theta_d[: K - 1]}, lower=np.asarray(earlier, dtype=float),
                   description="earlier cumulative ordered sums keep their optimal values")
    cost_r = np.zeros(K)
    cost_r[-1] = K
    cost_d = np.zeros((K, n))
    cost_d[-1] = -mult
    b.set_cost("r", cost_r)
    b.set_cost("d", cost_d.reshape(-1))
    return b.build(metadata={"program": name, "source": "000 Proposition 4 (leximin)", "stage": K})


def build_face_functional(a: PriorFreeArrays, floors: np.ndarray, objective: np.ndarray, sense: str,
                          name: str = "face") -> LinearProgram:
    """min or max of a linear functional Σ objective(c)·z(c) over {z ∈ M: v(c) >= floors(c)}
    (e.g. the robust face of Example 1: the range of the high type's expected quality)."""
    b = _mechanism(a, name, sense)
    V, w0 = payoff_matrix(a), _f(a.w_const)
    b.set_cost("z", _f(objective).reshape(-1))
    fixed = np.flatnonzero(np.isfinite(floors))
    if len(fixed):
        b.add_rows("levels", {"z": V[fixed]}, lower=floors[fixed] - w0[fixed], description="the face's payoff floors")
    return b.build(metadata={"program": name})


# ---------------------------------------------------------------------------
# results


@dataclass
class Certificate:
    """An LPS µ = (µ_1, ..., µ_K) (mass per cell) that justifies a mechanism, and what it
    claims: ``adversarial`` (Definition 1), ``perfect`` (adversarial with full support,
    Definition 5), ``proper`` (strongly adversarial with full support, Definition 7),
    ``bayes``/``lps`` (the given beliefs)."""

    kind: str
    beliefs: list[np.ndarray]
    source: str = ""

    def per_profile(self, a: PriorFreeArrays) -> list[list[float]]:
        return [list(map(float, a.belief_per_profile(m))) for m in self.beliefs]


@dataclass
class Refinement:
    criterion: str
    arrays: PriorFreeArrays
    z: np.ndarray  # (n_cells, dim)
    payoffs: np.ndarray  # per cell
    certificate: Certificate | None = None
    stages: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: dict = field(default_factory=dict)
    exact: dict | None = None

    @property
    def value(self) -> float:
        """The worst payoff min_θ v(θ)."""
        return float(np.min(self.payoffs))

    def sorted_payoffs(self) -> np.ndarray:
        """The payoff order statistics V_(1) <= ... <= V_(|Θ|) (with multiplicities)."""
        return np.sort(np.repeat(self.payoffs, self.arrays.multiplicity))

    def outcome(self, slot: str) -> np.ndarray:
        return self.z[:, self.arrays.slots.index(slot)]


def _solve(solver: Solver, lp: LinearProgram):
    sol = solver(lp)
    if getattr(sol, "status", "optimal") != "optimal":
        raise SolverError(f"{lp.name}: {sol.status}", sol.status)
    return sol


def _z(a: PriorFreeArrays, lp: LinearProgram, x: np.ndarray) -> np.ndarray:
    return lp.block(x, "z").reshape(a.n_cells, a.dim)


def _scale(values) -> float:
    values = np.asarray(values, dtype=float)
    return max(1.0, float(np.max(np.abs(values))) if values.size else 1.0)


def uniform_mass(a: PriorFreeArrays) -> np.ndarray:
    """The uniform belief over type profiles, as mass per cell."""
    return a.multiplicity / a.multiplicity.sum()


def check_mass(a: PriorFreeArrays, mass, what: str = "a belief") -> np.ndarray:
    from ..errors import ParameterError

    mass = np.asarray(mass, dtype=float).reshape(-1)
    if mass.shape[0] != a.n_cells:
        raise ParameterError(f"{what} lists {mass.shape[0]} weights for {a.n_cells} "
                             + ("cells" if a.anonymous else "type profiles"))
    if np.any(mass < 0) or not np.isfinite(mass).all():
        raise ParameterError(f"{what} has a negative or non-finite weight")
    if mass.sum() <= 0:
        raise ParameterError(f"{what} has no positive weight")
    return mass / mass.sum()


# -- Bayes and LPS --------------------------------------------------------------


def lps_optimal(a: PriorFreeArrays, beliefs: list[np.ndarray], solver: Solver, criterion: str = "lps") -> Refinement:
    """A µ-optimal mechanism for the LPS µ = (µ_1, ..., µ_K): the preemptive sequence (1) of
    000, each stage holding the earlier values (fixed with τ = 0, raised only on
    infeasibility)."""
    beliefs = [check_mass(a, m, f"belief {k + 1}") for k, m in enumerate(beliefs)]
    floors: list[tuple[np.ndarray, float]] = []
    stages = []
    sol = lp = None
    for k, mass in enumerate(beliefs):
        lp, sol, tau = _solve_relaxing(solver, lambda tau: build_bayes(a, mass, [(m, v - tau * _scale([v])) for m, v in floors],
                                                                       name=f"{criterion}-stage-{k + 1}"))
        floors.append((mass, float(sol.objective)))
        stages.append({"stage": k + 1, "value": float(sol.objective), "dual_value": float(sol.dual_objective), "slack": tau})
    z = _z(a, lp, sol.x)
    res = Refinement(criterion, a, z, a.payoffs(z), Certificate(criterion, beliefs, "the given beliefs"), stages)
    return res


def bayes_optimal(a: PriorFreeArrays, mass: np.ndarray, solver: Solver) -> Refinement:
    """A Bayesian optimum for the prior ``mass`` (the one-belief LPS)."""
    return lps_optimal(a, [mass], solver, criterion="bayes")


def _solve_relaxing(solver: Solver, build: Callable[[float], LinearProgram]):
    """Solve with levels held exactly (τ = 0); on infeasibility raise τ by factors of 10
    from 1e-10 to 1e-6 (relative to each level's scale). Returns (lp, solution, τ)."""
    last = None
    for tau in (0.0, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6):
        lp = build(tau)
        try:
            return lp, _solve(solver, lp), tau
        except SolverError as exc:
            if exc.status not in ("infeasible", "infeasible_or_unbounded"):
                raise
            last = exc
    raise last


# -- robust ------------------------------------------------------------------


def robust(a: PriorFreeArrays, solver: Solver) -> Refinement:
    """A maxmin (= robust, Proposition 2 of 000) mechanism and Nature's adversarial belief
    ν from the duals of the rows t <= v(θ) (they sum to one: the column of t)."""
    lp = build_maxmin(a, np.ones(a.n_cells, bool), np.full(a.n_cells, np.nan))
    sol = _solve(solver, lp)
    nu = _belief_from_duals(lp.rows(sol.row_dual, "worst"), np.arange(a.n_cells), a.n_cells)
    z = _z(a, lp, sol.x)
    res = Refinement("robust", a, z, a.payoffs(z), Certificate("adversarial", [nu], "duals of the maxmin LP (2)"),
                     [{"stage": 1, "value": float(sol.objective), "dual_value": float(sol.dual_objective)}])
    return res


def _belief_from_duals(y: np.ndarray, cells: np.ndarray, n: int, sign: float = 1.0) -> np.ndarray:
    y = sign * np.asarray(y, dtype=float)
    y = np.where(y > 0, y, 0.0)
    mass = np.zeros(n)
    mass[cells] = y
    total = mass.sum()
    if total <= 0:
        raise SolverError("the solver returned no usable duals for a belief", "error")
    return mass / total


def face_range(a: PriorFreeArrays, floors: np.ndarray, objective: np.ndarray, solver: Solver) -> tuple[float, float]:
    """(min, max) of Σ objective·z over {z ∈ M : v >= floors}."""
    lo = _solve(solver, build_face_functional(a, floors, objective, "min", "face-min")).objective
    hi = _solve(solver, build_face_functional(a, floors, objective, "max", "face-max")).objective
    return float(lo), float(hi)


def maxmin_floors(a: PriorFreeArrays, solver: Solver) -> np.ndarray:
    """Floors v(θ) >= t* describing the robust (maxmin) face."""
    t = robust(a, solver).stages[0]["value"]
    return np.full(a.n_cells, t)


# -- perfect -----------------------------------------------------------------


def admissibility(a: PriorFreeArrays, payoffs: np.ndarray, solver: Solver, support: np.ndarray | None = None,
                  tol: float = 1e-7) -> tuple[float, np.ndarray | None]:
    """The admissibility LP for a mechanism with these payoffs: returns (total slack gain,
    full-support belief on ``support`` from the duals, or None when the gain is positive)."""
    support = np.arange(a.n_cells) if support is None else np.asarray(support)
    lp = build_admissibility(a, np.asarray(payoffs, dtype=float), support)
    sol = _solve(solver, lp)
    gain = float(sol.objective)
    if gain > tol * _scale(payoffs) * max(1, len(support)):
        return gain, None
    y = lp.rows(sol.row_dual, "gain")
    # HiGHS: c = Aᵀy + z; for max with rows v - e >= v̄ active at their lower bound, y <= 0
    mass = _belief_from_duals(y, support, a.n_cells, sign=-1.0)
    return gain, mass


def perfectly_robust(a: PriorFreeArrays, solver: Solver, mass: np.ndarray | None = None) -> Refinement:
    """Maxmin, then the full-support objective ``mass`` (uniform by default) over the
    maxmin face; certified by the LPS (ν, ρ) of the proof of Proposition 3: ν adversarial
    from the maxmin duals, ρ full support from the admissibility LP's duals."""
    mass = uniform_mass(a) if mass is None else check_mass(a, mass, "the full-support objective")
    if np.any(mass <= 0):
        raise UnsupportedError("the perfectly robust criterion needs a full-support objective (every weight > 0)")
    rob = robust(a, solver)
    t = rob.stages[0]["value"]
    # every profile keeps the maxmin value: one sparse identity block, not n dense rows
    lp, sol, tau = _solve_relaxing(solver, lambda tau: build_bayes(
        a, mass, (sp.identity(a.n_cells, format="csr"), np.full(a.n_cells, t - tau * _scale([t]))), name="perfect-stage-2"))
    z = _z(a, lp, sol.x)
    v = a.payoffs(z)
    gain, rho = admissibility(a, v, solver)
    notes = []
    if rho is None:  # pragma: no cover - the face objective has full support, so this is a solver failure
        raise SolverError(f"the mechanism found over the maxmin face is dominated (gain {gain:g}): solver tolerance", "error")
    stages = rob.stages + [{"stage": 2, "value": float(sol.objective), "dual_value": float(sol.dual_objective), "slack": tau},
                           {"stage": "admissibility", "gain": gain}]
    return Refinement("perfect", a, z, v, Certificate("perfect", [rob.certificate.beliefs[0], rho],
                                                      "(ν, ρ): maxmin duals, admissibility duals (Proposition 3)"), stages, notes)


# -- proper (leximin) -------------------------------------------------------------


def leximin_sequential(a: PriorFreeArrays, solver: Solver, saturation: str = "test", tol: float = 1e-7) -> Refinement:
    """Leximin by sequential maxmin (Proposition 4 of 000). Stage k: max t over the free
    profiles with the fixed ones at their levels; the profiles with positive dual weight
    are saturated (complementary slackness: v(θ) = t_k in every optimum) and are fixed;
    with ``saturation="test"`` the others are tested too (one screening LP, then max v(θ)
    per undecided profile). At least one profile is fixed per stage."""
    n = a.n_cells
    floors = np.full(n, np.nan)
    free = np.ones(n, bool)
    stages = []
    lp = sol = None
    while free.any():
        k = len(stages) + 1
        lp, sol, tau = _solve_relaxing(solver, lambda tau: build_maxmin(
            a, free, np.where(np.isfinite(floors), floors - tau * _scale(floors[np.isfinite(floors)]), np.nan), name=f"leximin-stage-{k}"))
        t = float(sol.objective)
        cells = np.flatnonzero(free)
        y = lp.rows(sol.row_dual, "worst")
        sat = np.zeros(n, bool)
        sat[cells[y > 1e-9]] = True
        sat[cells[int(np.argmax(y))]] = True  # the duals sum to one: at least one profile is fixed
        tested = 0
        if saturation == "test":
            undecided = np.flatnonzero(free & ~sat)
            if len(undecided):
                undecided, tested = _saturation_tests(a, solver, free, floors, t, undecided, tol)
                sat[undecided] = True
        floors[sat] = t
        free &= ~sat
        stages.append({"stage": k, "level": t, "fixed": [int(c) for c in np.flatnonzero(sat)], "slack": tau,
                       "saturation_tests": tested, "dual_value": float(sol.dual_objective)})
    z = _z(a, lp, sol.x)
    v = a.payoffs(z)
    drift = float(np.max(np.abs(v - floors))) if n else 0.0
    res = Refinement("proper", a, z, v, None, stages)
    res.checks["level_drift"] = drift
    return res


def _saturation_tests(a, solver, free, floors, t, undecided, tol):
    """Which undecided free profiles cannot rise above t: one LP maximizing Σ g(θ) with
    g(θ) <= v(θ) - t, 0 <= g <= 1 clears every profile it lifts; the rest get max v(θ)."""
    V, w0 = payoff_matrix(a), _f(a.w_const)
    others = np.flatnonzero(free)
    b = _mechanism(a, "saturation-screen", "max")
    k = len(undecided)
    b.add_variables("g", k, lower=0.0, upper=1.0)
    b.set_cost("g", 1.0)
    b.add_rows("worst", {"z": V[others]}, lower=t - w0[others])
    b.add_rows("lift", {"z": V[undecided], "g": -sp.identity(k, format="csr")}, lower=t - w0[undecided])
    fixed = np.flatnonzero(np.isfinite(floors))
    if len(fixed):
        b.add_rows("levels", {"z": V[fixed]}, lower=floors[fixed] - w0[fixed])
    lp = b.build()
    sol = _solve(solver, lp)
    g = lp.block(sol.x, "g")
    eps = tol * _scale([t])
    remaining = undecided[g <= eps]
    saturated = []
    tests = 1
    for c in remaining:
        e = np.zeros((a.n_cells, a.dim))
        e[c] = _f(a.w_coef[c])
        floors_here = np.where(np.isfinite(floors), floors, np.nan)
        floors_here[others] = t
        top = _solve(solver, build_face_functional(a, floors_here, e, "max", "saturation-test")).objective + float(w0[c])
        tests += 1
        if top <= t + eps:
            saturated.append(c)
    return np.asarray(saturated, dtype=np.int64), tests


def leximin_ordered(a: PriorFreeArrays, solver: Solver) -> Refinement:
    """Leximin by the ordered-outcomes formulation: lexicographically maximize the
    cumulative sums θ_1 <= θ_2 <= ... of the k smallest payoffs (one LP per k)."""
    m = a.n_profiles
    if m > MAX_ORDERED_PROFILES:
        raise UnsupportedError(f"the ordered-outcomes formulation needs |Θ| <= {MAX_ORDERED_PROFILES} "
                               f"(one LP per profile), got {m}; use --method sequential")
    earlier: list[float] = []
    stages = []
    lp = sol = None
    for k in range(1, m + 1):
        lp, sol, tau = _solve_relaxing(solver, lambda tau: build_ordered(
            a, k, [e - tau * _scale([e]) for e in earlier], name=f"ordered-stage-{k}"))
        earlier.append(float(sol.objective))
        stages.append({"stage": k, "cumulative": float(sol.objective), "slack": tau})
    z = _z(a, lp, sol.x)
    return Refinement("proper", a, z, a.payoffs(z), None, stages, ["leximin by the ordered-outcomes formulation"])


def level_sets(payoffs: np.ndarray, tol: float = 1e-7) -> list[np.ndarray]:
    """Θ(1), Θ(2), ...: the cells of the k-th lowest payoff value (values within
    tol·scale of the previous one are the same value)."""
    v = np.asarray(payoffs, dtype=float)
    order = np.argsort(v, kind="stable")
    eps = tol * _scale(v)
    breaks = np.flatnonzero(np.diff(v[order]) > eps) + 1
    return [np.sort(g) for g in np.split(order, breaks)]


def level_set_certificate(a: PriorFreeArrays, payoffs: np.ndarray, solver: Solver, tol: float = 1e-7) -> tuple[Certificate | None, list[float]]:
    """The LPS of the proof of Proposition 4 of 000: µ_k with support Θ(1) ∪ ... ∪ Θ(k),
    against which the mechanism is optimal, from the admissibility LP on that set.
    Returns (certificate or None when some level admits a weakly dominating mechanism,
    the gain per level)."""
    beliefs, gains = [], []
    support = np.zeros(0, dtype=np.int64)
    for level in level_sets(payoffs, tol):
        support = np.sort(np.concatenate([support, level]))
        gain, mass = admissibility(a, payoffs, solver, support, tol)
        gains.append(gain)
        if mass is None:
            return None, gains
        beliefs.append(mass)
    return Certificate("proper", beliefs, "level sets, proof of Proposition 4"), gains


def properly_robust(a: PriorFreeArrays, solver: Solver, method: str = "sequential", saturation: str = "test") -> Refinement:
    """A properly robust (= leximin optimal, Proposition 4) mechanism with the certificate
    LPS built from its level sets."""
    if method == "sequential":
        res = leximin_sequential(a, solver, saturation)
    elif method == "ordered":
        res = leximin_ordered(a, solver)
    else:
        raise UnsupportedError(f"unknown leximin method '{method}' (sequential or ordered)")
    cert, gains = level_set_certificate(a, res.payoffs, solver)
    if cert is None:
        raise SolverError(f"the leximin mechanism failed its own level-set test (gains {gains}): "
                          "the payoffs are below solver tolerance; use the anonymous program or --exact", "error")
    res.certificate = cert
    res.stages.append({"stage": "certificate", "level_gains": gains})
    return res


# -- membership ---------------------------------------------------------------------


def membership(a: PriorFreeArrays, z: np.ndarray, solver: Solver, tol: float = 1e-7) -> dict:
    """Which criteria a given mechanism z meets: feasible; robust (maxmin, Proposition 2);
    perfectly robust (maxmin and admissible, Proposition 3: the admissibility LP's gain is
    0); properly robust (leximin, Proposition 4: every level set's admissibility LP has
    gain 0), each with its certificate."""
    z = np.asarray(z, dtype=float).reshape(a.n_cells, a.dim)
    v = a.payoffs(z)
    viol = a.violations(z)
    feasible = max(viol.values(), default=0.0) <= tol * _scale(z)
    rob = robust(a, solver)
    t = rob.stages[0]["value"]
    is_robust = feasible and v.min() >= t - tol * _scale([t])
    gain, rho = admissibility(a, v, solver, tol=tol)
    is_perfect = is_robust and rho is not None
    cert, gains = level_set_certificate(a, v, solver, tol)
    out = {"feasible": feasible, "violations": viol, "maxmin_value": t, "worst_payoff": float(v.min()),
           "robust": bool(is_robust), "admissibility_gain": gain, "perfect": bool(is_perfect),
           "proper": bool(feasible and cert is not None), "level_gains": gains}
    if is_robust:
        # ν from the maxmin duals is adversarial for every maxmin mechanism (complementary slackness)
        out["robust_certificate"] = Certificate("adversarial", rob.certificate.beliefs)
    if is_perfect:
        out["perfect_certificate"] = Certificate("perfect", [rob.certificate.beliefs[0], rho])
    if feasible and cert is not None:
        out["proper_certificate"] = cert
    return out


# ---------------------------------------------------------------------------
# certificate checkers


def check_full_support(beliefs: list[np.ndarray]) -> tuple[bool, np.ndarray]:
    """Definition 4: every profile has positive probability in some belief. Returns (ok, missing cells)."""
    covered = np.any(np.vstack([np.asarray(m, dtype=float) > 0 for m in beliefs]), axis=0)
    return bool(covered.all()), np.flatnonzero(~covered)


def check_adversarial(beliefs: list[np.ndarray], payoffs: np.ndarray, tol: float = 1e-7) -> bool:
    """Definition 1: µ_1(θ) > 0 only at profiles that minimize the payoff."""
    v = np.asarray(payoffs, dtype=float)
    support = np.asarray(beliefs[0], dtype=float) > 0
    return bool(np.all(v[support] <= v.min() + tol * _scale(v)))


def first_appearance(beliefs: list[np.ndarray]) -> np.ndarray:
    """min{k : µ_k(θ) > 0} per cell (0-based; len(beliefs) where none)."""
    pos = np.vstack([np.asarray(m, dtype=float) > 0 for m in beliefs])
    return np.where(pos.any(axis=0), np.argmax(pos, axis=0), len(beliefs))


def check_strongly_adversarial(beliefs: list[np.ndarray], payoffs: np.ndarray, tol: float = 1e-7) -> bool:
    """Definition 6: V(θ) <= V(θ') whenever θ >=_µ θ' (θ appears no later than θ'); so
    profiles first appearing in the same belief have equal payoffs, and payoffs rise with
    the first-appearance index."""
    v = np.asarray(payoffs, dtype=float)
    f = first_appearance(beliefs)
    eps = tol * _scale(v)
    groups = np.unique(f)
    top = np.array([v[f == g].max() for g in groups])
    low = np.array([v[f == g].min() for g in groups])
    suffix_min = np.minimum.accumulate(low[::-1])[::-1]
    return bool(np.all(top <= suffix_min + eps))


def check_mu_optimal(a: PriorFreeArrays, beliefs: list[np.ndarray], z: np.ndarray, solver: Solver,
                     tol: float = 1e-7) -> tuple[bool, list[float]]:
    """µ-optimality by the preemptive LPs: stage k maximizes Σ µ_k v over M holding the
    earlier beliefs at the mechanism's own values; the mechanism is µ-optimal iff no stage
    gains. Returns (ok, gain per stage)."""
    z = np.asarray(z, dtype=float).reshape(a.n_cells, a.dim)
    v = a.payoffs(z)
    gains, floors = [], []
    for k, mass in enumerate(beliefs):
        mass = np.asarray(mass, dtype=float)
        own = float(mass @ v)
        lp, sol, _ = _solve_relaxing(solver, lambda tau: build_bayes(a, mass, [(m, val - tau * _scale([val])) for m, val in floors],
                                                                     name=f"check-stage-{k + 1}"))
        gains.append(float(sol.objective) - own)
        floors.append((mass, own))
    scale = _scale(v)
    feasible = max(a.violations(z).values(), default=0.0) <= tol * _scale(z)
    return bool(feasible and all(g <= tol * scale for g in gains)), gains


def check_certificate(a: PriorFreeArrays, certificate: Certificate, z: np.ndarray, solver: Solver, tol: float = 1e-7) -> dict:
    """Every property the certificate claims, checked: µ-optimality (preemptive LPs), and
    by kind adversarial, full support, strongly adversarial (first-appearance index)."""
    z = np.asarray(z, dtype=float).reshape(a.n_cells, a.dim)
    v = a.payoffs(z)
    ok_opt, gains = check_mu_optimal(a, certificate.beliefs, z, solver, tol)
    out = {"mu_optimal": ok_opt, "stage_gains": gains}
    if certificate.kind in ("adversarial", "perfect", "proper"):
        out["adversarial"] = check_adversarial(certificate.beliefs, v, tol)
    if certificate.kind in ("perfect", "proper"):
        out["full_support"] = check_full_support(certificate.beliefs)[0]
    if certificate.kind == "proper":
        out["strongly_adversarial"] = check_strongly_adversarial(certificate.beliefs, v, tol)
    out["passed"] = all(val for key, val in out.items() if isinstance(val, bool))
    return out


# ---------------------------------------------------------------------------
# exact re-verification


def _exact_rows(a: PriorFreeArrays):
    """M as exact rows: list of (dict col -> Fraction, lower, upper) plus column bounds."""
    rows = []
    for fam, r, c, v, m, lo, hi, _ in mechanism_families(a):
        table = [dict() for _ in range(m)]
        for i, j, x in zip(r.tolist(), c.tolist(), v.tolist()):
            if x != 0:
                table[i][j] = table[i].get(j, Fraction(0)) + Fraction(x)
        for i in range(m):
            rows.append((table[i], _exactify(lo[i]), _exactify(hi[i])))
    lower = [_exactify(x) for x in a.lower.reshape(-1)]
    upper = [_exactify(x) for x in a.upper.reshape(-1)]
    return rows, lower, upper


def _exactify(x):
    if isinstance(x, Fraction):
        return x
    x = float(x)
    if not np.isfinite(x):
        return None
    return Fraction(x).limit_denominator(10**12)


def _rational(x: float, max_den: int = 10**7) -> Fraction:
    return Fraction(float(x)).limit_denominator(max_den)


def _solve_exact(equations: list[tuple[dict, Fraction]], n: int, guess: list[Fraction]) -> list[Fraction] | None:
    """A rational solution of the linear equations (dict col -> coef, rhs) in n unknowns:
    Gauss-Jordan elimination; free unknowns take their (rationalized) guess. None when
    the equations are inconsistent."""
    pivots: list[tuple[int, dict, Fraction]] = []
    for coefs, rhs in equations:
        row, b = dict(coefs), Fraction(rhs)
        for col, prow, pb in pivots:
            f = row.get(col)
            if f:
                for j, x in prow.items():
                    row[j] = row.get(j, Fraction(0)) - f * x
                    if row[j] == 0:
                        del row[j]
                b -= f * pb
        if not row:
            if b != 0:
                return None
            continue
        col = max(row, key=lambda j: abs(row[j]))
        p = row[col]
        row = {j: x / p for j, x in row.items()}
        b /= p
        for k, (c2, r2, b2) in enumerate(pivots):  # keep earlier pivot rows reduced
            f = r2.get(col)
            if f:
                for j, x in row.items():
                    r2[j] = r2.get(j, Fraction(0)) - f * x
                    if r2[j] == 0:
                        del r2[j]
                pivots[k] = (c2, r2, b2 - f * b)
        pivots.append((col, row, b))
    x = list(guess)
    pivot_cols = {c for c, _, _ in pivots}
    for col, row, b in pivots:
        x[col] = b - sum((v * x[j] for j, v in row.items() if j != col and j not in pivot_cols), Fraction(0))
    return x


def exact_verify(a_exact: PriorFreeArrays, result: Refinement, solver: Solver, tol: float = 1e-7) -> dict:
    """Re-verify a result in rational arithmetic (small instances).

    1. The mechanism: the constraints of M tight at the float solution are solved exactly
       (free directions take rationalized values) and every constraint is checked exactly.
    2. Each belief µ_k of the certificate: an exact dual certificate that the mechanism is
       µ_k-optimal over M (µ_k and the multipliers solved exactly on the float duals'
       support, signs and complementary slackness checked exactly): the mechanism is then
       µ-optimal exactly. The certificate's support conditions are checked on exact payoffs.
    """
    a = a_exact
    n, d = a.n_cells, a.dim
    rows, lo_col, hi_col = _exact_rows(a)
    x_float = np.asarray(result.z, dtype=float).reshape(-1)
    N = n * d
    eps = 1e-7 * max(1.0, float(np.max(np.abs(x_float))) if N else 1.0)
    eqs = []
    for j in range(N):
        for bnd in (lo_col[j], hi_col[j]):
            if bnd is not None and abs(x_float[j] - float(bnd)) <= eps:
                eqs.append(({j: Fraction(1)}, bnd))
                break
    for coefs, lo, hi in rows:
        act = sum(float(v) * x_float[j] for j, v in coefs.items())
        for bnd in (lo, hi):
            if bnd is not None and abs(act - float(bnd)) <= eps * max(1, len(coefs)):
                eqs.append((coefs, bnd))
                break
    x = _solve_exact(eqs, N, [_rational(v) for v in x_float])
    out: dict = {"mechanism_exact": x is not None}
    if x is None:
        out["passed"] = False
        out["reason"] = "the constraints tight at the float solution are inconsistent in exact arithmetic"
        return out
    feasible = all((lo_col[j] is None or x[j] >= lo_col[j]) and (hi_col[j] is None or x[j] <= hi_col[j]) for j in range(N))
    activity = [sum((v * x[j] for j, v in coefs.items()), Fraction(0)) for coefs, _, _ in rows]
    feasible = feasible and all((lo is None or act >= lo) and (hi is None or act <= hi) for act, (_, lo, hi) in zip(activity, rows))
    out["feasible"] = feasible
    z = np.array(x, dtype=object).reshape(n, d)
    payoffs = [sum((a.w_coef[c][k] * z[c][k] for k in range(d)), Fraction(0)) + a.w_const[c] for c in range(n)]
    out["payoffs"] = payoffs
    out["z"] = z
    beliefs_exact, per_belief = [], []
    certificate = result.certificate
    if certificate is None:
        out["passed"] = feasible
        return out
    for k, mass in enumerate(certificate.beliefs):
        ok, mu = _exact_optimality(a, rows, lo_col, hi_col, x, activity, np.asarray(mass, dtype=float), solver)
        per_belief.append(ok)
        beliefs_exact.append(mu)
    out["beliefs_optimal"] = per_belief
    out["beliefs"] = beliefs_exact
    passed = feasible and all(per_belief)
    if passed:
        v = payoffs
        vmin = min(v)
        if certificate.kind in ("adversarial", "perfect", "proper"):
            out["adversarial"] = all(v[c] == vmin for c in range(n) if beliefs_exact[0][c] > 0)
            passed &= out["adversarial"]
        if certificate.kind in ("perfect", "proper"):
            out["full_support"] = all(any(mu[c] > 0 for mu in beliefs_exact) for c in range(n))
            passed &= out["full_support"]
        if certificate.kind == "proper":
            first = [min((k for k, mu in enumerate(beliefs_exact) if mu[c] > 0), default=len(beliefs_exact)) for c in range(n)]
            out["strongly_adversarial"] = all(v[c] <= v[e] for c in range(n) for e in range(n) if first[c] <= first[e])
            passed &= out["strongly_adversarial"]
    out["passed"] = bool(passed)
    return out


def _exact_optimality(a, rows, lo_col, hi_col, x, activity, mass, solver):
    """Exact dual certificate that x maximizes Σ µ(c) v(c) over M, µ near ``mass`` with the
    same support. Unknowns: µ on the support and multipliers on the float optimal duals'
    support; equations: ∇(µ·v) = Aᵀy + z_bounds, Σ µ = 1."""
    n, d = a.n_cells, a.dim
    lp = build_bayes(a, mass, name="exact-guide")
    sol = _solve(solver, lp)
    m_rows = len(rows)
    y = np.asarray(sol.row_dual[:m_rows], dtype=float)
    zc = np.asarray(sol.col_dual[: n * d], dtype=float)
    support = np.flatnonzero(mass > 0)
    scale = max(1.0, float(np.max(np.abs(y), initial=0.0)), float(np.max(np.abs(zc), initial=0.0)))
    ry = [r for r in range(m_rows) if abs(y[r]) > 1e-9 * scale]
    rz = [j for j in range(n * d) if abs(zc[j]) > 1e-9 * scale]
    # unknown layout: µ (support) | y (ry) | z (rz)
    nu, ny = len(support), len(ry)
    idx_y = {r: nu + k for k, r in enumerate(ry)}
    idx_z = {j: nu + ny + k for k, j in enumerate(rz)}
    cols_eq: dict[int, dict] = {}
    for k, c in enumerate(support):
        for s in range(d):
            w = a.w_coef[c][s]
            if w != 0:
                cols_eq.setdefault(c * d + s, {})[k] = Fraction(w)
    for r in ry:
        for j, v in rows[r][0].items():
            e = cols_eq.setdefault(j, {})
            e[idx_y[r]] = e.get(idx_y[r], Fraction(0)) - v
    for j in rz:
        e = cols_eq.setdefault(j, {})
        e[idx_z[j]] = e.get(idx_z[j], Fraction(0)) - 1
    eqs = [(coefs, Fraction(0)) for coefs in cols_eq.values()]
    eqs.append(({k: Fraction(1) for k in range(nu)}, Fraction(1)))
    guess = [_rational(mass[c] / mass[support].sum()) for c in support] + [_rational(y[r]) for r in ry] + [_rational(zc[j]) for j in rz]
    u = _solve_exact(eqs, nu + ny + len(rz), guess)
    mu = [Fraction(0)] * n
    if u is None:
        return False, mu
    for k, c in enumerate(support):
        mu[c] = u[k]
    ok = all(u[k] > 0 for k in range(nu))
    # signs and complementary slackness (max problem, HiGHS convention c = Aᵀy + z)
    for r in ry:
        val, (_, lo, hi) = u[idx_y[r]], rows[r]
        if val > 0:
            ok &= hi is not None and activity[r] == hi
        elif val < 0:
            ok &= lo is not None and activity[r] == lo
    for j in rz:
        val = u[idx_z[j]]
        if val > 0:
            ok &= hi_col[j] is not None and x[j] == hi_col[j]
        elif val < 0:
            ok &= lo_col[j] is not None and x[j] == lo_col[j]
    return bool(ok), mu


# ---------------------------------------------------------------------------


def refine(a: PriorFreeArrays, criterion: str, solver: Solver, beliefs: list[np.ndarray] | None = None,
           method: str = "sequential", saturation: str = "test", check: bool = True) -> Refinement:
    """Run one criterion of 000 and check the certificate it prints."""
    if criterion == "bayes":
        mass = beliefs[0] if beliefs else uniform_mass(a)
        res = bayes_optimal(a, mass, solver)
    elif criterion == "lps":
        if not beliefs:
            from ..errors import ParameterError

            raise ParameterError("the lps criterion needs beliefs (--belief w1,w2,... once per belief, in order)")
        res = lps_optimal(a, beliefs, solver)
    elif criterion == "robust":
        res = robust(a, solver)
    elif criterion == "perfect":
        res = perfectly_robust(a, solver, beliefs[0] if beliefs else None)
    elif criterion == "proper":
        res = properly_robust(a, solver, method, saturation)
    else:
        raise UnsupportedError(f"unknown criterion '{criterion}'; choose one of {', '.join(CRITERIA)}")
    if check and res.certificate is not None:
        res.checks.update(check_certificate(a, res.certificate, res.z, solver))
    return res
