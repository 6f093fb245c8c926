"""The exact guarantee of the first-price auction (worst and best BCE) by the three ways
of writing the obedience rows: every row (``all``), row generation with a cold build
and solve each round (``generate``), and warm row generation on one HiGHS model
(``warm``, the default of ``deviations="auto"`` on large programs).

    python benchmarks/bce_generation.py --quick          # 11 values; 21 and 40 bids
    python benchmarks/bce_generation.py                  # 11 and 21 values; 21, 60, 100, 150 bids
    python benchmarks/bce_generation.py --values 21 --bids 150 --modes warm
    python benchmarks/bce_generation.py --json

Environment: 2 bidders, a pure common value v uniform on {0, 1/(n-1), ..., 1}, free
transfers, revenue objective; the first-price auction on evenly spaced bids in [0, 1]
(BBM, 002 Section 6.1); the sizes of the BCESolve comparison (21 values, 150 bids:
472,500 columns, 44,700 obedience rows). Each case (sizes, mode) runs in its own
process, so its peak resident memory is its own; a case past ``--timeout`` seconds is
reported as such. ``wall s`` is the whole case (both programs, every round; ``build
s`` and ``solve s`` are those the result reports: for ``generate``, its last round's),
``cpu s`` the process's CPU time: on a shared machine, where other processes compete
for the cores, CPU time is the fairer comparison. Timing is measured here, never
asserted in a test.

Measured on the shared 2-core machine, generation starting from the deviations to the
adjacent actions and to the first and last bid (``bce.starting_deviations``; wall / CPU
seconds, worst and best BCE together): 11 values, 21 bids: all 0.55 / 1.4, generate
0.89 / 1.6, warm 0.35 / 1.1; 40 bids: all 5.1 / 5.7, generate 25 / 27, warm 0.90 / 2.1
(load 2.7). 21 values, 150 bids, warm, each BCE alone (load 3-5): the worst 276 s wall /
102 s CPU, 50 rounds, 4,254 rows added, value and dual bound 0.1542226451; the best 26 s
/ 20 s, 13 rounds, 6,318 rows, 0.5 = E[v]. From the adjacent deviations alone the best
BCE at 11 values and 60 bids took 50 rounds (16 s CPU, against 9 rounds and 1.4 s), and
at 21 values and 150 bids it had not settled after 36 rounds and 34 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

MODES = ("all", "generate", "warm")


def environment(n_values: int):
    """The two-bidder common-value auction of benchmarks/exact_programs.py."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from exact_programs import environment as common_value_auction

    return common_value_auction(n_values)


def child(spec: dict) -> dict:
    """One case in this process: both programs, the way ``spec["mode"]`` says."""
    import resource

    import robustmech as rm
    from robustmech.model import generators as gen

    env = environment(spec["values"])
    mech = gen.first_price_auction(env, bids=spec["bids"])
    start = time.perf_counter()
    g = rm.guarantee(env, mech, deviations=spec["mode"])
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    n_obedience = 2 * spec["bids"] * (spec["bids"] - 1)
    return {**spec, "status": g.status, "columns": g.n_variables, "obedience_rows": n_obedience,
            "rows": g.n_constraints, "rounds": g.generation_rounds, "build_seconds": g.build_seconds,
            "solve_seconds": g.solve_seconds, "wall_seconds": wall, "worst": g.value, "worst_dual": g.dual_value,
            "best": g.best_value, "best_dual": g.best_dual_value,
            "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024.0}


def run_case(spec: dict, timeout: float) -> dict:
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**spec, "status": "timeout", "wall_seconds": time.perf_counter() - start}
    if proc.returncode != 0:
        return {**spec, "status": "error", "message": (proc.stderr.strip().splitlines() or [""])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


HEADER = (f"{'values':>6} {'bids':>4} {'mode':<8} {'columns':>8} {'rows':>7} {'of':>7} {'rounds':>6} "
          f"{'build s':>8} {'solve s':>8} {'wall s':>8} {'cpu s':>8} {'peak MiB':>8} {'worst':>12} {'worst dual':>12} "
          f"{'best':>12} {'best dual':>12}")


def format_row(r: dict) -> str:
    head = f"{r['values']:>6} {r['bids']:>4} {r['mode']:<8}"
    if r.get("status") != "optimal":
        extra = f" after {r['wall_seconds']:.0f} s" if "wall_seconds" in r else f": {r.get('message', '')}"
        return f"{head} {r.get('status')}{extra}"
    return (f"{head} {r['columns']:>8} {r['rows']:>7} {r['obedience_rows']:>7} {r['rounds']:>6} "
            f"{r['build_seconds']:>8.2f} {r['solve_seconds']:>8.2f} {r['wall_seconds']:>8.2f} {r['cpu_seconds']:>8.2f} "
            f"{r['peak_mib']:>8.0f} "
            f"{r['worst']:>12.9f} {r['worst_dual']:>12.9f} {r['best']:>12.9f} {r['best_dual']:>12.9f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--values", default="11,21", help="numbers of common values")
    p.add_argument("--bids", default="21,60,100,150", help="numbers of bids")
    p.add_argument("--modes", default=",".join(MODES), help="ways to write the obedience rows: all, generate, warm")
    p.add_argument("--quick", action="store_true", help="11 values, 21 and 40 bids")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds a case may take")
    p.add_argument("--json", action="store_true")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    values, bids = ("11", "21,40") if args.quick else (args.values, args.bids)
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        p.error(f"unknown modes {', '.join(sorted(unknown))}")
    rows = []
    if not args.json:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"# first-price auction, 2 bidders, common value; {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores, load {load:.1f} at the start (a shared machine); timeout {args.timeout:.0f} s")
        print(HEADER, flush=True)
    for n_values in [int(v) for v in values.split(",")]:
        for n_bids in [int(b) for b in bids.split(",")]:
            for mode in modes:
                row = run_case({"values": n_values, "bids": n_bids, "mode": mode}, args.timeout)
                rows.append(row)
                if not args.json:
                    print(format_row(row), flush=True)
    if args.json:
        print(json.dumps({"machine": platform.platform(), "cores": os.cpu_count(), "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
