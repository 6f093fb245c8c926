"""``robustmech refine``: robust, perfectly robust and properly robust mechanisms (000).

MODEL is a prior-free ``.mech`` file, or one of the built-in environments of 000:
``screening`` (params ``theta=1,2,3`` or ``N``; ``qmax``, ``qstep`` for the quality grid),
``auction`` (``I``, ``N``: types 1..N) and ``public_good`` (``I``, ``theta_l``, ``theta_h``, ``gamma``).
"""

from __future__ import annotations

import argparse
import os
import sys
from fractions import Fraction

import numpy as np
import sympy

from ..errors import ModelError, ParameterError
from ..lower.prior_free import is_exchangeable, lower_prior_free
from ..model import prior_free as pf
from ..programs import lexicographic as lx
from ..solve import SOLVER_HELP, SOLVERS, SolverOptions, solve
from .common import emit_json, parse_params

BUILTIN = ("screening", "auction", "public_good")
AUTO_ANONYMOUS = 4096  # profiles above which exchangeable models use the anonymous program
EXPAND_LIMIT = 4096  # per-profile listings in the output up to this many profiles
EXACT_LIMIT = 400  # outcome coordinates up to which --exact runs


def register(sub) -> None:
    p = sub.add_parser("refine", help="robust / perfectly robust / properly robust mechanisms (000)",
                       description="Lexicographic refinements of maxmin (000): a Bayesian optimum, a µ-optimal "
                       "mechanism for an LPS, a robust (maxmin), perfectly robust (maxmin + admissible) or properly "
                       "robust (leximin) mechanism, with the LPS that certifies it and the checks it passed.")
    p.add_argument("model", metavar="MODEL", help="a prior-free .mech file, or screening | auction | public_good")
    p.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE", help="override a parameter (repeatable)")
    p.add_argument("--criterion", "-c", default="proper", choices=lx.CRITERIA, help="the criterion (default: proper)")
    p.add_argument("--belief", "-b", action="append", default=[], metavar="W1,W2,...",
                   help="a belief over type profiles in listing order (repeatable, in LPS order): the prior for bayes, "
                   "the beliefs for lps, the full-support objective for perfect; weights are normalized")
    p.add_argument("--method", default="sequential", choices=("sequential", "ordered"),
                   help="leximin by sequential maxmin with saturation tests, or the ordered-outcomes formulation")
    p.add_argument("--saturation", default="test", choices=("test", "dual"),
                   help="sequential leximin: fix profiles with positive duals and test the others (test), or duals only")
    p.add_argument("--adjacent", action="store_true", help="impose only downward-adjacent IC (000's relaxed space M')")
    p.add_argument("--anonymous", dest="anonymous", action="store_true", default=None,
                   help="solve over anonymous mechanisms (exchangeable agents; automatic beyond %d profiles)" % AUTO_ANONYMOUS)
    p.add_argument("--full", dest="anonymous", action="store_false", help="solve over all mechanisms (no anonymity)")
    p.add_argument("--exact", action="store_true", help="re-verify the mechanism and its certificate in rational arithmetic")
    p.add_argument("--solver", default="auto", choices=SOLVERS, help=SOLVER_HELP)
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS", help="per-LP time limit")
    p.add_argument("--verbose", "-v", action="store_true", help="show the solver's log")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(handler=run_refine)


def load_prior_free(model: str, params: dict) -> pf.PriorFreeEnvironment:
    """A built-in environment of 000 by name, or a prior-free .mech file."""
    if model in BUILTIN:
        return builtin(model, params)
    if not os.path.exists(model):
        raise ModelError(f"no model file '{model}' (or use a built-in model: {', '.join(BUILTIN)})")
    try:
        from ..model.elaborate_prior_free import load_prior_free as load_file
    except ImportError:
        raise ModelError(f"{model}: prior-free model files need the language extension, which is not available "
                         f"in this build; use a built-in model: {', '.join(BUILTIN)}") from None
    return load_file(model, params)


def _num(params: dict, name: str, default):
    if name not in params:
        return default
    text = params.pop(name)
    try:
        return sympy.Rational(text)
    except (TypeError, ValueError):
        raise ParameterError(f"--param {name} must be a number, got {text!r}") from None


def _int(params: dict, name: str, default: int, least: int) -> int:
    if name not in params:
        return default
    text = params.pop(name)
    try:
        value = int(text)
    except ValueError:
        raise ParameterError(f"--param {name} must be an integer, got {text!r}") from None
    if value < least:
        raise ParameterError(f"--param {name} must be at least {least}, got {value}")
    return value


def builtin(name: str, params: dict) -> pf.PriorFreeEnvironment:
    params = dict(params)
    if name == "screening":
        if "theta" in params:
            try:
                thetas = [sympy.Rational(t) for t in params.pop("theta").split(",")]
            except (TypeError, ValueError):
                raise ParameterError("--param theta expects a comma-separated list of numbers, e.g. theta=1,2,3") from None
        else:
            thetas = list(range(1, _int(params, "N", 2, 1) + 1))
        step = _num(params, "qstep", sympy.Rational(1, 2))
        qmax = _num(params, "qmax", max(thetas) + 1)
        if step <= 0 or qmax < 0:
            raise ParameterError("--param qstep must be positive and qmax non-negative")
        grid = [k * step for k in range(int(qmax / step) + 1)]
        env_args = dict(thetas=thetas, qualities=grid)
        make = pf.screening
    elif name == "auction":
        I, N = _int(params, "I", 2, 2), _int(params, "N", 3, 2)
        env_args = dict(n_agents=I, types=list(range(1, N + 1)))
        make = pf.auction
    else:
        env_args = dict(n_agents=_int(params, "I", 3, 2), theta_l=_num(params, "theta_l", 0), theta_h=_num(params, "theta_h", 1),
                        gamma=_num(params, "gamma", sympy.Rational(1, 2)))
        make = pf.public_good
    if params:
        raise ParameterError(f"unknown parameter(s) for the built-in model {name}: {', '.join(sorted(params))}")
    return make(**env_args)


def _with_incentive(env: pf.PriorFreeEnvironment, kind: str) -> pf.PriorFreeEnvironment:
    import dataclasses

    return dataclasses.replace(env, incentive=kind)


def _beliefs(items: list[str], arrays) -> list[np.ndarray]:
    out = []
    n_prof = arrays.n_profiles
    for k, item in enumerate(items):
        try:
            w = np.array([float(Fraction(x.strip())) for x in item.split(",")], dtype=float)
        except (ValueError, ZeroDivisionError):
            raise ParameterError(f"--belief {k + 1} must be comma-separated numbers, got {item!r}") from None
        if arrays.anonymous:
            if len(w) == arrays.n_cells:  # mass per cell
                out.append(w)
                continue
            if len(w) != n_prof:
                raise ParameterError(f"--belief {k + 1} lists {len(w)} weights; expected {n_prof} (one per type profile) "
                                     f"or {arrays.n_cells} (one per type count, anonymous program)")
            index = {tuple(c): j for j, c in enumerate(arrays.cells)}
            mass = np.zeros(arrays.n_cells)
            per_cell: dict[int, list[float]] = {}
            for p, wp in zip(arrays.env.profiles(), w):
                per_cell.setdefault(index[tuple(sorted(p))], []).append(wp)
            for j, ws in per_cell.items():
                if max(ws) - min(ws) > 1e-12 * max(1.0, max(ws)):
                    raise ParameterError(f"--belief {k + 1} is not exchangeable; solve the full program (--full)")
                mass[j] = sum(ws)
            out.append(mass)
        else:
            if len(w) != n_prof:
                raise ParameterError(f"--belief {k + 1} lists {len(w)} weights for {n_prof} type profiles")
            out.append(w)
    return out


def run_refine(args: argparse.Namespace) -> int:
    env = load_prior_free(args.model, parse_params(args.param))
    if args.adjacent:
        env = _with_incentive(env, "adjacent")
    anonymous = args.anonymous
    exchangeable = is_exchangeable(env) and env.n_agents > 1
    if anonymous is None:
        anonymous = exchangeable and env.n_profiles > AUTO_ANONYMOUS
    notes = []
    if anonymous:
        notes.append("solved over anonymous mechanisms (exchangeable agents: the leximin optimum is symmetric, "
                     "A.14.1 of 000); payoffs are per type count")
    arrays = lower_prior_free(env, anonymous=anonymous)
    options = SolverOptions(solver=args.solver, time_limit=args.time_limit, verbose=args.verbose)
    solver = lambda lp: solve(lp, options)
    beliefs = _beliefs(args.belief, arrays) if args.belief else None
    if not args.json:
        print(f"refining {env.name} ({arrays.n_profiles} type profiles, {arrays.n_cells} "
              f"{'type counts' if anonymous else 'cells'}) by the {args.criterion} criterion ...", file=sys.stderr)
    result = lx.refine(arrays, args.criterion, solver, beliefs, method=args.method, saturation=args.saturation)
    result.notes[:0] = notes
    positive = result.payoffs[result.payoffs > 1e-12]
    if len(positive) and positive.min() < 1e-6 * max(1.0, float(np.abs(result.payoffs).max())):
        result.notes.append(f"the smallest positive payoff {positive.min():.3g} is near solver tolerance: "
                            "re-verify with --exact (rational arithmetic) or compare with the closed form")
    if args.exact:
        if arrays.n_cells * arrays.dim > EXACT_LIMIT:
            result.notes.append(f"--exact skipped: {arrays.n_cells * arrays.dim} outcome coordinates exceed {EXACT_LIMIT}"
                                + ("" if anonymous or not exchangeable else "; try --anonymous"))
        elif args.criterion == "lps":
            result.notes.append("--exact re-verifies single-belief certificates; the lps criterion is checked in floating point only")
        else:
            exact_arrays = lower_prior_free(env, anonymous=anonymous, exact=True)
            result.exact = lx.exact_verify(exact_arrays, result, solver)
            result.notes.append("re-verified in exact rational arithmetic: " + ("passed" if result.exact["passed"] else "FAILED"))
    summary = summarize(result)
    if args.json:
        emit_json(summary)
    else:
        print(render(summary))
    passed = result.checks.get("passed", True) and (result.exact is None or result.exact["passed"])
    return 0 if passed else 3


def summarize(result: lx.Refinement) -> dict:
    """The JSON form: criterion, value, payoffs per profile (listing order), the mechanism,
    the certificate with its checks, the stages and notes."""
    a = result.arrays
    expand = a.n_profiles <= EXPAND_LIMIT
    out = {
        "criterion": result.criterion,
        "model": a.env.name,
        "params": {k: str(v) for k, v in a.env.params.items()},
        "incentive": a.env.incentive,
        "program": "anonymous" if a.anonymous else "full",
        "value": result.value,
    }
    if expand:
        out["profiles"] = a.env.profile_labels()
        out["payoffs"] = [float(x) for x in a.expand(result.payoffs)]
    else:
        out["cells"] = a.labels()
        out["multiplicity"] = [int(m) for m in a.multiplicity]
        out["payoffs"] = [float(x) for x in result.payoffs]
        result.notes.append(f"{a.n_profiles} type profiles: payoffs and beliefs are listed per type count")
    out["mechanism"] = {"cells": a.labels(), "outcomes": {s: [float(x) + 0.0 for x in result.z[:, k]] for k, s in enumerate(a.slots)}}
    if result.certificate is not None:
        cert = result.certificate
        out["certificate"] = {
            "kind": cert.kind, "source": cert.source,
            "lps": cert.per_profile(a) if expand else [[float(x) for x in m] for m in cert.beliefs],
            "checks": {k: v for k, v in result.checks.items()},
        }
    out["stages"] = result.stages
    if result.exact is not None:
        ex = result.exact
        out["exact"] = {"passed": ex["passed"], **{k: ex[k] for k in ("feasible", "adversarial", "full_support", "strongly_adversarial",
                                                                    "beliefs_optimal", "reason") if k in ex}}
        if "payoffs" in ex:
            out["exact"]["payoffs"] = [str(p) for p in (a.expand(np.array(ex["payoffs"], dtype=object)) if expand else ex["payoffs"])]
            out["exact"]["outcomes"] = {s: [str(x) for x in ex["z"][:, k]] for k, s in enumerate(a.slots)}
        if "beliefs" in ex:
            out["exact"]["lps"] = [[str(x) for x in m] for m in ex["beliefs"]]
    out["notes"] = result.notes
    return out


def render(s: dict) -> str:
    lines = [f"{s['criterion']} mechanism for {s['model']} ({s['program']} program, IC: {s['incentive']})",
             f"  worst payoff (maxmin value): {s['value']:.10g}"]
    labels = s.get("profiles") or s.get("cells")
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
