"""``robustmech bench``: timings and peak memory of the programs, with the machine described."""

from __future__ import annotations

import argparse
import os
import sys

from .. import bench
from ..errors import ParameterError, SolverError
from .common import add_json_argument, add_solver_arguments, emit_json


def register(sub) -> None:
    p = sub.add_parser("bench", help="build/solve seconds, peak memory and values of the programs",
                       description="Run a benchmark suite; each case in its own process (its own peak memory).")
    p.add_argument("--suite", default="quick", choices=sorted(bench.SUITES), help="which sizes (default: quick)")
    # each case runs in its own process with the suite's own options: only the solver is chosen here
    add_solver_arguments(p, time_limit=False, verbose=False, symmetry=False)
    p.add_argument("--check", action="store_true",
                   help="also solve small sizes without acceleration and compare the values")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="give up on a case after this long")
    p.add_argument("--models", default=None, metavar="DIR", help="where the .mech files are (default: ./models)")
    add_json_argument(p, help="print the rows as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> None:
    models = args.models or os.path.join(os.getcwd(), "models")
    if not os.path.isdir(models):
        raise ParameterError(f"no models folder at {models} (use --models DIR)")
    if not args.json:
        print(f"# {bench.machine()}; solver {args.solver}")
        print(bench.HEADER, flush=True)
    # each row as its case ends: on stdout for the table, on stderr (a log) with --json
    out = sys.stderr if args.json else sys.stdout
    rows = bench.run_suite(args.suite, models, args.solver, args.check, args.timeout,
                           progress=lambda row: print(bench.format_row(row), file=out, flush=True))
    if args.json:
        emit_json({"machine": bench.machine(), "solver": args.solver, "rows": rows})
    bad = [r for r in rows if r.get("matches_reference") is False]
    if bad:
        names = ", ".join(f"{r['model']} k={r['k']} {r['program']}" for r in bad)
        raise SolverError(f"{len(bad)} case(s) differ from the unaccelerated reference solve: {names}", "mismatch")
