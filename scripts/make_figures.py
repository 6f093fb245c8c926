#!/usr/bin/env python
"""Regenerate the figures in docs/figures/ from fresh solves.

    python scripts/make_figures.py            # everything (a few minutes on 2 cores)
    python scripts/make_figures.py --quick    # small k, for a smoke run (writes to --out)

What it draws, and from what:

* ``public_good_fig1.png``: 004 Figure 1 (six panels) for the public good of 004
  Section 4 with N = 2, θ̄ = 3, from LB-G-30 and UB-P-30 solves (the paper's k) by the
  default path (symmetric boxes of low profiles, Clarabel, certified on the whole grid)
  saved with ``ProgramResult.save`` and drawn by ``robustmech plot lb.json --with
  ub.json`` (its default view: where E reaches 1 and σ's support ends);
  ``public_good_fig1_closed_form.png`` is the same with the closed forms (15)-(16)
  overlaid (``--closed-form``).
* ``convergence_cva.png``: 001 Figure 1 (left panel): LB(k), UB(k) and (k-1)/k UB(k)
  against k for the pure common value auction, N = 2, value uniform on ten evenly
  spaced points of [0, 1] (001's appendix writes "{0, 0.1, ..., 1}" for ten evenly
  spaced points, which are {0, 1/9, ..., 1}), from ``robustmech sweep`` and
  ``robustmech plot DIR``. Rows whose solve fails are recorded in the table and
  left out of the figure.
* ``allocation_cva.png``: the LB mechanism's allocation q_i(x_1, x_2) of that
  auction as heat maps (``--figure allocation``).

The models come from ``models/*.mech`` when those files exist and load, otherwise
from the builder functions below (the same environments).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from fractions import Fraction

import robustmech as rm

ROOT = pathlib.Path(__file__).resolve().parents[1]


def public_good(N=2, vbar=3):
    """004 Section 4.1: one agent values the good at vbar, the others at 0, uniform prior."""
    mech = ROOT / "models" / "public_good.mech"
    if mech.exists():
        try:
            return rm.load_model(mech, {"N": str(N), "vbar": str(vbar)})
        except Exception as exc:  # the language may still be in progress
            print(f"  ({mech} did not load: {exc}; using the builder)", file=sys.stderr)
    b = rm.ModelBuilder("public_good", "Public expenditure with a known social value")
    b.param("N", N)
    b.param("vbar", vbar)
    b.agents(N)
    theta = b.states([f"theta[{i}]" for i in range(1, N + 1)],
                     [tuple(vbar if i == j else 0 for i in range(N)) for j in range(N)])
    b.prior_uniform()
    b.finite_outcomes(["none"] + [f"paid_by[{j}]" for j in range(1, N + 1)])
    for i in range(N):
        b.utility(i, lambda o, i=i: 0 if o == "none" else theta[i] - (1 if o == f"paid_by[{i + 1}]" else 0))
    b.designer(lambda o: 0 if o == "none" else sum(theta) - 1)
    return b.build()


def common_value_auction(N=2, values=10):
    """001 Section 5.3, left panel of Figure 1: a pure common value uniform on
    ``values`` evenly spaced points of [0, 1]; q_i >= 0, Σq <= 1, free transfers."""
    N, values = int(N), int(values)
    b = rm.ModelBuilder("common_value_auction", "Pure common value auction")
    b.param("N", N)
    b.param("values", values)
    b.agents(N)
    (v,) = b.states(["v"], [Fraction(j, values - 1) for j in range(values)])
    b.prior_uniform()
    q = b.allocation("q")
    t = b.transfer("t")
    for i in range(N):
        b.utility(i, v * q[i] - t[i])
    b.designer(sum(t))
    return b.build()


def step(text: str) -> float:
    print(text, file=sys.stderr, flush=True)
    return time.perf_counter()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "figures"), help="where the PNGs go (default docs/figures)")
    p.add_argument("--work", default=str(ROOT / "build" / "figures"), help="where solves and sweeps are kept")
    p.add_argument("--k", type=int, default=30, help="k of the public-good solves (default 30, as in 004 Figure 1)")
    p.add_argument("--ks", default="2..7", help="k of the convergence sweep (default 2..7)")
    p.add_argument("--quick", action="store_true", help="k = 4 and a sweep over 2..4")
    args = p.parse_args(argv)
    if args.quick:
        args.k, args.ks = 4, "2..4"
    from robustmech.cli import main as cli

    out, work = pathlib.Path(args.out), pathlib.Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)

    # 004 Figure 1 ---------------------------------------------------------
    env = public_good(2, 3)
    lb_path, ub_path = work / f"public_good_lb_k{args.k}.json", work / f"public_good_ub_k{args.k}.json"
    for program, path in (("guarantee", lb_path), ("potential", ub_path)):
        # always solved again: a result saved by an earlier version (or another solver)
        # would be drawn instead of what the default commands give now
        t = step(f"solving {program} k={args.k} on the public good (default solver) ...")
        result = rm.solve(env, program, args.k)
        result.save(str(path), force=True, source=env.source)
        print(f"  {result}  ({time.perf_counter() - t:.1f} s; {result.extra.get('vertex', 'no vertex step')})",
              file=sys.stderr)
    figure = out / "public_good_fig1.png"
    assert cli(["plot", str(lb_path), "--with", str(ub_path), "--figure", "public-good", "--out", str(figure),
                "--force"]) == 0
    figure = out / "public_good_fig1_closed_form.png"
    assert cli(["plot", str(lb_path), "--with", str(ub_path), "--figure", "public-good", "--closed-form",
                "--out", str(figure), "--force"]) == 0

    # 001 Figure 1 ---------------------------------------------------------
    t = step(f"sweep of the common value auction, k = {args.ks} ...")
    model, grid = f"{pathlib.Path(__file__).resolve()}:common_value_auction", ["--param", "N=2", "--param", "values=10"]
    mech = ROOT / "models" / "common_value_auction.mech"
    if mech.exists():
        try:
            rm.load_model(mech, {"N": "2", "nvalues": "10"})
            model, grid = str(mech), ["--param", "N=2", "--param", "nvalues=10"]
        except Exception as exc:  # the language may still be in progress
            print(f"  ({mech} did not load: {exc}; using the builder)", file=sys.stderr)
    code = cli(["sweep", model, "--k", args.ks, *grid,
                "--out", str(work / "cva_sweep"), "--save-results", "--force"])
    print(f"  sweep exit code {code} ({time.perf_counter() - t:.1f} s)", file=sys.stderr)
    assert cli(["plot", str(work / "cva_sweep"), "--out", str(out / "convergence_cva.png"), "--force",
                "--title",
                "Pure common value, N = 2, v uniform on 10 points of [0, 1]: bounds against k (001 Figure 1)"]) == 0
    lb_rows = sorted((work / "cva_sweep" / "results").glob("*.lb.json"))
    if lb_rows:
        chosen = min(lb_rows, key=lambda p: abs(int(p.name.split("k=")[1].split(".")[0]) - 4))  # a readable grid
        assert cli(["plot", str(chosen), "--figure", "allocation", "--out", str(out / "allocation_cva.png"),
                    "--force"]) == 0
    print(f"figures in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
