"""``robustmech solve`` and ``robustmech bounds``: the grid programs of 004 and 001."""

from __future__ import annotations

import argparse
import sys

from .. import api
from ..programs import base as programs
from .common import (add_model_arguments, add_output_arguments, add_solver_arguments, emit_json, parse_params,
                     positive_int)


def grid_programs() -> tuple[str, ...]:
    """The registered programs built on the grid X(k) (those with a ``k`` option)."""
    return tuple(name for name in programs.names() if "k" in programs.program(name).parameters)


def register(sub) -> None:
    p = sub.add_parser("solve", help="solve one bounding program (LB-G-k, UB-P-k or the relaxed dual)",
                       description="Solve LB-G-k (--program guarantee, eq. (9) of 004), UB-P-k "
                       "(--program potential, eq. (10)) or the relaxed dual (--program dual, eq. (12)) on a model.")
    add_model_arguments(p)
    p.add_argument("--program", default="guarantee", choices=grid_programs(),
                   help="which program (default: guarantee); auction-* are the programs of 001 for quasilinear auctions")
    p.add_argument("--k", type=positive_int, default=4, help="grid parameter: X_i(k) = {l/k : 0 <= l <= k^2} (default 4)")
    p.add_argument("--export", metavar="FILE", help="also write the Pyomo model to FILE (.lp or .mps)")
    add_solver_arguments(p)
    add_output_arguments(p)
    p.set_defaults(handler=run_solve)

    b = sub.add_parser("bounds", help="LB(k) and UB(k) and the gap (Theorem 1 of 004)",
                       description="Solve LB-G-k and UB-P-k and print both bounds and the gap.")
    add_model_arguments(b)
    b.add_argument("--k", type=positive_int, default=4, help="grid parameter (default 4)")
    b.add_argument("--family", default="auto", choices=api.FAMILIES,
                   help="general: LB-G-k and UB-P-k of 004; auction: 001's programs (41) and (3) for quasilinear "
                        "auctions; auto (default): the auction programs where the environment is quasilinear")
    add_solver_arguments(b)
    b.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    b.set_defaults(handler=run_bounds)


def check_output_path(path: str, force: bool) -> None:
    """Refuse an --out path whose folder is missing, or whose files exist (without --force)."""
    import os

    from ..errors import ParameterError
    from ..results.io import arrays_path

    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ParameterError(f"cannot write {path}: the folder {folder} does not exist")
    for target in (path, arrays_path(path)):
        if os.path.exists(target) and not force:
            raise FileExistsError(f"{target} exists; refusing to overwrite it (use --force)")


def check_export_path(path: str) -> None:
    import os

    from ..errors import ParameterError

    if not (path.endswith(".lp") or path.endswith(".mps")):
        raise ParameterError(f"--export writes .lp or .mps files, not {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ParameterError(f"cannot write {path}: the folder {folder} does not exist")


def progress(line: str) -> None:
    """Condensed solver log on stderr for solves longer than a couple of seconds."""
    print(line, file=sys.stderr, flush=True)


def run_solve(args: argparse.Namespace) -> int:
    if args.out:
        check_output_path(args.out, args.force)  # before the solve, not after it
    if args.export:
        check_export_path(args.export)
    env = api.load_model(args.model, parse_params(args.param))
    if not args.json:
        print(f"solving {args.program} (k={args.k}) on {env.name} ...", file=sys.stderr)
    result = api.solve(env, args.program, args.k, solver=args.solver, time_limit=args.time_limit,
                       verbose=args.verbose, export=args.export, symmetry=not args.no_symmetry, progress=progress)
    if args.out:
        written = result.save(args.out, force=args.force, source=env.source)
        if not args.json:
            print(f"wrote {', '.join(written)}", file=sys.stderr)
    if args.json:
        emit_json(result.summary())
    else:
        print(result)
    return 0


def run_bounds(args: argparse.Namespace) -> int:
    env = api.load_model(args.model, parse_params(args.param))
    result = api.bounds(env, args.k, solver=args.solver, time_limit=args.time_limit, verbose=args.verbose,
                        symmetry=not args.no_symmetry, progress=progress, family=args.family)
    if args.json:
        emit_json(result.summary())
    else:
        print(result)
    if not result.consistent:
        print("robustmech: error: LB(k) > UB(k), which Theorem 1 of 004 rules out: a solver tolerance problem", file=sys.stderr)
        return 3
    return 0
