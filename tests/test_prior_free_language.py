"""Prior-free environments of 000 (Kambhampati) in the modeling language.

The model files ``models/screening.mech``, ``models/auction_discrete_types.mech`` and
``models/public_good_two_types.mech`` must elaborate to the same arrays as the built-in
environments of :mod:`robustmech.model.prior_free`, and ``robustmech refine`` on each file
must reproduce the numbers of 000 that ``tests/test_lexicographic.py`` asserts for the
built-in ones. Bad prior-free files give one line naming file:line:col and exit code 2.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from fractions import Fraction

import numpy as np
import pytest
import sympy

import robustmech as rm
from robustmech.cli import main
from robustmech.dsl import ast as A
from robustmech.dsl.parser import parse
from robustmech.errors import ModelError, UnsupportedError
from robustmech.lower.prior_free import lower_prior_free
from robustmech.model.elaborate_prior_free import load_prior_free
from robustmech.model.prior_free import auction, public_good, screening

MODELS = pathlib.Path(__file__).resolve().parent.parent / "models"
SCREENING = str(MODELS / "screening.mech")
AUCTION = str(MODELS / "auction_discrete_types.mech")
PUBLIC_GOOD = str(MODELS / "public_good_two_types.mech")


def assert_same_arrays(a, b):
    """Every array of two lowered environments is equal (exact Fractions or floats)."""
    assert a.slots == b.slots
    for f in dataclasses.fields(a):
        if f.name in ("env", "slots"):
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.shape == y.shape, f.name
            assert (x == y).all(), f.name
        else:
            assert x == y, f.name


def refine_json(capsys, path, *args):
    assert main(["refine", path, "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


# -- the model files elaborate to the built-in environments of 000 ----------------------


@pytest.mark.parametrize("path, params, builtin", [
    (SCREENING, {}, lambda: screening((1, 2))),                                   # 000 Examples 1-2
    (SCREENING, {"thetas": "[1, 2, 3]"}, lambda: screening((1, 2, 3))),           # 000 Example 3
    (SCREENING, {"thetas": "[1, 2, 3]", "N": "2"}, lambda: screening((1, 2))),
    (AUCTION, {}, lambda: auction(2, (1, 2, 3))),                                 # 000 Proposition 10
    (AUCTION, {"I": "3", "N": "2"}, lambda: auction(3, (1, 2))),
    (PUBLIC_GOOD, {}, lambda: public_good(3)),                                    # 000 Figure 1
    (PUBLIC_GOOD, {"I": "4", "theta_l": "-1/4", "gamma": "0.25"},
     lambda: public_good(4, theta_l=sympy.Rational(-1, 4), gamma=sympy.Rational(1, 4))),
])
def test_files_elaborate_to_the_builtin_environments(path, params, builtin):
    """000 Sections 3-5: the file and the builder give the same environment and arrays
    (full and anonymous programs, floating and exact)."""
    env, ref = load_prior_free(path, params), builtin()
    assert env.type_grids == ref.type_grids
    assert [v.name for v in env.variables] == [v.name for v in ref.variables]
    assert env.variables == ref.variables
    assert [sympy.expand(u - r) for u, r in zip(env.utilities, ref.utilities)] == [0] * env.n_agents
    assert sympy.expand(env.designer - ref.designer) == 0
    assert (env.incentive, env.participation) == (ref.incentive, ref.participation)
    assert {(c.sense, c.rhs, c.coefficients) for c in env.constraints} == \
           {(c.sense, c.rhs, c.coefficients) for c in ref.constraints}
    assert_same_arrays(lower_prior_free(env), lower_prior_free(ref))
    assert_same_arrays(lower_prior_free(env, exact=True), lower_prior_free(ref, exact=True))
    if env.n_agents > 1:
        assert_same_arrays(lower_prior_free(env, anonymous=True), lower_prior_free(ref, anonymous=True))


def test_file_locations_name_the_statements():
    """Every builder call got the location of its statement (000 models, errors name file:line:col)."""
    env = load_prior_free(AUCTION)
    assert env.name == "auction_discrete_types" and env.path == AUCTION
    assert env.locations["types"].line == 19 and env.locations["types"].file == AUCTION
    assert env.locations["incentive"].line == 24 and env.locations["participation"].line == 25
    assert env.locations[("utility", 1)].line == 27 and env.locations["designer"].line == 28


# -- robustmech refine on the files reproduces 000 ---------------------------------------


@pytest.mark.parametrize("criterion", ["perfect", "proper"])
def test_refine_screening_file(capsys, criterion):
    """Propositions 6-7 and Example 2 of 000 (θ = (1, 2)): the perfectly and properly robust
    mechanism is efficient and maximal, qualities (1, 2) and prices (1, 3), payoffs (1/2, 1)."""
    out = refine_json(capsys, SCREENING, "--criterion", criterion)
    assert out["model"] == "screening" and out["profiles"] == ["(1)", "(2)"]
    np.testing.assert_allclose(out["mechanism"]["outcomes"]["P[1]"], [1, 3], atol=1e-6)
    np.testing.assert_allclose(out["mechanism"]["outcomes"]["Q[1]"], [1, 0], atol=1e-6)
    np.testing.assert_allclose(out["mechanism"]["outcomes"]["Q[2]"], [0, 1], atol=1e-6)
    np.testing.assert_allclose(out["payoffs"], [0.5, 1.0], atol=1e-7)
    assert out["certificate"]["checks"]["passed"]


def test_refine_screening_file_three_types(capsys):
    """Proposition 7 of 000 with θ = (1, 2, 3): prices (1, 3, 6) from (3), also in the relaxed
    space M' (`ic dominant adjacent`, or --adjacent), re-verified exactly."""
    out = refine_json(capsys, SCREENING, "-p", "thetas=[1, 2, 3]", "--criterion", "proper", "--exact")
    np.testing.assert_allclose(out["mechanism"]["outcomes"]["P[1]"], [1, 3, 6], atol=1e-6)
    assert out["exact"]["passed"] and out["exact"]["payoffs"] == ["1/2", "1", "3/2"]
    out = refine_json(capsys, SCREENING, "-p", "thetas=[1, 2, 3]", "--criterion", "proper", "--adjacent")
    assert out["incentive"] == "adjacent"
    np.testing.assert_allclose(out["mechanism"]["outcomes"]["P[1]"], [1, 3, 6], atol=1e-6)


def test_refine_auction_file(capsys):
    """Proposition 10 of 000, I = 2, N = 3: the properly robust revenue over the nine profiles
    is {1, 1.5 x4, 2, 2.5 x2, 3}, re-verified in exact arithmetic."""
    out = refine_json(capsys, AUCTION, "--criterion", "proper", "--exact")
    assert sorted(out["payoffs"]) == pytest.approx([1, 1.5, 1.5, 1.5, 1.5, 2, 2.5, 2.5, 3], abs=1e-6)
    assert out["certificate"]["checks"]["passed"] and out["exact"]["passed"]
    assert sorted(Fraction(p) for p in out["exact"]["payoffs"]) == \
        [Fraction(x) for x in ("1", "3/2", "3/2", "3/2", "3/2", "2", "5/2", "5/2", "3")]


def test_refine_public_good_file(capsys):
    """Proposition 13 and Figure 1 of 000 (θ_h = 1, θ_ℓ = 0, γ = 1/2, I = 3): the properly
    robust provision probability is (0, 0, 3/7, 1) by the number of high types, payoffs 3/14
    where it is positive; exact."""
    out = refine_json(capsys, PUBLIC_GOOD, "--criterion", "proper", "--exact")
    expected = [Fraction(0), Fraction(0), Fraction(3, 7), Fraction(1)]
    highs = [label.count("1") for label in out["profiles"]]
    assert [Fraction(q) for q in out["exact"]["outcomes"]["Q"]] == [expected[k] for k in highs]
    assert set(out["exact"]["payoffs"]) == {"0", "3/14"}
    assert out["exact"]["passed"]


def test_public_good_as_a_lottery_over_two_outcomes(tmp_path, capsys):
    """000 Section 5 with the provision decision written as a finite outcome set (a lottery
    over {no, yes} with transfers beside it): the same provision probabilities (0, 0, 3/7, 1)."""
    path = tmp_path / "pg_lottery.mech"
    path.write_text(
        "param I = 3\nagents i in 1..I\ntypes theta[i] in {0, 1}\n"
        "outcome no, yes\ntransfer P[i]\nic dominant\nparticipation ex_post\n"
        "let provide = [outcome == yes]\n"
        "utility[i] = theta[i] * provide - P[i]\ndesigner = sum(P) - 0.5 * I * provide\n")
    env = load_prior_free(path)
    assert [v.name for v in env.variables] == ["no", "yes", "P[1]", "P[2]", "P[3]"]
    out = refine_json(capsys, str(path), "--criterion", "proper")
    highs = [label.count("1") for label in out["profiles"]]
    np.testing.assert_allclose(out["mechanism"]["outcomes"]["yes"], [[0, 0, 3 / 7, 1][k] for k in highs], atol=1e-7)


# -- the statements ------------------------------------------------------------------------


def test_parse_prior_free_statements():
    """The three statements added for 000 parse with their locations."""
    ast = parse("agents i in 1..2\ntypes theta[i] in {1, 2}\nic dominant adjacent\nparticipation ex_post\n", "m.mech")
    types, ic, ir = ast.statements[1:]
    assert isinstance(types, A.TypesStmt) and (types.name, types.var) == ("theta", "i")
    assert str(types.loc) == "m.mech:2:1" and str(types.var_loc) == "m.mech:2:13"
    assert isinstance(ic, A.IncentiveStmt) and (ic.kind, ic.modifier) == ("dominant", "adjacent")
    assert str(ic.modifier_loc) == "m.mech:3:13"
    assert isinstance(ir, A.ParticipationStmt) and ir.kind == "ex_post"
    # the words after ic / participation stay names: `none` is still an outcome name elsewhere
    assert parse("outcome none\n").statements[0].decls[0].name == "none"


def test_per_agent_grids_and_named_agents(tmp_path):
    """Type grids may differ across agents (000 allows any finite grids Θ^i); named agents
    index per-agent families by 1..I. `ic dominant adjacent` gives the relaxed space M'."""
    path = tmp_path / "m.mech"
    path.write_text("agents i in 1..2\ntypes theta[i] in {i, i + 2}\nallocate q[i] >= 0 with sum(q) <= 1\n"
                    "transfer t[i]\nic dominant adjacent\nparticipation none\n"
                    "utility[i] = theta[i] * q[i] - t[i]\ndesigner = sum(t)\n")
    env = load_prior_free(path)
    assert env.type_grids == ((1, 3), (2, 4)) and env.incentive == "adjacent" and env.participation == "none"
    path.write_text("agents seller, buyer\ntypes theta[k] in [1, 2]\nvariable x in [0, 2]\ntransfer t[j in 1..2]\n"
                    "ic dominant\nparticipation ex_post\nutility[seller] = t[1] - theta[seller] * x\n"
                    "utility[buyer] = theta[buyer] * x - t[2]\ndesigner = t[2] - t[1]\n")
    env = load_prior_free(path)
    assert env.agents == ("seller", "buyer") and env.n_profiles == 4
    assert [v.agent for v in env.variables] == [None, 0, 1]


def test_load_model_refuses_a_prior_free_file(capsys):
    """robustmech.load_model (and every Bayesian command) says to use refine, exit 2."""
    with pytest.raises(UnsupportedError, match="this is a prior-free model: use robustmech refine"):
        rm.load_model(SCREENING)
    assert main(["solve", AUCTION]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{AUCTION}:19:1: this is a prior-free model: use robustmech refine" in err[0]


def test_refine_refuses_a_bayesian_file(capsys):
    """A model of 004 (states and a prior) is not a prior-free model of 000."""
    path = str(MODELS / "public_good.mech")
    assert main(["refine", path]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "this is a Bayesian model" in err[0] and f"{path}:17:1" in err[0]


# -- bad prior-free files: one line, file:line:col, exit 2 ---------------------------------

GOOD = """param I = 2
agents i in 1..I
types theta[i] in {1, 2}
allocate Q[i] >= 0 with sum(Q) <= 1
transfer P[i]
ic dominant
participation ex_post
utility[i] = theta[i] * Q[i] - P[i]
designer = sum(P)
"""


def bad(line: int, old: str, new: str) -> str:
    lines = GOOD.splitlines()
    assert old in lines[line - 1], (line, old)
    lines[line - 1] = lines[line - 1].replace(old, new)
    return "\n".join(lines) + "\n"


BAD = [
    ("ic_unknown", bad(6, "dominant", "bayesian"), (6, 4), "unknown incentive constraints 'bayesian'"),
    ("ic_modifier", bad(6, "dominant", "dominant upward"), (6, 13), "unexpected 'upward' after `ic dominant`"),
    ("ic_missing", bad(6, "ic dominant", ""), (1, 1), "no incentive constraints declared"),
    ("participation_unknown", bad(7, "ex_post", "interim"), (7, 15), "unknown participation constraints 'interim'"),
    ("participation_twice", GOOD + "participation none\n", (10, 1), "participation constraints are declared twice"),
    ("types_not_increasing", bad(3, "{1, 2}", "[2, 1]"), (3, 1), "strictly increasing"),
    ("types_not_numbers", bad(3, "{1, 2}", "{(1, 2)}"), (3, 19), "a type must be a number"),
    ("types_index", bad(3, "theta[i]", "theta[j]"), (3, 13), "must be the agents' index"),
    ("types_twice", GOOD + "types kappa[i] in {1}\n", (10, 1), "types are declared twice"),
    ("types_unknown_name", bad(3, "{1, 2}", "{1, thetta}"), (3, 23), "unknown name 'thetta'"),
    ("nonlinear_utility", bad(8, "Q[i] - P[i]", "Q[i]^2 - P[i]"), (8, 1), "not linear"),
    ("state_in_prior_free", GOOD + "state v in {1, 2}\n", (10, 1), "has no state set"),
    ("prior_in_prior_free", GOOD + "prior uniform\n", (10, 1), "has no prior"),
    ("directive", GOOD + "solve guarantee k = 4\n", (10, 1), "`solve` directives are for Bayesian models"),
    ("syntax", bad(3, "in {1, 2}", "{1, 2}"), (3, 16), "syntax error"),
    ("no_designer", bad(9, "designer = sum(P)", ""), (1, 1), "no designer payoff"),
    ("lottery_times_transfer", GOOD.replace("allocate Q[i] >= 0 with sum(Q) <= 1", "outcome Q[q in {0, 1}]")
     .replace("theta[i] * Q[i] - P[i]", "theta[i] * q - q * P[i]"), (8, 1), "not linear in the outcome"),
    ("outcome_index_outside", GOOD.replace("allocate Q[i] >= 0 with sum(Q) <= 1", "outcome Q[q in {0, 1}]")
     .replace("theta[i] * Q[i]", "theta[i] * q") + "constraint P[1] <= q\n", (10, 20),
     "'q' is the index of the outcome family"),
]


@pytest.mark.parametrize("name, text, where, message", BAD, ids=[b[0] for b in BAD])
def test_bad_prior_free_files(tmp_path, capsys, name, text, where, message):
    """Bad input to `robustmech refine`: exit 2, one line naming file:line:col."""
    path = tmp_path / f"{name}.mech"
    path.write_text(text)
    assert main(["refine", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"{path}:{where[0]}:{where[1]}:" in err[0], err[0]
    assert message in err[0], err[0]


def test_bad_parameter_override(capsys):
    """--param is typed against the file's declarations (000 Section 4 auction: I is an integer)."""
    assert main(["refine", AUCTION, "-p", "I=2.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{AUCTION}:15:7:" in err[0] and "parameter of the wrong type" in err[0]
    assert main(["refine", SCREENING, "-p", "N=3"]) == 2  # only two types listed in thetas
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{SCREENING}:19:" in err[0] and "index out of range" in err[0]
    with pytest.raises(ModelError, match="unknown parameter 'K'"):
        load_prior_free(PUBLIC_GOOD, {"K": "1"})
