"""The argument sets and helpers every subcommand shares.

One convention for the whole command line:

- the argument sets below are the only place these options are declared:
  :func:`add_model_arguments` (``MODEL`` and ``--param NAME=VALUE``),
  :func:`add_solver_arguments` (``--solver``, ``--time-limit``, ``--verbose``,
  ``--no-symmetry``), :func:`add_json_argument` (``--json``) and
  :func:`add_out_arguments` (``--out FILE``, ``--force``); a subcommand may reword a
  help text where the option means something narrower there, never redeclare it;
- every option a subcommand accepts reaches the code (none is accepted and ignored);
- a handler reports a failure by raising a :class:`robustmech.errors.RobustMechError`
  (exit 2 for bad input, 3 for a solver failure or a broken certificate); only
  :func:`robustmech.cli.main` prints ``robustmech: error: ...`` and picks the exit code;
- stdout carries the result alone (with ``--json``, one JSON object): progress and the
  solver's log (:func:`solver_log_to_stderr`) go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any, Iterator

import numpy as np

from ..errors import ParameterError
from ..solve import SOLVER_HELP, SOLVERS

PARAM_HELP = "override a model parameter (repeatable), e.g. --param N=3"
JSON_HELP = "print one JSON object on stdout"


def add_model_arguments(p: argparse.ArgumentParser, help: str = "a .mech model file",
                        param_help: str = PARAM_HELP, param_metavar: str = "NAME=VALUE") -> None:
    """The positional ``MODEL`` and ``--param NAME=VALUE`` (read with :func:`parse_params`)."""
    p.add_argument("model", metavar="MODEL", help=help)
    add_param_argument(p, help=param_help, metavar=param_metavar)


def add_restrict_argument(p: argparse.ArgumentParser) -> None:
    """``--restrict KIND``, repeatable: a ``restrict`` statement added to the model (for
    example ``--restrict anonymous``, ``--restrict "aggregate E"``), in ``args.restrict``."""
    p.add_argument("--restrict", action="append", default=[], metavar="KIND",
                   help="restrict the mechanisms of the guarantee program as the model statement `restrict KIND` "
                   "would (anonymous, aggregate, 'aggregate E', no_transfers_to_losers, budget_balanced); repeatable")


def add_param_argument(p, help: str = PARAM_HELP, metavar: str = "NAME=VALUE") -> None:
    """``--param``/``-p``, repeatable, collected in ``args.param`` (a list of strings)."""
    p.add_argument("--param", "-p", action="append", default=[], metavar=metavar, help=help)


def add_solver_arguments(p: argparse.ArgumentParser, time_limit: bool = True, verbose: bool = True,
                         symmetry: bool = True, time_limit_help: str = "stop the solver after this long") -> None:
    """``--solver`` (choices :data:`robustmech.solve.SOLVERS`), and unless turned off
    (where the subcommand has nothing to pass them to) ``--time-limit``, ``--verbose``
    (the solver's log, on stderr) and ``--no-symmetry``."""
    p.add_argument("--solver", default="auto", choices=SOLVERS, help=SOLVER_HELP)
    if time_limit:
        p.add_argument("--time-limit", type=positive_float, default=None, metavar="SECONDS", help=time_limit_help)
    if verbose:
        p.add_argument("--verbose", "-v", action="store_true", help="show the solver's full log (on stderr)")
    if symmetry:
        p.add_argument("--no-symmetry", action="store_true",
                       help="solve the full program even when the environment is symmetric (slower, same value)")


def add_truncation_argument(p: argparse.ArgumentParser) -> None:
    """``--no-truncation``: the whole grid, never its boxes of low profiles first."""
    p.add_argument("--no-truncation", action="store_true",
                   help="solve the whole grid even where the solution stays near its origin (by default a large "
                        "LB-G-k or UB-P-k is solved first on boxes of low profiles and kept where the whole "
                        "program's rows and dual bound certify it; slower, same value)")


def solver_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of the library's solving functions that the solver
    argument set gave: ``solver``, ``time_limit``, ``verbose``, ``symmetry``."""
    out: dict[str, Any] = {"solver": args.solver}
    if hasattr(args, "time_limit"):
        out["time_limit"] = args.time_limit
    if hasattr(args, "verbose"):
        out["verbose"] = args.verbose
    if hasattr(args, "no_symmetry"):
        out["symmetry"] = not args.no_symmetry
    return out


def add_json_argument(p, help: str = JSON_HELP) -> None:
    """``--json``: the result as one JSON object on stdout (:func:`emit_json`), nothing else."""
    p.add_argument("--json", action="store_true", help=help)


def add_out_arguments(p: argparse.ArgumentParser, help: str = "save the result (JSON + .npz arrays)",
                      metavar: str = "FILE", required: bool = False,
                      force_help: str = "overwrite --out files that exist") -> None:
    """``--out``/``-o`` and ``--force`` (files that exist are refused without it)."""
    p.add_argument("--out", "-o", metavar=metavar, required=required, help=help)
    p.add_argument("--force", action="store_true", help=force_help)


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    """``--json``, ``--out FILE`` and ``--force``."""
    add_json_argument(p)
    add_out_arguments(p)


def refuse_existing(path: str, force: bool) -> None:
    """Refuse to overwrite ``path`` unless ``force``, and refuse a path that cannot be
    written at all (a folder, or in a folder that does not take new files), before any
    work is done (exit 2)."""
    if os.path.isdir(path):
        raise ParameterError(f"cannot write {path}: it is a folder (name a file in it)")
    if os.path.exists(path) and not force:
        raise ParameterError(f"{path} exists; refusing to overwrite it (use --force)")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(folder) and not _takes_files(folder):
        raise ParameterError(f"cannot write {path}: the folder {folder} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise ParameterError(f"cannot write {path}: the file is read-only")


def _takes_files(folder: str) -> bool:
    """Whether a file can be created in ``folder`` (tried: permissions alone do not tell
    for root or a read-only file system)."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".robustmech-", suffix=".probe"):
            return True
    except OSError:
        return False


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


@contextlib.contextmanager
def solver_log_to_stderr() -> Iterator[None]:
    """Send whatever a solver prints to stderr for the duration, so stdout carries the
    result alone (``solve --verbose --json`` prints only JSON there).

    HiGHS and Clarabel write their logs from C++ and Rust to file descriptor 1, Python
    code to ``sys.stdout``: both are pointed at stderr, and C's stdio buffers are flushed
    before fd 1 is put back (a log line left in them would reach stdout later)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no fd 1 (closed stdout): nothing to protect
        saved = None
    try:
        if saved is not None:
            os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved is not None:
            _flush_c_stdio()
            os.dup2(saved, 1)
            os.close(saved)


def _flush_c_stdio() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library to ask (not POSIX)
        pass


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
    if isinstance(v, np.ndarray):
        return _finite(v.tolist())
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)
