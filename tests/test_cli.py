"""The command line of the foundation issue: `robustmech solve` and `robustmech bounds`.

Numbers: LB-G-k (9) and UB-P-k (10) of 004 on the public good of 004 Section 4
(N = 2, vbar = 3), whose closed-form max guarantee (15)-(17) is about 1.5567.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from robustmech.cli import main

from conftest import MODELS

PUBLIC_GOOD = str(MODELS / "public_good.mech")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_solve_json_has_the_promised_fields(capsys):
    code, out, err = run(capsys, "solve", PUBLIC_GOOD, "--program", "guarantee", "--k", "4", "--json")
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 1  # one JSON object on stdout, nothing else (the HiGHS banner is muted)
    obj = json.loads(lines[0])
    for key in ("program", "k", "value", "status", "build_seconds", "solve_seconds", "dual_value"):
        assert key in obj
    assert obj["program"] == "guarantee" and obj["k"] == 4 and obj["status"] == "optimal"
    # the command reports the program's optimum: the same LB-G-4 (9) solved through the API,
    # which lies below the closed-form max guarantee λ of (15)-(17) (Theorem 1 of 004)
    import robustmech as rm
    from robustmech.symbolic.public_good import public_good_solution

    api = rm.solve(rm.load_model(PUBLIC_GOOD), "guarantee", 4)
    assert obj["value"] == pytest.approx(api.value, abs=1e-9)
    assert 0 < obj["value"] < public_good_solution(2, 3).guarantee
    assert obj["value"] == pytest.approx(obj["dual_value"], abs=1e-8)


def test_bounds_json_reports_lower_upper_gap(capsys):
    code, out, _ = run(capsys, "bounds", PUBLIC_GOOD, "--k", "3", "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["lower"] <= 1.5567 <= obj["upper"]  # Theorem 1 of 004 with (15)-(17)
    assert obj["gap"] == pytest.approx(obj["upper"] - obj["lower"])
    import robustmech as rm  # the command line reports exactly what the library computes

    assert obj["lower"] == pytest.approx(rm.solve(rm.load_model(PUBLIC_GOOD), "guarantee", 3).value, abs=1e-12)


def test_param_override_changes_the_model(capsys):
    code, out, _ = run(capsys, "bounds", PUBLIC_GOOD, "--k", "2", "--param", "N=3", "--param", "vbar=4", "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["params"]["N"] == 3
    from robustmech.symbolic.public_good import public_good_solution

    assert obj["lower"] <= public_good_solution(3, 4).guarantee <= obj["upper"]


def test_dual_program_equals_potential(capsys):
    """(12) of 004 is the LP dual of (10)."""
    _, out_ub, _ = run(capsys, "solve", PUBLIC_GOOD, "--program", "potential", "--k", "3", "--json")
    _, out_dual, _ = run(capsys, "solve", PUBLIC_GOOD, "--program", "dual", "--k", "3", "--json")
    assert json.loads(out_dual)["value"] == pytest.approx(json.loads(out_ub)["value"], abs=1e-8)


def test_out_saves_and_never_overwrites(capsys, tmp_path):
    import robustmech as rm

    path = tmp_path / "lb.json"
    code, _, _ = run(capsys, "solve", PUBLIC_GOOD, "--k", "3", "--out", str(path))
    assert code == 0
    loaded = rm.load(str(path))
    assert loaded.value == pytest.approx(rm.solve(rm.load_model(PUBLIC_GOOD), "guarantee", 3).value, abs=1e-12)
    assert loaded.mechanism.rule.shape == (10, 10, 3)
    before = path.read_text()
    code, _, err = run(capsys, "solve", PUBLIC_GOOD, "--k", "2", "--out", str(path))
    assert code == 2 and "exists" in err and len(err.strip().splitlines()) == 1
    assert path.read_text() == before  # nothing a user wrote is overwritten
    code, _, _ = run(capsys, "solve", PUBLIC_GOOD, "--k", "2", "--out", str(path), "--force")
    assert code == 0 and rm.load(str(path)).k == 2


def test_solver_failure_exits_3(capsys, tmp_path):
    """A time limit the solver cannot meet is a solver failure: exit 3 with the reason."""
    code, out, err = run(capsys, "solve", PUBLIC_GOOD, "--k", "12", "--time-limit", "0.001", "--no-symmetry",
                         "--solver", "highs-simplex")
    assert code == 3
    last = err.strip().splitlines()[-1]
    assert last.startswith("robustmech: error:") and "time limit" in last


def test_export_writes_a_pyomo_lp_file(capsys, tmp_path):
    path = tmp_path / "ub.lp"
    code, _, _ = run(capsys, "solve", PUBLIC_GOOD, "--program", "potential", "--k", "2", "--export", str(path))
    assert code == 0
    text = path.read_text()
    assert "min" in text and "virtual(" in text and "marginal(" in text


def test_help_and_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("solve", "bounds", "bench"):
        assert command in out
    # --version prints the package's version, the one pyproject.toml declares
    import tomllib

    import robustmech

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    declared = tomllib.loads((MODELS.parent / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out == f"robustmech {robustmech.__version__}\n"
    assert robustmech.__version__ == declared


def test_json_writes_non_finite_numbers_as_null(capsys):
    """--json output is strict JSON: a dual bound that does not exist (inf) or a value
    never computed (nan) is null, never the non-JSON tokens Infinity or NaN."""
    from robustmech.cli.common import emit_json

    emit_json({"dual_value": float("inf"), "gap": np.float64("nan"), "values": [1.5, float("-inf")], "ok": 1.0})
    text = capsys.readouterr().out
    assert "Infinity" not in text and "NaN" not in text
    assert json.loads(text) == {"dual_value": None, "gap": None, "values": [1.5, None], "ok": 1.0}


def test_bench_check_compares_with_the_unaccelerated_solve(capsys, monkeypatch):
    """`robustmech bench --check`: each case is solved again without acceleration (full
    program, no symmetry reduction, HiGHS's default method) and the two values must agree
    to 1e-7; a case that differs makes the command fail (exit 3) and names it. A one-case
    suite (LB-G-2 and UB-P-2 of the public good of 004 Section 4) keeps it short."""
    from robustmech import bench

    monkeypatch.setitem(bench.SUITES, "tiny", [("public_good", {"N": "2", "vbar": "3"}, 2, bench.BOUNDS)])
    code, out, _ = run(capsys, "bench", "--suite", "tiny", "--check", "--json", "--models", str(MODELS))
    assert code == 0
    rows = json.loads(out)["rows"]
    assert [r["program"] for r in rows] == ["guarantee", "potential"]
    for r in rows:
        assert r["status"] == "optimal" and r["matches_reference"] is True
        assert r["reference_value"] == pytest.approx(r["value"], abs=1e-7)

    solved = {(r["program"], True): r for r in rows}  # the rows above, served again without a process
    solved |= {(r["program"], False): dict(r, value=r["reference_value"]) for r in rows}
    solved[("potential", False)] = dict(solved[("potential", False)], value=rows[1]["value"] + 1e-3)

    def shifted_reference(case, models_dir, timeout=None):  # the reference UB-P-2 now differs by 1e-3
        return dict(solved[(case.program, case.symmetry)])

    monkeypatch.setattr(bench, "run_case", shifted_reference)
    code, _, err = run(capsys, "bench", "--suite", "tiny", "--check", "--json", "--models", str(MODELS))
    assert code == 3
    assert "1 case(s) differ from the unaccelerated reference solve: public_good k=2 potential" in err


def test_bench_anchor_rows_solve_the_full_program_by_the_interior_point_method(capsys, monkeypatch):
    """A suite row with its own options (the scale suite's anchor: the full LB-G-k by
    HiGHS's interior point method, no symmetry, no boxes) is run with those, whatever
    ``--solver`` says, and the table names it; LB-G-2's value is 1 (the README's Pyomo
    table, the full program by HiGHS)."""
    from robustmech import bench

    monkeypatch.setitem(bench.SUITES, "tiny", [("public_good", {"N": "2", "vbar": "3"}, 2, ("guarantee",),
                                                bench.ANCHOR)])
    code, out, _ = run(capsys, "bench", "--suite", "tiny", "--solver", "clarabel", "--json", "--models", str(MODELS))
    assert code == 0
    (row,) = json.loads(out)["rows"]
    assert (row["solver"], row["symmetry"], row["truncate"]) == ("highs-ipm", False, False)
    assert row["solver_used"] == "highs-ipm" and row["value"] == pytest.approx(1.0, abs=1e-7)
    # the certificate's seconds (the full program's own rows checked) are the table's "check" column
    assert f" {row['certify_seconds']:.2f} " in bench.format_row(row)
    assert bench.format_row(row).rstrip().endswith("highs-ipm, full program")


def test_bench_exact_guarantee_row(capsys, monkeypatch):
    """The scale suite's exact-guarantee row (the first-price auction with k bids on a
    common value, worst and best BCE) at 11 values and 21 bids: the best BCE extracts
    E[v] = 1/2 (bidding 0 never loses money, and bidders who both learn v and bid it obey
    every deviation), the worst is below it, and both meet their weak-duality bounds."""
    from robustmech import bench

    monkeypatch.setitem(bench.SUITES, "tiny", [("common_value_auction", {"N": "2", "nvalues": "11"}, 21,
                                                (bench.EXACT,))])
    code, out, _ = run(capsys, "bench", "--suite", "tiny", "--json", "--models", str(MODELS))
    assert code == 0
    (row,) = json.loads(out)["rows"]
    assert row["status"] == "optimal" and row["program"] == bench.EXACT
    assert row["best_value"] == pytest.approx(0.5, abs=1e-8) and row["value"] < row["best_value"]
    assert row["value"] == pytest.approx(row["dual_value"], abs=1e-8)
    assert row["best_value"] == pytest.approx(row["best_dual_value"], abs=1e-8)
    assert "best 0.500000" in bench.format_row(row)
