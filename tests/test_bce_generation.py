"""Row generation for the BCE program: start from the deviations to adjacent actions
and to the first and last action, add the obedience rows the solution breaks, stop
when it breaks none.

The last program is a relaxation of the full one (003 (5)-(6), every deviation) whose
optimum satisfies every row, hence is the full program's optimum. Checked against the
full program and against the closed form of the posted price's guarantee (the discrete
pooling bound of 002's footnote 35, derived in ``test_bce.posted_price_worst_case``).

The warm path (``deviations="warm"``: one HiGHS model, rows added, the dual simplex
going on from its basis) is what makes the first-price auction of BBM (002 Section
6.1) reachable at the sizes of the BCESolve comparison (two bidders, 21 values, 150
bids); here it is checked at small sizes against the full program solved cold.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import scipy.sparse as sp

import robustmech as rm
from robustmech.model import generators as gen
from robustmech.programs import bce
from robustmech.solve import SolverOptions, dual_objective, solve
from robustmech.solve.lazy import RowBlock, solve_with_lazy_rows

from test_bce import posted_price_worst_case, uniform_common_value


def test_generated_rows_give_the_full_programs_guarantee():
    env = uniform_common_value(11)
    auction = gen.first_price_auction(env, bids=21)
    full = rm.guarantee(env, auction, deviations="all")
    generated = rm.guarantee(env, auction, deviations="generate")
    assert generated.value == pytest.approx(full.value, abs=1e-9)
    assert generated.best_value == pytest.approx(full.best_value, abs=1e-9)
    assert generated.generation_rounds > 1 and generated.n_constraints < full.n_constraints
    # the equilibrium read back obeys every deviation, the omitted ones included
    U, _ = bce.payoff_arrays(rm.validate(env), auction)
    assert bce.max_obedience_violation(U, generated.worst.joint) <= 1e-9
    # the relaxation's duals (zero on the omitted rows) certify the full program
    assert generated.dual_value == pytest.approx(generated.value, abs=1e-9)


def test_starting_deviations_are_the_neighbours_and_the_extremes():
    env = uniform_common_value(3)
    (mask, _) = bce.starting_deviations(gen.first_price_auction(env, bids=6))
    expected = np.zeros((6, 6), dtype=bool)
    for r in range(6):
        for d in {r - 1, r + 1, 0, 5} - {r, -1, 6}:
            expected[r, d] = True
    assert np.array_equal(mask, expected)


@pytest.mark.parametrize("deviations", ["warm", "generate", "all"])
def test_best_bce_of_the_first_price_auction_extracts_the_expected_value(deviations):
    """The best BCE of the first-price auction with a common value uniform on 11 points
    (BBM, 002 Section 6.1) has revenue E[v] = 1/2, by hand: bidding 0 never loses money,
    so each bidder's interim utility is at least 0 and revenue is at most the surplus
    E[v]; and bidders who both learn v and bid it (a tie, each paying v when it wins)
    obey every deviation, with revenue v in every state. With 40 bids the values are
    not all bids, and the bound is still reached (by correlated recommendations)."""
    env = uniform_common_value(11)
    for bids in (21, 40):
        result = rm.guarantee(env, gen.first_price_auction(env, bids=bids), deviations=deviations)
        assert result.best_value == pytest.approx(0.5, abs=1e-9)
        assert result.best_dual_value == pytest.approx(0.5, abs=1e-9)


def test_generation_reaches_the_posted_price_closed_form():
    env = uniform_common_value(21)
    result = rm.guarantee(env, gen.posted_price(env, 0.25), deviations="generate")
    assert result.value == pytest.approx(posted_price_worst_case(np.linspace(0, 1, 21), 0.25), abs=1e-9)


def test_adjacent_deviations_are_one_step():
    env = uniform_common_value(3)
    masks = bce.adjacent_deviations(gen.first_price_auction(env, bids=4))
    assert [m.astype(int).tolist() for m in masks] == [[[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]]] * 2


def test_unknown_deviation_mode_is_refused():
    env = uniform_common_value(3)
    with pytest.raises(rm.ModelError, match="deviations must be auto, all, generate or warm, got 'some'"):
        rm.guarantee(env, gen.posted_price(env, 0.25), deviations="some")


certify_module = importlib.import_module("robustmech.certify")


def _asymmetric_first_price(env):
    """The first-price auction of 002 Section 6.1 with bidder 2 on every other bid."""
    fpa = gen.first_price_auction(env, bids=21)
    return rm.Mechanism((fpa.actions[0], fpa.actions[1][::2]), fpa.outcome_names, fpa.rule[:, ::2], finite=False,
                        name="first_price_asymmetric_bids")


@pytest.mark.parametrize("case", ["symmetric", "no_symmetry", "asymmetric_bids"])
def test_warm_rows_give_the_full_programs_values(case):
    """Worst and best BCE of the first-price auction (BBM, 002 Section 6.1), 11 common
    values: the warm row generation against the full program with every obedience row
    (a cold build through api.run), to 1e-8; the warm answer obeys every deviation and
    its dual bound, a weak-duality bound, certifies it and lies on the right side of the
    full program's optimum."""
    env = uniform_common_value(11)
    mech = _asymmetric_first_price(env) if case == "asymmetric_bids" else gen.first_price_auction(env, bids=21)
    symmetry = case != "no_symmetry"
    full = rm.guarantee(env, mech, deviations="all", symmetry=symmetry)
    warm = rm.guarantee(env, mech, deviations="warm", symmetry=symmetry)
    assert warm.value == pytest.approx(full.value, abs=1e-8)
    assert warm.best_value == pytest.approx(full.best_value, abs=1e-8)
    assert warm.generation_rounds > 1 and warm.n_constraints < full.n_constraints
    U, _ = bce.payoff_arrays(rm.validate(env), mech)
    for eq in (warm.worst, warm.best):
        assert bce.max_obedience_violation(U, eq.joint) <= 1e-9
        np.testing.assert_allclose(eq.state_marginal(), np.full(11, 1 / 11), atol=1e-9)
    # weak duality: the worst BCE's bound is below the full minimum, the best's above the full maximum
    assert full.value - 1e-9 <= warm.dual_value <= warm.value + 1e-9
    assert warm.value - warm.dual_value <= 1e-8
    assert warm.best_value - 1e-9 <= warm.best_dual_value <= full.best_value + 1e-9
    assert warm.best_dual_value - warm.best_value <= 1e-8


@pytest.mark.parametrize("program, sense", [("bce-worst", "min"), ("bce-best", "max")])
def test_warm_rows_need_more_than_the_adjacent_deviations(program, sense):
    """The check is not vacuous: the relaxation with the adjacent deviations alone has
    another value (solved here directly), the warm path needs more than one round, and
    the duals of its last relaxation, extended by zeros to every omitted obedience row,
    are a dual solution of the FULL program (built here with every row) whose
    weak-duality value is the optimum."""
    env = uniform_common_value(11)
    low = rm.validate(env)
    mech = gen.first_price_auction(env, bids=21)
    adjacent, _ = bce.build(low, mech, sense, bce.adjacent_deviations(mech))
    relaxed_value = solve(adjacent, SolverOptions(solver="highs-simplex")).objective
    run, rounds = certify_module.bce_with_warm_rows(low, mech, program, SolverOptions())
    assert rounds > 1
    assert abs(run.solution.objective - relaxed_value) > 1e-3
    full, _ = bce.build(low, mech, sense)
    y = np.zeros(full.n_rows)
    for name in ("obedience[1]", "obedience[2]"):  # each kept row's dual onto the full row of its pair
        kept, rows = run.lp.families[name], full.families[name]
        where = {pair: rows.start + k for k, pair in enumerate(rows.index[0].members)}
        y[[where[pair] for pair in kept.index[0].members]] = run.solution.row_dual[kept.slice]
    y[full.families["marginal"].slice] = run.solution.row_dual[run.lp.families["marginal"].slice]
    x = run.solution.x
    bound = dual_objective(full, y, full.cost - full.A.T @ y, full.A @ x, x)
    assert bound == pytest.approx(run.solution.objective, abs=1e-8)
    assert float(full.cost @ x) == pytest.approx(run.solution.objective, abs=1e-12)


def test_lazy_rows_reach_the_full_programs_optimum():
    """The solver layer alone: max Σ x_j over the box [0, 1]^n cut by x_j + x_k <= 1
    for every pair j < k (optimum n/2 at x = 1/2), the cuts handed in lazily by a
    separation that returns the broken ones, against the program with every cut."""
    n = 8
    j, k = np.triu_indices(n, 1)
    cuts = sp.csr_matrix((np.ones(2 * len(j)), (np.r_[np.arange(len(j)), np.arange(len(j))], np.r_[j, k])),
                         shape=(len(j), n))
    from robustmech.programs.lp import ProgramBuilder

    def program(rows):
        b = ProgramBuilder("cut box", "max")
        b.add_variables("x", shape=(n,), upper=1.0)
        b.set_cost("x", np.ones(n))
        b.add_rows("cuts", {"x": rows}, upper=1.0)
        return b.build()

    def separate(x):
        broken = np.flatnonzero(cuts @ x > 1 + 1e-9)
        return RowBlock(cuts[broken], np.full(len(broken), -np.inf), np.ones(len(broken))) if len(broken) else None

    lazy = solve_with_lazy_rows(program(cuts[:1]), separate, SolverOptions())
    direct = solve(program(cuts), SolverOptions(solver="highs-simplex"))
    assert lazy.rounds > 1 and lazy.lp.n_rows == 1 + lazy.added < len(j)
    assert lazy.solution.objective == pytest.approx(direct.objective, abs=1e-9) == n / 2
    assert lazy.solution.dual_objective == pytest.approx(n / 2, abs=1e-9)


def test_most_violated_picks_the_broken_pairs_and_reaches_ahead():
    """One agent with 6 actions, recommendation 1 breaking its deviation to 2 (gain 3)
    and to 0 (gain 1), recommendation 4 breaking its deviation to 5, which is already
    written: the pairs by hand."""
    gain = np.full((6, 6), -1.0)
    gain[1, 2], gain[1, 0], gain[4, 5] = 3.0, 1.0, 2.0
    mask = np.zeros((6, 6), dtype=bool)
    mask[4, 5] = True
    pairs = lambda out: sorted(zip(*[a.tolist() for a in out[0]]))  # noqa: E731
    assert pairs(bce.most_violated([gain], [mask], 1e-9)) == [(1, 0), (1, 2)]
    assert pairs(bce.most_violated([gain], [mask], 1e-9, per_recommendation=1)) == [(1, 2)]
    # reach 2: upward from 1 the farthest broken is 1 step away, so steps 1..2 (actions 2, 3);
    # downward 1 step, so steps 1..2 (action 0 only: there is no action -1)
    assert pairs(bce.most_violated([gain], [mask], 1e-9, reach=2.0)) == [(1, 0), (1, 2), (1, 3)]
