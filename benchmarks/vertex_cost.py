"""What the default path's vertex costs (robustmech.solve.vertex), and that it is the
simplex method's picture.

The public good (N = 2, vbar = 3), UB-P-k (``--program potential``, (10) of 004), symmetry
reduction on (the default). For each k: Clarabel alone (``--solver clarabel``, the
interior point), the default path (``auto``: Clarabel, then the vertex), and, with
``--simplex``, HiGHS's simplex method (``--solver highs-simplex``); the number of entries
of ρ above 1e-9 and above 0, and whether the default path's support is the simplex
method's::

    python benchmarks/vertex_cost.py --k 10 14 --simplex
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

import robustmech as rm

ROOT = pathlib.Path(__file__).resolve().parents[1]


def rho(result) -> np.ndarray:
    """ρ(x): the signal distribution of the structure UB-P-k returns."""
    return np.asarray(result.information.signal_distribution(), dtype=float).ravel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[10, 14])
    parser.add_argument("--simplex", action="store_true", help="also solve with highs-simplex (slow from k = 14)")
    args = parser.parse_args()
    env = rm.load_model(ROOT / "models" / "public_good.mech", params={"N": 2, "vbar": 3})
    low = rm.validate(env)
    solvers = ["clarabel", "auto"] + (["highs-simplex"] if args.simplex else [])
    print("| k | solver | wall s | value | dual bound | ρ > 1e-9 | ρ > 0 | support = simplex's |")
    print("|---|---|---|---|---|---|---|---|")
    for k in args.k:
        results = {}
        for solver in solvers:
            start = time.perf_counter()
            results[solver] = (rm.solve(low, "potential", k, solver=solver), time.perf_counter() - start)
        simplex = rho(results["highs-simplex"][0]) if args.simplex else None
        for solver, (res, wall) in results.items():
            r = rho(res)
            same = "" if simplex is None else str(bool(np.array_equal(r > 1e-9, simplex > 1e-9)))
            print(f"| {k} | {solver} | {wall:.1f} | {res.value:.10f} | {res.dual_value:.10f} | {int((r > 1e-9).sum())} "
                  f"| {int((r > 0).sum())} | {same} |", flush=True)


if __name__ == "__main__":
    main()
