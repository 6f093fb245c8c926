"""Data files of a model (``mechanism M from "file"``, ``information I from "file"``)
are read by the loader passed to ``elaborate``; the elaborator finds the file relative
to the model, checks the arrays against the model and names file:line:col.

The loaders here are stand-ins returning arrays written in the test, so that each check
is the elaborator's (the real loader, :class:`robustmech.results.io.ResultFiles`, is
what :func:`robustmech.load_model` passes; ``tests/test_dsl.py`` runs it on an ``.npz``).
"""

from __future__ import annotations

import ast as pyast
import pathlib

import numpy as np
import pytest

from robustmech.dsl import parse
from robustmech.errors import DataError, ModelError
from robustmech.model.elaborate import elaborate

MODEL_DIR = pathlib.Path(__file__).resolve().parent.parent / "src" / "robustmech" / "model"

# two agents, two states, a finite outcome set {none, yes}; line 8 reads the data file
HEAD = ("model t\nagents i in 1..2\nstate v in {0, 1}\nprior uniform\noutcome none, yes\n"
        "utility[i] = v * [outcome == yes]\ndesigner = 0\n")


class ArraysLoader:
    """A DataLoader that returns fixed arrays and records the paths it was asked for."""

    def __init__(self, mechanism=None, information=None, error: DataError | None = None):
        self.mechanism, self.information, self.error = mechanism, information, error
        self.paths: list[str] = []

    def mechanism_arrays(self, path):
        self.paths.append(path)
        if self.error is not None:
            raise self.error
        return self.mechanism

    def information_arrays(self, path):
        self.paths.append(path)
        if self.error is not None:
            raise self.error
        return self.information


def model_file(tmp_path, line8: str) -> str:
    (tmp_path / "data.npz").write_bytes(b"")  # the stand-in loaders never read it
    path = tmp_path / "t.mech"
    path.write_text(HEAD + line8 + "\n")
    return str(path)


def elaborate_file(path: str, loader=None):
    return elaborate(parse(pathlib.Path(path).read_text(), path), loader=loader)


def lottery_rule() -> np.ndarray:
    """yes when both agents act 1, none otherwise (each row a lottery over {none, yes})."""
    rule = np.zeros((2, 2, 2))
    rule[..., 0] = 1
    rule[1, 1] = [0, 1]
    return rule


def test_the_loader_reads_the_file_found_beside_the_model(tmp_path):
    path = model_file(tmp_path, 'mechanism both from "data.npz"')
    loader = ArraysLoader(mechanism={"rule": lottery_rule(), "actions_0": np.array([0, 1])})
    env = elaborate_file(path, loader)
    assert loader.paths == [str(tmp_path / "data.npz")]
    np.testing.assert_array_equal(env.mechanisms["both"].rule, lottery_rule())
    assert env.mechanisms["both"].outcome_names == ("none", "yes")


def test_without_a_loader_a_data_file_is_refused_at_its_statement(tmp_path):
    path = model_file(tmp_path, 'mechanism both from "data.npz"')
    with pytest.raises(ModelError) as err:
        elaborate_file(path)
    assert str(err.value).startswith(f"{path}:8:1: ")
    assert "robustmech.load_model" in str(err.value) and "\n" not in str(err.value)


def test_a_missing_file_is_reported_before_the_loader_is_asked(tmp_path):
    path = model_file(tmp_path, 'information seen from "nowhere.npz"')
    loader = ArraysLoader()
    with pytest.raises(ModelError, match=r":8:1: file not found: 'nowhere.npz'"):
        elaborate_file(path, loader)
    assert loader.paths == []


def test_a_loader_error_gets_the_statement_location(tmp_path):
    path = model_file(tmp_path, 'mechanism both from "data.npz"')
    loader = ArraysLoader(error=DataError("data.npz: not a .npz archive (truncated, or not a zip file)"))
    with pytest.raises(DataError) as err:
        elaborate_file(path, loader)
    assert str(err.value) == f"{path}:8:1: data.npz: not a .npz archive (truncated, or not a zip file)"


def test_a_loader_error_with_a_location_keeps_it(tmp_path):
    path = model_file(tmp_path, 'mechanism both from "data.npz"')
    from robustmech.errors import Location

    loader = ArraysLoader(error=DataError("bad", Location("r.json", 3, 1)))
    with pytest.raises(DataError) as err:
        elaborate_file(path, loader)
    assert str(err.value) == "r.json:3:1: bad"


@pytest.mark.parametrize("arrays, words", [
    ({"rule": np.ones((2, 2, 3)) / 3}, "the rule in 'data.npz' gives 3 outcome coordinates; the model has 2"),
    ({"rule": np.ones((2, 2))}, "the rule in 'data.npz' has 1 action dimensions for 2 agents"),
    ({"rule": np.ones((2, 2, 2))}, "the rule in 'data.npz' is not a lottery over outcomes at every action profile"),
    ({}, "'data.npz' has no array 'rule' (the outcome at each action profile)"),
])
def test_the_rule_is_checked_against_the_model(tmp_path, arrays, words):
    path = model_file(tmp_path, 'mechanism both from "data.npz"')
    with pytest.raises(ModelError) as err:
        elaborate_file(path, ArraysLoader(mechanism=arrays))
    assert str(err.value) == f"{path}:8:1: {words}"


def test_the_joint_distribution_must_have_the_prior_as_marginal(tmp_path):
    """The prior is uniform on the two states; a joint putting 3/4 on v = 0 is refused."""
    path = model_file(tmp_path, 'information seen from "data.npz"')
    joint = np.zeros((1, 1, 2))
    joint[0, 0] = [0.75, 0.25]
    with pytest.raises(ModelError) as err:
        elaborate_file(path, ArraysLoader(information={"joint": joint}))
    assert str(err.value) == (f"{path}:8:1: information seen: its marginal on the states is not the prior "
                              "(state 0 has probability 0.75, the prior 0.5)")


def test_an_information_structure_from_the_loader(tmp_path):
    """Each agent sees the state: σ(s, s, θ) = μ(θ) = 1/2 when s = θ."""
    path = model_file(tmp_path, 'information seen from "data.npz"')
    joint = np.zeros((2, 2, 2))
    joint[0, 0, 0] = joint[1, 1, 1] = 0.5
    env = elaborate_file(path, ArraysLoader(information={"joint": joint, "signals_0": np.array([0, 1])}))
    np.testing.assert_array_equal(env.information_structures["seen"].joint, joint)


def test_the_model_package_knows_no_file_format():
    """model/ reads data files only through the loader: no json, zipfile or np.load."""
    for source in sorted(MODEL_DIR.glob("*.py")):
        tree = pyast.parse(source.read_text(), str(source))
        for node in pyast.walk(tree):
            if isinstance(node, pyast.Import):
                assert not {a.name for a in node.names} & {"json", "zipfile"}, source.name
            elif isinstance(node, pyast.ImportFrom):
                assert node.module not in ("json", "zipfile"), source.name
            elif isinstance(node, pyast.Attribute):
                assert node.attr not in ("load", "loadtxt", "savez"), f"{source.name}: {pyast.unparse(node)}"
