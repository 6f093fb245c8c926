"""The direct-mechanism program: the exact potential of a finite information structure.

For a finite information structure I = (S, σ), the potential P(I) of (1) in 003 is the
designer's best value over mechanisms and equilibria satisfying interim participation.
By the revelation principle (Myerson, 1981; 003 Section 3.1, the Lagrangian (3)-(4))
it is the value of

    max  Σ_{s,θ} σ(s, θ) w(q(s), θ)
    s.t. Σ_{s_-i,θ} σ(s_i, s_-i, θ) [u_i(q(s'_i, s_-i), θ) - u_i(q(s), θ)] <= 0
                                            ∀ i, true signal s_i, report s'_i ≠ s_i   (interim IC)
         Σ_{s_-i,θ} σ(s_i, s_-i, θ) u_i(q(s), θ) >= 0          ∀ i, s_i               (interim IR)
         q(s) ∈ P  ∀ s

over direct mechanisms q: S -> P. For a finite outcome set, P is the simplex and
q(s) = m(·|s); for continuous outcomes q(s) is a point of the outcome polyhedron
(allocations with their bounds and rows; transfers free). Utilities are affine in q,
so only the belief-weighted coefficients B_i(s) = Σ_θ σ(s, θ) utility_coef[i, θ] enter:
the IC and IR blocks are assembled at once from B_i (a loop over agents only).
Signals that agent i receives with probability zero carry no constraint.

Layout: q is stored profile-major, column ``s * d + j``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import ModelError
from ..lower.arrays import LoweredEnvironment
from ..model.objects import InformationStructure, Mechanism
from .base import REQUIRED, Program, ReadBack, register
from .lp import IndexSet, LinearProgram, ProgramBuilder, labelled


@dataclass(frozen=True)
class Inverse:
    information: InformationStructure
    lowered: LoweredEnvironment


def check_information(low: LoweredEnvironment, info: InformationStructure, tol: float = 1e-7) -> None:
    """A clear ModelError unless ``info`` is an information structure of this environment
    whose state marginal is the prior (I ∈ 𝓘 of 003 Section 2)."""
    name = info.name
    if info.n_agents != low.n_agents:
        raise ModelError(f"information structure '{name}' has signal sets for {info.n_agents} agents; "
                         f"the model has {low.n_agents}")
    if info.joint.shape[-1] != low.n_states:
        raise ModelError(f"information structure '{name}' is over {info.joint.shape[-1]} states; "
                         f"the model has {low.n_states}")
    if not np.all(np.isfinite(info.joint)) or info.joint.min(initial=0.0) < -tol:
        raise ModelError(f"information structure '{name}' has a negative or non-finite probability")
    ambiguous = getattr(low, "prior_set", None)
    if ambiguous is not None:
        # the structure's own marginal is the prior it is played under: it must be one of the set
        if not ambiguous.contains(info.state_marginal(), tol):
            why = ("its marginals differ" if ambiguous.kind == "marginals"
                   else "it is not in the convex hull of the listed priors")
            raise ModelError(f"the state marginal of information structure '{name}' is not a prior of the model's "
                             f"set of priors ({why})")
        return
    gap = np.abs(info.state_marginal() - low.prior).max()
    if gap > tol:
        raise ModelError(f"the state marginal of information structure '{name}' differs from the prior "
                         f"by {gap:.2e}")


def build(low: LoweredEnvironment, info: InformationStructure) -> tuple[LinearProgram, Inverse]:
    """The direct-mechanism program of the module docstring."""
    start = time.perf_counter()
    check_information(low, info)
    joint = np.clip(info.joint, 0.0, None)
    s_shape = joint.shape[:-1]
    n_s, d = int(np.prod(s_shape)), low.dim
    flat = joint.reshape(n_s, low.n_states)  # σ(s, θ)
    poly = low.polytope
    b = ProgramBuilder(f"direct({info.name})", "max")
    signals = IndexSet("S", axes=tuple(tuple(np.asarray(a).tolist()) for a in info.signals), kind="profile",
                       description="signal profiles s of the information structure")
    b.add_variables("m", lower=np.tile(poly.lower, n_s), upper=np.tile(poly.upper, n_s),
                    description="q(s) (or m(ω|s)): the direct mechanism's outcome at each signal profile",
                    index=(signals, labelled("Omega", low.outcome_names, "outcome", "outcomes ω")))
    b.set_cost("m", (flat @ low.designer_coef).reshape(-1))
    b.offset = float(flat.sum(0) @ low.designer_const)
    ambiguous = getattr(low, "prior_set", None)
    if ambiguous is not None and ambiguous.penalty is not None:  # `prior penalty c`: the structure's μ pays E_μ c
        b.offset += float(info.state_marginal() @ (ambiguous.extremes.T @ ambiguous.penalty))
    columns = np.arange(n_s * d).reshape(s_shape + (d,))
    for i in range(low.n_agents):
        agent = low.env.agents[i]
        B = (flat @ low.utility_coef[i]).reshape(s_shape + (d,))  # B_i(s)
        const = (flat @ low.utility_const[i]).reshape(s_shape)
        n_i = s_shape[i]
        Bi = np.moveaxis(B, i, 0).reshape(n_i, -1)  # (S_i, R·d)
        cols = np.moveaxis(columns, i, 0).reshape(n_i, -1)
        prob = np.moveaxis(joint.sum(-1), i, 0).reshape(n_i, -1).sum(1)
        live = np.flatnonzero(prob > 0)
        own = signals.axes[i]
        reports = [(own[t], own[r]) for t in live for r in range(n_i) if r != t]
        b.add_rows(f"ic[{agent}]", {"m": incentive_matrix(Bi, cols, live, n_s * d)}, upper=0.0,
                   description=f"agent {agent} prefers the truth to every misreport (interim IC)",
                   index=(labelled(f"R{i + 1}", reports, description=f"(signal, misreport) of agent {agent}"),))
        consts = np.moveaxis(const, i, 0).reshape(n_i, -1).sum(1)
        b.add_rows(f"ir[{agent}]", {"m": _select(Bi, cols, live, n_s * d)}, lower=-consts[live],
                   description=f"agent {agent} participates at every signal (interim IR)",
                   index=(labelled(f"S{i + 1}", [own[t] for t in live], description=f"signals of agent {agent}"),))
    eye = sp.identity(n_s, format="csr")
    if len(poly.A_eq):
        b.add_rows("feasibility_eq", {"m": sp.kron(eye, sp.csr_matrix(poly.A_eq), format="csr")},
                   lower=np.tile(poly.b_eq, n_s), upper=np.tile(poly.b_eq, n_s),
                   description="the outcome at each signal profile is feasible (lotteries sum to one)")
    if len(poly.A_ub):
        b.add_rows("feasibility_ub", {"m": sp.kron(eye, sp.csr_matrix(poly.A_ub), format="csr")},
                   upper=np.tile(poly.b_ub, n_s), description="the outcome at each signal profile is feasible")
    meta = {"program": "direct", "source": "Myerson (1981); 003 (3)-(4)"}
    return b.build(time.perf_counter() - start, meta), Inverse(info, low)


def incentive_matrix(Bi: np.ndarray, cols: np.ndarray, live: np.ndarray, n_cols: int) -> sp.csr_matrix:
    """Rows (s_i, s'_i) for live s_i and every s'_i ≠ s_i:
    Σ_{s_-i} B_i(s_i, s_-i) · [q(s'_i, s_-i) - q(s_i, s_-i)]."""
    n_i = Bi.shape[0]
    mask = ~np.eye(n_i, dtype=bool)
    mask[np.setdiff1d(np.arange(n_i), live)] = False
    true, report = np.nonzero(mask)
    coef = Bi[true]  # (pairs, R·d)
    rows = np.broadcast_to(np.arange(len(true))[:, None], coef.shape)
    data = np.concatenate([coef, -coef], axis=1)
    col = np.concatenate([cols[report], cols[true]], axis=1)
    row = np.concatenate([rows, rows], axis=1)
    keep = data != 0
    return sp.csr_matrix((data[keep], (row[keep], col[keep])), shape=(len(true), n_cols))


def _select(Bi: np.ndarray, cols: np.ndarray, live: np.ndarray, n_cols: int) -> sp.csr_matrix:
    """Rows s_i (live): Σ_{s_-i} B_i(s_i, s_-i) · q(s_i, s_-i)."""
    coef = Bi[live]
    rows = np.broadcast_to(np.arange(len(live))[:, None], coef.shape)
    keep = coef != 0
    return sp.csr_matrix((coef[keep], (rows[keep], cols[live][keep])), shape=(len(live), n_cols))


def read(lp: LinearProgram, x: np.ndarray, inverse: Inverse) -> Mechanism:
    """The optimal direct mechanism: actions are the signals, m(s) the outcome."""
    info, low = inverse.information, inverse.lowered
    rule = lp.block(x, "m").reshape(info.joint.shape[:-1] + (low.dim,))
    if low.finite:
        rule = np.clip(rule, 0.0, None)
    return Mechanism(info.signals, low.outcome_names, rule, finite=low.finite, name=f"direct({info.name})",
                     metadata={"program": "direct"})


# -- the program, registered ------------------------------------------------------------


class BestDirectMechanism(Program):
    """The best direct mechanism for a finite information structure under interim IC and
    IR: the structure's potential P(I) (Myerson (1981); 003 (3)-(4))."""

    name, title, source = "direct", "best direct mechanism", "Myerson (1981); 003 (3)-(4)"
    parameters = {"information": REQUIRED}

    def build(self, lowered: LoweredEnvironment, **options) -> tuple[LinearProgram, Inverse]:
        return build(lowered, self.options(options)["information"])

    def read(self, lp: LinearProgram, solution, inverse: Inverse) -> ReadBack:
        return ReadBack(mechanism=read(lp, solution.x, inverse), information=inverse.information)


register(BestDirectMechanism())
