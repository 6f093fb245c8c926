"""``robustmech plot``: the papers' figures from saved results and sweeps."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import ParameterError
from ..results import plots
from ..results.io import load_result
from ..sweep import is_sweep_dir, load_sweep, result_paths
from .common import add_out_arguments, add_param_argument, refuse_existing


def register(sub) -> None:
    p = sub.add_parser(
        "plot", help="draw a figure of the papers from a saved result or a sweep (PNG, PDF or SVG)",
        description="Draw a figure from RESULT, a result saved by `robustmech solve ... --out FILE`, or a sweep's "
        "folder (`robustmech sweep ... --out DIR`). Figures: public-good (004 Figure 1: six panels from an LB-G-k "
        "and a UB-P-k solution), convergence (001 Figure 1: LB(k), UB(k) and (k-1)/k UB(k) against k, from a "
        "sweep), allocation (a two-bidder mechanism's allocation as heat maps over the two actions), bce (the "
        "worst Bayes correlated equilibrium of a saved mechanism: its joint distribution of actions and states).",
        epilog="Examples: robustmech plot lb.json --with ub.json --figure public-good --out fig1.png; "
        "robustmech plot runs/cva --out convergence.pdf; "
        "robustmech plot runs/pg --figure public-good --k 10 --param vbar=3 --out fig1.svg "
        "(a sweep run with --save-results). The format follows the extension of --out.")
    p.add_argument("result", metavar="RESULT", help="a saved result (.json) or a sweep folder")
    p.add_argument("--with", dest="other", metavar="RESULT2",
                   help="a second saved result: the UB-P-k solution beside an LB-G-k one (public-good)")
    p.add_argument("--figure", "-f", choices=plots.FIGURES, default=None,
                   help="which figure (default: convergence for a sweep, public-good for LB/UB results "
                   "of a finite-outcome model, allocation for an auction mechanism)")
    add_out_arguments(p, help="the image file: .png, .pdf or .svg", required=True,
                      force_help="overwrite FILE if it exists")
    p.add_argument("--title", help="the figure's title (default: names the model, parameters and programs)")
    p.add_argument("--k", type=int, default=None,
                   help="with a sweep folder and --figure public-good: which k (default: the largest saved)")
    add_param_argument(p, help="with a sweep folder: keep the rows with this parameter value (repeatable)")
    p.add_argument("--levels", metavar="Y1,Y2,...",
                   help="public-good: the aggregate actions Σx of the bottom panels (default: four up to where "
                        "E reaches 1)")
    p.add_argument("--view", metavar="auto|grid|X", default=None,
                   help="public-good: the largest action x_i and aggregate Σx the panels show (default auto: half "
                        "as far again as where E reaches 1 and σ's support ends; grid: the whole grid)")
    p.add_argument("--closed-form", action="store_true",
                   help="public-good: overlay the closed forms (15)-(16) of 004 (needs the symbolic layer)")
    p.add_argument("--outcome", action="append", default=None, metavar="NAME",
                   help="allocation: the outcome coordinates to draw (default: the allocations q[i] and their total)")
    p.add_argument("--model", metavar="MODEL",
                   help="bce: the model the mechanism was solved on (.mech or FILE.py:FUNCTION)")
    p.set_defaults(handler=run)


# the options that only some figures (or only a sweep folder) read: given elsewhere, they
# are refused rather than silently ignored
FIGURE_OPTIONS = (
    ("--with", "other", ("public-good",)),
    ("--levels", "levels", ("public-good",)),
    ("--view", "view", ("public-good",)),
    ("--closed-form", "closed_form", ("public-good",)),
    ("--outcome", "outcome", ("allocation",)),
    ("--model", "model", ("bce", "proportional")),
)
SWEEP_OPTIONS = (("--k", "k"), ("--param", "param"))


def refuse_unused(args: argparse.Namespace, figure: str, sweep: bool) -> None:
    """Refuse an option the chosen figure (or source) would not read (exit 2)."""
    for flag, dest, figures in FIGURE_OPTIONS:
        if getattr(args, dest) not in (None, False, []) and figure not in figures:
            raise ParameterError(f"{flag} is for the {' and '.join(figures)} figure{'s' if len(figures) > 1 else ''}, "
                                 f"not {figure}")
    if not sweep:
        for flag, dest in SWEEP_OPTIONS:
            if getattr(args, dest) not in (None, []):
                raise ParameterError(f"{flag} picks rows of a sweep folder; {args.result} is a saved result")
    elif args.k is not None and figure != "public-good":
        raise ParameterError(f"--k picks the row of the public-good figure; the {figure} figure draws every k")


def _filter(rows, wanted: dict) -> list:
    return [r for r in rows if all(str((r.get("params") or {}).get(p)) == v for p, v in wanted.items())]


def _wanted(items) -> dict:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ParameterError(f"--param expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _levels(text):
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ParameterError(f"--levels expects numbers separated by commas, got {text!r}") from None


def _closed_form(results):
    r = next(r for r in results if r is not None)
    params = r.params or {}
    try:
        from ..symbolic.public_good import public_good_solution
    except ImportError:
        raise ParameterError("--closed-form needs the symbolic layer (robustmech.symbolic.public_good)") from None
    if "N" not in params or "vbar" not in params:
        raise ParameterError("--closed-form needs the parameters N and vbar of the public-good model in the result")
    return public_good_solution(int(float(params["N"])), params["vbar"])


def _sweep_pair(folder: str, args) -> tuple:
    table = load_sweep(folder)
    rows = _filter(table.finished(), _wanted(args.param))
    rows = [r for r in rows if all(os.path.isfile(p) for p in result_paths(folder, r))]
    if args.k is not None:
        rows = [r for r in rows if int(r["k"]) == args.k]
    if not rows:
        raise ParameterError(f"{folder} has no saved LB/UB solutions for these rows "
                             "(run the sweep with --save-results; check --k and --param)")
    combos = {tuple(sorted((r.get("params") or {}).items())) for r in rows}
    if len(combos) > 1:
        raise ParameterError("several parameter combinations match; pick one with --param NAME=VALUE")
    row = max(rows, key=lambda r: int(r["k"]))
    lb, ub = result_paths(folder, row)
    return load_result(lb), load_result(ub)


def run(args: argparse.Namespace) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ParameterError("robustmech plot needs matplotlib: pip install 'robustmech[plot]'") from None
    ext = os.path.splitext(args.out)[1].lower()
    if ext not in plots.FORMATS:
        raise ParameterError(f"cannot tell the image format of {args.out!r}: use a name ending in "
                             f"{', '.join(plots.FORMATS)}")
    refuse_existing(args.out, args.force)
    sweep = os.path.isdir(args.result)
    if sweep and not is_sweep_dir(args.result):
        raise ParameterError(f"{args.result} is a folder but not a sweep (no sweep.json)")
    figure = args.figure
    if sweep:
        figure = figure or "convergence"
        if args.other:
            raise ParameterError("--with is for two saved results, not a sweep folder")
        refuse_unused(args, figure, sweep)
        if figure == "convergence":
            table = load_sweep(args.result)
            rows = _filter(table.rows, _wanted(args.param))
            fig = plots.convergence_figure(rows, title=args.title, model=table.meta.get("model_name"))
        elif figure == "public-good":
            lb, ub = _sweep_pair(args.result, args)
            fig = _public_good(lb, ub, args)
        else:
            raise ParameterError(f"--figure {figure} needs a saved result, not a sweep folder")
    else:
        first = load_result(args.result)
        second = load_result(args.other) if args.other else None
        if figure == "convergence":
            raise ParameterError("the convergence figure needs a sweep folder (robustmech sweep ... --out DIR)")
        results = [r for r in (first, second) if r is not None]
        mech_results = [r for r in results if r.mechanism is not None]
        info_results = [r for r in results if r.information is not None]
        if figure is None:
            m = mech_results[0].mechanism if mech_results else None
            figure = "allocation" if (m is not None and not m.finite and m.n_agents == 2
                                      and not info_results) else "public-good"
        refuse_unused(args, figure, sweep)
        if figure == "public-good":
            if len(mech_results) > 1 or len(info_results) > 1:
                raise ParameterError("public-good takes one LB-G-k (guarantee) result and one UB-P-k "
                                     "(potential) result")
            fig = _public_good(mech_results[0] if mech_results else None, info_results[0] if info_results else None,
                               args)
        elif figure == "allocation":
            if not mech_results:
                raise ParameterError("the allocation figure needs a result holding a mechanism (an LB-G-k solve)")
            fig = plots.allocation_figure(mech_results[0], outcomes=args.outcome, title=args.title)
        elif figure == "bce":
            fig = _bce(mech_results, args)
        elif figure == "proportional":
            fig = _proportional(mech_results, args)
        else:
            raise ParameterError(f"unknown figure {figure!r}")
    written = plots.save_figure(fig, args.out, force=args.force)
    print(f"wrote {written}", file=sys.stderr)


def _public_good(lb, ub, args):
    closed = _closed_form([lb, ub]) if args.closed_form else None
    return plots.public_good_figure(lb, ub, levels=_levels(args.levels), title=args.title, closed_form=closed,
                                    view=args.view or "auto")


def _bce(mech_results, args):
    if not mech_results:
        raise ParameterError("the bce figure needs a result holding a mechanism (an LB-G-k solve)")
    if not args.model:
        raise ParameterError("the bce figure needs --model: the model the mechanism was solved on")
    from ..certify import guarantee
    from ..sweep import ModelSpec

    result = mech_results[0]
    env = ModelSpec.of(args.model).build({k: str(v) for k, v in (result.params or {}).items()})
    print(f"computing the worst BCE of the saved mechanism on {env.name} ...", file=sys.stderr)
    g = guarantee(env, result.mechanism)
    return plots.bce_figure(g.worst, title=args.title, model=env.name)


def _proportional(mech_results, args):
    """002 Figure 2: the proportional auction's aggregate allocation Q̄ (16) and
    transfer T̄ (12) for the model's common-value distribution and number of bidders,
    with the saved LB mechanism's aggregates Σq_i, Σt_i overlaid against Σx."""
    if not mech_results:
        raise ParameterError("the proportional figure needs an LB result of a common-value auction "
                             "(robustmech solve MODEL --program guarantee --out lb.json)")
    if not args.model:
        raise ParameterError("the proportional figure needs --model: the common-value auction the mechanism "
                             "was solved on")
    import numpy as np

    from ..sweep import ModelSpec
    from ..symbolic.auction import ProportionalAuction
    from ..symbolic.distributions import Discrete

    result = mech_results[0]
    env = ModelSpec.of(args.model).build({k: str(v) for k, v in (result.params or {}).items()})
    if env.states.prior_set is not None:
        raise ParameterError("the proportional auction of 002 is for a single prior; this model's prior is ambiguous "
                             f"({env.states.prior_set.describe()})")
    if len(env.states.symbols) != 1:
        raise ParameterError("the proportional auction of 002 is for a pure common value: the model's state must be "
                             f"one value, not ({', '.join(s.name for s in env.states.symbols)})")
    auction = ProportionalAuction(Discrete(tuple(env.states.values()[:, 0]), tuple(env.states.prior_array())),
                                  env.n_agents)
    top = float(sum(np.max(a) for a in result.mechanism.actions))
    title = args.title or (f"Proportional auction (002 Figure 2): {env.name}, N={env.n_agents}; "
                           f"LP: {result.program} k={result.k}")
    return plots.proportional_figure(np.vectorize(auction.aggregate_allocation),
                                     np.vectorize(auction.aggregate_transfer),
                                     top=top, lp=result, title=title)
