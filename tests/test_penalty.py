"""``prior penalty c``: no prior, Nature pays c(θ) for the value distribution it
chooses (001 Appendix B.1.6, "a penalty-based model of ambiguous value distribution").

The model file's penalty is compiled as the hull of the point masses at a price
(programs/priors.py); the Python option ``penalty=`` of 001's auction programs is a
separate formulation (a single Π with Π <= virtual profit + c(θ), and c in Nature's
cost of each state), and 004's general programs are a third. They must agree, and
the limiting cases follow by hand.
"""

from __future__ import annotations

import pathlib

import pytest

import robustmech as rm
from robustmech.dsl import parse
from robustmech.model.elaborate import elaborate

ROOT = pathlib.Path(__file__).resolve().parent.parent

TEMPLATE = """
model penalised "a common value with a penalty on its distribution"
agents i in 1..2
state v in grid(0, 1, 4)
prior {prior}
allocate q[i] >= 0 with sum(q) <= 1
transfer t[i]
utility[i] = v * q[i] - t[i]
designer = sum(t)
"""
VALUES = (0, 1 / 3, 2 / 3, 1)


def _model(prior: str):
    return elaborate(parse(TEMPLATE.format(prior=prior), "penalised.mech"), {})


@pytest.mark.parametrize("k", [2, 3])
def test_three_formulations_of_the_penalty_agree(k):
    """001 B.1.6's (41) and (3) with c(v) = 2 (v - 1/2)^2: the model file (hull of the
    point masses, priced), the auction programs' own `penalty=` option (on a model with
    any prior, which the penalty replaces), and 004's general LB-G-k and UB-P-k."""
    env = _model("penalty 2 * (v - 1/2)^2")
    assert env.states.prior_set is not None and env.states.prior_set.kind == "penalty"
    from_file = rm.bounds(env, k)
    option = rm.bounds(_model("uniform"), k, options={"penalty": [2 * (v - 0.5) ** 2 for v in VALUES]})
    general = rm.bounds(env, k, family="general")
    for b in (option, general):
        assert from_file.lower.value == pytest.approx(b.lower.value, abs=1e-8)
        assert from_file.upper.value == pytest.approx(b.upper.value, abs=1e-8)
    assert from_file.lower.value <= from_file.upper.value + 1e-9


@pytest.mark.parametrize("k", [2, 3])
def test_no_penalty_lets_nature_choose_a_worthless_good(k):
    """With c = 0 Nature may put all mass on v = 0, where no bidder pays anything under
    participation security and no information structure lets the seller earn: both
    bounds are 0 (by hand)."""
    b = rm.bounds(_model("penalty 0"), k)
    assert b.lower.value == pytest.approx(0.0, abs=1e-9)
    assert b.upper.value == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("k", [2, 3])
def test_a_prohibitive_penalty_is_a_known_prior(k):
    """A penalty of 0 at v = 1 and 100 elsewhere: Nature keeps v = 1 (any weight
    elsewhere costs more than the whole good), so the programs equal those of the
    degenerate prior at v = 1."""
    pen = rm.bounds(_model("penalty 100 * [v != 1]"), k)
    point = rm.bounds(_model("{ 1: 1 }"), k)
    assert pen.lower.value == pytest.approx(point.lower.value, abs=1e-7)
    assert pen.upper.value == pytest.approx(point.upper.value, abs=1e-7)


def test_a_constant_added_to_the_penalty_shifts_both_bounds():
    """E_μ[c + a] = E_μ[c] + a for every μ: both bounds move by exactly a."""
    k = 3
    base = rm.bounds(_model("penalty 2 * (v - 1/2)^2"), k)
    shifted = rm.bounds(_model("penalty 2 * (v - 1/2)^2 + 1/4"), k)
    assert shifted.lower.value == pytest.approx(base.lower.value + 0.25, abs=1e-8)
    assert shifted.upper.value == pytest.approx(base.upper.value + 0.25, abs=1e-8)


def test_the_certificate_chain_holds_with_a_penalty():
    """G(M_LB) >= LB(k) by the exact BCE program and P(I_UB) <= UB(k) by the direct
    program, each with Nature's penalty in its value (003 (2)-(4) with 001 B.1.6)."""
    cert = rm.certify(_model("penalty 2 * (v - 1/2)^2"), 3)
    assert cert.holds, str(cert)
    assert cert.mechanism_guarantee >= cert.lower - 1e-7
    assert cert.information_potential <= cert.upper + 1e-7


def test_the_bundled_penalty_model_runs_its_directive():
    """models/penalty_auction.mech (001 B.1.6, ten values, κ = 2): `robustmech run` runs
    its `bounds k = 5`, and the auction option on the uniform-prior model of 001 B.1.1
    (models/common_value_auction.mech) with the same penalty gives the same bracket."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "robustmech", "run", str(ROOT / "models" / "penalty_auction.mech"),
                          "--json"], capture_output=True, text=True, check=True).stdout
    (row,) = [json.loads(line)["result"] for line in out.splitlines() if line.strip()]
    assert row["k"] == 5
    uniform = rm.load_model(ROOT / "models" / "common_value_auction.mech")
    penalty = [2 * (j / 9 - 0.5) ** 2 for j in range(10)]
    option = rm.bounds(uniform, 5, options={"penalty": penalty})
    assert row["lower"] == pytest.approx(option.lower.value, abs=1e-8)
    assert row["upper"] == pytest.approx(option.upper.value, abs=1e-8)


def test_a_penalty_and_the_option_together_are_refused():
    env = _model("penalty v")
    with pytest.raises(rm.ModelError, match=r"a penalty replaces the prior, but the model declares a penalty"):
        rm.solve(env, "auction-guarantee", 2, penalty=[0.0] * 4)
