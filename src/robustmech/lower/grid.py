"""The action/signal grid X(k) of 004 Section 3.1.1 and its discrete derivatives.

X_i(k) = {l/k : 0 <= l <= k²}, so each agent has K = k² + 1 points and a profile x
is stored at the flat index of ``np.ravel_multi_index`` (C order, agent 1 slowest).
Each derivative is a sparse |X|×|X| matrix acting on functions f: X(k) -> R stored
as flat vectors; they are Kronecker products of a one-agent K×K matrix with
identities, so no Python loop ever runs over grid points.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import scipy.sparse as sp

from .kron import Axis, Kron


@dataclass(frozen=True)
class Grid:
    """X(k) for N agents."""

    n_agents: int
    k: int

    def __post_init__(self):
        if self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k}")
        if self.n_agents < 1:
            raise ValueError("a grid needs at least one agent")

    @property
    def points_per_agent(self) -> int:
        """K = k² + 1."""
        return self.k * self.k + 1

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.points_per_agent,) * self.n_agents

    @property
    def size(self) -> int:
        """|X(k)| = (k² + 1)^N."""
        return self.points_per_agent**self.n_agents

    @cached_property
    def values(self) -> np.ndarray:
        """The points of X_i(k): 0, 1/k, ..., k."""
        return np.arange(self.points_per_agent) / self.k

    def profiles(self) -> np.ndarray:
        """All profiles as an array of shape (|X|, N) of action values."""
        idx = np.indices(self.shape).reshape(self.n_agents, -1).T
        return self.values[idx]

    def aggregate(self) -> np.ndarray:
        """Σx = Σ_i x_i at every profile (flat)."""
        return self.profiles().sum(axis=1)

    # -- operators ----------------------------------------------------------

    def _lift(self, one_agent: sp.spmatrix, agent: int) -> sp.csr_matrix:
        K = self.points_per_agent
        left = sp.identity(K**agent, format="csr")
        right = sp.identity(K ** (self.n_agents - agent - 1), format="csr")
        return sp.kron(sp.kron(left, one_agent), right, format="csr")

    def upward(self, agent: int) -> sp.csr_matrix:
        """∇+_i of eq. (1) of 004: (k-1)[f(x_i + 1/k, x_-i) - f(x)] below the top, 0 at x_i = k."""
        return self._lift(_upward_1d(self.k), agent)

    def downward(self, agent: int) -> sp.csr_matrix:
        """∇-_i of 004 Section 3.1.3: k f(0) at x_i = 0, k[f(x) - f(x - 1/k)] inside,
        f(k) - f(k - 1/k) at the top."""
        return self._lift(_downward_1d(self.k), agent)

    def adjoint_upward(self, agent: int) -> sp.csr_matrix:
        """∇̃+_i of eq. (7) of 004: -f(k) at the top, f(k) - k f(k - 1/k) one below it,
        k[f(x + 1/k) - f(x)] elsewhere. It is minus the transpose of ∇-_i (Lemma 2)."""
        return self._lift(_adjoint_upward_1d(self.k), agent)

    def adjoint_upward_one_agent(self) -> sp.csr_matrix:
        """∇̃+ of eq. (7) on one agent's K points (the factor that :meth:`adjoint_upward` lifts)."""
        return _adjoint_upward_1d(self.k)

    # -- the same operators, kept as Kronecker products (robustmech.lower.kron) --------

    def identity_operator(self) -> Kron:
        """The identity on functions of X(k), one grid axis per agent."""
        return _on_axes(self.n_agents, self.points_per_agent, None, 0)

    def ones_operator(self, side: str = "rows") -> Kron:
        """The column of ones over X(k) (``side="rows"``: |X| × 1, a function's constant
        part) or the row of ones (``"columns"``: 1 × |X|, a sum over the profiles)."""
        K = self.points_per_agent
        column = side == "rows"
        one = Kron.factor(np.ones((K, 1)) if column else np.ones((1, K)), row_grid=column, col_grid=not column)
        out = one
        for _ in range(self.n_agents - 1):
            out = out.kron(one)
        return out

    def at_zero_operator(self, agent: int) -> Kron:
        """:meth:`at_zero`, unassembled: its rows (the others' profiles x_-i) are kept as an
        index of their own, not grid points, so a fold acts on its columns only."""
        K = self.points_per_agent
        e0 = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, K))
        out = None
        for i in range(self.n_agents):
            axis = Kron.factor(e0, col_grid=True) if i == agent else Kron((Axis(K, K, False, True),), ((1.0, (None,)),))
            out = axis if out is None else out.kron(axis)
        assert out is not None
        return out

    def upward_operator(self, agent: int) -> Kron:
        """∇+_i (:meth:`upward`), unassembled."""
        return _on_axes(self.n_agents, self.points_per_agent, _upward_1d(self.k), agent)

    def downward_operator(self, agent: int) -> Kron:
        """∇-_i (:meth:`downward`), unassembled."""
        return _on_axes(self.n_agents, self.points_per_agent, _downward_1d(self.k), agent)

    def adjoint_upward_operator(self, agent: int) -> Kron:
        """∇̃+_i (:meth:`adjoint_upward`), unassembled."""
        return _on_axes(self.n_agents, self.points_per_agent, _adjoint_upward_1d(self.k), agent)

    def at_zero(self, agent: int) -> sp.csr_matrix:
        """Selects the profiles (0, x_-i): a |X_-i|×|X| 0/1 matrix."""
        K = self.points_per_agent
        e0 = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, K))
        left = sp.identity(K**agent, format="csr")
        right = sp.identity(K ** (self.n_agents - agent - 1), format="csr")
        return sp.kron(sp.kron(left, e0), right, format="csr")


def _on_axes(n_agents: int, points: int, one_agent: sp.csr_matrix | None, agent: int) -> Kron:
    factors = tuple(one_agent if i == agent else None for i in range(n_agents))
    axes = Kron.identity(points, grid=True).axes * n_agents
    return Kron(axes, ((1.0, factors),))


@lru_cache(maxsize=64)
def _upward_1d(k: int) -> sp.csr_matrix:
    K = k * k + 1
    rows = np.arange(K - 1)
    data = np.concatenate([np.full(K - 1, -(k - 1.0)), np.full(K - 1, k - 1.0)])
    return sp.csr_matrix((data, (np.concatenate([rows, rows]), np.concatenate([rows, rows + 1]))), shape=(K, K))


@lru_cache(maxsize=64)
def _downward_1d(k: int) -> sp.csr_matrix:
    K = k * k + 1
    if K == 1:
        return sp.csr_matrix(np.array([[float(k)]]))
    r, c, v = [0], [0], [float(k)]
    inner = np.arange(1, K - 1)
    r += inner.tolist() + inner.tolist()
    c += inner.tolist() + (inner - 1).tolist()
    v += [float(k)] * len(inner) + [-float(k)] * len(inner)
    r += [K - 1, K - 1]
    c += [K - 1, K - 2]
    v += [1.0, -1.0]
    return sp.csr_matrix((v, (r, c)), shape=(K, K))


@lru_cache(maxsize=64)
def _adjoint_upward_1d(k: int) -> sp.csr_matrix:
    # Lemma 2 of 004: Σ_x f ∇-g = -Σ_x g ∇̃+f, so ∇̃+ = -(∇-)ᵀ; the explicit cases of
    # eq. (7) are checked against this in the tests.
    return (-_downward_1d(k).T).tocsr()
