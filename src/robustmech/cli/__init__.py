"""The ``robustmech`` command line: a thin layer over the library.

Exit codes: 0 success, 2 bad input (a one-line message naming file:line:col),
3 the solver failed (infeasible, unbounded, time limit) or a certificate broke,
130 interrupted. Each subcommand lives in its own module with a ``register(subparsers)``
function; :data:`SUBCOMMANDS` lists them in help order.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import RobustMechError

SUBCOMMANDS = (
    "robustmech.cli.solve",
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
        epilog="Exit codes: 0 success, 2 bad input, 3 solver failure or broken certificate.",
    )
    parser.add_argument("--version", action="version", version=f"robustmech {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except RobustMechError as exc:
        print(f"robustmech: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except FileExistsError as exc:
        print(f"robustmech: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("robustmech: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
