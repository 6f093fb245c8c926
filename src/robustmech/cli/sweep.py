"""``robustmech sweep``: LB(k) and UB(k) over a grid of k and parameters, resumable."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import ParameterError, SolverError
from ..parallel import usable_cores
from ..sweep import BACKENDS, parse_ks, parse_param_grid, run_sweep
from .common import (
    add_json_argument,
    add_model_arguments,
    add_out_arguments,
    add_solver_arguments,
    add_truncation_argument,
    emit_json,
    positive_int,
)


def register(sub) -> None:
    p = sub.add_parser(
        "sweep", help="solve LB(k) and UB(k) over a grid of k and parameters into a folder (resumable)",
        description="Solve LB-G-k and UB-P-k (Theorem 1 of 004) for every combination of the --param values and "
        "every k, one row per solve, into the folder --out: table.csv and table.json (parameters, k, lower, upper, "
        "gap, status, times), one file per finished row under rows/, and with --save-results the full solutions. "
        "Run the same command again to resume: finished rows are not solved again.",
        epilog="MODEL is a .mech file, or a Python factory FILE.py:FUNCTION (or package.module:FUNCTION) that "
        "takes the parameters as keyword arguments and returns an Environment. "
        "Example: robustmech sweep models/public_good.mech --k 2..10 --param N=2,3 --param vbar=3,4 --out runs/pg")
    add_model_arguments(p, help="a .mech model file, or FILE.py:FUNCTION", param_metavar="NAME=V1,V2,...",
                        param_help="values of a model parameter to sweep (repeatable); the grid is their product")
    p.add_argument("--k", required=True, metavar="KS",
                   help="grid parameters: a range 2..10, a range with a step 2..10..2, a list 2,4,8, or a mix")
    add_out_arguments(p, help="the sweep's folder (created; resumed if it holds this sweep)", metavar="DIR",
                      required=True,
                      force_help="start over when DIR holds a sweep of another model or solver options "
                                 "(deletes its rows)")
    p.add_argument("--backend", default="local", choices=BACKENDS,
                   help="local: a process pool on this machine (default); serial: one process; "
                   "dask: a Dask cluster (--scheduler ADDRESS, or a local cluster), needs robustmech[cluster]")
    p.add_argument("--jobs", "-j", type=positive_int, default=None, metavar="N",
                   help="worker processes for local and a local Dask cluster (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a running Dask scheduler, e.g. tcp://10.0.0.1:8786 (--backend dask)")
    # the rows are solved in worker processes, each its own log: no --verbose
    add_solver_arguments(p, verbose=False, symmetry=False, time_limit_help="per solve")
    add_truncation_argument(p)
    p.add_argument("--save-results", action="store_true",
                   help="also save each row's LB and UB solutions under DIR/results/ (for robustmech plot)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    add_json_argument(p, help="print the table as one JSON object on stdout")
    p.set_defaults(handler=run)


def _progress(done: int, total: int, row: dict) -> None:
    width = len(str(total))
    params = " ".join(f"{k}={v}" for k, v in (row.get("params") or {}).items())
    head = f"[{done:>{width}}/{total}] {params + ' ' if params else ''}k={row['k']}"
    if row.get("status") == "optimal":
        tail = f"LB {row['lower']:.6f}  UB {row['upper']:.6f}  gap {row['gap']:.6f}  ({row['wall_seconds']:.1f} s)"
    else:
        tail = f"failed: {row.get('error')}"
    print(f"{head}  {tail}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> None:
    if args.scheduler and args.backend != "dask":
        raise ParameterError("--scheduler needs --backend dask")
    if args.jobs is not None and (args.backend == "serial" or args.scheduler):
        raise ParameterError("--jobs sets the processes of --backend local or of a local Dask cluster (no --scheduler)")
    ks, grid = parse_ks(args.k), parse_param_grid(args.param)  # bad input fails before anything is printed
    quiet = args.quiet or args.json
    if not quiet:
        where = {"local": f"local processes ({args.jobs or usable_cores()})", "serial": "this process",
                 "dask": f"Dask at {args.scheduler}" if args.scheduler else "a local Dask cluster"}[args.backend]
        print(f"sweep of {args.model} into {args.out} on {where}", file=sys.stderr, flush=True)
    try:
        result = run_sweep(args.model, ks, grid, args.out, backend=args.backend, jobs=args.jobs,
                           scheduler=args.scheduler, solver=args.solver, time_limit=args.time_limit,
                           save_results=args.save_results, force=args.force,
                           truncate=not args.no_truncation, progress=None if quiet else _progress)
    except KeyboardInterrupt:  # main prints it (exit 130) with where the finished rows are
        raise KeyboardInterrupt(f"finished rows are saved in {args.out}; run the same command to resume") from None
    if args.json:
        emit_json(result.table.to_json())
    else:
        if not quiet:
            print(f"{result.solved - result.failed} solved, {result.skipped} already done, {result.failed} failed; "
                  f"wrote {os.path.join(args.out, 'table.csv')} and table.json", file=sys.stderr)
        print(result.table)
    if result.failed:
        raise SolverError(f"{result.failed} of {result.solved} solves failed; the table says why "
                          "(run the same command to retry them)", "error")
