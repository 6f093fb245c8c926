"""Continuous priors (``prior continuous ...``) and their discretisation onto the state grid.

A :class:`ContinuousPrior` is a distribution of a one-dimensional state v: a mixture
Σ_j w_j f_j of pieces, each a density f_j on an interval [a_j, b_j] (a uniform, a density
written as an expression, an exponential with b_j = ∞), normalised by its integral Z_j.

**Discretisation (nearest grid point).** With the grid points x_1 < ... < x_n of the
state, point x_s gets the probability of its cell [m_{s-1}, m_s], where
m_s = (x_s + x_{s+1})/2 is the midpoint between neighbours, m_0 is the bottom of the
support and m_n its top (the end cells are extended to the support's ends, so an
unbounded tail falls in the last cell). This is the distribution of v rounded to its
nearest grid point (ties, a set of measure 0, do not matter); the masses sum to 1 and
the discretised prior converges weakly to the continuous one as the grid is refined.
For v uniform on [0, 1] and ``grid(0, 1, n)`` the interior cells have mass h = 1/(n-1)
and the end cells h/2.

Masses are exact (SymPy) where the density has an antiderivative SymPy finds; otherwise
each cell is integrated numerically with mpmath (30 digits, error estimate below 1e-12,
else an error), and the masses are stored as decimals that sum to exactly 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy

from ..errors import Location, ModelError

#: the error a numerical integral of a density may have (its estimate)
QUADRATURE_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Piece:
    """``weight`` times the density ``density``/``total`` on [lower, upper] (``upper``
    may be ∞). ``kind``: ``uniform`` (``params`` = (lower, upper)), ``exponential``
    (``params`` = (rate,)) or ``density``. ``antiderivative`` is ∫_lower^x density in the
    symbol ``x`` of the prior, or None when SymPy finds none (then cells are integrated
    numerically)."""

    kind: str
    weight: sympy.Expr
    density: sympy.Expr
    lower: sympy.Expr
    upper: sympy.Expr
    total: sympy.Expr
    antiderivative: sympy.Expr | None
    params: tuple = ()

    def mass(self, symbol: sympy.Symbol, a, b):
        """∫_a^b of the normalised density (exact where the antiderivative is known)."""
        a, b = sympy.Max(a, self.lower), sympy.Min(b, self.upper)
        if not bool(b > a):
            return sympy.Integer(0)
        if self.antiderivative is not None:
            at = self.antiderivative
            return (at.subs(symbol, b) - at.subs(symbol, a)) / self.total
        return quadrature(self.density, symbol, a, b) / float(self.total)


@dataclass(frozen=True)
class ContinuousPrior:
    """The distribution of ``prior continuous ...`` of the state coordinate ``symbol``:
    the mixture of ``pieces`` (weights summing to 1), as written (``text``), at
    ``location``. ``quadrature``: some cell was integrated numerically."""

    symbol: sympy.Symbol
    pieces: tuple[Piece, ...]
    text: str
    location: Location | None = None
    quadrature: bool = field(default=False, compare=False)

    @property
    def lower(self) -> sympy.Expr:
        return sympy.Min(*[p.lower for p in self.pieces])

    @property
    def upper(self) -> sympy.Expr:
        return sympy.Max(*[p.upper for p in self.pieces])

    @property
    def kind(self) -> str:
        """``uniform``, ``exponential``, ``density`` for one piece; else ``mixture``."""
        return self.pieces[0].kind if len(self.pieces) == 1 else "mixture"

    def mass(self, a, b):
        """P(a < v <= b)."""
        return sum((p.weight * p.mass(self.symbol, a, b) for p in self.pieces), sympy.Integer(0))

    def cdf(self, x) -> float:
        """H(x) = P(v <= x), as a float."""
        return float(self.mass(self.lower, x)) if bool(x > self.lower) else 0.0

    def cells(self, values) -> list[tuple]:
        """The cell [m_{s-1}, m_s] of each of the sorted distinct grid values (module docstring)."""
        cuts = [(a + b) / 2 for a, b in zip(values[:-1], values[1:])]
        return list(zip([self.lower, *cuts], [*cuts, self.upper]))

    def __str__(self) -> str:
        return self.text


def quadrature(density: sympy.Expr, symbol: sympy.Symbol, a, b) -> float:
    """∫_a^b density numerically (mpmath, 30 digits); refuses an error estimate above
    QUADRATURE_TOLERANCE."""
    f = sympy.lambdify(symbol, density, modules="mpmath")
    with mpmath.workdps(30):
        ends = [mpmath.inf if e == sympy.oo else mpmath.mpf(sympy.Rational(e).p) / sympy.Rational(e).q
                if isinstance(e, sympy.Rational) else mpmath.mpf(str(sympy.N(e, 35))) for e in (a, b)]
        value, error = mpmath.quad(f, ends, error=True)
    if not mpmath.isfinite(value) or error > QUADRATURE_TOLERANCE:
        raise _QuadratureError(f"the numerical integral of the density over [{a}, {b}] does not reach "
                               f"{QUADRATURE_TOLERANCE:g} (error estimate {float(error):.1e})")
    return float(value)


class _QuadratureError(Exception):
    pass


def make_piece(kind: str, weight, density: sympy.Expr, symbol: sympy.Symbol, lower, upper, loc: Location,
               params: tuple = ()) -> Piece:
    """A checked :class:`Piece`: lower < upper, the density is nonnegative (sampled at
    2001 points and the ends) and integrates to a positive finite number."""
    if not bool(upper > lower):
        raise ModelError(f"the interval [{lower}, {upper}] is empty: its lower end must be below its upper end", loc)
    if lower == -sympy.oo:
        raise ModelError("a continuous prior's support must be bounded below", loc)
    _check_nonnegative(density, symbol, lower, upper, loc)
    x = sympy.Dummy("x", real=True)
    antiderivative: sympy.Expr | None
    try:
        at = sympy.integrate(density, (symbol, lower, x))
        antiderivative = None if at.has(sympy.Integral) else at.subs(x, symbol)
    except (NotImplementedError, ValueError, TypeError):  # pragma: no cover - SymPy gives up
        antiderivative = None
    total: sympy.Expr | float
    try:
        if antiderivative is not None:
            total = sympy.simplify(sympy.integrate(density, (symbol, lower, upper)))
            if total.has(sympy.Integral) or not total.is_number:
                total = quadrature(density, symbol, lower, upper)
        else:
            total = quadrature(density, symbol, lower, upper)
    except _QuadratureError as exc:
        raise ModelError(str(exc), loc) from None
    value = float(total)
    if not np.isfinite(value) or value <= 0:
        shown = "infinity" if value == np.inf else total
        raise ModelError(f"the density integrates to {shown} over [{lower}, {upper}]: it must integrate to a "
                         "positive finite number", loc)
    return Piece(kind, weight, density, lower, upper, sympy.sympify(total), antiderivative, params)


def _check_nonnegative(density, symbol, lower, upper, loc) -> None:
    top = upper if upper != sympy.oo else lower + 50
    grid = np.linspace(float(lower), float(top), 2001)
    f = sympy.lambdify(symbol, density, modules="numpy")
    with np.errstate(all="ignore"):
        values = np.broadcast_to(np.asarray(f(grid), dtype=complex), grid.shape)
    for x, value in zip(grid, values):
        if np.isnan(value) or abs(value.imag) > 1e-12:
            raise ModelError(f"the density {density} is not a real number at {symbol} = {x:.6g}", loc)
        if value.real < 0:
            raise ModelError(f"negative density: {density} = {value.real:.6g} at {symbol} = {x:.6g}", loc)


def discretise(prior: ContinuousPrior, points: list, loc: Location) -> list:
    """The mass of each state (``points``: the state's values in state order) under the
    nearest-grid-point rule of the module docstring, in state order."""
    values = sorted(set(points), key=float)
    low, high = prior.lower, prior.upper
    outside = [v for v in values if bool(v < low) or bool(v > high)]
    if outside:
        raise ModelError(f"the support [{low}, {high}] of the prior does not cover the state grid: the state "
                         f"{prior.symbol} = {outside[0]} lies outside it", loc)
    try:
        by_value = {v: prior.mass(a, b) for v, (a, b) in zip(values, prior.cells(values))}
    except _QuadratureError as exc:
        raise ModelError(str(exc), loc) from None
    return [by_value[p] for p in points]
