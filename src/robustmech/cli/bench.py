"""``robustmech bench``: timings and peak memory of the programs, with the machine described."""

from __future__ import annotations

import argparse
import os
import sys

from .. import bench
from ..solve import SOLVER_HELP, SOLVERS
from .common import emit_json


def register(sub) -> None:
    p = sub.add_parser("bench", help="build/solve seconds, peak memory and values of the programs",
                       description="Run a benchmark suite; each case in its own process (its own peak memory).")
    p.add_argument("--suite", default="quick", choices=sorted(bench.SUITES), help="which sizes (default: quick)")
    p.add_argument("--solver", default="auto", choices=SOLVERS, help=SOLVER_HELP)
    p.add_argument("--check", action="store_true",
                   help="also solve small sizes without acceleration and compare the values")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="give up on a case after this long")
    p.add_argument("--models", default=None, metavar="DIR", help="where the .mech files are (default: ./models)")
    p.add_argument("--json", action="store_true", help="print the rows as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    models = args.models or os.path.join(os.getcwd(), "models")
    if not os.path.isdir(models):
        print(f"robustmech: error: no models folder at {models} (use --models DIR)", file=sys.stderr)
        return 2
    if not args.json:
        print(f"# {bench.machine()}; solver {args.solver}")
        print(bench.HEADER, flush=True)
    rows = bench.run_suite(args.suite, models, args.solver, args.check, args.timeout,
                           progress=None if args.json else (lambda row: print(bench.format_row(row), flush=True)))
    if args.json:
        emit_json({"machine": bench.machine(), "solver": args.solver, "rows": rows})
    bad = [r for r in rows if r.get("matches_reference") is False]
    return 3 if bad else 0
