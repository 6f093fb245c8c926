"""Named checks: the identities each closed-form result rests on (``robustmech verify``).

Each check is a function returning a :class:`CheckResult` (passed, residual, tolerance,
detail). Its keyword arguments are the formulas it checks, with the library's own as
defaults, so that a test can hand it a deliberately wrong formula and see it fail.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy

from . import public_good as pg
from . import virtual_values as vv
from .auction import (
    ProportionalAuction,
    must_sell_uniform_guarantee,
    must_sell_uniform_transfer,
    uniform_threshold_equation,
)
from .distributions import Discrete, Uniform, binary
from .erlang import erlang_cdf, erlang_cdf_expr, erlang_density_expr, erlang_quantile


@dataclass(frozen=True)
class CheckResult:
    name: str
    source: str
    passed: bool
    residual: float
    tolerance: float
    detail: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Check:
    name: str
    source: str
    run: Callable[..., tuple[float, float, str]]  # -> (residual, tolerance, detail)
    slow: bool = False

    def __call__(self, **formulas) -> CheckResult:
        start = time.perf_counter()
        residual, tolerance, detail = self.run(**formulas)
        residual = float(residual)
        passed = bool(np.isfinite(residual) and residual <= tolerance)
        return CheckResult(self.name, self.source, passed, residual, tolerance, detail, time.perf_counter() - start)


CHECKS: dict[str, Check] = {}


def check(name: str, source: str, slow: bool = False):
    def register(fn):
        CHECKS[name] = Check(name, source, fn, slow)
        return fn
    return register


# the environments the 002 checks run on: a graded interval at 0 (uniform, c = 0), a
# cost (uniform, N = 3, c = 0.2) and atoms with an interior graded interval possible
def _auctions():
    return (ProportionalAuction(Uniform(0.0, 1.0), 2),
            ProportionalAuction(Uniform(0.0, 1.0), 3, cost=0.2),
            ProportionalAuction(Discrete((0.2, 0.6, 1.0), (0.3, 0.3, 0.4)), 2, cost=0.1))


_AUCTIONS: tuple | None = None


def auctions() -> tuple:
    global _AUCTIONS
    if _AUCTIONS is None:
        _AUCTIONS = _auctions()
    return _AUCTIONS


def _profiles(auction, count: int = 3, seed: int = 5):
    rng = np.random.default_rng(seed)
    out = []
    for target in np.linspace(0.4, 2.6 * auction.N, count):
        shares = rng.dirichlet(np.ones(auction.N))
        m = shares * target
        if auction.breakpoints and min(abs(target - p) for p in auction.breakpoints) < 1e-3:
            m = m * 1.01
        out.append(m)
    return out


def _divergence(rule: Callable, m: np.ndarray, h: float = 1e-5) -> float:
    """Σ_i ∂ rule_i(m)/∂m_i by central differences."""
    total = 0.0
    for i in range(len(m)):
        up, down = m.copy(), m.copy()
        up[i] += h
        down[i] -= h
        total += (rule(up)[i] - rule(down)[i]) / (2 * h)
    return total


# ---------------------------------------------------------------------------
# 004 Section 4.2: the public good


@check("public-good-expenditure-ode", "004 Section 4.2.1, eq. (15)")
def _expenditure_ode(expenditure_formula=pg.expenditure_formula):
    """(vbar-1)(Ê + Ê') - (N-1)/y Ê = λ for Ê of (15), symbolically; and Ê(0) = 0."""
    N, vbar, lam, y = sympy.symbols("N vbar lambda y", positive=True)
    E = expenditure_formula(N, vbar, lam, y)
    residual_expr = sympy.simplify((vbar - 1) * (E + sympy.diff(E, y)) - (N - 1) / y * E - lam)
    # also numerically at N=2, vbar=3, λ=1 on a few y (catches what simplify might leave)
    values = {N: 2, vbar: 3, lam: 1}
    worst = 0.0 if residual_expr == 0 else max(
        abs(complex(sympy.N(residual_expr.subs(values).subs(y, point), 20))) for point in (0.5, 1.0, 2.0))
    at_zero = abs(complex(sympy.N(E.subs(values).subs(y, sympy.Rational(1, 10**12)), 20)))
    return max(worst, at_zero), 1e-9, f"symbolic residual {residual_expr}"


@check("public-good-density-ode", "004 Section 4.2.2, eq. (16)")
def _density_ode(density_formula=pg.density_formula):
    """(vbar-1)(ρ - ρ') - vbar (N-1)/s ρ = 0 for ρ of (16); and ρ integrates to 1 on the simplex."""
    N, vbar, ybar, s = sympy.symbols("N vbar y s", positive=True)
    rho = density_formula(N, vbar, ybar, s)
    residual_expr = sympy.simplify((vbar - 1) * (rho - sympy.diff(rho, s)) - vbar * (N - 1) / s * rho)
    worst = 0.0 if residual_expr == 0 else max(
        abs(complex(sympy.N(residual_expr.subs({N: 2, vbar: 3, ybar: 2}).subs(s, p), 20))) for p in (0.5, 1.0))
    if worst > 1e-8:
        return worst, 1e-8, f"symbolic residual {residual_expr}"
    import mpmath
    solution = pg.public_good_solution(2, 3)
    rho_num = density_formula(2, sympy.Integer(3), sympy.Float(solution.boundary_exact, 30), s)
    at = [sympy.Rational(1, 2), sympy.Integer(1), sympy.Rational(3, 2)]
    values = [mpmath.mpf(str(sympy.N(rho_num.subs(s, t), 25))) for t in at]
    # ρ is e^s s^{-c} / normaliser (checked by the ODE); read the normaliser off at s = 1
    # and integrate ρ(s) s^{N-1}/(N-1)! over [0, y] (N = 2, c = 3/2)
    normaliser = mpmath.e / values[1]
    b = mpmath.mpf(1) / 2  # s^{-c} s^{N-1} = s^{b-1}; substitute u = s^b
    mass = mpmath.quad(lambda u: mpmath.exp(u ** (1 / b)), [0, solution.boundary_exact ** b]) / b / normaliser
    return max(worst, abs(float(mass) - 1)), 1e-8, f"symbolic residual {residual_expr}; simplex mass {float(mass):.12f}"


@check("public-good-boundary-contribution", "004 Section 4.2.2, eq. (17)")
def _boundary_contribution(solver=pg.public_good_solution):
    """(vbar-1) ρ(y) y^{N-1}/(N-1)! = λ: symbolically (the powers agree) and numerically,
    the left side by quadrature of (16), the right side from the fixed point."""
    symbolic = pg.boundary_contribution_residual()
    worst = abs(float(symbolic))
    cases = ((2, 3), (3, 5), (4, 9))
    for N, vbar in cases:
        solution = solver(N, vbar)
        worst = max(worst, abs(solution.boundary_contribution() - pg.public_good_solution(N, vbar).guarantee))
    return worst, 1e-10, f"cases (N, vbar) = {cases}"


@check("public-good-fixed-point", "004 Section 4.2.1, λ = λ̂(λ) after (15)")
def _fixed_point(solver=pg.public_good_solution):
    """Ê(y; λ) = 1 at the boundary (by quadrature of (15)) and λ = (vbar-1) - (N-1)/y."""
    import mpmath
    worst = 0.0
    for N, vbar in ((2, 3), (3, 5), (2, 10)):
        solution = solver(N, vbar)
        a = mpmath.mpf(N - 1) / (vbar - 1)
        y, lam = mpmath.mpf(solution.boundary), mpmath.mpf(solution.guarantee)
        b = 1 - a
        # ∫_0^y e^{z-y} (z/y)^{-a} dz with u = z^b (smooth integrand)
        integral = mpmath.quad(lambda u, a=a, b=b, y=y: mpmath.exp(u ** (1 / b) - y) * y**a, [0, y**b]) / b
        expenditure = lam / (vbar - 1) * integral
        worst = max(worst, abs(float(expenditure) - 1), abs(float(lam - (vbar - 1) + (N - 1) / y)))
    return worst, 1e-9, "N, vbar in (2, 3), (3, 5), (2, 10)"


# ---------------------------------------------------------------------------
# virtual values


@check("myerson-virtual-value", "Myerson (1981); 002 Section 3.2; 003 Section 3.5.1")
def _myerson(virtual_value=vv.myerson_virtual_value):
    """ψ = 2v - 1 for U[0, 1]; ψ = v - 1 for the standard exponential (inverse hazard rate 1)."""
    v = sympy.Symbol("v", positive=True)
    r1 = sympy.simplify(virtual_value(v, v) - (2 * v - 1))
    r2 = sympy.simplify(virtual_value(1 - sympy.exp(-v), v) - (v - 1))
    worst = max(abs(float(r.subs(v, p))) for r in (r1, r2) for p in (0.3, 0.7, 2.0))
    regular = vv.regularity(v, v, 0, 1).regular and not vv.regularity(sympy.sqrt(v), v, 0, 1).regular
    return worst + (0.0 if regular else 1.0), 1e-12, "uniform, exponential; regularity: uniform yes, sqrt no"


@check("censored-geometric-virtual-value", "001 Section 3.1 and footnote 13; 004 eq. (1), Remark 5")
def _censored_geometric(virtual_values=vv.discrete_virtual_values):
    """For the censored geometric signal (1 - F)/f = k - 1 below the top, so the discrete
    virtual value is w - ∇+w with ∇+ of (1) of 004 (factor k - 1)."""
    from ..lower.grid import Grid
    worst = 0.0
    rng = np.random.default_rng(7)
    for k in (2, 3, 5):
        pmf = vv.censored_geometric(k)
        w = np.sort(rng.uniform(0, 1, k * k + 1))
        upward = Grid(1, k).upward(0)
        worst = max(worst, float(np.max(np.abs(virtual_values(w, pmf) - (w - upward @ w)))))
        worst = max(worst, float(np.max(np.abs(vv.discrete_inverse_hazard_rate(pmf)[:-1] - (k - 1)))))
        worst = max(worst, abs(pmf.sum() - 1))
    return worst, 1e-10, "k = 2, 3, 5"


# ---------------------------------------------------------------------------
# 004 Lemma 2: summation by parts


def _adjoint_explicit(k: int, f: np.ndarray, axis: int = 0) -> np.ndarray:
    """∇̃+_i of eq. (7) of 004 along ``axis`` of f (an array on X(k), one axis per agent),
    written case by case from the paper, independently of the grid's operators."""
    f = np.moveaxis(np.asarray(f, dtype=float), axis, 0)
    K = k * k + 1
    out = np.empty_like(f)
    out[K - 1] = -f[K - 1]
    if K >= 2:
        out[K - 2] = f[K - 1] - k * f[K - 2]
    for l in range(K - 2):
        out[l] = k * (f[l + 1] - f[l])
    return np.moveaxis(out, 0, axis)


@check("summation-by-parts", "004 Lemma 2 and eq. (7)")
def _summation_by_parts(adjoint=None):
    """Lemma 2: Σ_x f ∇-_i g = -Σ_x g ∇̃+_i f on random arrays on X(k) for N = 1, 2, with
    ∇̃+_i f computed case by case from (7) (the grid builds its ∇̃+ as -(∇-)ᵀ, so using it
    here would make the identity automatic); then the grid's ∇̃+ operator against (7)."""
    from ..lower.grid import Grid
    rng = np.random.default_rng(11)
    worst = 0.0
    cases = ((1, 2), (1, 4), (2, 2), (2, 3))
    for N, k in cases:
        grid = Grid(N, k)
        for i in range(N):
            f, g = rng.normal(size=grid.size), rng.normal(size=grid.size)
            left = float(f @ (grid.downward(i) @ g))
            right = -float(g @ _adjoint_explicit(k, f.reshape(grid.shape), i).ravel())
            worst = max(worst, abs(left - right) / max(1.0, abs(left)))
    for N, k in cases + ((1, 3),):
        grid = Grid(N, k)
        for i in range(N):
            f = rng.normal(size=grid.size)
            tilde = grid.adjoint_upward(i) if adjoint is None else adjoint(grid, i)
            explicit = _adjoint_explicit(k, f.reshape(grid.shape), i).ravel()
            worst = max(worst, float(np.max(np.abs(tilde @ f - explicit))))
    return worst, 1e-10, "random f, g on X(k); (N, k) in (1,2), (1,4), (2,2), (2,3); (7) explicit, also k = 3"


# ---------------------------------------------------------------------------
# 002: the proportional auction


@check("ode-7-allocation-sensitivity", "002 eq. (7), Lemma 5, (22)")
def _ode_7(allocation: Callable | None = None):
    """∇·q̄(m) = μ̄(Σm) at random bid profiles (central differences)."""
    worst = 0.0
    for auction in auctions():
        rule = auction.allocation if allocation is None else (lambda m, a=auction: allocation(a, m))
        for m in _profiles(auction, 4):
            worst = max(worst, abs(_divergence(rule, m) - auction.allocation_sensitivity(float(m.sum()))))
    return worst, 1e-6, "uniform N=2; uniform N=3 c=0.2; discrete N=2 c=0.1"


@check("ode-24-profit-incentive", "002 eqs. (8), (24), Lemma 7")
def _ode_24(transfer: Callable | None = None):
    """∇·t̄(m) - Σt̄(m) = Ξ̄(Σm) at random bid profiles (central differences of (11))."""
    worst = 0.0
    for auction in auctions()[:2]:
        rule = auction.transfer if transfer is None else (lambda m, a=auction: transfer(a, m))
        for m in _profiles(auction, 1):
            lhs = _divergence(rule, m, 1e-4) - float(np.sum(rule(m)))
            worst = max(worst, abs(lhs - auction.aggregate_excess_growth(float(m.sum()))))
    return worst, 1e-5, "uniform N=2; uniform N=3 c=0.2"


@check("ode-34-premium", "002 eq. (34), Appendix A")
def _ode_34(premium_transfer: Callable | None = None):
    """(N-1)/x - 1) T̄^p + T̄^p' = Ξ̄^p for the premium parts T̄^p = T̄ - v_lo Q̄ (x > 0)."""
    worst = 0.0
    h = 1e-4
    for auction in (auctions()[0], ProportionalAuction(Uniform(0.5, 1.5), 2, cost=0.1)):
        T = auction.premium_transfer if premium_transfer is None else (lambda x, a=auction: premium_transfer(a, x))
        for x in (0.7, 2.9):
            derivative = (T(x + h) - T(x - h)) / (2 * h)
            lhs = ((auction.N - 1) / x - 1) * T(x) + derivative
            worst = max(worst, abs(lhs - auction.premium_excess_growth(x)))
    return worst, 1e-5, "uniform[0,1] N=2; uniform[0.5,1.5] N=2 c=0.1"


@check("lemma-6", "002 Lemma 6")
def _lemma_6(multiplier: Callable | None = None):
    """∫ λ̄(v) H(dv) = Π̄ (the expectation taken over quantiles, Π̄ from (3))."""
    from .auction import _quad
    worst = 0.0
    for auction in auctions():
        lam = auction.value_multiplier if multiplier is None else (lambda v, a=auction: multiplier(a, v))
        H = auction.H
        if isinstance(H, Discrete):
            expectation = sum(p * lam(v) for v, p in zip(H.values, H.probabilities))
        else:
            expectation = _quad(lambda alpha, lam=lam, H=H: lam(H.quantile(alpha)), 0.0, 1.0)
        worst = max(worst, abs(expectation - auction.guarantee))
    return worst, 1e-8, "uniform N=2; uniform N=3 c=0.2; discrete N=2 c=0.1"


@check("lemma-11", "002 Lemma 11")
def _lemma_11(excess_growth: Callable | None = None):
    """∫_0^∞ Ξ̄(x) g_N(x) dx = 0."""
    from .auction import _quad
    from .erlang import erlang_density
    worst = 0.0
    for auction in auctions():
        xi = auction.aggregate_excess_growth if excess_growth is None else (lambda x, a=auction: excess_growth(a, x))
        total = _quad(lambda x, xi=xi, N=auction.N: xi(x) * erlang_density(N, x), 0.0, math.inf, auction.breakpoints)
        worst = max(worst, abs(total))
    return worst, 1e-8, "uniform N=2; uniform N=3 c=0.2; discrete N=2 c=0.1"


@check("proposition-3-weak-duality", "002 Proposition 3, Step 1")
def _proposition_3(multiplier: Callable | None = None):
    """λ̄(v) <= v μ̄(x) - Ξ̄(x) - c Q̄(x) on a grid of (v, x), with equality at v = ŵ(x)."""
    violation, equality = 0.0, 0.0
    for auction in auctions():
        lam = auction.value_multiplier if multiplier is None else (lambda v, a=auction: multiplier(a, v))
        values = np.linspace(auction.v_lo, auction.v_hi, 9)
        for x in np.geomspace(0.05, 3.0 * auction.N, 9):
            xi, mu = auction.aggregate_excess_growth(x), auction.allocation_sensitivity(x)
            Q = auction.aggregate_allocation(x)
            for v in values:
                violation = max(violation, lam(v) - (v * mu - xi - auction.cost * Q))
            w = auction.fully_revealing_value(x)
            equality = max(equality, abs(lam(w) - (w * mu - xi - auction.cost * Q)))
    return max(violation, 0.0) + equality, 1e-9, f"9 x 9 grid per auction; max violation {violation:.2e}"


@check("uniform-threshold-28", "002 eq. (28), Section 4.4")
def _threshold_28():
    """For a uniform value the single graded interval [0, x*] solves (28)."""
    worst = 0.0
    for N, c in ((2, 0.0), (3, 0.2), (5, 0.0)):
        auction = ProportionalAuction(Uniform(0.0, 1.0), N, cost=c)
        (interval,) = auction.graded_intervals
        worst = max(worst, abs(interval.a), abs(uniform_threshold_equation(N, c, interval.b)))
    return worst, 1e-10, "N, c in (2, 0), (3, 0.2), (5, 0)"


@check("must-sell-uniform-guarantee", "002 Theorem 2, eq. (27), Section 4.3")
def _must_sell_guarantee(formula=must_sell_uniform_guarantee):
    """Π̂ = ∫ (G_N - c) g_{N-1} = (1 - C(2N-2, N-1)/4^{N-1})/2 - c exactly (SymPy) for
    N = 2, 3, 4, and numerically against the must-sell auction."""
    x, c = sympy.Symbol("x", positive=True), sympy.Symbol("c", nonnegative=True)
    worst = 0.0
    for N in (2, 3, 4):
        exact = sympy.integrate((erlang_cdf_expr(N, x) - c) * erlang_density_expr(N - 1, x), (x, 0, sympy.oo))
        difference = sympy.simplify(exact - formula(N, c))
        worst = max(worst, abs(float(difference.subs(c, 0))), abs(float(difference.subs(c, sympy.Rational(1, 5)))))
        numeric = ProportionalAuction(Uniform(0.0, 1.0), N, must_sell=True).guarantee
        worst = max(worst, abs(numeric - float(formula(N, 0))))
    return worst, 1e-10, "N = 2, 3, 4"


@check("must-sell-uniform-transfer", "002 Section 4.3, Appendix D.1")
def _must_sell_transfer(formula=must_sell_uniform_transfer):
    """T̂ from (12) with μ̂ = (N-1)/x, Q̂ = 1 equals G_{N-1} + C(2N-3,N-1)/2^{2N-3} (G_N(x) -
    G_{2N-2}(2x))/g_N(x) for v ~ U[0, 1], c = 0; for N = 2 it is (1 - (1 - e^{-x})/x)/2."""
    worst = 0.0
    for N in (2, 3):
        auction = ProportionalAuction(Uniform(0.0, 1.0), N, must_sell=True)
        for x in (0.5, 1.5, 4.0):
            worst = max(worst, abs(auction.aggregate_transfer(x) - formula(N, x)))
    x = sympy.Symbol("x", positive=True)
    two = (erlang_cdf_expr(1, x) + sympy.Rational(1, 2) * (erlang_cdf_expr(2, x) - erlang_cdf_expr(2, 2 * x))
           / erlang_density_expr(2, x))
    worst = max(worst, abs(float(sympy.simplify(two - (1 - (1 - sympy.exp(-x)) / x) / 2).subs(x, 1.3))))
    return worst, 1e-9, "N = 2, 3 at x = 0.5, 1.5, 4"


@check("common-value-binary", "003 Section 3.5, eqs. (34)-(37); 002 Theorem 1")
def _binary(guarantee: Callable | None = None):
    """For v in {0, 1} with P(v=1) = p the graded solution of 002 gives 1 - G_N(ȳ) with
    G_{N+1}(ȳ) = 1 - p (003 (34), (37))."""
    worst = 0.0
    for N, p in ((2, 0.5), (3, 0.3), (2, 0.8)):
        ybar = float(erlang_quantile(N + 1, 1 - p))
        closed = 1 - float(erlang_cdf(N, ybar))
        value = ProportionalAuction(binary(p), N).guarantee if guarantee is None else guarantee(N, p)
        worst = max(worst, abs(value - closed))
    return worst, 1e-8, "N, p in (2, .5), (3, .3), (2, .8)"


def run_checks(names=None, include_slow: bool = True) -> list[CheckResult]:
    """Run the named checks (all by default) and return their results."""
    from ..errors import ParameterError
    selected = list(CHECKS) if not names else list(names)
    unknown = [n for n in selected if n not in CHECKS]
    if unknown:
        raise ParameterError(f"unknown check {unknown[0]!r}; known: {', '.join(CHECKS)}")
    return [CHECKS[n]() for n in selected if include_slow or not CHECKS[n].slow or names]
