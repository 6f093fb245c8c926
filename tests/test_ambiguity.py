"""Ambiguous priors: ``prior marginals ...`` (known marginals, unknown correlation: 001
Appendix B.1.5) and ``prior in { ... }`` (the convex hull of the listed priors; 004
footnote 8 on ambiguity) in the language and in the programs.

Each test states its source: a paper's number, an equality of two independent programs,
or a fact of linear programming (a set with one member is that prior; the worst case
over a larger set is lower; max-min <= min-max).
"""

from __future__ import annotations

import itertools
import json
import pathlib

import pytest
import sympy

import robustmech as rm
from robustmech.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
TOL = 1e-9  # the solvers' optimality tolerance on values of order 1


def model(tmp_path, name: str, text: str) -> rm.Environment:
    path = tmp_path / f"{name}.mech"
    path.write_text(text)
    return rm.load_model(path)


def public_good(tmp_path, prior: str) -> rm.Environment:
    """004 Section 4.1 (N = 2, social value 3) with the prior statement replaced."""
    text = (MODELS / "public_good.mech").read_text()
    assert "prior uniform\n" in text
    return model(tmp_path, "pg", text.replace("prior uniform\n", prior + "\n").replace("bounds k = 6", ""))


def private_values(tmp_path, prior: str, nvalues: int = 3) -> rm.Environment:
    """001 Appendix B.1.2's two bidders with values on ``nvalues`` evenly spaced points of
    [0, 1], with the prior statement replaced."""
    text = (MODELS / "independent_values_auction.mech").read_text()
    assert "prior independent uniform\n" in text
    text = text.replace("prior independent uniform\n", prior + "\n").replace("param nvalues = 10",
                                                                             f"param nvalues = {nvalues}")
    return model(tmp_path, "pv", text)


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


# ---------------------------------------------------------------------------
# the language


def test_marginals_statement_carries_the_marginals():
    """models/unknown_correlation_auction.mech (001 Appendix B.1.5): two coordinates, each
    with the uniform marginal on ten points; the single prior is their product (1/100)."""
    env = rm.load_model(MODELS / "unknown_correlation_auction.mech")
    ps = env.states.prior_set
    assert ps is not None and ps.kind == "marginals"
    assert len(ps.marginals) == 2
    for marginal in ps.marginals:
        assert [v for v, _ in marginal] == [sympy.Rational(j, 9) for j in range(10)]
        assert all(p == sympy.Rational(1, 10) for _, p in marginal)
    assert set(env.states.prior) == {sympy.Rational(1, 100)}
    assert env.directives == ({"program": "auction-guarantee", "k": 7, "solver": "clarabel"},
                              {"program": "auction-dual", "k": 7, "solver": "clarabel"})


def test_hull_statement_keeps_the_listed_priors(tmp_path):
    """`prior in { P1, P2, P3 }` takes every single form of a prior as a member; the single
    prior is their average ((1/2 + 1/4 + 9/10) / 3 = 11/20 on the first state)."""
    env = public_good(tmp_path, "prior in { uniform, [0.25, 0.75], { (3, 0): 0.9, (0, 3): 0.1 } }")
    ps = env.states.prior_set
    assert ps is not None and ps.kind == "hull"
    R = sympy.Rational
    assert ps.priors == ((R(1, 2), R(1, 2)), (R(1, 4), R(3, 4)), (R(9, 10), R(1, 10)))
    assert env.states.prior == (R(11, 20), R(9, 20))


def test_information_structure_must_have_a_prior_of_the_set(tmp_path, capsys):
    """An information structure's marginal on Θ is the prior it is played under: with a
    set of priors it must be a member (the midpoint of the two listed priors is; (0.1, 0.9)
    is not), and the error is one line with file:line:col."""
    def with_info(p1: float) -> str:
        return ("model m\nagents i in 1..2\nstate v in {0, 1}\nprior in { [0.25, 0.75], [0.75, 0.25] }\n"
                "outcome none\nutility[i] = 0\ndesigner = 0\n"
                f"information I {{ signals[i] = {{0}}\n  joint {{ (0, 0, 0): {p1}, (0, 0, 1): {1 - p1} }} }}\n")
    env = model(tmp_path, "ok", with_info(0.5))
    assert "I" in env.information_structures
    path = tmp_path / "bad.mech"
    path.write_text(with_info(0.1))
    assert main(["solve", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"robustmech: error: {path}:8:1: information I: its marginal")


# ---------------------------------------------------------------------------
# a set with one member is that prior


@pytest.mark.parametrize("k", [2, 3])
def test_one_prior_set_is_the_single_prior(tmp_path, k):
    """A set {μ} is μ: LB-G-k (9), UB-P-k (10) and the relaxed dual (12) of 004 have the
    values of the single-prior programs (τ <= μ·λ binds; the weight of μ is 1)."""
    single = public_good(tmp_path, "prior [0.25, 0.75]")
    one = public_good(tmp_path, "prior in { [0.25, 0.75] }")
    for program in ("guarantee", "potential", "dual"):
        a, b = rm.solve(single, program, k), rm.solve(one, program, k)
        assert close(a.value, b.value), (program, a.value, b.value)
        assert b.extra["dual_certified"]


def test_one_prior_set_is_the_single_prior_in_the_auction_programs(tmp_path):
    """The same for 001's restricted programs (41) and (3) at k = 2."""
    single = private_values(tmp_path, "prior independent uniform")
    one = private_values(tmp_path, "prior in { independent uniform }")
    a, b = rm.bounds(single, 2), rm.bounds(one, 2)
    assert close(a.lower.value, b.lower.value) and close(a.upper.value, b.upper.value)


# ---------------------------------------------------------------------------
# the hull of several priors


@pytest.mark.parametrize("k", [2, 3])
def test_hull_of_mirror_priors_has_the_bounds_of_their_midpoint(tmp_path, k):
    """004 Section 4.1's public good is symmetric in the agents, and (1/4, 3/4), (3/4, 1/4)
    are mirror images. UB-P-k's value is convex in μ (a minimum whose right-hand side is μ)
    and symmetric, so its minimum over the segment is at the midpoint, the uniform prior;
    LB-G-k's worst listed prior is at most the uniform prior's value, and a symmetric
    optimal mechanism for the uniform prior (averaged with its mirror image) has the same
    value under both listed priors. So both bounds of the hull are the uniform prior's,
    and at most those of either listed prior (the worst case over a larger set is lower)."""
    hull = rm.bounds(public_good(tmp_path, "prior in { [0.25, 0.75], [0.75, 0.25] }"), k, family="general")
    mid = rm.bounds(public_good(tmp_path, "prior uniform"), k, family="general")
    assert close(hull.lower.value, mid.lower.value) and close(hull.upper.value, mid.upper.value)
    assert hull.lower.value <= hull.upper.value + TOL
    for prior in ("[0.25, 0.75]", "[0.75, 0.25]"):
        single = rm.bounds(public_good(tmp_path, f"prior {prior}"), k, family="general")
        assert hull.lower.value <= single.lower.value + TOL
        assert hull.upper.value <= single.upper.value + TOL
    assert hull.lower.extra["dual_certified"] and hull.upper.extra["dual_certified"]


def test_guarantee_of_a_mechanism_over_the_hull_is_below_each_prior(tmp_path):
    """The exact guarantee of a fixed mechanism (the worst BCE, 003 (5)-(6)) with the
    prior chosen by Nature from the hull of two priors is at most its guarantee under
    each prior, and under each mixture of them (a brute-force scan of the segment: every
    mixture is in the hull)."""
    mechanism = rm.solve(public_good(tmp_path, "prior [0.25, 0.75]"), "guarantee", 2).mechanism
    hull = rm.solve(public_good(tmp_path, "prior in { [0.25, 0.75], [3/4, 1/4] }"), "bce-worst",
                    mechanism=mechanism)
    assert hull.extra["dual_certified"]
    for j in range(11):
        p = sympy.Rational(25 + 5 * j, 100)
        single = rm.solve(public_good(tmp_path, f"prior [{p}, {1 - p}]"), "bce-worst", mechanism=mechanism)
        assert hull.value <= single.value + TOL, (p, hull.value, single.value)


# ---------------------------------------------------------------------------
# known marginals, unknown correlation (001 Appendix B.1.5)


@pytest.mark.parametrize("k", [2, 3])
def test_unknown_correlation_general_programs_equal_the_auction_programs(tmp_path, k):
    """001 Appendix B.1.5 with three values: the general LB-G-k / UB-P-k of 004 and 001's
    restricted (41) / (3) (the same values for a quasilinear environment, 004 Section 5,
    with λ(θ) = Σ_i λ_i(v_i)) agree on `prior marginals uniform`, and both equal the
    Python option correlation="unknown" of the independent-values model (its marginals of
    V_i(θ) = v_i are the coordinates' marginals)."""
    env = private_values(tmp_path, "prior marginals uniform")
    general = rm.bounds(env, k, family="general")
    auction = rm.bounds(env, k, family="auction")
    option = rm.bounds(private_values(tmp_path, "prior independent uniform"), k, family="auction",
                       options={"correlation": "unknown"})
    for b in (auction, option):
        assert close(general.lower.value, b.lower.value) and close(general.upper.value, b.upper.value)
    assert general.lower.value <= general.upper.value + TOL
    assert auction.lower.extra["correlation"] == "marginals"
    for r in (general.lower, general.upper, auction.lower, auction.upper):
        assert r.extra["dual_certified"]


@pytest.mark.parametrize("program", ["guarantee", "auction-guarantee", "auction-dual", "potential",
                                     "auction-potential"])
def test_unknown_correlation_programs_are_reduced_by_the_bidder_swap(tmp_path, program):
    """Exchangeable bidders with the same marginal: the swap maps ν_1(v) to ν_2(v) (the
    λ(θ) = Σ_i ν_i(v_i) of 001 (41) in Appendix B.1.5), so every program is solved over
    symmetric solutions (group of order 2, half the columns) with the full program's value."""
    env = private_values(tmp_path, "prior marginals uniform")
    reduced = rm.solve(env, program, 3)
    full = rm.solve(env, program, 3, symmetry=False)
    assert reduced.extra["symmetry"]["group_order"] == 2
    assert reduced.extra["symmetry"]["columns"] < 0.55 * reduced.extra["symmetry"]["full_columns"]
    assert close(reduced.value, full.value)
    assert reduced.extra["dual_certified"]


def test_the_unknown_correlation_option_is_reduced_where_the_classes_tell_the_bidders_apart(tmp_path):
    """The Python option correlation="unknown" (λ(θ) = Σ_i λ_i(V_i(θ))) on independent
    private values: the swap maps λ_1(v) to λ_2(v), and the program is reduced with the
    full program's value. With a common value V_1 = V_2, the classes {θ : V_i(θ) = v} of
    the two bidders coincide, the image of a member is ambiguous, and the reduction
    declines (the value is the full program's)."""
    pv = private_values(tmp_path, "prior independent uniform")
    cv = model(tmp_path, "cv", (MODELS / "common_value_auction.mech").read_text().replace("param nvalues = 10",
                                                                                         "param nvalues = 3"))
    for env, reduced in ((pv, True), (cv, False)):
        with_symmetry = rm.solve(env, "auction-guarantee", 3, correlation="unknown")
        full = rm.solve(env, "auction-guarantee", 3, correlation="unknown", symmetry=False)
        assert close(with_symmetry.value, full.value)
        assert (with_symmetry.extra["symmetry"].get("group_order") == 2) is reduced


def test_unknown_correlation_is_below_the_joints_it_contains(tmp_path):
    """001 Appendix B.1.5: independent values (the product) and perfectly correlated values
    (the diagonal) both have the uniform marginals, so the set of joints contains them and
    their hull: LB and UB of unknown correlation are at most the hull's, which are at most
    each joint's (general family, k = 2)."""
    diagonal = "{ (0, 0): 1/3, (0.5, 0.5): 1/3, (1, 1): 1/3 }"
    k = 2
    marginals = rm.bounds(private_values(tmp_path, "prior marginals uniform, uniform"), k, family="general")
    hull = rm.bounds(private_values(tmp_path, f"prior in {{ independent uniform, {diagonal} }}"), k, family="general")
    assert marginals.lower.value <= hull.lower.value + TOL and marginals.upper.value <= hull.upper.value + TOL
    for prior in ("prior independent uniform", f"prior {diagonal}"):
        single = rm.bounds(private_values(tmp_path, prior), k, family="general")
        assert hull.lower.value <= single.lower.value + TOL and hull.upper.value <= single.upper.value + TOL


def test_marginals_of_each_coordinate_are_kept_in_the_potential(tmp_path):
    """UB-P-k's worst information structure under known marginals has those marginals
    (each coordinate uniform on its three values), whatever joint Nature picked."""
    env = private_values(tmp_path, "prior marginals uniform")
    r = rm.solve(env, "potential", 2)
    joint = r.information.joint  # (signals..., states)
    mu = joint.reshape(-1, joint.shape[-1]).sum(axis=0)
    points = list(itertools.product(range(3), range(3)))  # the states in order, by value index
    for c in range(2):
        for v in range(3):
            mass = sum(m for pt, m in zip(points, mu) if pt[c] == v)
            assert abs(mass - 1 / 3) <= 1e-7


def test_options_that_contradict_the_model_are_refused(tmp_path):
    """The model's `prior marginals` selects 001 B.1.5's programs; an option asking for a
    single known prior, or a penalty (001 B.1.6, which replaces the prior), is an error,
    never a silent choice of one prior."""
    env = private_values(tmp_path, "prior marginals uniform")
    with pytest.raises(rm.ModelError, match="contradicts the model's prior"):
        rm.solve(env, "auction-guarantee", 2, correlation="known")
    with pytest.raises(rm.ModelError, match="a penalty replaces the prior"):
        rm.solve(env, "auction-potential", 2, penalty=[0.0] * 9)


# ---------------------------------------------------------------------------
# the paper's numbers from the model file alone


@pytest.mark.slow
def test_unknown_correlation_model_file_at_k7(capsys):
    """001 Appendix B.1.5: two bidders, values uniform on ten points, unknown correlation:
    0.2537 <= profit guarantee <= 0.2834 at k = 7, from models/unknown_correlation_auction.mech
    and one command, `robustmech run`: its directives solve (41) (the lower bound) and
    (3-D), the LP dual of (3) (the upper), with Clarabel, each certified by its
    weak-duality bound (about 40 s and 50 s)."""
    assert main(["run", str(MODELS / "unknown_correlation_auction.mech"), "--json"]) == 0
    steps = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    rows = [step["result"] for step in steps]
    assert [(r["program"], r["k"]) for r in rows] == [("auction-guarantee", 7), ("auction-dual", 7)]
    lower, upper = rows
    for r in rows:
        assert r["status"] == "optimal" and r["dual_value"] == pytest.approx(r["value"], abs=1e-6)
    assert round(lower["value"], 4) == 0.2537
    assert round(upper["value"], 4) == 0.2834
