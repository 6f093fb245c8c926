"""Value distributions H for the common-value auction formulas of 002.

Every distribution has a bounded support [lower, upper] (002 Section 2.1), a
right-continuous CDF H, and the quantile of 002 Section 2.1,
    H^{-1}(α) = min{x : H(x) >= α},
with H^{-1}(0) taken to be the bottom of the support. ``partial_expectation(α)`` is
∫_0^α H^{-1}(u) du, which gives Γ̂ of 002 Section 4.1.1 in closed form:
Γ̂(x) = ∫_0^x (ŵ - c) g_N = partial_expectation(G_N(x)) - c G_N(x).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import sympy
from scipy import integrate, optimize

from ..errors import ParameterError


class ValueDistribution:
    """A distribution H of the common value v on a bounded interval [lower, upper]
    (fields or properties of the subclasses)."""

    if TYPE_CHECKING:  # declared only: a property here would shadow the subclasses' dataclass fields
        @property
        def lower(self) -> float: ...

        @property
        def upper(self) -> float: ...

    @property
    def name(self) -> str:
        return "distribution"

    def cdf(self, v: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def quantile(self, alpha: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def mean(self) -> float:
        return self.partial_expectation(1.0)

    def partial_expectation(self, alpha: float) -> float:
        """∫_0^α H^{-1}(u) du."""
        return integrate.quad(self.quantile, 0.0, alpha, limit=200, epsabs=1e-13, epsrel=1e-12)[0]

    def atoms(self) -> tuple[float, ...]:
        """Values with positive probability (where H jumps), sorted."""
        return ()

    def quantile_jumps(self) -> tuple[float, ...]:
        """The levels α in (0, 1) where H^{-1} jumps: H at each atom below the top, and
        H on each gap of the support (where H is flat)."""
        return tuple(self.cdf(v) for v in self.atoms()[:-1])

    def exact_mean(self) -> sympy.Expr:
        return sympy.nsimplify(self.mean())

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Uniform(ValueDistribution):
    """v uniform on [lower, upper]."""

    lower: float = 0.0
    upper: float = 1.0

    def __post_init__(self):
        if not self.upper > self.lower:
            raise ParameterError(f"a uniform value needs lower < upper, got [{self.lower}, {self.upper}]")

    @property
    def name(self) -> str:
        return f"uniform[{self.lower:g}, {self.upper:g}]"

    def cdf(self, v):
        return float(np.clip((v - self.lower) / (self.upper - self.lower), 0.0, 1.0))

    def quantile(self, alpha):
        return self.lower + (self.upper - self.lower) * min(max(alpha, 0.0), 1.0)

    def partial_expectation(self, alpha):
        alpha = min(max(alpha, 0.0), 1.0)
        return self.lower * alpha + (self.upper - self.lower) * alpha * alpha / 2

    def exact_mean(self):
        return (sympy.nsimplify(self.lower) + sympy.nsimplify(self.upper)) / 2


@dataclass(frozen=True)
class Discrete(ValueDistribution):
    """A finite distribution: ``values`` with probabilities ``probabilities``."""

    values: tuple
    probabilities: tuple
    _cumulative: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        values = [float(v) for v in self.values]
        probs = [float(p) for p in self.probabilities]
        if len(values) != len(probs) or not values:
            raise ParameterError("a discrete value distribution needs as many probabilities as values (at least one)")
        if any(p < 0 for p in probs) or abs(sum(probs) - 1) > 1e-12:
            raise ParameterError(f"probabilities must be nonnegative and sum to 1, got {probs}")
        order = np.argsort(values)
        values = [values[i] for i in order]
        probs = [probs[i] for i in order]
        if len(set(values)) != len(values):
            raise ParameterError("a discrete value distribution lists a value twice")
        kept = [(v, p) for v, p in zip(values, probs) if p > 0]
        if len(kept) < 2:
            raise ParameterError("the value must be uncertain: give at least two values with positive probability "
                                 "(002 Section 2.1 assumes the lowest value is below the highest)")
        object.__setattr__(self, "values", tuple(v for v, _ in kept))
        object.__setattr__(self, "probabilities", tuple(p for _, p in kept))
        object.__setattr__(self, "_cumulative", tuple(np.cumsum([p for _, p in kept])))

    @property
    def lower(self):
        return self.values[0]

    @property
    def upper(self):
        return self.values[-1]

    @property
    def name(self) -> str:
        return "discrete{" + ", ".join(f"{v:g}: {p:g}" for v, p in zip(self.values, self.probabilities)) + "}"

    def cdf(self, v):
        index = bisect.bisect_right(self.values, v)
        return 0.0 if index == 0 else float(min(self._cumulative[index - 1], 1.0))

    def quantile(self, alpha):
        if alpha <= 0:
            return self.values[0]
        index = bisect.bisect_left(self._cumulative, alpha - 1e-15)
        return self.values[min(index, len(self.values) - 1)]

    def partial_expectation(self, alpha):
        alpha = min(max(alpha, 0.0), 1.0)
        total, previous = 0.0, 0.0
        for v, cumulative in zip(self.values, self._cumulative):
            top = min(cumulative, alpha)
            if top > previous:
                total += v * (top - previous)
            previous = cumulative
            if cumulative >= alpha:
                break
        return total

    def atoms(self):
        return self.values

    def exact_mean(self):
        return sum(sympy.nsimplify(v) * sympy.nsimplify(p) for v, p in zip(self.values, self.probabilities))


@dataclass(frozen=True)
class Exponential(ValueDistribution):
    """v exponential with ``rate``: H(v) = 1 - exp(-rate v) on [0, ∞). Its support is
    unbounded, which 002 Section 2.1 excludes (002 footnote 36 takes a limit of the
    bounded formulas); the proportional auction of 002 is not built for it here."""

    rate: float = 1.0

    def __post_init__(self):
        if not (self.rate > 0 and np.isfinite(self.rate)):
            raise ParameterError(f"an exponential value needs a positive finite rate, got {self.rate}")

    @property
    def lower(self) -> float:
        return 0.0

    @property
    def upper(self) -> float:
        return float("inf")

    @property
    def name(self) -> str:
        return f"exponential({self.rate:g})"

    def cdf(self, v):
        return 0.0 if v <= 0 else float(-np.expm1(-self.rate * v))

    def quantile(self, alpha):
        alpha = min(max(alpha, 0.0), 1.0)
        return float("inf") if alpha == 1 else float(-np.log1p(-alpha) / self.rate)

    def partial_expectation(self, alpha):
        """∫_0^α -log(1-u)/rate du = (α + (1-α) log(1-α))/rate."""
        alpha = min(max(alpha, 0.0), 1.0)
        tail = 0.0 if alpha == 1 else (1 - alpha) * np.log1p(-alpha)
        return float((alpha + tail) / self.rate)

    def exact_mean(self):
        return 1 / sympy.nsimplify(self.rate)


@dataclass(frozen=True)
class UniformMixture(ValueDistribution):
    """A mixture of uniforms: ``parts`` are (weight, lower, upper), weights summing to 1
    (002 Figure 3: uniform on [0, 0.95] ∪ [3.95, 4] is ((0.95, 0, 0.95), (0.05, 3.95, 4))).
    H is piecewise linear between the parts' ends, so H, H^{-1} and ∫_0^α H^{-1} are exact."""

    parts: tuple
    _knots: tuple = field(init=False, repr=False, compare=False)
    _levels: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        parts = tuple((float(w), float(a), float(b)) for w, a, b in self.parts)
        if not parts or any(w < 0 or not b > a for w, a, b in parts) or abs(sum(w for w, _, _ in parts) - 1) > 1e-12:
            raise ParameterError(f"a mixture of uniforms needs weights >= 0 summing to 1 and intervals with "
                                 f"lower < upper, got {self.parts}")
        object.__setattr__(self, "parts", parts)
        knots = sorted({e for _, a, b in parts for e in (a, b)})
        levels = [sum(w * min(max((x - a) / (b - a), 0.0), 1.0) for w, a, b in parts) for x in knots]
        levels[-1] = 1.0
        object.__setattr__(self, "_knots", tuple(knots))
        object.__setattr__(self, "_levels", tuple(levels))

    @property
    def lower(self):
        return self._knots[0]

    @property
    def upper(self):
        return self._knots[-1]

    @property
    def name(self) -> str:
        return "mixture{" + ", ".join(f"{w:g}: uniform[{a:g}, {b:g}]" for w, a, b in self.parts) + "}"

    def cdf(self, v):
        return float(np.interp(v, self._knots, self._levels))

    def quantile(self, alpha):
        """min{x : H(x) >= α}: on the first segment whose top level reaches α and rises."""
        if alpha <= 0:
            return self.lower
        xs, hs = self._knots, self._levels
        for k in range(len(xs) - 1):
            if hs[k + 1] >= alpha and hs[k + 1] > hs[k]:
                if alpha <= hs[k]:
                    return xs[k]
                return xs[k] + (xs[k + 1] - xs[k]) * (alpha - hs[k]) / (hs[k + 1] - hs[k])
        return self.upper

    def partial_expectation(self, alpha):
        """∫_0^α H^{-1}: on a rising segment H^{-1} is linear in the level."""
        alpha = min(max(alpha, 0.0), 1.0)
        xs, hs = self._knots, self._levels
        total = 0.0
        for k in range(len(xs) - 1):
            lo, hi = hs[k], min(hs[k + 1], alpha)
            if hi > lo:
                top = xs[k] + (xs[k + 1] - xs[k]) * (hi - lo) / (hs[k + 1] - hs[k])
                total += (hi - lo) * (xs[k] + top) / 2
        return total

    def quantile_jumps(self):
        xs, hs = self._knots, self._levels
        return tuple(sorted({hs[k] for k in range(len(xs) - 1) if hs[k] == hs[k + 1] and 0 < hs[k] < 1}))

    def exact_mean(self):
        return sum(sympy.nsimplify(w) * (sympy.nsimplify(a) + sympy.nsimplify(b)) / 2 for w, a, b in self.parts)


def binary(p, low: float = 0.0, high: float = 1.0) -> Discrete:
    """The binary value of 003 Section 3.5: v = high with probability p, low otherwise."""
    p = float(p)
    if not 0 < p < 1:
        raise ParameterError(f"the probability of the high value must be in (0, 1), got {p}")
    return Discrete((low, high), (1 - p, p))


@dataclass(frozen=True)
class SymbolicDistribution(ValueDistribution):
    """A continuous distribution given by a SymPy CDF expression in ``symbol`` on
    [lower, upper] (H(lower) = 0, H(upper) = 1, nondecreasing)."""

    cdf_expression: sympy.Expr
    symbol: sympy.Symbol
    lower: float
    upper: float
    _cdf: Callable[[float], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not self.upper > self.lower:
            raise ParameterError(f"the support must have lower < upper, got [{self.lower}, {self.upper}]")
        free = self.cdf_expression.free_symbols - {self.symbol}
        if free:
            raise ParameterError(f"the CDF has free symbols besides {self.symbol}: "
                                 f"{', '.join(sorted(s.name for s in free))}")
        fn = sympy.lambdify(self.symbol, self.cdf_expression, "math")
        object.__setattr__(self, "_cdf", fn)
        at_low, at_high = float(fn(self.lower)), float(fn(self.upper))
        if abs(at_low) > 1e-9 or abs(at_high - 1) > 1e-9:
            raise ParameterError(f"the CDF must be 0 at {self.lower} and 1 at {self.upper}, "
                                 f"got {at_low:g} and {at_high:g}")

    @property
    def name(self) -> str:
        return f"H({self.symbol}) = {self.cdf_expression} on [{self.lower:g}, {self.upper:g}]"

    def cdf(self, v):
        if v <= self.lower:
            return 0.0
        if v >= self.upper:
            return 1.0
        return float(self._cdf(v))

    def quantile(self, alpha):
        if alpha <= 0:
            return float(self.lower)
        low, high = float(self.lower), float(self.upper)
        # bisection on the predicate H(x) >= alpha gives the minimum exactly
        # (flat stretches of H are handled correctly), polished by brentq when H crosses
        try:
            if self.cdf(low) - alpha < 0 < self.cdf(high) - alpha:
                return optimize.brentq(lambda x: self.cdf(x) - alpha, low, high, xtol=1e-15, rtol=4e-16)
        except ValueError:
            pass
        for _ in range(80):
            mid = (low + high) / 2
            if self.cdf(mid) >= alpha:
                high = mid
            else:
                low = mid
        return high

    def partial_expectation(self, alpha):
        """∫_0^α H^{-1}(u) du = α x - ∫_lower^x H(v) dv with x = H^{-1}(α) (the layer-cake
        identity; one quantile and one integral of H, not an integral of quantiles)."""
        alpha = min(max(alpha, 0.0), 1.0)
        if alpha <= 0:
            return 0.0
        x = self.quantile(alpha)
        below = integrate.quad(self.cdf, float(self.lower), x, limit=200, epsabs=1e-14, epsrel=1e-13)[0]
        return alpha * x - below

    def density_expression(self) -> sympy.Expr:
        return sympy.diff(self.cdf_expression, self.symbol)

    def exact_mean(self):
        """E[v] = upper - ∫_lower^upper H(v) dv, in SymPy."""
        lower, upper = sympy.nsimplify(self.lower), sympy.nsimplify(self.upper)
        return sympy.simplify(upper - sympy.integrate(self.cdf_expression, (self.symbol, lower, upper)))


def from_cdf(expression, symbol=None, lower=0, upper=1) -> SymbolicDistribution:
    """A :class:`SymbolicDistribution` from a SymPy expression or string, e.g.
    ``from_cdf("v**2", "v", 0, 1)``."""
    if symbol is None:
        expr = sympy.sympify(expression)
        symbols = sorted(expr.free_symbols, key=lambda s: s.name)
        if len(symbols) != 1:
            raise ParameterError(f"name the CDF's variable: it has symbols {symbols}")
        symbol = symbols[0]
    symbol = sympy.Symbol(symbol) if isinstance(symbol, str) else symbol
    try:
        expr = sympy.sympify(expression, locals={symbol.name: symbol})
    except (sympy.SympifyError, TypeError) as exc:
        raise ParameterError(f"cannot read the CDF {expression!r}: {exc}") from None
    return SymbolicDistribution(expr, symbol, float(lower), float(upper))


def distribution(spec) -> ValueDistribution:
    """Accept a distribution object, ``"uniform"``, or ``{"values": [...], "probabilities": [...]}``."""
    if isinstance(spec, ValueDistribution):
        return spec
    if spec == "uniform":
        return Uniform(0.0, 1.0)
    if isinstance(spec, dict) and "values" in spec:
        return Discrete(tuple(spec["values"]), tuple(spec["probabilities"]))
    raise ParameterError(f"unknown value distribution {spec!r}")

