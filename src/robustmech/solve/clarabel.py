"""The ``clarabel`` backend: a :class:`~robustmech.programs.lp.LinearProgram` solved with Clarabel.

Clarabel (Goulart and Chen, 2024) is an interior point method whose Newton systems are
solved by a sparse direct LDLᵀ factorization of the KKT matrix. The bounding programs of
004 are grid programs: every row couples a profile with its N neighbours, so the KKT
matrix factors with little fill, where HiGHS's interior point method (IPX, an iterative
solver with a basis preconditioner) needs minutes. Measured on the public good, N = 2,
vbar = 3, symmetric programs (``benchmarks/bounding_programs.py``, this machine):
LB-G-14 147 s with highs-ipm, 10 s here; k = 20 about a minute each.

The program ``lower <= A x <= upper, col_lower <= x <= col_upper`` becomes Clarabel's
``A' x + s = b, s ∈ K`` with K = {0}^(equalities) × R+^(one-sided rows and bounds).
The row duals are mapped back to HiGHS's sign convention so that
:func:`robustmech.solve.dual_objective` recomputes the weak-duality bound from
them exactly as for a HiGHS solve.

Clarabel releases the GIL while it solves, so the solve runs in a worker thread: the
main thread stays responsive to Ctrl-C, and the log (which Clarabel prints on file
descriptor 1) is read from a pipe and condensed into progress lines.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np
import scipy.sparse as sp

from ..errors import SolverError
from ..programs.lp import LinearProgram
from .core import Backend, LPSolution, SolverOptions, dual_objective

# Clarabel's stopping tolerances are measured on the equilibrated problem; at its
# default 1e-8 the public good's LB-G-14 was off by 2e-7 from the simplex optimum,
# at 1e-10 by 2e-9, for one more iteration.
TOLERANCE = 1e-10

# The factorization. QDLDL (single-threaded, AMD ordering) beat the multithreaded faer
# that Clarabel picks by itself on the mid-size grid programs: the public good's LB-G-14
# 4.5 s against 10.4 s, UB-P-14 6.1 s against 11.2 s, N = 3 UB-P-5 6.6 s against 13.1 s;
# at k = 20 (241,000 columns) the two were even. At k = 30 (1.2 million columns) faer's
# two threads won: LB-G-30 654 s against about 1,050 s with QDLDL (both beside another
# job), UB-P-30 444 s against more than 900 s (QDLDL stopped unfinished).
FAER_FROM_COLUMNS = 300_000

_STATUS = {
    "Solved": "optimal",
    "AlmostSolved": "optimal",  # reduced accuracy: the caller's point and dual checks decide
    "PrimalInfeasible": "infeasible",
    "AlmostPrimalInfeasible": "infeasible",
    "DualInfeasible": "unbounded",
    "AlmostDualInfeasible": "unbounded",
    "MaxIterations": "iteration_limit",
    "MaxTime": "time_limit",
}


def available() -> bool:
    try:
        import clarabel  # noqa: F401
    except ImportError:
        return False
    return True


class ClarabelBackend(Backend):
    name = "clarabel"
    description = "the Clarabel interior point method"
    label = "Clarabel"
    install_hint = "pip install clarabel"
    # a numerical failure is solved again by HiGHS only when `auto` chose Clarabel: an
    # explicit --solver clarabel gets Clarabel's answer or its error
    recovery = "auto"
    # an interior point of the optimal face: `auto` purifies it (robustmech.solve.vertex)
    interior = True

    def available(self) -> bool:
        return available()

    def solve(self, lp: LinearProgram, options: SolverOptions) -> LPSolution:
        return solve(lp, options)


def conic_form(lp: LinearProgram):
    """(q, A', b, n_zero, rows): minimise q·x s.t. A' x + s = b, s ∈ {0}^n_zero × R+^rest.

    ``rows`` says, for each block of A', which LP row (or column) it came from and with
    which sign, to map the duals back: (kind, index, sign) with kind "row" or "col".
    """
    A = lp.A.tocsr()
    n = lp.n_cols
    q = np.asarray(lp.cost, dtype=float) * (1.0 if lp.sense == "min" else -1.0)
    rl, ru = np.asarray(lp.row_lower, float), np.asarray(lp.row_upper, float)
    cl, cu = np.asarray(lp.col_lower, float), np.asarray(lp.col_upper, float)
    eye = sp.identity(n, format="csr")
    row_eq = np.flatnonzero(np.isfinite(ru) & (rl == ru))
    col_eq = np.flatnonzero(np.isfinite(cu) & (cl == cu))
    row_up = np.flatnonzero(np.isfinite(ru) & (rl != ru))
    row_lo = np.flatnonzero(np.isfinite(rl) & (rl != ru))
    col_up = np.flatnonzero(np.isfinite(cu) & (cl != cu))
    col_lo = np.flatnonzero(np.isfinite(cl) & (cl != cu))
    blocks = [
        (A[row_eq], ru[row_eq], ("row", row_eq, 1.0)),
        (eye[col_eq], cu[col_eq], ("col", col_eq, 1.0)),
        (A[row_up], ru[row_up], ("row", row_up, 1.0)),
        (-A[row_lo], -rl[row_lo], ("row", row_lo, -1.0)),
        (eye[col_up], cu[col_up], ("col", col_up, 1.0)),
        (-eye[col_lo], -cl[col_lo], ("col", col_lo, -1.0)),
    ]
    matrix = sp.vstack([blk for blk, _, _ in blocks], format="csc")
    rhs = np.concatenate([r for _, r, _ in blocks])
    return q, matrix, rhs, len(row_eq) + len(col_eq), [meta for _, _, meta in blocks]


def solve(lp: LinearProgram, options: SolverOptions) -> LPSolution:
    """Solve ``lp``; returns an :class:`~robustmech.solve.LPSolution` whose row duals
    follow HiGHS's convention (so the weak-duality bound is recomputed the same way)."""
    import clarabel

    q, matrix, rhs, n_zero, layout = conic_form(lp)
    settings = clarabel.DefaultSettings()
    tol = min(TOLERANCE, options.tolerance)
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = tol
    settings.direct_solve_method = "qdldl" if lp.n_cols < FAER_FROM_COLUMNS else "faer"
    if options.time_limit:
        settings.time_limit = float(options.time_limit)
    if options.threads:
        settings.max_threads = int(options.threads)
    for key, value in options.extra.items():
        setattr(settings, key, value)
    settings.verbose = bool(options.verbose or options.progress is not None)
    cones = [clarabel.ZeroConeT(int(n_zero)), clarabel.NonnegativeConeT(int(matrix.shape[0] - n_zero))]
    start = time.perf_counter()
    solver = clarabel.DefaultSolver(sp.csc_matrix((lp.n_cols, lp.n_cols)), q, matrix, rhs, cones, settings)
    result = _run_in_thread(solver, lp, options, start)
    seconds = time.perf_counter() - start
    status_text = str(result.status)
    status = _STATUS.get(status_text, "error")
    x = np.asarray(result.x, dtype=float)
    z = np.asarray(result.z, dtype=float)
    # c + A'ᵀ z = 0 for min q·x; HiGHS's row dual y has q - Aᵀy - (column duals) = 0,
    # so a row appearing with sign s in A' has y = -s z; a maximisation flips the sign
    y = np.zeros(lp.n_rows)
    col = np.zeros(lp.n_cols)
    offset = 0
    for kind, index, sign in layout:
        part = z[offset:offset + len(index)]
        offset += len(index)
        target = y if kind == "row" else col
        np.add.at(target, index, -sign * part)
    if lp.sense == "max":
        y, col = -y, -col
    activity = lp.A @ x
    objective = float(lp.cost @ x + lp.offset) if status == "optimal" else float("nan")
    dual = dual_objective(lp, y, col, activity, x) if status == "optimal" else float("nan")
    message = status_text if status_text != "Solved" else "Optimal"
    return LPSolution(status=status, objective=objective, dual_objective=dual, x=x, row_dual=y, col_dual=col,
                      row_activity=activity, solve_seconds=seconds, solver="clarabel", message=message,
                      iterations=int(result.iterations))


def _run_in_thread(solver, lp: LinearProgram, options: SolverOptions, start: float):
    """Run ``solver.solve()`` in a worker thread; fd 1 goes to a pipe whose lines become
    progress (or the console, when verbose), and Ctrl-C in the main thread stops waiting.
    Clarabel cannot be cancelled: after Ctrl-C the worker runs on in the background until
    it finishes or the process exits (the command line exits at once)."""
    out: list = []
    errors: list = []

    def work():
        try:
            out.append(solver.solve())
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            errors.append(exc)

    sys.stdout.flush()
    saved = os.dup(1)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 1)
    os.close(write_end)
    # Clarabel's Python binding prints through sys.stdout, which may not be fd 1 (pytest,
    # Jupyter): route it to the pipe as well
    python_stdout, sys.stdout = sys.stdout, _ToFd1()
    reader = threading.Thread(target=_forward_log, args=(read_end, saved, options, start), daemon=True)
    reader.start()
    worker = threading.Thread(target=work, name="clarabel", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        raise SolverError(f"{lp.name}: interrupted by the user (Ctrl-C) after {time.perf_counter() - start:.1f} s; "
                          "no solution", "interrupted") from None
    finally:
        sys.stdout = python_stdout
        os.dup2(saved, 1)  # closes the pipe's last write end: the reader sees end of file
        if not worker.is_alive():
            reader.join(1.0)
        os.close(saved)
    if errors:
        raise SolverError(f"{lp.name}: Clarabel failed: {errors[0]}", "error")
    return out[0]


class _ToFd1:
    """A text stream writing straight to file descriptor 1."""

    def write(self, text: str) -> int:
        os.write(1, text.encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        pass


def _forward_log(read_end: int, console: int, options: SolverOptions, start: float) -> None:
    """Clarabel's log lines: echoed to the real stdout when verbose, else one iteration
    line about every second handed to ``options.progress`` after ``progress_after`` s."""
    last = 0.0
    with os.fdopen(read_end, "r", errors="replace") as pipe:
        for line in pipe:
            if options.verbose:
                try:
                    os.write(console, line.encode())
                except OSError:
                    pass
                continue
            now = time.perf_counter()
            text = line.strip()
            if (options.progress is None or not text or not text[0].isdigit()
                    or now - start < options.progress_after or now - last < options.progress_every):
                continue
            last = now
            fields = text.split()
            # pcost is of the equilibrated problem (and negated for a max), so not shown
            shown = (f"iteration {fields[0]}, relative gap {fields[3]}, primal residual {fields[4]}"
                     if len(fields) > 4 else text)
            options.progress(f"[{now - start:6.1f} s] clarabel {shown}")
