"""The ``robustmech`` command line: a thin layer over the library.

Exit codes: 0 success, 2 bad input (a one-line message naming file:line:col),
3 the solver failed (infeasible, unbounded, time limit) or a certificate broke,
130 interrupted, 141 stdout closed by its reader (as ``git``). Each subcommand lives
in its own module with a ``register(subparsers)`` function; :data:`SUBCOMMANDS` lists
them in help order. The options they share are declared once, in
:mod:`robustmech.cli.common`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .. import __version__
from ..errors import RobustMechError, SolverError

SUBCOMMANDS = (
    "robustmech.cli.solve",
    "robustmech.cli.run",
    "robustmech.cli.refine",
    "robustmech.cli.bench",
    "robustmech.cli.evaluate",
    "robustmech.cli.certify",
    "robustmech.cli.sweep",
    "robustmech.cli.show",
    "robustmech.cli.plot",
    "robustmech.cli.verify",
    "robustmech.cli.closed_form",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robustmech",
        description="Informationally robust mechanism design: compile a .mech model into the linear "
        "programs of Brooks and Du and solve them with HiGHS.",
        epilog="Exit codes: 0 success, 2 bad input, 3 solver failure or broken certificate, 130 interrupted "
        "(Ctrl-C), 141 stdout closed by its reader (e.g. robustmech ... | head -1).",
    )
    parser.add_argument("--version", action="version", version=f"robustmech {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand and return its exit code. The one error path of the command
    line: a handler raises, this prints one line on stderr and picks the code.

    - :class:`~robustmech.errors.RobustMechError`: ``robustmech: error: <message>``, the
      error's ``exit_code`` (2 bad input, 3 solver failure or broken certificate); a file
      the library refuses to overwrite (:class:`FileExistsError`) is bad input, 2;
    - Ctrl-C (:class:`KeyboardInterrupt`, or a solve the user interrupted):
      ``robustmech: interrupted``, 130;
    - stdout closed by its reader (``robustmech ... | head -1``): no message, 141, what
      ``git`` exits with (128 + SIGPIPE, as if the signal had ended the process).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.handler(args)  # returns nothing: a failure is raised
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return 0
    except SolverError as exc:
        if exc.status == "interrupted":
            return _interrupted(str(exc))
        return _error(exc, exc.exit_code)
    except RobustMechError as exc:
        return _error(exc, exc.exit_code)
    except FileExistsError as exc:
        return _error(exc, 2)
    except KeyboardInterrupt as exc:
        return _interrupted(str(exc))
    except BrokenPipeError:
        return _broken_pipe()


def _error(exc: BaseException, code: int) -> int:
    print(f"robustmech: error: {exc}", file=sys.stderr)
    return code


def _interrupted(detail: str) -> int:
    print("robustmech: interrupted" + (f": {detail}" if detail else ""), file=sys.stderr)
    return 130


def _broken_pipe() -> int:
    # Python flushes stdout again at exit, which would fail on the closed pipe and print
    # a traceback; point fd 1 at /dev/null first (the Python documentation's recipe)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a file (a test's capture)
        pass
    return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
