"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..solve import SOLVER_HELP, SOLVERS


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="a .mech model file")
    p.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                   help="override a model parameter (repeatable), e.g. --param N=3")


def add_solver_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--solver", default="auto", choices=SOLVERS, help=SOLVER_HELP)
    p.add_argument("--time-limit", type=positive_float, default=None, metavar="SECONDS", help="stop the solver after this long")
    p.add_argument("--verbose", "-v", action="store_true", help="show the solver's full log")
    p.add_argument("--no-symmetry", action="store_true",
                   help="solve the full program even when the environment is symmetric (slower, same value)")


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--out", "-o", metavar="FILE", help="save the result (JSON + .npz arrays)")
    p.add_argument("--force", action="store_true", help="overwrite --out files that exist")


def parse_params(items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings to a dict; values stay strings: the elaborator types them
    against the model's declarations."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ParameterError(f"--param expects NAME=VALUE, got {item!r}")
        if name in out:
            raise ParameterError(f"--param {name} is given twice")
        out[name] = value
    return out


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def emit_json(obj: dict) -> None:
    """One JSON object on stdout. A non-finite number (a dual bound that does not exist,
    a value never computed) is written as null: NaN and Infinity are not JSON."""
    json.dump(_finite(obj), sys.stdout, indent=None, default=_default, allow_nan=False)
    sys.stdout.write("\n")


def _finite(v):
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    return v


def _default(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)
