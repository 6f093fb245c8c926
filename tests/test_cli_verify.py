"""``robustmech verify`` and ``robustmech closed-form`` (issue 5)."""

from __future__ import annotations

import json

import pytest

from robustmech.cli import main
from robustmech.symbolic import checks

from conftest import MODELS


def test_verify_table_and_exit_code(capsys):
    """004 Lemma 2 and 002 Lemma 11 pass: exit 0, one table row each."""
    assert main(["verify", "summation-by-parts", "lemma-11"]) == 0
    out = capsys.readouterr().out
    assert "summation-by-parts" in out and "004 Lemma 2" in out and "2 of 2 checks passed" in out


def test_verify_fails_non_zero(monkeypatch, capsys):
    """A failing check (summation by parts with ∇+ᵀ in place of ∇̃+) makes verify exit 1."""
    original = checks.CHECKS["summation-by-parts"].run
    wrong = checks.Check("summation-by-parts", "004 Lemma 2",
                         lambda: original(adjoint=lambda g, i: -g.upward(i).T))
    monkeypatch.setitem(checks.CHECKS, "summation-by-parts", wrong)
    assert main(["verify", "summation-by-parts"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_verify_unknown_name_is_one_line_error(capsys):
    assert main(["verify", "no-such-check"]) == 2
    assert "unknown check" in capsys.readouterr().err


def test_closed_form_public_good_json(capsys):
    """004 Section 4.2: λ for N=2, vbar=3 lies in [LB(2), UB(2)]."""
    assert main(["closed-form", str(MODELS / "public_good.mech"), "--k", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["value"] == pytest.approx(1.5567, abs=5e-5) and out["in_bracket"]


def test_closed_form_binary_and_bilateral(capsys):
    """003 (37): 1 - G_N(y) with G_{N+1}(y) = 1 - p; 003 (45): L for g=1, h=1.5; both in the k=2 bracket."""
    assert main(["closed-form", str(MODELS / "common_value_binary.mech"), "--param", "N=2", "--param", "p=0.5",
                 "--k", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["in_bracket"] and out["lower"] <= out["value"] <= out["upper"]
    assert main(["closed-form", str(MODELS / "bilateral_trade_two_states.mech"), "--k", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["in_bracket"]


def test_closed_form_refuses_bad_public_good(capsys):
    """004 Section 4.3: vbar/N <= 1 has no closed form here: one-line error, exit 2."""
    assert main(["closed-form", str(MODELS / "public_good.mech"), "--param", "vbar=2"]) == 2
    assert "vbar/N > 1" in capsys.readouterr().err
