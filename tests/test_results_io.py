"""The saved-result format (robustmech.results.io): round trips, the DataLoader of the
elaborator's data files, and a one-line DataError for every malformed file.

Sources: the values LB(4) = 1.485301 and UB(4) = 1.739956 of the public good of 004
Section 4.1 (N = 2, θ̄ = 3), from LB-G-k (9) and UB-P-k (10) of 004, are the README's
table; the states of that model are θ = (3, 0) and (0, 3) (one agent values the good
at θ̄, the other at 0); a mechanism is M = (A, m) and an information structure
I = (S, σ) (004 Section 2).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import zipfile

import numpy as np
import pytest

import robustmech as rm
from robustmech.cli import main
from robustmech.errors import DataError
from robustmech.results import io

from conftest import MODELS

K = 4
LB_4, UB_4 = 1.485301, 1.739956  # README table, 004 (9) and (10)
STATES = np.array([[3.0, 0.0], [0.0, 3.0]])  # θ = θ̄ e_j, 004 Section 4.1


@pytest.fixture(scope="module")
def env():
    return rm.load_model(MODELS / "public_good.mech")


@pytest.fixture(scope="module")
def solved(env):
    return rm.bounds(env, K)


@pytest.fixture(scope="module")
def saved(solved, env, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    lb, ub = str(folder / "lb.json"), str(folder / "ub.json")
    assert io.save_result(solved.lower, lb, source=env.source) == [lb, str(folder / "lb.npz")]
    solved.upper.save(ub)
    return lb, ub


@pytest.fixture
def copy(saved, tmp_path):
    """A fresh copy of a saved result (JSON and .npz) to damage."""
    def make(which: int = 0) -> tuple[str, str]:
        src = saved[which]
        dst = str(tmp_path / os.path.basename(src))
        shutil.copy(src, dst)
        shutil.copy(io.arrays_path(src), io.arrays_path(dst))
        return dst, io.arrays_path(dst)
    return make


def _edit_record(path: str, **fields) -> None:
    with open(path) as fh:
        record = json.load(fh)
    record.update(fields)
    with open(path, "w") as fh:
        json.dump(record, fh)


def _data_error(call, *args) -> str:
    with pytest.raises(DataError) as info:
        call(*args)
    return str(info.value)


# ---------------------------------------------------------------------------- round trips


def test_lb_and_ub_of_the_public_good_round_trip(solved, saved):
    lb, ub = (io.load_result(p) for p in saved)
    assert lb.value == pytest.approx(LB_4, abs=5e-7) and ub.value == pytest.approx(UB_4, abs=5e-7)
    assert lb.value == solved.lower.value and ub.value == solved.upper.value
    np.testing.assert_array_equal(lb.mechanism.rule, solved.lower.mechanism.rule)
    for back, orig in zip(lb.mechanism.actions, solved.lower.mechanism.actions):
        np.testing.assert_array_equal(back, orig)
    assert lb.mechanism.outcome_names == ("none", "paid_by[1]", "paid_by[2]") and lb.mechanism.finite
    np.testing.assert_array_equal(ub.information.joint, solved.upper.information.joint)
    np.testing.assert_array_equal(lb.multipliers["lambda"], solved.lower.multipliers["lambda"])
    np.testing.assert_array_equal(ub.multipliers["gamma"], solved.upper.multipliers["gamma"])
    for res in (lb, ub):
        np.testing.assert_array_equal(res.state_points, STATES)
        assert res.state_labels == ("(3, 0)", "(0, 3)")
    assert lb.provenance["source"].startswith("# Public expenditure") and "source" not in ub.provenance
    assert rm.load(saved[0]).value == lb.value  # robustmech.load is this reader


def test_old_files_without_state_points_read_them_from_the_labels(copy):
    path, _ = copy(1)
    with open(path) as fh:
        record = json.load(fh)
    del record["state_points"]
    with open(path, "w") as fh:
        json.dump(record, fh)
    np.testing.assert_array_equal(io.load_result(path).state_points, STATES)


def test_state_points_from_labels():
    np.testing.assert_array_equal(io.points_from_labels(["(3, 0)", "(1/2, -1)"]), [[3, 0], [0.5, -1]])
    np.testing.assert_array_equal(io.points_from_labels(["0", "0.5", "1"]), [[0], [0.5], [1]])
    assert io.points_from_labels(["low", "high"]) is None
    assert io.points_from_labels(["(1, 2)", "3"]) is None  # rows of different lengths


def test_the_loader_reads_back_the_saved_lb_mechanism(solved, saved, tmp_path):
    loader = io.ResultFiles()
    arrays = loader.mechanism_arrays(saved[0])
    np.testing.assert_array_equal(arrays["rule"], solved.lower.mechanism.rule)
    grid = np.arange(K * K + 1) / K  # X_i(k) = {l/k : 0 <= l <= k^2}, 004 Section 3
    np.testing.assert_array_equal(arrays["actions_0"], grid)
    np.testing.assert_array_equal(arrays["actions_1"], grid)
    info = loader.information_arrays(saved[1])
    np.testing.assert_array_equal(info["joint"], solved.upper.information.joint)
    assert list(info["states"]) == ["(3, 0)", "(0, 3)"]
    # the .npz beside a result, and a plain .npz, read the same way
    np.testing.assert_array_equal(loader.mechanism_arrays(io.arrays_path(saved[0]))["rule"], arrays["rule"])
    plain = tmp_path / "m.npz"
    np.savez(plain, rule=arrays["rule"], actions_0=grid)
    back = loader.mechanism_arrays(str(plain))
    assert set(back) == {"rule", "actions_0"}
    np.testing.assert_array_equal(back["rule"], arrays["rule"])
    assert _data_error(loader.information_arrays, saved[0]) == (
        f"{saved[0]}: holds no information structure (it is a guarantee result)")
    assert _data_error(loader.mechanism_arrays,
                       str(plain).replace("m.npz", "none.npz")).endswith("none.npz: no such file")
    assert _data_error(loader.mechanism_arrays, str(tmp_path)) == f"{tmp_path}: a folder, not a file"


def test_mechanism_from_a_saved_result_in_a_model_file(solved, saved, tmp_path):
    """`mechanism M from "lb.json"` through robustmech.load_model: the LB mechanism."""
    shutil.copy(saved[0], tmp_path / "lb.json")
    shutil.copy(io.arrays_path(saved[0]), tmp_path / "lb.npz")
    model = tmp_path / "pg.mech"
    model.write_text((MODELS / "public_good.mech").read_text() + '\nmechanism saved from "lb.json"\n')
    env = rm.load_model(model)
    mech = dict(env.mechanisms)["saved"]
    np.testing.assert_array_equal(mech.rule, solved.lower.mechanism.rule)
    np.testing.assert_array_equal(mech.actions[0], solved.lower.mechanism.actions[0])


# ---------------------------------------------------------------------------- malformed arrays


def test_empty_and_truncated_archives(copy):
    path, npz = copy()
    data = pathlib.Path(npz).read_bytes()
    pathlib.Path(npz).write_bytes(b"")
    assert _data_error(io.load_result, path) == f"{npz}: the file is empty (not a .npz archive)"
    with open(npz, "wb") as fh:
        fh.write(data[: len(data) // 2])
    assert _data_error(io.load_result, path) == f"{npz}: not a .npz archive (truncated, or not a zip file)"
    os.remove(npz)
    assert _data_error(io.load_result, path) == f"{path}: its arrays file lb.npz is missing"


def test_a_corrupt_member(tmp_path):
    npz = str(tmp_path / "m.npz")
    np.savez(npz, rule=np.full((2, 2, 2), 0.5))  # stored, not compressed: the bytes are the array's
    data = bytearray(pathlib.Path(npz).read_bytes())
    at = data.index(b"\x00\x00\x00\x00\x00\x00\xe0?")  # the first 0.5
    data[at + 7] = 0x40  # 0.5 -> 2.0: the member's CRC no longer matches
    pathlib.Path(npz).write_bytes(bytes(data))
    assert _data_error(io.mechanism_arrays, npz) == (
        f"{npz}: the member 'rule.npy' cannot be read (truncated, corrupt, or a pickled object array)")


def test_a_member_that_is_not_npy(tmp_path):
    npz = str(tmp_path / "m.npz")
    with zipfile.ZipFile(npz, "w") as zf:
        zf.writestr("rule.txt", "0.5 0.5")
    assert _data_error(io.mechanism_arrays, npz) == f"{npz}: the member 'rule.txt' is not a .npy array"


@pytest.mark.parametrize("rule, message", [
    (np.full((2, 2, 2), np.nan), "the array 'rule' holds NaN or infinite values"),
    (np.full((2, 2, 2), 0.5 + 0j), "the array 'rule' is complex"),
    (np.zeros((0, 2, 2)), "the array 'rule' has a zero-length axis (shape (0, 2, 2))"),
    (np.array(["a", "b"]), "the array 'rule' holds <U1 values, not numbers"),
    (np.array([0.5, 0.5]), "the array 'rule' has shape (2,); expected one axis per agent and a last one"),
])
def test_bad_rule_arrays(tmp_path, rule, message):
    npz = str(tmp_path / "m.npz")
    np.savez(npz, rule=rule)
    assert _data_error(io.mechanism_arrays, npz) == f"{npz}: {message}"


def test_bad_label_and_joint_arrays(tmp_path):
    npz = str(tmp_path / "m.npz")
    np.savez(npz, rule=np.full((2, 2, 2), 0.5), actions_0=np.array([0.0, np.nan]))
    assert _data_error(io.mechanism_arrays, npz) == f"{npz}: the array 'actions_0' holds NaN or infinite values"
    np.savez(npz, rule=np.full((2, 2, 2), 0.5), actions_1=np.arange(3))
    assert _data_error(io.mechanism_arrays, npz) == (
        f"{npz}: the array 'actions_1' has shape (3,); expected (2,), one label per element of its axis")
    np.savez(npz, joint=np.full((1, 1, 2), np.inf))
    assert _data_error(io.information_arrays, npz) == f"{npz}: the array 'joint' holds NaN or infinite values"
    np.savez(npz, other=np.ones(2))
    assert _data_error(io.information_arrays, npz) == (
        f"{npz}: no array 'joint' (the distribution of signal profiles and states)")


def test_nan_in_a_saved_result(copy):
    path, npz = copy(1)
    with np.load(npz) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["information_joint"] = np.full_like(arrays["information_joint"], np.nan)
    np.savez(npz, **arrays)
    assert _data_error(io.load_result, path) == f"{npz}: the array 'information_joint' holds NaN or infinite values"


# ---------------------------------------------------------------------------- malformed records


@pytest.mark.parametrize("fields, message", [
    ({"arrays": 5}, "the field 'arrays' must be a string, got a number"),
    ({"arrays": "../lb.npz"}, "the field 'arrays' must name a file beside it, got '../lb.npz'"),
    ({"mechanism": None}, "the field 'mechanism' must be an object, got null"),
    ({"mechanism": {"outcomes": "none", "finite": True}}, "the field 'mechanism.outcomes' must be a list of strings"),
    ({"value": "1.485"}, "the field 'value' must be a number, got a string"),
    ({"k": 4.5}, "the field 'k' must be a whole number or null, got a number"),
    ({"params": [2, 3]}, "the field 'params' must be an object, got a list"),
    ({"variables": True}, "the field 'variables' must be a whole number, got true/false"),
    ({"state_labels": [1, 2]}, "the field 'state_labels' must be a list of strings"),
    ({"state_points": [[3, 0]]}, "the field 'state_points' must have one row per state, all of one length (2 states)"),
    ({"state_points": [["3", 0], [0, 3]]}, "the field 'state_points' must be a list of rows of numbers"),
    ({"format": "other/1"}, "not a robustmech result (format 'other/1')"),
])
def test_bad_fields(copy, fields, message):
    path, _ = copy()
    _edit_record(path, **fields)
    assert _data_error(io.load_result, path) == f"{path}: {message}"


def test_records_that_are_not_objects(tmp_path):
    path = str(tmp_path / "r.json")
    with open(path, "w") as fh:
        json.dump([1, 2], fh)
    assert _data_error(io.read_record, path) == f"{path}: not a robustmech result (the JSON is a list, not an object)"
    with open(path, "w") as fh:
        fh.write('{"format": "robustmech-res')
    assert _data_error(io.read_record, path) == f"{path}: not a robustmech result (not a JSON file)"
    with open(path, "w") as fh:
        json.dump({"format": io.FORMAT, "program": "guarantee"}, fh)
    assert _data_error(io.read_record, path) == f"{path}: the field 'value' is missing"


def test_a_mechanism_without_an_arrays_file(copy):
    path, _ = copy()
    with open(path) as fh:
        record = json.load(fh)
    del record["arrays"]
    with open(path, "w") as fh:
        json.dump(record, fh)
    assert _data_error(io.load_result, path) == (
        f"{path}: holds a mechanism but names no arrays file (the field 'arrays' is missing)")


# ---------------------------------------------------------------------------- the command line


def _one_line_error(capsys, argv, text) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("robustmech: error: ") and text in err, err


def test_show_json_prints_the_whole_record(saved, capsys):
    assert main(["show", saved[0], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    with open(saved[0]) as fh:
        record = json.load(fh)
    assert shown == record
    assert shown["source"].startswith("# Public expenditure") and shown["state_points"] == STATES.tolist()


def test_commands_refuse_corrupt_results_in_one_line(copy, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path, npz = copy()
    data = pathlib.Path(npz).read_bytes()
    pathlib.Path(npz).write_bytes(data[: len(data) // 2])
    expected = f"{npz}: not a .npz archive (truncated, or not a zip file)"
    _one_line_error(capsys, ["show", path], expected)
    _one_line_error(capsys, ["show", path, "--json"], expected)
    _one_line_error(capsys, ["plot", path, "--out", str(tmp_path / "f.png")], expected)
    assert not (tmp_path / "f.png").exists()
    _one_line_error(capsys, ["evaluate", str(MODELS / "public_good.mech"), "--mechanism", path], expected)
    bad = str(tmp_path / "nan.npz")
    np.savez(bad, rule=np.full((2, 2, 3), np.nan))
    _one_line_error(capsys, ["evaluate", str(MODELS / "public_good.mech"), "--mechanism", bad],
                    f"{bad}: the array 'rule' holds NaN or infinite values")
    _one_line_error(capsys, ["evaluate", str(MODELS / "public_good.mech"), "--information", str(tmp_path / "no.npz")],
                    f"{tmp_path / 'no.npz'}: no such file")
