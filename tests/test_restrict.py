"""Restricted mechanism classes (`restrict`, robustmech.programs.restrictions and
robustmech.mixture): each test asserts a fact from the papers, a hand derivation, or an
independent computation (another program, another model, the rule array itself)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import robustmech as rm
from robustmech.dsl import parse
from robustmech.errors import ModelError, SolverError, UnsupportedError
from robustmech.model.elaborate import elaborate

from conftest import MODELS

PUBLIC_GOOD = (MODELS / "public_good.mech").read_text().replace("bounds k = 6", "")
COMMON_VALUE = (MODELS / "common_value_auction.mech").read_text()

# bilateral trade with a trade probability and free transfers (the quasilinear form of
# models/bilateral_trade.mech, 004 end of Section 4): t[1] is paid by the seller, t[2] by the buyer
BILATERAL = """
model bilateral_trade_transfers
param vbar = 3.0
agents seller, buyer
state s in {0, vbar}
prior uniform
variable q in [0, 1]
transfer t[j in 1..2]
utility[seller] = -t[1] - s * q
utility[buyer]  = (s + vbar - 1) * q - t[2]
designer        = (vbar - 1) * q
"""


def model(text: str, *restrictions: str, params=None) -> rm.Environment:
    source = text + "\n" + "\n".join(f"restrict {r}" for r in restrictions) + "\n"
    return elaborate(parse(source, "test.mech"), params or {})


def value(env, k, symmetry=False, program="guarantee"):
    return rm.solve(env, program, k=k, symmetry=symmetry)


# -- the language ---------------------------------------------------------------------------


def test_restrict_statements_parse_with_their_words_and_places():
    """docs/language.md, `restrict`: the kind, then the words (`of` and the mechanisms)."""
    ast = parse("restrict anonymous\nrestrict aggregate E\nrestrict mixture of first_price, second_price\n", "m")
    kinds = [(s.kind, s.words, s.loc.line, s.kind_loc.column) for s in ast.statements]
    assert kinds == [("anonymous", (), 1, 10), ("aggregate", ("E",), 2, 10),
                     ("mixture", ("of", "first_price", "second_price"), 3, 10)]
    assert [loc.column for loc in ast.statements[2].locs] == [18, 21, 34]


def test_restrictions_are_recorded_in_file_order():
    env = model(PUBLIC_GOOD, "anonymous", "aggregate E")
    assert [r["kind"] for r in env.restrictions] == ["anonymous", "aggregate"]
    assert env.restrictions[1]["of"] == "E"
    assert env.restrictions[1]["coefficients"] == (0.0, 1.0, 1.0)  # E = [outcome != none]
    assert env.locations[("restrict", 0)].line == PUBLIC_GOOD.count("\n") + 2


@pytest.mark.parametrize("restrictions, words", [
    (("anonymous", "anonymous"), "restrict anonymous is given twice"),
    (("aggregate N",), "restrict aggregate N: 'N' is a parameter"),
    (("aggregate v",), "restrict aggregate v: 'v' is a state coordinate"),
    (("anonymous extra",), "restrict anonymous takes no further words, got 'extra'"),
    (("mixture first_price",), "write restrict mixture of NAME, NAME"),
    (("mixture of first_price, first_price",), "'first_price' is named twice"),
    (("anonymous", "mixture of first_price"), "restrict mixture cannot be combined with other restrictions"),
])
def test_bad_restrictions_are_one_line_errors_at_their_place(restrictions, words):
    with pytest.raises(ModelError) as info:
        model(COMMON_VALUE, *restrictions)
    assert words in str(info.value) and "test.mech:" in str(info.value) and "\n" not in str(info.value)


def test_a_definition_that_depends_on_the_state_is_refused():
    with pytest.raises(ModelError, match="restrict aggregate W: W depends on the state"):
        model(PUBLIC_GOOD + "\nlet W = sum(theta) * [outcome != none]\n", "aggregate W")


def test_prior_free_models_take_no_restrictions(tmp_path):
    from robustmech.model.elaborate_prior_free import load_prior_free

    path = tmp_path / "screening.mech"
    path.write_text((MODELS / "screening.mech").read_text() + "\nrestrict anonymous\n")
    with pytest.raises(ModelError, match="a prior-free model's refinements \\(000\\) take no restrictions"):
        load_prior_free(str(path), {})


# -- anonymity ------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 4, 6])
def test_anonymity_costs_nothing_on_the_public_good(k):
    """004 Section 4: the public good is symmetric in the agents (with the states and the
    payers relabelled alongside) and LB-G-k is a linear program, so averaging any optimum
    over the relabeling gives an anonymous optimum: `restrict anonymous` leaves LB(k)
    unchanged. Both programs are solved in full (no symmetry reduction), so the rows of the
    restriction, not the reduction, make the mechanism anonymous."""
    free, anonymous = value(model(PUBLIC_GOOD), k), value(model(PUBLIC_GOOD, "anonymous"), k)
    assert anonymous.value == pytest.approx(free.value, abs=1e-8)
    assert anonymous.extra["dual_certified"]


def test_anonymity_with_three_agents_keeps_the_whole_symmetry_group():
    """004 Section 4 with N = 3, vbar = 5 (vbar/N > 1): the model is invariant under the six
    permutations of the agents; the anonymity rows (one family per permutation) leave the
    program invariant, so the reduction still uses the group of order 6, and LB(2) with and
    without the restriction, and with and without the reduction, agree (averaging argument)."""
    params = {"N": "3", "vbar": "5"}
    free = value(model(PUBLIC_GOOD, params=params), 2)
    full = value(model(PUBLIC_GOOD, "anonymous", params=params), 2)
    reduced = value(model(PUBLIC_GOOD, "anonymous", params=params), 2, symmetry=True)
    assert full.value == pytest.approx(free.value, abs=1e-8) and reduced.value == pytest.approx(free.value, abs=1e-8)
    assert reduced.extra["symmetry"]["group_order"] == 6


def test_the_anonymous_mechanism_is_symmetric_in_its_rule_array():
    """Checked on the outcome table itself: m(paid_by[1] | x1, x2) = m(paid_by[2] | x2, x1)
    and m(none | x1, x2) = m(none | x2, x1) (the public good's relabeling, 004 Section 4)."""
    mech = value(model(PUBLIC_GOOD, "anonymous"), 3).mechanism
    none, p1, p2 = (mech.outcome(o) for o in ("none", "paid_by[1]", "paid_by[2]"))
    np.testing.assert_allclose(none, none.T, atol=1e-9)
    np.testing.assert_allclose(p1, p2.T, atol=1e-9)


def test_anonymity_needs_symmetric_agents():
    with pytest.raises(ModelError, match="restrict anonymous: no relabeling of the agents"):
        rm.validate(model(BILATERAL, "anonymous"))


# -- the aggregate action ---------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 6])
def test_an_aggregate_rule_loses_the_whole_public_good(k):
    """Hand derivation: if the whole outcome m(·|x) depends only on L = Σ_i x_i, then
    participation security of x_1 = 0 in the state where agent 1 values the good at 0
    forbids paid_by[1] at every L reached from (0, x_2), i.e. L <= k (x_2 <= k), and
    likewise for paid_by[2]; so nothing is spent at L <= k, and at x = 0 the strategic
    virtual objective (4) of 004 is (vbar - 1) E(0) + Σ_i θ_i ∇+_i E(0) = 0. Hence
    λ(θ) <= 0, and E = 0 attains 0: LB(k) = 0 exactly, against 004's positive LB(k)."""
    assert value(model(PUBLIC_GOOD, "aggregate"), k).value == pytest.approx(0.0, abs=1e-9)
    assert value(model(PUBLIC_GOOD), k).value > 0.5


def test_an_aggregate_expenditure_on_the_public_good():
    """004 Section 4.2 (Figure 1): the total expenditure E(x) of the optimum depends on x
    only through Σx, the cost shares do not. `restrict aggregate E` can only lower LB(6);
    the mechanism read back has E constant on every anti-diagonal x_1 + x_2 = L/6 (checked
    on its rule array), and it is participation secure and within LB-G-6's feasible set."""
    restricted = value(model(PUBLIC_GOOD, "aggregate E"), 6)
    assert restricted.value <= value(model(PUBLIC_GOOD), 6).value + 1e-9
    spent = 1.0 - restricted.mechanism.outcome("none")
    K = spent.shape[0]
    for level in range(2 * K - 1):
        diagonal = np.array([spent[i, level - i] for i in range(max(0, level - K + 1), min(level, K - 1) + 1)])
        assert np.ptp(diagonal) <= 1e-8
    assert restricted.extra["dual_certified"]


# -- transfers --------------------------------------------------------------------------------


def test_budget_balance_in_bilateral_trade_at_k_1():
    """Hand derivation at k = 1 (the upward derivative's factor k - 1 vanishes, so λ(θ) is
    the lowest objective over profiles). Without budget balance the designer subsidises
    trade: q = 1, the seller receives vbar and the buyer pays vbar - 1 at every profile is
    participation secure and gives the first best vbar - 1 = 2. With t_1 + t_2 = 0, at the
    profile (0, 0) both participation constraints bind: the seller needs -t_1 >= vbar q,
    the buyer t_2 <= (vbar - 1) q, so vbar q <= (vbar - 1) q and q(0, 0) = 0: LB(1) = 0."""
    assert value(model(BILATERAL), 1).value == pytest.approx(2.0, abs=1e-9)
    assert value(model(BILATERAL, "budget_balanced"), 1).value == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("k", [3, 6])
def test_budget_balance_in_bilateral_trade_against_the_finite_model(k):
    """models/bilateral_trade.mech trades at the prices vbar or vbar - 1 (004 end of
    Section 4): each of its mechanisms is a budget-balanced mechanism of the transfer
    model (the seller receives what the buyer pays), so its LB(k) is at most the
    budget-balanced LB(k), which is at most the first best vbar - 1 = 2 that the
    unrestricted transfer model attains (subsidies, the test above)."""
    finite = value(rm.load_model(MODELS / "bilateral_trade.mech"), k).value
    balanced = value(model(BILATERAL, "budget_balanced"), k)
    assert finite - 1e-9 <= balanced.value <= 2.0 + 1e-9
    transfers = balanced.mechanism.rule[..., 1:]
    np.testing.assert_allclose(transfers.sum(-1), 0.0, atol=1e-9)


def test_budget_balanced_profit_is_zero():
    """With designer = sum(t) (profit, 001) and Σ_i t_i = 0 at every profile, the objective
    is 0 at every outcome, so every mechanism of the class guarantees exactly 0."""
    env = model(COMMON_VALUE, "budget_balanced", params={"nvalues": "3"})
    assert value(env, 3).value == pytest.approx(0.0, abs=1e-9)


def test_no_transfers_to_losers_on_the_common_value_auction():
    """The restriction is the lottery form |t_i| <= v̄_i q_i (v̄_i = 1 here, the highest
    value): it can only lower LB(k), and the mechanism read back charges nothing where it
    allocates nothing (checked on the rule array: q_i = 0 => t_i = 0)."""
    env = model(COMMON_VALUE, "no_transfers_to_losers", params={"nvalues": "3"})
    restricted = value(env, 3)
    assert restricted.value <= value(model(COMMON_VALUE, params={"nvalues": "3"}), 3).value + 1e-9
    rule = restricted.mechanism.rule  # q[1], q[2], t[1], t[2]
    q, t = rule[..., :2], rule[..., 2:]
    assert np.all(np.abs(t) <= q + 1e-9)
    assert np.all(np.abs(t[q <= 1e-12]) <= 1e-9)


@pytest.mark.parametrize("restriction", ["anonymous", "aggregate", "no_transfers_to_losers", "budget_balanced"])
def test_each_restriction_lowers_the_common_value_guarantee(restriction):
    """004: restricting the designer's choice set cannot raise the max of LB-G-k; the
    restricted program, solved over symmetric solutions, has the value of the full one."""
    env = model(COMMON_VALUE, restriction, params={"nvalues": "3"})
    full, reduced = value(env, 3), value(env, 3, symmetry=True)
    assert full.value <= value(model(COMMON_VALUE, params={"nvalues": "3"}), 3).value + 1e-9
    assert reduced.value == pytest.approx(full.value, abs=1e-8)
    assert reduced.extra["symmetry"]["group_order"] == 2  # the restricted program is still invariant
    assert full.extra["dual_certified"] and reduced.extra["dual_certified"]


# -- symmetry and read-back checks --------------------------------------------------------------


def test_the_reduction_refuses_a_restricted_program_that_is_not_invariant():
    """The symmetry reduction checks invariance on the program's numbers: the restricted
    LB-G-3 of the public good is invariant under the agents' relabeling; the same program
    with one more row that forbids paid_by[1] at x = (0, 1/3) only is not, and is refused."""
    from robustmech.lower.symmetry import find_symmetries
    from robustmech.programs.base import program
    from robustmech.programs.lp import LinearProgram
    from robustmech.programs.reductions import symmetry_reduction

    env = model(PUBLIC_GOOD, "anonymous", "aggregate E")
    low = rm.validate(env)
    lp, _ = program("guarantee").build(low, k=3)
    syms = find_symmetries(low)
    args = (syms, low.env.agents, low.env.states.labels, low.outcome_names)
    assert symmetry_reduction(lp, *args)[0] is not None
    column = lp.variables["m"].start + 1 * low.dim + 1  # m(paid_by[1] | x = (0, 1/3))
    row = sp.csr_matrix(([1.0], ([0], [column])), shape=(1, lp.n_cols))
    skewed = LinearProgram(lp.name, lp.sense, lp.cost, sp.vstack([lp.A, row], format="csr"),
                           np.append(lp.row_lower, 0.0), np.append(lp.row_upper, 0.0), lp.col_lower, lp.col_upper,
                           lp.variables, lp.families)
    assert symmetry_reduction(skewed, *args)[0] is None


def test_a_read_back_mechanism_that_breaks_a_restriction_is_an_error():
    from robustmech.programs.restrictions import check_mechanism

    env = model(PUBLIC_GOOD, "anonymous")
    low = rm.validate(env)
    mech = value(env, 2).mechanism
    mech.rule[1, 0] = [0.0, 1.0, 0.0]  # paid_by[1] at (1/2, 0), but none at (0, 1/2)
    mech.rule[0, 1] = [1.0, 0.0, 0.0]
    with pytest.raises(SolverError, match="violates restrict anonymous by 1.0e\\+00"):
        check_mechanism(mech, low, 2, 1.0)


# -- programs that take no restrictions ----------------------------------------------------------


def test_the_auction_family_refuses_restrictions_and_bounds_picks_the_general_family():
    env = model(COMMON_VALUE, "anonymous", params={"nvalues": "3"})
    with pytest.raises(UnsupportedError, match="program 'auction-guarantee' .* takes no restrictions"):
        rm.solve(env, "auction-guarantee", k=2)
    with pytest.raises(UnsupportedError, match="program 'dual' .* takes no restrictions"):
        rm.solve(env, "dual", k=2)
    b = rm.bounds(env, 2)
    assert b.lower.program == "guarantee" and b.upper.program == "potential"
    assert rm.bounds(model(COMMON_VALUE, params={"nvalues": "3"}), 2).lower.program == "auction-guarantee"
    assert b.lower.value <= b.upper.value + 1e-9  # UB-P-k bounds the restricted max guarantee too


def test_lb_g_k_refuses_a_mixture():
    env = rm.load_model(MODELS / "common_value_mixtures.mech")
    with pytest.raises(UnsupportedError, match="common_value_mixtures.mech:24:1: restrict mixture: LB-G-k"):
        rm.solve(env, "guarantee", k=2)


# -- mixtures (003 Section 5.3) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixtures_env():
    return rm.load_model(MODELS / "common_value_mixtures.mech", {"nvalues": 3})


@pytest.mark.parametrize("name", ["first_price", "second_price"])
def test_a_mixture_of_one_mechanism_is_its_exact_guarantee(mixtures_env, name):
    """The class of mixtures of one mechanism is that mechanism: the value equals its
    exact guarantee computed by the BCE program (robustmech.certify.guarantee, 003 (2))."""
    from robustmech.certify import guarantee
    from robustmech.mixture import mixture_guarantee
    from robustmech.model.generators import standard_mechanism

    mix = mixture_guarantee(mixtures_env, (name,), weights=7)
    assert len(mix.weights) == 1 and mix.best_weights == (1.0,)
    exact = guarantee(mixtures_env, standard_mechanism(mixtures_env, name), best=False)
    assert mix.value == pytest.approx(exact.value, abs=1e-9)


def test_the_second_price_auction_guarantees_nothing_with_a_common_value(mixtures_env):
    """Hand derivation: in the second-price auction one bidder bids the top bid 1, the
    other bids 0, whatever the value; the winner pays the second bid 0. It is obedient (the
    loser can only win by tying at 1, paying 1 >= v; the winner already pays 0), so the
    revenue of that BCE is 0 and the guarantee, at least 0 by participation, is 0. The
    mixture of weight 0 on the first price is that auction."""
    from robustmech.mixture import mixture_guarantee

    mix = mixture_guarantee(mixtures_env, weights=2)
    assert mix.weights == [(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)]
    assert mix.values[0] == pytest.approx(0.0, abs=1e-9)


def test_each_mixture_is_the_exact_guarantee_of_its_rule(mixtures_env):
    """003 Section 5.3: the class holds both standard auctions, so its best guarantee is at
    least each one's; and the guarantee reported for the weights (3/4, 1/4) is that of the
    mechanism whose outcome at every bid profile is 3/4 of the first-price outcome plus 1/4
    of the second-price one, built here from the two rule arrays and evaluated by the BCE
    program (robustmech.certify.guarantee)."""
    from robustmech.certify import guarantee
    from robustmech.mixture import mixture_guarantee
    from robustmech.model.generators import first_price_auction, second_price_auction
    from robustmech.model.objects import Mechanism

    mix = mixture_guarantee(mixtures_env, weights=4)
    first, second = first_price_auction(mixtures_env), second_price_auction(mixtures_env)
    pure = [guarantee(mixtures_env, m, best=False).value for m in (first, second)]
    assert mix.value >= max(pure) - 1e-9
    assert mix.values[-1] == pytest.approx(pure[0], abs=1e-9) and mix.values[0] == pytest.approx(pure[1], abs=1e-9)
    by_hand = Mechanism(first.actions, first.outcome_names, 0.75 * first.rule + 0.25 * second.rule, finite=False)
    assert mix.weights[3] == (0.75, 0.25)
    assert mix.values[3] == pytest.approx(guarantee(mixtures_env, by_hand, best=False).value, abs=1e-9)
    assert mix.checks["mixture_violation"] <= 1e-12


def test_mixtures_need_shared_action_sets(mixtures_env):
    """A mixture combines the outcomes at the same action profile: a first-price auction
    on 5 bids cannot be mixed with one on 21."""
    import dataclasses

    from robustmech.mixture import mixture_guarantee
    from robustmech.model.generators import first_price_auction

    small = first_price_auction(mixtures_env, bids=5)
    env = dataclasses.replace(mixtures_env, mechanisms={**mixtures_env.mechanisms, "small": small})
    with pytest.raises(ModelError, match="small and first_price do not share their action sets"):
        mixture_guarantee(env, ("first_price", "small"), weights=2)


def test_evaluate_mixture_on_the_command_line(capsys):
    from robustmech.cli import main

    code = main(["evaluate", str(MODELS / "common_value_mixtures.mech"), "--mixture", "--weights", "1",
                 "--param", "nvalues=3", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    import json

    summary = json.loads(out)
    assert summary["weights"] == [1.0, 0.0] and summary["mixtures"][0]["guarantee"] == pytest.approx(0.0, abs=1e-9)


def test_restrict_on_the_command_line(capsys):
    """`--restrict KIND` adds a restriction as the statement would; its errors name it."""
    from robustmech.cli import main

    path = str(MODELS / "public_good.mech")
    assert main(["solve", path, "--k", "2", "--restrict", "anonymous", "--restrict", "aggregate"]) == 0
    out = capsys.readouterr().out
    assert "restricted to anonymous (violation" in out and "value 0.000000" in out
    assert main(["solve", path, "--k", "2", "--restrict", "anonimous"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["robustmech: error: --restrict:1:10: unknown restriction 'anonimous'; did you mean 'anonymous'? "
                   "choose one of anonymous, aggregate, no_transfers_to_losers, budget_balanced, mixture"]


def test_the_restricted_program_as_a_pyomo_model():
    """The restriction families carry index sets, so the Pyomo model names them."""
    pytest.importorskip("pyomo")
    from robustmech.programs.base import program

    low = rm.validate(model(PUBLIC_GOOD, "anonymous", "aggregate E"))
    lp, _ = program("guarantee").build(low, k=2)
    names = {c.name for c in lp.to_pyomo().component_objects()}
    assert {"anonymous", "aggregate_E", "agg_E"} <= names
