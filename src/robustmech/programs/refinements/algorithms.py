"""The refinements of maxmin of 000 (Kambhampati) as sequences of the stage LPs.

* ``bayes``: max Σ_θ ρ(θ) v(θ) (a Bayesian optimum, Proposition 1 of 000);
* ``lps``: the preemptive sequence for an LPS µ = (µ_1, ..., µ_K), eq. (1): stage k
  maximizes Σ µ_k v holding the earlier stage values;
* ``robust``: max t s.t. t <= v(θ) for all θ, eq. (2); by Proposition 2 robust = maxmin,
  and the duals of the rows t <= v(θ) are Nature's adversarial belief;
* ``perfect``: maxmin, then a full-support objective over the maxmin face; a mechanism is
  perfectly robust iff maxmin and admissible (Proposition 3), tested by the admissibility
  LP (Lemma 1), whose duals give a full-support belief;
* ``proper``: leximin (Proposition 4), by sequential maxmin with saturation tests, or by
  the ordered-outcomes formulation; the certificate LPS of Proposition 4 is built from
  level sets: µ_k has support Θ(1) ∪ ... ∪ Θ(k) and comes from the admissibility LP
  restricted to that set.

Each sequential-maxmin stage fixes at least the profile of largest dual weight (the
duals sum to one), so the loop ends after at most |Θ| stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import ParameterError, SolverError, UnsupportedError
from ...lower.prior_free import PriorFreeArrays
from .certificates import LPSCertificate, check_certificate
from .polytope import as_float
from .solving import Solver, belief_from_duals, mechanism, scale, solve_optimal, solve_relaxing
from .stage_programs import stage

CRITERIA = ("bayes", "lps", "robust", "perfect", "proper")
METHODS = ("sequential", "ordered")
SATURATION = ("test", "dual")
MAX_ORDERED_PROFILES = 400


@dataclass
class Refinement:
    """A mechanism z (n_cells × dim) chosen by ``criterion``, its payoffs per cell, the
    LPS that certifies it, the stages that computed it, and the checks it passed."""

    criterion: str
    arrays: PriorFreeArrays
    z: np.ndarray
    payoffs: np.ndarray
    certificate: LPSCertificate | None = None
    stages: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: dict = field(default_factory=dict)
    exact: dict | None = None

    @property
    def value(self) -> float:
        """The worst payoff min_θ v(θ)."""
        return float(np.min(self.payoffs))

    @property
    def passed(self) -> bool:
        """Whether the certificate checks (and the exact re-verification, if run) passed."""
        return bool(self.checks.get("passed", True) and (self.exact is None or self.exact["passed"]))

    def sorted_payoffs(self) -> np.ndarray:
        """The payoff order statistics V_(1) <= ... <= V_(|Θ|) (with multiplicities)."""
        return np.sort(np.repeat(self.payoffs, self.arrays.multiplicity))

    def outcome(self, slot: str) -> np.ndarray:
        """One outcome coordinate (``Q``, ``P[1]``) per cell."""
        return self.z[:, self.arrays.slots.index(slot)]


def uniform_mass(a: PriorFreeArrays) -> np.ndarray:
    """The uniform belief over type profiles, as mass per cell."""
    return a.multiplicity / a.multiplicity.sum()


def check_mass(a: PriorFreeArrays, mass, what: str = "a belief") -> np.ndarray:
    """A belief as mass per cell, normalized; a ParameterError for a wrong length or
    a negative, non-finite or all-zero weight."""
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
    if not len(beliefs):
        raise ParameterError("an LPS lists at least one belief")
    beliefs = [check_mass(a, m, f"belief {k + 1}") for k, m in enumerate(beliefs)]
    floors: list[tuple[np.ndarray, float]] = []
    stages = []
    for k, mass in enumerate(beliefs):
        lp, sol, tau = solve_relaxing(solver, lambda tau, mass=mass, k=k: stage(
            "refinement-bayes", a, mass=mass, floors=[(m, v - tau * scale([v])) for m, v in floors],
            name=f"{criterion}-stage-{k + 1}"))
        floors.append((mass, float(sol.objective)))
        stages.append({"stage": k + 1, "value": float(sol.objective), "dual_value": float(sol.dual_objective),
                       "slack": tau})
    z = mechanism(a, lp, sol.x)
    return Refinement(criterion, a, z, a.payoffs(z), LPSCertificate(criterion, beliefs, "the given beliefs"), stages)


def bayes_optimal(a: PriorFreeArrays, mass: np.ndarray, solver: Solver) -> Refinement:
    """A Bayesian optimum for the prior ``mass`` (the one-belief LPS, Proposition 1 of 000)."""
    return lps_optimal(a, [mass], solver, criterion="bayes")


# -- robust ------------------------------------------------------------------


def robust(a: PriorFreeArrays, solver: Solver) -> Refinement:
    """A maxmin (= robust, Proposition 2 of 000) mechanism and Nature's adversarial belief
    ν from the duals of the rows t <= v(θ) (they sum to one: the column of t)."""
    lp = stage("refinement-maxmin", a, free=np.ones(a.n_cells, bool), floors=np.full(a.n_cells, np.nan))
    sol = solve_optimal(solver, lp)
    nu = belief_from_duals(lp.rows(sol.row_dual, "worst"), np.arange(a.n_cells), a.n_cells)
    z = mechanism(a, lp, sol.x)
    return Refinement("robust", a, z, a.payoffs(z), LPSCertificate("adversarial", [nu], "duals of the maxmin LP (2)"),
                      [{"stage": 1, "value": float(sol.objective), "dual_value": float(sol.dual_objective)}])


def face_range(a: PriorFreeArrays, floors: np.ndarray, objective: np.ndarray, solver: Solver) -> tuple[float, float]:
    """(min, max) of Σ objective·z over {z ∈ M : v >= floors}."""
    lo = solve_optimal(solver, stage("refinement-face", a, floors=floors, objective=objective, sense="min",
                                     name="face-min")).objective
    hi = solve_optimal(solver, stage("refinement-face", a, floors=floors, objective=objective, sense="max",
                                     name="face-max")).objective
    return float(lo), float(hi)


def maxmin_floors(a: PriorFreeArrays, solver: Solver) -> np.ndarray:
    """Floors v(θ) >= t* describing the robust (maxmin) face."""
    return np.full(a.n_cells, robust(a, solver).stages[0]["value"])


# -- perfect -----------------------------------------------------------------


def admissibility(a: PriorFreeArrays, payoffs: np.ndarray, solver: Solver, support: np.ndarray | None = None,
                  tol: float = 1e-7) -> tuple[float, np.ndarray | None]:
    """The admissibility LP (Lemma 1 of 000) for a mechanism with these payoffs: returns
    (total slack gain, a belief on ``support`` from the duals, or None when the gain is
    positive)."""
    support = np.arange(a.n_cells) if support is None else np.asarray(support)
    lp = stage("refinement-admissibility", a, target=np.asarray(payoffs, dtype=float), support=support)
    sol = solve_optimal(solver, lp)
    gain = float(sol.objective)
    if gain > tol * scale(payoffs) * max(1, len(support)):
        return gain, None
    # HiGHS: c = Aᵀy + z; for max with rows v - e >= v̄ active at their lower bound, y <= 0
    return gain, belief_from_duals(lp.rows(sol.row_dual, "gain"), support, a.n_cells, sign=-1.0)


def perfectly_robust(a: PriorFreeArrays, solver: Solver, mass: np.ndarray | None = None) -> Refinement:
    """Maxmin, then the full-support objective ``mass`` (uniform by default) over the
    maxmin face; certified by the LPS (ν, ρ) of the proof of Proposition 3 of 000: ν
    adversarial from the maxmin duals, ρ full support from the admissibility LP's duals."""
    mass = uniform_mass(a) if mass is None else check_mass(a, mass, "the full-support objective")
    if np.any(mass <= 0):
        raise UnsupportedError("the perfectly robust criterion needs a full-support objective (every weight > 0)")
    rob = robust(a, solver)
    assert rob.certificate is not None  # robust() certifies with Nature's adversarial belief
    t = rob.stages[0]["value"]
    lp, sol, tau = solve_relaxing(solver, lambda tau: stage(
        "refinement-bayes", a, mass=mass, payoff_floors=np.full(a.n_cells, t - tau * scale([t])),
        name="perfect-stage-2"))
    z = mechanism(a, lp, sol.x)
    v = a.payoffs(z)
    gain, rho = admissibility(a, v, solver)
    if rho is None:  # pragma: no cover - the face objective has full support, so this is a solver failure
        raise SolverError(f"the mechanism found over the maxmin face is dominated (gain {gain:g}): solver tolerance",
                          "error")
    stages = rob.stages + [{"stage": 2, "value": float(sol.objective), "dual_value": float(sol.dual_objective),
                            "slack": tau},
                           {"stage": "admissibility", "gain": gain}]
    certificate = LPSCertificate("perfect", [rob.certificate.beliefs[0], rho],
                                 "(ν, ρ): maxmin duals, admissibility duals (Proposition 3)")
    return Refinement("perfect", a, z, v, certificate, stages)


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
    stages: list[dict] = []
    lp = sol = None
    while free.any():
        k = len(stages) + 1
        lp, sol, tau = solve_relaxing(solver, lambda tau, free=free, k=k: stage(
            "refinement-maxmin", a, free=free,
            floors=np.where(np.isfinite(floors), floors - tau * scale(floors[np.isfinite(floors)]), np.nan),
            name=f"leximin-stage-{k}"))
        t = float(sol.objective)
        cells = np.flatnonzero(free)
        y = lp.rows(sol.row_dual, "worst")
        saturated = np.zeros(n, bool)
        saturated[cells[y > 1e-9]] = True
        saturated[cells[int(np.argmax(y))]] = True  # the duals sum to one: at least one profile is fixed
        tested = 0
        if saturation == "test":
            undecided = np.flatnonzero(free & ~saturated)
            if len(undecided):
                undecided, tested = _saturation_tests(a, solver, free, floors, t, undecided, tol)
                saturated[undecided] = True
        floors[saturated] = t
        free &= ~saturated
        stages.append({"stage": k, "level": t, "fixed": [int(c) for c in np.flatnonzero(saturated)], "slack": tau,
                       "saturation_tests": tested, "dual_value": float(sol.dual_objective)})
    assert lp is not None and sol is not None  # a.n_cells >= 1: at least one stage
    z = mechanism(a, lp, sol.x)
    v = a.payoffs(z)
    res = Refinement("proper", a, z, v, None, stages)
    res.checks["level_drift"] = float(np.max(np.abs(v - floors))) if n else 0.0
    return res


def _saturation_tests(a, solver, free, floors, t, undecided, tol):
    """Which undecided free profiles cannot rise above t: the screening LP clears every
    profile it lifts; the rest get max v(θ) over the stage's face."""
    lp = stage("refinement-saturation", a, free=free, floors=floors, level=t, undecided=undecided)
    g = lp.block(solve_optimal(solver, lp).x, "g")
    eps = tol * scale([t])
    w0 = as_float(a.w_const)
    saturated, tests = [], 1
    for c in undecided[g <= eps]:
        objective = np.zeros((a.n_cells, a.dim))
        objective[c] = as_float(a.w_coef[c])
        floors_here = np.where(np.isfinite(floors), floors, np.nan)
        floors_here[np.flatnonzero(free)] = t
        face = stage("refinement-face", a, floors=floors_here, objective=objective, sense="max",
                     name="saturation-test")
        top = solve_optimal(solver, face).objective
        tests += 1
        if top + float(w0[c]) <= t + eps:
            saturated.append(c)
    return np.asarray(saturated, dtype=np.int64), tests


def leximin_ordered(a: PriorFreeArrays, solver: Solver) -> Refinement:
    """Leximin by the ordered-outcomes formulation: lexicographically maximize the
    cumulative sums θ_1 <= θ_2 <= ... of the k smallest payoffs (one LP per k)."""
    m = a.n_profiles
    if m > MAX_ORDERED_PROFILES:
        raise UnsupportedError(f"the ordered-outcomes formulation needs |Θ| <= {MAX_ORDERED_PROFILES} "
                               f"(one LP per profile), got {m}; use the sequential method")
    earlier: list[float] = []
    stages = []
    lp = sol = None
    for k in range(1, m + 1):
        lp, sol, tau = solve_relaxing(solver, lambda tau, k=k: stage(
            "refinement-ordered", a, stage=k, earlier=[e - tau * scale([e]) for e in earlier],
            name=f"ordered-stage-{k}"))
        earlier.append(float(sol.objective))
        stages.append({"stage": k, "cumulative": float(sol.objective), "slack": tau})
    assert lp is not None and sol is not None  # m >= 1 profiles: at least one stage
    z = mechanism(a, lp, sol.x)
    return Refinement("proper", a, z, a.payoffs(z), None, stages, ["leximin by the ordered-outcomes formulation"])


def level_sets(payoffs: np.ndarray, tol: float = 1e-7) -> list[np.ndarray]:
    """Θ(1), Θ(2), ...: the cells of the k-th lowest payoff value (values within
    tol·scale of the previous one are the same value)."""
    v = np.asarray(payoffs, dtype=float)
    order = np.argsort(v, kind="stable")
    breaks = np.flatnonzero(np.diff(v[order]) > tol * scale(v)) + 1
    return [np.sort(g) for g in np.split(order, breaks)]


def level_set_certificate(a: PriorFreeArrays, payoffs: np.ndarray, solver: Solver,
                          tol: float = 1e-7) -> tuple[LPSCertificate | None, list[float]]:
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
    return LPSCertificate("proper", beliefs, "level sets, proof of Proposition 4"), gains


def properly_robust(a: PriorFreeArrays, solver: Solver, method: str = "sequential",
                    saturation: str = "test") -> Refinement:
    """A properly robust (= leximin optimal, Proposition 4 of 000) mechanism with the
    certificate LPS built from its level sets."""
    if method == "sequential":
        res = leximin_sequential(a, solver, saturation)
    elif method == "ordered":
        res = leximin_ordered(a, solver)
    else:
        raise UnsupportedError(f"unknown leximin method '{method}' (sequential or ordered)")
    certificate, gains = level_set_certificate(a, res.payoffs, solver)
    if certificate is None:
        raise SolverError(f"the leximin mechanism failed its own level-set test (gains {gains}): "
                          "the payoffs are below solver tolerance; use the anonymous program or exact re-verification",
                          "error")
    res.certificate = certificate
    res.stages.append({"stage": "certificate", "level_gains": gains})
    return res


# -- membership ---------------------------------------------------------------------


def membership(a: PriorFreeArrays, z: np.ndarray, solver: Solver, tol: float = 1e-7) -> dict:
    """Which criteria a given mechanism z meets: feasible; robust (maxmin, Proposition 2
    of 000); perfectly robust (maxmin and admissible, Proposition 3: the admissibility LP's
    gain is 0); properly robust (leximin, Proposition 4: every level set's admissibility
    LP has gain 0), each with its certificate."""
    z = np.asarray(z, dtype=float).reshape(a.n_cells, a.dim)
    v = a.payoffs(z)
    violations = a.violations(z)
    feasible = max(violations.values(), default=0.0) <= tol * scale(z)
    rob = robust(a, solver)
    assert rob.certificate is not None  # robust() certifies with Nature's adversarial belief
    t = rob.stages[0]["value"]
    is_robust = feasible and v.min() >= t - tol * scale([t])
    gain, rho = admissibility(a, v, solver, tol=tol)
    is_perfect = is_robust and rho is not None
    certificate, gains = level_set_certificate(a, v, solver, tol)
    out = {"feasible": feasible, "violations": violations, "maxmin_value": t, "worst_payoff": float(v.min()),
           "robust": bool(is_robust), "admissibility_gain": gain, "perfect": bool(is_perfect),
           "proper": bool(feasible and certificate is not None), "level_gains": gains}
    if is_robust:
        # ν from the maxmin duals is adversarial for every maxmin mechanism (complementary slackness)
        out["robust_certificate"] = LPSCertificate("adversarial", rob.certificate.beliefs)
    if is_perfect and rho is not None:
        out["perfect_certificate"] = LPSCertificate("perfect", [rob.certificate.beliefs[0], rho])
    if feasible and certificate is not None:
        out["proper_certificate"] = certificate
    return out


# ---------------------------------------------------------------------------


def refine(a: PriorFreeArrays, criterion: str, solver: Solver, beliefs: list[np.ndarray] | None = None,
           method: str = "sequential", saturation: str = "test", check: bool = True) -> Refinement:
    """Run one criterion of 000 and check the certificate it returns (``checks``)."""
    if criterion == "bayes":
        res = bayes_optimal(a, beliefs[0] if beliefs else uniform_mass(a), solver)
    elif criterion == "lps":
        if not beliefs:
            raise ParameterError("the lps criterion needs beliefs (one weight list per belief, in LPS order)")
        res = lps_optimal(a, beliefs, solver)
    elif criterion == "robust":
        res = robust(a, solver)
    elif criterion == "perfect":
        res = perfectly_robust(a, solver, beliefs[0] if beliefs else None)
    elif criterion == "proper":
        if saturation not in SATURATION:
            raise UnsupportedError(f"unknown saturation rule '{saturation}' (test or dual)")
        res = properly_robust(a, solver, method, saturation)
    else:
        raise UnsupportedError(f"unknown criterion '{criterion}'; choose one of {', '.join(CRITERIA)}")
    if check and res.certificate is not None:
        res.checks.update(check_certificate(a, res.certificate, res.z, solver))
    return res
