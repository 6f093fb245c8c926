"""Bad models get one line on stderr naming FILE:LINE:COL, and exit code 2.

Each case runs the real command line (``robustmech solve MODEL``) on a small file in
tests/bad_models/ (or on a bundled model with a bad ``--param``) and checks the exit
code, that stderr is a single line, the location, and the words of the message.
"""

from __future__ import annotations

import pathlib
import re

import pytest

from robustmech.cli import main
from robustmech.dsl import parse
from robustmech.errors import ModelError

HERE = pathlib.Path(__file__).resolve().parent
BAD = HERE / "bad_models"
MODELS = HERE.parent / "models"

# (file, line, column, words the message must contain)
CASES = [
    ("syntax_error.mech", 8, 37, "syntax error: the statement is incomplete at the end of line 8"),
    ("unknown_name.mech", 8, 14, "unknown name 'thetta'; did you mean 'theta'?"),
    ("index_out_of_range.mech", 8, 20, "index out of range: theta[3] does not exist"),
    ("prior_not_one.mech", 5, 1, "the prior sums to 9/10"),
    ("negative_probability.mech", 6, 12, "negative probability -1/2 for state 1"),
    ("nonlinear_utility.mech", 9, 1, "not linear in the outcome variables"),
    ("empty_states.mech", 5, 1, "the state set is empty"),
    ("duplicate_name.mech", 8, 5, "duplicate name 'E': already declared as a definition at line 7"),
    ("missing_designer.mech", 2, 1, "no designer objective"),
    ("no_participation.mech", 7, 1, "no outcome gives every agent a non-negative utility in state 0"),
    ("missing_file.mech", 9, 1, "file not found: 'no_such_file.npz'"),
    ("prior_set_length.mech", 6, 12, "prior 2 of the set: the prior has 3 entries for 2 states"),
    ("prior_set_not_one.mech", 5, 24, "prior 2 of the set: the prior sums to 3/4"),
    ("prior_set_negative.mech", 5, 27, "prior 2 of the set: negative probability -1/2 for state 1"),
    ("marginals_count.mech", 5, 7, "`prior marginals` needs one marginal per state coordinate (2: v[1], v[2]), got 3"),
    ("marginals_not_one.mech", 5, 17, "the marginal of v[1] sums to 3/4, not 1"),
    ("marginals_value.mech", 5, 48, "the marginal of v[2] gives probability 1/4 to the value 2, which no state has"),
    ("unknown_directive.mech", 10, 1, "unknown program 'nonsense'; choose one of guarantee, potential, dual"),
    ("restrict_unknown.mech", 9, 10, "unknown restriction 'anonymus'; did you mean 'anonymous'?"),
    ("restrict_budget_no_transfers.mech", 9, 1, "restrict budget_balanced: this model has no transfers"),
    ("restrict_losers_finite.mech", 9, 1, "restrict no_transfers_to_losers: this model has no allocations"),
    ("restrict_losers_two_goods.mech", 10, 1, "agent 1 values 2 allocation variables; the restriction needs one"),
    ("restrict_not_symmetric.mech", 9, 1, "restrict anonymous: no relabeling of the agents"),
    ("restrict_mixture_unknown.mech", 10, 34, "restrict mixture: no mechanism 'third_price'"),
    ("penalty_uses_outcome.mech", 5, 19, "'q' (outcome variable, line 6) cannot be used here"),
    ("penalty_in_set.mech", 5, 21, "syntax error: unexpected reserved word 'penalty'"),
    ("directive_option.mech", 10, 1, "`solve` takes no option 'color' (its options: k, solver, time_limit, symmetry)"),
    # the language's indices (tests/test_language_indices.py)
    ("good_index_out_of_range.mech", 9, 43,
     "index out of range: q[1, 3] does not exist (q[i, l] has i in 1, 2 and l in 1, 2)"),
    ("good_index_missing.mech", 9, 21, "q has 2 indices, got 1: write q[i, l]"),
    ("outcome_value_twice.mech", 6, 42, "the outcome family trade has the index value 1/4 twice"),
    ("unknown_agent.mech", 8, 9, "unknown agent 'sellr'; did you mean 'seller'? (the agents are seller, buyer)"),
    ("unknown_agent_index.mech", 9, 30, "unknown name 'byer'; did you mean 'buyer'?"),
    ("scalar_allocation_two_agents.mech", 6, 1,
     "`allocate q` without an index is for a model with one agent; this one has 2 agents"),
    # continuous priors (tests/test_continuous_priors.py)
    ("continuous_support.mech", 5, 18,
     "the support [0, 1] of the prior does not cover the state grid: the state v = 3/2 lies outside it"),
    ("continuous_negative_density.mech", 5, 26, "negative density: 2*v - 1/2 = -0.5 at v = 0"),
    ("continuous_not_integrable.mech", 5, 26,
     "the density integrates to infinity over [0, 1]: it must integrate to a positive finite number"),
    ("continuous_two_coordinates.mech", 5, 7,
     "a continuous prior is for a state with one coordinate; this state has 2 (v[1], v[2])"),
    ("continuous_unknown_distribution.mech", 5, 18,
     "unknown distribution 'normal' (a continuous prior is uniform(a, b), exponential(rate), density EXPR on "
     "[a, b] or mixture {w: D, ...})"),
    ("continuous_mixture_weights.mech", 5, 18, "the weights of the mixture sum to 3/4, not 1"),
    # the baseline signal (docs/language.md, "baseline")
    ("baseline_unknown.mech", 10, 10, "baseline: no information structure 'revealin'; did you mean 'revealing'? "
     "declare it with `information revealin { ... }` or `information revealin from \"file\"`"),
    ("baseline_not_information.mech", 10, 10, "baseline names an information structure; 'p' is a parameter"),
    ("baseline_twice.mech", 10, 1, "the baseline signal is declared twice (first at line 9)"),
    ("baseline_not_prior.mech", 9, 1,
     "information tilted: its marginal on the states is not the prior (state 0 has probability 0.25, the prior 0.5)"),
    ("baseline_ambiguous.mech", 9, 1, "a baseline signal with an ambiguous prior (prior marginals, prior in {...}, "
     "prior penalty) is not supported: declare a single prior"),
]


def run_cli(capsys, argv) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err


def assert_one_line_error(err: str, where: str, words: str) -> None:
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    assert lines[0].startswith(f"robustmech: error: {where}: "), lines[0]
    assert words in lines[0], lines[0]
    assert "Traceback" not in err and "__ANON" not in err and "Token(" not in err


@pytest.mark.parametrize("name, line, column, words", CASES, ids=[c[0] for c in CASES])
def test_bad_model_reports_file_line_column(capsys, name, line, column, words):
    path = str(BAD / name)
    code, err = run_cli(capsys, ["solve", path])
    assert code == 2
    assert_one_line_error(err, f"{path}:{line}:{column}", words)


def test_baseline_in_a_prior_free_model(capsys):
    """`baseline` in a model of 000 (robustmech refine), at the statement."""
    path = str(BAD / "baseline_prior_free.mech")
    code, err = run_cli(capsys, ["refine", path, "--criterion", "bayes"])
    assert code == 2
    assert_one_line_error(err, f"{path}:11:1", "a prior-free model has no prior and no information structures, so "
                          "no baseline signal: the agents know the type profile (000)")


@pytest.mark.parametrize("value", ["2.5", "abc", "[1, 2]"])
def test_integer_parameter_of_the_wrong_type(capsys, value):
    """N is declared `param N = 2` on line 11 of models/public_good.mech."""
    path = str(MODELS / "public_good.mech")
    code, err = run_cli(capsys, ["solve", path, "--param", f"N={value}"])
    assert code == 2
    assert_one_line_error(err, f"{path}:11:7", "parameter of the wrong type: N is an integer")


def test_real_parameter_rejects_a_word(capsys):
    path = str(MODELS / "public_good.mech")
    code, err = run_cli(capsys, ["solve", path, "--param", "vbar=three"])
    assert code == 2
    assert_one_line_error(err, f"{path}:12:7", "vbar is a number")


def test_unknown_parameter(capsys):
    path = str(MODELS / "public_good.mech")
    code, err = run_cli(capsys, ["solve", path, "--param", "M=3"])
    assert code == 2
    assert_one_line_error(err, path, "unknown parameter 'M' in --param (this model's parameters: N, vbar)")


def test_model_file_not_found(capsys):
    path = str(BAD / "does_not_exist.mech")
    code, err = run_cli(capsys, ["solve", path])
    assert code == 2
    assert_one_line_error(err, path, "cannot read model file")


# ------------------------------------------------------------- syntax errors in words


@pytest.mark.parametrize("text, line, column, words", [
    ("param N = 2 @", 1, 13, "unexpected character '@'"),
    ("let outcome = 3", 1, 5, "unexpected reserved word 'outcome'; expected a name"),
    ("state x = 3", 1, 9, "unexpected '='; expected one of '[', 'in'"),
    ("designer 3", 1, 10, "unexpected number 3; expected '='"),
    ("let x = a b", 1, 11, "unexpected name 'b'; expected an operator"),
    ("outcome paid_by[j in 1..2", 1, 26, "unexpected end of file; expected ']'"),
    ('model m "title', 1, 9, "unterminated string"),
])
def test_syntax_errors_say_what_was_expected(text, line, column, words):
    """Lark's UnexpectedToken / UnexpectedCharacters / UnexpectedEOF, in words."""
    with pytest.raises(ModelError) as info:
        parse(text, "m.mech")
    message = str(info.value)
    assert message.startswith(f"m.mech:{line}:{column}: "), message
    assert words in message
    assert not re.search(r"__ANON|[A-Z]{3,}_|\$END|LPAR|RSQB", message), message


def test_agents_must_be_a_count_or_names():
    """A bool is an int to Python; the builder refuses it instead of iterating over it."""
    import robustmech as rm

    with pytest.raises(ModelError, match="a count or a list of names"):
        rm.ModelBuilder("m").agents(True)
    assert rm.ModelBuilder("m").agents(2) == ("1", "2")
