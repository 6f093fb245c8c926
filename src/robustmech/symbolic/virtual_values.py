"""Virtual values: Myerson's continuous formula and the discrete ones of the bounding programs.

* Myerson (1981): ψ(v) = v - (1 - F(v))/f(v) for a distribution with CDF F and density
  f = F'; the distribution is *regular* when ψ is nondecreasing (003 Section 2, the
  direct-mechanism LP; 000's virtual-value formulas).
* Discrete signals (001 Section 3.1 and footnote 13; 004 Remark 5): for a signal with
  probability mass f on ordered points x_0 < x_1 < ..., the virtual value of an interim
  value w is ψ(x_l) = w(x_l) - (1 - F(x_l))/f(x_l) · (w(x_{l+1}) - w(x_l)).
  For the censored geometric signal of 001 on X_i(k) = {0, 1/k, ..., k} (arrival rate
  1/k: f(l/k) = (1/k)(1-1/k)^l below the top, the rest of the mass at k) the ratio
  (1 - F)/f is k - 1 at every point below the top, so ψ = w - ∇+w with the upward
  derivative ∇+ of eq. (1) of 004, whose factor is k - 1 (004 footnote 13). Per unit of
  signal the inverse hazard rate is (k-1)/k → 1, the exponential normalisation of 002.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy

from ..errors import ParameterError


def myerson_virtual_value(cdf, v: sympy.Symbol) -> sympy.Expr:
    """ψ(v) = v - (1 - F(v))/F'(v) for a SymPy CDF expression F in v (Myerson 1981)."""
    cdf = sympy.sympify(cdf)
    density = sympy.diff(cdf, v)
    if density == 0:
        raise ParameterError("the CDF has zero density: no virtual value")
    return sympy.simplify(v - (1 - cdf) / density)


def inverse_hazard_rate(cdf, v: sympy.Symbol) -> sympy.Expr:
    """(1 - F(v))/f(v)."""
    cdf = sympy.sympify(cdf)
    return sympy.simplify((1 - cdf) / sympy.diff(cdf, v))


@dataclass(frozen=True)
class RegularityReport:
    """Whether ψ is nondecreasing on [lower, upper]: ``regular``; ``min_slope`` and
    ``where`` locate the steepest decrease found; ``symbolic`` is ψ'(v)."""

    regular: bool
    min_slope: float
    where: float
    symbolic: sympy.Expr


def regularity(cdf, v: sympy.Symbol, lower, upper, samples: int = 2001) -> RegularityReport:
    """Regularity check of Myerson (1981): ψ'(v) >= 0 on [lower, upper].

    ψ' is derived symbolically; its sign is decided by SymPy when it can (the
    minimum over the interval), otherwise on a fine grid of the open interval.
    """
    psi = myerson_virtual_value(cdf, v)
    slope = sympy.simplify(sympy.diff(psi, v))
    interval = sympy.Interval(sympy.nsimplify(lower), sympy.nsimplify(upper))
    try:
        exact = sympy.minimum(slope, v, interval)
        if exact.is_number and exact.is_finite:
            where_set = sympy.solveset(sympy.Eq(slope, exact), v, interval)
            found = isinstance(where_set, sympy.FiniteSet) and where_set
            where = float(next(iter(where_set))) if found else float("nan")
            return RegularityReport(bool(exact >= 0), float(exact), where, slope)
    except (NotImplementedError, ValueError, TypeError, StopIteration):
        pass
    fn = sympy.lambdify(v, slope, "numpy")
    grid = np.linspace(float(lower), float(upper), samples)[1:-1]
    values = np.broadcast_to(np.asarray(fn(grid), dtype=float), grid.shape)
    j = int(np.nanargmin(values))
    return RegularityReport(bool(values[j] >= -1e-12), float(values[j]), float(grid[j]), slope)


def censored_geometric(k: int) -> np.ndarray:
    """The censored geometric distribution of 001 Section 3.1 on X_i(k) = {l/k : 0 <= l <= k²},
    arrival rate 1/k: mass (1/k)(1-1/k)^l at l/k for l < k², the rest (1-1/k)^{k²} at k."""
    if k < 2:
        raise ParameterError(f"the censored geometric needs k >= 2, got {k}")
    K = k * k + 1
    l = np.arange(K)
    pmf = (1 / k) * (1 - 1 / k) ** l
    pmf[-1] = (1 - 1 / k) ** (K - 1)
    return pmf


def discrete_inverse_hazard_rate(pmf) -> np.ndarray:
    """(1 - F(x_l))/f(x_l) at every point of a discrete distribution (0 at the top)."""
    pmf = np.asarray(pmf, dtype=float)
    survival = 1.0 - np.cumsum(pmf)
    survival[-1] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pmf > 0, np.maximum(survival, 0.0) / pmf, np.inf)


def discrete_virtual_values(values, pmf) -> np.ndarray:
    """ψ(x_l) = w(x_l) - (1 - F(x_l))/f(x_l) (w(x_{l+1}) - w(x_l)) (001 Section 3.1,
    footnote 13; 004 Remark 5), ``values`` = w on the ordered signal points; at the top
    the information rent is 0."""
    w = np.asarray(values, dtype=float)
    rate = discrete_inverse_hazard_rate(pmf)
    forward = np.zeros_like(w)
    forward[:-1] = w[1:] - w[:-1]
    rate = np.where(np.isfinite(rate), rate, 0.0)
    return w - rate * forward
