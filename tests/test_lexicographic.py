"""Lexicographic refinements of maxmin: the numbers and closed forms of 000 (Kambhampati).

Every test names its source in 000. Environments come from the builder
(:mod:`robustmech.model.prior_free`); programs are solved with HiGHS.
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction

import numpy as np
import pytest
import sympy
from sympy.solvers.simplex import linprog

from robustmech.cli import main
from robustmech.errors import ModelError, ParameterError
from robustmech.lower.prior_free import is_exchangeable, lower_prior_free
from robustmech.model.prior_free import PriorFreeBuilder, auction, public_good, screening
from robustmech.programs import refinements as lx
from robustmech.solve import SolverOptions, solve
from robustmech.symbolic import lexicographic as cf

TOL = 1e-7


def solver(lp):
    return solve(lp, SolverOptions())


@pytest.fixture(scope="module")
def screening2():
    return lower_prior_free(screening((1, 2)))


@pytest.fixture(scope="module")
def screening3():
    return lower_prior_free(screening((1, 2, 3)))


@pytest.fixture(scope="module")
def auction23():
    return lower_prior_free(auction(2, (1, 2, 3)))


def screening_mechanism(a, qualities, prices):
    """z for a deterministic screening mechanism: a Dirac lottery at q(θ_n) and price P(θ_n)."""
    z = np.zeros((a.n_cells, a.dim))
    for n, (q, p) in enumerate(zip(qualities, prices)):
        z[n, a.slots.index(f"Q[{sympy.nsimplify(q)}]")] = 1.0
        z[n, a.slots.index("P[1]")] = float(p)
    return z


def expected_quality(a):
    grid = np.array([float(sympy.Rational(s[2:-1])) if s.startswith("Q[") else 0.0 for s in a.slots])
    return grid


# -- screening (000 Section 3) ------------------------------------------------------------


def test_an_lps_needs_a_belief(screening2):
    """An empty LPS is refused by name (it used to fail on the missing last stage)."""
    with pytest.raises(ParameterError, match="at least one belief"):
        lx.lps_optimal(screening2, [], solver)


def test_example1_robust_qualities_fill_1_to_3(screening2):
    """Example 1 of 000 (θ = (1, 2), u = θq, c = q²/2): any q_2 ∈ [1, 3] is part of a robust
    mechanism. Over the maxmin face, the high type's expected quality ranges over [1, 3]
    (lotteries cannot leave it: E[q]² <= E[q²] and q² - 4q + 3 <= 0); the maxmin value is
    θ_1²/2 = 1/2 (Proposition 5)."""
    a = screening2
    rob = lx.robust(a, solver)
    assert rob.value == pytest.approx(0.5, abs=TOL)
    objective = np.zeros((a.n_cells, a.dim))
    objective[1] = expected_quality(a)
    lo, hi = lx.face_range(a, np.full(a.n_cells, rob.value), objective, solver)
    assert (lo, hi) == (pytest.approx(1.0, abs=1e-6), pytest.approx(3.0, abs=1e-6))
    # Proposition 5: the lowest type gets the efficient quality θ_1 = 1 at price θ_1² = 1 in every robust mechanism
    objective = np.zeros((a.n_cells, a.dim))
    objective[0, a.slots.index("P[1]")] = 1.0
    assert lx.face_range(a, np.full(a.n_cells, rob.value), objective, solver) == \
        (pytest.approx(1.0, abs=1e-6), pytest.approx(1.0, abs=1e-6))


@pytest.mark.parametrize("criterion", ["perfect", "proper"])
def test_screening_two_types_efficient_and_maximal(screening2, criterion):
    """Propositions 6 and 7 of 000 with N = 2 (Example 2): the perfectly and properly robust
    mechanism is the efficient and maximal one, qualities (1, 2) and prices (1, 3) from (3)."""
    res = lx.refine(screening2, criterion, solver)
    closed = cf.screening_efficient_maximal([1, 2])
    assert closed["prices"] == [1, 3] and closed["qualities"] == [1, 2]
    z_closed = screening_mechanism(screening2, closed["qualities"], closed["prices"])
    np.testing.assert_allclose(res.z, z_closed, atol=1e-6)
    np.testing.assert_allclose(res.payoffs, [0.5, 1.0], atol=1e-7)
    assert res.checks["passed"]


def test_example3_perfect_but_not_proper(screening3):
    """Example 3 of 000 (θ = (1, 2, 3)): q = (1, 1, 3) with prices (3) is perfectly robust
    (maxmin and admissible, Proposition 3) and µ-optimal for (δ_1, δ_3, δ_2) (Appendix B.2),
    an LPS that is not strongly adversarial; it is not properly robust (Proposition 7)."""
    a = screening3
    prices = cf.screening_maximal_prices([1, 2, 3], [1, 1, 3])
    assert prices == [1, 1, 7]
    z = screening_mechanism(a, [1, 1, 3], prices)
    member = lx.membership(a, z, solver)
    assert member["feasible"] and member["robust"] and member["perfect"]
    assert not member["proper"]
    assert member["admissibility_gain"] == pytest.approx(0.0, abs=1e-7)
    cert = member["perfect_certificate"]
    checks = lx.check_certificate(a, cert, z, solver)
    assert checks["passed"] and checks["full_support"] and checks["adversarial"]
    lps = [np.eye(3)[0], np.eye(3)[2], np.eye(3)[1]]
    ok, gains = lx.check_mu_optimal(a, lps, z, solver)
    assert ok
    assert lx.check_full_support(lps)[0] and lx.check_adversarial(lps, a.payoffs(z))
    assert not lx.check_strongly_adversarial(lps, a.payoffs(z))


def test_screening_three_types_properly_robust_is_efficient(screening3):
    """Proposition 7 of 000: the properly robust mechanism is efficient and maximal, q = (1, 2, 3),
    prices (1, 3, 6) from (3); µ-optimal for (δ_1, δ_2, δ_3) (Appendix B.3), which is strongly
    adversarial."""
    a = screening3
    res = lx.refine(a, "proper", solver)
    closed = cf.screening_efficient_maximal([1, 2, 3])
    assert closed["prices"] == [1, 3, 6]
    np.testing.assert_allclose(res.z, screening_mechanism(a, closed["qualities"], closed["prices"]), atol=1e-6)
    np.testing.assert_allclose(res.payoffs, [float(x) for x in closed["payoffs"]], atol=1e-7)
    assert res.checks["passed"] and res.checks["strongly_adversarial"]
    lps = [np.eye(3)[0], np.eye(3)[1], np.eye(3)[2]]
    assert lx.check_mu_optimal(a, lps, res.z, solver)[0]
    assert lx.check_strongly_adversarial(lps, res.payoffs)
    ex3 = screening_mechanism(a, [1, 1, 3], [1, 1, 7])
    assert not lx.check_mu_optimal(a, lps, ex3, solver)[0]


def test_relaxed_space_gives_the_same_properly_robust_mechanism():
    """Proof of Proposition 7 of 000: in the relaxed space M' (participation and downward-adjacent
    IC only) the properly robust mechanism is again the efficient and maximal one."""
    a = lower_prior_free(screening((1, 2, 3), incentive="adjacent"))
    assert len(a.ic_cell) == 2
    res = lx.refine(a, "proper", solver)
    np.testing.assert_allclose(res.payoffs, [0.5, 1.0, 1.5], atol=1e-7)
    np.testing.assert_allclose(res.z[:, a.slots.index("P[1]")], [1, 3, 6], atol=1e-6)


# -- auction (000 Section 4) -------------------------------------------------------------


def test_auction_properly_robust_revenues(auction23):
    """Proposition 10 of 000, I = 2, N = 3, θ = (1, 2, 3): the properly robust revenue over the
    nine profiles is {1, 1.5 x4, 2, 2.5 x2, 3}; the mechanism is efficient, ties are broken
    uniformly below the top type, and the transfers are the maximal ones (5)."""
    a = auction23
    res = lx.refine(a, "proper", solver)
    np.testing.assert_allclose(res.sorted_payoffs(), [1, 1.5, 1.5, 1.5, 1.5, 2, 2.5, 2.5, 3], atol=1e-7)
    Q = res.z[:, [a.slots.index("Q[1]"), a.slots.index("Q[2]")]]
    table = cf.auction_maximal_transfers([1, 2, 3], 2)
    for c, prof in enumerate(a.cells):
        prof = tuple(int(t) for t in prof)
        assert Q[c].sum() == pytest.approx(1.0, abs=1e-7)  # efficient: the good is always sold
        if max(prof) < 2:
            np.testing.assert_allclose(Q[c], [float(x) for x in cf.uniform_efficient_allocation(prof, 2)], atol=1e-7)
        else:
            assert all(Q[c][i] == pytest.approx(0.0, abs=1e-7) for i in range(2) if prof[i] < max(prof))
        assert res.payoffs[c] == pytest.approx(float(cf.proposition10_revenue(prof, [1, 2, 3])), abs=1e-7)
        if max(prof) < 2 or prof.count(2) == 1:
            assert res.payoffs[c] == pytest.approx(float(table[prof][2]), abs=1e-7)
    assert res.checks["passed"]


def test_auction_ordered_outcomes_agrees_with_sequential(auction23):
    """Proposition 4 of 000 (leximin): the ordered-outcomes formulation reaches the same
    ordered payoff vector as sequential maxmin."""
    seq = lx.properly_robust(auction23, solver, "sequential")
    ordered = lx.properly_robust(auction23, solver, "ordered")
    np.testing.assert_allclose(ordered.sorted_payoffs(), seq.sorted_payoffs(), atol=1e-7)
    assert lx.check_certificate(auction23, ordered.certificate, ordered.z, solver)["passed"]


def test_proposition10_payment_formula():
    """Proposition 10 of 000: with uniform tie-breaking, (5) charges a unique winner
    θ_n/(J+1) + (1 - 1/(J+1)) θ_{n+1}; checked for I = 2, 3 and N = 3, 4."""
    assert cf.check_proposition10([1, 2, 3], 2)
    assert cf.check_proposition10([1, 2, 3, 4], 3)
    assert sorted(cf.proposition10_revenue(p, [1, 2, 3]) for p in itertools.product(range(3), repeat=2)) == \
        [1, sympy.Rational(3, 2)] + [sympy.Rational(3, 2)] * 3 + [2, sympy.Rational(5, 2), sympy.Rational(5, 2), 3]


def test_auction_two_types_perfect_is_efficient_and_maximal():
    """Proposition 9 of 000 with N = 2: a perfectly robust mechanism is efficient and maximal:
    the good always goes to a highest bidder, and the transfers are (5) of its allocation rule
    (whatever the tie-breaking, which the criterion leaves free)."""
    a = lower_prior_free(auction(2, (1, 2)))
    res = lx.refine(a, "perfect", solver)
    Q = res.z[:, [a.slots.index("Q[1]"), a.slots.index("Q[2]")]]
    index = {tuple(int(t) for t in c): k for k, c in enumerate(a.cells)}
    for prof, k in index.items():
        assert Q[k].sum() == pytest.approx(1.0, abs=1e-7)
        assert all(Q[k][i] == pytest.approx(0.0, abs=1e-7) for i in range(2) if prof[i] < max(prof))
    table = cf.auction_maximal_transfers([1, 2], 2,
                                         allocation=lambda p: [sympy.nsimplify(round(x, 9)) for x in Q[index[p]]])
    for prof, k in index.items():
        assert res.payoffs[k] == pytest.approx(float(table[prof][2]), abs=1e-6)
    assert res.checks["passed"]


# -- public good (000 Section 5) ---------------------------------------------------------


@pytest.mark.parametrize("I, expected", [(3, [0, 0, sympy.Rational(3, 7), 1]), (4, [0, 0, 0, sympy.Rational(2, 5), 1])])
def test_public_good_properly_robust_figure1(I, expected):
    """Proposition 13 and Figure 1 of 000 (θ_h = 1, θ_ℓ = 0, γ = 1/2): the properly robust
    provision probabilities are (0, 0, 3/7, 1) for I = 3 and (0, 0, 0, 2/5, 1) for I = 4, the
    closed form q_K / q_I (sum and recursion agree), and the positive payoffs equal 1/q_I.
    Re-verified in exact rational arithmetic."""
    closed = cf.public_good_properly_robust(I)
    assert closed["Q"] == expected
    rec = cf.q_recursion(I, 0, 1, sympy.Rational(1, 2))
    assert all(rec[K] == cf.q_sum(K, I, 0, 1, sympy.Rational(1, 2)) for K in rec)
    env = public_good(I)
    a = lower_prior_free(env)
    res = lx.refine(a, "proper", solver)
    highs = [int(sum(c)) for c in a.cells]
    np.testing.assert_allclose(res.outcome("Q"), [float(expected[k]) for k in highs], atol=1e-7)
    positive = [float(closed["value"]) if expected[k] > 0 else 0.0 for k in highs]
    np.testing.assert_allclose(res.payoffs, positive, atol=1e-7)
    assert res.checks["passed"]
    ex = lx.exact_verify(lower_prior_free(env, exact=True), res, solver)
    assert ex["passed"]
    assert [ex["z"][c][0] for c in range(a.n_cells)] == [Fraction(str(expected[k])) for k in highs]
    assert set(ex["payoffs"]) == {Fraction(0), Fraction(str(closed["value"]))}


def test_public_good_anonymous_program_large_economy():
    """Propositions 13 and 14 of 000 at I = 20 (2^20 profiles): the anonymous program gives
    Q_K = q_K/q_I (relative error < 1e-6), below the bound (1 - ρ)^(I-K); its certificate is
    re-verified exactly, the payoff 1/q_I = 2/36951 included."""
    env = public_good(20)
    assert is_exchangeable(env)
    a = lower_prior_free(env, anonymous=True)
    assert a.n_cells == 21 and a.n_profiles == 2 ** 20
    res = lx.refine(a, "proper", solver)
    closed = cf.public_good_properly_robust(20)
    highs = [int(sum(c)) for c in a.cells]
    for c, k in enumerate(highs):
        q = float(closed["Q"][k])
        assert res.outcome("Q")[c] == pytest.approx(q, rel=1e-6, abs=1e-12)
        assert q <= float(cf.proposition14_bound(20, k)) + 1e-15
    assert closed["value"] == sympy.Rational(2, 36951)
    ex = lx.exact_verify(lower_prior_free(env, anonymous=True, exact=True), res, solver)
    assert ex["passed"] and max(ex["payoffs"]) == Fraction(2, 36951)


def test_public_good_certificate_identities():
    """A.14.3 of 000: w_k S_k = (k+1)(θ_h - θ_ℓ) w_{k+1}, and the µ_2-expected payoff telescopes
    to Q_I / q_I for any Q; (7) gives the firm Q_K S_K - K Δ Q_{K-1} = 1/q_I."""
    for I in (3, 4, 7):
        assert cf.check_weight_identity(I)
        assert cf.telescoped_payoff(I) == 0
        sol = cf.public_good_properly_robust(I)
        assert all(p == sol["value"] for p in sol["payoff"][sol["k_star"]:])
    sol = cf.public_good_properly_robust(3)
    def Q(prof):
        return sol["Q"][sum(prof)]

    P = cf.public_good_maximal_transfers(Q, (1, 1, 0), 0, 1)
    assert sum(P) - Q((1, 1, 0)) * sympy.Rational(3, 2) == sol["value"]


def test_public_good_robust_value_zero():
    """Proposition 11 of 000: robust means a non-negative payoff everywhere; the maxmin value is
    0 and Nature's belief sits on profiles with payoff 0 (adversarial)."""
    a = lower_prior_free(public_good(3))
    res = lx.refine(a, "robust", solver)
    assert res.value == pytest.approx(0.0, abs=1e-9)
    assert res.checks["passed"] and res.checks["adversarial"]


# -- certificates, checked independently ---------------------------------------------------


def test_maxmin_stage_reads_natures_belief_by_profile(screening3):
    """Proposition 5 of 000 (θ = (1, 2, 3)): the seller's lowest payoff is at the lowest type,
    so Nature's belief, the duals of the maxmin LP (2)'s rows t <= v(θ), is δ at θ = (1);
    the rows and the outcome block are indexed by the type profiles and outcome coordinates."""
    a = screening3
    lp = lx.build_maxmin(a, np.ones(a.n_cells, bool), np.full(a.n_cells, np.nan))
    theta, coordinates = lp.variables["z"].index
    assert theta.members == ("(1)", "(2)", "(3)") and coordinates.members == a.slots
    sol = solve(lp, SolverOptions())
    assert sol.objective == pytest.approx(0.5, abs=1e-9)
    belief = dict(zip(lp.families["worst"].index[0].members, lp.rows(sol.row_dual, "worst")))
    assert belief == {"(1)": pytest.approx(1.0, abs=1e-9), "(2)": pytest.approx(0.0, abs=1e-9),
                      "(3)": pytest.approx(0.0, abs=1e-9)}
    participation = lp.families["participation"].index[0].members
    assert participation == (("(1)", 1), ("(2)", 1), ("(3)", 1))


def _rational(x) -> sympy.Rational:
    x = Fraction(x)
    return sympy.Rational(x.numerator, x.denominator)


def exact_bayes_value(a, mu) -> sympy.Rational:
    """max_{z ∈ M} Σ_θ µ(θ) v(θ), the value of the belief µ against the types' payoffs (the
    first preemptive LP of (1) of 000), in exact rational arithmetic by SymPy's simplex: M
    is built here from the exact arrays (feasibility, IC, participation, bounds), not by
    the project's program builders, and no project solver is involved."""
    n, d = a.n_cells, a.dim
    zero = sympy.S.Zero

    def row(entries):
        r = [zero] * (n * d)
        for cell, coefficients in entries:
            for s, v in enumerate(coefficients):
                r[int(cell) * d + s] += _rational(v)
        return r

    A, b, A_eq, b_eq = [], [], [], []
    for c in range(n):
        for k in range(a.A_eq.shape[1]):
            A_eq.append(row([(c, a.A_eq[c, k])]))
            b_eq.append(_rational(a.b_eq[c, k]))
        for k in range(a.A_ub.shape[1]):
            A.append(row([(c, a.A_ub[c, k])]))
            b.append(_rational(a.b_ub[c, k]))
    for r in range(len(a.ic_cell)):  # ic_own z(θ) - ic_other z(θ') >= 0
        A.append(row([(a.ic_cell[r], [-x for x in a.ic_own[r]]), (a.ic_dev[r], a.ic_other[r])]))
        b.append(zero)
    for r in range(len(a.ir_cell)):  # ir_coef z(θ) + ir_const >= 0
        A.append(row([(a.ir_cell[r], [-x for x in a.ir_coef[r]])]))
        b.append(_rational(a.ir_const[r]))
    bounds = [(None if lo == -np.inf else _rational(lo), None if hi == np.inf else _rational(hi))
              for lo, hi in zip(a.lower.reshape(-1), a.upper.reshape(-1))]
    gradient = row([(c, [mu[c] * _rational(w) for w in a.w_coef[c]]) for c in range(n)])
    optimum, _ = linprog(sympy.Matrix([[-g for g in gradient]]), sympy.Matrix(A), sympy.Matrix(b),
                         sympy.Matrix(A_eq) if A_eq else None, sympy.Matrix(b_eq) if b_eq else None, bounds=bounds)
    return -optimum + sum((mu[c] * _rational(a.w_const[c]) for c in range(n)), zero)


MAXMIN_VALUE = {  # the maxmin (= robust, Proposition 2) value of each model, from 000
    # Proposition 5: full surplus of the lowest type at its efficient quality, θ_1·θ_1 - θ_1²/2 = 1/2
    "screening3": sympy.Rational(1, 2),
    # Proposition 10: the lowest of the properly robust revenues {1, 1.5 x4, 2, 2.5 x2, 3} (at (1, 1))
    "auction23": sympy.Integer(1),
    # Proposition 11: a robust mechanism's payoff is non-negative everywhere and 0 at the worst profile
    "public_good3": sympy.Integer(0),
}


@pytest.mark.parametrize("model", ["screening3", "auction23", "public_good3"])
@pytest.mark.parametrize("criterion", ["bayes", "lps", "robust", "perfect", "proper"])
def test_natures_belief_is_optimal_in_exact_arithmetic(model, criterion, screening3, auction23):
    """Definitions 1-2 and Proposition 2 of 000, checked independently of the float checkers
    that ``refine`` ran: the first belief µ_1 of the printed LPS (Nature's belief for the
    adversarial kinds, the given prior for bayes and lps), rationalized, is solved against
    the types' payoffs in exact arithmetic, and the mechanism's µ_1-expected payoff equals
    that optimal value (the mechanism is µ_1-optimal). For the adversarial kinds the value
    is exactly the model's maxmin value in 000: max over M of E_ν v = max min v, Nature's
    belief and the robust mechanism form a saddle point."""
    env = {"screening3": screening((1, 2, 3)), "auction23": auction(2, (1, 2, 3)),
           "public_good3": public_good(3)}[model]
    a = {"screening3": screening3, "auction23": auction23}.get(model) or lower_prior_free(env)
    beliefs = None
    if criterion == "lps":
        beliefs = [np.eye(a.n_cells)[0], lx.uniform_mass(a)]
    res = lx.refine(a, criterion, solver, beliefs)
    assert res.checks["passed"], res.checks
    first = res.certificate.beliefs[0]
    rational = [Fraction(float(x)).limit_denominator(10**6) for x in first]
    np.testing.assert_allclose([float(x) for x in rational], first, atol=1e-12)
    nu = [_rational(x) / _rational(sum(rational)) for x in rational]
    value = exact_bayes_value(lower_prior_free(env, exact=True), nu)
    assert float(np.dot(np.asarray(nu, dtype=float), res.payoffs)) == pytest.approx(float(value), abs=1e-7)
    if res.certificate.kind in ("adversarial", "perfect", "proper"):
        assert value == MAXMIN_VALUE[model]
        assert res.value == pytest.approx(float(MAXMIN_VALUE[model]), abs=1e-7)


def test_checkers_reject_a_wrong_certificate(auction23):
    """Definition 1 of 000: a belief on a profile that is not worst is not adversarial; a
    belief the mechanism does not maximize fails µ-optimality."""
    res = lx.refine(auction23, "proper", solver)
    top = np.eye(auction23.n_cells)[-1]
    assert not lx.check_adversarial([top], res.payoffs)
    robust = lx.refine(auction23, "robust", solver)
    ok, gains = lx.check_mu_optimal(auction23, [lx.uniform_mass(auction23)], robust.z, solver)
    assert not ok and max(gains) > 0.1


# -- builder errors and the command line ---------------------------------------------------


def test_builder_reports_nonlinear_payoffs():
    """Bad input gets a one-line ModelError (a nonlinear cost must go through a lottery)."""
    b = PriorFreeBuilder("bad")
    b.agents(1)
    (theta,) = b.types("theta", [1, 2])
    q = b.variable("q", 0, 3)
    (p,) = b.transfer("P")
    b.utility(0, theta * q - p)
    b.designer(p - q ** 2 / 2)
    with pytest.raises(ModelError, match="not linear"):
        b.build()
    b2 = PriorFreeBuilder("bad")
    b2.agents(1)
    with pytest.raises(ModelError, match="strictly increasing"):
        b2.types("theta", [2, 1])


def test_cli_refine_json(capsys):
    """The command line prints criterion, value, payoffs per profile and the certificate
    (000 Figure 1, I = 3: payoffs 3/14 where S_k > 0)."""
    assert main(["refine", "public_good", "-p", "I=3", "--criterion", "proper", "--json", "--exact"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["criterion"] == "proper" and out["value"] == pytest.approx(0.0, abs=1e-9)
    assert len(out["payoffs"]) == 8 and max(out["payoffs"]) == pytest.approx(3 / 14, abs=1e-9)
    assert out["certificate"]["checks"]["passed"] and out["exact"]["passed"]
    assert "3/14" in out["exact"]["payoffs"]


def test_cli_bad_input_one_line(capsys):
    """Bad input: exit code 2 and one line on stderr."""
    assert main(["refine", "public_good", "-p", "I=x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "integer" in err[0]
