"""Bad input found by mutating the bundled models: each gets one line on
stderr naming file:line:col where there is a place to name, and exit 2; no traceback,
no hang, no memory eaten.

Each case writes a copy of a bundled model with one change, runs the real command line
on it and checks the whole error line.
"""

from __future__ import annotations

import pathlib

import pytest

import robustmech as rm
from robustmech.cli import main
from robustmech.lower import size

MODELS = pathlib.Path(__file__).resolve().parents[1] / "models"


def variant(tmp_path, model: str, old: str, new: str, name: str = "bad.mech") -> str:
    """A copy of models/<model> with ``old`` replaced by ``new`` (once)."""
    text = (MODELS / model).read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return str(path)


def error_line(capsys, argv) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip("\n").split("\n")
    if lines[0].startswith("solving ") and len(lines) == 2:
        lines = lines[1:]  # the command's own line before a solve starts
    assert code == 2, captured.err
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith("robustmech: error: "), lines[0]
    return lines[0][len("robustmech: error: "):]


# ------------------------------------------------------------------ model text


def test_a_file_that_is_not_utf8(capsys, tmp_path):
    path = tmp_path / "latin1.mech"
    path.write_bytes(b"model m\n# caf\xe9\nparam N = 2\n")
    assert error_line(capsys, ["solve", str(path)]) == \
        f"{path}:2:6: the model file is not UTF-8 text: byte 0xe9 cannot be decoded"


def test_a_sum_of_500_terms_loads(tmp_path):
    """The parser and the evaluator walk a + b + ... without recursion (it was a
    RecursionError, a 3,000-line traceback)."""
    path = variant(tmp_path, "public_good.mech", "designer   = (sum(theta) - 1) * E",
                   "designer   = (sum(theta) - 1) * E" + " + 0 * E - 0" * 250)
    env = rm.load_model(path)
    assert env.designer == rm.load_model(MODELS / "public_good.mech").designer


def test_600_nested_brackets(capsys, tmp_path):
    path = variant(tmp_path, "public_good.mech", "designer   = (sum(theta) - 1) * E",
                   "designer   = " + "[" * 600 + "sum(theta) - 1" + "]" * 600 + " * E")
    # the 60th bracket (at depth 61 below the statement), at column 14 + 59
    assert error_line(capsys, ["solve", path]) == \
        f"{path}:26:73: expression nested too deeply (more than 60 levels of brackets, calls or operators)"


def test_600_nested_negations(capsys, tmp_path):
    path = variant(tmp_path, "public_good.mech", "designer   = (sum(theta) - 1) * E",
                   "designer   = " + "-(" * 600 + "sum(theta) - 1" + ")" * 600 + " * E")
    assert error_line(capsys, ["solve", path]) == \
        f"{path}:26:132: expression nested too deeply (more than 60 levels of brackets, calls or operators)"


def test_definitions_nested_too_deeply(capsys, tmp_path):
    chain = "".join(f"let x{i} = x{i - 1} + 1\n" for i in range(1, 1500))
    path = variant(tmp_path, "public_good.mech", "let E = [outcome != none]",
                   "let x0 = 0\n" + chain + "let E = [outcome != none] + 0 * x1499")
    assert error_line(capsys, ["solve", path]) == \
        (f"{path}:1525:1: expression nested too deeply to evaluate (definitions or brackets inside one another "
         "hundreds of levels deep)")


@pytest.mark.parametrize("model, old, new, line, column, number", [
    ("common_value_binary.mech", "with sum(q) <= 1", "with sum(q) <= 1e400", 16, 35, "1e400"),
    ("public_good.mech", "param vbar = 3.0", "param vbar = 1e400", 12, 14, "1e400"),
    ("common_value_binary.mech", "designer   = sum(t)", "designer   = sum(t) + 1e400", 20, 23, "1e400"),
    ("screening.mech", "param qstep = 0.5", "param qstep = 1e309", 16, 15, "1e309"),
    ("screening.mech", "param qstep = 0.5", "param qstep = 1e99999", 16, 15, "1e99999"),
])
def test_number_literals_beyond_the_float_range(capsys, tmp_path, model, old, new, line, column, number):
    path = variant(tmp_path, model, old, new)
    command = "refine" if model == "screening.mech" else "solve"
    assert error_line(capsys, [command, path]) == \
        f"{path}:{line}:{column}: number {number} is out of range (the largest number is about 1.8e308)"


def test_a_number_literal_with_too_many_digits(capsys, tmp_path):
    path = variant(tmp_path, "public_good.mech", "param vbar = 3.0", "param vbar = 3." + "0" * 500)
    assert error_line(capsys, ["solve", path]) == \
        f"{path}:12:14: number 3.00000000...000000 (502 characters) has too many digits (at most 400)"


@pytest.mark.parametrize("model, old, new, line, what", [
    ("common_value_binary.mech", "designer   = sum(t)", "designer   = sum(t) + 1e300 * 1e300", 20,
     "the designer objective"),
    ("common_value_binary.mech", "utility[i] = v * q[i] - t[i]", "utility[i] = v * q[i] * 1e300 * 1e300 - t[i]", 19,
     "the utility of agent 1"),
    ("auction_discrete_types.mech", "designer   = sum(P)", "designer   = sum(P) + 1e300 * 1e300 * Q[1]", 28,
     "the designer's payoff"),
])
def test_products_beyond_the_float_range(capsys, tmp_path, model, old, new, line, what):
    """Each literal is a float, their exact product is not (it reached scipy as inf)."""
    path = variant(tmp_path, model, old, new)
    command = "refine" if "types" in new or model.startswith("auction_discrete") else "solve"
    assert error_line(capsys, [command, path]) == \
        f"{path}:{line}:1: {what} holds a number beyond the float range (about 1.8e308): 1.00E+600"


def test_a_prior_free_utility_that_is_not_polynomial(capsys, tmp_path):
    path = variant(tmp_path, "auction_discrete_types.mech", "theta[i] * Q[i] - P[i]", "theta[i] / Q[i] - P[i]")
    assert error_line(capsys, ["refine", path]) == \
        f"{path}:27:1: the utility of agent 1 is not linear in the outcome variables (-P[1] + theta[1]/Q[1])"


def test_a_thousand_prior_free_agents(capsys, tmp_path):
    path = variant(tmp_path, "auction_discrete_types.mech", "param I = 2", "param I = 1000")
    assert error_line(capsys, ["refine", path]) == \
        (f"{path}:19:1: 1000 agents with these types have more than 200,000 type profiles, even up to relabeling: "
         "too many for the programs of 000")


@pytest.mark.parametrize("model, old, new, command, line", [
    ("common_value_binary.mech", "with sum(q) <= 1", "with sum(q) <= -1", "solve", 16),
    ("auction_discrete_types.mech", "with sum(Q) <= 1", "with sum(Q) <= -1", "refine", 21),
])
def test_outcome_constraints_that_admit_no_outcome(capsys, tmp_path, model, old, new, command, line):
    path = variant(tmp_path, model, old, new)
    assert error_line(capsys, [command, path]) == \
        (f"{path}:{line}:1: the outcome constraints admit no outcome at all: no outcome satisfies this constraint, "
         "the variables' bounds and the constraints before it")


# ------------------------------------------------------------------ size


def test_a_power_too_large_to_compute(capsys, tmp_path):
    path = variant(tmp_path, "public_good.mech", "param N = 2", "param N = 10^10^10")
    assert error_line(capsys, ["solve", path]) == \
        f"{path}:11:11: the power 10^10000000000 is out of range (its exact value has more than 3,000 digits)"


def test_a_range_of_1e308_agents(capsys, tmp_path):
    path = variant(tmp_path, "public_good.mech", "param N = 2", "param N = 1e308")
    assert error_line(capsys, ["solve", path]) == \
        f"{path}:14:13: this range has about 10^308 elements; at most 100,000 are supported"


@pytest.fixture
def sixteen_gb(monkeypatch):
    """This machine has 16 GB available, whatever it has."""
    monkeypatch.setattr(size, "available_memory", lambda: 16 * 10**9)


@pytest.mark.parametrize("k, estimate", [
    ("100", "1e8 profiles, 3e8 columns, 2.2e9 nonzeros, 470 GB to build and solve, 66 GB on boxes"),
    ("10000", "1e16 profiles, 3e16 columns, 2.2e17 nonzeros, 4.7e19 bytes to build and solve, 6.6e18 bytes on boxes"),
    ("99999999999999999999", "1e80 profiles, 3e80 columns, 2.2e81 nonzeros, 4.7e83 bytes to build and solve, "
                             "6.6e82 bytes on boxes"),
])
def test_k_too_large_for_this_machine(capsys, sixteen_gb, k, estimate):
    """Refused before anything is allocated (--k 100 was 7 GB and a MemoryError, --k 10000
    numpy's 'Unable to allocate 213. PiB', --k 99999999999999999999 an OverflowError).
    The default path would solve it on boxes of low profiles, which is what must fit."""
    from robustmech.lower.size import magnitude

    shown = magnitude(int(k))
    assert error_line(capsys, ["solve", str(MODELS / "public_good.mech"), "--k", k]) == \
        (f"guarantee at k = {shown} on public_good is too large for this machine: {estimate} of low profiles, "
         "and 16 GB is available; use a smaller k")


def test_a_hundred_agents_of_the_public_good(capsys, sixteen_gb):
    """Lowered in seconds (one lambdify for the payoff tables), refused at the program."""
    assert error_line(capsys, ["solve", str(MODELS / "public_good.mech"), "--param", "N=100", "--k", "2"]) == \
        ("guarantee at k = 2 on public_good is too large for this machine: 7.9e69 profiles, 8e71 columns, "
         "8e75 nonzeros, 1.6e78 bytes to build and solve, and 16 GB is available; use a smaller k or fewer agents")


def test_a_program_that_fits_is_built(sixteen_gb):
    env = rm.load_model(MODELS / "public_good.mech")
    est = size.check_program_size(rm.validate(env), "potential", {"k": 20})
    lp_nonzeros = 2_409_609  # UB-P-20 as built
    assert est.profiles == 401**2 and lp_nonzeros <= est.nonzeros <= 2 * lp_nonzeros


def test_on_boxes_what_must_fit_is_the_whole_grids_vectors(capsys, monkeypatch):
    """LB-G-40 of the public good is solved on boxes with its whole matrix unassembled: a
    machine with 4 GB (below the 12 GB of the assembled program) takes it, one with 1 GB
    refuses it with the on-boxes size; without the boxes, 4 GB refuses the whole grid."""
    low = rm.validate(rm.load_model(MODELS / "public_good.mech"))
    on_boxes = lambda est: True  # noqa: E731
    monkeypatch.setattr(size, "available_memory", lambda: 4 * 10**9)
    est = size.check_program_size(low, "guarantee", {"k": 40}, on_boxes)
    assert est is not None and est.bytes > 4 * 10**9 > est.bytes_on_boxes
    with pytest.raises(rm.ParameterError, match="12 GB to build and solve, and 4 GB is available"):
        size.check_program_size(low, "guarantee", {"k": 40})
    monkeypatch.setattr(size, "available_memory", lambda: 10**9)
    with pytest.raises(rm.ParameterError, match="1.69 GB on boxes of low profiles, and 1 GB is available"):
        size.check_program_size(low, "guarantee", {"k": 40}, on_boxes)


def test_no_box_certified_and_the_whole_grid_too_large(monkeypatch):
    """When no box is certified the whole matrix would be assembled: where it does not fit,
    the run is refused then, saying so (UB-P-10 on x <= 1 only, which its σ passes)."""
    from robustmech.programs import truncation

    low = rm.validate(rm.load_model(MODELS / "public_good.mech", params={"N": 2, "vbar": 3}))
    est = size.estimate(low, "potential", 10)
    monkeypatch.setattr(truncation, "TRUNCATE_FROM_COLUMNS", 1_000)
    monkeypatch.setattr(truncation, "boxes", lambda points, k: [10])
    monkeypatch.setattr(size, "available_memory", lambda: (est.bytes + est.bytes_on_boxes) // 2)
    with pytest.raises(rm.ParameterError, match="no box of low profiles was certified, and the whole grid is too "
                                                "large for this machine"):
        rm.solve(low, "potential", 10)


# ------------------------------------------------------------------ output paths


def test_out_naming_a_folder_is_refused_before_the_solve(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(rm.api, "run", lambda *a, **k: pytest.fail("solved before the --out check"))
    folder = tmp_path / "results"
    folder.mkdir()
    assert error_line(capsys, ["solve", str(MODELS / "public_good.mech"), "--out", str(folder), "--force"]) == \
        f"cannot write {folder}: it is a folder (name a file in it)"
    assert list(tmp_path.iterdir()) == [folder]


def test_out_in_a_folder_that_takes_no_files(capsys, monkeypatch):
    """/proc refuses new files even to root (a chmod 555 folder does not)."""
    monkeypatch.setattr(rm.api, "run", lambda *a, **k: pytest.fail("solved before the --out check"))
    assert error_line(capsys, ["solve", str(MODELS / "public_good.mech"), "--out", "/proc/lb.json"]) == \
        "cannot write /proc/lb.json: the folder /proc is not writable"


# ------------------------------------------------------------------ overrides


def test_an_override_that_makes_a_probability_negative(capsys):
    path = str(MODELS / "common_value_binary.mech")
    assert error_line(capsys, ["solve", path, "--param", "p=1.5"]) == \
        (f"{path}:14:8: negative probability -1/2 for state 0; from the override --param p=1.5 of the "
         "parameter p (line 10)")


def test_an_override_that_makes_a_set_too_large(capsys):
    path = str(MODELS / "public_good.mech")
    assert error_line(capsys, ["solve", path, "--param", "N=1e308"]) == \
        (f"{path}:14:13: this range has about 10^308 elements; at most 100,000 are supported; from the override "
         "--param N=1e308 of the parameter N (line 11)")


def test_two_thousand_agents_of_the_public_good(capsys):
    """Refused at the agents, before 2,000 unit vectors of 2,000 coordinates are built."""
    path = str(MODELS / "public_good.mech")
    assert error_line(capsys, ["solve", path, "--param", "N=2000"]) == \
        (f"{path}:14:1: 2,000 agents: at most 200 are supported (a program on X(k) has at least 2^N profiles); "
         "from the override --param N=2000 of the parameter N (line 11)")


def test_a_state_set_of_a_million_points(capsys, tmp_path):
    path = variant(tmp_path, "two_goods_common_values.mech", "param nvalues = 10", "param nvalues = 1000")
    assert error_line(capsys, ["solve", path]) == \
        f"{path}:14:19: this set power has 1000^2 elements; at most 100,000 are supported"


def test_ten_thousand_states_are_checked_in_one_program():
    """The participation pre-check solves one LP for all states (it was one per state,
    a minute for 10,000 states) and names a state only when that LP is infeasible."""
    import time

    from robustmech.dsl.parser import parse
    from robustmech.model.elaborate import elaborate

    text = ("model m\nagents i in 1..2\nstate v in 1..10000\nprior uniform\nallocate q[i] >= 0 with sum(q) <= 1\n"
            "transfer t[i]\nutility[i] = v * q[i] - t[i]\ndesigner = sum(t)\n")
    start = time.perf_counter()
    env = elaborate(parse(text, "m.mech"), {})
    low = rm.validate(env)
    assert low.checks["participation_secure_exists"] and low.n_states == 10_000
    assert time.perf_counter() - start < 30


def test_a_large_program_is_announced_before_it_is_built(monkeypatch):
    """Merely large (56 million nonzeros at k = 40): a progress line with the estimate
    and how long it takes comes before the build."""
    from robustmech.programs.bounding import GuaranteeLowerBound
    from robustmech.solve import SolverOptions

    class Built(Exception):
        pass

    def build(low, k, structured=False):
        raise Built()

    monkeypatch.setattr(size, "available_memory", lambda: 64 * 10**9)
    monkeypatch.setattr(GuaranteeLowerBound, "builder", staticmethod(build))
    lines = []
    low = rm.validate(rm.load_model(MODELS / "public_good.mech"))
    with pytest.raises(Built):
        rm.api.run(low, "guarantee", {"k": 40}, SolverOptions(progress=lines.append))
    assert lines == ["guarantee at k = 40 is large: 2.6e6 profiles, 7.7e6 columns, 5.6e7 nonzeros; it is solved "
                     "first on boxes of low profiles, the whole matrix kept unassembled (1.69 GB) to certify the "
                     "answer"]
    lines.clear()
    with pytest.raises(Built):  # the whole grid
        rm.api.run(low, "guarantee", {"k": 40}, SolverOptions(progress=lines.append), truncate=False)
    assert lines[0].endswith("building it takes about 28 s and solving it minutes")


def test_a_prior_free_payoff_beyond_the_float_range_at_a_profile(capsys, tmp_path):
    """1e300 and a type of 1e300 are each in range; their product at a profile is not."""
    text = (MODELS / "auction_discrete_types.mech").read_text(encoding="utf-8")
    text = text.replace("types theta[i] in 1..N", "types theta[i] in {1, 1e300}")
    text = text.replace("utility[i] = theta[i] * Q[i] - P[i]", "utility[i] = theta[i] * Q[i] * 1e300 - P[i]")
    path = tmp_path / "overflow.mech"
    path.write_text(text, encoding="utf-8")
    assert error_line(capsys, ["refine", str(path)]) == \
        f"{path}:27:1: the utility of agent 1 is beyond the float range (about 1.8e308) at some type profile"


def test_overrides_of_two_parameters_are_both_named(capsys):
    path = str(MODELS / "screening.mech")
    message = error_line(capsys, ["refine", path, "-p", "thetas=[1, 2]", "-p", "qstep=0.7"])
    assert message == (f"{path}:22:30: the number of grid points must be a whole number, got 37/7; from the "
                       "overrides --param qstep=0.7, --param thetas=[1, 2] of the parameters qstep (line 16), "
                       "thetas (line 14)")


def test_an_override_beyond_the_float_range(capsys):
    path = str(MODELS / "public_good.mech")
    assert error_line(capsys, ["solve", path, "--param", "vbar=1e400"]) == \
        f"{path}:12:7: --param vbar=1e400: number 1e400 is out of range (the largest number is about 1.8e308)"


def test_an_override_nested_too_deeply(capsys):
    path = str(MODELS / "public_good.mech")
    assert error_line(capsys, ["solve", path, "--param", "vbar=" + "[" * 2000 + "3" + "]" * 2000]) == \
        (f"{path}:12:7: --param vbar=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[...: expression nested too deeply (more "
         "than 60 levels of brackets, calls or operators)")


def test_a_lottery_of_3001_points_is_elaborated_and_lowered_in_linear_time():
    """screening.mech with qstep = 0.001: 3,001 lottery weights (coefficients were taken
    with one sympy coeff per variable, quadratic: past two minutes)."""
    import time

    from robustmech.lower.prior_free import lower_prior_free
    from robustmech.model.elaborate_prior_free import load_prior_free

    start = time.perf_counter()
    env = load_prior_free(MODELS / "screening.mech", {"qstep": "0.001"})
    arrays = lower_prior_free(env)
    assert len(env.variables) == 3002 and arrays is not None
    assert time.perf_counter() - start < 60


def test_a_thousand_exchangeable_agents(capsys, tmp_path):
    """1,001 anonymous cells, but a cell of C(1000, 500) profiles: its weight overflowed
    numpy's int64 (an OverflowError traceback)."""
    path = variant(tmp_path, "public_good_two_types.mech", "param I = 3 ", "param I = 1000 ")
    assert error_line(capsys, ["refine", path]) == \
        (f"{path}:21:1: 1000 exchangeable agents: a class of type profiles has about 10^299 members, more than "
         "the anonymous program's weights can hold (2^62); use fewer agents")
