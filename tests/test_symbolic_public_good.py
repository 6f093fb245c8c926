"""The public-good closed form of 004 Section 4.2, eqs. (15)-(17), against LB(k)/UB(k)."""

from __future__ import annotations

import mpmath
import pytest

import robustmech as rm
from robustmech.symbolic.public_good import (
    bilateral_trade_solution,
    boundary_contribution_residual,
    density_ode_residual,
    expenditure_ode_residual,
    public_good_solution,
)

from conftest import public_good


def test_guarantee_n2_vbar3_solves_both_fixed_point_equations():
    """004 Section 4.2.1: λ = (vbar-1) - (N-1)/y and λ = (vbar-1) e^y y^{-a}/∫_0^y e^z z^{-a} dz."""
    s = public_good_solution(2, 3)
    y, lam = s.boundary, s.guarantee
    # a = (N-1)/(vbar-1) = 1/2; with z = u^2, ∫_0^y e^z z^{-1/2} dz = 2 ∫_0^{√y} e^{u²} du
    integral = 2 * mpmath.quad(lambda u: mpmath.exp(u * u), [0, mpmath.sqrt(y)])
    assert lam == pytest.approx(2 - 1 / y, abs=1e-12)
    assert lam == pytest.approx(float(2 * mpmath.exp(y) * y ** -0.5 / integral), abs=1e-10)
    assert lam == pytest.approx(1.5567, abs=5e-5)  # the foundation issue's figure for N=2, vbar=3
    assert s.aggregate_expenditure(y * (1 - 1e-9)) == pytest.approx(1, abs=1e-8)  # Ê(y; λ) = 1


def test_boundary_contribution_equals_guarantee():
    """004 eq. (17): (vbar-1) ρ(y) y^{N-1}/(N-1)! = λ, by quadrature of (16)."""
    for N, vbar in ((2, 3), (3, 4), (5, 6), (2, 10)):
        s = public_good_solution(N, vbar)
        assert s.boundary_contribution() == pytest.approx(s.guarantee, abs=1e-12)


def test_odes_hold_symbolically():
    """The ODEs before (15) and (16) of 004, and the powers in (17), simplify to 0."""
    assert expenditure_ode_residual() == 0
    assert density_ode_residual() == 0
    assert boundary_contribution_residual() == 0


@pytest.mark.parametrize("N, vbar", [(2, 2), (2, 1.5), (3, 3)])
def test_refuses_vbar_over_n_at_most_one(N, vbar):
    """004 Section 4.3: for vbar/N <= 1 the guarantee is 0 and (15) diverges."""
    with pytest.raises(rm.ParameterError, match="vbar/N > 1"):
        public_good_solution(N, vbar)


def test_efficiency_rises_with_vbar():
    """004 Figure 2: λ/(vbar-1) increases in vbar and tends to 1."""
    shares = [public_good_solution(2, v).efficiency() for v in (2.2, 3, 5, 10, 40)]
    assert all(a < b for a, b in zip(shares, shares[1:]))
    assert shares[-1] > 0.99


def test_bilateral_trade_is_the_public_good_map():
    """003 (43), (45) are 004's fixed point with vbar-1 -> g, N-1 -> h-g: g=2, h=3 is N=2, vbar=3."""
    assert bilateral_trade_solution(2, 3).guarantee == pytest.approx(public_good_solution(2, 3).guarantee, abs=1e-12)
    assert bilateral_trade_solution(1, 2.5).guarantee == 0.0  # h >= 2g: potential 0 (003 (41))
    trade = bilateral_trade_solution(1, 1.5)
    assert trade.trade_probability(trade.boundary * (1 - 1e-9)) == pytest.approx(1, abs=1e-8)  # q̄(ȳ) = 1 (44)


def _bracket(k):
    bounds = rm.bounds(public_good(2, 3), k)
    return bounds.lower.value, bounds.upper.value


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_lambda_in_bracket(k):
    """Theorem 1 of 004: LB(k) <= λ <= UB(k) for the public good N=2, vbar=3."""
    lower, upper = _bracket(k)
    lam = public_good_solution(2, 3).guarantee
    assert lower - 1e-7 <= lam <= upper + 1e-7


@pytest.mark.slow
@pytest.mark.parametrize("k", [7, 8])
def test_lambda_in_bracket_slow(k):
    """Theorem 1 of 004 at k = 7, 8."""
    lower, upper = _bracket(k)
    lam = public_good_solution(2, 3).guarantee
    assert lower - 1e-7 <= lam <= upper + 1e-7
