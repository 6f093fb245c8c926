"""The language's indices: allocations with several indices (many goods), named agents as
indices, scalar allocations and transfers for one agent, and outcome families indexed by
any finite set of numbers (docs/language.md).

Each new form is checked against an independent form of the same model: the per-good
model file written with one `allocate` statement per good, agents numbered 1..1, a family
indexed 1..n with its values written out. Equal models give equal lowered arrays, equal
linear programs and equal bounds. The two-goods numbers are 001 Appendix B.1.4's.
"""

from __future__ import annotations

import json
import pathlib
import re

import numpy as np
import pytest

import robustmech as rm
from robustmech.cli import main
from robustmech.dsl import parse
from robustmech.errors import ModelError
from robustmech.model.elaborate import elaborate
from robustmech.programs.base import program

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
AUCTION_PROGRAMS = ("auction-guarantee", "auction-potential")


def load(text: str, params=None) -> rm.Environment:
    return elaborate(parse(text, "m.mech"), params or {})


def assert_same_arrays(a: rm.Environment, b: rm.Environment, rename=None) -> None:
    """The lowered numbers of ``a`` and ``b`` are equal entry by entry (outcome
    coordinates in the same order; ``rename`` maps a's outcome names to b's)."""
    la, lb = rm.validate(a), rm.validate(b)
    names = tuple((rename or {}).get(n, n) for n in la.outcome_names)
    assert names == lb.outcome_names
    assert la.finite == lb.finite
    for field in ("prior", "states", "utility_coef", "utility_const", "designer_coef", "designer_const"):
        np.testing.assert_array_equal(getattr(la, field), getattr(lb, field), err_msg=field)
    for field in ("lower", "upper", "A_ub", "b_ub", "A_eq", "b_eq"):
        np.testing.assert_array_equal(getattr(la.polytope, field), getattr(lb.polytope, field), err_msg=field)
    if not la.finite:
        assert a.outcomes.roles == b.outcomes.roles


def assert_same_programs(a: rm.Environment, b: rm.Environment, k: int, names=AUCTION_PROGRAMS) -> None:
    """The linear programs built for ``a`` and ``b`` at ``k`` are the same arrays."""
    la, lb = rm.validate(a), rm.validate(b)
    for name in names:
        pa, _ = program(name).build(la, k=k)
        pb, _ = program(name).build(lb, k=k)
        assert pa.sense == pb.sense and pa.A.shape == pb.A.shape, name
        assert (pa.A != pb.A).nnz == 0, name
        for field in ("cost", "row_lower", "row_upper", "col_lower", "col_upper"):
            np.testing.assert_array_equal(getattr(pa, field), getattr(pb, field), err_msg=f"{name} {field}")


def assert_same_bounds(a, b, k: int) -> None:
    ba, bb = rm.bounds(a, k), rm.bounds(b, k)
    assert ba.lower.program == bb.lower.program
    assert ba.lower.value == pytest.approx(bb.lower.value, abs=1e-9)
    assert ba.upper.value == pytest.approx(bb.upper.value, abs=1e-9)
    return ba


# ---------------------------------------------------------------------------
# many goods: allocate q[i, l in 1..L]


def per_good_names(n_agents: int = 2) -> dict:
    """q[i,1] of models/two_goods.mech is q[i] of models/two_goods_common_values.mech, q[i,2] is r[i]."""
    return {f"q[{i},{l}]": f"{'qr'[l - 1]}[{i}]" for i in range(1, n_agents + 1) for l in (1, 2)}


@pytest.fixture(scope="module")
def two_goods_small():
    params = {"nvalues": "3"}
    return (rm.load_model(MODELS / "two_goods.mech", params),
            rm.load_model(MODELS / "two_goods_common_values.mech", params))


def test_multi_index_allocation_is_one_allocate_statement_per_good(two_goods_small):
    """`allocate q[i, l in 1..L] >= 0 with sum(q[j, l] for j in 1..N) <= 1 for l in 1..L`
    lists q good by good, with one supply row per good: the arrays of the per-good file."""
    multi, per_good = two_goods_small
    assert multi.outcomes.names == ("q[1,1]", "q[2,1]", "q[1,2]", "q[2,2]", "t[1]", "t[2]")
    assert [c.text for c in multi.outcomes.constraints] == ["q[1,1] + q[2,1] <= 1", "q[1,2] + q[2,2] <= 1"]
    assert_same_arrays(multi, per_good, per_good_names())


@pytest.mark.parametrize("k", [2, 3, 4])
def test_multi_index_programs_are_the_per_good_programs(two_goods_small, k):
    """001 (41) and (3) (the programs `bounds` runs on an auction) are the same arrays for
    both forms, and so are their values."""
    multi, per_good = two_goods_small
    assert_same_programs(multi, per_good, k)
    assert_same_bounds(multi, per_good, k)


@pytest.fixture(scope="module")
def two_goods_bundled():
    return rm.load_model(MODELS / "two_goods.mech"), rm.load_model(MODELS / "two_goods_common_values.mech")


@pytest.mark.parametrize("k", [3, 4])
def test_bundled_two_goods_model_builds_the_per_good_programs(two_goods_bundled, k):
    """models/two_goods.mech (L = 2, ten values per good) and the per-good file build the
    same arrays for 001 (41) and (3) at k = 3, 4."""
    multi, per_good = two_goods_bundled
    assert_same_arrays(multi, per_good, per_good_names())
    assert_same_programs(multi, per_good, k)


@pytest.mark.parametrize("k", [3, pytest.param(4, marks=pytest.mark.slow)])
def test_bundled_two_goods_model_gives_the_per_good_numbers(two_goods_bundled, k):
    """... and the same bounds (k = 4: about 30 s a model)."""
    multi, per_good = two_goods_bundled
    b = assert_same_bounds(multi, per_good, k)
    assert b.lower.value <= b.upper.value + 1e-9


@pytest.mark.slow
def test_two_goods_bounds_at_k7_are_those_of_001_b14(capsys):
    """001 Appendix B.1.4: with two bidders, two goods, pure common values independent
    across goods (ten values each), 'the lower and upper bounds on Π* are 0.5942 and
    0.6542' (001 does not state k): LB(7) and UB(7) of models/two_goods.mech, to the
    paper's four decimals, from one command: `robustmech run` runs the file's directives,
    (41) and (3-D) (the LP dual of (3), so UB(7)) with HiGHS's interior point method, each
    certified by its weak-duality bound (about a minute in all)."""
    assert main(["run", str(MODELS / "two_goods.mech"), "--json"]) == 0
    rows = [json.loads(line)["result"] for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(r["program"], r["k"]) for r in rows] == [("auction-guarantee", 7), ("auction-dual", 7)]
    for r in rows:
        assert r["status"] == "optimal" and r["dual_value"] == pytest.approx(r["value"], abs=1e-6)
    lower, upper = rows
    assert round(lower["value"], 4) == 0.5942
    assert round(upper["value"], 4) == 0.6542


@pytest.mark.parametrize("k", [2, 3])
def test_one_good_is_the_common_value_auction(k):
    """L = 1: the single-good common value auction of models/common_value_auction.mech."""
    one = rm.load_model(MODELS / "two_goods.mech", {"L": "1"})
    single = rm.load_model(MODELS / "common_value_auction.mech")
    assert one.outcomes.names == ("q[1,1]", "q[2,1]", "t[1]", "t[2]")
    assert_same_arrays(one, single, {"q[1,1]": "q[1]", "q[2,1]": "q[2]"})
    assert_same_bounds(one, single, k)


THREE_GOODS = """
param L = 3
agents i in 1..2
state v[1..L] in {{0, 1}}^L
prior uniform
allocate q[i, l in 1..L] >= 0 with {with}
transfer t[i]
utility[i] = sum(v[l] * q[i, l] for l in 1..L) - t[i]
designer = sum(t)
"""


def test_the_with_part_may_be_any_constraint_family_on_the_allocation():
    """One row per good, or one row for several goods together (a capacity of two units)."""
    env = load(THREE_GOODS.format(**{"with": "sum(q[j, l] for j in 1..2 for l in 1..L) <= 2"}))
    assert [c.text for c in env.outcomes.constraints] == \
        ["q[1,1] + q[1,2] + q[1,3] + q[2,1] + q[2,2] + q[2,3] <= 2"]
    env = load(THREE_GOODS.format(**{"with": "q[1, l] + q[2, l] <= 1 for l in 1..L"}))
    assert len(env.outcomes.constraints) == 3


@pytest.mark.parametrize("with_part, words", [
    ("sum(q) <= 1", "sum(q) adds q over all its indices; for one constraint per good write"),
    ("sum(q[j, l] for j in 1..2) <= t[1] for l in 1..L", "'t[1]' (outcome variable, line 7) cannot be used here"),
    ("sum(q[j, l] for j in 1..2) != 1 for l in 1..L", "the `with` part of an allocation is a constraint"),
])
def test_misused_with_parts(with_part, words):
    with pytest.raises(ModelError) as info:
        load(THREE_GOODS.format(**{"with": with_part}))
    assert words.replace("'t[1]'", "'t'") in str(info.value)


def test_a_with_part_on_another_outcome_variable_is_refused():
    text = THREE_GOODS.format(**{"with": "sum(q[j, l] for j in 1..2) <= 1 for l in 1..L"})
    text = text.replace("transfer t[i]\n", "").replace("param L = 3\n", "param L = 3\ntransfer t[i]\n")
    text = text.replace("<= 1 for l", "<= 1 + t[1] for l")
    with pytest.raises(ModelError, match=r"the `with` part of allocate q constrains q only; it involves t\[1\]"):
        load(text)


def test_an_index_other_than_the_agents_needs_its_values():
    with pytest.raises(ModelError, match=r"unknown index 'l': an index other than the agents' needs its values, "
                                         r"e.g. q\[i, l in 1..L\]"):
        load(THREE_GOODS.replace("q[i, l in 1..L] >= 0 with {with}", "q[i, l] >= 0").format())


# ---------------------------------------------------------------------------
# named agents as indices; scalar allocations and transfers


ONE_BUYER = """
agents {agents}
state v in {{0, 1/2, 1}}
prior uniform
allocate q[i] >= 0 with sum(q) <= 1
transfer t[i]
utility[i] = v * q[i] - t[i]
designer = sum(t)
"""


@pytest.mark.parametrize("k", [2, 3])
def test_a_named_agent_is_the_agents_index(k):
    """`agents buyer` with `allocate q[i]`, `transfer t[i]`, `utility[i]` (i ranges over the
    named agents) is the model with `agents i in 1..1`."""
    named = load(ONE_BUYER.format(agents="buyer"))
    numbered = load(ONE_BUYER.format(agents="i in 1..1"))
    assert named.agents == ("buyer",) and numbered.agents == ("1",)
    assert_same_arrays(named, numbered)
    assert_same_programs(named, numbered, k)
    assert_same_bounds(named, numbered, k)


@pytest.mark.parametrize("k", [2, 3])
def test_a_scalar_allocation_and_transfer_for_one_agent(k):
    """`allocate q >= 0 with q <= 1` and `transfer t` for one agent are q[i], t[i] with N = 1."""
    scalar = load("agents buyer\nstate v in {0, 1/2, 1}\nprior uniform\nallocate q >= 0 with q <= 1\ntransfer t\n"
                  "utility[buyer] = v * q - t\ndesigner = t\n")
    numbered = load(ONE_BUYER.format(agents="i in 1..1"))
    assert scalar.outcomes.names == ("q", "t")
    assert_same_arrays(scalar, numbered, {"q": "q[1]", "t": "t[1]"})
    assert_same_programs(scalar, numbered, k)
    assert_same_bounds(scalar, numbered, k)


CONSTANT_SUM_NAMED = """
model constant_sum_values
agents alice, bob
state (va, vb) in {(1, 0), (0, 1)}
prior uniform
allocate q[i] >= 0 with sum(q) <= 1
transfer t[i]
utility[alice] = va * q[alice] - t[alice]
utility[bob]   = vb * q[bob] - t[bob]
designer = t[alice] + t[bob]
"""


@pytest.mark.parametrize("k", [2, 3])
def test_named_agents_index_families_one_by_one(k):
    """`q[alice]` is alice's allocation: the constant-sum model of 001 Section 4.1 written
    with named agents is models/constant_sum_values.mech, whose UB is 1/2 (001 Section 4.1)."""
    named = load(CONSTANT_SUM_NAMED)
    numbered = rm.load_model(MODELS / "constant_sum_values.mech")
    assert_same_arrays(named, numbered)
    b = assert_same_bounds(named, numbered, k)
    assert b.upper.value == pytest.approx(0.5, abs=1e-8)


def test_two_new_index_names_with_named_agents_are_refused():
    text = ONE_BUYER.format(agents="buyer, seller").replace("transfer t[i]", "transfer t[j]")
    with pytest.raises(ModelError, match=r"m.mech:6:12: unknown agent 'j' \(the agents are buyer, seller\); "
                                         r"the agents' index of this file is 'i'"):
        load(text)


def test_the_agents_index_of_named_agents_has_a_value_only_per_agent():
    text = ONE_BUYER.format(agents="buyer").replace("designer = sum(t)", "designer = t[i]")
    with pytest.raises(ModelError, match=r"the agents' index 'i' has a value only inside `utility\[i\] = ...`"):
        load(text)


def test_scalar_forms_are_for_bayesian_models():
    """Prior-free models (000) keep one allocation and one transfer per agent."""
    from robustmech.model.elaborate_prior_free import elaborate_prior_free

    text = ("agents i in 1..1\ntypes theta[i] in {1, 2}\nallocate q >= 0\ntransfer t[i]\nic dominant\n"
            "participation ex_post\nutility[i] = theta[i] * q - t[i]\ndesigner = sum(t)\n")
    with pytest.raises(ModelError, match=r"m.mech:3:1: `allocate q` is for Bayesian models"):
        elaborate_prior_free(parse(text, "m.mech"))


# ---------------------------------------------------------------------------
# outcome families indexed by values


TRADE_AT_PRICES = """
model bilateral_trade
param vbar = 3.0
agents seller, buyer
state s in {0, vbar}
prior uniform
outcome no_trade, trade[p in {vbar, vbar - 1}]
let traded = [outcome != no_trade]
utility[seller] = traded * (p - s)
utility[buyer]  = traded * (s + vbar - 1 - p)
designer        = traded * (vbar - 1)
"""


@pytest.mark.parametrize("vbar, labels", [("3", ("trade[3]", "trade[2]")), ("1.5", ("trade[3/2]", "trade[1/2]"))])
@pytest.mark.parametrize("k", [2, 3])
def test_an_outcome_family_indexed_by_prices_is_the_model_with_the_prices_written_out(vbar, labels, k):
    """`outcome trade[p in {vbar, vbar - 1}]` with p the price in utilities is
    models/bilateral_trade.mech (trade_high at vbar, trade_low at vbar - 1, the price
    written with Iverson brackets)."""
    by_price = load(TRADE_AT_PRICES, {"vbar": vbar})
    written_out = rm.load_model(MODELS / "bilateral_trade.mech", {"vbar": vbar})
    assert by_price.outcomes.names == ("no_trade",) + labels
    assert_same_arrays(by_price, written_out,
                       {labels[0]: "trade_high", labels[1]: "trade_low"})
    assert_same_bounds(by_price, written_out, k)


def test_value_indexed_outcomes_are_named_by_exact_values():
    """trade[0.25] and trade[1/4] are the same outcome."""
    env = load("agents i in 1..1\nstate v in {0, 1}\nprior uniform\noutcome none, trade[p in {0.25, 0.5}]\n"
               "utility[i] = [outcome == trade[0.25]] * (v - p) + [outcome == trade[1/2]] * (v - p)\n"
               "designer = [outcome != none] * p\n")
    assert env.outcomes.names == ("none", "trade[1/4]", "trade[1/2]")
    assert [str(env.utility(0, o)) for o in env.outcomes.names] == ["0", "v - 1/4", "v - 1/2"]
    assert [str(env.designer_objective(o)) for o in env.outcomes.names] == ["0", "1/4", "1/2"]


def test_definitions_used_in_payoffs_see_the_outcome_index():
    """`let price = p` used in a utility is the price of the outcome being evaluated."""
    env = load("agents i in 1..1\nstate v in {0, 1}\nprior uniform\noutcome none, trade[p in {0.25, 0.5}]\n"
               "let price = p\nlet surplus[x] = x - price\n"
               "utility[i] = [outcome != none] * surplus[v]\ndesigner = [outcome != none] * price\n")
    assert [str(env.utility(0, o)) for o in env.outcomes.names] == ["0", "v - 1/4", "v - 1/2"]
    assert [str(env.designer_objective(o)) for o in env.outcomes.names] == ["0", "1/4", "1/2"]
    with pytest.raises(ModelError, match=r"m.mech:5:32: index out of range: trade\[3/10\] does not exist "
                                         r"\(its indices are 1/4, 1/2\)"):
        load("agents i in 1..1\nstate v in {0, 1}\nprior uniform\noutcome none, trade[p in {0.25, 0.5}]\n"
             "utility[i] = [outcome == trade[0.3]]\ndesigner = 0\n")


def test_an_outcome_index_has_no_value_at_other_outcomes():
    """`p` at no_trade, not multiplied by a factor that is 0 there."""
    text = TRADE_AT_PRICES.replace("traded * (vbar - 1)", "p")
    with pytest.raises(ModelError, match=r"m.mech:11:19: 'p' is the index of the outcome family trade\[p in ...\]: "
                                         r"it has a value only at those outcomes; here the outcome is no_trade"):
        load(text)


def test_a_value_index_must_not_hide_another_name():
    text = TRADE_AT_PRICES.replace("trade[p in", "trade[vbar in").replace("(p - s)", "s").replace(" - p)", ")")
    with pytest.raises(ModelError, match=r"m.mech:7:19: the index 'vbar' of the outcome family trade hides the "
                                         r"parameter of that name"):
        load(text)


# ---------------------------------------------------------------------------
# the examples of docs/language.md


def _model_blocks():
    text = (ROOT / "docs" / "language.md").read_text()
    blocks = re.findall(r"^```\n(.*?)^```", text, flags=re.S | re.M)
    return [b for b in blocks if b.startswith("model ") and "designer" in b]


@pytest.mark.parametrize("block", _model_blocks(), ids=lambda b: b.split()[1])
def test_every_whole_model_on_the_language_page_elaborates(block):
    """Each ```-block of docs/language.md that is a whole model file (it starts with
    `model` and has a designer objective) loads as written."""
    from robustmech.model.elaborate_prior_free import elaborate_prior_free, is_prior_free

    ast = parse(block, "docs.mech")
    env = elaborate_prior_free(ast) if is_prior_free(ast) else elaborate(ast)
    assert env.n_agents >= 1
