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


def _potential_bound_41(g, h, y):
    """The upper bound (41) of 003 on the potential of Ī_ε as ε -> 0, for h/g < 2:
    g e^ȳ ȳ^{1-h/g} / ∫_0^ȳ e^y y^{1-h/g} dy."""
    p = 1 - mpmath.mpf(h) / g
    return g * mpmath.exp(y) * y**p / mpmath.quad(lambda z: mpmath.exp(z) * z**p, [0, y])


@pytest.mark.parametrize("g, h", [(1, 1.2), (1, 1.5), (2, 3)])
def test_bilateral_trade_solves_003s_equations(g, h):
    """003 Section 3.6, solved here from the paper's equations at 30 digits and not through
    the package's fixed point: ȳ is the root of (43) = (45), g - (h-g)/ȳ = g e^ȳ ȳ^{-(h-g)/g} /
    ∫_0^ȳ e^z z^{-(h-g)/g} dz, and the guarantee is L = g - (h-g)/ȳ (43). Section 3.6.1
    determines the same ȳ as the minimiser of the potential bound (41) (whose value there is
    (45)): its derivative vanishes at ȳ (central difference, step 1e-6, error O(1e-12)).
    Tolerance 1e-9: the package integrates at mpmath's 15 digits, where the quadrature of the
    z^{-(h-g)/g} singularity at 0 is good to about 1e-11 and the root moves by that over the
    slope (h-g)/ȳ² (0.04 to 0.2 here) of (43) - (45)."""
    trade = bilateral_trade_solution(g, h)
    with mpmath.workdps(30):
        a = mpmath.mpf(h - g) / g

        def excess(y):
            integral = mpmath.quad(lambda z: mpmath.exp(z) * z ** (-a), [0, y])
            return g - (h - g) / y - g * mpmath.exp(y) * y ** (-a) / integral

        y = mpmath.findroot(excess, mpmath.mpf(2))  # a start of our own, not the package's ȳ
        assert trade.boundary == pytest.approx(float(y), abs=1e-9)
        assert trade.guarantee == pytest.approx(float(g - (h - g) / y), abs=1e-9)
        step = mpmath.mpf("1e-6")
        slope = (_potential_bound_41(g, h, y + step) - _potential_bound_41(g, h, y - step)) / (2 * step)
        assert abs(slope) < 1e-9
        assert _potential_bound_41(g, h, y + 0.1) > _potential_bound_41(g, h, y) < _potential_bound_41(g, h, y - 0.1)


def test_bilateral_trade_limits():
    """003 Section 3.6: with h >= 2g the minimum potential (41) is 0, so the guarantee is 0."""
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
