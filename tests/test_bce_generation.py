"""Row generation for the BCE program: start from the deviations to adjacent actions,
add the obedience rows the solution breaks, stop when it breaks none.

The last program is a relaxation of the full one (003 (5)-(6), every deviation) whose
optimum satisfies every row, hence is the full program's optimum. Checked against the
full program and against the closed form of the posted price's guarantee (the discrete
pooling bound of 002's footnote 35, derived in ``test_bce.posted_price_worst_case``).
"""

from __future__ import annotations

import numpy as np
import pytest

import robustmech as rm
from robustmech.model import generators as gen
from robustmech.programs import bce

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
    with pytest.raises(rm.ModelError, match="deviations must be auto, all or generate, got 'some'"):
        rm.guarantee(env, gen.posted_price(env, 0.25), deviations="some")
