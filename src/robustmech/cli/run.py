"""``robustmech run``: the directives of a model file, in file order."""

from __future__ import annotations

import argparse
import sys

from .. import api
from ..directives import run_directives
from .common import (
    add_json_argument,
    add_model_arguments,
    add_solver_arguments,
    emit_json,
    parse_params,
    solver_log_to_stderr,
)
from .solve import progress


def register(sub) -> None:
    p = sub.add_parser("run", help="run the directives of a model file (solve ..., bounds ..., evaluate ...)",
                       description="Run the directives written in the model file (`solve PROGRAM k = K`, "
                       "`bounds k = 4..8`, `evaluate NAME`) in file order and print each result. An unknown "
                       "program or option is an error naming the directive's line and column.")
    add_model_arguments(p)
    # a directive's own `solver = ...` stands unless --solver names another than auto
    add_solver_arguments(p, time_limit=False, verbose=False, symmetry=False)
    add_json_argument(p, help="print one JSON object per directive, one per line, on stdout")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> None:
    env = api.load_model(args.model, parse_params(args.param))
    if not env.directives:
        print(f"{env.name}: the model file has no directives (solve, bounds, evaluate)", file=sys.stderr)
        return
    with solver_log_to_stderr():
        steps = run_directives(env, solver=None if args.solver == "auto" else args.solver, progress=progress)
    for step in steps:
        if args.json:
            emit_json(step.summary())
        else:
            print(f"{step.location}: {step.verb} " + ", ".join(f"{k} = {v}" for k, v in step.options.items()))
            print(step.result)
