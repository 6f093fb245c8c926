"""Build and solve seconds of LB-G-k (9) and UB-P-k (10) of 004 on the public good.

    python benchmarks/bounding_programs.py                 # k = 2..10, N = 2, vbar = 3
    python benchmarks/bounding_programs.py --k 2..6 --solver highs-ipm
    python benchmarks/bounding_programs.py --json

Prints one row per (k, program): profiles |X(k)|, LP size, build and solve seconds,
the value, and whether the bracket contains the closed-form guarantee of (15)-(17).
Timing is measured here, never asserted in a test.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import time

import robustmech as rm
from robustmech.solve import SOLVERS
from robustmech.sweep import parse_ks
from robustmech.symbolic.public_good import public_good_solution

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", default="2..10", help="k values, e.g. 2..10 or 4,6,8")
    p.add_argument("--N", type=int, default=2)
    p.add_argument("--vbar", default="3")
    p.add_argument("--solver", default="auto", choices=SOLVERS)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    env = rm.load_model(ROOT / "models" / "public_good.mech", {"N": str(args.N), "vbar": args.vbar})
    low = rm.validate(env)
    lam = public_good_solution(args.N, float(args.vbar)).guarantee
    rows = []
    if not args.json:
        print(f"# public good N={args.N} vbar={args.vbar}, solver {args.solver}; closed-form guarantee {lam:.6f}")
        print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}")
        print(f"{'k':>3} {'program':<10} {'|X(k)|':>8} {'vars':>9} {'rows':>9} {'build s':>8} {'solve s':>8} "
              f"{'value':>10}")
    for k in parse_ks(args.k):
        pair = {}
        for program in ("guarantee", "potential"):
            t0 = time.perf_counter()
            r = rm.solve(low, program, k, solver=args.solver)
            pair[program] = r
            row = {"k": k, "program": program, "profiles": (k * k + 1) ** args.N, "variables": r.n_variables,
                   "constraints": r.n_constraints, "build_seconds": r.build_seconds, "solve_seconds": r.solve_seconds,
                   "total_seconds": time.perf_counter() - t0, "value": r.value}
            rows.append(row)
            if not args.json:
                print(f"{k:>3} {program:<10} {row['profiles']:>8} {r.n_variables:>9} {r.n_constraints:>9} "
                      f"{r.build_seconds:>8.3f} {r.solve_seconds:>8.2f} {r.value:>10.6f}", flush=True)
        contains = pair["guarantee"].value <= lam <= pair["potential"].value
        rows[-1]["bracket_contains_closed_form"] = contains
        if not contains:
            print(f"# k={k}: bracket does NOT contain the closed form", file=sys.stderr)
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
