"""``robustmech verify`` and ``robustmech closed-form``."""

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


# ---------------------------------------------------------------------- the closed form by content


def _lambda_004(N: int, vbar: float) -> float:
    """004 (15)-(17), solved here with mpmath at 30 digits: λ = (vbar - 1) - (N - 1)/y at the boundary y
    where Ê(y; λ) = λ/(vbar - 1) ∫_0^y e^{z-y} (z/y)^{-(N-1)/(vbar-1)} dz reaches 1 (with z = y u, the
    integral is y ∫_0^1 e^{y(u-1)} u^{-a} du)."""
    import mpmath

    with mpmath.workdps(30):
        a = mpmath.mpf(N - 1) / (vbar - 1)

        def gap(y):
            lam = (vbar - 1) - (N - 1) / y
            return lam / (vbar - 1) * y * mpmath.quad(lambda u: mpmath.exp(y * (u - 1)) * u**-a, [0, 1]) - 1

        y = mpmath.findroot(gap, 2.0)
        return float((vbar - 1) - (N - 1) / y)


def _edited_public_good(tmp_path, name: str, old: str = "", new: str = ""):
    text = (MODELS / "public_good.mech").read_text()
    assert old in text
    text = text.replace("model public_good ", f"model {name} ").replace(old, new)
    path = tmp_path / f"{name}.mech"
    path.write_text(text)
    return path


def test_independent_lambda_is_the_issue_figure():
    """004's λ for N = 2, vbar = 3 is 1.556723777 (the figure the closed-form issue quotes)."""
    assert _lambda_004(2, 3.0) == pytest.approx(1.556723777, abs=5e-10)


def test_renamed_public_good_gets_004s_lambda(tmp_path, capsys):
    """A copy of models/public_good.mech named `expenditure` is still 004's public good: λ = 1.556723777
    (004 (15)-(17), N = 2, vbar = 3), and λ lies in the k = 2 bracket (Theorem 1 of 004)."""
    path = _edited_public_good(tmp_path, "expenditure")
    assert main(["closed-form", str(path), "--k", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "expenditure" and out["family"] == "public_good"
    assert out["params"] == {"N": 2, "vbar": 3.0}
    assert out["value"] == pytest.approx(_lambda_004(2, 3.0), abs=1e-9)
    assert out["lower"] <= 1.556723777 <= out["upper"]


def test_renamed_public_good_with_three_agents(tmp_path, capsys):
    """N = 3, vbar = 4 inferred from the agents and the states: λ of 004 (15)-(17)."""
    path = _edited_public_good(tmp_path, "three")
    assert main(["closed-form", str(path), "--param", "N=3", "--param", "vbar=4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"] == {"N": 3, "vbar": 4.0}
    assert out["value"] == pytest.approx(_lambda_004(3, 4.0), abs=1e-9)


def test_public_good_with_relabelled_outcomes(tmp_path, capsys):
    """Outcomes declared in another order (paid_by first) are a relabelling: still 004's λ."""
    path = _edited_public_good(tmp_path, "reordered", "outcome none\noutcome paid_by[j in 1..N]",
                               "outcome paid_by[j in 1..N]\noutcome none")
    assert main(["closed-form", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["value"] == pytest.approx(_lambda_004(2, 3.0), abs=1e-9)


def test_public_good_with_an_edited_designer_is_refused(tmp_path, capsys):
    """Still named public_good, but the designer also values `none`: exit 2 with the difference."""
    path = _edited_public_good(tmp_path, "public_good", "designer   = (sum(theta) - 1) * E",
                               "designer   = (sum(theta) - 1) * E + [outcome == none]")
    assert main(["closed-form", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "no closed form applies: public good (004 §4.2): the designer's objective differs at outcome none in " \
           "state (3, 0); " in err
    assert "bilateral trade, two states (003 §3.6): " in err and "common value, binary (003 §3.5): " in err


def test_public_good_with_an_edited_utility_is_refused(tmp_path, capsys):
    """Still named public_good, but the payer pays 2: exit 2 with the difference."""
    path = _edited_public_good(tmp_path, "public_good", "utility[i] = theta[i] * E - [outcome == paid_by[i]]",
                               "utility[i] = theta[i] * E - 2 * [outcome == paid_by[i]]")
    assert main(["closed-form", str(path)]) == 2
    assert "public good (004 §4.2): agent 1's utility differs at outcome paid_by[1] in state (3, 0)" in \
        capsys.readouterr().err


def test_public_good_with_an_edited_prior_is_refused(tmp_path, capsys):
    """A non-uniform prior is not 004 Section 4.1's."""
    path = _edited_public_good(tmp_path, "public_good", "prior uniform", "prior [1/3, 2/3]")
    assert main(["closed-form", str(path)]) == 2
    assert "public good (004 §4.2): the prior differs at state (3, 0): 1/3 instead of 1/2" in capsys.readouterr().err


def test_bundled_binary_and_bilateral_are_found_by_content(capsys):
    """003 (34), (37): 1 - G_2(y) with G_3(y) = 1/2 (scipy's regularised gamma); 003 (43), (45) with g = 1,
    h = 1.5: L = g - (h-g)/y = g e^y y^{-1/2}/∫_0^y e^z z^{-1/2} dz, the same fixed point as 004's
    public good with N = 2, vbar = 3 (a = 1/2), so L = λ/2."""
    from scipy import special

    assert main(["closed-form", str(MODELS / "common_value_binary.mech"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    y = special.gammaincinv(3, 0.5)
    assert out["family"] == "common_value_binary" and out["params"] == {"N": 2, "p": 0.5}
    assert out["value"] == pytest.approx(1 - special.gammainc(2, y), abs=1e-12)
    assert main(["closed-form", str(MODELS / "bilateral_trade_two_states.mech"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["family"] == "bilateral_trade_two_states" and out["params"] == {"g": 1.0, "h": 1.5}
    assert out["value"] == pytest.approx(_lambda_004(2, 3.0) / 2, abs=1e-9)


def test_common_value_on_a_finite_grid_has_no_closed_form(capsys):
    """models/common_value_auction.mech (a uniform prior on ten points, not `prior continuous`): refused,
    one reason per family."""
    assert main(["closed-form", str(MODELS / "common_value_auction.mech")]) == 2
    err = capsys.readouterr().err
    assert "common value, continuous prior (002 (3)): its prior is not a continuous distribution" in err
    assert err.count(": ") >= 5 and len(err.strip().splitlines()) == 1
