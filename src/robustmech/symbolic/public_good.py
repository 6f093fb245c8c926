"""The public-good saddle point of 004 Section 4.2, in closed form.

Notation of 004 (θ̄ is written ``vbar``): N agents, known social value vbar of full
expenditure, cost 1; a participation-secure mechanism and an information structure
that depend on the action/signal profile only through the aggregate y = Σ_i x_i.

* the aggregate expenditure, eq. (15) of 004,
      Ê(y; λ) = λ/(vbar-1) ∫_0^y exp(z - y) (z/y)^{-a} dz,   a = (N-1)/(vbar-1),
  solves the ODE (vbar-1)(Ê + Ê') - (N-1)/y Ê = λ with Ê(0) = 0;
* the boundary y = ŷ(λ), where Ê(ŷ; λ) = 1, and the guarantee λ, the fixed point of
  λ = λ̂(λ) = (vbar-1) - (N-1)/ŷ(λ); equivalently (the display after (15))
      λ = (vbar-1) e^y y^{-a} / ∫_0^y e^z z^{-a} dz   and   λ = (vbar-1) - (N-1)/y;
* the signal density, eq. (16) of 004,
      ρ(s) = e^s s^{-c} / ∫_0^y e^z z^{-c} z^{N-1}/(N-1)! dz  for s <= y, 0 above,
  c = (N-1) vbar/(vbar-1), which solves (vbar-1)(ρ - ρ') - vbar (N-1)/s ρ = 0 and
  integrates to 1 over the simplex {x >= 0 : Σx <= y};
* the boundary contribution to the potential, eq. (17) of 004,
      (vbar-1) ρ(y) y^{N-1}/(N-1)! = λ.

The integrals are Kummer functions: ∫_0^y e^z z^{b-1} dz = (y^b/b) ₁F₁(b; b+1; y), and
e^{-y} ₁F₁(b; b+1; y) = ₁F₁(1; b+1; -y), so Ê(y; λ) = λ/(vbar-1) · (y/b) ₁F₁(1; 1+b; -y)
with b = 1 - a. All numbers below are computed in mpmath at 30 digits.

When vbar/N <= 1 the max guarantee is 0 (004 Section 4.3) and the integrals in (15)
and (16) diverge; :func:`public_good_solution` refuses such parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mpmath
import sympy

from ..errors import ParameterError

_DIGITS = 30


def _parameters(N, vbar) -> tuple[int, mpmath.mpf]:
    try:
        n_agents = int(N)
    except (TypeError, ValueError):
        raise ParameterError(f"N must be a positive integer, got {N!r}") from None
    if n_agents != N or n_agents < 1:
        raise ParameterError(f"N must be a positive integer, got {N!r}")
    try:
        value = sympy.nsimplify(sympy.sympify(vbar, rational=True))
    except (TypeError, ValueError, sympy.SympifyError):
        raise ParameterError(f"vbar must be a number, got {vbar!r}") from None
    if not value.is_real or not value.is_number:
        raise ParameterError(f"vbar must be a real number, got {vbar!r}")
    if value <= n_agents:
        raise ParameterError(
            f"the public-good closed form needs vbar/N > 1, got vbar={vbar}, N={n_agents}: "
            "for vbar/N <= 1 the max guarantee is 0 (004 Section 4.3)"
        )
    return n_agents, value


@dataclass(frozen=True)
class PublicGoodSolution:
    """The saddle point of 004 Section 4.2 for given N and vbar (vbar/N > 1).

    ``guarantee`` is λ (the max guarantee = the min potential), ``boundary`` is y (the
    aggregate action where expenditure reaches 1 and the signal density drops to 0).
    ``aggregate_expenditure(s)`` is Ê(s; λ) of (15) (1 for s >= y),
    ``signal_density(s)`` is ρ of (16) as a function of the aggregate signal s,
    ``expenditure_share(x)`` is e_i(x) = (x_i/Σx) Ê(Σx), the proportional cost sharing.
    ``guarantee_exact``/``boundary_exact`` are the mpmath values (30 digits).
    """

    N: int
    vbar: sympy.Expr
    guarantee: float
    boundary: float
    guarantee_exact: mpmath.mpf = field(repr=False)
    boundary_exact: mpmath.mpf = field(repr=False)

    # -- the objects of (15)-(17) -----------------------------------------

    @property
    def exponent_mechanism(self) -> mpmath.mpf:
        """a = (N-1)/(vbar-1), the exponent in (15)."""
        return mpmath.mpf(self.N - 1) / (mpmath.mpf(self.vbar) - 1)

    @property
    def exponent_information(self) -> mpmath.mpf:
        """c = (N-1) vbar/(vbar-1), the exponent in (16)."""
        v = mpmath.mpf(self.vbar)
        return (self.N - 1) * v / (v - 1)

    def aggregate_expenditure(self, s) -> float:
        """Ê(s; λ) of eq. (15) of 004, capped at 1 beyond the boundary y."""
        with mpmath.workdps(_DIGITS):
            s = mpmath.mpf(s)
            if s >= self.boundary_exact:
                return 1.0
            return float(_expenditure(s, self.guarantee_exact, self.N, mpmath.mpf(self.vbar)))

    def expenditure_share(self, x) -> list[float]:
        """e_i(x) = (x_i / Σx) Ê(Σx): the proportional cost-sharing mechanism of 004 Section 4.2.1."""
        total = float(sum(x))
        if total == 0:
            return [0.0 for _ in x]
        expenditure = self.aggregate_expenditure(total)
        return [xi / total * expenditure for xi in x]

    def signal_density(self, s) -> float:
        """ρ(s) of eq. (16) of 004 at the aggregate signal s (0 above the boundary)."""
        with mpmath.workdps(_DIGITS):
            s = mpmath.mpf(s)
            if s > self.boundary_exact or s <= 0:
                return 0.0
            return float(_density(s, self.boundary_exact, self.N, mpmath.mpf(self.vbar)))

    def interim_value(self, x) -> list[float]:
        """v_i(x) = vbar x_i / Σx, agent i's interim expected value under (16)."""
        total = float(sum(x))
        return [float(self.vbar) * xi / total for xi in x]

    def boundary_contribution(self) -> float:
        """(vbar-1) ρ(y) y^{N-1}/(N-1)!, the left side of eq. (17) of 004, computed by
        quadrature of the normalising integral of (16) (independently of the root-finding)."""
        if self.N == 1:
            raise ParameterError("with one agent there is no boundary: the expenditure never reaches 1 at finite y")
        with mpmath.workdps(_DIGITS):
            y = self.boundary_exact
            v = mpmath.mpf(self.vbar)
            c = self.exponent_information
            N = self.N
            # ∫_0^y e^z z^{N-1-c} dz with u = z^b, b = N - c > 0: (1/b) ∫_0^{y^b} exp(u^{1/b}) du,
            # a smooth integrand (the singularity at 0 is gone)
            b = N - c
            integral = mpmath.quad(lambda u: mpmath.exp(u ** (1 / b)), [0, y**b]) / b
            normaliser = integral / mpmath.factorial(N - 1)
            rho_y = mpmath.exp(y) * y ** (-c) / normaliser
            return float((v - 1) * rho_y * y ** (N - 1) / mpmath.factorial(N - 1))

    def efficiency(self) -> float:
        """λ/(vbar-1): the guarantee as a fraction of the efficient surplus (004 Figure 2)."""
        return self.guarantee / (float(self.vbar) - 1)

    # -- sympy expressions --------------------------------------------------

    def expenditure_expression(self, s: sympy.Symbol | None = None) -> sympy.Expr:
        """Ê(s; λ) of (15) as a SymPy expression (an unevaluated integral) at the solved λ."""
        s = s or sympy.Symbol("y", positive=True)
        return expenditure_formula(self.N, self.vbar, sympy.Float(self.guarantee_exact, _DIGITS), s)

    def density_expression(self, s: sympy.Symbol | None = None) -> sympy.Expr:
        """ρ(s) of (16) below the boundary, as a SymPy expression at the solved y."""
        s = s or sympy.Symbol("y", positive=True)
        return density_formula(self.N, self.vbar, sympy.Float(self.boundary_exact, _DIGITS), s)

    def __str__(self) -> str:
        return (f"public good, N={self.N}, vbar={self.vbar}: guarantee lambda = {self.guarantee:.10g}, "
                f"boundary y = {self.boundary:.10g}, lambda/(vbar-1) = {self.efficiency():.6g}")


# ---------------------------------------------------------------------------
# numbers


def _kummer_integral(y, b):
    """∫_0^y e^z z^{b-1} dz = (y^b / b) ₁F₁(b; b+1; y), b > 0."""
    return y**b / b * mpmath.hyp1f1(b, b + 1, y)


def _expenditure(y, lam, N, v):
    """Ê(y; λ) = λ/(v-1) · (y/b) ₁F₁(1; 1+b; -y), b = 1 - (N-1)/(v-1): eq. (15) of 004."""
    b = 1 - mpmath.mpf(N - 1) / (v - 1)
    return lam / (v - 1) * y / b * mpmath.hyp1f1(1, 1 + b, -y)


def _guarantee_at_boundary(y, N, v):
    """λ with Ê(y; λ) = 1: (v-1) e^y y^{-a} / ∫_0^y e^z z^{-a} dz (the display after (15))."""
    b = 1 - mpmath.mpf(N - 1) / (v - 1)
    return (v - 1) * b / (y * mpmath.hyp1f1(1, 1 + b, -y))


def _density(s, y, N, v):
    """ρ(s) of eq. (16) of 004 for 0 < s <= y."""
    c = (N - 1) * v / (v - 1)
    normaliser = _kummer_integral(y, N - c) / mpmath.factorial(N - 1)
    return mpmath.exp(s) * s ** (-c) / normaliser


def proportional_fixed_point(scale, coefficient) -> tuple[mpmath.mpf, mpmath.mpf]:
    """The pair (λ, y) with λ = scale - coefficient/y and
    λ = scale · e^y y^{-a} / ∫_0^y e^z z^{-a} dz, a = coefficient/scale < 1.

    The public good of 004 Section 4.2 is scale = vbar - 1, coefficient = N - 1; the
    bilateral trade of 003 Section 3.6 is scale = g, coefficient = h - g ((43), (45)).
    In y the equation reads gap(y) = λ_E(y) - scale + coefficient/y = 0, where λ_E(y) is
    the λ with Ê(y; λ) = 1; gap > 0 at y0 = coefficient/scale (λ̂ = 0) and the root is
    unique (λ̂(λ) - λ is strictly decreasing, 004 Section 4.2.1): bracket by doubling,
    solve, and fall back to bisection.
    """
    with mpmath.workdps(_DIGITS):
        scale, coefficient = mpmath.mpf(scale), mpmath.mpf(coefficient)
        b = 1 - coefficient / scale

        def gap(y):
            return scale * b / (y * mpmath.hyp1f1(1, 1 + b, -y)) - scale + coefficient / y

        low = coefficient / scale
        high = 2 * low
        while gap(high) > 0:
            low, high = high, 2 * high
            if high > mpmath.mpf(10) ** 12:
                raise ParameterError("the boundary y exceeds 1e12: the parameters are too close to the "
                                     "edge of the region where the closed form exists")
        try:
            y = mpmath.findroot(gap, (low, high), solver="anderson")
        except (ValueError, ZeroDivisionError):
            y = None
        if y is None or not (low <= y <= high) or abs(gap(y)) > mpmath.mpf(10) ** (-20):
            y = _bisect(gap, low, high)
        return scale - coefficient / y, y


def public_good_solution(N: int, vbar) -> PublicGoodSolution:
    """The guarantee λ and boundary y of 004 Section 4.2 for N agents and social value vbar.

    Solves λ = λ̂(λ) = (vbar-1) - (N-1)/ŷ(λ), where Ê(ŷ(λ); λ) = 1 (eq. (15)), i.e.
    λ = (vbar-1) e^y y^{-a}/∫_0^y e^z z^{-a} dz = (vbar-1) - (N-1)/y with a = (N-1)/(vbar-1)
    (:func:`proportional_fixed_point`).

    Raises :class:`~robustmech.errors.ParameterError` unless vbar/N > 1.
    """
    n_agents, value = _parameters(N, vbar)
    if n_agents == 1:
        # one agent: a = 0, Ê(y) = λ(1 - e^{-y})/(v-1) never reaches 1 at finite y; the
        # guarantee is the full surplus vbar - 1 (the agent funds the good alone)
        with mpmath.workdps(_DIGITS):
            v = mpmath.mpf(value)
            return PublicGoodSolution(1, value, float(v - 1), float("inf"), v - 1, mpmath.inf)
    with mpmath.workdps(_DIGITS):
        lam, y = proportional_fixed_point(mpmath.mpf(value) - 1, n_agents - 1)
        return PublicGoodSolution(n_agents, value, float(lam), float(y), lam, y)


@dataclass(frozen=True)
class BilateralTradeSolution:
    """The saddle point of 003 Section 3.6 (states (0, g) and (h, h+g), gains from trade g).

    For g < h < 2g: ``guarantee`` is L of (43)/(45), ``boundary`` is ȳ; the trade
    probability q̄(y) of (44) and the price g + (h-g) x_2/(x_1+x_2).
    For h <= g efficient trade at a fixed price is possible and the guarantee is g;
    for h >= 2g the minimum potential is 0 (003 (41)).
    """

    g: float
    h: float
    guarantee: float
    boundary: float

    def trade_probability(self, y: float) -> float:
        """q̄(y) of eq. (44) of 003."""
        if not math.isfinite(self.boundary) or y >= self.boundary:
            return 1.0 if math.isfinite(self.boundary) else 0.0
        with mpmath.workdps(_DIGITS):
            b = 1 - (mpmath.mpf(self.h) - self.g) / self.g
            y = mpmath.mpf(y)
            return float(mpmath.mpf(self.guarantee) / self.g * y / b * mpmath.hyp1f1(1, 1 + b, -y))

    def price(self, x) -> float:
        """t̄(x)/q̄(x) = g + (h - g) x_2/(x_1 + x_2), 003 Section 3.6.2."""
        return self.g + (self.h - self.g) * x[1] / (x[0] + x[1])


def bilateral_trade_solution(g, h) -> BilateralTradeSolution:
    """L and ȳ of 003 Section 3.6: L = g - (h-g)/ȳ = g e^ȳ ȳ^{-(h-g)/g}/∫_0^ȳ e^z z^{-(h-g)/g} dz."""
    try:
        g, h = float(g), float(h)
    except (TypeError, ValueError):
        raise ParameterError(f"g and h must be numbers, got g={g!r}, h={h!r}") from None
    if g <= 0 or h < 0:
        raise ParameterError(f"bilateral trade needs g > 0 and h >= 0, got g={g}, h={h}")
    if h <= g:
        return BilateralTradeSolution(g, h, g, 0.0)
    if h >= 2 * g:
        return BilateralTradeSolution(g, h, 0.0, math.inf)
    lam, y = proportional_fixed_point(g, h - g)
    return BilateralTradeSolution(g, h, float(lam), float(y))


def _bisect(f, low, high, steps: int = 200):
    for _ in range(steps):
        mid = (low + high) / 2
        if f(mid) > 0:
            low = mid
        else:
            high = mid
    return (low + high) / 2


# ---------------------------------------------------------------------------
# symbolic forms


def expenditure_formula(N, vbar, lam, y: sympy.Symbol) -> sympy.Expr:
    """Ê(y; λ) of eq. (15) of 004 as a SymPy expression:
    λ/(vbar-1) e^{-y} y^{a} ∫_0^y e^z z^{-a} dz with a = (N-1)/(vbar-1)."""
    z = sympy.Dummy("z", positive=True)
    a = (N - 1) / (vbar - 1)
    return lam / (vbar - 1) * sympy.exp(-y) * y**a * sympy.Integral(sympy.exp(z) * z ** (-a), (z, 0, y))


def density_formula(N, vbar, boundary, s: sympy.Symbol) -> sympy.Expr:
    """ρ(s) of eq. (16) of 004 below the boundary y, as a SymPy expression."""
    z = sympy.Dummy("z", positive=True)
    c = (N - 1) * vbar / (vbar - 1)
    normaliser = sympy.Integral(sympy.exp(z) * z ** (-c) * z ** (N - 1) / sympy.factorial(N - 1), (z, 0, boundary))
    return sympy.exp(s) * s ** (-c) / normaliser


def expenditure_ode_residual() -> sympy.Expr:
    """(vbar-1)(Ê + Ê') - (N-1)/y Ê - λ for the symbolic (15), with N, vbar, λ, y symbols;
    simplifies to 0 (004 Section 4.2.1, the ODE before (15))."""
    N, vbar, lam, y = sympy.symbols("N vbar lambda y", positive=True)
    E = expenditure_formula(N, vbar, lam, y)
    return sympy.simplify((vbar - 1) * (E + sympy.diff(E, y)) - (N - 1) / y * E - lam)


def density_ode_residual() -> sympy.Expr:
    """(vbar-1)(ρ - ρ') - vbar (N-1)/s ρ for the symbolic (16); simplifies to 0
    (004 Section 4.2.2, the ODE before (16))."""
    N, vbar, y, s = sympy.symbols("N vbar y s", positive=True)
    rho = density_formula(N, vbar, y, s)
    return sympy.simplify((vbar - 1) * (rho - sympy.diff(rho, s)) - vbar * (N - 1) / s * rho)


def boundary_contribution_residual() -> sympy.Expr:
    """The two sides of eq. (17) of 004, symbolically, with N, vbar, y symbols.

    Left: (vbar-1) ρ(y) y^{N-1}/(N-1)! = (vbar-1) e^y y^{N-1-c} / ∫_0^y e^z z^{N-1-c} dz by (16);
    right: (vbar-1) e^y y^{-a} / ∫_0^y e^z z^{-a} dz (the display after (15)). Both have the
    form (vbar-1) e^y y^p / ∫_0^y e^z z^p dz, so they agree iff the powers agree: the
    residual returned is (N-1-c) - (-a), which simplifies to 0.
    """
    N, vbar = sympy.symbols("N vbar", positive=True)
    a = (N - 1) / (vbar - 1)
    c = (N - 1) * vbar / (vbar - 1)
    return sympy.simplify((N - 1 - c) - (-a))


