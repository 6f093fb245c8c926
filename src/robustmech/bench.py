"""Benchmarks: build seconds, solve seconds, peak memory and value per program and size.

Each case runs in a fresh subprocess so that its peak resident memory is its own
(``ru_maxrss`` of that process). ``robustmech bench`` runs a suite and prints a table
with the machine described; scripts in ``benchmarks/`` call the same functions. With
``check=True`` every accelerated value is compared with the unaccelerated path (full
program on the whole grid, no symmetry reduction, HiGHS's default method) where that is
affordable.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass

BOUNDS = ("guarantee", "potential")  # LB-G-k (9) and UB-P-k (10) of 004
AUCTION = ("auction-guarantee", "auction-potential")  # (41) and (3) of 001, transfers solved out
# the exact guarantee of the first-price auction with k bids: its worst and best BCE
# (robustmech.certify.guarantee; the row's value is the worst, the best is reported too)
EXACT = "first-price-bce"

# a row solved as the anchor: the full program by HiGHS's interior point method
ANCHOR = {"solver": "highs-ipm", "symmetry": False, "truncate": False}

SUITES: dict[str, list[tuple]] = {
    # the public good of 004 Section 4, N = 2, vbar = 3 (Figure 1's setting)
    "public-good": [("public_good", {"N": "2", "vbar": "3"}, k, BOUNDS) for k in range(2, 11)],
    # the second scale step: the N = 3 public good at k = 8 (goal: under 10 minutes) and k = 10
    # (1,030,301 profiles before symmetry; tried and timed), and the common-value auction of 001
    # Appendix B.1.1 at k = 15 (goal: under 2 minutes) and with three bidders at k = 5
    # (the longest cases last, so that a timeout costs the fewest rows)
    "scale": [("public_good", {"N": "2", "vbar": "3"}, k, BOUNDS) for k in (10, 14)]
    # the anchor to stay ahead of: HiGHS's interior point method on the full LB-G-k (no
    # symmetry, no boxes): with HiGHS 1.16 on this 2-core machine 52 s at k = 10 and
    # 1,843 s at k = 14 (7.0 s and 47 s with 1.15.1 when this row was set)
    + [("public_good", {"N": "2", "vbar": "3"}, k, ("guarantee",), ANCHOR) for k in (10, 14)]
    + [("common_value_auction", {"N": n, "nvalues": "10"}, k, AUCTION) for n, k in (("2", 10), ("2", 15), ("3", 5))]
    + [("public_good", {"N": "3", "vbar": "4"}, k, BOUNDS) for k in (5, 8, 10)]
    # the exact guarantee at BCESolve's sizes: the first-price auction with 150 bids (k) on
    # the common value's 21 points, worst and best BCE (goal: under 10 minutes)
    + [("common_value_auction", {"N": "2", "nvalues": "21"}, 150, (EXACT,))],
    # 004 Figure 1: the public good at k = 30 (811,801 profiles; goal: both bounds in 5 minutes,
    # 2 GB) and k = 40 (goal: 20 minutes)
    "figure": [("public_good", {"N": "2", "vbar": "3"}, k, BOUNDS) for k in (30, 40)],
    "quick": [("public_good", {"N": "2", "vbar": "3"}, k, BOUNDS) for k in (2, 4, 6)],
}
# --check solves the full program with HiGHS's default method where it takes about a minute
CHECK_MAX_PROFILES = 20_000


@dataclass
class Case:
    model: str
    params: dict
    k: int
    program: str
    solver: str = "auto"
    symmetry: bool = True
    truncate: bool = True


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        mem_s = f", {mem:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        mem_s = ""
    return (f"{cpu}, {os.cpu_count()} cores{mem_s}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def run_case(case: Case, models_dir: str, timeout: float | None = None) -> dict:
    """Solve one case in a subprocess; returns its timings, peak memory (MiB) and value."""
    payload = json.dumps(case.__dict__ | {"models_dir": models_dir})
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "robustmech.bench", payload], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return case.__dict__ | {"status": "timeout", "wall_seconds": time.perf_counter() - start}
    if proc.returncode != 0:
        return case.__dict__ | {"status": "error", "message": proc.stderr.strip().splitlines()[-1:] or [""]}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_seconds"] = time.perf_counter() - start
    return out


def _child(payload: str) -> None:
    import resource

    import robustmech as rm

    spec = json.loads(payload)
    path = os.path.join(spec["models_dir"], spec["model"] + ".mech")
    env = rm.load_model(path, spec["params"])
    if spec["program"] == EXACT:
        from .certify import WARM_SOLVERS
        from .model.generators import first_price_auction

        g = rm.guarantee(env, first_price_auction(env, bids=spec["k"]), solver=spec["solver"],
                         symmetry=spec["symmetry"])
        # warm generation goes on in one HiGHS model; any other solver solves each round anew
        generating = "highs" if spec["solver"] in WARM_SOLVERS else spec["solver"]
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(json.dumps({**{k: v for k, v in spec.items() if k != "models_dir"}, "status": g.status,
                          "value": g.value, "dual_value": g.dual_value, "best_value": g.best_value,
                          "best_dual_value": g.best_dual_value, "build_seconds": g.build_seconds,
                          "solve_seconds": g.solve_seconds, "certify_seconds": None, "peak_mib": peak_mib,
                          "solver_used": (f"{generating}, rows generated in {g.generation_rounds} rounds"
                                          if g.generation_rounds > 1 else f"{spec['solver']}, all rows"),
                          "variables": g.n_variables, "constraints": g.n_constraints}))
        return
    r = rm.solve(env, spec["program"], spec["k"], solver=spec["solver"], symmetry=spec["symmetry"],
                 truncate=spec.get("truncate", True))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({**{k: v for k, v in spec.items() if k != "models_dir"}, "status": r.status, "value": r.value,
                      "build_seconds": r.build_seconds, "solve_seconds": r.solve_seconds,
                      "certify_seconds": r.extra.get("certify_seconds"), "peak_mib": peak_mib,
                      "solver_used": r.solver,
                      "variables": r.n_variables, "constraints": r.n_constraints,
                      # the columns solved: the box's orbits where both apply
                      "reduced_variables": r.extra.get("symmetry", r.extra.get("truncation", {})).get("columns"),
                      "box": r.extra.get("truncation", {}).get("box")}))


def run_suite(suite: str, models_dir: str, solver: str = "auto", check: bool = False, timeout: float | None = None,
              progress=None) -> list[dict]:
    rows = []
    for model, params, k, programs, *how in SUITES[suite]:
        fixed = how[0] if how else {}  # a row's own solver and reductions (the anchor's)
        for program in programs:
            case = Case(model, params, k, program, fixed.get("solver", solver), fixed.get("symmetry", True),
                        fixed.get("truncate", True))
            row = run_case(case, models_dir, timeout)
            profiles = (k * k + 1) ** int(params.get("N", 2))
            if check and row.get("status") == "optimal" and profiles <= CHECK_MAX_PROFILES:
                ref = run_case(Case(model, params, k, program, "highs", symmetry=False, truncate=False), models_dir,
                               timeout)
                row["reference_value"] = ref.get("value")
                row["matches_reference"] = ref.get("value") is not None and abs(ref["value"] - row["value"]) <= 1e-7
            rows.append(row)
            if progress:
                progress(row)
    return rows


def _seconds(value) -> str:
    """Seconds to two places; "-" where the case has none (the exact guarantee's rows)."""
    return "-" if value is None else f"{value:.2f}"


def format_row(row: dict) -> str:
    params = ",".join(f"{k}={v}" for k, v in row["params"].items())
    if row.get("status") != "optimal":
        return f"{row['model']:<20} {params:<12} {row['k']:>3} {row['program']:<17} {row.get('status')}"
    check = ""
    if "matches_reference" in row:
        check = "  ok" if row["matches_reference"] else f"  MISMATCH ({row['reference_value']})"
    return (f"{row['model']:<20} {params:<12} {row['k']:>3} {row['program']:<17} {row['variables']:>9} "
            f"{row['constraints']:>9} "
            f"{row['build_seconds']:>8.3f} {row['solve_seconds']:>8.2f} {_seconds(row.get('certify_seconds')):>8} "
            f"{row['peak_mib']:>8.0f} "
            f"{row['value']:>10.6f} {_solver_text(row):<14}{check}")


def _solver_text(row: dict) -> str:
    """The solver, and the box where the program was solved on one (robustmech.programs.truncation)."""
    box = row.get("box")
    full = ", full program" if row.get("symmetry") is False and row.get("truncate") is False else ""
    best = f", best {row['best_value']:.6f}" if row.get("best_value") is not None else ""
    return row.get("solver_used", "") + (f", box x<={box}/k" if box else "") + full + best


HEADER = (f"{'model':<20} {'params':<12} {'k':>3} {'program':<17} {'vars':>9} {'rows':>9} "
          f"{'build s':>8} {'solve s':>8} {'check s':>8} {'peak MiB':>8} {'value':>10} {'solver':<14}")


if __name__ == "__main__":  # the subprocess of run_case
    _child(sys.argv[1])
