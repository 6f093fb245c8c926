"""The LPS that certifies a refinement of maxmin (000), and its checkers.

A mechanism is robust, perfectly robust or properly robust when it is optimal with
respect to an LPS (lexicographic probability system) µ = (µ_1, ..., µ_K) that is
adversarial (Definitions 1-2 of 000), adversarial with full support (Definitions 4-5), or
strongly adversarial with full support (Definitions 6-7). :class:`LPSCertificate` holds
such an LPS; the checkers test each property, µ-optimality by the preemptive LPs (1).
Beliefs are mass per cell (for the anonymous program, the total mass of a cell's profiles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...lower.prior_free import PriorFreeArrays
from .solving import Solver, scale, solve_relaxing
from .stage_programs import stage

KINDS = ("bayes", "lps", "adversarial", "perfect", "proper")


@dataclass
class LPSCertificate:
    """An LPS µ = (µ_1, ..., µ_K) (mass per cell) against which a mechanism is optimal, and
    what it claims: ``adversarial`` (Definition 1 of 000: the mechanism is robust,
    Definition 2), ``perfect`` (adversarial with full support, Definition 5), ``proper``
    (strongly adversarial with full support, Definition 7), ``bayes``/``lps`` (the given
    beliefs)."""

    kind: str
    beliefs: list[np.ndarray]
    source: str = ""

    def per_profile(self, a: PriorFreeArrays) -> list[list[float]]:
        """Each belief spread over the profiles of its cells, in the profile listing order."""
        return [list(map(float, a.belief_per_profile(m))) for m in self.beliefs]


def check_full_support(beliefs: list[np.ndarray]) -> tuple[bool, np.ndarray]:
    """Definition 4 of 000: every profile has positive probability in some belief.
    Returns (ok, the cells no belief covers)."""
    covered = np.any(np.vstack([np.asarray(m, dtype=float) > 0 for m in beliefs]), axis=0)
    return bool(covered.all()), np.flatnonzero(~covered)


def check_adversarial(beliefs: list[np.ndarray], payoffs: np.ndarray, tol: float = 1e-7) -> bool:
    """Definition 1 of 000: µ_1(θ) > 0 only at profiles that minimize the payoff."""
    v = np.asarray(payoffs, dtype=float)
    support = np.asarray(beliefs[0], dtype=float) > 0
    return bool(np.all(v[support] <= v.min() + tol * scale(v)))


def first_appearance(beliefs: list[np.ndarray]) -> np.ndarray:
    """min{k : µ_k(θ) > 0} per cell (0-based; len(beliefs) where none): the order
    θ >=_µ θ' of Section 2.3 of 000 compares these indices."""
    positive = np.vstack([np.asarray(m, dtype=float) > 0 for m in beliefs])
    return np.where(positive.any(axis=0), np.argmax(positive, axis=0), len(beliefs))


def check_strongly_adversarial(beliefs: list[np.ndarray], payoffs: np.ndarray, tol: float = 1e-7) -> bool:
    """Definition 6 of 000: V(θ) <= V(θ') whenever θ >=_µ θ' (θ appears no later than θ');
    so profiles first appearing in the same belief have equal payoffs, and payoffs rise
    with the first-appearance index."""
    v = np.asarray(payoffs, dtype=float)
    first = first_appearance(beliefs)
    eps = tol * scale(v)
    groups = np.unique(first)
    top = np.array([v[first == g].max() for g in groups])
    low = np.array([v[first == g].min() for g in groups])
    suffix_min = np.minimum.accumulate(low[::-1])[::-1]
    return bool(np.all(top <= suffix_min + eps))


def check_mu_optimal(a: PriorFreeArrays, beliefs: list[np.ndarray], z: np.ndarray, solver: Solver,
                     tol: float = 1e-7) -> tuple[bool, list[float]]:
    """µ-optimality by the preemptive LPs (1) of 000: stage k maximizes Σ µ_k v over M
    holding the earlier beliefs at the mechanism's own values; the mechanism is µ-optimal
    iff no stage gains. Returns (ok, gain per stage)."""
    z = np.asarray(z, dtype=float).reshape(a.n_cells, a.dim)
    v = a.payoffs(z)
    gains: list[float] = []
    floors: list[tuple[np.ndarray, float]] = []
    for k, mass in enumerate(beliefs):
        mass = np.asarray(mass, dtype=float)
        own = float(mass @ v)
        _, sol, _ = solve_relaxing(solver, lambda tau, mass=mass, k=k: stage(
            "refinement-bayes", a, mass=mass, floors=[(m, val - tau * scale([val])) for m, val in floors],
            name=f"check-stage-{k + 1}"))
        gains.append(float(sol.objective) - own)
        floors.append((mass, own))
    feasible = max(a.violations(z).values(), default=0.0) <= tol * scale(z)
    return bool(feasible and all(g <= tol * scale(v) for g in gains)), gains


def check_certificate(a: PriorFreeArrays, certificate: LPSCertificate, z: np.ndarray, solver: Solver,
                      tol: float = 1e-7) -> dict:
    """Every property the certificate claims, checked: µ-optimality (preemptive LPs), and
    by kind adversarial, full support, strongly adversarial (first-appearance index)."""
    z = np.asarray(z, dtype=float).reshape(a.n_cells, a.dim)
    v = a.payoffs(z)
    ok_optimal, gains = check_mu_optimal(a, certificate.beliefs, z, solver, tol)
    out = {"mu_optimal": ok_optimal, "stage_gains": gains}
    if certificate.kind in ("adversarial", "perfect", "proper"):
        out["adversarial"] = check_adversarial(certificate.beliefs, v, tol)
    if certificate.kind in ("perfect", "proper"):
        out["full_support"] = check_full_support(certificate.beliefs)[0]
    if certificate.kind == "proper":
        out["strongly_adversarial"] = check_strongly_adversarial(certificate.beliefs, v, tol)
    out["passed"] = all(val for val in out.values() if isinstance(val, bool))
    return out
