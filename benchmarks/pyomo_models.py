"""Build and solve seconds of the Pyomo path beside the array path, LB-G-k (9) and UB-P-k (10) of 004.

    python benchmarks/pyomo_models.py                # public good N = 2, vbar = 3, k = 2..10
    python benchmarks/pyomo_models.py --k 2..6 --json

For each (k, program), in a process of its own: the array path builds the
LinearProgram (``robustmech.programs.bounding.build``) and solves it with HiGHS from the
arrays (``robustmech.solve.solve``); the Pyomo path builds the ``pyomo.environ`` model
from that program (``robustmech.pyomo.model_from_program``), solves it with
``SolverFactory("appsi_highs")`` (which hands the model to the same HiGHS) and reads it
back (``robustmech.pyomo.solution_from_model``, with its certificate checks). No
symmetry reduction: both paths solve the full program. Timing is measured here, never
asserted in a test.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def case(k: int, program: str, n_agents: int, vbar: str) -> dict:
    import pyomo.environ  # noqa: F401  (imported before the clock starts: a one-off 0.5 s)

    import robustmech as rm
    from robustmech.programs import bounding
    from robustmech.pyomo import model_from_program, solution_from_model, solve_model
    from robustmech.solve import SolverOptions, solve

    low = rm.validate(rm.load_model(ROOT / "models" / "public_good.mech", {"N": str(n_agents), "vbar": vbar}))
    t0 = time.perf_counter()
    lp, _ = bounding.build(program, low, k)
    array_build = time.perf_counter() - t0
    array = solve(lp, SolverOptions(solver="highs"))
    t0 = time.perf_counter()
    model = model_from_program(lp)
    pyomo_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    solve_model(model, "appsi_highs")
    pyomo_solve = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, solution, checks = solution_from_model(model)
    read_back = time.perf_counter() - t0
    return {"k": k, "program": lp.name, "variables": lp.n_cols, "rows": lp.n_rows, "nonzeros": int(lp.A.nnz),
            "array_build_seconds": array_build, "array_solve_seconds": array.solve_seconds,
            "pyomo_build_seconds": pyomo_build, "pyomo_solve_seconds": pyomo_solve, "read_back_seconds": read_back,
            "array_value": array.objective, "pyomo_value": solution.objective,
            "pyomo_dual_certified": checks["dual_certified"],
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", default="2..10", help="k values, e.g. 2..10 or 4,6,8")
    p.add_argument("--N", type=int, default=2)
    p.add_argument("--vbar", default="3")
    p.add_argument("--json", action="store_true")
    p.add_argument("--case", nargs=2, metavar=("K", "PROGRAM"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.case:
        print(json.dumps(case(int(args.case[0]), args.case[1], args.N, args.vbar)))
        return 0
    from robustmech.sweep import parse_ks

    rows = []
    if not args.json:
        print(f"# public good N={args.N} vbar={args.vbar}, no symmetry; array path: HiGHS from the arrays; "
              "Pyomo path: appsi_highs")
        machine = platform.processor() or platform.machine()
        print(f"# {machine}, {os.cpu_count()} cores, Python {platform.python_version()}")
        print(f"{'program':<9} {'vars':>7} {'rows':>7} {'array build':>11} {'array solve':>11} {'pyomo build':>11} "
              f"{'pyomo solve':>11} {'read back':>9} {'value':>10} {'MiB':>5}")
    for k in parse_ks(args.k):
        for program in ("guarantee", "potential"):
            proc = subprocess.run([sys.executable, __file__, "--case", str(k), program, "--N", str(args.N),
                                   "--vbar", args.vbar], capture_output=True, text=True, check=True)
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            if abs(row["array_value"] - row["pyomo_value"]) > 1e-7 or not row["pyomo_dual_certified"]:
                print(f"# {row['program']}: the paths disagree or the Pyomo solution is not certified", file=sys.stderr)
            rows.append(row)
            if not args.json:
                print(f"{row['program']:<9} {row['variables']:>7} {row['rows']:>7} {row['array_build_seconds']:>11.3f} "
                      f"{row['array_solve_seconds']:>11.2f} {row['pyomo_build_seconds']:>11.3f} "
                      f"{row['pyomo_solve_seconds']:>11.2f} {row['read_back_seconds']:>9.3f} "
                      f"{row['pyomo_value']:>10.6f} {row['peak_mib']:>5.0f}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
