"""``robustmech show``: read back a saved result or a sweep's folder."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from ..errors import ParameterError, UnsupportedError
from ..programs import base as programs
from ..results.io import load_result, read_record
from ..sweep import is_sweep_dir, load_sweep
from .common import add_json_argument, emit_json


def program_title(program: str | None, k) -> str:
    """How the papers name a saved result's program: LB-G-6, or "relaxed dual, k=6"."""
    try:
        title = programs.program(program or "").title
    except UnsupportedError:  # a result saved by a program this version does not have
        title = program or "?"
    if title.endswith("-k") and k:
        return f"{title[:-1]}{k}"
    return f"{title}, k={k}" if k else title


def register(sub) -> None:
    p = sub.add_parser(
        "show", help="print a saved result (robustmech solve --out) or a sweep's table",
        description="Print what a saved result holds (model, parameters, program, k, value and its certificate, "
        "solver, versions, timings, the mechanism or information structure) or, for a sweep's folder, its table.")
    p.add_argument("path", metavar="RESULT",
                   help="a result file written by `robustmech solve --out`, or a sweep folder")
    what = p.add_mutually_exclusive_group()
    add_json_argument(what)
    what.add_argument("--source", action="store_true", help="print the model source saved with the result")
    what.add_argument("--csv", action="store_true", help="print a sweep's table as CSV")
    p.set_defaults(handler=run)


def describe_result(meta: dict, result) -> str:
    """What ``robustmech show`` prints for a result."""
    prog = meta.get("program")
    params = ", ".join(f"{p}={v}" for p, v in (meta.get("params") or {}).items())
    lines = [f"{prog} ({program_title(prog, meta.get('k'))}) on {meta.get('model')}"
             + (f": {params}" if params else "")]
    lines.append(f"  value      {meta['value']:.9g}  [{meta.get('status')}]")
    if meta.get("dual_value") is not None:
        lines.append(f"  dual value {meta['dual_value']:.9g}  (duality gap {meta.get('duality_gap', 0):.1e})")
    lines.append(f"  solver {meta.get('solver')}: build {meta.get('build_seconds', 0):.3f} s, solve "
                 f"{meta.get('solve_seconds', 0):.3f} s; {meta.get('variables', 0)} variables, "
                 f"{meta.get('constraints', 0)} constraints")
    if meta.get("lambda"):
        lines.append("  λ(θ): " + ", ".join(f"{s} {v:.6g}" for s, v in meta["lambda"].items()))
    if result is not None and result.mechanism is not None:
        m = result.mechanism
        kind = "outcomes" if m.finite else "outcome variables"
        lines.append(f"  mechanism: {' x '.join(str(len(a)) for a in m.actions)} action profiles"
                     f" (actions {_span(m.actions[0])}); {kind} {', '.join(m.outcome_names)}")
    if result is not None and result.information is not None:
        info = result.information
        rho = info.signal_distribution()
        lines.append(f"  information structure: {' x '.join(str(len(s)) for s in info.signals)} signal profiles "
                     f"(signals {_span(info.signals[0])}), {len(info.state_labels)} states; "
                     f"{int(np.count_nonzero(rho > 1e-12))} profiles with positive probability")
    versions = meta.get("versions") or {}
    if versions:
        lines.append("  versions: " + ", ".join(f"{p} {v}" for p, v in versions.items()))
    if meta.get("machine"):
        lines.append(f"  machine: {meta['machine']}")
    src = meta.get("source")
    lines.append(f"  model source: {len(src.splitlines())} lines saved (--source prints them)" if src
                 else "  model source: not saved (the model was not read from a file)")
    return "\n".join(lines)


def _span(values) -> str:
    v = np.asarray(values)
    if v.size and np.issubdtype(v.dtype, np.number):
        step = f", step {v[1] - v[0]:g}" if v.size > 1 else ""
        return f"{v[0]:g} .. {v[-1]:g}{step}"
    return f"{v.size} labels"


def run(args: argparse.Namespace) -> None:
    path = args.path
    if os.path.isdir(path):
        if not is_sweep_dir(path):
            raise ParameterError(f"{path} is a folder but not a sweep (no sweep.json)")
        if args.source:
            raise ParameterError("--source is for a saved result; a sweep's folder names its model in sweep.json")
        table = load_sweep(path)
        if args.json:
            emit_json(table.to_json())
        elif args.csv:
            sys.stdout.write(table.to_csv())
        else:
            meta = table.meta
            print(f"sweep of {meta.get('model')} (solver {meta.get('solver')}): {len(table)} rows on disk, "
                  f"{len(table.finished())} optimal")
            print(table)
        return
    if args.csv:
        raise ParameterError("--csv is for a sweep's folder")
    if not os.path.exists(path):
        raise ParameterError(f"no such file or folder: {path}")
    meta = read_record(path)
    if args.source:
        if not meta.get("source"):
            raise ParameterError(f"{path} has no model source saved (the model was not read from a file)")
        sys.stdout.write(meta["source"] if meta["source"].endswith("\n") else meta["source"] + "\n")
        return
    result = load_result(path)  # the arrays too: a result whose arrays are corrupt is refused (exit 2)
    if args.json:
        emit_json(meta)  # the whole record, the model source included
        return
    print(describe_result(meta, result))
