"""Directives in a model file run: ``robustmech run MODEL``, and the model's own ``k``
for commands given none.

Sources: LB(6) = 1.517364 and UB(6) = 1.712283 for the public good (N = 2, vbar = 3),
004's programs (9) and (10) (the README's table; Theorem 1 brackets 004's closed form
1.556724 of (15)-(17)); Myerson's two buyers with independent values earn 1.5 (003
Section 1.1, the model file's header); 004's LB(3) = 10/7 for the public good.
"""

from __future__ import annotations

import json
import pathlib

import pytest

import robustmech as rm
from robustmech.cli import main
from robustmech.directives import default_k, directives, run_directives
from robustmech.errors import ModelError

MODELS = pathlib.Path(__file__).resolve().parent.parent / "models"
PUBLIC_GOOD = str(MODELS / "public_good.mech")


def test_the_public_good_runs_its_own_bounds_directive():
    env = rm.load_model(PUBLIC_GOOD)
    (step,) = run_directives(env, solver="highs")
    assert step.verb == "bounds" and step.options == {"k": 6} and str(step.location).endswith("public_good.mech:28:1")
    assert step.result.lower.value == pytest.approx(1.517364, abs=5e-7)
    assert step.result.upper.value == pytest.approx(1.712283, abs=5e-7)
    assert step.result.lower.value <= 1.556724 <= step.result.upper.value


def test_run_prints_one_json_object_per_directive(capsys, tmp_path):
    model = tmp_path / "pg.mech"
    text = (MODELS / "public_good.mech").read_text()
    model.write_text(text.replace("bounds k = 6", "bounds k = 2..3\nsolve guarantee k = 3"))
    assert main(["run", str(model), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    steps = [json.loads(line) for line in lines]
    assert [(s["directive"], s["options"].get("k")) for s in steps] == [("bounds", 2), ("bounds", 3), ("solve", 3)]
    assert steps[2]["result"]["value"] == pytest.approx(10 / 7, abs=1e-7)
    assert steps[1]["result"]["lower"] == pytest.approx(10 / 7, abs=1e-7)


def test_evaluate_directive_runs_the_exact_potential(capsys):
    assert main(["run", str(MODELS / "myerson_two_by_two.mech"), "--json"]) == 0
    (step,) = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert step["directive"] == "evaluate" and step["options"] == {"information": "private_values"}
    assert step["result"]["potential"] == pytest.approx(1.5, abs=1e-9)


def test_commands_without_k_take_the_models_own(capsys):
    """`bounds models/public_good.mech` runs the file's k = 6, not the command's default 4."""
    assert default_k(rm.load_model(PUBLIC_GOOD), "bounds") == 6
    assert main(["bounds", PUBLIC_GOOD, "--json", "--solver", "highs"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["k"] == 6 and out["lower"] == pytest.approx(1.517364, abs=5e-7)


def test_a_model_without_directives_says_so(capsys, tmp_path):
    model = tmp_path / "pg.mech"
    model.write_text((MODELS / "public_good.mech").read_text().replace("bounds k = 6", ""))
    assert main(["run", str(model)]) == 0
    assert "has no directives" in capsys.readouterr().err


@pytest.mark.parametrize("directive, message", [
    ("solve nonsense k = 99", "unknown program 'nonsense'; choose one of guarantee"),
    ("solve guarantee k = 0", "k must be a positive whole number, got 0"),
    ("bounds k = 3, colour = 2", "`bounds` takes no option 'colour' (its options: k, family, correlation"),
])
def test_malformed_directives_name_their_line(tmp_path, directive, message):
    model = tmp_path / "pg.mech"
    model.write_text((MODELS / "public_good.mech").read_text().replace("bounds k = 6", directive))
    with pytest.raises(ModelError) as error:
        rm.load_model(model)
    assert error.value.location.line == 28 and message in str(error.value)


def test_directives_are_checked_without_running():
    steps = directives(rm.load_model(PUBLIC_GOOD))
    assert [(s.verb, s.options, s.result) for s in steps] == [("bounds", {"k": 6}, None)]


def test_program_names_with_hyphens_are_directives(tmp_path):
    """`solve auction-guarantee k = 2` names 001's (41) (the registry's names have hyphens);
    the common-value auction's (41) at k = 2 equals LB-G-2 of 004 (both families give the
    same max guarantee on X(k), tests/test_default_path.py)."""
    model = tmp_path / "cv.mech"
    text = (MODELS / "common_value_auction.mech").read_text()
    model.write_text(text + "\nsolve auction-guarantee k = 2\nsolve guarantee k = 2\n")
    env = rm.load_model(model)
    assert [d.options["program"] for d in directives(env) if d.verb == "solve"] == ["auction-guarantee", "guarantee"]
    auction, general = [step.result for step in run_directives(env, solver="highs") if step.verb == "solve"]
    assert auction.program == "auction-guarantee" and general.program == "guarantee"
    assert auction.value == pytest.approx(general.value, abs=1e-7)
