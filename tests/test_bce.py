"""The BCE program: exact guarantees of given finite mechanisms.

Sources: the guarantee G(M) of (2) in 003 is the minimum of the designer's objective
over Bayes correlated equilibria (Bergemann and Morris; 003 (5)-(6)); the first-price
auction's revenue guarantee (N - 1)/(4N - 2) for a pure common value uniform on [0, 1]
(Bergemann, Brooks and Morris 2017, quoted in 002 Section 6.1); the maxmin posted price
1/4 earning 1/8, the worst case being a public signal whether v exceeds 2p (002 Section
6.1 and its footnote 35); bidding-ring equilibria of the second-price auction (003
Section 5).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import robustmech as rm
from robustmech.model import generators as gen
from robustmech.programs import bce

from conftest import common_value_auction, public_good


def uniform_common_value(n_values: int, n_agents: int = 2) -> rm.Environment:
    """v uniform on {0, 1/(n-1), ..., 1}, exact rationals."""
    return common_value_auction(n_agents, [sympy.Rational(j, n_values - 1) for j in range(n_values)])


def posted_price_worst_case(values: np.ndarray, price: float) -> float:
    """The discrete analogue of 002's footnote 35, derived independently of the LP: the
    adversary pools the lowest values into a 'nobody buys' event as long as the pooled
    mean stays at or below the price (the last value enters fractionally), and revenue is
    the price times the remaining mass."""
    values = np.sort(values)
    mass, total = 0.0, 0.0
    weight = 1.0 / len(values)
    for v in values:  # a closed form in a test, not the solver path
        if (total + weight * v) <= price * (mass + weight) + 1e-15:
            mass, total = mass + weight, total + weight * v
        else:
            alpha = (price * mass - total) / (weight * (v - price))
            mass += alpha * weight
            break
    return price * (1.0 - mass)


@pytest.mark.parametrize("n_values", [6, 11, 21, 41])
def test_posted_price_guarantee(n_values):
    """002 Section 6.1: the posted price p = 1/4 has guarantee p(1 - 2p) = 1/8 when v is
    uniform on [0, 1]. On the grid of n values the BCE minimum equals the discrete
    pooling bound exactly, and is within p/(n - 1) of 1/8 (the grid step times p)."""
    env = uniform_common_value(n_values)
    result = rm.guarantee(env, gen.posted_price(env, 0.25))
    values = np.linspace(0, 1, n_values)
    assert result.value == pytest.approx(posted_price_worst_case(values, 0.25), abs=1e-9)
    assert abs(result.value - 0.125) <= 0.25 / (n_values - 1)
    # the best BCE sells for sure: revenue p
    assert result.best_value == pytest.approx(0.25, abs=1e-9)
    assert result.participation_secure and result.secure_actions == [[0.0], [0.0]]


FPA_GRIDS = [6, 11, 16, 21]
# The BCE program's data (values and bids on {0, h, ..., 1}, h = 1/(n-1)) move by at most h
# from the continuum's, so the error 1/6 - G_n is first order in h: the order fitted on
# the grids must be nearer 1 than 1/2 or 2 (0.75 <= order <= 1.5; it is 1.10).
FPA_MIN_ORDER, FPA_MAX_ORDER = 0.75, 1.5


def _fpa_guarantee(n):
    env = uniform_common_value(n)
    return rm.guarantee(env, gen.first_price_auction(env, bids=n), best=False).value


@pytest.fixture(scope="module")
def fpa_table():
    return {n: _fpa_guarantee(n) for n in FPA_GRIDS}


def test_first_price_revenue_guarantee_converges(fpa_table):
    """Bergemann, Brooks and Morris (2017), quoted in 002 Section 6.1: two bidders, pure
    common value uniform on [0, 1], the first-price auction's revenue guarantee is
    (N - 1)/(4N - 2) = 1/6. With n values and n bids on {0, 1/(n-1), ..., 1} the BCE
    minimum rises towards 1/6 from below, at the first order in the grid step (the
    log-log fit of 1/6 - G_n against 1/(n - 1)).

        n    G_n        1/6 - G_n
        6    0.066667   0.1000
        11   0.115727   0.0509
        16   0.135283   0.0314
        21   0.144973   0.0217
        31   0.152877   0.0138   (slow test)
    """
    limit = (2 - 1) / (4 * 2 - 2)
    values = [fpa_table[n] for n in FPA_GRIDS]
    assert all(b > a for a, b in zip(values, values[1:])), values
    assert all(g < limit for g in fpa_table.values())
    steps = [1 / (n - 1) for n in FPA_GRIDS]
    order = np.polyfit(np.log(steps), np.log([limit - fpa_table[n] for n in FPA_GRIDS]), 1)[0]
    assert FPA_MIN_ORDER <= order <= FPA_MAX_ORDER, order


@pytest.mark.slow
@pytest.mark.parametrize("n", [31, 41])
def test_first_price_revenue_guarantee_fine_grids(n):
    """As above on finer grids (002 Section 6.1, BBM 2017): below 1/6, and the error keeps
    falling at least at the lowest order the fit above accepts, from the n = 21 grid:
    1/6 - G_n <= (1/6 - G_21) (20/(n - 1))^0.75."""
    g = _fpa_guarantee(n)
    assert 0 < 1 / 6 - g <= (1 / 6 - _fpa_guarantee(21)) * (20 / (n - 1)) ** FPA_MIN_ORDER


def test_second_price_auction_has_zero_guarantee():
    """003 Section 5: the second-price auction has bidding-ring equilibria, one bidder
    bids high and the others bid 0; with a common value no obedience constraint stops
    it, so the guarantee is 0, while the best BCE earns the expected value 1/2."""
    env = uniform_common_value(6)
    result = rm.guarantee(env, gen.second_price_auction(env, bids=6))
    assert result.value == pytest.approx(0.0, abs=1e-9)
    assert result.best_value == pytest.approx(0.5, abs=1e-9)


def test_worst_bce_is_an_equilibrium_with_the_prior_as_marginal():
    """Bergemann-Morris obedience (003 (5)), checked from the definition with numpy
    (independently of the LP rows): no agent gains from any deviation from any
    recommendation in the worst and best BCE, and the state marginal is the prior."""
    env = uniform_common_value(6)
    low = rm.validate(env)
    mech = gen.all_pay_auction(env, bids=6)
    result = rm.guarantee(env, mech)
    U, W = bce.payoff_arrays(low, mech)
    for eq in (result.worst, result.best):
        for i in range(2):
            # gain of deviating from a_i to d: Σ_{a_-i,θ} σ(a,θ)[U_i(d, a_-i, θ) - U_i(a, θ)]
            sig = np.moveaxis(eq.joint, i, 0)
            Ui = np.moveaxis(U[i], i, 0)
            for a in range(6):
                for d in range(6):
                    assert np.sum(sig[a] * (Ui[d] - Ui[a])) <= 1e-8
        np.testing.assert_allclose(eq.state_marginal(), low.prior, atol=1e-9)
        assert float(np.sum(eq.joint * W)) == pytest.approx(eq.value, abs=1e-9)
    assert result.value <= result.best_value + 1e-12


def test_participation_security_is_reported_per_action():
    """003 Section 2: action a_i is participation secure if u_i(m(a_i, a_-i), θ) >= 0 for
    all a_-i and θ. In a first-price auction every bid at or below the lowest value (0)
    is secure; adding an entry fee to every bid leaves no secure action."""
    env = uniform_common_value(6)
    fpa = gen.first_price_auction(env, bids=[0, 0.2, 0.4])
    result = rm.guarantee(env, fpa)
    assert result.secure_actions == [[0.0], [0.0]] and result.participation_secure
    fee = rm.Mechanism(fpa.actions, fpa.outcome_names, fpa.rule.copy(), finite=False, name="with_fee")
    t = [fee.outcome_names.index("t[1]"), fee.outcome_names.index("t[2]")]
    fee.rule[..., t] += 0.01
    secure = bce.participation_security(rm.validate(env), fee)
    assert not any(s.any() for s in secure)
    assert not rm.guarantee(env, fee).participation_secure


def test_finite_outcome_mechanism_on_the_public_good():
    """004 Section 4.2.1 with finite outcomes: proportional cost-sharing with Ê(y) = 0
    (never spend) has guarantee 0, and spending for sure with the cost on agent 1 is not
    participation secure for agent 1 (θ_1 = 0 in one state) but has guarantee vbar - 1 = 2:
    the designer's objective does not depend on actions."""
    env = public_good(2, 3)
    never = gen.proportional_cost_sharing(env, bids=[0, 1, 2], expenditure=lambda y: 0 * y)
    assert rm.guarantee(env, never).value == pytest.approx(0.0, abs=1e-12)
    rule = np.zeros((2, 2, 3))
    rule[..., 1] = 1.0  # paid_by[1] at every profile
    forced = rm.Mechanism((np.arange(2), np.arange(2)), env.outcomes.names, rule, name="agent1_pays")
    result = rm.guarantee(env, forced)
    assert result.value == pytest.approx(2.0, abs=1e-9)
    assert result.secure_actions[0] == [] and not result.participation_secure


def test_mechanism_errors_are_clear():
    """Bad input is one clear ModelError: wrong outcome language, infeasible outcomes."""
    env = uniform_common_value(3)
    pg = public_good(2, 3)
    with pytest.raises(rm.ModelError, match="outcomes"):
        rm.guarantee(pg, gen.first_price_auction(env, bids=3))
    with pytest.raises(rm.ModelError, match="allocation and transfer"):
        gen.first_price_auction(pg, bids=3)
    bad = gen.first_price_auction(env, bids=3)
    bad.rule[..., 0] = 1.0
    bad.rule[..., 1] = 1.0  # q1 + q2 = 2 > 1
    with pytest.raises(rm.ModelError, match="not a feasible outcome"):
        rm.guarantee(env, bad)


def test_obedience_program_has_one_row_per_deviation_and_state():
    """Layout (003 (5)-(6)): 2 agents, 20 actions, 11 states; the program has |A| |Θ|
    columns and Σ_i |A_i|(|A_i| - 1) obedience rows plus |Θ| prior rows (its build time is
    measured by benchmarks/exact_programs.py, not here)."""
    env = uniform_common_value(11)
    low = rm.validate(env)
    lp, _ = bce.build(low, gen.first_price_auction(env, bids=20))
    assert lp.n_cols == 400 * 11
    assert lp.n_rows == 2 * 20 * 19 + 11

