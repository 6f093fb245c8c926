"""001's min-2max program (3) solved through its LP dual (3-D).

(3) is written in posteriors s(θ | x) = σ(x, θ)/ρ(x) with each row divided by ρ(x), and
its tail rows carry the geometric marginal ρ. Its duals then decay like (1 - 1/k)^L
along the levels L of the grid, and Clarabel stops short: at k = 10 (N = 2, ten values)
it reports 0.281625 where the optimum is 0.280937, and the crossover after it took more
than 10 minutes at k = 15. (3-D) has ρ only in its objective; its rows' duals are σ
itself and its solution is the seller's mechanism. :class:`ThroughTheDual` is the
reduction (3) -> (3-D):

``apply``
    builds (3-D) on the same grid (:func:`robustmech.programs.auction.build`);
``invert``
    maps a solution of (3-D) to one of (3), primal point *and* duals, so that (3)'s own
    rows and weak-duality bound certify it, as for every reduction:

    - the structure: σ(x, θ) = the dual of (3-D)'s row (θ, x), fitted to the marginals ρ
      and μ that it meets to the solver's tolerance (:func:`_fitted_posterior`), and
      s(θ | x) = σ(x, θ)/ρ(x): the signal and prior rows hold to rounding;
    - y'(x) = max(0, max_j c_j(x)/A_j), the least multiplier of the one allocation row
      Σ_j A_j a_j <= b at c(x) = the virtual-value rows of (3) at s, so those rows hold;
    - the tail sums T(θ, L) = F(θ, L) + r T(θ, L + 1), U(L) likewise, from the top level
      down (their rows hold; the prior rows hold to the accuracy of σ);
    - the duals of (3), by LP duality from (q, λ, Ξ) of (3-D): ρ(x) q(x) on the
      virtual-value rows, ρ(x) Ξ(x) on the signal rows, λ(θ) on the prior rows,
      k^-N r^L (w_0(θ) - λ(θ)) on the tail rows and k^-N r^L on those of U, r = 1 - 1/k.
      Their reduced costs on s are ρ(x) times the slack of (3-D)'s row (θ, x), so the
      bound they give is (3-D)'s value.

Used where it is exact and measured to pay: a single prior (no penalty, no ambiguity),
one allocation row with positive coefficients (Σ_i q_i <= 1 and its multiples), and a
program large enough for the default solver to be an interior point method.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .auction import AuctionInverse, _levels, build
from .lp import LinearProgram
from .reductions import NOT_YET_COMPUTED, Reduction

# (3) from this many columns on goes through (3-D) when the solver is the default (where
# `auto` hands it to Clarabel, whose point on (3) its own duals do not certify)
THROUGH_THE_DUAL_FROM_COLUMNS = 10_000


def applies(inverse: AuctionInverse) -> bool:
    """Whether (3) on these data can be solved through (3-D) by :class:`ThroughTheDual`."""
    A = np.asarray(inverse.ql.A, dtype=float)
    return (inverse.program == "auction-potential" and inverse.correlation == "known" and inverse.penalty is None
            and A.shape[0] == 1 and bool(np.all(A > 0)) and float(np.asarray(inverse.ql.b)[0]) > 0)


class ThroughTheDual(Reduction):
    """(3) of 001 -> (3-D); see the module docstring."""

    def __init__(self, inverse: AuctionInverse):
        if not applies(inverse):
            raise ValueError("(3) is solved through (3-D) only for a single prior and one allocation row")
        self.inverse = inverse
        self.dual, _ = build("auction-dual", inverse.ql, inverse.grid.k)
        self.marginal_residual = float("nan")  # how far (3-D)'s duals missed ρ and μ, set by invert

    def apply(self, lp: LinearProgram) -> tuple[LinearProgram, LinearProgram]:
        return self.dual, lp

    def invert(self, solution, potential: LinearProgram):
        inv, dual = self.inverse, self.dual
        ql, grid, rho = inv.ql, inv.grid, inv.rho
        S, n_x, k = ql.n_states, grid.size, grid.k
        r = 1.0 - 1.0 / k
        sigma = np.clip(np.asarray(solution.row_dual)[dual.families["virtual_profit"].slice], 0.0, None)
        sigma = sigma.reshape(S, n_x)
        prior = np.asarray(ql.prior, dtype=float)
        self.marginal_residual = float(max(np.abs(sigma.sum(axis=0) - rho).max(),
                                           np.abs(sigma.sum(axis=1) - prior).max()))
        posterior = _fitted_posterior(sigma, rho, prior)
        x = np.zeros(potential.n_cols)
        x[potential.variables["posterior"].slice] = posterior.ravel()
        # the virtual-value rows are Σ_j A_j y'(x) - c_j(x) >= 0, c(x) the rows' part on s
        rows = potential.families["virtual_value"].slice
        c = -(potential.A[rows][:, potential.variables["posterior"].slice] @ posterior.ravel()).reshape(n_x, ql.dim)
        a, b = np.asarray(ql.A, dtype=float)[0], float(np.asarray(ql.b)[0])
        y = np.maximum(0.0, (c / a[None, :]).max(axis=1))
        x[potential.variables["y"].slice] = y
        level, weight, levels = _levels(grid)
        gathered = np.zeros((levels.size, S))
        np.add.at(gathered, level, weight[:, None] * posterior.T)
        x[potential.variables["tail"].slice] = _tail_sums(gathered.T, r).ravel()
        x[potential.variables["y_tail"].slice] = _tail_sums(np.bincount(level, weights=weight * b * y,
                                                                        minlength=levels.size), r)
        # a point of Q = {q >= 0: a·q <= b} at every x, so that (3)'s duals are feasible
        q = np.clip(dual.block(solution.x, "q").reshape(n_x, ql.dim), 0.0, None)
        q *= np.minimum(1.0, b / np.maximum(q @ a, np.finfo(float).tiny))[:, None]
        lam, excess = dual.block(solution.x, "lambda"), dual.block(solution.x, "Xi")
        decay = float(k) ** (-grid.n_agents) * r ** np.arange(levels.size)
        y_rows = np.zeros(potential.n_rows)
        y_rows[rows] = (rho[:, None] * q).ravel()
        y_rows[potential.families["signal_marginal"].slice] = rho * excess
        y_rows[potential.families["prior"].slice] = lam
        state_cost = np.asarray(ql.designer_const, dtype=float)
        y_rows[potential.families["tail"].slice] = ((state_cost - lam)[:, None] * decay[None, :]).ravel()
        y_rows[potential.families["y_tail"].slice] = decay
        # A x and c - Aᵀy are (3)'s own, made once where the chain ends (api.solve_built)
        return replace(solution, x=x, row_dual=y_rows, col_dual=NOT_YET_COMPUTED, row_activity=NOT_YET_COMPUTED,
                       objective=float(potential.cost @ x + potential.offset))

    def describe(self, data) -> dict:
        return {"through": "(3-D) of 001, the LP dual of (3): σ from its rows' duals, the seller's mechanism "
                           "from its solution; the symmetry and vertex reports are (3-D)'s",
                "through_marginal_residual": self.marginal_residual}


def _fitted_posterior(sigma: np.ndarray, rho: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """s(θ | x) from σ (S, |X|) whose marginals are ρ and μ to the solver's tolerance
    only (at k = 15 the duals of the crossover's basic solution miss μ by 7e-7), made
    exact so that the structure is feasible for (3) and its value a bound. σ is scaled
    to ρ on each signal; then each state θ with an excess e(θ) = Σ_x σ(x, θ) - μ(θ) > 0
    gives it up in proportion to σ(x, θ), and the signals pass it on to the states short
    of μ in proportion to their shortfalls (Σ_θ e = 0): each signal keeps its mass, each
    state gets μ(θ), no entry turns negative. (Proportional fitting converges too slowly
    here: 90% of σ is zero.) Where σ(x, ·) vanishes the posterior is the prior."""
    sigma = sigma.copy()
    empty = sigma.sum(axis=0) <= 0
    sigma[:, empty] = prior[:, None] * rho[empty][None, :]
    sigma *= rho / sigma.sum(axis=0)
    excess = sigma.sum(axis=1) - prior
    over, short = excess > 0, excess < 0
    if over.any() and short.any():
        given = (excess[over] / sigma[over].sum(axis=1))[:, None] * sigma[over]  # (over states, |X|)
        sigma[over] -= given
        sigma[short] += np.outer(excess[short] / excess[short].sum(), given.sum(axis=0))
        sigma = np.clip(sigma, 0.0, None)
    return sigma / sigma.sum(axis=0)


def _tail_sums(values: np.ndarray, r: float) -> np.ndarray:
    """T(L) = F(L) + r T(L + 1) along the last axis, from the top level down: the
    recursion one level at a time, each step vectorized over the other axes (the levels
    are few, N k² + 1; ``scipy.signal.lfilter`` gives the same numbers, but importing
    scipy.signal took 0.42 s of every (3) solved through (3-D))."""
    tails = np.array(values, dtype=float)
    for level in range(tails.shape[-1] - 2, -1, -1):
        tails[..., level] += r * tails[..., level + 1]
    return tails
