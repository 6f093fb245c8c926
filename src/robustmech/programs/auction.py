"""Auction programs: profit guarantees with interdependent values, transfers solved out.

The restricted programs of 001 and their multi-good forms in 004 Sections 5-6, for a
quasilinear environment (:mod:`robustmech.lower.quasilinear`): allocations a ∈ Q =
{a >= 0 : A a <= b}, one free transfer per agent, u_i = V_i(θ)·a - t_i and
w = Σt + D(θ)·a + w_0(θ). Grid and derivatives are those of 004 (they coincide with
001's): X_i(k) = {l/k : 0 <= l <= k²}, ∇+ with the factor k - 1, and the censored
geometric marginal ρ_i(x_i) = (1 - 1/k)^{k x_i} (1/k)^{[x_i < k]} of 001 Section 3.1.

Programs (``build(program, ql, k, ...)``):

``auction-potential``
    the restricted min-2max program (3) of 001 (its multi-good form (20) of 004, its
    demand-cap form (35) of 001 Appendix B.1.3): an information structure σ on
    X(k) × Θ whose marginal on X(k) is ρ; minimise Σ_x max_{a ∈ Q} a·c(x), where
    c_j(x) = Σ_θ [D_j(θ) σ(x,θ) - Σ_i V_ij(θ) ∇̃+_i σ(x,θ)] is the informational
    virtual objective (ρ(x) times the virtual value w_i - ∇+ w_i of (13)). The inner
    maximum is written through LP duality: Σ_x b·y(x) with Aᵀy(x) >= c(x), y >= 0
    (y = γ for one good; y = (γ, η) for demand caps, as in (35)). An upper bound.
``auction-guarantee-transfers``
    the restricted max-2min program (4) of 001 ((18) of 004): q, t on X(k) with
    t_i(0, x_-i) = 0 and λ(θ) <= Σt(x) + D(θ)·q(x) + Σ_i V_i(θ)·∇+_i q(x) - ∇+·t(x).
    A lower bound, with a participation-secure mechanism.
``auction-guarantee``
    the same value without transfers (Lemma 5 of 001, (28) of 004): maximise
    E_μ λ + E_ρ Ξ with λ(θ) + Ξ(x) <= D(θ)·q(x) + Σ_i V_i(θ)·∇+_i q(x). Transfers are
    recovered afterwards (001 Section 3.4, Appendix B.2) and checked on the grid.
``auction-dual``
    (3-D) of 001 / (21) of 004: the LP dual of ``auction-potential``, the same form with
    the downward derivative ∇- and no transfers.

Priors (``correlation``): ``"known"`` (μ given), ``"unknown"`` (only each agent's
marginal of V_i(θ) is known, 001 Appendix B.1.5: λ(θ) = Σ_i λ_i(V_i(θ))); by default
the model's own prior: a single μ, or an ambiguous prior (``prior marginals ...``: the
marginal of each state coordinate is known; ``prior in {...}``: the convex hull of the
listed priors; :mod:`robustmech.programs.priors`); or a
``penalty`` c(θ) that the adversary pays for choosing θ (001 Appendix B.1.6: the
adversary minimises E[profit + c(θ)] over value distributions of any marginal).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..errors import ModelError, UnsupportedError
from ..lower.grid import Grid
from ..lower.quasilinear import QuasilinearEnvironment
from ..model.objects import InformationStructure, Mechanism
from .base import REQUIRED, Program, ReadBack, register
from .lp import IndexSet, LinearProgram, ProgramBuilder, labelled, profiles
from .priors import add_multiplier, add_state_marginal, class_index, class_sum, multiplier_values, prior_set

PROGRAMS = ("auction-guarantee", "auction-guarantee-transfers", "auction-potential", "auction-dual")
LOWER, UPPER = "auction-guarantee", "auction-potential"
CORRELATIONS = ("known", "unknown")


# ---------------------------------------------------------------------------
# the censored geometric marginal


def censored_geometric(k: int) -> np.ndarray:
    """ρ_i on X_i(k) of 001 Section 3.1: (1/k)(1 - 1/k)^l for l < k², (1 - 1/k)^{k²} at the top."""
    K = k * k + 1
    rho = (1.0 / k) * (1.0 - 1.0 / k) ** np.arange(K)
    rho[-1] = (1.0 - 1.0 / k) ** (K - 1)
    return rho


def signal_marginal(grid: Grid) -> np.ndarray:
    """ρ(x) = Π_i ρ_i(x_i) on X(k), flat in the grid's order."""
    rho1 = censored_geometric(grid.k)
    out = np.ones(1)
    for _ in range(grid.n_agents):
        out = np.kron(out, rho1)
    return out


# ---------------------------------------------------------------------------
# building


@dataclass(frozen=True)
class AuctionInverse:
    """What ``read`` needs besides the solution."""

    program: str
    grid: Grid
    ql: QuasilinearEnvironment
    rho: np.ndarray
    correlation: str
    penalty: np.ndarray | None
    classes: tuple = ()  # per agent: (labels per state, class values) for correlation="unknown"
    blocks: dict = field(default_factory=dict)


def build(program: str, ql: QuasilinearEnvironment, k: int, correlation: str | None = None,
          penalty=None) -> tuple[LinearProgram, AuctionInverse]:
    """Build one of :data:`PROGRAMS` on X(k).

    ``correlation`` None (the default) follows the model: ``"known"`` for a single prior;
    for an ambiguous prior (``prior marginals ...`` or ``prior in {...}``) the set itself
    (:mod:`robustmech.programs.priors`), recorded as ``"marginals"`` or ``"hull"``."""
    if program not in PROGRAMS:
        raise UnsupportedError(f"unknown auction program '{program}'; choose one of {', '.join(PROGRAMS)}")
    if correlation is not None and correlation not in CORRELATIONS:
        raise ModelError(f"correlation must be one of {', '.join(CORRELATIONS)}, got {correlation!r}")
    ambiguous = prior_set(ql.lowered)
    if ambiguous is not None:
        declared = "the model declares " + ("known marginals" if ambiguous.kind == "marginals" else
                                            "a penalty (`prior penalty`)" if ambiguous.penalty is not None else
                                            "a set of priors")
        if penalty is not None:
            raise ModelError(f"a penalty replaces the prior, but {declared}: declare a single prior to use one")
        if correlation == "known" or (correlation == "unknown" and ambiguous.kind == "hull"):
            raise ModelError(f"correlation={correlation!r} contradicts the model's prior ({declared}): leave the "
                             "option out, and the programs follow the model")
        correlation = ambiguous.kind
    elif correlation is None:
        correlation = "known"
    if not isinstance(k, (int, np.integer)) or k < 2:
        raise ModelError(f"the auction programs need k >= 2 (ρ is degenerate at k = 1), got {k!r}")
    if penalty is not None:
        penalty = np.asarray(penalty, dtype=float).reshape(-1)
        if penalty.shape != (ql.n_states,) or not np.all(np.isfinite(penalty)):
            raise ModelError(f"the penalty needs one finite number per state ({ql.n_states}), got shape "
                             f"{penalty.shape}")
        if correlation != "known":
            raise ModelError("a penalty replaces the prior: do not combine it with correlation='unknown'")
    start = time.perf_counter()
    grid = Grid(ql.n_agents, int(k))
    rho = signal_marginal(grid)
    classes = _marginal_classes(ql) if correlation == "unknown" else ()
    inv = AuctionInverse(program, grid, ql, rho, correlation, penalty, classes)
    if program == "auction-potential":
        lp = _build_potential(inv)
    else:
        lp = _build_guarantee(inv)
    lp.build_seconds = time.perf_counter() - start
    return lp, inv


_EQUATIONS = {
    "auction-guarantee": "(41) of 001 / (28) of 004 (transfers solved out, Lemma 5)",
    "auction-guarantee-transfers": "(4) of 001 / (18) of 004",
    "auction-potential": "(3) of 001 / (20) of 004 ((35) with demand caps)",
    "auction-dual": "(3-D) of 001 / (21) of 004",
}


def index_sets(inv: AuctionInverse) -> dict[str, IndexSet]:
    """Profiles X(k), allocation variables J (outcome coordinates), states Θ, agents I,
    and the rows R of the allocation polytope Q = {a >= 0 : A a <= b}."""
    ql, grid = inv.ql, inv.grid
    env = ql.lowered.env
    return {
        "X": profiles("X", [grid.values] * grid.n_agents, "action (or signal) profiles x ∈ X(k)"),
        "J": labelled("J", ql.allocation_names, "outcome", "allocation variables"),
        "Theta": labelled("Theta", env.states.labels, "state", "states θ"),
        "I": labelled("I", env.agents, "agent", "agents i"),
        "R": labelled("R", ql.row_names, description="rows of the allocation polytope Q"),
    }


def _marginal_classes(ql: QuasilinearEnvironment) -> tuple:
    """For each agent, the distinct value vectors V_i(θ) and which one each state has."""
    out = []
    for i in range(ql.n_agents):
        vals, labels = np.unique(np.round(ql.values[i], 12), axis=0, return_inverse=True)
        out.append((labels.reshape(-1), vals))
    return tuple(out)


def _multiplier_part(inv: AuctionInverse, b: ProgramBuilder, n_rows_per_state: int):
    """The λ side of the virtual-profit rows over (θ, x), θ-major: returns the
    coefficient blocks and the extra right-hand side (the penalty)."""
    ql, S = inv.ql, inv.ql.n_states
    ones = np.ones((n_rows_per_state, 1))
    if inv.penalty is not None:
        b.add_variables("profit", 1, lower=-np.inf, description="Π: the penalised profit bound (001 Appendix B.1.6)")
        b.set_cost("profit", 1.0)
        return {"profit": sp.csr_matrix(np.ones((S * n_rows_per_state, 1)))}, np.repeat(inv.penalty, n_rows_per_state)
    if inv.correlation in ("marginals", "hull"):  # the model's ambiguous prior
        blocks = add_multiplier(b, ql.lowered, n_rows_per_state, index_sets(inv)["Theta"],
                                "λ(θ): the lowest virtual profit in state θ")
        return blocks, np.zeros(S * n_rows_per_state)
    if inv.correlation == "unknown":
        # one block over every (agent, value): exchanging bidders with the same marginal
        # maps λ_i(v) to λ_j(v), so they share a block (a "state class" index set)
        index, onehot = class_index("IV", [(i + 1, labels, [tuple(float(x) for x in v) for v in vals])
                                           for i, (labels, vals) in enumerate(inv.classes)],
                                    ql.lowered.env.states.labels, "(agent, one of its distinct values)")
        b.add_variables("lambda_values", len(index), lower=-np.inf,
                        description="λ_i(v_i): agent i's part of the multiplier λ(θ) = Σ_i λ_i(V_i(θ)) (001 B.1.5)",
                        index=(index,))
        b.set_cost("lambda_values", onehot.T @ ql.prior)
        return {"lambda_values": sp.kron(onehot, ones, format="csr")}, np.zeros(S * n_rows_per_state)
    b.add_variables("lambda", lower=-np.inf, description="λ(θ): the lowest virtual profit in state θ",
                    index=(index_sets(inv)["Theta"],), symbol="lam")
    b.set_cost("lambda", ql.prior)
    return {"lambda": sp.kron(sp.identity(S), ones, format="csr")}, np.zeros(S * n_rows_per_state)


def _allocation_operator(inv: AuctionInverse, derivative) -> sp.csr_matrix:
    """Rows (θ, x), θ-major; columns q (x-major, x * m + j):
    D(θ)·q(x) + Σ_i V_i(θ)·∂_i q(x), with ∂ = ∇+ (1) or ∇- (3-D)."""
    ql, grid = inv.ql, inv.grid
    eye = sp.identity(grid.size, format="csr")
    ops = [derivative(i) for i in range(ql.n_agents)]
    blocks = []
    for s in range(ql.n_states):
        block = sp.kron(eye, ql.cost[s][None, :], format="csr")
        for i, op in enumerate(ops):
            if np.any(ql.values[i, s]):
                block = block + sp.kron(op, ql.values[i, s][None, :], format="csr")
        blocks.append(block)
    return sp.vstack(blocks, format="csr")


def _transfer_operator(grid: Grid) -> sp.csr_matrix:
    """Σ_i ∇+_i t_i(x) - Σt(x): the aggregate excess growth Ξ(x) of (17) of 001, as a
    matrix on t stored x-major (x * N + i)."""
    n = grid.n_agents
    op = -sp.kron(sp.identity(grid.size), np.ones((1, n)), format="csr")
    for i in range(n):
        e = np.zeros((1, n))
        e[0, i] = 1.0
        op = op + sp.kron(grid.upward(i), e, format="csr")
    return op.tocsr()


def _build_guarantee(inv: AuctionInverse) -> LinearProgram:
    ql, grid, program = inv.ql, inv.grid, inv.program
    n_x, S, N = grid.size, ql.n_states, ql.n_agents
    b = ProgramBuilder(f"{program}-{grid.k}", "max", drop_rounding=True)
    sets = index_sets(inv)
    b.add_variables("q", lower=0.0, description="q(x): the allocation at each action profile",
                    index=(sets["X"], sets["J"]))
    lam_blocks, extra_rhs = _multiplier_part(inv, b, n_x)
    derivative = grid.downward if program == "auction-dual" else grid.upward
    coef = {"q": -_allocation_operator(inv, derivative), **lam_blocks}
    if program == "auction-guarantee-transfers":
        upper = np.full((n_x, N), np.inf)
        lower = np.full((n_x, N), -np.inf)
        profiles = np.indices(grid.shape).reshape(N, -1).T
        secure = profiles == 0  # (n_x, N): x_i = 0
        upper[secure] = 0.0
        lower[secure] = 0.0
        b.add_variables("t", lower=lower, upper=upper,
                        description="t(x): transfers, t_i(0, x_-i) = 0 (action 0 is participation secure)",
                        index=(sets["X"], sets["I"]))
        coef["t"] = sp.vstack([_transfer_operator(grid)] * S, format="csr")
        description = "λ(θ) <= Σt + D·q + v·∇+q - ∇+·t: the virtual profit (4) of 001 at every (θ, x)"
    else:
        b.add_variables("Xi", lower=-np.inf, description="Ξ(x): the aggregate excess growth ∇+·t - Σt",
                        index=(sets["X"],))
        b.set_cost("Xi", inv.rho)
        coef["Xi"] = sp.vstack([sp.identity(n_x, format="csr")] * S, format="csr")
        if program == "auction-dual":
            description = "λ(θ) + Ξ(x) <= D·q + v·∇-q at every (θ, x): (3-D) of 001"
        else:
            description = "λ(θ) + Ξ(x) <= D·q + v·∇+q at every (θ, x): (41a) of 001"
    rhs = np.repeat(ql.designer_const, n_x) + extra_rhs
    b.add_rows("virtual_profit", coef, upper=rhs, description=description, index=(sets["Theta"], sets["X"]))
    if len(ql.A):
        b.add_rows("feasibility", {"q": sp.kron(sp.identity(n_x), sp.csr_matrix(ql.A), format="csr")},
                   upper=np.tile(ql.b, n_x), description="q(x) ∈ Q: " + ", ".join(ql.row_names),
                   index=(sets["X"], sets["R"]))
    meta = {"program": program, "k": grid.k, "equation": _EQUATIONS[program], "correlation": inv.correlation}
    return b.build(0.0, meta)


def _levels(grid: Grid) -> tuple[np.ndarray, np.ndarray, IndexSet]:
    """For each profile (flat, C order): its level L(x) = Σ_i l_i (grid indices) and the
    weight k^c(x), c(x) the number of agents at the top index k²; and the set of levels.
    ρ(x) = k^-N k^c(x) (1 - 1/k)^L(x) (:func:`signal_marginal`)."""
    K = grid.k * grid.k + 1
    idx = np.indices(grid.shape).reshape(grid.n_agents, -1)
    level = idx.sum(axis=0)
    weight = float(grid.k) ** (idx == K - 1).sum(axis=0)
    levels = labelled("L", range(grid.n_agents * (K - 1) + 1), description="levels L = Σ_i l_i of a profile")
    return level, weight, levels


def _build_potential(inv: AuctionInverse) -> LinearProgram:
    ql, grid = inv.ql, inv.grid
    n_x, S, r = grid.size, ql.n_states, len(ql.b)
    b = ProgramBuilder(f"auction-potential-{grid.k}", "min", drop_rounding=True)
    sets = index_sets(inv)
    # Written in σ(x, θ) = ρ(x) s(θ | x) and y(x) = ρ(x) y'(x), each row at x divided by
    # ρ(x): ρ(x) falls to (1 - 1/k)^{k²} ≈ e^{-k} per agent at the top of the grid
    # (5e-10 at k = 18 for one bidder), below the solvers' feasibility tolerance, and
    # Σ_θ σ(x, θ) = ρ(x) with such right-hand sides was declared infeasible by HiGHS's
    # presolve (N = 1, k >= 18). Scaled, every coefficient of the virtual-value and
    # marginal rows is O(k): ∇̃+ couples x with x + e_i/k, where ρ changes by (1 - 1/k)
    # (or k - 1 at the top). Only the prior rows Σ_x ρ(x) s(θ | x) = μ(θ) carry ρ.
    rho = inv.rho
    # s <= 1 is implied by Σ_θ s(θ | x) = 1; stated, it keeps the weak-duality bound finite
    # where a solver leaves reduced costs of -5e-8 on s (auction-potential-8, N = 2, full)
    b.add_variables("posterior", upper=1.0, description="s(θ | x) = σ(x, θ)/ρ(x): the information structure's "
                    "posterior on Θ at each signal profile (stored θ-major)", index=(sets["Theta"], sets["X"]))
    if r:
        b.add_variables("y", description="y'(x) = y(x)/ρ(x): multipliers on the allocation rows (γ, and η for "
                        "demand caps), per unit of ρ(x)", index=(sets["X"], sets["R"]))
    eye = sp.identity(n_x, format="csr")
    adj = [grid.adjoint_upward(i) for i in range(ql.n_agents)]
    cols = []
    for s in range(S):
        block = sp.kron(eye, ql.cost[s][:, None], format="csr")
        for i in range(ql.n_agents):
            if np.any(ql.values[i, s]):
                block = block - sp.kron(adj[i], ql.values[i, s][:, None], format="csr")
        cols.append(block)
    virtual = sp.hstack(cols, format="csr")  # rows (x, j), columns (θ, x)
    # ρ(x')/ρ(x) on each entry: the row at x divided by ρ(x), the column (θ, x') times ρ(x')
    virtual = (sp.diags(1.0 / np.repeat(rho, ql.dim)) @ virtual @ sp.diags(np.tile(rho, S))).tocsr()
    coef = {"posterior": -virtual}
    if r:
        coef["y"] = sp.kron(eye, sp.csr_matrix(ql.A.T), format="csr")
    b.add_rows("virtual_value", coef, lower=0.0,
               description="Σ_r A_rj y_r(x) >= c_j(x), the informational virtual objective (13) of 001 "
               "(divided by ρ(x))", index=(sets["X"], sets["J"]))
    b.add_rows("signal_marginal", {"posterior": sp.hstack([eye] * S, format="csr")}, lower=1.0, upper=1.0,
               description="Σ_θ s(θ | x) = 1, i.e. Σ_θ σ(x, θ) = ρ(x): the censored geometric marginal "
               "(001 Section 3.1, 004 Proposition 1)", index=(sets["X"],))
    # Sums against ρ, Σ_x ρ(x) f(x), without ρ's small entries: ρ(x) = k^-N k^c(x) r^L(x)
    # with r = 1 - 1/k, L(x) the sum of the grid indices and c(x) the number of agents at
    # the top, so Σ_x ρ(x) f(x) = k^-N T(0) for the tail T(L) = F(L) + r T(L + 1),
    # F(L) = Σ_{L(x) = L} k^c(x) f(x): every coefficient is 1, r or k^c.
    level, weight, levels = _levels(grid)
    gather = sp.csr_matrix((weight, (level, np.arange(n_x))), shape=(levels.size, n_x))
    shift = sp.identity(levels.size, format="csr") - (1.0 - 1.0 / grid.k) * sp.eye(levels.size, k=1, format="csr")
    at_zero = np.zeros((1, levels.size))
    at_zero[0, 0] = float(grid.k) ** (-grid.n_agents)
    b.add_variables("tail", lower=0.0, description="T(θ, L) = Σ_{L(x) >= L} r^(L(x) - L) k^c(x) s(θ | x): the tail "
                    "sums, Σ_x σ(x, θ) = k^-N T(θ, 0)", index=(sets["Theta"], levels))
    b.add_rows("tail", {"tail": sp.kron(sp.identity(S), shift, format="csr"),
                        "posterior": -sp.kron(sp.identity(S), gather, format="csr")}, lower=0.0, upper=0.0,
               description="T(θ, L) - r T(θ, L + 1) = Σ_{L(x) = L} k^c(x) s(θ | x)", index=(sets["Theta"], levels))
    mass = sp.kron(sp.identity(S), sp.csr_matrix(at_zero), format="csr")  # (S, S·levels): Σ_x σ(x, θ)
    state_cost = np.asarray(ql.designer_const, dtype=float)
    if inv.penalty is not None:
        state_cost = state_cost + inv.penalty
    b.set_cost("tail", np.asarray(mass.T @ state_cost).ravel())  # Σ_θ (w_0 + c)(θ) Σ_x σ(x, θ)
    if r:
        b.add_variables("y_tail", lower=-np.inf, description="U(L): the tail sums of k^c(x) b·y'(x), "
                        "Σ_x b·y(x) = k^-N U(0)", index=(levels,))
        b.add_rows("y_tail", {"y_tail": shift, "y": -sp.kron(gather, sp.csr_matrix(ql.b[None, :]), format="csr")},
                   lower=0.0, upper=0.0, description="U(L) - r U(L + 1) = Σ_{L(x) = L} k^c(x) b·y'(x)",
                   index=(levels,))
        b.set_cost("y_tail", at_zero.ravel())
    if inv.correlation in ("marginals", "hull"):
        add_state_marginal(b, ql.lowered, "tail", mass, sets["Theta"],
                           description="Σ_x σ(x, θ) = k^-N T(θ, 0) = μ(θ)")
    elif inv.penalty is None:
        if inv.correlation == "unknown":
            for i, (labels, vals) in enumerate(inv.classes):
                onehot = sp.csr_matrix((np.ones(S), (labels, np.arange(S))), shape=(len(vals), S))
                target = onehot @ ql.prior
                b.add_rows(f"marginal_{i + 1}", {"tail": (onehot @ mass).tocsr()},
                           lower=target, upper=target,
                           description=f"the marginal of agent {i + 1}'s value is known (001 Appendix B.1.5)")
        else:
            b.add_rows("prior", {"tail": mass}, lower=ql.prior, upper=ql.prior,
                       description="Σ_x σ(x, θ) = k^-N T(θ, 0) = μ(θ)", index=(sets["Theta"],))
    meta = {"program": "auction-potential", "k": grid.k, "equation": _EQUATIONS["auction-potential"],
            "correlation": inv.correlation}
    return b.build(0.0, meta)


# ---------------------------------------------------------------------------
# transfers from the aggregate excess growth (001 Section 3.4 and Appendix B.2)


def _expect(f: np.ndarray, axes, rho1: np.ndarray) -> np.ndarray:
    """E_ρ over the agents in ``axes`` (kept as length-1 axes, so the result broadcasts)."""
    for a in axes:
        f = np.tensordot(f, rho1, axes=([a], [0]))
        f = np.expand_dims(f, a)
    return f


def individual_excess_growth(Xi: np.ndarray, k: int) -> np.ndarray:
    """ξ_i for a balanced Ξ on X(k) (array of the grid's shape), by the balanced division
    Ξ_i = Ξ/N, Ξ_(z,i,j) = E_{x_i}[Ξ_(z,i)]/|N(z,i)| of 001 Appendix B.2 and (37).

    Summing (37) over the queues z with the same set S of bidders ahead of i gives
    ξ_i = Σ_{S ⊆ N∖i} |S|!(N-|S|-1)!/N! · (E_S Ξ - E_{S∪i} Ξ) (E_S integrates the
    actions in S against ρ); for N = 2 this is (25) with Ξ_1 = Ξ_2 = Ξ/2.
    Returns an array of shape (N,) + Ξ.shape.
    """
    N = Xi.ndim
    rho1 = censored_geometric(k)
    out = np.zeros((N,) + Xi.shape)
    for i in range(N):
        others = [j for j in range(N) if j != i]
        for size in range(N):
            weight = math.factorial(size) * math.factorial(N - size - 1) / math.factorial(N)
            for S in itertools.combinations(others, size):
                ES = _expect(Xi, S, rho1)
                out[i] += weight * (ES - _expect(ES, (i,), rho1))
    return out


def transfers_from_excess_growth(xi: np.ndarray, k: int) -> np.ndarray:
    """t_i from ξ_i = ∇+_i t_i - t_i, solved backwards in x_i: t_i(k) = -ξ_i(k),
    t_i(l) = (-ξ_i(l) + (k-1) t_i(l+1)) / k, i.e. (22) of 001 with the factor 1/k it
    lacks below the top (with ∇+'s factor k - 1, ξ_i(l) = (k-1) t_i(l+1) - k t_i(l)).
    ``xi`` has shape (N,) + grid shape."""
    N = xi.shape[0]
    K = k * k + 1
    rho1 = censored_geometric(k)
    # t(l) = -Σ_{m >= l} ρ(m) ξ(m) / (k^{[l<K-1]} ρ(l)) as one upper-triangular K x K matrix
    T = np.triu(np.ones((K, K))) * (rho1[None, :] / rho1[:, None])
    T[:-1] /= k
    out = np.empty_like(xi)
    for i in range(N):
        moved = np.moveaxis(xi[i], i, 0)
        out[i] = np.moveaxis(-np.tensordot(T, moved, axes=([1], [0])), 0, i)
    return out


# ---------------------------------------------------------------------------
# reading back


def read(lp: LinearProgram, solution, inverse: AuctionInverse) -> dict:
    """Economic objects from a solution: a participation-secure mechanism (with checks
    on the grid and the decomposition of the guarantee) or an information structure
    (with interim values, virtual values and the decomposition of the profit bound)."""
    if inverse.program == "auction-potential":
        return _read_potential(lp, solution, inverse)
    return _read_guarantee(lp, solution, inverse)


def _multiplier_values(lp: LinearProgram, x: np.ndarray, inv: AuctionInverse) -> np.ndarray:
    """The per-state multiplier λ(θ) (Σ_i λ_i(V_i(θ)) for unknown correlation; Π for a penalty,
    for which the rows' right-hand side carries -c(θ))."""
    S = inv.ql.n_states
    if inv.penalty is not None:
        return np.full(S, lp.block(x, "profit")[0]) - inv.penalty
    if inv.correlation in ("marginals", "hull"):
        return multiplier_values(lp, x, inv.ql.lowered)
    if inv.correlation == "unknown":
        return class_sum(lp.block(x, "lambda_values"), inv.classes)
    return lp.block(x, "lambda")


def _aggregate_by_level(f: np.ndarray, grid: Grid, rho: np.ndarray) -> np.ndarray:
    """ρ-weighted mean, min and max of f over the profiles with the same aggregate action
    Σx (level Σ_i l_i); rows: mean, min, max; columns: Σx = 0, 1/k, ..., N k."""
    levels = np.indices(grid.shape).reshape(grid.n_agents, -1).sum(axis=0)
    n_levels = levels.max() + 1
    w = np.bincount(levels, weights=rho, minlength=n_levels)
    mean = np.bincount(levels, weights=rho * f, minlength=n_levels) / np.where(w > 0, w, 1)
    lo = np.full(n_levels, np.inf)
    hi = np.full(n_levels, -np.inf)
    np.minimum.at(lo, levels, f)
    np.maximum.at(hi, levels, f)
    return np.vstack([mean, lo, hi])


def _read_guarantee(lp: LinearProgram, solution, inv: AuctionInverse) -> dict:
    ql, grid, rho = inv.ql, inv.grid, inv.rho
    x = solution.x
    n_x, N, S = grid.size, ql.n_agents, ql.n_states
    q = np.clip(lp.block(x, "q"), 0.0, None)  # (n_x, m); solver noise below 0
    lam = _multiplier_values(lp, x, inv)
    out: dict = {}
    if inv.program == "auction-dual":
        # the duals of the rows (3-D) are an information structure σ with marginals μ and ρ:
        # the minimiser of (3) (complementary slackness), read as in ``auction-potential``
        sigma = np.abs(np.asarray(solution.row_dual)[lp.families["virtual_profit"].slice]).reshape(S, n_x)
        out = _information_outputs(lp, inv, sigma, q)
        out.update(lam=lam, Xi=lp.block(x, "Xi"))
        return out
    if inv.program == "auction-guarantee":
        Xi = lp.block(x, "Xi")
        shift = float(rho @ Xi)  # Lemma 5: (λ + C, Ξ - C) with C = E_ρ Ξ is balanced
        Xi_bal = (Xi - shift).reshape(grid.shape)
        xi = individual_excess_growth(Xi_bal, grid.k)
        t = transfers_from_excess_growth(xi, grid.k).reshape(N, n_x).T  # (n_x, N)
        lam_recovered = lam + shift
    else:
        t = lp.block(x, "t")
        lam_recovered = lam
    # checks on the grid: participation security, and every local constraint of (4)
    excess = _transfer_operator(grid) @ t.reshape(-1)
    alloc_term = _allocation_operator(inv, grid.upward) @ q.reshape(-1)
    virtual_profit = (np.repeat(ql.designer_const, n_x) + np.tile(-excess, S) + alloc_term).reshape(S, n_x)
    if inv.penalty is not None:
        virtual_profit = virtual_profit + inv.penalty[:, None]
        lam_check = lam_recovered + inv.penalty
    else:
        lam_check = lam_recovered
    profiles = np.indices(grid.shape).reshape(N, -1).T
    secure = np.abs(t[profiles == 0]).max(initial=0.0)
    violation = float(np.max(lam_check[:, None] - virtual_profit))
    certified = virtual_profit.min(axis=1)  # λ(θ) of Proposition 4 of 001 for this mechanism
    checks = {
        "participation_max_abs_t_at_0": float(secure),
        "local_constraint_max_violation": max(violation, 0.0),
    }
    if inv.program == "auction-guarantee":
        checks["excess_growth_max_error"] = float(np.abs(excess - Xi_bal.reshape(-1)).max())
    if inv.penalty is None and inv.correlation == "known":
        checks["certified_guarantee"] = float(ql.prior @ certified + 0.0)
    elif inv.correlation == "hull":  # the worst listed prior: the worst of their convex hull for this λ
        hull = prior_set(ql.lowered)
        assert hull is not None  # inv.correlation says so
        offsets = 0.0 if hull.penalty is None else hull.penalty  # a model's `prior penalty` (001 B.1.6)
        checks["certified_guarantee"] = float((hull.extremes @ certified + offsets).min())
    elif inv.penalty is not None:
        checks["certified_guarantee"] = float(virtual_profit.min())  # Π <= min over (θ, x), penalty included
    # the mechanism in the environment's own outcome coordinates
    d = ql.lowered.dim
    rule = np.zeros((n_x, d))
    rule[:, ql.allocation_columns] = q
    rule[:, ql.transfer_columns] = t
    axes = tuple(grid.values for _ in range(N))
    mech = Mechanism(axes, ql.lowered.outcome_names, rule.reshape(grid.shape + (d,)), finite=False, name=lp.name,
                     metadata={"k": grid.k, "program": inv.program, "secure_action": 0.0})
    # decomposition of the guarantee along the worst-case local BCE: the duals of the
    # virtual-profit rows are a distribution on Θ × X(k) with marginal μ
    weights = np.abs(np.asarray(solution.row_dual)[lp.families["virtual_profit"].slice]).reshape(S, n_x)
    total = weights.sum()
    decomposition = {}
    if total > 0:
        weights = weights / total
        revenue = float((weights.sum(axis=0) * t.sum(axis=1)).sum())
        cost_part = _allocation_operator(inv, lambda i: sp.csr_matrix((n_x, n_x))) @ q.reshape(-1)
        cost = float((weights.reshape(-1) * (cost_part + np.repeat(ql.designer_const, n_x))).sum())
        rent = float((weights.reshape(-1) * (virtual_profit.reshape(-1) - cost_part - np.repeat(ql.designer_const, n_x)
                                             - np.tile(t.sum(axis=1), S)
                                             - (np.repeat(inv.penalty, n_x) if inv.penalty is not None
                                                else 0.0))).sum())
        decomposition = {"revenue": revenue, "allocation_term": cost, "strategic_rent": rent}
        if inv.penalty is not None:
            decomposition["penalty"] = float((weights.sum(axis=1) * inv.penalty).sum())
    out.update(worst_case_weights=(weights if total > 0 else None))
    out.update(mechanism=mech, lam=lam_recovered, checks=checks, decomposition=decomposition,
               transfers=t.T.reshape((N,) + grid.shape), allocation=q.T.reshape((ql.dim,) + grid.shape))
    out["aggregate_allocation"] = np.stack([_aggregate_by_level(q @ row, grid, rho)
                                            for row in ql.A]) if len(ql.A) else None
    out["aggregate_transfer"] = _aggregate_by_level(t.sum(axis=1), grid, rho)
    if inv.program == "auction-guarantee":
        out["Xi"] = Xi_bal
    return out


def _read_potential(lp: LinearProgram, solution, inv: AuctionInverse) -> dict:
    ql, grid = inv.ql, inv.grid
    rho = inv.rho
    sigma = np.clip(lp.block(solution.x, "posterior"), 0.0, None) * rho[None, :]  # σ = ρ s, (S, n_x)
    # the seller's best allocation on this structure: the duals of the virtual-value rows ((3-D) of 001),
    # which were divided by ρ(x), so their duals are ρ(x) q(x)
    alloc = np.abs(np.asarray(solution.row_dual)[lp.families["virtual_value"].slice]).reshape(grid.size, ql.dim)
    alloc = alloc / rho[:, None]
    out = _information_outputs(lp, inv, sigma, alloc)
    gamma = lp.block(solution.x, "y") * rho[:, None] if len(ql.b) else np.zeros((grid.size, 0))
    out["gamma"] = gamma.T.reshape((len(ql.b),) + grid.shape)
    return out


def _information_outputs(lp: LinearProgram, inv: AuctionInverse, sigma: np.ndarray, alloc: np.ndarray) -> dict:
    """Interim values, virtual values and the decomposition of the profit bound for an
    information structure σ (S, |X|) with marginal ρ, and an allocation (|X|, m)."""
    ql, grid, rho = inv.ql, inv.grid, inv.rho
    n_x, S, m = grid.size, ql.n_states, ql.dim
    joint = np.moveaxis(sigma.reshape((S,) + grid.shape), 0, -1)
    info = InformationStructure(tuple(grid.values for _ in range(grid.n_agents)), ql.lowered.env.states.labels, joint,
                                name=lp.name, metadata={"k": grid.k, "program": inv.program})
    # interim values w_ij(x) = Σ_θ V_ij(θ) σ(x,θ) / ρ(x) of (12) of 001, for the owner i of variable j
    owner_values = np.zeros((S, m))
    for j, i in enumerate(ql.owners):
        owner_values[:, j] = ql.values[i, :, j] if i >= 0 else np.sum(ql.values[:, :, j], axis=0)
    interim = (sigma.T @ owner_values) / rho[:, None]  # (n_x, m)
    # the informational virtual objective c(x) and the virtual value c(x)/ρ(x)
    adj = [grid.adjoint_upward(i) for i in range(ql.n_agents)]
    c = sigma.T @ ql.cost  # (n_x, m)
    rent = np.zeros((n_x, m))
    for i in range(ql.n_agents):
        adj_sigma = (adj[i] @ sigma.T).T  # ∇̃+_i σ(·, θ), (S, n_x)
        c -= adj_sigma.T @ ql.values[i]
        rent += (sigma + adj_sigma).T @ ql.values[i]
    virtual = c / rho[:, None]
    surplus = float(np.sum(alloc * (sigma.T @ (ql.cost + ql.values.sum(axis=0)))))
    rents = float(np.sum(alloc * rent))
    decomposition = {"surplus": surplus, "information_rent": rents, "profit": surplus - rents
                     + float(ql.designer_const @ sigma.sum(axis=1))}
    aggregate = np.stack([_aggregate_by_level(alloc @ row, grid, rho) for row in ql.A]) if len(ql.A) else None
    return {"information": info, "interim_values": interim.T.reshape((m,) + grid.shape),
            "virtual_values": virtual.T.reshape((m,) + grid.shape), "allocation": alloc.T.reshape((m,) + grid.shape),
            "decomposition": decomposition, "aggregate_allocation": aggregate}


# ---------------------------------------------------------------------------
# the programs, registered

_ARRAYS = ("lam", "Xi", "gamma", "allocation", "transfers", "interim_values", "virtual_values",
           "aggregate_allocation", "aggregate_transfer", "worst_case_weights")


class _AuctionProgram(Program):
    """One of 001's programs on the quasilinear structure recognised in the environment."""

    family = "auction"
    parameters = {"k": REQUIRED, "correlation": None, "penalty": None}

    def build(self, lowered, **options) -> tuple[LinearProgram, AuctionInverse]:
        from ..lower.quasilinear import recognise
        from .restrictions import refuse

        opts = self.options(options)
        if self.name != "auction-potential":  # the potential bounds any class of mechanisms from above
            refuse(lowered, self.name, f"{self.title} of 001",
                   "its mechanisms have transfers solved out; use the program 'guarantee' (LB-G-k), or "
                   "`bounds --family general`")
        if self.name in ("auction-potential", "auction-dual"):  # a lower bound ignoring the baseline stays one
            from .baseline import refuse as refuse_baseline

            refuse_baseline(lowered, self.name, f"{self.title} of 001 bounds the min potential over every "
                            "information structure; use 'potential' (UB-P-k), or `bounds --family general`")
        return build(self.name, recognise(lowered), opts["k"], correlation=opts["correlation"], penalty=opts["penalty"])

    def read(self, lp: LinearProgram, solution, inverse: AuctionInverse) -> ReadBack:
        objects = read(lp, solution, inverse)
        arrays = {name: objects[name] for name in _ARRAYS if objects.get(name) is not None}
        if "lam" in arrays:
            arrays["lambda"] = arrays.pop("lam")
        extra = {"equation": lp.metadata.get("equation"), "correlation": inverse.correlation}
        from .baseline import IGNORED_BY_LOWER_BOUND, baseline_of

        if baseline_of(inverse.ql.lowered) is not None:
            extra["baseline"] = IGNORED_BY_LOWER_BOUND
        extra.update(objects.get("checks", {}))
        extra.update({f"decomposition_{key}": value for key, value in objects.get("decomposition", {}).items()})
        return ReadBack(mechanism=objects.get("mechanism"), information=objects.get("information"), arrays=arrays,
                        extra=extra)


class AuctionGuarantee(_AuctionProgram):
    """001's restricted max-2min program without transfers, (41) (Lemma 5; (28) of 004)."""

    name, title, source, bound = "auction-guarantee", "max-2min (41)", _EQUATIONS["auction-guarantee"], "lower"


class AuctionGuaranteeTransfers(_AuctionProgram):
    """001's restricted max-2min program (4) with transfers ((18) of 004)."""

    name, title, source = "auction-guarantee-transfers", "max-2min (4)", _EQUATIONS["auction-guarantee-transfers"]


class AuctionPotential(_AuctionProgram):
    """001's restricted min-2max program (3) ((20) of 004; (35) with demand caps)."""

    name, title, source, bound = "auction-potential", "min-2max (3)", _EQUATIONS["auction-potential"], "upper"

    def reformulation(self, lp: LinearProgram, inverse: AuctionInverse, solver: str):
        """The default solver solves (3) through (3-D) from ``THROUGH_THE_DUAL_FROM_COLUMNS``
        columns on (:mod:`robustmech.programs.auction_dual`)."""
        from .auction_dual import THROUGH_THE_DUAL_FROM_COLUMNS, ThroughTheDual, applies

        if solver == "auto" and lp.n_cols >= THROUGH_THE_DUAL_FROM_COLUMNS and applies(inverse):
            return ThroughTheDual(inverse)
        return None


class AuctionDual(_AuctionProgram):
    """(3-D) of 001 / (21) of 004, the LP dual of the min-2max program."""

    name, title, source = "auction-dual", "(3-D)", _EQUATIONS["auction-dual"]


for _program in (AuctionGuarantee(), AuctionGuaranteeTransfers(), AuctionPotential(), AuctionDual()):
    register(_program)
