"""The mechanism polytope M of a prior-free environment (000), as triplets and as a program.

A mechanism is an outcome z(c) ∈ R^d per cell c of :class:`~robustmech.lower.prior_free.PriorFreeArrays`
(a type profile θ, or a type count in the anonymous program) subject to dominant-strategy
IC, ex post participation and feasibility (000 Sections 3.1, 4.1, 5.1). The designer's
payoff is v(c) = w(c)·z(c) + w0(c). The same triplets serve the floating-point stages and
the exact rational re-verification (data may be ``fractions.Fraction``).

Layout: z is cell-major, column ``c * d + slot``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ...lower.prior_free import PriorFreeArrays
from ..lp import IndexSet, ProgramBuilder, labelled

# (name, rows, cols, data, n_rows, lower, upper, description, row index sets)
Family = tuple[str, np.ndarray, np.ndarray, np.ndarray, int, np.ndarray, np.ndarray, str, tuple]


def as_float(x) -> np.ndarray:
    """An array of floats (exact Fractions are converted)."""
    return np.asarray(x, dtype=float)


def _block_diagonal(A: np.ndarray):
    """Triplets of the block-diagonal matrix with blocks A[c] (r x d), rows c*r + k, cols c*d + j."""
    n, r, d = A.shape
    rows = np.broadcast_to((np.arange(n)[:, None] * r + np.arange(r)[None, :])[:, :, None], A.shape)
    cols = np.broadcast_to((np.arange(n) * d)[:, None, None] + np.arange(d)[None, None, :], A.shape)
    return rows.reshape(-1), cols.reshape(-1), A.reshape(-1)


def cell_index(a: PriorFreeArrays, cells=None) -> IndexSet:
    """The type profiles Θ (000's states) as an index set, or the cells ``cells`` of it.

    In the anonymous program a cell is a type count, on which a relabeling of the agents
    does not act, so its set has no symmetry kind."""
    labels = a.labels()
    if cells is not None:
        labels = [labels[int(c)] for c in np.asarray(cells).reshape(-1)]
    if a.anonymous:
        return labelled("Theta", labels, description="type counts (cells of the anonymous program)")
    return labelled("Theta", labels, "state", "type profiles θ")


def outcome_index(a: PriorFreeArrays) -> IndexSet:
    """The d coordinates of a cell's outcome z(θ) (allocations, lottery weights, transfers)."""
    if a.anonymous:
        return labelled("Z", a.slots, description="outcome coordinates per (family, type) of the anonymous program")
    return labelled("Z", a.slots, "outcome", "outcome coordinates of a type profile")


def _incentive_index(a: PriorFreeArrays) -> IndexSet:
    labels = a.labels()
    members = [(labels[int(c)], int(i) + 1, int(r)) for c, i, r in zip(a.ic_cell, a.ic_agent, a.ic_report)]
    return labelled("IC", members, description="(profile, agent, reported type index) of each IC row")


def _participation_index(a: PriorFreeArrays) -> IndexSet:
    labels = a.labels()
    members = [(labels[int(c)], int(i) + 1) for c, i in zip(a.ir_cell, a.ir_agent)]
    return labelled("IR", members, description="(profile, agent) of each participation row")


def mechanism_families(a: PriorFreeArrays) -> list[Family]:
    """The constraint families of M: (name, rows, cols, data, n_rows, lower, upper,
    description, row index sets) over the columns z; data may be exact Fractions."""
    d = a.dim
    families: list[Family] = []
    inf = np.inf
    theta = cell_index(a)
    if a.A_eq.shape[1]:
        r, c, v = _block_diagonal(a.A_eq)
        b = a.b_eq.reshape(-1)
        families.append(("feasibility_eq", r, c, v, len(b), b, b,
                         "the outcome at each profile is feasible (equalities)",
                         (theta, labelled("E", range(1, a.A_eq.shape[1] + 1), description="equality rows of a cell"))))
    if a.A_ub.shape[1]:
        r, c, v = _block_diagonal(a.A_ub)
        b = a.b_ub.reshape(-1)
        families.append(("feasibility_ub", r, c, v, len(b), np.full(len(b), -inf, dtype=object), b,
                         "the outcome at each profile is feasible (inequalities)",
                         (theta, labelled("U", range(1, a.A_ub.shape[1] + 1),
                                          description="inequality rows of a cell"))))
    m = len(a.ic_cell)
    if m:
        rows = np.repeat(np.arange(m), d)
        own_cols = (a.ic_cell[:, None] * d + np.arange(d)[None, :]).reshape(-1)
        dev_cols = (a.ic_dev[:, None] * d + np.arange(d)[None, :]).reshape(-1)
        families.append(("incentive", np.concatenate([rows, rows]), np.concatenate([own_cols, dev_cols]),
                         np.concatenate([a.ic_own.reshape(-1), -a.ic_other.reshape(-1)]), m,
                         np.zeros(m, dtype=object), np.full(m, inf, dtype=object),
                         "dominant-strategy incentive compatibility"
                         + (" (downward-adjacent only)" if a.env.incentive == "adjacent" else ""),
                         (_incentive_index(a),)))
    m = len(a.ir_cell)
    if m:
        rows = np.repeat(np.arange(m), d)
        cols = (a.ir_cell[:, None] * d + np.arange(d)[None, :]).reshape(-1)
        families.append(("participation", rows, cols, a.ir_coef.reshape(-1), m, -a.ir_const,
                         np.full(m, inf, dtype=object),
                         "ex post participation u_i(z(θ), θ) >= 0", (_participation_index(a),)))
    return families


def payoff_matrix(a: PriorFreeArrays) -> sp.csr_matrix:
    """V with v = V z + w0: one row per cell (the designer's payoff, 000 Section 2)."""
    r, c, v = _block_diagonal(a.w_coef[:, None, :])
    V = sp.csr_matrix((as_float(v), (r, c)), shape=(a.n_cells, a.n_cells * a.dim))
    V.eliminate_zeros()
    return V


def mechanism_program(a: PriorFreeArrays, name: str, sense: str) -> ProgramBuilder:
    """A builder holding the block z(θ) and the rows of M; each stage adds its own
    variables, rows and objective."""
    b = ProgramBuilder(name, sense)
    b.add_variables("z", lower=as_float(a.lower).reshape(-1), upper=as_float(a.upper).reshape(-1),
                    description="z(θ): the outcome (allocations, transfers) at each type profile",
                    index=(cell_index(a), outcome_index(a)), symbol="z")
    for family, r, c, v, m, lo, hi, description, index in mechanism_families(a):
        M = sp.csr_matrix((as_float(v), (r, c)), shape=(m, a.n_cells * a.dim))
        M.eliminate_zeros()
        b.add_rows(family, {"z": M}, lower=as_float(lo), upper=as_float(hi), description=description, index=index)
    return b
