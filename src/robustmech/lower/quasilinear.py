"""Recognising a quasilinear auction environment in a lowered Environment.

The auction programs of 001 (restricted programs (3), (4), (41)) and of 004 Sections
5-6 (programs (18)-(21), (27)-(28)) apply when the outcome is an allocation a and one
transfer t_i per agent, with

    u_i(a, t, θ) = V_i(θ) · a - t_i                      (quasilinear, 001 Section 2)
    w(a, t, θ)   = Σ_i t_i + D(θ) · a + w_0(θ)           (profit, minus a production cost)
    a ∈ Q = {a >= 0 : A a <= b}, t ∈ R^N free.

For a single good, a = q ∈ R^N, V_i(θ) = v_i(θ) e_i and Q = {q >= 0 : Σq <= 1}; demand
caps q_i <= κ_i (001 Appendix B.1.3) add rows to A, L goods (001 B.1.4, 004 Section 5)
give one supply row per good, and a constant production cost c gives D = -c. The
programs never need to know which allocation variable belongs to which agent: agent i's
strategic and informational rents only involve V_i(θ).

Participation security with the secure action 0 and t_i(0, x_-i) = 0 (001 (4)) needs
V_i(θ) · a >= 0 on Q, which holds because values and allocations are non-negative; an
environment with a negative value, a negative allocation or 0 ∉ Q is not recognised
(the general programs of 004 still apply to it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedError
from .arrays import LoweredEnvironment

_TOL = 1e-12


@dataclass(frozen=True)
class QuasilinearEnvironment:
    """The numbers of a quasilinear auction environment (shapes: N agents, S states,
    m allocation variables, r allocation rows)."""

    lowered: LoweredEnvironment
    allocation_columns: np.ndarray  # (m,) positions of the allocation variables in the outcome vector
    transfer_columns: np.ndarray  # (N,) position of agent i's transfer
    values: np.ndarray  # (N, S, m): V_i(θ), agent i's marginal value of each allocation variable
    cost: np.ndarray  # (S, m): D(θ), the designer's coefficient on allocations (-c for a production cost)
    designer_const: np.ndarray  # (S,): w_0(θ)
    A: np.ndarray  # (r, m): Q = {a >= 0 : A a <= b} (upper bounds on variables included as rows)
    b: np.ndarray  # (r,)
    row_names: tuple[str, ...]  # one label per row of A ("sum(q) <= 1", "q[1] <= 1/2")
    allocation_names: tuple[str, ...]
    owners: np.ndarray  # (m,) the agent who values each allocation variable, -1 if none or several

    @property
    def n_agents(self) -> int:
        return self.values.shape[0]

    @property
    def n_states(self) -> int:
        return self.values.shape[1]

    @property
    def dim(self) -> int:
        return self.values.shape[2]

    @property
    def prior(self) -> np.ndarray:
        return self.lowered.prior


def recognise(low: LoweredEnvironment) -> QuasilinearEnvironment:
    """The quasilinear structure of ``low``, or :class:`UnsupportedError` saying which
    condition fails (one line, naming the variable or agent)."""
    env = low.env
    if low.finite:
        raise UnsupportedError("the auction programs need continuous outcomes (allocations and transfers), "
                               "not a finite outcome set")
    roles = getattr(env.outcomes, "roles", ())
    names = low.outcome_names
    n = low.n_agents
    transfer = np.array([j for j, r in enumerate(roles) if r == "transfer"], dtype=int)
    alloc = np.array([j for j, r in enumerate(roles) if r != "transfer"], dtype=int)
    if len(transfer) != n:
        raise UnsupportedError(f"the auction programs need one transfer per agent (declare `transfer t[i]`); "
                               f"found {len(transfer)} transfer variable(s) for {n} agents")
    if len(alloc) == 0:
        raise UnsupportedError("the auction programs need at least one allocation variable")
    ucoef = low.utility_coef
    # each agent pays exactly one transfer, with coefficient -1, in every state
    order = np.full(n, -1)
    for i in range(n):
        tc = ucoef[i][:, transfer]  # (S, N)
        hits = [j for j in range(n) if np.all(np.abs(tc[:, j] + 1) <= _TOL)]
        others = [j for j in range(n) if np.any(np.abs(tc[:, j]) > _TOL) and j not in hits]
        if len(hits) != 1 or others or np.count_nonzero(np.abs(tc).max(axis=0) > _TOL) != 1:
            raise UnsupportedError(f"the utility of agent {env.agents[i]} is not quasilinear: it must be "
                                   f"(value) * allocation - t_i with exactly one own transfer")
        order[i] = transfer[hits[0]]
    if len(set(order.tolist())) != n:
        raise UnsupportedError("two agents pay the same transfer variable; declare one transfer per agent")
    if np.any(np.abs(low.utility_const) > _TOL):
        raise UnsupportedError("the auction programs need utilities without a constant term (u_i = v_i q_i - t_i)")
    if np.any(np.abs(low.designer_coef[:, order] - 1.0) > _TOL):
        raise UnsupportedError("the auction programs maximise profit: the designer objective must be "
                               "sum(t) (minus a cost of the allocation)")
    poly = low.polytope
    if len(poly.A_eq):
        raise UnsupportedError("the auction programs need inequality constraints on the allocation (no equations)")
    if np.any(np.isfinite(poly.lower[order])) or np.any(np.isfinite(poly.upper[order])):
        raise UnsupportedError("the auction programs need free, unbounded transfers")
    if len(poly.A_ub) and np.any(np.abs(poly.A_ub[:, order]) > _TOL):
        raise UnsupportedError("a constraint involves a transfer; the auction programs need free transfers")
    if np.any(np.abs(poly.lower[alloc]) > _TOL):
        bad = names[alloc[np.flatnonzero(np.abs(poly.lower[alloc]) > _TOL)[0]]]
        raise UnsupportedError(f"allocation {bad} must have lower bound 0 (q >= 0) for the auction programs")
    values = ucoef[:, :, alloc]
    if np.any(values < -_TOL):
        raise UnsupportedError("the auction programs need non-negative values (001 Section 2: v_i in R_+)")
    A_rows = [poly.A_ub[:, alloc]] if len(poly.A_ub) else []
    b_rows = [poly.b_ub] if len(poly.A_ub) else []
    texts = [c.text for c in getattr(env.outcomes, "constraints", ()) if c.sense != "=="]
    row_names = list(texts) if len(texts) == len(poly.A_ub) else [f"row {r + 1}" for r in range(len(poly.A_ub))]
    upper = poly.upper[alloc]
    capped = np.flatnonzero(np.isfinite(upper))
    if len(capped):
        eye = np.eye(len(alloc))
        A_rows.append(eye[capped])
        b_rows.append(upper[capped])
        row_names += [f"{names[alloc[j]]} <= {upper[j]:g}" for j in capped]
    A = np.vstack(A_rows) if A_rows else np.zeros((0, len(alloc)))
    b = np.concatenate(b_rows) if b_rows else np.zeros(0)
    if np.any(b < -_TOL):
        raise UnsupportedError("the allocation constraints exclude allocating nothing (0 is not feasible)")
    owners = np.full(len(alloc), -1)
    valued = np.abs(values).max(axis=1) > _TOL  # (N, m)
    for j in range(len(alloc)):
        who = np.flatnonzero(valued[:, j])
        if len(who) == 1:
            owners[j] = who[0]
    return QuasilinearEnvironment(
        lowered=low,
        allocation_columns=alloc,
        transfer_columns=order,
        values=values.copy(),
        cost=low.designer_coef[:, alloc].copy(),
        designer_const=low.designer_const.copy(),
        A=A,
        b=b,
        row_names=tuple(row_names),
        allocation_names=tuple(names[j] for j in alloc),
        owners=owners,
    )


def is_quasilinear(low: LoweredEnvironment) -> bool:
    """True when :func:`recognise` succeeds."""
    try:
        recognise(low)
    except UnsupportedError:
        return False
    return True
