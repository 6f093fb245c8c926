"""``robustmech verify [NAME ...]``: run the named symbolic checks and print a table."""

from __future__ import annotations

import argparse

from ..errors import ParameterError, RobustMechError
from ..symbolic.checks import CHECKS, run_checks
from .common import add_json_argument, emit_json


class ChecksFailed(RobustMechError):
    """Some of the papers' identities did not hold: exit 1 (not bad input, not the solver)."""

    exit_code = 1


def register(sub) -> None:
    p = sub.add_parser("verify", help="check the papers' closed forms and identities (SymPy and numerics)",
                       description="Run the named checks (all by default): each identity a closed-form "
                       "result rests on. Exits 1 if any check fails.")
    p.add_argument("names", nargs="*", metavar="NAME", help="checks to run (default: all); see --list")
    p.add_argument("--list", action="store_true",
                   help="list the checks (or the named ones) and their sources; do not run them")
    add_json_argument(p)
    p.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> None:
    if args.list:
        names = args.names or list(CHECKS)
        unknown = [n for n in names if n not in CHECKS]
        if unknown:
            raise ParameterError(f"unknown check {unknown[0]!r}; known: {', '.join(CHECKS)}")
        if args.json:
            emit_json({"checks": [{"check": n, "source": CHECKS[n].source} for n in names]})
        else:
            for name in names:
                print(f"{name:36s} {CHECKS[name].source}")
        return
    results = run_checks(args.names or None)
    failed = [r for r in results if not r.passed]
    if args.json:
        emit_json({"passed": not failed, "checks": [
            {"check": r.name, "source": r.source, "passed": r.passed, "residual": r.residual,
             "tolerance": r.tolerance, "seconds": r.seconds} for r in results]})
    else:
        width = max(len(r.name) for r in results)
        source_width = max(len(r.source) for r in results)
        print(f"{'check':{width}s}  {'source':{source_width}s}  result  residual")
        for r in results:
            print(f"{r.name:{width}s}  {r.source:{source_width}s}  {'pass' if r.passed else 'FAIL':6s}  "
                  f"{r.residual:.2e} (tol {r.tolerance:.0e})")
        print(f"{len(results) - len(failed)} of {len(results)} checks passed")
    if failed:
        raise ChecksFailed(f"{len(failed)} of {len(results)} checks failed: {', '.join(r.name for r in failed)}")
