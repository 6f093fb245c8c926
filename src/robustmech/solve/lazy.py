"""A linear program with lazily added rows, solved warm with HiGHS's dual simplex.

:func:`solve_with_lazy_rows` hands a :class:`LinearProgram` (a relaxation: some rows
of a larger program left out) to HiGHS once, solves it with the dual simplex method,
asks a callback for the rows the solution breaks, adds them in bulk (one ``addRows``
call, CSR arrays) and solves again from the current basis (adding rows keeps the basis
dual feasible: the new rows' slacks enter it), until the callback has none to add.

The solver layer knows nothing of what the rows mean: the callback does (for the BCE
program, which obedience rows a joint distribution breaks). The program returned is
the last relaxation, the given rows followed by every row added, and its solution's
``dual_objective`` is the weak-duality bound of that relaxation (:func:`dual_objective`):
a bound for any program with the same columns and more rows, since zero multipliers
on the rows left out keep the duals feasible.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from ..errors import SolverError
from ..programs.lp import ConstraintFamily, LinearProgram
from .core import LPSolution, SolverOptions, dual_objective

log = logging.getLogger(__name__)


@dataclass
class RowBlock:
    """Rows to add: ``lower <= A x <= upper`` (A over the program's columns)."""

    A: sp.csr_matrix
    lower: np.ndarray
    upper: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.A.shape[0])


# called with the current primal point; returns the rows it breaks (None or no rows: done)
Separation = Callable[[np.ndarray], "RowBlock | None"]


@dataclass
class LazyResult:
    lp: LinearProgram  # the last relaxation: the given rows, then every row added (family "added")
    solution: LPSolution  # its optimum; dual_objective is the relaxation's weak-duality bound
    rounds: int  # solves
    added: int  # rows added over all rounds
    log: list[dict] = field(default_factory=list)  # per round: rows, iterations, seconds


def solve_with_lazy_rows(lp: LinearProgram, separate: Separation, options: SolverOptions | None = None,
                         max_rounds: int = 100, family: str = "added",
                         description: str = "rows added lazily") -> LazyResult:
    """Solve ``lp``, then add the rows ``separate(x)`` returns and solve again from the
    current basis, until it returns none (see the module docstring). Raises
    :class:`SolverError` when a solve is not optimal or ``max_rounds`` solves do not
    settle. ``options``: its time limit, tolerance, threads and verbosity are used; the
    method is always HiGHS's dual simplex (the warm start needs a basis)."""
    from .highs import _highs, _highs_lp, _inf, _run

    options = replace(options or SolverOptions(), solver="highs-simplex")
    h = _highs(options)
    h.setOptionValue("simplex_strategy", 1)  # dual simplex: primal infeasible, dual feasible after addRows
    h.passModel(_highs_lp(lp))
    blocks: list[RowBlock] = []
    rounds_log: list[dict] = []
    total_seconds, iterations, start = 0.0, 0, time.perf_counter()
    for rounds in range(1, max_rounds + 1):
        if options.time_limit:
            left = options.time_limit - (time.perf_counter() - start)
            if left <= 0:
                raise SolverError(f"{lp.name}: row generation stopped at its time limit after {rounds - 1} rounds",
                                  "time_limit")
            h.setOptionValue("time_limit", float(left))
        solution = _run(h, lp, options, rows_match=False)
        total_seconds += solution.solve_seconds
        iterations += solution.iterations
        if not solution.optimal:
            raise SolverError(f"{lp.name}: the relaxation of round {rounds} ended {solution.status} "
                              f"({solution.message})", solution.status)
        t0 = time.perf_counter()
        block = separate(solution.x)
        separate_seconds = time.perf_counter() - t0
        rounds_log.append({"round": rounds, "rows": int(h.getNumRow()), "iterations": solution.iterations,
                           "solve_seconds": solution.solve_seconds, "separate_seconds": separate_seconds,
                           "added": 0 if block is None else block.n_rows})
        log.debug("%s: round %d, %d rows, %d iterations, %.2f s solve, %.2f s separation, %d rows added", lp.name,
                  rounds, *(rounds_log[-1][k] for k in ("rows", "iterations", "solve_seconds", "separate_seconds",
                                                          "added")))
        if block is None or block.n_rows == 0:
            relaxed = with_rows(lp, blocks, family, description)
            solution = replace(solution, solve_seconds=total_seconds, iterations=iterations,
                               dual_objective=dual_objective(relaxed, solution.row_dual, solution.col_dual,
                                                             solution.row_activity, solution.x))
            return LazyResult(relaxed, solution, rounds, sum(b.n_rows for b in blocks), rounds_log)
        csr = sp.csr_matrix(block.A)
        csr.sort_indices()
        if csr.shape[1] != lp.n_cols:
            raise ValueError(f"added rows have {csr.shape[1]} columns; the program has {lp.n_cols}")
        h.addRows(csr.shape[0], _inf(block.lower), _inf(block.upper), int(csr.nnz), csr.indptr[:-1].astype(np.int32),
                  csr.indices.astype(np.int32), csr.data.astype(float))
        blocks.append(RowBlock(csr, np.asarray(block.lower, float), np.asarray(block.upper, float)))
    raise SolverError(f"{lp.name}: row generation did not settle in {max_rounds} rounds", "error")


def with_rows(lp: LinearProgram, blocks: list[RowBlock], family: str = "added",
              description: str = "rows added lazily") -> LinearProgram:
    """``lp`` with the rows of ``blocks`` appended as one family."""
    if not blocks:
        return lp
    A = sp.vstack([lp.A] + [b.A for b in blocks], format="csr")
    count = sum(b.n_rows for b in blocks)
    families = dict(lp.families)
    families[family] = ConstraintFamily(family, lp.n_rows, count, description)
    return replace(lp, A=A, row_lower=np.concatenate([lp.row_lower] + [b.lower for b in blocks]),
                   row_upper=np.concatenate([lp.row_upper] + [b.upper for b in blocks]), families=families)
