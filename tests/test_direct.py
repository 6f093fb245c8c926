"""The direct-mechanism program: exact potentials of given information structures.

Sources: Myerson's two-buyer two-value story of 003 Section 1.1 (values {1, 2}, interim
IC and IR, free transfers): independent values with P(high) = 1/2 give revenue 1.5
against a full surplus of 1.75, correlated values P(LL) = P(HH) = 0.4 give full surplus
extraction, 1.6 (Crémer-McLean). The finite-outcome reparametrization of transfers as
lotteries over {-t_max, t_max} is 003 Section 3.5. The potential P(I) is (1) of 003.
"""

from __future__ import annotations

import itertools
import pathlib

import numpy as np
import pytest

import robustmech as rm
from robustmech.model import generators as gen
from robustmech.programs import direct

from conftest import public_good

MODELS = pathlib.Path(__file__).resolve().parents[1] / "models"
VALUES = ((1, 1), (1, 2), (2, 1), (2, 2))


def myerson_env(p_ll, p_lh, p_hl, p_hh, finite_tmax=None) -> rm.Environment:
    """Two buyers with values {1, 2}; a joint prior over value profiles. Continuous
    outcomes (q, t) or, with ``finite_tmax``, the finite Ω = {none, 1, 2} × {-T, T}^2 of
    003 Section 3.5."""
    b = rm.ModelBuilder("myerson_two_by_two")
    b.agents(2)
    v = b.states(["v[1]", "v[2]"], VALUES)
    b.prior([p_ll, p_lh, p_hl, p_hh])
    if finite_tmax is None:
        q = b.allocation("q")
        t = b.transfer("t")
        for i in range(2):
            b.utility(i, v[i] * q[i] - t[i])
        b.designer(sum(t))
    else:
        T = finite_tmax
        omegas = list(itertools.product([0, 1, 2], [-T, T], [-T, T]))
        b.finite_outcomes([f"w{j}" for j in range(len(omegas))])
        for i in range(2):
            b.utility(i, [v[i] * int(o[0] == i + 1) - o[1 + i] for o in omegas])
        b.designer([o[1] + o[2] for o in omegas])
    return b.build()


def full_surplus(probs) -> float:
    return float(sum(p * max(v) for p, v in zip(probs, VALUES)))


INDEPENDENT = (0.25, 0.25, 0.25, 0.25)
CORRELATED = (0.4, 0.1, 0.1, 0.4)


@pytest.mark.parametrize("finite_tmax", [None, 4])
def test_myerson_independent_values_cost_the_seller(finite_tmax):
    """003 Section 1.1: with independent values, P(high) = 1/2, the optimal revenue is
    1.5 (the low type's virtual value 1 - (2 - 1)(1/2)/(1/2) = 0: sell to a high bidder
    at 2), strictly below the full surplus 1.75: private information costs the seller."""
    env = myerson_env(*INDEPENDENT, finite_tmax=finite_tmax)
    result = rm.potential(env, gen.state_revealing_information(env))
    assert full_surplus(INDEPENDENT) == pytest.approx(1.75)
    assert result.value == pytest.approx(1.5, abs=1e-8)
    assert result.dual_value == pytest.approx(1.5, abs=1e-7)
    assert result.status == "optimal"


@pytest.mark.parametrize("finite_tmax", [None, 4])
def test_myerson_correlated_values_give_full_extraction(finite_tmax):
    """003 Section 1.1 (Crémer-McLean): with P(LL) = P(HH) = 0.4 the seller extracts the
    full surplus 0.4 * 1 + 0.6 * 2 = 1.6 with side bets; only IR binds."""
    env = myerson_env(*CORRELATED, finite_tmax=finite_tmax)
    result = rm.potential(env, gen.state_revealing_information(env))
    assert full_surplus(CORRELATED) == pytest.approx(1.6)
    assert result.value == pytest.approx(1.6, abs=1e-8)


def test_optimal_direct_mechanism_is_incentive_compatible():
    """Interim IC and IR (003 (3)), checked from the definition with numpy on the
    read-back mechanism: truth-telling beats every misreport and is individually
    rational at every signal; the designer's value equals the reported potential."""
    env = myerson_env(*INDEPENDENT)
    low = rm.validate(env)
    info = gen.state_revealing_information(env)
    result = rm.potential(env, info)
    rule = result.mechanism.rule  # (2, 2, d): outcome at each reported profile
    joint = info.joint  # (2, 2, 4)
    for i in range(2):
        for s in range(2):
            for r in range(2):
                truth = misreport = 0.0
                for s_other in range(2):
                    prof = (s, s_other) if i == 0 else (s_other, s)
                    lie = (r, s_other) if i == 0 else (s_other, r)
                    for th in range(4):
                        p = joint[prof + (th,)]
                        truth += p * (low.utility_coef[i, th] @ rule[prof] + low.utility_const[i, th])
                        misreport += p * (low.utility_coef[i, th] @ rule[lie] + low.utility_const[i, th])
                assert truth >= misreport - 1e-8
                assert truth >= -1e-8
    value = sum(joint[s1, s2, th] * (low.designer_coef[th] @ rule[s1, s2]) for s1 in range(2) for s2 in range(2)
                for th in range(4))
    assert value == pytest.approx(result.value, abs=1e-8)


def test_uninformed_agents_give_first_best_on_the_public_good():
    """003 Section 1.4: agents who know nothing beyond the prior cannot object, so the
    potential is the first best: the public good (004 Section 4, vbar = 3) is always
    provided, welfare vbar - 1 = 2, with costs shared so that IR holds in expectation."""
    env = public_good(2, 3)
    info = gen.information_from_joint([[0], [0]], env.states.labels, np.array([[[0.5, 0.5]]]))
    assert rm.potential(env, info).value == pytest.approx(2.0, abs=1e-9)


def test_product_information_matches_the_joint_table():
    """σ(s, θ) = μ(θ) Π_i π_i(s_i|θ) (003 Section 2's common-prior type space): the
    product of conditionals built from the state revealing structure is the same object."""
    env = myerson_env(*CORRELATED)
    reveal = gen.state_revealing_information(env)
    conditionals = [np.array([[1, 1, 0, 0], [0, 0, 1, 1]]), np.array([[1, 0, 1, 0], [0, 1, 0, 1]])]
    product = gen.product_information(env, conditionals)
    np.testing.assert_allclose(product.joint, reveal.joint)


def test_information_errors_are_clear():
    """An information structure must have the prior as state marginal (003 Section 2)."""
    env = myerson_env(*INDEPENDENT)
    joint = np.zeros((1, 1, 4))
    joint[0, 0, 0] = 1.0
    info = gen.information_from_joint([[0], [0]], env.states.labels, joint)
    with pytest.raises(rm.ModelError, match="differs from the prior"):
        rm.potential(env, info)
    with pytest.raises(rm.ModelError, match="sums to"):
        gen.information_from_joint([[0], [0]], env.states.labels, joint * 2)


def test_incentive_rows_skip_null_signals():
    """Layout: for |S_i| signals, agent i has |S_i|(|S_i| - 1) IC rows and |S_i| IR rows,
    except signals of probability zero, which carry no constraint."""
    env = myerson_env(0.5, 0.0, 0.0, 0.5)  # P(LH) = P(HL) = 0
    info = gen.information_from_joint([[0, 1, 2], [0, 1]], env.states.labels,
                                      np.array([[[0.5, 0, 0, 0], [0, 0, 0, 0]],
                                                [[0, 0, 0, 0], [0, 0, 0, 0.5]],
                                                [[0, 0, 0, 0], [0, 0, 0, 0]]]))
    lp, _ = direct.build(rm.validate(env), info)
    assert lp.families["ic[1]"].count == 2 * 2  # signal 2 of agent 1 never occurs
    assert lp.families["ir[1]"].count == 2
    assert lp.families["ic[2]"].count == 2 * 1
    assert rm.potential(env, info).value == pytest.approx(1.5, abs=1e-9)  # full surplus: 0.5 * 1 + 0.5 * 2


def test_bundled_myerson_model_file():
    """models/myerson_two_by_two.mech with the joint distribution as parameters: the two
    cases of 003 Section 1.1 (revenue 1.5 independent, 1.6 correlated)."""
    path = MODELS / "myerson_two_by_two.mech"
    if not path.exists():
        pytest.fail("models/myerson_two_by_two.mech is missing")
    env = rm.load_model(path)
    info = env.information_structures["private_values"]  # declared in the file: a missing one fails here
    assert rm.potential(env, info).value == pytest.approx(1.5, abs=1e-8)
    env = rm.load_model(path, {"p_LL": "0.4", "p_LH": "0.1", "p_HL": "0.1", "p_HH": "0.4"})
    info = env.information_structures["private_values"]
    assert rm.potential(env, info).value == pytest.approx(1.6, abs=1e-8)


def test_numerical_failure_is_recovered_and_reported(monkeypatch):
    """A HiGHS numerical failure ("Solve error") at the tight default tolerance is solved
    again by the interior point method at HiGHS's own tolerance, and the result says so.
    Seen for real on the UB-P-6 structure of two_goods_common_values (σ entries near
    1e-10): the chain there, checked with `robustmech certify
    models/two_goods_common_values.mech --k 6` (slow test in test_certify.py), holds
    only through this path. Here the failure is injected on Myerson's correlated case
    (003 Section 1.1), whose potential is 1.6 (Crémer-McLean)."""
    from robustmech.solve import core, highs

    real_run, calls = highs._run, []

    def failing_once(h, lp, options, *args, **kwargs):
        sol = real_run(h, lp, options, *args, **kwargs)
        calls.append(options.tolerance)
        if len(calls) == 1:
            sol.status, sol.message = "error", "Solve error"
        return sol

    monkeypatch.setattr(highs, "_run", failing_once)
    env = myerson_env(*CORRELATED)
    result = rm.potential(env, gen.state_revealing_information(env))
    assert calls == [1e-9, core.RECOVERY_TOLERANCE]
    assert result.value == pytest.approx(1.6, abs=1e-7)
    assert "interior point method at tolerance 1e-07" in result.note
    assert "note: highs failed (Solve error)" in str(result)


def test_recovery_is_tried_once(monkeypatch):
    """A failure at the recovery tolerance itself is reported (exit 3 in the CLI), not
    looped on."""
    from robustmech.solve import core, highs

    calls = []

    def always_error(h, lp, options, *args, **kwargs):
        calls.append(options.tolerance)
        sol = highs.LPSolution("error", float("nan"), float("nan"), np.zeros(lp.n_cols), np.zeros(lp.n_rows),
                               np.zeros(lp.n_cols), np.zeros(lp.n_rows), 0.0, options.solver, "Solve error")
        return sol

    monkeypatch.setattr(highs, "_run", always_error)
    env = myerson_env(*CORRELATED)
    with pytest.raises(rm.SolverError, match="Solve error"):
        rm.potential(env, gen.state_revealing_information(env))
    assert calls == [1e-9, core.RECOVERY_TOLERANCE]
