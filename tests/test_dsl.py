"""The modeling language: parse + elaborate give the environments of the papers.

Sources: the public-good model of 004 Section 4.1 and its bilateral-trade
reinterpretation (end of 004 Section 4); the common value auction of 004 Section 2 /
001 Section 2. Every other test builds a small model for one construct of the
language (docs/language.md) and checks the numbers it elaborates to.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import robustmech as rm
from robustmech.dsl import parse
from robustmech.model.elaborate import elaborate

from conftest import MODELS, common_value_auction, public_good

R = sympy.Rational


def model(text: str, params=None, filename: str = "test.mech") -> rm.Environment:
    return elaborate(parse(text, filename), params or {})


# a small frame in which one statement at a time is varied
def finite(states: str, prior: str = "prior uniform", extra: str = "", utility: str = "utility[i] = 0",
           designer: str = "designer = 0") -> rm.Environment:
    return model(f"model t\nagents i in 1..2\n{states}\n{prior}\noutcome none, yes\n{extra}\n{utility}\n{designer}\n")


def assert_same_arrays(a: rm.LoweredEnvironment, b: rm.LoweredEnvironment) -> None:
    assert a.outcome_names == b.outcome_names
    np.testing.assert_array_equal(a.prior, b.prior)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.utility_coef, b.utility_coef)
    np.testing.assert_array_equal(a.utility_const, b.utility_const)
    np.testing.assert_array_equal(a.designer_coef, b.designer_coef)
    np.testing.assert_array_equal(a.designer_const, b.designer_const)
    for name in ("lower", "upper", "A_ub", "b_ub", "A_eq", "b_eq"):
        np.testing.assert_array_equal(getattr(a.polytope, name), getattr(b.polytope, name))


# ---------------------------------------------------------------- the bundled models


def test_public_good_file_equals_builder():
    """004 Section 4.1 (N = 2, vbar = 3): models/public_good.mech lowers to the same
    u[i, ω, θ], w[ω, θ] and μ as the model built with ModelBuilder (tests/conftest.py)."""
    env = rm.load_model(MODELS / "public_good.mech")
    assert env.name == "public_good" and env.params == {"N": 2, "vbar": 3}
    assert env.states.labels == ("(3, 0)", "(0, 3)")
    assert_same_arrays(rm.lower_environment(env), rm.lower_environment(public_good(2, 3)))
    u, w = rm.lower_environment(env).payoff_tables()
    # agent 1 in state (3, 0) when agent 2 pays: theta_1 * E - 0 = 3; when agent 1 pays: 3 - 1 = 2
    assert u[0, :, 0].tolist() == [0, 2, 3]
    assert w[:, 1].tolist() == [0, 2, 2]  # (sum(theta) - 1) * E
    assert env.directives == ({"program": "bounds", "k": 6},)


@pytest.mark.parametrize("n", [3, 4])
def test_public_good_param_override_changes_agents_and_states(n):
    """--param N=3 (a string, as from the command line) gives 3 agents, 3 states, 4
    outcomes: the same arrays as the builder's 004 Section 4.1 model with N agents."""
    env = rm.load_model(MODELS / "public_good.mech", {"N": str(n)})
    assert env.n_agents == n and env.n_states == n and len(env.outcomes) == n + 1
    assert env.params["N"] == n
    assert_same_arrays(rm.lower_environment(env), rm.lower_environment(public_good(n, 3)))


def test_public_good_override_of_a_real_parameter_stays_exact():
    """vbar = 2.5 from the command line is the rational 5/2 in every state coordinate."""
    env = rm.load_model(MODELS / "public_good.mech", {"vbar": "2.5"})
    assert env.states.points == ((R(5, 2), 0), (0, R(5, 2)))


def test_bilateral_trade_has_the_public_goods_bounds():
    """End of 004 Section 4: with N = 2 the public good is bilateral trade (seller's value
    s in {0, vbar}, buyer's s + vbar - 1). LB(3) and UB(3) agree with the public good's."""
    trade = rm.load_model(MODELS / "bilateral_trade.mech")
    good = rm.load_model(MODELS / "public_good.mech")
    assert trade.agents == ("seller", "buyer")
    # seller's utility at trade_low (price vbar - 1 = 2) is 2 - s; buyer's at trade_high is s + 2 - 3
    s = trade.states.symbols[0]
    assert trade.utility(0, "trade_low") == 2 - s and trade.utility(1, "trade_high") == s - 1
    bt, pg = rm.bounds(trade, 3), rm.bounds(good, 3)
    assert bt.lower.value == pytest.approx(pg.lower.value, abs=1e-9)
    assert bt.upper.value == pytest.approx(pg.upper.value, abs=1e-9)
    # and both brackets contain the max guarantee λ of (15)-(17) of 004 (Theorem 1)
    from robustmech.symbolic.public_good import public_good_solution

    assert bt.lower.value <= public_good_solution(2, 3).guarantee <= bt.upper.value


# ---------------------------------------------------------------- parameters


def test_param_values_are_exact_and_usable_everywhere():
    """Reals are exact rationals; params work in ranges, grids, sets and payoffs;
    a param may be defined from earlier ones and follows their overrides."""
    text = """
    model t
    param N = 2
    param M = N + 1          # grid size follows N
    param p = 0.4
    agents i in 1..N
    state v in grid(0, p, M)
    prior uniform
    outcome none, yes
    utility[i] = v * [outcome == yes]
    designer = p * [outcome == yes]
    """
    env = model(text)
    assert env.params["p"] == R(2, 5) and env.params["M"] == 3
    assert env.states.points == ((0,), (R(1, 5),), (R(2, 5),))
    assert env.designer == (0, R(2, 5))
    env3 = model(text, {"N": "3"})
    assert env3.n_agents == 3 and env3.n_states == 4
    assert env3.states.points[1] == (R(2, 15),)


def test_list_param_and_its_override():
    """A list parameter is a set of states and is indexed from 1; --param values=[0,1] replaces it."""
    text = """
    model t
    param values = [0, 0.5, 1]
    agents i in 1..2
    state v in values
    prior uniform
    outcome none, yes
    utility[i] = (v - values[1]) * [outcome == yes]
    designer = 0
    """
    assert model(text).states.points == ((0,), (R(1, 2),), (1,))
    assert model(text, {"values": "[0, 1]"}).states.points == ((0,), (1,))


# ---------------------------------------------------------------- states


def test_grid_gives_n_evenly_spaced_points():
    """grid(0, 1, 11) is {0, 0.1, ..., 1} (the value grid of 001 Section 5.3)."""
    env = finite("state v in grid(0, 1, 11)")
    assert env.states.points == tuple((R(m, 10),) for m in range(11))
    assert env.states.prior == (R(1, 11),) * 11


def test_explicit_tuples_and_named_indexed_coordinates():
    env = finite("state theta[1..2] in {(3, 0), (0, 3), (1, 1)}")
    assert [s.name for s in env.states.symbols] == ["theta[1]", "theta[2]"]
    assert env.states.points == ((3, 0), (0, 3), (1, 1))


def test_comprehension_with_unit_vectors_and_condition():
    """{ vbar * unit(j) for j in 1..N }: the public good's states (004 Section 4.1);
    nested for-clauses with an if-filter enumerate ordered pairs."""
    env = finite("state theta[1..3] in { 2 * unit(j) for j in 1..3 }")
    assert env.states.points == ((2, 0, 0), (0, 2, 0), (0, 0, 2))
    env = finite("state (a, b) in { (x, y) for x in 0..2 for y in 0..2 if x < y }")
    assert env.states.points == ((0, 1), (0, 2), (1, 2))


def test_set_power_and_product():
    """grid(0,1,3)^2 and product(A, B) are Cartesian products, first coordinate slowest."""
    env = finite("state v[1..2] in grid(0, 1, 3)^2")
    assert len(env.states) == 9 and env.states.points[1] == (0, R(1, 2)) and env.states.points[3] == (R(1, 2), 0)
    env = finite("state (s, b) in product({0, 1}, {0, 2, 4})")
    assert env.states.points == ((0, 0), (0, 2), (0, 4), (1, 0), (1, 2), (1, 4))


# ---------------------------------------------------------------- priors


def test_prior_table_by_state_and_list():
    """A table keyed by state (unlisted states get 0) and a list in state order."""
    env = finite("state theta[1..2] in {(3, 0), (0, 3), (1, 1)}", "prior { (0, 3): 0.25, (3, 0): 0.75 }")
    assert env.states.prior == (R(3, 4), R(1, 4), 0)
    env = finite("state v in {0, 1, 2}", "prior [0.2, 0.3, 0.5]")
    assert env.states.prior == (R(1, 5), R(3, 10), R(1, 2))


def test_independent_prior_is_the_product_of_marginals():
    """μ(v1, v2) = f(v1) f(v2) with f = (0.2, 0.3, 0.5) on {0, 0.5, 1}; and one marginal
    per coordinate, `uniform` meaning uniform over the coordinate's values."""
    env = finite("state v[1..2] in grid(0, 1, 3)^2", "prior independent { 0: 0.2, 0.5: 0.3, 1: 0.5 }")
    mu = dict(zip(env.states.points, env.states.prior))
    assert mu[(0, 1)] == R(1, 10) and mu[(1, 1)] == R(1, 4) and mu[(R(1, 2), 0)] == R(3, 50)
    assert sum(env.states.prior) == 1
    env = finite("state (s, b) in product({0, 1}, {0, 2, 4})", "prior independent { 0: 0.4, 1: 0.6 }, uniform")
    assert dict(zip(env.states.points, env.states.prior))[(1, 4)] == R(1, 5)


def test_density_prior_is_normalised_over_the_points():
    """prior density 1 + v on {0, 0.5, 1}: weights 1, 1.5, 2, normalised to 2/9, 1/3, 4/9."""
    env = finite("state v in grid(0, 1, 3)", "prior density 1 + v")
    assert env.states.prior == (R(2, 9), R(1, 3), R(4, 9))


def test_table_comprehension_prior():
    env = finite("state v in 1..3", "prior { x: x / 6 for x in 1..3 }")
    assert env.states.prior == (R(1, 6), R(1, 3), R(1, 2))


# ---------------------------------------------------------------- outcomes and expressions


def test_continuous_outcomes_equal_the_builders_auction():
    """allocate q[i] >= 0 with sum(q) <= 1; transfer t[i]; u_i = v q_i - t_i, w = sum(t):
    the common value auction of 004 Section 2 / 001 Section 2, as in tests/conftest.py."""
    env = model("""
    model common_value_auction
    param N = 2
    agents i in 1..N
    state v in {0, 0.5, 1}
    prior uniform
    allocate q[i] >= 0 with sum(q) <= 1
    transfer t[i]
    utility[i] = v * q[i] - t[i]
    designer   = sum(t)
    """)
    assert env.outcomes.roles == ("allocation", "allocation", "transfer", "transfer")
    assert_same_arrays(rm.lower_environment(env), rm.lower_environment(common_value_auction(2, (0, 0.5, 1))))


def test_variables_bounds_and_constraint_families():
    env = model("""
    model t
    agents i in 1..2
    state v in {1, 2}
    prior uniform
    variable x[j in 1..2] in [0, 1]
    variable y >= -1
    constraint x[j] <= y + 0.5 for j in 1..2
    constraint sum(x) == 1
    utility[i] = v * x[i] - y
    designer = y
    """)
    poly = rm.lower_environment(env, check=False).polytope
    assert poly.names == ("x[1]", "x[2]", "y")
    assert poly.lower.tolist() == [0, 0, -1] and poly.upper.tolist() == [1, 1, np.inf]
    assert poly.A_ub.tolist() == [[1, 0, -1], [0, 1, -1]] and poly.b_ub.tolist() == [0.5, 0.5]
    assert poly.A_eq.tolist() == [[1, 1, 0]] and poly.b_eq.tolist() == [1]


def test_iverson_brackets_min_max_abs_and_indexed_let():
    """Payoffs are evaluated once per outcome: [outcome == ...] is 1 there, 0 elsewhere;
    a condition on the state is a 0/1 function of the state."""
    env = finite(
        "state v in {0, 1, 2}",
        extra="let bonus[o] = o * [v >= 1]\nlet gain = max(v - 1, 0) + min(v, 1) + abs(v - 2)",
        utility="utility[i] = gain * [outcome == yes] + bonus[i] * [outcome != yes]",
        designer="designer = sum(v * k for k in 1..3) * [outcome in {yes}]",
    )
    low = rm.lower_environment(env, check=False)
    u, w = low.payoff_tables()
    # gain at v = 0, 1, 2: 0 + 0 + 2, 0 + 1 + 1, 1 + 1 + 0
    assert u[0, 1].tolist() == [2, 2, 2]
    assert u[1, 0].tolist() == [0, 2, 2]  # bonus[2] = 2 * [v >= 1] at outcome none
    assert w[1].tolist() == [0, 6, 12] and w[0].tolist() == [0, 0, 0]


def test_named_agents_and_per_agent_utilities():
    env = model("""
    model t
    agents seller, buyer
    state s in {0, 1}
    prior uniform
    outcome no_trade, trade
    utility[seller] = [outcome == trade] * (1 - s)
    utility[buyer] = [outcome == trade] * s
    designer = [outcome == trade]
    """)
    assert env.agents == ("seller", "buyer")
    assert env.utility(0, "trade") == 1 - env.states.symbols[0]


# ---------------------------------------------------------------- directives, mechanisms, information


def test_directives_are_recorded():
    env = finite("state v in {0, 1}", extra="solve guarantee k = 6, time_limit = 60\nbounds k = 4..8")
    assert env.directives == ({"program": "guarantee", "k": 6, "time_limit": 60},
                              {"program": "bounds", "k": [4, 5, 6, 7, 8]})


def test_inline_information_structure():
    """I = (S, σ) written as a joint table over (s_1, s_2, θ): 004 Section 2. Agent 1
    learns the state, agent 2 nothing; the marginal on Θ is the prior."""
    env = finite("state v in {0, 1}", extra="""
    information revealing {
        signals[1] = {0, 1}
        signals[2] = {0}
        joint { (0, 0, 0): 0.5, (1, 0, 1): 0.5 }
    }""")
    info = env.information_structures["revealing"]
    assert info.joint.shape == (2, 1, 2)
    np.testing.assert_array_equal(info.joint[:, 0, :], [[0.5, 0], [0, 0.5]])
    np.testing.assert_array_equal(info.signals[0], [0, 1])


def test_information_from_npz_and_from_a_saved_result(tmp_path):
    """information I from "file", read by the real loader: a plain .npz holding the joint
    (|S_1| x |S_2| x |Θ|) and the signal labels comes back as written; a result saved by a
    UB-P-3 solve of 004 Section 4's public good comes back with its σ, and the exact
    potential of that structure is at most UB(3) (Theorem 1 of 004: P̄(σ) >= P(σ)) and at
    least the guarantee LB(3) of the LB-G-3 mechanism (G(M) <= P(I), 003 Section 2)."""
    joint = np.zeros((2, 2, 2))
    joint[0, 0, 0] = joint[1, 1, 1] = 0.5  # each agent sees v
    np.savez(tmp_path / "i.npz", joint=joint, signals_0=np.array([0, 1]), signals_1=np.array([0, 1]))
    path = tmp_path / "t.mech"
    path.write_text("model t\nagents i in 1..2\nstate v in {0, 1}\nprior uniform\noutcome none, yes\n"
                    "utility[i] = v * [outcome == yes]\ndesigner = 0\ninformation seen from \"i.npz\"\n")
    info = rm.load_model(path).information_structures["seen"]
    np.testing.assert_array_equal(info.joint, joint)
    np.testing.assert_array_equal(info.signals[0], [0, 1])

    upper = rm.solve(public_good(2, 3), "potential", 3)
    upper.save(str(tmp_path / "ub.json"))
    model = tmp_path / "pg.mech"
    model.write_text((MODELS / "public_good.mech").read_text() + '\ninformation ub from "ub.json"\n')
    env = rm.load_model(model)
    loaded = env.information_structures["ub"]
    np.testing.assert_allclose(loaded.joint, upper.information.joint, rtol=0, atol=0)
    exact = rm.potential(env, loaded).value
    lower = rm.solve(public_good(2, 3), "guarantee", 3).value
    assert lower - 1e-7 <= exact <= upper.value + 1e-7


def test_mechanism_from_npz(tmp_path):
    """mechanism M from "file.npz": arrays rule (|A_1| x |A_2| x |Ω|) and actions_i."""
    rule = np.zeros((2, 2, 2))
    rule[..., 0] = 1
    rule[1, 1] = [0, 1]
    np.savez(tmp_path / "m.npz", rule=rule, actions_0=np.array([0, 1]), actions_1=np.array([0, 1]))
    path = tmp_path / "t.mech"
    path.write_text("model t\nagents i in 1..2\nstate v in {0, 1}\nprior uniform\noutcome none, yes\n"
                    "utility[i] = v * [outcome == yes]\ndesigner = 0\nmechanism both from \"m.npz\"\nevaluate both\n")
    env = rm.load_model(path)
    mech = env.mechanisms["both"]
    np.testing.assert_array_equal(mech.rule, rule)
    assert mech.outcome_names == ("none", "yes")
    assert env.directives == ({"program": "evaluate", "mechanism": "both"},)


def _nodes(value):
    """Every AST node reachable from ``value`` (dataclass fields, lists, tuples, dicts)."""
    import dataclasses

    from robustmech.dsl.ast import Node

    if isinstance(value, Node):
        yield value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _nodes(getattr(value, f.name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _nodes(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _nodes(item)


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.mech")), ids=lambda p: p.stem)
def test_every_node_has_a_location(path):
    """Each AST node of every bundled model records file:line:col, within the file: a
    line from 1 to the file's last, a column from 1 to that line's length."""
    text = path.read_text()
    lines = text.splitlines()
    nodes = list(_nodes(parse(text, path.name)))
    assert len(nodes) > 10
    for node in nodes:
        loc = node.loc
        assert loc.file == path.name, node
        assert 1 <= loc.line <= len(lines), node
        assert 1 <= loc.column <= len(lines[loc.line - 1]), node


def test_node_locations_point_at_the_statement_and_its_value():
    """`let E = [...]` on line 24 of models/public_good.mech: the statement at column 1,
    its value at column 9."""
    ast = parse((MODELS / "public_good.mech").read_text(), "public_good.mech")
    let = [s for s in ast.statements if type(s).__name__ == "LetStmt"][0]
    assert (let.loc.line, let.loc.column) == (24, 1)
    assert (let.value.loc.line, let.value.loc.column) == (24, 9)


def test_irrational_density_is_normalised_to_exactly_one():
    """prior density exp(-v) on grid(0, 1, 31): μ(v) = e^{-v} / Σ e^{-v'} (normalised
    over the points, docs/language.md), stored as decimals that sum to exactly 1."""
    env = finite("state v in grid(0, 1, 31)", "prior density exp(-v)")
    weights = np.exp(-np.arange(31) / 30)
    np.testing.assert_allclose(env.states.prior_array(), weights / weights.sum(), rtol=0, atol=1e-15)
    assert sum(env.states.prior) == 1
