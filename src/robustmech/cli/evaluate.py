"""``robustmech evaluate``: the exact guarantee of a mechanism (BCE program) or the
exact potential of an information structure (direct-mechanism program)."""

from __future__ import annotations

import argparse
import sys

from .. import api
from ..certify import GuaranteeResult, PotentialResult, guarantee, potential
from ..errors import ParameterError
from .common import (
    add_json_argument,
    add_model_arguments,
    add_restrict_argument,
    add_solver_arguments,
    emit_json,
    parse_params,
    solver_log_to_stderr,
    solver_options,
)
from .specs import resolve_information, resolve_mechanism


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="exact guarantee of a mechanism or exact potential of an information structure",
        description="--mechanism: the guarantee G(M), the worst Bayes correlated equilibrium over all obedience "
        "constraints (Bergemann-Morris; 003 (2), (5)-(6)), with the best BCE and the participation-secure actions. "
        "--mixture: the guarantee of each mixture of the model's `restrict mixture` mechanisms on a weight grid. "
        "--information: the potential P(I), the best direct mechanism under interim IC and IR (Myerson; 003 (1), (3)).",
        epilog="NAME is an object declared in the model; FILE a result saved by `robustmech solve --out r.json` "
        "or an .npz (rule + actions_i, or joint + signals_i); standard mechanisms: first_price(bids=21, reserve=0), "
        "second_price(...), all_pay(...), posted_price(price=0.25), proportional_cost_sharing(bids=21); "
        "standard information: private_values, no_information, complete_information.")
    add_model_arguments(p)
    add_restrict_argument(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--mechanism", "-m", metavar="NAME|FILE", help="the mechanism whose guarantee to compute")
    what.add_argument("--information", "-i", metavar="NAME|FILE",
                      help="the information structure whose potential to compute")
    what.add_argument("--mixture", action="store_true",
                      help="the guarantee of every mixture of the mechanisms of the model's `restrict mixture of ...` "
                      "(weights in steps of 1/--weights; 003 Section 5.3), and the best")
    p.add_argument("--weights", type=int, default=10, metavar="N",
                   help="with --mixture: the weights are multiples of 1/N (default 10)")
    add_solver_arguments(p)
    add_json_argument(p)
    p.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> None:
    env = api.load_model(args.model, parse_params(args.param), restrict=args.restrict)
    options = solver_options(args)
    if args.mixture:
        from ..mixture import mixture_guarantee

        if not args.json:
            print(f"evaluating the guarantee of mixtures on {env.name} ...", file=sys.stderr)
        with solver_log_to_stderr():
            mix = mixture_guarantee(env, weights=args.weights, **options)
        if args.json:
            emit_json(mix.summary())
        else:
            print(mix)
        return
    if args.mechanism is not None:
        if not args.mechanism.strip():
            raise ParameterError("--mechanism needs a name or a file")
        mech = resolve_mechanism(env, args.mechanism)
        if not args.json:
            print(f"evaluating the guarantee of {mech.name} on {env.name} ...", file=sys.stderr)
        result: GuaranteeResult | PotentialResult
        with solver_log_to_stderr():
            result = guarantee(env, mech, **options)
    else:
        info = resolve_information(env, args.information)
        if not args.json:
            print(f"evaluating the potential of {info.name} on {env.name} ...", file=sys.stderr)
        with solver_log_to_stderr():
            result = potential(env, info, **options)
    if args.json:
        emit_json(result.summary())
    else:
        print(result)
