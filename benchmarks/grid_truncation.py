"""The boxes of low profiles (robustmech.programs.truncation) on 004 Figure 1's programs.

For each k, LB-G-k and UB-P-k of the public good (N = 2, vbar = 3) on the default path:
the whole program's size, each box tried (its largest index b, so x_i <= b/k), whether the
whole program certified it, and the seconds of building and solving.

    python benchmarks/grid_truncation.py 14 20 30

Measured on the 2-core machine of the README (one case after another, nothing else
running):

    k   program     columns    boxes tried (b: certified, gap)              build s  solve s
    30  guarantee  2,435,405   60: no (bound 2.886), 90: yes (1.9e-09)        7.30     6.08
    30  potential  2,435,403   60: no (point breaks rows by 0.67), 90: yes    5.34     5.36
    40  guarantee  7,689,605   80: no (bound 4.355), 120: yes (1.2e-10)      23.4     14.6
    40  potential  7,689,603   80: no, 120: yes (2.2e-16)                    15.5     12.9

Without the boxes (``--no-truncation``) k = 30 took 654 s and 444 s of solving.
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
