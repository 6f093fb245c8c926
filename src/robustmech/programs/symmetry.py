"""Solving a program over its symmetric solutions only.

Given permutations of the columns under which a linear program is invariant (its
feasible set and objective), every optimum averages to a symmetric optimum, so the
program may be restricted to columns that are constant on orbits: x = P z with P the
0/1 orbit matrix. The reduced program has one column per orbit; rows are kept (rows
that became duplicates are removed by HiGHS's presolve). Exact, not a heuristic.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .lp import LinearProgram, VariableBlock


def orbit_matrix(n_cols: int, permutations: list[np.ndarray]) -> sp.csr_matrix:
    """P with P[c, o] = 1 when column c lies in orbit o of the group the permutations generate."""
    if not permutations:
        return sp.identity(n_cols, format="csr")
    rows = np.concatenate([np.arange(n_cols) for _ in permutations])
    cols = np.concatenate(permutations)
    graph = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_cols, n_cols))
    n_orbits, labels = connected_components(graph, directed=False)
    return sp.csr_matrix((np.ones(n_cols), (np.arange(n_cols), labels)), shape=(n_cols, n_orbits))


def reduce_program(lp: LinearProgram, permutations: list[np.ndarray]) -> tuple[LinearProgram, sp.csr_matrix]:
    """The program restricted to orbit-constant columns, and P (x = P z)."""
    P = orbit_matrix(lp.n_cols, permutations)
    counts = np.asarray(P.sum(axis=0)).ravel()
    # bounds are equal on an orbit when the program is invariant; take the tightest anyway
    col_lower = np.full(P.shape[1], -np.inf)
    col_upper = np.full(P.shape[1], np.inf)
    labels = P.indices  # one nonzero per row of P, in row order
    np.maximum.at(col_lower, labels, lp.col_lower)
    np.minimum.at(col_upper, labels, lp.col_upper)
    reduced = LinearProgram(
        name=lp.name + " (symmetric)",
        sense=lp.sense,
        cost=P.T @ lp.cost,
        A=(lp.A @ P).tocsr(),
        row_lower=lp.row_lower,
        row_upper=lp.row_upper,
        col_lower=col_lower,
        col_upper=col_upper,
        variables={"orbits": VariableBlock("orbits", 0, (P.shape[1],), "one column per orbit of the symmetry group")},
        families=lp.families,
        offset=lp.offset,
        build_seconds=lp.build_seconds,
        metadata={**lp.metadata, "orbit_sizes": counts},
    )
    return reduced, P


def max_violation(lp: LinearProgram, x: np.ndarray) -> float:
    """The largest violation of a row or column bound by x (0 when feasible)."""
    act = lp.A @ x
    viol = [np.maximum(lp.row_lower - act, 0), np.maximum(act - lp.row_upper, 0),
            np.maximum(lp.col_lower - x, 0), np.maximum(x - lp.col_upper, 0)]
    return float(max((v.max(initial=0.0) for v in viol), default=0.0))
