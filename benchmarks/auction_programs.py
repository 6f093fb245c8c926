"""Build and solve seconds of the auction programs on the common-value auction.

    python benchmarks/auction_programs.py                  # k = 2..7, N = 2, nvalues = 10
    python benchmarks/auction_programs.py --k 2..5 --solver highs-ipm
    python benchmarks/auction_programs.py --general        # also LB-G-k (9) / UB-P-k (10) of 004
    python benchmarks/auction_programs.py --json

One row per (k, program form):

    auction-guarantee            max-2min without transfers, (41) of 001 (Lemma 5), primal
    auction-guarantee-transfers  max-2min with explicit transfers, (4) of 001, primal
    auction-potential            min-2max, (3) of 001, primal (information structure)
    auction-dual                 (3-D) of 001, the LP dual of (3) (allocation)

with the LP size, build and solve seconds and the value; the paper's numbers at k = 7
(N = 2, nvalues = 10) are 0.2564 (lower) and 0.2856 (upper), 001 Appendix B.1.1.
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

ROOT = pathlib.Path(__file__).resolve().parents[1]
FORMS = ("auction-guarantee", "auction-guarantee-transfers", "auction-potential", "auction-dual")


def common_value_environment(n_agents: int, nvalues: int) -> rm.Environment:
    """models/common_value_auction.mech with N and nvalues set."""
    return rm.load_model(ROOT / "models" / "common_value_auction.mech", {"N": str(n_agents), "nvalues": str(nvalues)})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", default="2..7", help="k values, e.g. 2..7 or 3,5,7")
    p.add_argument("--N", type=int, default=2)
    p.add_argument("--nvalues", type=int, default=10)
    p.add_argument("--solver", default="auto", choices=SOLVERS)
    p.add_argument("--forms", default=",".join(FORMS), help="comma-separated program forms")
    p.add_argument("--general", action="store_true", help="also time the general programs (9) and (10) of 004")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    low = rm.validate(common_value_environment(args.N, args.nvalues))
    forms = [f for f in args.forms.split(",") if f]
    if args.general:
        forms += ["guarantee", "potential"]
    rows = []
    if not args.json:
        print(f"# common-value auction N={args.N}, nvalues={args.nvalues}, solver {args.solver}")
        print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}")
        print(f"{'k':>3} {'program':<28} {'|X(k)|':>8} {'vars':>8} {'rows':>8} {'build s':>8} {'solve s':>8} "
              f"{'value':>10}")
    for k in parse_ks(args.k):
        for program in forms:
            t0 = time.perf_counter()
            r = rm.solve(low, program, k, solver=args.solver)
            row = {"k": k, "program": program, "profiles": (k * k + 1) ** args.N, "variables": r.n_variables,
                   "constraints": r.n_constraints, "build_seconds": r.build_seconds, "solve_seconds": r.solve_seconds,
                   "total_seconds": time.perf_counter() - t0, "value": r.value}
            rows.append(row)
            if not args.json:
                print(f"{k:>3} {program:<28} {row['profiles']:>8} {r.n_variables:>8} {r.n_constraints:>8} "
                      f"{r.build_seconds:>8.3f} {r.solve_seconds:>8.2f} {r.value:>10.6f}", flush=True)
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
