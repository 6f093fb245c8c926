"""The baseline signal (docs/language.md, "baseline"): information every information
structure refines (Bergemann and Morris's BCE with a basic information structure; 003
Section 5.1), in the BCE programs (``bce-worst``, ``bce-best``) and in UB-P-k ((10) of
004, over signals (s_i, x_i) with ∇̃+ acting on x_i within each s_i).

Each test asserts a number with an independent source: a value of 004 or of the docs
without a baseline, or one derived by hand in the docstring.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import robustmech as rm
from robustmech.certify import certify, guarantee, potential, without_unused_signals
from robustmech.errors import ModelError
from robustmech.model.generators import first_price_auction
from robustmech.model.objects import InformationStructure

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"

# a common value v ∈ {0, 1}, each with probability 1/2, two bidders (003 Section 3.5's
# binary common value at p = 1/2, quasilinear)
COMMON_VALUE = """
model common_value "Common value in {0, 1}"
agents i in 1..2
state v in {0, 1}
prior [0.5, 0.5]
allocate q[i] >= 0 with sum(q) <= 1
transfer t[i]
utility[i] = v * q[i] - t[i]
designer   = sum(t)
"""


def with_lines(tmp_path, text: str, *lines: str, name: str = "m.mech"):
    """The model ``text`` with ``lines`` appended, loaded from a file in ``tmp_path``."""
    path = tmp_path / name
    path.write_text(text.rstrip("\n") + "\n" + "".join(line + "\n" for line in lines))
    return rm.load_model(path)


def public_good(tmp_path, *lines: str):
    return with_lines(tmp_path, (MODELS / "public_good.mech").read_text(), *lines)


# --------------------------------------------------------------------------- the language


def test_baseline_knows_gives_a_deterministic_signal(tmp_path):
    """`baseline knows theta[i]` in the public good (states (3, 0) and (0, 3)): agent i's
    signal is its own value, so σ puts the prior 1/2 on (s_1, s_2) = θ."""
    env = public_good(tmp_path, "baseline knows theta[i]")
    b = env.baseline
    assert [list(s) for s in b.signals] == [[0.0, 3.0], [0.0, 3.0]]
    assert b.joint[1, 0, 0] == 0.5 and b.joint[0, 1, 1] == 0.5 and b.joint.sum() == 1.0
    assert env.location("baseline").line == 29  # the line after the file's 28


def test_baseline_names_a_declared_structure(tmp_path):
    """`baseline NAME` takes the declared structure itself."""
    env = with_lines(tmp_path, COMMON_VALUE, "information revealing { signals[i] = {0, 1}",
                     "  joint { (0, 0, 0): 0.5, (1, 1, 1): 0.5 } }", "baseline revealing")
    assert env.baseline is env.information_structures["revealing"]


def test_the_builder_refuses_a_baseline_whose_marginal_is_not_the_prior():
    """The Python API checks what `information` statements check: the state marginal is the prior."""
    b = rm.ModelBuilder("m")
    b.agents(1)
    b.states("v", [0, 1])
    b.prior([0.5, 0.5])
    tilted = InformationStructure((np.array([0.0]),), ("0", "1"), np.array([[0.25, 0.75]]))
    with pytest.raises(ModelError, match="the baseline signal's marginal on the states is not the prior"):
        b.baseline(tilted)


# --------------------------------------------------------------------------- an uninformative baseline


def test_an_uninformative_baseline_leaves_ub_p_k_unchanged(tmp_path):
    """One baseline signal per agent restricts nothing: UB(3) of the public good (N = 2,
    vbar = 3) is 004's 1.772779 (README, and docs/language.md's `bounds` example)."""
    env = public_good(tmp_path, "baseline knows 0")
    assert [len(s) for s in env.baseline.signals] == [1, 1]
    assert abs(rm.solve(env, "potential", k=3).value - 1.772779) < 5e-7


def test_an_uninformative_baseline_leaves_the_bce_unchanged(tmp_path):
    """The first-price auction with 21 bids on models/common_value_mixtures.mech (value
    uniform on {0, 1/3, 2/3, 1}) guarantees 0.116870 (docs/language.md, the mixtures
    table, weight 1 on first price; 003 Section 5.3); with a one-signal baseline the worst
    and best BCE are those without it, to 1e-9."""
    text = (MODELS / "common_value_mixtures.mech").read_text().replace("restrict mixture of first_price, "
                                                                       "second_price", "")
    plain = with_lines(tmp_path, text, name="plain.mech")
    env = with_lines(tmp_path, text, "baseline knows 0", name="baseline.mech")
    with_baseline = guarantee(env, first_price_auction(env, bids=21), deviations="all")
    without = guarantee(plain, first_price_auction(plain, bids=21), deviations="all")
    assert abs(with_baseline.value - 0.116870) < 5e-7
    assert abs(with_baseline.value - without.value) < 1e-9
    assert abs(with_baseline.best_value - without.best_value) < 1e-9
    assert with_baseline.worst.signal_joint is not None and without.worst.signal_joint is None


# --------------------------------------------------------------------------- complete information


def test_complete_information_public_good(tmp_path):
    """A baseline revealing θ to both agents in the public good (N = 2, vbar = 3):
    `baseline knows theta` (each agent's signal is the whole state).

    Welfare is at most vbar - 1 = 2 pointwise, and with complete information the
    mechanism "provide the good, paid by the agent who reports the high value when the
    reports agree; nothing when they disagree" is IC and IR and attains it, whatever else
    the agents observe (it ignores x). So every structure refining the baseline has
    potential exactly 2: the UB structure's potential P(I_UB) is 2 and UB(k) >= 2.

    UB(k) is not 2 at finite k (the brief's expectation): the relaxation keeps IR at
    x_i = 0 with the multiplier k of ∇-. At k = 1 (X_i = {0, 1}, ∇̃+f(0) = f(1) - f(0),
    ∇̃+f(1) = -f(1)) it is 8/3 exactly:

    * <= 8/3: in the block s = θ = (3, 0) put σ(0, 0) = 1/6 and σ(1, 0) = 1/3 (x_2 = 0).
      At x = (0, 0) the informational virtual objective (8) is 0 (none), 4σ(0,0) -
      2σ(1,0) = 0 (paid_by[1]: w = 2, u_1 = 2, u_2 = 0), 4σ(0,0) - 3σ(1,0) < 0
      (paid_by[2]: u_1 = 3, u_2 = -1); at (1, 0) it is 4σ(1,0) = 4/3 for either payer;
      elsewhere 0. The block gives 4/3, the mirror block (0, 3) another 4/3.
    * >= 8/3: by weak duality (Lemma 2 per block) any m(·|s, x) gives Σ_{θ,s} π(s,θ)
      min_x [w(m) + Σ_i u_i(∇-_i m)] <= UB(1). In block (3, 0) take m = p(x_1) paid_by[1]
      + (1 - p) none with p(0) = 2/3, p(1) = 1: at x_1 = 0, 2p(0) + 2·p(0) = 8/3; at
      x_1 = 1, 2 + 2(1 - 2/3) = 8/3 (u_2 = 0 on both outcomes); the mirror likewise.
    """
    env = public_good(tmp_path, "baseline knows theta")
    assert [list(s) for s in env.baseline.signals] == [["(0, 3)", "(3, 0)"]] * 2
    assert abs(rm.solve(env, "potential", k=1).value - 8 / 3) < 1e-9
    for k in (2, 3):
        ub = rm.solve(env, "potential", k=k)
        assert ub.value >= 2 - 1e-9
        assert abs(potential(env, ub.information).value - 2) < 1e-9
        pruned = without_unused_signals(ub.information)  # what certify evaluates: the same potential
        assert abs(potential(env, pruned).value - 2) < 1e-9


def test_first_price_auction_with_complete_information(tmp_path):
    """First price, bids {0, 1/3, 2/3, 1} (ties split), common value v ∈ {0, 1} w.p. 1/2,
    both bidders told v (`baseline knows v`). Given the baseline signal v, a BCE is a
    correlated equilibrium of the complete-information game at v.

    * v = 0: a bidder recommended b > 0 pays b whenever it wins; bidding 0 gives 0, so
      obedience needs it never to win. Then the highest bid is 0: revenue 0.
    * v = 1, worst: a bidder recommended 0 wins only at a tie (0, 0), worth 1/2; bidding
      1/3 there wins outright, worth 2/3, so (0, 0) has probability 0 and the highest bid
      is >= 1/3: revenue >= 1/3. Both bidding 1/3 is an equilibrium (1/3 each; 2/3 gives
      1/3, 1 gives 0, 0 loses): revenue 1/3.
    * v = 1, best: revenue <= the value 1 (each bidder can bid 0 and get >= 0), and both
      bidding 1 is an equilibrium (0 each, a lower bid loses): revenue 1.

    Worst BCE revenue 1/2 · 0 + 1/2 · 1/3 = 1/6; best 1/2 · 0 + 1/2 · 1 = 1/2."""
    env = with_lines(tmp_path, COMMON_VALUE, "baseline knows v")
    mech = first_price_auction(env, bids=4)
    for symmetry in (True, False):
        g = guarantee(env, mech, symmetry=symmetry)
        assert abs(g.value - 1 / 6) < 1e-9
        assert abs(g.best_value - 1 / 2) < 1e-9
    joint = g.worst.signal_joint  # (s_1, s_2, a_1, a_2, θ)
    assert joint.shape == (2, 2, 4, 4, 2)
    off = joint.sum(axis=(2, 3))  # the baseline's π(s, θ): s_1 = s_2 = v
    assert np.allclose(off, [[[0.5, 0], [0, 0]], [[0, 0], [0, 0.5]]])
    assert np.allclose(g.worst.joint, joint.sum(axis=(0, 1)))


# --------------------------------------------------------------------------- the certificate chain


@pytest.mark.parametrize("line", ["baseline knows theta", "baseline knows [i == 1] * theta[1]"])
def test_the_certificate_chain_holds_with_a_baseline(tmp_path, line):
    """LB(k) <= G(M_LB) <= P(I_UB) <= UB(k) (Theorem 1 of 004) with a baseline: the UB
    structure has signals (s_i, x_i) and refines the baseline, its potential comes from
    the direct program, and M_LB's guarantee from the BCE with the baseline. With
    complete information P(I_UB) is 2 (see test_complete_information_public_good)."""
    env = public_good(tmp_path, line)
    chain = certify(env, 2).check()
    assert chain.information_potential <= chain.upper + 1e-9
    if line == "baseline knows theta":
        assert abs(chain.information_potential - 2) < 1e-9
    info = rm.solve(env, "potential", k=2).information
    sizes = [len(s) for s in env.baseline.signals]
    assert info.joint.shape == tuple(n * 5 for n in sizes) + (2,)  # (s_i, x_i), |X_i(2)| = 5
    # the structure refines the baseline: summing x out gives π(s, θ)
    folded = info.joint.reshape(tuple(v for n in sizes for v in (n, 5)) + (2,)).sum(axis=(1, 3))
    assert np.allclose(folded, env.baseline.joint, atol=1e-9)


# --------------------------------------------------------------------------- symmetry


def test_symmetry_on_and_off_agree_with_an_asymmetric_baseline(tmp_path):
    """Agent 1 knows θ (θ_1 identifies it), agent 2 nothing: the exchange of the agents (a symmetry of the
    public good and of the auction) does not map the baseline onto itself, so the
    reduction must decline; the values with symmetry on and off are the same."""
    env = public_good(tmp_path, "baseline knows [i == 1] * theta[1]")
    on, off = rm.solve(env, "potential", k=2), rm.solve(env, "potential", k=2, symmetry=False)
    assert abs(on.value - off.value) < 1e-9
    assert "group_order" not in on.extra.get("symmetry", {})
    auction = with_lines(tmp_path, COMMON_VALUE, "baseline knows [i == 1] * v", name="a.mech")
    mech = first_price_auction(auction, bids=4)
    for program in ("bce-worst", "bce-best"):
        a = rm.solve(auction, program, mechanism=mech)
        b = rm.solve(auction, program, mechanism=mech, symmetry=False)
        assert abs(a.value - b.value) < 1e-9
        assert "group_order" not in a.extra.get("symmetry", {})


def test_symmetry_reduces_a_symmetric_baseline(tmp_path):
    """Each agent knows its own value: the exchange maps the baseline onto itself, the
    program is reduced, and the value is that without the reduction."""
    env = public_good(tmp_path, "baseline knows theta[i]")
    on, off = rm.solve(env, "potential", k=2), rm.solve(env, "potential", k=2, symmetry=False)
    assert on.extra["symmetry"]["group_order"] == 2
    assert abs(on.value - off.value) < 1e-9


# --------------------------------------------------------------------------- what refuses it


def test_programs_that_cannot_use_the_baseline_refuse_it(tmp_path):
    """(12) and 001's potential programs bound the min potential over every structure,
    which is no bound with a baseline; row generation is for programs without one; LB-G-k
    ignores it and says so (its value is still a lower bound)."""
    env = public_good(tmp_path, "baseline knows theta")
    with pytest.raises(ModelError, match="the program 'dual' does not take the baseline signal into account"):
        rm.solve(env, "dual", k=1)
    assert "ignored" in rm.solve(env, "guarantee", k=1).extra["baseline"]
    auction = with_lines(tmp_path, COMMON_VALUE, "baseline knows v", name="a.mech")
    with pytest.raises(ModelError, match="'auction-potential' does not take the baseline"):
        rm.solve(auction, "auction-potential", k=1)
    with pytest.raises(ModelError, match="deviations='warm': the obedience rows are generated only without"):
        guarantee(auction, first_price_auction(auction, bids=4), deviations="warm")
    assert rm.bounds(auction, k=1).upper.program == "potential"  # the general family


# --------------------------------------------------------------------------- a public baseline


def _public_signal_models(tmp_path):
    """models/common_value_public_signal.mech (v uniform on {0, 1/3, 2/3, 1}, both bidders
    told whether v >= 1/2), and the same model without the baseline under the two
    conditional priors μ(·|s = 0) = (1/2, 1/2, 0, 0) and μ(·|s = 1) = (0, 0, 1/2, 1/2)."""
    text = (MODELS / "common_value_public_signal.mech").read_text()
    assert "baseline knows [v >= 0.5]" in text and "prior uniform" in text
    env = with_lines(tmp_path, text, name="public.mech")
    plain = text.replace("baseline knows [v >= 0.5]", "")
    low = with_lines(tmp_path, plain.replace("prior uniform", "prior [0.5, 0.5, 0, 0]"), name="low.mech")
    high = with_lines(tmp_path, plain.replace("prior uniform", "prior [0, 0, 0.5, 0.5]"), name="high.mech")
    return env, low, high


def test_a_public_baseline_splits_ub_p_k(tmp_path):
    """With a public baseline signal s (the same for every agent), the pair profiles with
    s_1 ≠ s_2 carry no mass (their virtual objective is 0), ∇̃+ couples x_i only within
    s_i, and each block s = (s, s) is UB-P-k (10) without a baseline for the marginal
    π(s, ·) = P(s) μ(·|s); (10) is homogeneous in μ, so UB(k) = Σ_s P(s) UB_{μ(·|s)}(k),
    with P(s) = 1/2 here, computed by the program without a baseline."""
    env, low, high = _public_signal_models(tmp_path)
    for k in (1, 2):
        split = 0.5 * rm.solve(low, "potential", k=k).value + 0.5 * rm.solve(high, "potential", k=k).value
        assert abs(rm.solve(env, "potential", k=k).value - split) < 1e-9


def test_a_public_baseline_splits_the_bce(tmp_path):
    """Likewise a BCE with a public baseline is, given s, a BCE under μ(·|s) (obedience
    given (s_i, a_i) is obedience given a_i within the block s): the worst and best BCE
    of the first-price auction (11 bids) are the P(s)-averages of those under the
    conditional priors, computed without a baseline."""
    env, low, high = _public_signal_models(tmp_path)
    g = guarantee(env, first_price_auction(env, bids=11))
    parts = [guarantee(m, first_price_auction(m, bids=11)) for m in (low, high)]
    assert abs(g.value - 0.5 * (parts[0].value + parts[1].value)) < 1e-9
    assert abs(g.best_value - 0.5 * (parts[0].best_value + parts[1].best_value)) < 1e-9
