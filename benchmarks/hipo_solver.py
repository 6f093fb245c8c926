"""HiGHS's new interior point method HiPO against the solvers ``auto`` uses: the
measurement behind leaving it out (``highspy`` is pinned to 1.16, for which no
``highspy-extras`` exists; HiPO needs the two at the same version, and with a mismatch
HiGHS silently falls back to simplex).

The programs are those the default path hands to its solver: the public good of 004
Section 4, LB-G-k and UB-P-k, symmetric (and on the box x <= 3 where ``auto`` takes one).
``dump`` writes them with this checkout's robustmech; ``solve`` runs in an environment
with ``highspy==1.15.1`` and ``highspy-extras==1.15.1`` only (no robustmech): HiPO
without and with its crossover, IPX without, two threads::

    python benchmarks/hipo_solver.py dump /tmp/hipo
    python -m venv /tmp/hipo/venv && /tmp/hipo/venv/bin/pip install numpy scipy \\
        highspy==1.15.1 highspy-extras==1.15.1
    /tmp/hipo/venv/bin/python benchmarks/hipo_solver.py solve /tmp/hipo

Measured on this 2-core machine, nothing else running (seconds of the solver call; the
default's as the benchmark reports it: Clarabel on two agents, HiGHS 1.16's interior
point method with its crossover on the boxes of three; HiPO and IPX are HiGHS 1.15.1's,
two threads):

| program | default | default s | HiPO s | HiPO + crossover s | IPX s | HiPO value | default value |
|---|---|---|---|---|---|---|---|
| LB-G-10, N = 2 | clarabel | 0.54 | 1.32 | 5.88 | 6.85 | 1.536150575 | 1.536150575 |
| UB-P-10, N = 2 | clarabel | 0.56 | 0.77 | 2.34 | 4.48 | 1.681464779 | 1.681464778 |
| LB-G-30, N = 2, box | clarabel | 0.52 | 1.26 | 2.05 | 3.11 | 1.550646578 | 1.550646583 |
| UB-P-30, N = 2, box | clarabel | 0.57 | 0.67 | 2.72 | 3.42 | 1.631986537 | 1.631986535 |
| LB-G-8, N = 3, box | highs-ipm | 4.43 | 2.62 | 3.10 | 2.27 | 1.784916588 | 1.784916588 |
| UB-P-8, N = 3, box | highs-ipm | 2.83 | 1.86 | 2.67 | 1.91 | 2.396166019 | 2.396166012 |
| LB-G-10, N = 3, box | highs-ipm | 21.03 | 6.01 | 22.52 | 15.05 | 1.798705253 | 1.798705253 |
| UB-P-10, N = 3, box | highs-ipm | 12.29 | 5.48 | 17.49 | 7.71 | 2.361090497 | 2.361090472 |

(all programs symmetric; HiPO's values, without crossover, within 3e-8 of the default's).
On two agents Clarabel is ahead of HiPO at every size. On the three-agent boxes, where
the read-back wants the vertex the crossover gives, HiPO with its crossover gains at
k = 8 (3.10 s against 4.43) and loses at k = 10 (22.5 s against 21.0, 17.5 against
12.3): the crossover is most of the time there (without it HiPO takes 6.0 s and 5.5 s,
IPX 15.1 s and 7.7 s). Nothing here pays for pinning HiGHS back to 1.15.1; what the
numbers point at is a vertex found another way on those boxes, as Clarabel's interior
points are purified (``robustmech.solve.vertex``), and that is the default there now
(``highs-ipm-interior``: 14.9 s and 8.4 s at k = 10, its point kept or purified as
Clarabel's; the table's default column is the crossover's).
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

CASES = [("public_good", {"N": "2", "vbar": "3"}, k, p) for k in (10, 30) for p in ("guarantee", "potential")] + [
    ("public_good", {"N": "3", "vbar": "4"}, k, p) for k in (8, 10) for p in ("guarantee", "potential")]


def dump(folder: pathlib.Path) -> None:
    """Each case's program as the default path hands it to its solver, as ``.npz``."""
    import robustmech as rm
    import robustmech.api as api

    root = pathlib.Path(__file__).resolve().parents[1]
    handed: list = []
    solve_lp = api.solve_lp

    def keep(lp, options):
        handed.append(lp)
        return solve_lp(lp, options)

    api.solve_lp = keep
    folder.mkdir(parents=True, exist_ok=True)
    for model, params, k, program in CASES:
        result = rm.solve(rm.load_model(root / "models" / f"{model}.mech", params), program, k)
        lp = handed[-1]
        A = lp.A.tocsr()
        name = f"{program}_N{params['N']}_k{k}"
        np.savez(folder / f"{name}.npz", maximize=lp.sense == "max", cost=lp.cost, indptr=A.indptr,
                 indices=A.indices, data=A.data, shape=np.array(A.shape), row_lower=lp.row_lower,
                 row_upper=lp.row_upper, col_lower=lp.col_lower, col_upper=lp.col_upper, offset=lp.offset,
                 value=result.value, solver=result.solver, seconds=result.solve_seconds)
        print(f"{name}: {A.shape[0]} x {A.shape[1]}, {result.value:.9f} by {result.solver} in "
              f"{result.solve_seconds:.2f} s", flush=True)


RUNS = (("hipo", "off"), ("hipo", "on"), ("ipx", "off"))  # (solver, run_crossover)


def solve(folder: pathlib.Path) -> None:
    """Each dumped program solved by HiPO without and with crossover, and by IPX without."""
    import highspy

    print("| program | default | default s | HiPO s | HiPO + crossover s | IPX s | HiPO value | default value |")
    print("|---|---|---|---|---|---|---|---|")
    for path in sorted(folder.glob("*.npz")):
        d = np.load(path)
        seconds, values = [], []
        for method, crossover in RUNS:
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            lp = highspy.HighsLp()
            lp.num_row_, lp.num_col_ = (int(n) for n in d["shape"])
            sign = -1.0 if bool(d["maximize"]) else 1.0
            lp.col_cost_, lp.col_lower_, lp.col_upper_ = sign * d["cost"], d["col_lower"], d["col_upper"]
            lp.row_lower_, lp.row_upper_ = d["row_lower"], d["row_upper"]
            lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
            lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = d["indptr"], d["indices"], d["data"]
            h.passModel(lp)
            for option, value in (("solver", method), ("run_crossover", crossover), ("threads", 2)):
                h.setOptionValue(option, value)
            start = time.perf_counter()
            h.run()
            seconds.append(time.perf_counter() - start)
            optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
            values.append(sign * h.getInfo().objective_function_value + float(d["offset"]) if optimal else float("nan"))
        print(f"| {path.stem} | {d['solver']} | {float(d['seconds']):.2f} | {seconds[0]:.2f} | {seconds[1]:.2f} | "
              f"{seconds[2]:.2f} | {values[0]:.9f} | {float(d['value']):.9f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("dump", "solve"))
    parser.add_argument("folder", type=pathlib.Path)
    args = parser.parse_args()
    (dump if args.step == "dump" else solve)(args.folder)


if __name__ == "__main__":
    main()
