"""``robustmech.refine``: 000's refinements of maxmin from Python.

The API loads a prior-free model (a bundled ``.mech`` file, a built-in environment, a
built environment or its arrays), runs one criterion, checks the certificate and, on
request, re-verifies it exactly. Each test asserts numbers of 000 (Kambhampati) through
the API and names where they come from; the command line must print what the API returns.
"""

from __future__ import annotations

import json
import pathlib
from fractions import Fraction

import numpy as np
import pytest
import sympy

import robustmech as rm
from robustmech.certify import Certificate as BoundsCertificate
from robustmech.cli import main
from robustmech.errors import ModelError, ParameterError, UnsupportedError
from robustmech.lower.prior_free import lower_prior_free
from robustmech.model.prior_free import public_good, screening
from robustmech.programs.refinements import LPSCertificate
from robustmech.refine import refine_summary
from robustmech.solve import SolverOptions
from robustmech.solve import solve as solve_lp
from robustmech.symbolic import lexicographic as cf

MODELS = pathlib.Path(__file__).resolve().parent.parent / "models"
SCREENING = str(MODELS / "screening.mech")
AUCTION = str(MODELS / "auction_discrete_types.mech")
PUBLIC_GOOD = str(MODELS / "public_good_two_types.mech")


# -- screening (000 Section 3) ------------------------------------------------------------


def test_robust_screening_value_through_the_api():
    """Proposition 5 of 000 (θ = (1, 2), Example 1): a robust mechanism extracts the lowest
    type's full surplus at its efficient quality, so the maxmin value is θ_1²/2 = 1/2, and
    Nature's adversarial belief sits on the lowest type."""
    result = rm.refine(SCREENING, "robust")
    assert result.value == pytest.approx(0.5, abs=1e-9)
    assert result.outcome("P[1]")[0] == pytest.approx(1.0, abs=1e-7)
    assert isinstance(result.certificate, LPSCertificate) and result.certificate.kind == "adversarial"
    np.testing.assert_allclose(result.certificate.beliefs[0], [1, 0], atol=1e-9)
    assert result.checks["passed"] and result.checks["adversarial"] and result.passed


@pytest.mark.parametrize("criterion", ["perfect", "proper"])
def test_screening_two_types_efficient_and_maximal(criterion):
    """Propositions 6 and 7 of 000 with θ = (1, 2) (Example 2): the perfectly and properly
    robust mechanism is efficient and maximal: qualities (1, 2), prices (1, 3) from (3),
    payoffs (1/2, 1)."""
    result = rm.refine(SCREENING, criterion)
    closed = cf.screening_efficient_maximal([1, 2])
    np.testing.assert_allclose(result.outcome("P[1]"), [float(p) for p in closed["prices"]], atol=1e-6)
    np.testing.assert_allclose(result.outcome("Q[1]"), [1, 0], atol=1e-6)
    np.testing.assert_allclose(result.outcome("Q[2]"), [0, 1], atol=1e-6)
    np.testing.assert_allclose(result.payoffs, [0.5, 1.0], atol=1e-7)
    assert result.checks["passed"] and result.checks["full_support"]


@pytest.mark.parametrize("adjacent", [False, True])
def test_screening_three_types_exact(adjacent):
    """Proposition 7 of 000 with θ = (1, 2, 3): prices (1, 3, 6) from (3) and payoffs
    (1/2, 1, 3/2), exactly; the same in the relaxed space M' of its proof (participation and
    downward-adjacent IC only)."""
    result = rm.refine(SCREENING, "proper", params={"thetas": "[1, 2, 3]"}, adjacent=adjacent, exact=True)
    assert result.arrays.env.incentive == ("adjacent" if adjacent else "dominant")
    np.testing.assert_allclose(result.outcome("P[1]"), [1, 3, 6], atol=1e-6)
    assert result.exact["passed"]
    assert result.exact["payoffs"] == [Fraction(1, 2), Fraction(1), Fraction(3, 2)]
    assert result.checks["strongly_adversarial"]


# -- auction (000 Section 4) --------------------------------------------------------------


def test_auction_properly_robust_revenues_exact():
    """Proposition 10 of 000, I = 2, N = 3: the properly robust revenue over the nine
    profiles is {1, 1.5 x4, 2, 2.5 x2, 3}, each the closed form of Proposition 10, in exact
    arithmetic."""
    result = rm.refine(AUCTION, "proper", exact=True)
    revenues = ("1", "3/2", "3/2", "3/2", "3/2", "2", "5/2", "5/2", "3")
    assert sorted(result.exact["payoffs"]) == [Fraction(x) for x in revenues]
    for cell, profile in enumerate(result.arrays.cells):
        revenue = cf.proposition10_revenue(tuple(int(t) for t in profile), [1, 2, 3])
        assert result.exact["payoffs"][cell] == Fraction(str(revenue))
    assert result.passed


# -- public good (000 Section 5) ----------------------------------------------------------


@pytest.mark.parametrize("model, params, expected", [
    (PUBLIC_GOOD, {}, [0, 0, Fraction(3, 7), 1]),
    ("public_good", {"I": 4}, [0, 0, 0, Fraction(2, 5), 1]),
])
def test_public_good_figure1_exact(model, params, expected):
    """Proposition 13 and Figure 1 of 000 (θ_h = 1, θ_ℓ = 0, γ = 1/2): the properly robust
    provision probability by the number of high types is (0, 0, 3/7, 1) for I = 3 and
    (0, 0, 0, 2/5, 1) for I = 4; the positive payoffs equal 1/q_I (3/14 for I = 3)."""
    result = rm.refine(model, "proper", params=params, exact=True)
    highs = [int(sum(c)) for c in result.arrays.cells]
    assert [result.exact["z"][c][result.arrays.slots.index("Q")] for c in range(len(highs))] == \
        [Fraction(expected[k]) for k in highs]
    closed = cf.public_good_properly_robust(len(expected) - 1)
    assert set(result.exact["payoffs"]) == {Fraction(0), Fraction(str(closed["value"]))}
    assert result.passed


def test_public_good_large_economy_is_anonymous():
    """Propositions 13 and 14 of 000 at I = 20 (2^20 profiles): beyond the automatic
    threshold the API solves the anonymous program (A.14.1), gives Q_K = q_K/q_I and the
    payoff 1/q_I = 2/36951 exactly."""
    result = rm.refine("public_good", "proper", params={"I": 20}, exact=True)
    assert result.arrays.anonymous and result.arrays.n_profiles == 2 ** 20
    assert any("anonymous" in note for note in result.notes)
    closed = cf.public_good_properly_robust(20)
    highs = [int(sum(c)) for c in result.arrays.cells]
    np.testing.assert_allclose(result.outcome("Q"), [float(closed["Q"][k]) for k in highs], rtol=1e-6, atol=1e-12)
    assert result.exact["passed"] and max(result.exact["payoffs"]) == Fraction(2, 36951)


def test_public_good_robust_value_zero():
    """Proposition 11 of 000: a robust public-good mechanism has a non-negative payoff
    everywhere; the maxmin value is 0."""
    result = rm.refine(public_good(3), "robust")
    assert result.value == pytest.approx(0.0, abs=1e-9) and result.passed


# -- beliefs ----------------------------------------------------------------------------------


def test_bayes_with_a_point_belief_extracts_the_surplus():
    """A Bayes optimum (µ-optimal for a one-belief LPS, Proposition 1 of 000) against δ_θ1,
    θ = (1, 2): the best payoff from the lowest type is its full surplus at its efficient
    quality, θ_1·θ_1 - θ_1²/2 = 1/2 (conditions 1-2 of Proposition 5)."""
    result = rm.refine(screening((1, 2)), "bayes", beliefs=[[1, 0]])
    assert result.certificate.kind == "bayes"
    assert float(result.certificate.beliefs[0] @ result.payoffs) == pytest.approx(0.5, abs=1e-7)


def test_anonymous_beliefs_per_profile_or_per_count():
    """A.14.1 of 000: on the anonymous program an exchangeable belief over profiles is the
    same as its mass per type count; the uniform prior over the 8 profiles of the public good
    (I = 3) is (1, 3, 3, 1)/8 by the number of high types."""
    per_profile = rm.refine("public_good", "bayes", beliefs=[[1] * 8], anonymous=True)
    per_count = rm.refine("public_good", "bayes", beliefs=[[1, 3, 3, 1]], anonymous=True)
    np.testing.assert_allclose(per_profile.certificate.beliefs[0], [1 / 8, 3 / 8, 3 / 8, 1 / 8])
    np.testing.assert_allclose(per_profile.payoffs, per_count.payoffs, atol=1e-9)
    with pytest.raises(ParameterError, match="not exchangeable"):
        rm.refine("public_good", "bayes", beliefs=[[1, 2, 1, 1, 1, 1, 1, 1]], anonymous=True)


# -- the command line prints what the API returns ------------------------------------------


@pytest.mark.parametrize("path, args, kwargs", [
    (SCREENING, ["--criterion", "perfect"], {"criterion": "perfect"}),
    (SCREENING, ["-p", "thetas=[1, 2, 3]", "--exact"], {"params": {"thetas": "[1, 2, 3]"}, "exact": True}),
    (AUCTION, ["--criterion", "proper", "--method", "ordered"], {"method": "ordered"}),
    (PUBLIC_GOOD, ["--criterion", "robust"], {"criterion": "robust"}),
    (PUBLIC_GOOD, ["--criterion", "lps", "-b", "1,0,0,0,0,0,0,0", "-b", "1,1,1,1,1,1,1,1"],
     {"criterion": "lps", "beliefs": [[1, 0, 0, 0, 0, 0, 0, 0], [1] * 8]}),
])
def test_cli_prints_the_api_result(capsys, path, args, kwargs):
    """``robustmech refine --json`` is the API's summary: the same mechanism, payoffs,
    certificate and checks (000's bundled models)."""
    assert main(["refine", path, "--json", *args]) == 0
    printed = json.loads(capsys.readouterr().out)
    result = rm.refine(path, kwargs.pop("criterion", "proper"), **kwargs)
    assert printed == json.loads(json.dumps(refine_summary(result), default=str))
    assert printed["certificate"]["checks"]["passed"]


# -- bad input: the project's errors, one line --------------------------------------------


def test_bad_input_raises_the_projects_errors():
    """Bad input is a RobustMechError with one line, never a traceback from numpy."""
    with pytest.raises(UnsupportedError, match="unknown criterion 'leximin'"):
        rm.refine(SCREENING, "leximin")
    with pytest.raises(UnsupportedError, match="unknown leximin method"):
        rm.refine(SCREENING, method="simplex")
    with pytest.raises(ParameterError, match="belief 1 lists 3 weights for 2 type profiles"):
        rm.refine(SCREENING, "bayes", beliefs=[[1, 1, 1]])
    with pytest.raises(ParameterError, match="the lps criterion needs beliefs"):
        rm.refine(SCREENING, "lps")
    with pytest.raises(ParameterError, match="must be an integer"):
        rm.refine("auction", params={"I": 2.5})
    with pytest.raises(ParameterError, match="not to a built environment"):
        rm.refine(screening((1, 2)), params={"N": 2})
    with pytest.raises(ModelError, match="no model file"):
        rm.refine("no_such_model.mech")
    with pytest.raises(UnsupportedError, match="this is a Bayesian model"):
        rm.refine(str(MODELS / "public_good.mech"))
    with pytest.raises(UnsupportedError, match="needs a prior-free model"):
        rm.refine(42)


def test_arrays_are_refined_as_given():
    """Lowered arrays go through unchanged (Proposition 5 of 000: value θ_1²/2 = 1/2); the
    LPS certificate is not the bounding programs' certificate chain."""
    arrays = lower_prior_free(screening((1, 2, 3)))
    result = rm.refine(arrays, "robust")
    assert result.arrays is arrays and result.value == pytest.approx(float(sympy.Rational(1, 2)), abs=1e-9)
    assert not isinstance(result.certificate, BoundsCertificate) and rm.Certificate is BoundsCertificate


def test_a_certificate_that_fails_its_checks_exits_3(capsys, monkeypatch):
    """Definition 1 of 000: a belief on the high type (θ = (1, 2)) is not adversarial for the
    properly robust mechanism, whose payoffs are (1/2, 1) (Proposition 7), nor is that
    mechanism optimal against it (charging the high type alone earns more); the command
    line prints the result, then one error line naming the failed checks, exit 3."""
    import robustmech.cli.refine as cli_refine
    from robustmech.programs.refinements import check_certificate

    result = rm.refine(SCREENING, "proper")
    np.testing.assert_allclose(result.payoffs, [0.5, 1.0], atol=1e-7)
    result.certificate = LPSCertificate("adversarial", [np.array([0.0, 1.0])], "a wrong belief")
    result.checks = check_certificate(result.arrays, result.certificate, result.z,
                                      lambda lp: solve_lp(lp, SolverOptions()))
    assert not result.checks["adversarial"] and not result.passed
    monkeypatch.setattr(cli_refine, "refine", lambda *args, **kwargs: result)
    assert main(["refine", SCREENING, "--json"]) == 3
    out, err = capsys.readouterr()
    assert json.loads(out)["certificate"]["checks"]["adversarial"] is False
    assert err == "robustmech: error: the proper certificate of screening fails: mu_optimal, adversarial\n"
