"""The one program interface: every program is a registered reduction to the LP IR, run
through one chain, and the symmetry reduction acts on the IR's declared index sets for
every program (detected and checked on the program, never assumed).

Sources: LB(3) = 10/7 and UB(3) = 1.772779 of the public good (N = 2, vbar = 3) from 004's
programs (9) and (10) (the README's table); Theorem 1 of 004 (LB(k) <= G(M) <= P(I) <=
UB(k)); the posted price's guarantee, the discrete form of 002's footnote 35 (derived
in ``test_bce.posted_price_worst_case``); the guarantee 1/2 of a mechanism in which agent 1
alone decides, derived by hand in its test.
"""

from __future__ import annotations

import numpy as np
import pytest

import robustmech as rm
from robustmech import api
from robustmech.errors import ParameterError, UnsupportedError
from robustmech.model import generators as gen
from robustmech.programs import base
from robustmech.solve import SolverOptions

from conftest import common_value_auction, public_good
from test_bce import posted_price_worst_case, uniform_common_value

HIGHS = SolverOptions(solver="highs")


def test_every_program_is_registered_with_one_signature():
    """The programs of 004, 001 and the exact evaluations, each a Program with build and read."""
    assert set(base.names()) >= {"guarantee", "potential", "dual", "auction-guarantee", "auction-guarantee-transfers",
                                 "auction-potential", "auction-dual", "bce-worst", "bce-best", "direct"}
    for name in base.names():
        program = base.program(name)
        assert program.name == name and program.source and callable(program.build) and callable(program.read)
    lower, upper = base.bounding_pair("general")
    assert (lower.name, upper.name) == ("guarantee", "potential")
    lower, upper = base.bounding_pair("auction")
    assert (lower.name, upper.name) == ("auction-guarantee", "auction-potential")


def test_options_a_program_does_not_take_are_refused():
    low = rm.validate(public_good(2, 3))
    with pytest.raises(ParameterError, match="program 'guarantee' takes no option 'correlation' \\(its options: k\\)"):
        rm.solve(low, "guarantee", 3, correlation="unknown")
    with pytest.raises(ParameterError, match="program 'bce-worst' needs the option 'mechanism'"):
        rm.solve(low, "bce-worst")
    with pytest.raises(UnsupportedError, match="unknown program 'nonsense'; choose one of guarantee, potential"):
        rm.solve(low, "nonsense", 3)


def test_any_registered_program_runs_through_solve():
    """The BCE program through the same entry point as the bounding programs: the
    posted price 1/4's guarantee equals the pooling bound of 002's footnote 35."""
    env = uniform_common_value(11)
    result = rm.solve(env, "bce-worst", mechanism=gen.posted_price(env, 0.25))
    assert result.value == pytest.approx(posted_price_worst_case(np.linspace(0, 1, 11), 0.25), abs=1e-9)
    assert result.extra["dual_certified"] and result.program == "bce-worst"


@pytest.mark.parametrize("program, value", [("guarantee", 10 / 7), ("potential", 1.772779)])
def test_reduced_duals_certify_the_full_program(program, value):
    """The duals of the symmetric program, spread over the full rows, are a dual solution
    of the full program: its weak-duality bound, recomputed on the full rows, equals the
    published optimum."""
    result = rm.solve(public_good(2, 3), program, 3)
    assert result.extra["symmetry"]["columns"] < result.n_variables
    assert result.value == pytest.approx(value, abs=5e-7)
    assert result.dual_value == pytest.approx(result.value, abs=1e-9) and result.extra["dual_certified"]


def test_bce_program_is_reduced_for_a_symmetric_mechanism():
    """The posted price treats the two buyers alike: the BCE program is solved over
    symmetric equilibria, with the value of the closed form and of the full program."""
    env = uniform_common_value(11)
    low = rm.validate(env)
    mechanism = gen.posted_price(env, 0.25)
    reduced = api.run(low, "bce-worst", {"mechanism": mechanism}, HIGHS, symmetry=True)
    full = api.run(low, "bce-worst", {"mechanism": mechanism}, HIGHS, symmetry=False)
    assert reduced.certificate["symmetry"]["columns"] < full.lp.n_cols
    expected = posted_price_worst_case(np.linspace(0, 1, 11), 0.25)
    assert reduced.solution.objective == pytest.approx(expected, abs=1e-9)
    assert full.solution.objective == pytest.approx(expected, abs=1e-9)
    # the equilibrium read back from the reduced program is one of the full program
    assert reduced.readback.extra["max_obedience_violation"] <= 1e-9
    assert reduced.readback.equilibrium.joint.sum() == pytest.approx(1.0, abs=1e-12)


def test_an_asymmetric_mechanism_is_not_reduced():
    """Agent 1 alone decides: asking for the good (action 1) provides it at agent 1's
    cost; agent 2's action does nothing. Swapping the agents does not leave the BCE
    program invariant, which the check on the program finds (the environment itself is
    symmetric, and a mechanism whose outcome ignores the actions would be).

    The guarantee by hand: agent 1 obeys "ask" when E[θ_1 - 1 | ask] >= 0 and "do not
    ask" when E[θ_1 - 1 | not] <= 0 (θ_1 ∈ {0, 3} with probability 1/2 each). Nature
    pools mass a of θ_1 = 3 with all of θ_1 = 0 into "not": 3a - (a + 1/2) <= 0, so
    a <= 1/4 and the good is provided with probability at least 1/4, worth vbar - 1 = 2:
    G = 2 · 1/4 = 1/2."""
    env = public_good(2, 3)
    rule = np.zeros((2, 2, 3))
    rule[0, :, 0] = 1.0  # agent 1 does not ask: no expenditure
    rule[1, :, 1] = 1.0  # agent 1 asks: paid_by[1]
    asks = rm.Mechanism((np.arange(2), np.arange(2)), env.outcomes.names, rule, name="agent1_decides")
    run = api.run(rm.validate(env), "bce-worst", {"mechanism": asks}, HIGHS)
    assert run.certificate["symmetry"] == {"used": False, "detected": 1,
                                           "reason": "the program is not invariant under them"}
    assert run.solution.objective == pytest.approx(0.5, abs=1e-9)


def test_direct_program_is_reduced_for_a_symmetric_structure():
    """The UB-P-3 structure of the symmetric public good is symmetric; its exact potential
    is the same with and without the reduction and lies in [LB(3), UB(3)] (Theorem 1)."""
    low = rm.validate(public_good(2, 3))
    info = rm.solve(low, "potential", 3, solver="highs").information
    reduced = api.run(low, "direct", {"information": info}, HIGHS, symmetry=True)
    full = api.run(low, "direct", {"information": info}, HIGHS, symmetry=False)
    assert reduced.certificate["symmetry"]["columns"] < full.lp.n_cols
    assert reduced.solution.objective == pytest.approx(full.solution.objective, abs=1e-8)
    assert 10 / 7 - 1e-7 <= reduced.solution.objective <= 1.772779 + 1e-6
    np.testing.assert_allclose(reduced.readback.mechanism.rule.sum(-1), 1.0, atol=1e-9)


@pytest.mark.parametrize("program", ["auction-guarantee", "auction-potential", "auction-dual"])
def test_auction_programs_are_reduced_for_exchangeable_bidders(program):
    """A pure common value: the two bidders are exchangeable, so 001's programs are solved
    over symmetric solutions; the value equals the full program's, and the duals read
    back (the transfer-free program's mechanism is its dual) certify the full program."""
    low = rm.validate(common_value_auction(2, (0, 0.5, 1)))
    reduced = rm.solve(low, program, 3, solver="highs")
    full = rm.solve(low, program, 3, solver="highs", symmetry=False)
    assert reduced.extra["symmetry"]["columns"] < full.n_variables
    assert reduced.value == pytest.approx(full.value, abs=1e-8)
    assert reduced.extra["dual_certified"]


def test_refinement_stages_are_programs_with_the_one_signature():
    """000's maxmin LP (2) as the registered stage ``refinement-maxmin``, built and read
    back like every program and solved by the chain after the build: on the screening
    example θ = (1, 2) the maxmin value is θ_1²/2 = 1/2 (Proposition 5 of 000), the lowest
    type's full surplus at its efficient quality."""
    from robustmech.lower.prior_free import lower_prior_free
    from robustmech.model import prior_free as pf

    arrays = lower_prior_free(pf.screening((1, 2)))
    stage = base.program("refinement-maxmin")
    lp, inverse = stage.build(arrays, free=np.ones(arrays.n_cells, bool), floors=np.full(arrays.n_cells, np.nan))
    solution, certificate, _ = api.solve_built(lp, HIGHS)
    assert solution.objective == pytest.approx(0.5, abs=1e-9) and certificate["dual_certified"]
    back = stage.read(lp, solution, inverse)
    assert back.arrays["payoffs"].min() == pytest.approx(0.5, abs=1e-9)
    with pytest.raises(ParameterError, match="program 'refinement-maxmin' needs the option 'floors'"):
        stage.build(arrays, free=np.ones(arrays.n_cells, bool))
