"""``robustmech refine``: robust, perfectly robust and properly robust mechanisms (000).

MODEL is a prior-free ``.mech`` file, or one of the built-in environments of 000:
``screening`` (params ``theta=1,2,3`` or ``N``; ``qmax``, ``qstep`` for the quality grid),
``auction`` (``I``, ``N``: types 1..N) and ``public_good`` (``I``, ``theta_l``, ``theta_h``, ``gamma``).
Argument parsing and printing only: the work is :func:`robustmech.refine.refine`.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction

from ..errors import ParameterError, SolverError
from ..programs.refinements import CRITERIA, METHODS, SATURATION
from ..refine import AUTO_ANONYMOUS, refine, refine_summary
from .common import (
    add_json_argument,
    add_model_arguments,
    add_solver_arguments,
    emit_json,
    parse_params,
    solver_log_to_stderr,
    solver_options,
)


def register(sub) -> None:
    p = sub.add_parser("refine", help="robust / perfectly robust / properly robust mechanisms (000)",
                       description="Lexicographic refinements of maxmin (000): a Bayesian optimum, a µ-optimal "
                       "mechanism for an LPS, a robust (maxmin), perfectly robust (maxmin + admissible) or properly "
                       "robust (leximin) mechanism, with the LPS that certifies it and the checks it passed.")
    add_model_arguments(p, help="a prior-free .mech file, or screening | auction | public_good",
                        param_help="override a parameter (repeatable)")
    p.add_argument("--criterion", "-c", default="proper", choices=CRITERIA, help="the criterion (default: proper)")
    p.add_argument("--belief", "-b", action="append", default=[], metavar="W1,W2,...",
                   help="a belief over type profiles in listing order (repeatable, in LPS order): the prior for bayes, "
                   "the beliefs for lps, the full-support objective for perfect; weights are normalized")
    p.add_argument("--method", default="sequential", choices=METHODS,
                   help="leximin by sequential maxmin with saturation tests, or the ordered-outcomes formulation")
    p.add_argument("--saturation", default="test", choices=SATURATION,
                   help="sequential leximin: fix profiles with positive duals and test the others (test), "
                   "or duals only")
    p.add_argument("--adjacent", action="store_true", help="impose only downward-adjacent IC (000's relaxed space M')")
    p.add_argument("--anonymous", dest="anonymous", action="store_true", default=None,
                   help=f"solve over anonymous mechanisms (exchangeable agents; automatic beyond {AUTO_ANONYMOUS} "
                   "profiles)")
    p.add_argument("--full", dest="anonymous", action="store_false", help="solve over all mechanisms (no anonymity)")
    p.add_argument("--exact", action="store_true",
                   help="re-verify the mechanism and its certificate in rational arithmetic")
    add_solver_arguments(p, symmetry=False, time_limit_help="per-LP time limit")
    add_json_argument(p)
    p.set_defaults(handler=run_refine)


def parse_beliefs(items: list[str]) -> list[list[float]]:
    """``--belief W1,W2,...`` strings as weight lists (fractions allowed: 1/3)."""
    out = []
    for k, item in enumerate(items):
        try:
            out.append([float(Fraction(x.strip())) for x in item.split(",")])
        except (ValueError, ZeroDivisionError):
            raise ParameterError(f"--belief {k + 1} must be comma-separated numbers, got {item!r}") from None
    return out


def run_refine(args: argparse.Namespace) -> None:
    progress = None if args.json else (lambda line: print(line, file=sys.stderr))
    with solver_log_to_stderr():
        result = refine(args.model, args.criterion, params=parse_params(args.param),
                        beliefs=parse_beliefs(args.belief) if args.belief else None, method=args.method,
                        saturation=args.saturation, adjacent=args.adjacent, anonymous=args.anonymous, exact=args.exact,
                        progress=progress, **solver_options(args))
    summary = refine_summary(result)
    if args.json:
        emit_json(summary)
    else:
        print(render(summary))
    if not result.passed:
        failed = [k for k, v in result.checks.items() if v is False and k != "passed"]
        if result.exact is not None and not result.exact["passed"]:
            failed.append("exact re-verification")
        raise SolverError(f"the {result.criterion} certificate of {summary['model']} fails: {', '.join(failed)}",
                          "uncertified")


def render(s: dict) -> str:
    lines = [f"{s['criterion']} mechanism for {s['model']} ({s['program']} program, IC: {s['incentive']})",
             f"  worst payoff (maxmin value): {s['value']:.10g}"]
    labels = s.get("profiles") or s["cells"]
    exact = s.get("exact", {}).get("payoffs")
    lines.append("  payoff per " + ("type profile" if "profiles" in s else "type count") + ":")
    for k, (lab, v) in enumerate(zip(labels, s["payoffs"])):
        lines.append(f"    {lab:<24} {v:>14.10g}" + (f"   = {exact[k]}" if exact else ""))
    lines.append("  mechanism:")
    names = list(s["mechanism"]["outcomes"])
    lines.append("    " + " " * 24 + "".join(f"{n:>12}" for n in names))
    for k, lab in enumerate(s["mechanism"]["cells"]):
        lines.append(f"    {lab:<24}" + "".join(f"{s['mechanism']['outcomes'][n][k]:>12.6g}" for n in names))
    cert = s.get("certificate")
    if cert:
        lines.append(f"  certificate ({cert['kind']}; {cert['source']}):")
        for k, m in enumerate(cert["lps"]):
            support = ", ".join(f"{labels[j]}: {w:.4g}" for j, w in enumerate(m) if w > 0)
            lines.append(f"    µ_{k + 1} = {{{support}}}")
        checks = {k: v for k, v in cert["checks"].items() if isinstance(v, bool)}
        lines.append("  checks: " + ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in checks.items()))
    if "exact" in s:
        lines.append("  exact re-verification: " + ("passed" if s["exact"]["passed"] else "FAILED"))
    for n in s.get("notes", []):
        lines.append(f"  note: {n}")
    return "\n".join(lines)
