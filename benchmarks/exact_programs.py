"""Build and solve seconds of the exact programs: the BCE program (guarantee of a
mechanism) and the direct-mechanism program (potential of an information structure).

    python benchmarks/exact_programs.py                  # 20, 40, 60 actions/signals, 11 states
    python benchmarks/exact_programs.py --sizes 20,40 --solver highs-ipm
    python benchmarks/exact_programs.py --json

Environment: 2 bidders, pure common value v uniform on {0, 0.1, ..., 1} (11 states),
q[i] >= 0 with sum(q) <= 1, free transfers, revenue objective (004 Section 2).
BCE: the first-price auction on n evenly spaced bids in [0, 1] (worst BCE only).
Direct: each bidder sees v plus noise: n signals, π_i(s|v) proportional to
exp(-(s/(n-1) - v)^2 / (2 * 0.15^2)), independent given v (003 Section 2's type spaces).
Timing is measured here, never asserted in a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import sympy

import robustmech as rm
from robustmech.model import generators as gen
from robustmech.programs import bce, direct
from robustmech.solve import SOLVERS, SolverOptions, solve


def environment(n_values: int = 11) -> rm.Environment:
    b = rm.ModelBuilder("common_value_auction")
    b.agents(2)
    (v,) = b.states(["v"], [sympy.Rational(j, n_values - 1) for j in range(n_values)])
    b.prior_uniform()
    q, t = b.allocation("q"), b.transfer("t")
    for i in range(2):
        b.utility(i, v * q[i] - t[i])
    b.designer(sum(t))
    return b.build()


def noisy_signals(env: rm.Environment, n: int, noise: float = 0.15) -> rm.InformationStructure:
    values = env.states.values()[:, 0]
    grid = np.linspace(0, 1, n)
    pi = np.exp(-((grid[:, None] - values[None, :]) ** 2) / (2 * noise**2))
    pi /= pi.sum(0, keepdims=True)
    return gen.product_information(env, [pi, pi], signals=[grid, grid], name=f"noisy{n}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="20,40,60", help="actions (and signals) per agent")
    p.add_argument("--states", type=int, default=11)
    p.add_argument("--solver", default="auto", choices=SOLVERS)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    env = environment(args.states)
    low = rm.validate(env)
    options = SolverOptions(solver=args.solver)
    rows = []
    if not args.json:
        print(f"# 2 agents, {args.states} states, solver {args.solver}; {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores")
        print(f"{'program':<7} {'size':>4} {'vars':>8} {'rows':>7} {'nonzeros':>9} {'build s':>8} {'solve s':>8} "
              f"{'value':>10}")
    for n in [int(x) for x in args.sizes.split(",")]:
        start = time.perf_counter()
        mech = gen.first_price_auction(env, bids=n)
        lp, _ = bce.build(low, mech, "min")
        build = time.perf_counter() - start
        sol = solve(lp, options)
        rows.append({"program": "bce", "size": n, "states": args.states, "variables": lp.n_cols, "rows": lp.n_rows,
                     "nonzeros": int(lp.A.nnz), "build_seconds": build, "solve_seconds": sol.solve_seconds,
                     "value": sol.objective})
        start = time.perf_counter()
        info = noisy_signals(env, n)
        lp, _ = direct.build(low, info)
        build = time.perf_counter() - start
        sol = solve(lp, options)
        rows.append({"program": "direct", "size": n, "states": args.states, "variables": lp.n_cols, "rows": lp.n_rows,
                     "nonzeros": int(lp.A.nnz), "build_seconds": build, "solve_seconds": sol.solve_seconds,
                     "value": sol.objective})
        if not args.json:
            for r in rows[-2:]:
                print(f"{r['program']:<7} {r['size']:>4} {r['variables']:>8} {r['rows']:>7} {r['nonzeros']:>9} "
                      f"{r['build_seconds']:>8.3f} {r['solve_seconds']:>8.3f} {r['value']:>10.6f}", flush=True)
    if args.json:
        print(json.dumps({"machine": platform.platform(), "cores": os.cpu_count(), "solver": args.solver,
                          "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
