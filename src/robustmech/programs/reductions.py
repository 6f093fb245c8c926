"""Exact reductions of a :class:`~robustmech.programs.lp.LinearProgram`, each with
``apply`` and ``invert``, composed in a :class:`Chain`.

A reduction turns a program into an equivalent smaller one and keeps the inverse data
that maps a solution of the smaller program back to a solution of the original, primal
point *and* duals, so that the original program's own rows and weak-duality bound can
certify it. Which reductions go into a chain is decided in one place
(:func:`solving_chain`), from the program's declared index sets and the environment's
symmetries, never from program names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from .lp import LinearProgram
from .symmetry import RowImages, column_permutation, max_violation, orbit_matrix, reduce_with_rows

#: the row activity and reduced costs of an inverted solution, until the end of the chain
#: computes them on the whole program (an empty array: a stale one would pass unnoticed)
NOT_YET_COMPUTED = np.zeros(0)


class Reduction(ABC):
    """``apply(lp) -> (smaller lp, inverse data)``; ``invert(solution, inverse data)``
    maps a solution of the smaller program to one of ``lp`` (an ``LPSolution``): its
    point ``x`` and row duals ``row_dual``, which is all a reduction reads of the solution
    it inverts. The row activity A x and the reduced costs c - Aᵀy of the whole program
    are computed once, where the chain ends (:func:`robustmech.api.solve_built`), and
    certify it there."""

    @abstractmethod
    def apply(self, lp: LinearProgram) -> tuple[LinearProgram, Any]: ...

    @abstractmethod
    def invert(self, solution, data): ...

    def describe(self, data) -> dict:
        """What the reduction did, for the result's report."""
        return {}


@dataclass(frozen=True)
class _OrbitData:
    full: LinearProgram
    orbit_matrix: sp.csr_matrix
    reduced_row: np.ndarray  # for each full row, the reduced row that stands for it
    row_count: np.ndarray  # for each reduced row, how many full rows it stands for
    row_orbits: sp.csr_matrix  # full rows × row orbits, 0/1
    group_order: int
    columns: int
    rows: int


class SymmetryReduction(Reduction):
    """Restrict a program to solutions that are constant on the orbits of a group of
    column permutations under which it is invariant (exact for an LP: average any
    optimum over the group). ``permutations`` generate the group; each has been checked
    on the program, with its row permutation (:class:`~robustmech.programs.symmetry.RowImages`).

    Inversion: x = P z; each full row's dual is its reduced row's dual shared equally
    among the full rows it stands for, then averaged over its row orbit (rows the group
    maps onto each other are kept apart where their reduced rows differ beyond the
    quantum of ``row_groups``, and the solver may have split their dual unevenly). The
    averaged dual is the group average of a dual solution, hence feasible for the full
    program, with the same objective."""

    def __init__(self, permutations: list[np.ndarray], row_permutations: list[np.ndarray], group_order: int,
                 column_orbits: sp.csr_matrix | None = None):
        self.permutations = permutations
        self.row_permutations = row_permutations
        self.group_order = group_order
        # the orbit matrix of ``permutations`` (a function of them and the number of
        # columns only), where the detection has made it already
        self.column_orbits = column_orbits

    def apply(self, lp: LinearProgram) -> tuple[LinearProgram, _OrbitData]:
        orbits = orbit_matrix(lp.n_rows, self.row_permutations)
        P = self.column_orbits if self.column_orbits is not None and self.column_orbits.shape[0] == lp.n_cols \
            else None
        reduced, P, reduced_row = reduce_with_rows(lp, self.permutations, orbits, P)
        counts = np.bincount(reduced_row, minlength=reduced.n_rows)
        return reduced, _OrbitData(lp, P, reduced_row, counts, orbits, self.group_order, reduced.n_cols,
                                   reduced.n_rows)

    def invert(self, solution, data: _OrbitData):
        lp, P = data.full, data.orbit_matrix
        x = P @ solution.x
        y = np.zeros(lp.n_rows)
        if len(solution.row_dual):
            shared = solution.row_dual[data.reduced_row] / data.row_count[data.reduced_row]
            Q = data.row_orbits
            y = Q @ ((Q.T @ shared) / np.asarray(Q.sum(axis=0)).ravel())
        return replace(solution, x=x, row_dual=y, col_dual=NOT_YET_COMPUTED, row_activity=NOT_YET_COMPUTED)

    def describe(self, data: _OrbitData) -> dict:
        return {"group_order": data.group_order, "columns": data.columns, "rows": data.rows,
                "full_columns": data.full.n_cols, "full_rows": data.full.n_rows}


class Applied(Reduction):
    """A reduction already applied to one program: a chain given that program reuses the
    result (a box of the grid is folded once, then its symmetry found on the box)."""

    def __init__(self, reduction: Reduction, source: LinearProgram, result: LinearProgram, data: Any):
        self.reduction, self.source, self.result, self.data = reduction, source, result, data

    def apply(self, lp: LinearProgram) -> tuple[LinearProgram, Any]:
        if lp is self.source:
            return self.result, self.data
        return self.reduction.apply(lp)

    def invert(self, solution, data):
        return self.reduction.invert(solution, data)

    def describe(self, data) -> dict:
        return self.reduction.describe(data)


class Chain(Reduction):
    """Reductions applied in order and inverted in reverse; itself a reduction."""

    def __init__(self, reductions: Sequence[Reduction]):
        self.reductions = list(reductions)

    def apply(self, lp: LinearProgram) -> tuple[LinearProgram, list]:
        data = []
        for reduction in self.reductions:
            lp, d = reduction.apply(lp)
            data.append(d)
        return lp, data

    def invert(self, solution, data: list):
        for reduction, d in zip(reversed(self.reductions), reversed(data)):
            solution = reduction.invert(solution, d)
        return solution

    def describe(self, data: list) -> dict:
        out: dict = {}
        for reduction, d in zip(self.reductions, data):
            if isinstance(reduction, SymmetryReduction):
                out["symmetry"] = reduction.describe(d)
            else:
                out.update(reduction.describe(d))
        return out


def symmetry_reduction(lp: LinearProgram, symmetries, agents: tuple, states: tuple,
                       outcomes: tuple) -> tuple[SymmetryReduction | None, dict]:
    """The symmetry reduction of ``lp``, from the environment's symmetries acting on the
    program's declared index sets, keeping only those under which the program is
    invariant (checked on its numbers); None when none is left. Also says why, for the
    report.

    Only the orbits of the group are used, so a symmetry that maps every column into its
    orbit under the symmetries kept so far adds nothing and is not checked (the check
    costs a relabelling and a comparison of every row, and a sort of the rows whose
    images are not declared: 4.4 s a symmetry on the N = 3 public good's LB-G-8, whose
    five symmetries two generate, when every row was sorted). The group's order is that of the
    group the kept ones generate."""
    permutations: list[np.ndarray] = []
    row_permutations: list[np.ndarray] = []
    kept = []
    refused = skipped = 0
    orbit = np.arange(lp.n_cols)
    column_orbits = None
    images: RowImages | None = None  # the program's side of the check, made once for all symmetries
    for sym in symmetries:
        perm = column_permutation(lp, sym, agents, states, outcomes)
        if perm is not None and permutations and np.array_equal(orbit[perm], orbit):
            skipped += 1  # within the orbits of the group generated so far
            continue
        rows = None
        if perm is not None and not np.array_equal(perm, np.arange(lp.n_cols)):
            if images is None:
                images = RowImages(lp, agents, states, outcomes)
            rows = images.rows(sym, perm)
        if perm is None or rows is None:
            refused += 1
            continue
        permutations.append(perm)
        row_permutations.append(rows)
        kept.append(sym)
        column_orbits = orbit_matrix(lp.n_cols, permutations)
        orbit = column_orbits.indices  # each column's orbit label
    if not permutations:
        why = "the program is not invariant under them" if symmetries else "the environment has none"
        return None, {"used": False, "detected": len(symmetries), "reason": why}
    reduction = SymmetryReduction(permutations, row_permutations, group_order(kept), column_orbits)
    return reduction, {"detected": len(symmetries), "refused": refused, "skipped": skipped}


def group_order(generators) -> int:
    """The order of the group of environment symmetries (π, τ, φ) that ``generators``
    generate: the closure under composition, componentwise on the small permutation
    tuples of agents, states and outcome coordinates (never on the program's columns)."""
    def compose(g, h):  # g after h
        return tuple(tuple(gp[i] for i in hp) for gp, hp in zip(g, h))

    gens = [(tuple(s.agents), tuple(s.states), tuple(s.outcomes)) for s in generators]
    identity = tuple(tuple(range(len(p))) for p in gens[0])
    seen, frontier = {identity}, [identity]
    while frontier:
        grown = []
        for element in frontier:
            for g in gens:
                product = compose(g, element)
                if product not in seen:
                    seen.add(product)
                    grown.append(product)
        frontier = grown
    return len(seen)


def check_point(lp: LinearProgram, x: np.ndarray) -> float:
    """The largest violation of a row or column bound of the full program by ``x``."""
    return max_violation(lp, x)
