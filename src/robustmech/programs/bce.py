"""The Bayes correlated equilibrium program: the exact guarantee of a finite mechanism.

For a finite mechanism M = (A, m) and the prior μ, the guarantee G(M) of (2) in 003 is
the lowest designer objective over all information structures and equilibria; by the
revelation principle of Bergemann and Morris it is the minimum over Bayes correlated
equilibria (003 Section 3.1, the Lagrangian (5)-(6); 004 Section 3.1.2):

    min / max  Σ_{a,θ} σ(a, θ) w(m(a), θ)
    s.t.       Σ_{a_-i, θ} σ(a_i, a_-i, θ) [u_i(m(a'_i, a_-i), θ) - u_i(m(a), θ)] <= 0
                                                  ∀ i, recommended a_i, deviation a'_i ≠ a_i
               Σ_a σ(a, θ) = μ(θ)  ∀ θ,   σ >= 0.

With a baseline signal B = (S, π) (:mod:`robustmech.programs.baseline`; Bergemann and
Morris's BCE of a basic game with information, 003 Section 5.1), the agents know at
least s_i, so the decision rule conditions on it: p(s, a, θ) >= 0 with
Σ_a p(s, a, θ) = π(s, θ), and obedience holds given each agent's (s_i, a_i):

    Σ_{s_-i, a_-i, θ} p(s_i, s_-i, a_i, a_-i, θ) [u_i(m(a'_i, a_-i), θ) - u_i(m(a), θ)] <= 0
                                                  ∀ i, s_i, a_i, a'_i ≠ a_i.

It is written as the program above for the pairs c_i = (s_i, a_i), on which the payoffs
do not depend on s_i, with the deviations that keep s_i only (kron(I_{S_i}, ·) of each
agent's deviation mask) and the marginal rows on (s, θ) in place of those on θ. An
uninformative baseline (one signal per agent) gives the program above.

With an ambiguous prior (a set 𝒫, :mod:`robustmech.programs.priors`) the state
marginal is any μ ∈ 𝒫, chosen with σ: the worst BCE is then the guarantee
min_{μ ∈ 𝒫} G_μ(M), the best BCE the best case over 𝒫.

Every obedience constraint is imposed (every agent, recommendation and deviation), not
only the local ones of LB-G-k. Outcomes are points of the lowered outcome polyhedron,
so u_i(m(a), θ) = utility_coef[i, θ] · m(a) + utility_const[i, θ] and the program is an
LP for continuous (quasilinear) outcomes too.

Layout: σ is stored profile-major, column ``a * |Θ| + θ`` with ``a`` the C-order flat
index of the action profile. The obedience block of agent i is assembled at once as a
COO matrix from the gain array G[a_i, a'_i, a_-i, θ] (numpy broadcasting; a loop over
agents only).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import ModelError
from ..lower.arrays import LoweredEnvironment
from ..model.objects import InformationStructure, Mechanism
from . import baseline as bl
from .base import REQUIRED, Program, ReadBack, register
from .lp import IndexSet, LinearProgram, ProgramBuilder, labelled
from .priors import add_state_marginal


@dataclass(frozen=True)
class Inverse:
    """What ``read`` needs besides the solution."""

    mechanism: Mechanism
    lowered: LoweredEnvironment
    utilities: np.ndarray  # U[i, a_1, ..., a_N, θ] = u_i(m(a), θ)
    designer: np.ndarray  # W[a_1, ..., a_N, θ] = w(m(a), θ)
    # with a baseline signal: its |S_i| per agent, and U over the pairs (s_i, a_i), U[i, c_1, ..., c_N, θ]
    signal_sizes: tuple[int, ...] | None = None
    pair_utilities: np.ndarray | None = None


@dataclass
class CorrelatedEquilibrium:
    """A Bayes correlated equilibrium σ ∈ Δ(A × Θ) of a mechanism, read back from the LP.

    ``joint[a_1, ..., a_N, θ]``; ``value`` is the designer's expected objective under it.
    With a baseline signal, ``signal_joint[s_1, ..., s_N, a_1, ..., a_N, θ]`` is the
    decision rule with the baseline signals (``joint`` its sum over them) and
    ``baseline`` the baseline structure.
    """

    mechanism: Mechanism
    state_labels: tuple[str, ...]
    joint: np.ndarray
    value: float
    sense: str  # "min" (the worst BCE: the guarantee) or "max" (the best BCE)
    signal_joint: np.ndarray | None = None
    baseline: InformationStructure | None = None

    def action_distribution(self) -> np.ndarray:
        """The distribution of recommended action profiles, Σ_θ σ(a, θ)."""
        return self.joint.sum(-1)

    def state_marginal(self) -> np.ndarray:
        return self.joint.reshape(-1, self.joint.shape[-1]).sum(0)


def payoff_arrays(low: LoweredEnvironment, mechanism: Mechanism, tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """U[i, a, θ] = u_i(m(a), θ) and W[a, θ] = w(m(a), θ) for every action profile a.

    Checks that the mechanism speaks the environment's outcome language and that every
    m(a) is feasible (a lottery over Ω, or a point of the outcome polyhedron)."""
    check_mechanism(low, mechanism, tol)
    rule = mechanism.rule
    U = np.einsum("...d,isd->i...s", rule, low.utility_coef) + low.utility_const.reshape(
        (low.n_agents,) + (1,) * mechanism.n_agents + (low.n_states,))
    W = np.einsum("...d,sd->...s", rule, low.designer_coef) + low.designer_const
    return U, W


def check_mechanism(low: LoweredEnvironment, mechanism: Mechanism, tol: float = 1e-7) -> None:
    """A clear ModelError unless ``mechanism`` is a feasible mechanism of this environment."""
    name = mechanism.name
    if mechanism.n_agents != low.n_agents:
        raise ModelError(f"mechanism '{name}' has action sets for {mechanism.n_agents} agents; "
                         f"the model has {low.n_agents}")
    if tuple(mechanism.outcome_names) != tuple(low.outcome_names):
        raise ModelError(f"mechanism '{name}' is written over outcomes ({', '.join(mechanism.outcome_names)}); "
                         f"the model's are ({', '.join(low.outcome_names)})")
    rule = mechanism.rule
    if not np.all(np.isfinite(rule)):
        raise ModelError(f"mechanism '{name}' has a non-finite outcome")
    points = rule.reshape(-1, low.dim)
    poly = low.polytope
    worst = 0.0
    if len(poly.A_eq):
        worst = max(worst, np.abs(points @ poly.A_eq.T - poly.b_eq).max(initial=0.0))
    if len(poly.A_ub):
        worst = max(worst, (points @ poly.A_ub.T - poly.b_ub).max(initial=0.0))
    lo = np.where(np.isfinite(poly.lower), poly.lower, -np.inf)
    hi = np.where(np.isfinite(poly.upper), poly.upper, np.inf)
    worst = max(worst, (lo - points).max(initial=0.0), (points - hi).max(initial=0.0))
    if worst > tol:
        what = "a lottery over the outcomes" if low.finite else "a feasible outcome"
        raise ModelError(f"mechanism '{name}' is not {what} at some action profile (violation {worst:.2e})")


def participation_security(low: LoweredEnvironment, mechanism: Mechanism, tol: float = 1e-7) -> list[np.ndarray]:
    """For each agent, which actions are participation secure (003 Section 2):
    u_i(m(a_i, a_-i), θ) >= 0 for every a_-i and θ. Returns boolean arrays over A_i."""
    U, _ = payoff_arrays(low, mechanism)
    secure = []
    for i in range(low.n_agents):
        Ui = np.moveaxis(U[i], i, 0).reshape(mechanism.shape[i], -1)
        secure.append(Ui.min(axis=1) >= -tol)
    return secure


def build(low: LoweredEnvironment, mechanism: Mechanism, sense: str = "min",
          deviations: tuple[np.ndarray, ...] | None = None) -> tuple[LinearProgram, Inverse]:
    """The BCE program of the module docstring, minimizing (``sense="min"``: the
    mechanism's guarantee) or maximizing (the best BCE) the designer's objective.

    ``deviations``: for each agent a boolean |A_i| × |A_i| mask of the (recommendation,
    deviation) pairs whose obedience rows are written (None: all of them). A program
    with some rows left out is a relaxation; :func:`violated_deviations` says which
    omitted rows its solution breaks (see ``certify.guarantee``'s row generation)."""
    start = time.perf_counter()
    if bl.baseline_of(low) is not None:
        return build_with_baseline(low, mechanism, sense, deviations)
    U, W = payoff_arrays(low, mechanism)
    shape = mechanism.shape
    n_a, n_s = int(np.prod(shape)), low.n_states
    b = ProgramBuilder(f"BCE-{sense}({mechanism.name})", sense)
    actions = action_profiles(mechanism)
    states = labelled("Theta", low.env.states.labels, "state", "states θ")
    b.add_variables("sigma", description="σ(a, θ): the joint distribution of recommended actions and states",
                    index=(actions, states))
    b.set_cost("sigma", W.reshape(-1))
    for i in range(low.n_agents):
        own = actions.axes[i]
        mask = all_deviations(len(own)) if deviations is None else np.asarray(deviations[i], dtype=bool)
        mask = mask & ~np.eye(len(own), dtype=bool)
        pairs = [(own[r], own[d]) for r, d in zip(*np.nonzero(mask))]
        b.add_rows(f"obedience[{low.env.agents[i]}]", {"sigma": obedience_matrix(U[i], i, mask)}, upper=0.0,
                   description=f"agent {low.env.agents[i]} obeys every recommendation against every deviation",
                   index=(labelled(f"D{i + 1}", pairs, description=f"(recommendation, deviation) of agent "
                                                                   f"{low.env.agents[i]}"),))
    # an ambiguous prior: the marginal is any prior of the set (Nature's choice, for the worst and the best BCE)
    add_state_marginal(b, low, "sigma", sp.kron(np.ones((1, n_a)), sp.identity(n_s), format="csr"), states)
    meta = {"program": "bce", "sense": sense, "source": "Bergemann-Morris; 003 (5)-(6)"}
    lp = b.build(time.perf_counter() - start, meta)
    return lp, Inverse(mechanism, low, U, W)


def build_with_baseline(low: LoweredEnvironment, mechanism: Mechanism, sense: str = "min",
                        deviations: tuple[np.ndarray, ...] | None = None) -> tuple[LinearProgram, Inverse]:
    """The BCE program with the model's baseline signal (module docstring): p(s, a, θ)
    over the pairs c_i = (s_i, a_i), stored pair-profile-major, column ``c * |Θ| + θ``;
    the obedience rows of each agent within each of its baseline signals, the marginal
    rows Σ_a p(s, a, θ) = π(s, θ); columns with π(s, θ) = 0 are fixed at 0."""
    start = time.perf_counter()
    U, W = payoff_arrays(low, mechanism)
    sizes = bl.signal_sizes(low)
    own = tuple(mechanism.shape)
    n = low.n_agents
    Uc = np.stack([bl.extend(U[i], sizes) for i in range(n)])  # U[i, c, θ]
    Wc = bl.extend(W, sizes)
    pair_shape = Uc.shape[1:-1]
    n_c, n_s = int(np.prod(pair_shape)), low.n_states
    pi = bl.joint(low)  # (|S|, |Θ|)
    signal = bl.signal_of_pairs(sizes, own)  # pair profile -> its baseline signal profile
    live = (pi[signal] > 0).reshape(-1)  # (c, θ), profile-major
    b = ProgramBuilder(f"BCE-{sense}({mechanism.name}, baseline)", sense)
    labels = tuple(tuple(np.asarray(a).tolist()) for a in mechanism.actions)
    pairs = bl.pair_profiles(low, labels, "C", "profiles of (baseline signal, recommended action) pairs (s_i, a_i)")
    states = labelled("Theta", low.env.states.labels, "state", "states θ")
    b.add_variables("sigma", upper=np.where(live, np.inf, 0.0),
                    description="p(s, a, θ): the joint distribution of baseline signals, recommended actions and "
                    "states", index=(pairs, states))
    b.set_cost("sigma", Wc.reshape(-1))
    keep = sp.diags(live.astype(float), format="csr")
    for i in range(n):
        agent = low.env.agents[i]
        base = all_deviations(own[i]) if deviations is None else np.asarray(deviations[i], dtype=bool)
        mask = bl.within_signals(base & ~np.eye(own[i], dtype=bool), sizes[i])
        members = [(pairs.axes[i][r], labels[i][d % own[i]]) for r, d in zip(*np.nonzero(mask))]
        rows = obedience_matrix(Uc[i], i, mask) @ keep  # no coefficient on a column fixed at 0
        rows.eliminate_zeros()
        b.add_rows(f"obedience[{agent}]", {"sigma": rows.tocsr()}, upper=0.0,
                   description=f"agent {agent} obeys every recommendation, given its baseline signal, against "
                   "every deviation", index=(labelled(f"D{i + 1}", members, description=f"((baseline signal, "
                                             f"recommendation), deviation) of agent {agent}"),))
    rows = (signal[:, None] * n_s + np.arange(n_s)[None, :]).reshape(-1)
    mass = sp.csr_matrix((np.ones(n_c * n_s), (rows, np.arange(n_c * n_s))), shape=(pi.size, n_c * n_s))
    b.add_rows("marginal", {"sigma": mass}, lower=pi.reshape(-1), upper=pi.reshape(-1),
               description="the marginal of p on (baseline signals, states) is the baseline π(s, θ)",
               index=(bl.signal_profiles(low), states))
    meta = {"program": "bce", "sense": sense, "source": "Bergemann-Morris (2016); 003 (5)-(6), Section 5.1",
            "baseline": True}
    lp = b.build(time.perf_counter() - start, meta)
    return lp, Inverse(mechanism, low, U, W, sizes, Uc)


def baseline_gains(inverse: Inverse, signal_joint: np.ndarray) -> list[np.ndarray]:
    """For each agent the gains of its deviations that keep its baseline signal, over the
    pairs: |S_i||A_i| × |S_i||A_i|, -inf off the diagonal blocks (no such deviation)."""
    assert inverse.pair_utilities is not None and inverse.signal_sizes is not None
    Uc, sizes = inverse.pair_utilities, inverse.signal_sizes
    gains = deviation_gains(Uc, signal_joint.reshape(Uc.shape[1:]))
    out = []
    for i, g in enumerate(gains):
        block = bl.within_signals(np.ones((inverse.mechanism.shape[i],) * 2, dtype=bool), sizes[i])
        out.append(np.where(block, g, -np.inf))
    return out


def all_deviations(n: int) -> np.ndarray:
    """Every (recommendation, deviation) pair of an agent with n actions."""
    return ~np.eye(n, dtype=bool)


def adjacent_deviations(mechanism: Mechanism) -> tuple[np.ndarray, ...]:
    """For each agent, the deviations to the neighbouring actions (a_i ± 1 in the order
    of its action labels): where row generation starts (bids one step up or down bind
    first in auctions)."""
    out = []
    for n in mechanism.shape:
        r = np.arange(n)
        out.append(np.abs(r[:, None] - r[None, :]) == 1)
    return tuple(out)


def starting_deviations(mechanism: Mechanism) -> tuple[np.ndarray, ...]:
    """For each agent, the deviations where row generation starts: to the neighbouring
    actions (a_i ± 1, which bind first in auctions) and to the first and the last action
    in the order of the action labels. The deviation to the first action (bidding
    nothing) is what bounds an agent's payment at the best equilibrium: with adjacent
    deviations alone, a bidder can be led to pay up to its whole value in a chain of
    small steps, each undone by one more round (first-price auction, 11 values, 60
    bids: the best BCE in 50 rounds and 16 CPU seconds from the adjacent ones, 9 rounds
    and 1.4 s from these; 21 values, 150 bids: not settled after 34 minutes, against 13
    rounds and 26 s)."""
    out = []
    for m in adjacent_deviations(mechanism):
        m = m.copy()
        m[:, 0] = m[:, -1] = True
        np.fill_diagonal(m, False)
        out.append(m)
    return tuple(out)


def deviation_gains(U: np.ndarray, joint: np.ndarray) -> list[np.ndarray]:
    """For each agent i the |A_i| × |A_i| matrix of gains
    Σ_{a_-i,θ} σ(a_i, a_-i, θ)[U_i(a'_i, a_-i, θ) - U_i(a, θ)] (≤ 0 in a BCE)."""
    out = []
    for i in range(U.shape[0]):
        n_i = U.shape[1 + i]
        Ui = np.moveaxis(U[i], i, 0).reshape(n_i, -1)
        sig = np.moveaxis(joint, i, 0).reshape(n_i, -1)
        out.append(sig @ Ui.T - np.sum(sig * Ui, axis=1)[:, None])
    return out


def violated_deviations(U: np.ndarray, joint: np.ndarray, tol: float) -> tuple[np.ndarray, ...]:
    """For each agent, the (recommendation, deviation) pairs that gain more than ``tol``."""
    return tuple(gain > tol for gain in deviation_gains(U, joint))


def most_violated(gains: list[np.ndarray], masks: list[np.ndarray], tol: float,
                  per_recommendation: int | None = None,
                  reach: float | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each agent, the (recommendation, deviation) pairs not in its mask that gain
    more than ``tol`` (:func:`deviation_gains`): all of them, or for each recommendation
    the ``per_recommendation`` that gain most. With ``reach``, also every omitted
    deviation on the same side of the recommendation (in the order of the actions) up
    to ``reach`` times as far as the farthest broken one: once the near deviations are
    written the next ones out break, one step a round, and this takes them ahead.
    Returns (rec, dev) index arrays."""
    out = []
    for gain, mask in zip(gains, masks):
        n = len(gain)
        broken = (gain > tol) & ~mask & ~np.eye(n, dtype=bool)
        if per_recommendation is not None and per_recommendation < gain.shape[1]:
            score = np.where(broken, gain, -np.inf)
            top = np.argpartition(-score, per_recommendation - 1, axis=1)[:, :per_recommendation]
            keep = np.zeros_like(broken)
            np.put_along_axis(keep, top, True, axis=1)
            broken &= keep
        if reach is not None and broken.any():
            step = np.arange(n)[None, :] - np.arange(n)[:, None]  # deviation - recommendation
            up = np.where(broken & (step > 0), step, 0).max(axis=1, keepdims=True)
            down = np.where(broken & (step < 0), -step, 0).max(axis=1, keepdims=True)
            ahead = ((step > 0) & (step <= reach * up)) | ((step < 0) & (-step <= reach * down))
            broken |= ahead & ~mask
        rec, dev = np.nonzero(broken)
        out.append((rec, dev))
    return out


def agent_swap_orbits(U: np.ndarray, W: np.ndarray) -> sp.csr_matrix | None:
    """The 0/1 matrix P (σ's columns × orbits) of the exchange of two agents, when the
    payoffs are invariant under it with the states left fixed: U_2(a_1, a_2, θ) =
    U_1(a_2, a_1, θ) and W(a_1, a_2, θ) = W(a_2, a_1, θ) (checked on the numbers, to
    rounding). Then σ may be taken constant on the orbits {(a_1, a_2, θ), (a_2, a_1, θ)}
    (average an optimum with its image), σ = P z, and agent 2's obedience rows are
    agent 1's on the image, so a program over z needs agent 1's rows only. None otherwise."""
    if U.shape[0] != 2 or U.shape[1] != U.shape[2]:
        return None
    scale = ROUNDING * max(1.0, float(np.abs(U).max(initial=0.0)), float(np.abs(W).max(initial=0.0)))
    if (np.abs(U[1] - U[0].transpose(1, 0, 2)).max(initial=0.0) > scale
            or np.abs(W - W.transpose(1, 0, 2)).max(initial=0.0) > scale):
        return None
    n, n_s = U.shape[1], U.shape[3]
    i, j = np.triu_indices(n)
    pair = np.empty((n, n), dtype=np.intp)
    pair[i, j] = np.arange(len(i))
    pair[j, i] = np.arange(len(i))
    orbit = (pair.reshape(-1, 1) * n_s + np.arange(n_s)).reshape(-1)  # column a * |Θ| + θ -> its orbit
    return sp.csr_matrix((np.ones(orbit.size), (np.arange(orbit.size), orbit)), shape=(orbit.size, len(i) * n_s))


def action_profiles(mechanism: Mechanism, name: str = "A") -> IndexSet:
    """The mechanism's action profiles A = A_1 × ... × A_N by their labels."""
    axes = tuple(tuple(np.asarray(a).tolist()) for a in mechanism.actions)
    return IndexSet(name, axes=axes, kind="profile", description="action profiles a of the mechanism")


def with_sense(lp: LinearProgram, sense: str) -> LinearProgram:
    """The same program, minimizing or maximizing (the rows do not change)."""
    name = lp.name.replace("BCE-min", f"BCE-{sense}").replace("BCE-max", f"BCE-{sense}")
    return dataclasses.replace(lp, sense=sense, name=name, metadata=dict(lp.metadata, sense=sense))


ROUNDING = 1e-13  # relative size below which a payoff difference is rounding noise


def obedience_matrix(U_i: np.ndarray, agent: int, pairs: np.ndarray | None = None) -> sp.csr_matrix:
    """Rows (a_i, a'_i), a'_i ≠ a_i, of Σ_{a_-i,θ} σ(a, θ)[U_i(a'_i, a_-i, θ) - U_i(a, θ)].

    ``U_i`` has shape (|A_1|, ..., |A_N|, |Θ|); columns follow σ's profile-major layout.
    Rows in the order of ``np.nonzero(pairs)`` (``pairs``: a boolean |A_i| × |A_i| mask,
    every pair off the diagonal by default), i.e. by recommendation, then deviation.
    """
    n_i = U_i.shape[agent]
    mask = all_deviations(n_i) if pairs is None else pairs & ~np.eye(n_i, dtype=bool)
    rec, dev = np.nonzero(mask)
    return obedience_rows(U_i, agent, rec, dev)


def obedience_rows(U_i: np.ndarray, agent: int, rec: np.ndarray, dev: np.ndarray) -> sp.csr_matrix:
    """The obedience rows of agent ``agent`` for the (recommendation, deviation) pairs
    ``zip(rec, dev)``, in that order (see :func:`obedience_matrix`): only the rows asked
    for are built, at once from the gain array."""
    shape = U_i.shape
    n_i = shape[agent]
    rec, dev = np.asarray(rec, dtype=np.intp), np.asarray(dev, dtype=np.intp)
    moved = np.moveaxis(U_i, agent, 0).reshape(n_i, -1)  # (A_i, R·S)
    cols = np.moveaxis(np.arange(U_i.size).reshape(shape), agent, 0).reshape(n_i, -1)
    data = moved[dev] - moved[rec]  # (pairs, R·S)
    rows = np.broadcast_to(np.arange(len(rec))[:, None], data.shape)
    # a difference below the rounding error of U itself is zero (equal payoffs computed
    # along different float paths); keeping 1e-16 entries makes the simplex crawl
    keep = np.abs(data) > ROUNDING * max(1.0, float(np.abs(U_i).max(initial=0.0)))
    return sp.csr_matrix((data[keep], (rows[keep], cols[rec][keep])), shape=(len(rec), U_i.size))


def read(lp: LinearProgram, x: np.ndarray, inverse: Inverse, value: float) -> CorrelatedEquilibrium:
    """The BCE σ(a, θ) from a primal solution."""
    shape = inverse.mechanism.shape + (inverse.lowered.n_states,)
    labels = inverse.lowered.env.states.labels
    if inverse.signal_sizes is not None:
        sizes, own = inverse.signal_sizes, inverse.mechanism.shape
        n = len(sizes)
        full = np.clip(lp.block(x, "sigma"), 0.0, None).reshape(tuple(v for s, a in zip(sizes, own) for v in (s, a))
                                                                 + (inverse.lowered.n_states,))
        order = tuple(2 * j for j in range(n)) + tuple(2 * j + 1 for j in range(n)) + (2 * n,)
        signal_joint = full.transpose(order)  # (s_1, ..., s_N, a_1, ..., a_N, θ)
        joint = signal_joint.reshape((-1,) + shape).sum(0)
        return CorrelatedEquilibrium(inverse.mechanism, labels, joint, float(value), lp.sense,
                                     signal_joint=signal_joint, baseline=bl.baseline_of(inverse.lowered))
    joint = np.clip(lp.block(x, "sigma").reshape(shape), 0.0, None)
    return CorrelatedEquilibrium(inverse.mechanism, labels, joint, float(value), lp.sense)


def max_obedience_violation(U: np.ndarray, joint: np.ndarray) -> float:
    """The largest gain from a deviation, max over i, a_i, a'_i of
    Σ_{a_-i,θ} σ(a, θ)[U_i(a'_i, a_-i, θ) - U_i(a, θ)] (≤ 0 in a BCE)."""
    return max(float(gain.max()) for gain in deviation_gains(U, joint))


# -- the programs, registered ------------------------------------------------------------


class _CorrelatedEquilibriumProgram(Program):
    parameters = {"mechanism": REQUIRED, "deviations": None}
    sense = "min"

    def build(self, lowered: LoweredEnvironment, **options) -> tuple[LinearProgram, Inverse]:
        opts = self.options(options)
        return build(lowered, opts["mechanism"], self.sense, opts["deviations"])

    def read(self, lp: LinearProgram, solution, inverse: Inverse) -> ReadBack:
        equilibrium = read(lp, solution.x, inverse, solution.objective)
        if inverse.signal_sizes is not None:  # obedience given the baseline signal, on the pairs (s_i, a_i)
            full = np.clip(lp.block(solution.x, "sigma"), 0.0, None)
            worst = max(float(g.max()) for g in baseline_gains(inverse, full))
            return ReadBack(mechanism=inverse.mechanism, equilibrium=equilibrium,
                            extra={"max_obedience_violation": worst, "baseline": "used"})
        return ReadBack(mechanism=inverse.mechanism, equilibrium=equilibrium,
                        extra={"max_obedience_violation": max_obedience_violation(inverse.utilities,
                                                                                  equilibrium.joint)})


class WorstCorrelatedEquilibrium(_CorrelatedEquilibriumProgram):
    """The worst BCE of a finite mechanism: its guarantee G(M) (003 (2), (5)-(6))."""

    name, title, source, sense = "bce-worst", "worst BCE", "Bergemann-Morris; 003 (5)-(6)", "min"


class BestCorrelatedEquilibrium(_CorrelatedEquilibriumProgram):
    """The best BCE of a finite mechanism."""

    name, title, source, sense = "bce-best", "best BCE", "Bergemann-Morris; 003 (5)-(6)", "max"


for _program in (WorstCorrelatedEquilibrium(), BestCorrelatedEquilibrium()):
    register(_program)
