"""The Erlang objects of 002: g_N (14) and G_N (15), numerically and in SymPy.

The aggregate x = Σ s of N i.i.d. standard exponential signals has density
g_N(x) = x^{N-1} e^{-x}/(N-1)!  (eq. (14) of 002) and distribution
G_N(x) = 1 - Σ_{n=1}^N g_n(x)   (eq. (15) of 002; also (32)-(33) of 003).
Two identities used throughout: g_N' = g_{N-1} - g_N, and e^x g_N(x) = x^{N-1}/(N-1)!,
so E(x) = ∫_0^x e^y g_N(y) dy = x^N/N! (the rescaling of 002 Section 4.1.1).
"""

from __future__ import annotations

import math

import numpy as np
import sympy
from scipy import special


def erlang_density(n: int, x):
    """g_n(x) = x^{n-1} e^{-x}/(n-1)!, eq. (14) of 002 (0 for x < 0; g_0 = 0)."""
    x = np.asarray(x, dtype=float)
    if n < 1:
        return np.zeros_like(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.exp((n - 1) * np.log(np.where(x > 0, x, 1.0)) - x - math.lgamma(n))
    out = np.where(x > 0, out, 1.0 if n == 1 else 0.0)
    out = np.where(x < 0, 0.0, out)
    return out if out.ndim else float(out)


def erlang_cdf(n: int, x):
    """G_n(x) = 1 - Σ_{m=1}^n g_m(x), eq. (15) of 002 (the regularised incomplete gamma)."""
    x = np.asarray(x, dtype=float)
    out = special.gammainc(n, np.maximum(x, 0.0))
    return out if out.ndim else float(out)


def erlang_survival(n: int, x):
    """1 - G_n(x) = Σ_{m=1}^n g_m(x), computed without cancellation."""
    x = np.asarray(x, dtype=float)
    out = special.gammaincc(n, np.maximum(x, 0.0))
    return out if out.ndim else float(out)


def erlang_quantile(n: int, alpha):
    """G_n^{-1}(α) (∞ at α = 1)."""
    alpha = np.asarray(alpha, dtype=float)
    out = np.where(alpha >= 1.0, np.inf, special.gammaincinv(n, np.clip(alpha, 0.0, 1.0)))
    return out if out.ndim else float(out)


def rescaled_signal(n: int, x):
    """E(x) = ∫_0^x e^y g_n(y) dy = x^n/n! (002 Section 4.1.1)."""
    return np.asarray(x, dtype=float) ** n / math.factorial(n)


# -- SymPy forms ----------------------------------------------------------------

def erlang_density_expr(n: int, x: sympy.Symbol) -> sympy.Expr:
    """g_n(x) of eq. (14) of 002 as a SymPy expression."""
    if n < 1:
        return sympy.Integer(0)
    return x ** (n - 1) * sympy.exp(-x) / sympy.factorial(n - 1)


def erlang_cdf_expr(n: int, x: sympy.Symbol) -> sympy.Expr:
    """G_n(x) = 1 - Σ_{m=1}^n g_m(x), eq. (15) of 002, as a SymPy expression."""
    return 1 - sum(erlang_density_expr(m, x) for m in range(1, n + 1))
