"""Clarabel against HiGHS's PDLP by the grid's dimension: the measurement behind ``auto``'s
choice (``robustmech.solve.core.FIRST_ORDER_GRID_DIMENSION``).

The public good of 004 Section 4 (N = 2, vbar = 3 and N = 3, vbar = 4), LB-G-k and UB-P-k,
symmetry reduction on, each solve in its own process (``robustmech.bench.run_case``), each
solver as ``--solver`` names it (no vertex step, so the two are compared as solvers).
A direct factorization of a grid program fills in like the grid's: in two dimensions
Clarabel stays ahead, in three PDLP, which only multiplies by the matrix, wins from
k = 5 or 6. Measured on this 2-core machine (beside other jobs, so the times are rough):

| N | k | program | Clarabel s | PDLP s |
|---|---|---|---|---|
| 2 | 14 | LB-G-k | 9.9 | 38 |
| 3 | 5 | LB-G-k | 6.1 | 1.4 |
| 3 | 5 | UB-P-k | 8.8 | 9.9 |
| 3 | 6 | LB-G-k | 106 | 7.6 |
| 3 | 6 | UB-P-k | 163 | 41 |
| 3 | 8 | LB-G-k | over 1,200 | 113 |
| 3 | 8 | UB-P-k | over 1,000 | 480 |

UB-P-k for N = 3 kept copies of rows that its row orbits make one (sums in another order
differ in the last bit; ``robustmech.programs.symmetry.reduce_with_rows``) when these
were measured; without them PDLP takes 22.5 s on UB-P-6 (51-56 s before) and 234 s on
UB-P-8 (``robustmech bench`` row, one job beside), and the choice stands.

HiGHS 1.16's second PDLP (``solver = "hipdlp"``, with ``pdlp_optimality_tolerance`` 1e-10
for a certified answer) took 7.0 s and 30 s on UB-P-5 and UB-P-6, but more than 600 s on
LB-G-6, so ``auto`` keeps cuPDLP-C (``"pdlp"``)::

    python benchmarks/grid_dimension.py --cases 2:14 3:5 3:6
"""

from __future__ import annotations

import argparse
import pathlib

from robustmech.bench import Case, run_case

ROOT = pathlib.Path(__file__).resolve().parents[1]
VBAR = {2: "3", 3: "4"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["2:14", "3:5", "3:6"], help="N:k pairs")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per solve")
    args = parser.parse_args()
    print("| N | k | program | Clarabel s | PDLP s | Clarabel value | PDLP value |")
    print("|---|---|---|---|---|---|---|")
    for case in args.cases:
        n, k = (int(p) for p in case.split(":"))
        for program in ("guarantee", "potential"):
            rows = {solver: run_case(Case("public_good", {"N": str(n), "vbar": VBAR.get(n, "4")}, k, program, solver),
                                     str(ROOT / "models"), args.timeout)
                    for solver in ("clarabel", "highs-pdlp")}

            def cell(row: dict, key: str, fmt: str) -> str:
                return format(row[key], fmt) if key in row and row.get("status") == "optimal" else row.get("status", "")

            a, b = rows["clarabel"], rows["highs-pdlp"]
            title = "LB-G-k" if program == "guarantee" else "UB-P-k"
            print(f"| {n} | {k} | {title} | {cell(a, 'solve_seconds', '.1f')} | {cell(b, 'solve_seconds', '.1f')} "
                  f"| {cell(a, 'value', '.9f')} | {cell(b, 'value', '.9f')} |", flush=True)


if __name__ == "__main__":
    main()
