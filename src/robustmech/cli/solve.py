"""``robustmech solve`` and ``robustmech bounds``: the grid programs of 004 and 001."""

from __future__ import annotations

import argparse
import sys

from .. import api
from ..directives import default_k, default_solver
from ..errors import ParameterError, SolverError
from ..programs import base as programs
from .common import (
    add_json_argument,
    add_model_arguments,
    add_output_arguments,
    add_restrict_argument,
    add_solver_arguments,
    add_truncation_argument,
    emit_json,
    parse_params,
    positive_int,
    refuse_existing,
    solver_log_to_stderr,
    solver_options,
)

DEFAULT_K = 4  # where neither the command line nor the model file gives k


def grid_programs() -> tuple[str, ...]:
    """The registered programs built on the grid X(k) (those with a ``k`` option)."""
    return tuple(name for name in programs.names() if "k" in programs.program(name).parameters)


def register(sub) -> None:
    p = sub.add_parser("solve", help="solve one bounding program (LB-G-k, UB-P-k or the relaxed dual)",
                       description="Solve LB-G-k (--program guarantee, eq. (9) of 004), UB-P-k "
                       "(--program potential, eq. (10)) or the relaxed dual (--program dual, eq. (12)) on a model.")
    add_model_arguments(p)
    add_restrict_argument(p)
    p.add_argument("--program", default="guarantee", choices=grid_programs(),
                   help="which program (default: guarantee); auction-* are the programs of 001 for "
                        "quasilinear auctions")
    p.add_argument("--k", type=positive_int, default=None,
                   help="grid parameter: X_i(k) = {l/k : 0 <= l <= k^2} (default: the model's own "
                        "`solve PROGRAM k = ...` directive, else 4)")
    p.add_argument("--export", metavar="FILE", help="also write the Pyomo model to FILE (.lp or .mps)")
    add_solver_arguments(p)
    add_truncation_argument(p)
    add_output_arguments(p)
    p.set_defaults(handler=run_solve)

    b = sub.add_parser("bounds", help="LB(k) and UB(k) and the gap (Theorem 1 of 004)",
                       description="Solve LB-G-k and UB-P-k and print both bounds and the gap.")
    add_model_arguments(b)
    add_restrict_argument(b)
    b.add_argument("--k", type=positive_int, default=None,
                   help="grid parameter (default: the model's own `bounds k = ...` directive, else 4)")
    b.add_argument("--family", default="auto", choices=api.FAMILIES,
                   help="general: LB-G-k and UB-P-k of 004; auction: 001's programs (41) and (3) for quasilinear "
                        "auctions; auto (default): the auction programs where the environment is quasilinear")
    b.add_argument("--sequential", action="store_true",
                   help="solve the two programs one after the other in this process (by default, programs of a "
                        "million nonzeros or more are solved at once, each in a process of its own, on a machine "
                        "with two cores or more)")
    add_solver_arguments(b)
    add_truncation_argument(b)
    add_json_argument(b)
    b.set_defaults(handler=run_bounds)


def check_output_path(path: str, force: bool) -> None:
    """Refuse an --out path whose folder is missing, or whose files exist (without --force)."""
    import os

    from ..results.io import arrays_path

    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ParameterError(f"cannot write {path}: the folder {folder} does not exist")
    for target in (path, arrays_path(path)):
        refuse_existing(target, force)


def check_export_path(path: str) -> None:
    import os

    if not (path.endswith(".lp") or path.endswith(".mps")):
        raise ParameterError(f"--export writes .lp or .mps files, not {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ParameterError(f"cannot write {path}: the folder {folder} does not exist")


def progress(line: str) -> None:
    """Condensed solver log on stderr for solves longer than a couple of seconds."""
    print(line, file=sys.stderr, flush=True)


def run_solve(args: argparse.Namespace) -> None:
    if args.out:
        check_output_path(args.out, args.force)  # before the solve, not after it
    if args.export:
        check_export_path(args.export)
    env = api.load_model(args.model, parse_params(args.param), restrict=args.restrict)
    args.k = args.k or default_k(env, args.program) or DEFAULT_K
    if not args.json:
        print(f"solving {args.program} (k={args.k}) on {env.name} ...", file=sys.stderr)
    with solver_log_to_stderr():
        result = api.solve(env, args.program, args.k, export=args.export, progress=progress,
                           truncate=not args.no_truncation, **solver_options(args))
    if args.out:
        written = result.save(args.out, force=args.force, source=env.source)
        if not args.json:
            print(f"wrote {', '.join(written)}", file=sys.stderr)
    if args.json:
        emit_json(result.summary())
    else:
        print(result)


def run_bounds(args: argparse.Namespace) -> None:
    env = api.load_model(args.model, parse_params(args.param), restrict=args.restrict)
    args.k = args.k or default_k(env, "bounds") or DEFAULT_K
    if args.solver == "auto":  # the default: the solver of the model's own `bounds ..., solver = ...` directive
        args.solver = default_solver(env) or "auto"
    with solver_log_to_stderr():
        result = api.bounds(env, args.k, progress=progress, family=args.family,
                            concurrent=False if args.sequential else None, truncate=not args.no_truncation,
                            **solver_options(args))
    if args.json:
        emit_json(result.summary())
    else:
        print(result)
    if not result.consistent:
        raise SolverError(f"LB({args.k}) = {result.lower.value:.9g} > UB({args.k}) = {result.upper.value:.9g}, "
                          "which Theorem 1 of 004 rules out: a solver tolerance problem", "inconsistent")
