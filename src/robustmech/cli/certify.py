"""``robustmech certify``: the certificate chain of Theorem 1 of 004,
LB(k) <= exact guarantee of the LB mechanism <= exact potential of the UB structure <= UB(k)."""

from __future__ import annotations

import argparse
import sys

from .. import api
from ..certify import certify as certify_chain
from ..errors import ParameterError
from .common import (
    add_json_argument,
    add_model_arguments,
    add_restrict_argument,
    add_solver_arguments,
    emit_json,
    parse_params,
    positive_int,
    solver_log_to_stderr,
    solver_options,
)


def register(sub) -> None:
    p = sub.add_parser(
        "certify", help="check LB(k) <= G(M_LB) <= P(I_UB) <= UB(k) by exact evaluation (Theorem 1 of 004)",
        description="Solve LB-G-k (9) and UB-P-k (10) of 004, evaluate the LB mechanism exactly with the BCE "
        "program and the UB information structure exactly with the direct-mechanism program, and print the chain "
        "LB(k) <= guarantee <= potential <= UB(k). Exits 3 if a link breaks beyond the tolerance. The chain needs "
        "vertex solutions of the bounding programs (a structure's potential depends on its support), so the "
        "default solver auto means HiGHS's own choice here at every size; --solver clarabel returns interior "
        "solutions and can break the P(I_UB) <= UB(k) link.")
    add_model_arguments(p)
    add_restrict_argument(p)
    p.add_argument("--k", type=positive_int, default=4,
                   help="grid parameter: X_i(k) = {l/k : 0 <= l <= k^2} (default 4)")
    p.add_argument("--tolerance", type=float, default=1e-6, metavar="TOL",
                   help="a link a <= b holds if a - b <= TOL * max(1, |a|, |b|) (default 1e-6)")
    add_solver_arguments(p)
    add_json_argument(p, help="print one JSON object (lower, mechanism_guarantee, information_potential, upper, holds)")
    p.set_defaults(handler=run_certify)


def run_certify(args: argparse.Namespace) -> None:
    env = api.load_model(args.model, parse_params(args.param), restrict=args.restrict)
    if not args.tolerance >= 0:
        raise ParameterError(f"--tolerance must be non-negative, got {args.tolerance}")
    if not args.json:
        print(f"certifying {env.name} at k={args.k} ...", file=sys.stderr)
    with solver_log_to_stderr():
        cert = certify_chain(env, args.k, tolerance=args.tolerance, **solver_options(args))
    if args.json:
        emit_json(cert.summary())
    else:
        print(cert)
    cert.check()  # raises SolverError (exit 3) naming the broken links
