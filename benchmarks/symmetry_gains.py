"""What the symmetry reduction gains on the programs beyond 004's bounding programs.

For each case, the same program is run through ``robustmech.api.run`` with the reduction
(symmetries of the environment acting on the program's declared index sets, checked on
the program) and without it; the table gives columns and rows, build (with the
reduction) and solve seconds, and both values, which must agree.

    python benchmarks/symmetry_gains.py            # the default cases, HiGHS
    python benchmarks/symmetry_gains.py --solver auto
"""

from __future__ import annotations

import argparse
import os
import sys

import robustmech as rm
from robustmech import api
from robustmech.model import generators as gen
from robustmech.solve import SOLVERS, SolverOptions

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "models")


def cases():
    """(label, lowered environment, program, options): 001's auction programs on the
    common value with ten values (Appendix B.1.1), the worst BCE of a first-price auction
    (002 Section 6.1's example), and the best direct mechanism for the public good's
    UB-P-8 structure (004 Section 4)."""
    common = rm.validate(rm.load_model(os.path.join(MODELS, "common_value_auction.mech"),
                                       {"N": 2, "nvalues": 10}))
    for program in ("auction-guarantee", "auction-potential"):
        # k = 7: 001 Appendix B.1.1 reports 0.2564 and 0.2856
        yield f"001 common value, {program}, k=7", common, program, {"k": 7}
    fpa_env = rm.load_model(os.path.join(MODELS, "common_value_auction.mech"), {"N": 2, "nvalues": 11})
    fpa = gen.first_price_auction(fpa_env, bids=41)
    yield "first-price auction, 41 bids, worst BCE", rm.validate(fpa_env), "bce-worst", {"mechanism": fpa}
    public = rm.validate(rm.load_model(os.path.join(MODELS, "public_good.mech"), {"N": 2, "vbar": 3}))
    info = rm.solve(public, "potential", 8, solver="highs").information
    yield "public good, direct mechanism for UB-P-8's structure", public, "direct", {"information": info}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--solver", default="highs", choices=SOLVERS)
    args = parser.parse_args(argv)
    options = SolverOptions(solver=args.solver)
    print("| case | columns (full / reduced) | rows (full / reduced) | build s (reduced) | solve s full | "
          "solve s reduced | speed-up | value full | value reduced |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, low, program, opts in cases():
        full = api.run(low, program, opts, options, symmetry=False)
        reduced = api.run(low, program, opts, options, symmetry=True)
        sym = reduced.certificate.get("symmetry", {})
        cols = f"{full.lp.n_cols:,} / {sym.get('columns', full.lp.n_cols):,}"
        rows = f"{full.lp.n_rows:,} / {sym.get('rows', full.lp.n_rows):,}"
        t_full, t_red = full.solution.solve_seconds, reduced.solution.solve_seconds
        print(f"| {label} | {cols} | {rows} | {reduced.build_seconds:.2f} | {t_full:.2f} | {t_red:.2f} | "
              f"{t_full / max(t_red, 1e-9):.1f}x | {full.solution.objective:.8f} | {reduced.solution.objective:.8f} |",
              flush=True)
        if abs(full.solution.objective - reduced.solution.objective) > 1e-7 * max(1.0, abs(full.solution.objective)):
            print(f"values differ on {label}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
