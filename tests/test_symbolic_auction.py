"""The proportional auction of 002: guarantees, must-sell formula, many-bidder limit."""

from __future__ import annotations

import math

import pytest
import sympy

import robustmech as rm
from robustmech.symbolic import Discrete, ProportionalAuction, Uniform, binary, from_cdf, must_sell_uniform_guarantee
from robustmech.symbolic.auction import uniform_threshold_equation
from robustmech.symbolic.erlang import erlang_cdf_expr, erlang_density_expr


def test_two_bidders_uniform_guarantee_is_56_percent():
    """002 introduction: N=2, v ~ U[0,1], c=0 guarantees at least 56 percent of E[v]."""
    auction = ProportionalAuction(Uniform(0, 1), 2)
    print(f"\n002 N=2 uniform: guarantee {auction.guarantee:.12f}, share {auction.share_of_expected_value:.12f}")
    assert 0.56 <= auction.share_of_expected_value < 0.57
    (interval,) = auction.graded_intervals            # single crossing: one graded interval [0, x*] (Section 4.4)
    assert interval.a == 0
    assert abs(uniform_threshold_equation(2, 0.0, interval.b)) < 1e-12  # x* solves (28)


@pytest.mark.parametrize("N", [2, 3, 4])
def test_must_sell_uniform_guarantee_symbolic(N):
    """002 (27): Π̂ = ∫ (G_N - c) g_{N-1} = (1 - C(2N-2, N-1)/4^{N-1})/2 - c, exactly."""
    x, c = sympy.Symbol("x", positive=True), sympy.Symbol("c", nonnegative=True)
    exact = sympy.integrate((erlang_cdf_expr(N, x) - c) * erlang_density_expr(N - 1, x), (x, 0, sympy.oo))
    assert sympy.simplify(exact - must_sell_uniform_guarantee(N, c)) == 0
    numeric = ProportionalAuction(Uniform(0, 1), N, must_sell=True).guarantee
    assert numeric == pytest.approx(float(must_sell_uniform_guarantee(N, 0)), abs=1e-10)


def test_binary_value_matches_003():
    """003 (34), (37): for v in {0, 1}, P(1) = p, the guarantee is 1 - G_N(y), G_{N+1}(y) = 1 - p."""
    from robustmech.symbolic.closed_forms import common_value_binary_guarantee
    for N, p in ((2, 0.5), (4, 0.25)):
        value, _ = common_value_binary_guarantee(N, p)
        assert ProportionalAuction(binary(p), N).guarantee == pytest.approx(value, abs=1e-9)


def test_can_keep_beats_must_sell_and_lemma_2_of_002():
    """Π̄ >= Π̂ (the can-keep seller has more mechanisms); γ̄(y) <= γ̄(x) e^{y-x} (002 Lemma 2)."""
    for H, N, c in ((Uniform(0, 1), 3, 0.2), (Discrete((0.2, 0.6, 1.0), (0.3, 0.3, 0.4)), 2, 0.1)):
        keep, sell = ProportionalAuction(H, N, cost=c), ProportionalAuction(H, N, cost=c, must_sell=True)
        assert keep.guarantee >= sell.guarantee - 1e-12
        xs = [0.1 * j for j in range(1, 60)]
        for x, y in zip(xs, xs[1:]):
            assert keep.graded_gains(y) <= keep.graded_gains(x) * math.exp(y - x) + 1e-12


def test_sympy_cdf_uniform_agrees_with_uniform():
    """002 Section 2.1 quantile min{x : H(x) >= α}: a SymPy CDF v on [0,1] is the uniform."""
    symbolic = ProportionalAuction(from_cdf("v", "v", 0, 1), 2)
    assert symbolic.guarantee == pytest.approx(ProportionalAuction(Uniform(0, 1), 2).guarantee, abs=1e-9)


def test_bad_parameters_are_refused():
    with pytest.raises(rm.ParameterError, match="N >= 2"):
        ProportionalAuction(Uniform(0, 1), 1)
    with pytest.raises(rm.ParameterError, match="E\\[v\\] > c"):
        ProportionalAuction(Uniform(0, 1), 2, cost=0.6)


def test_many_bidder_limit_rate():
    """002 Proposition 7: E[v] - c - Π̄_N -> 0 at rate 1/sqrt(N); table for N up to 30
    (uniform value, c = 0: the gains from trade are 1/2)."""
    rows = []
    for N in (2, 5, 10, 20, 30):
        keep = ProportionalAuction(Uniform(0, 1), N).guarantee
        sell = float(must_sell_uniform_guarantee(N, 0))
        rows.append((N, keep, sell, (0.5 - keep) * math.sqrt(N), (0.5 - sell) * math.sqrt(N)))
    print("\n  N   can-keep     must-sell    sqrt(N)(E v - keep)  sqrt(N)(E v - sell)")
    for row in rows:
        print("%3d  %.8f  %.8f  %.6f  %.6f" % row)
    assert all(r[1] < s[1] for r, s in zip(rows, rows[1:]))          # increasing in N
    # must-sell: sqrt(N)(1/2 - Π̂_N) = sqrt(N) C(2m, m)/(2·4^m), m = N - 1 (002 (27)); with
    # the Wallis bounds 1/sqrt(π(m + 1/2)) <= C(2m, m)/4^m <= 1/sqrt(π(m + 1/4)) it lies
    # between L sqrt(N/(N - 1/2)) and L sqrt(N/(N - 3/4)), L = 1/(2 sqrt(π)): the rate 1/sqrt(N)
    # of Proposition 7 with its constant. The can-keep seller guarantees at least as much
    # (Π̄_N >= Π̂_N), so its scaled gap is at most the must-sell one; and in the sketch of
    # Proposition 7 (uniform H, c = 0: no grading in the limit, γ̄∞ = Φ) its scaled gap tends
    # to ∫ φ² = L as well; the table approaches L from above, within the must-sell bound.
    L = 1 / (2 * math.sqrt(math.pi))
    for N, _, _, keep_gap, sell_gap in rows:
        assert L * math.sqrt(N / (N - 0.5)) <= sell_gap <= L * math.sqrt(N / (N - 0.75)) + 1e-12, N
        assert L <= keep_gap <= sell_gap + 1e-9, N  # Π̄_N by quadrature at epsrel 1e-11, times sqrt(N) <= 6
