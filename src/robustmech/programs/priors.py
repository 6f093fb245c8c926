"""Ambiguous priors in the programs: Nature chooses μ from a polytope 𝒫 ⊆ Δ(Θ).

A model's ``prior marginals ...`` (known marginals, unknown correlation: 001 Appendix
B.1.5) or ``prior in { ... }`` (the convex hull of the listed priors) reaches the
programs as :class:`~robustmech.lower.arrays.LoweredPriorSet`. Each program that depends
on the prior uses one of the two helpers below (the bounding programs of 004, the auction
programs of 001, the BCE programs); the direct program checks that its information
structure's state marginal is a member of the set. None silently uses one prior:

* the designer's (max) side, whose objective is E_μ λ = Σ_θ μ(θ) λ(θ) for a known μ,
  becomes min_{μ ∈ 𝒫} Σ_θ μ(θ) λ(θ) (:func:`add_multiplier`):

  - hull: an epigraph, max τ s.t. τ <= μ_j·λ for every listed prior μ_j;
  - marginals: by LP duality min {μ·λ : μ >= 0, Cμ = c} = max {c·ν : Cᵀν <= λ}, and
    λ is replaced by Σ_c ν_c(θ_c) (the λ(θ) = Σ_i λ_i(v_i) of 001 (41) in Appendix B.1.5);

* Nature's (min) side, whose state marginal Σ_x σ(x, θ) is μ for a known μ, lets μ
  range over 𝒫 (:func:`add_state_marginal`):

  - hull: convex weights w >= 0, Σ_j w_j = 1, Σ_x σ(x, θ) = Σ_j w_j μ_j(θ);
  - marginals: Σ_{θ: θ_c = v} Σ_x σ(x, θ) = c_c(v) for every coordinate c and value v.

A penalty (``prior penalty c``, 001 Appendix B.1.6) is the hull of the point masses
with a price: τ <= λ(θ) + c(θ) on the designer's side, so τ = min_μ E_μ[λ + c]; Nature
pays Σ_θ c(θ) w(θ) on its side.

With one prior in a hull both reduce to the single-prior program (τ <= μ·λ binds;
w = 1), with the same value.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..lower.arrays import LoweredPriorSet
from ..lower.kron import Kron, kron, tocsr
from .lp import IndexSet, LinearProgram, ProgramBuilder, labelled


def prior_set(low) -> LoweredPriorSet | None:
    """The lowered environment's set of priors (None for a single prior)."""
    return getattr(low, "prior_set", None)


def add_multiplier(b: ProgramBuilder, low, rows_per_state: int, theta: IndexSet, description: str,
                   cost_scale: float = 1.0, ones=None) -> dict:
    """The λ side of rows ``λ(θ) <= ...`` over (θ, x), θ-major, ``rows_per_state`` rows a
    state, for a maximisation whose objective is the worst case over the priors of
    E_μ λ: declares the variables and their costs and returns the coefficient blocks to
    put on those rows (the caller adds them to its row family). ``ones``: the column of
    ones over a state's rows, structured where the caller's grid is
    (:meth:`robustmech.lower.grid.Grid.ones_operator`)."""
    ps = prior_set(low)
    S = low.n_states
    ones = np.ones((rows_per_state, 1)) if ones is None else ones
    if ps is None or ps.kind == "hull":
        b.add_variables("lambda", lower=-np.inf, description=description, index=(theta,), symbol="lam")
        if ps is None:
            b.set_cost("lambda", cost_scale * low.prior)
        else:
            m = ps.extremes.shape[0]
            b.add_variables("tau", 1, lower=-np.inf, description="τ = min_j Σ_θ μ_j(θ) λ(θ): the worst listed prior "
                            "(the worst case over their convex hull)")
            b.set_cost("tau", cost_scale)
            offsets = np.zeros(m) if ps.penalty is None else ps.penalty
            b.add_rows("prior_set", {"tau": sp.csr_matrix(np.ones((m, 1))), "lambda": -sp.csr_matrix(ps.extremes)},
                       upper=offsets,
                       description="τ <= Σ_θ μ_j(θ) λ(θ) (+ c_j, Nature's penalty) for every listed prior μ_j",
                       index=(labelled("P", range(1, m + 1), description="the listed priors"),))
        return {"lambda": kron(Kron.identity(S) if isinstance(ones, Kron) else sp.identity(S), ones)}
    # one block ν over every (coordinate, value): a symmetry that exchanges coordinates
    # (bidders with the same marginal) maps ν_c(v) to ν_c'(v), so they share a block
    symbols = low.env.states.symbols
    index, onehot = class_index("CV", [(symbols[c].name, labels, values) for c, (labels, values, _) in
                                       enumerate(ps.classes)], low.env.states.labels, "(state coordinate, value)")
    b.add_variables("nu", len(index), lower=-np.inf,
                    description="ν_c(v): coordinate c's part of λ(θ) = Σ_c ν_c(θ_c) (known marginals, 001 Appendix "
                    "B.1.5)", index=(index,))
    b.set_cost("nu", cost_scale * np.concatenate([target for _, _, target in ps.classes]))
    return {"nu": kron(Kron.factor(onehot) if isinstance(ones, Kron) else onehot, ones)}


def class_index(name: str, groups, states: tuple, description: str) -> tuple[IndexSet, sp.csr_matrix]:
    """An index set of kind "state class" over the (owner, value) pairs of ``groups`` (each
    (owner, labels, values): ``labels[s]`` the index in ``values`` of state s's value for
    that owner), and the 0/1 matrix (states × members) of the class each state is in, per
    owner: λ(θ) = Σ_owner λ_owner(value(θ)) is that matrix times the block."""
    members, classes, onehots = [], [], []
    S = len(states)
    for owner, labels, values in groups:
        members += [(owner, v) for v in values]
        classes += [tuple(states[s] for s in np.flatnonzero(labels == j)) for j in range(len(values))]
        onehots.append(sp.csr_matrix((np.ones(S), (np.arange(S), labels)), shape=(S, len(values))))
    index = IndexSet(name, labels=tuple(members), kind="state class", classes=tuple(classes), description=description)
    return index, sp.hstack(onehots, format="csr")


def class_sum(values: np.ndarray, groups) -> np.ndarray:
    """λ(θ) = Σ_owner λ_owner(value(θ)) from a block laid out by :func:`class_index`;
    ``groups``: each owner's (labels, values), in the same order."""
    total, start = np.zeros(len(groups[0][0])), 0
    for labels, owner_values in groups:
        total += values[start + labels]
        start += len(owner_values)
    return total


def multiplier_values(lp: LinearProgram, x: np.ndarray, low) -> np.ndarray:
    """λ(θ) from a solution of a program built with :func:`add_multiplier`."""
    ps = prior_set(low)
    if ps is None or ps.kind == "hull":
        return lp.block(x, "lambda")
    return class_sum(lp.block(x, "nu"), [(labels, values) for labels, values, _ in ps.classes])


def add_state_marginal(b: ProgramBuilder, low, block: str, mass, theta: IndexSet,
                       description: str = "the marginal of σ on Θ is the prior μ") -> None:
    """Rows saying that the state marginal ``mass @ block`` (S rows, one per state; sparse
    or structured) is the prior, or for an ambiguous prior, a member of the set (Nature
    chooses it)."""
    ps = prior_set(low)
    if ps is not None:
        mass = tocsr(mass)
    if ps is None:
        b.add_rows("marginal", {block: mass}, lower=low.prior, upper=low.prior, description=description,
                   index=(theta,))
        return
    if ps.kind == "marginals":
        C, c = ps.marginal_matrix()
        members = [(low.env.states.symbols[j].name, v) for j, (_, values, _) in enumerate(ps.classes) for v in values]
        b.add_rows("marginal", {block: (sp.csr_matrix(C) @ mass).tocsr()}, lower=c, upper=c,
                   description="the marginal of each state coordinate is known (the joint is Nature's choice, "
                   "001 Appendix B.1.5)",
                   index=(labelled("CV", members, description="(state coordinate, value)"),))
        return
    m = ps.extremes.shape[0]
    priors = labelled("P", range(1, m + 1), description="the listed priors")
    b.add_variables("prior_weights", upper=1.0, index=(priors,),
                    description="w_j: the weight of listed prior j in Nature's prior Σ_j w_j μ_j")
    if ps.penalty is not None:  # 001 Appendix B.1.6: Nature pays c_j per unit weight on prior j
        b.set_cost("prior_weights", ps.penalty)
    b.add_rows("marginal", {block: mass, "prior_weights": -sp.csr_matrix(ps.extremes.T)}, lower=0.0, upper=0.0,
               description="the marginal of σ on Θ is Σ_j w_j μ_j, a prior of the convex hull", index=(theta,))
    b.add_rows("prior_weights_sum", {"prior_weights": sp.csr_matrix(np.ones((1, m)))}, lower=1.0, upper=1.0,
               description="Σ_j w_j = 1")
