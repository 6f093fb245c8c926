"""Symmetries of an environment: relabelings of agents that leave it unchanged.

A symmetry is a triple (π, τ, φ): a permutation π of the agents, τ of the states and
φ of the outcome coordinates such that the prior, the outcome polyhedron, the designer's
objective and the utilities are invariant:

    μ(τθ) = μ(θ),   w(φq, τθ) = w(q, θ),   u_{π(i)}(φq, τθ) = u_i(q, θ),   φP = P.

The public good of 004 Section 4 is invariant under any permutation of the agents
(with the states and the "paid by" outcomes permuted alongside). When such symmetries
exist, the bounding programs have symmetric optimal solutions (average any optimum over
the group: the feasible sets are invariant and the objectives too, and the programs are
convex), so they may be solved over symmetric mechanisms and information structures
only. Symmetries are found here from the arrays; they are never assumed.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from .arrays import LoweredEnvironment


@dataclass(frozen=True)
class Symmetry:
    agents: tuple[int, ...]  # π: agent i -> agents[i]
    states: tuple[int, ...]  # τ: state s -> states[s]
    outcomes: tuple[int, ...]  # φ: outcome coordinate j -> outcomes[j]

    @property
    def is_identity(self) -> bool:
        return all(a == b for a, b in enumerate(self.agents)) and all(a == b for a, b in enumerate(self.states)) \
            and all(a == b for a, b in enumerate(self.outcomes))


def find_symmetries(low: LoweredEnvironment, tol: float = 1e-12, max_outcome_perms: int = 50_000) -> list[Symmetry]:
    """All symmetries (π, τ, φ) with π a non-identity agent permutation.

    Searches π over all agent permutations and φ over permutations of the outcome
    coordinates that keep the polyhedron; τ is then forced (each state's image is
    looked up by its payoff signature). Returns an empty list when none exist or the
    search would be too large (then no reduction is made, which is always safe).
    """
    n, s_count, d = low.utility_coef.shape
    if n == 1:
        return []
    n_phi = 1
    for m in range(2, d + 1):
        n_phi *= m
    if n_phi * math.factorial(n) > max_outcome_perms:
        return []
    poly = low.polytope
    scale = 1.0 + max(np.abs(low.utility_coef).max(initial=0), np.abs(low.designer_coef).max(initial=0),
                      np.abs(low.utility_const).max(initial=0), np.abs(low.designer_const).max(initial=0))

    def key(arr: np.ndarray) -> bytes:
        return np.round(arr / scale, 9).tobytes()

    def state_signature(ucoef, uconst, wcoef, wconst, prior, s) -> bytes:
        return key(np.concatenate([ucoef[:, s, :].ravel(), uconst[:, s], wcoef[s], [wconst[s], prior[s]]]))

    table: dict[bytes, list[int]] = {}
    for s in range(s_count):
        table.setdefault(state_signature(low.utility_coef, low.utility_const, low.designer_coef,
                                         low.designer_const, low.prior, s), []).append(s)
    if any(len(v) > 1 for v in table.values()):
        return []  # identical states: τ would not be unique; skip (safe)
    symmetries = []
    for pi in itertools.permutations(range(n)):
        if all(a == b for a, b in enumerate(pi)):
            continue
        inv_pi = np.argsort(pi)
        for phi_order in itertools.permutations(range(d)):
            phi = np.array(phi_order)
            if not _keeps_polyhedron(poly, phi):
                continue
            # transformed environment: u'_{π(i)}(φq, ·) = u_i(q, ·)  =>  u'_k[·, φ(j)] = u_{π⁻¹(k)}[·, j]
            ucoef = np.empty_like(low.utility_coef)
            ucoef[:, :, phi] = low.utility_coef[inv_pi]
            uconst = low.utility_const[inv_pi]
            wcoef = np.empty_like(low.designer_coef)
            wcoef[:, phi] = low.designer_coef
            tau = []
            for s in range(s_count):
                match = table.get(state_signature(ucoef, uconst, wcoef, low.designer_const, low.prior, s))
                if match is None:
                    break
                tau.append(match[0])
            else:
                if len(set(tau)) == s_count:
                    # the state s of the original is the state tau[s] of the relabeled one
                    symmetries.append(Symmetry(tuple(int(p) for p in pi), tuple(tau), tuple(int(p) for p in phi)))
                    break  # one φ per π is enough to generate the reduction
    return symmetries


def _keeps_polyhedron(poly, phi: np.ndarray) -> bool:
    d = poly.dim
    lower = np.empty(d)
    upper = np.empty(d)
    lower[phi], upper[phi] = poly.lower, poly.upper
    if not (np.array_equal(lower, poly.lower) and np.array_equal(upper, poly.upper)):
        return False
    for A, b in ((poly.A_ub, poly.b_ub), (poly.A_eq, poly.b_eq)):
        if not len(A):
            continue
        moved = np.empty_like(A)
        moved[:, phi] = A
        rows = {np.round(np.concatenate([r, [c]]), 12).tobytes() for r, c in zip(A, b)}
        if {np.round(np.concatenate([r, [c]]), 12).tobytes() for r, c in zip(moved, b)} != rows:
            return False
    return True


def profile_permutation(shape: tuple[int, ...], agents: tuple[int, ...]) -> np.ndarray:
    """Flat index of x -> flat index of the relabeled profile x' with x'_{π(i)} = x_i
    on a grid of the given shape (C order)."""
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    return np.transpose(idx, axes=agents).ravel()
