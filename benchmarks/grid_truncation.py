"""The boxes of low profiles (robustmech.programs.truncation) on 004 Figure 1's programs.

For each k, LB-G-k and UB-P-k of the public good (N = 2, vbar = 3) on the default path:
the whole program's size, each box tried (its largest index b, so x_i <= b/k), whether the
whole program certified it, and the seconds of building and solving.

    python benchmarks/grid_truncation.py 14 20 30

Measured on the 2-core machine of the README (one case after another in one process,
nothing else running; each box solved over symmetric solutions):

      k program       columns  boxes tried              build s  solve s
     14 guarantee     116,429  42: yes (5.1e-15)           0.01     0.72
     14 potential     116,427  42: yes (2.2e-16)           0.01     0.37
     20 guarantee     482,405  60: yes (2.5e-14)           0.02     3.30
     20 potential     482,403  60: yes (2.2e-16)           0.02     1.62
     30 guarantee   2,435,405  90: yes (6.8e-10)           0.26     0.72
     30 potential   2,435,403  90: yes (2.4e-14)           0.03     0.86
     40 guarantee   7,689,605  120: yes (1.4e-09)          0.57     2.21
     40 potential   7,689,603  120: yes (4.2e-14)          0.07     2.61

The first version with boxes (the whole program assembled, the boxes from x <= 2, not
symmetric) took 7.30 s and 6.08 s (LB-G-30), 5.34 s and 5.36 s (UB-P-30), 23.4 s and
14.6 s, 15.5 s and 12.9 s at k = 40; without the boxes (``--no-truncation``) k = 30 took
654 s and 444 s of solving.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import robustmech as rm

MODEL = Path(__file__).resolve().parents[1] / "models" / "public_good.mech"


def main(ks: list[int]) -> None:
    env = rm.validate(rm.load_model(MODEL, params={"N": 2, "vbar": 3}))
    print(f"{'k':>3} {'program':<10} {'columns':>10}  boxes tried{'':<40} {'build s':>8} {'solve s':>8}")
    for k in ks:
        for program in ("guarantee", "potential"):
            start = time.perf_counter()
            r = rm.solve(env, program, k)
            tried = r.extra.get("truncation", {}).get("attempts", [])
            text = ", ".join(f"{a['box']}: " + (f"yes ({a['gap']:.1e})" if a["certified"] else "no") for a in tried)
            print(f"{k:>3} {program:<10} {r.n_variables:>10,}  {text or 'whole grid':<51} {r.build_seconds:>8.2f} "
                  f"{r.solve_seconds:>8.2f}  ({time.perf_counter() - start:.1f} s, value {r.value:.6f})", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [14, 20, 30])
