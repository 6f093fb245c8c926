"""The proportional auction of 002: the strong maxmin solution for a common value.

Notation of 002 (overbars: can-keep, carets: must-sell). N >= 2 bidders, a common value
v ~ H with bounded support [v_lo, v_hi], production cost c with E[v] > c.

* minmax information: i.i.d. standard exponential signals; the aggregate x has density
  g_N (14) and distribution G_N (15); the fully revealing value ŵ(x) = H^{-1}(G_N(x)),
  gains γ̂ = ŵ - c, integrated gains Γ̂(x) = ∫_0^x γ̂ g_N, rescaled signal
  E(x) = ∫_0^x e^y g_N(y) dy = x^N/N!;
* grading (002 Section 4.1.1): Γ̄ = cav(Γ̂∘E^{-1})∘E; the graded intervals [a, b] are
  where Γ̄ > Γ̂; on them the graded gains are γ̄(x) = s e^x with
  s = (Γ̂(b) - Γ̂(a))/(E(b) - E(a)), elsewhere γ̄ = γ̂;
* the profit guarantee (3): Π̄ = ∫_0^∞ γ̄ g_{N-1} dx (must-sell: Π̂ (27) with γ̂);
* the aggregate allocation Q̄ (16) and sensitivity μ̄ (17), with C(a, b), D(a, b);
* the value multiplier λ̄ (18), the aggregate excess growth Ξ̄ (19) and the aggregate
  transfer T̄ (12); individual rules q̄_i = (m_i/Σm) Q̄(Σm) (10), t̄_i = (m_i/Σm) T̄(Σm) (11).

Numerics. Integrals against the Stieltjes measure dŵ are taken in the value variable:
∫ f(x) dŵ(x) = ∫_{v_lo}^{v_hi} f(X(ν)) dν with X(ν) = G_N^{-1}(H(ν)) (eq. (20) of 002),
which is exact for atoms of H as well. The aggregate transfer (12) is computed in the
forward form below the mode N-1 of g_N and in the backward form
T̄(x) = -(1/g_N(x)) ∫_x^∞ Ξ̄ g_N (valid by Lemma 11) above it: the forward form divides
an O(g_N(x)) difference of O(1) numbers by g_N(x) and cancels catastrophically for
large x (see the KNOWN SLIPS of the papers' README).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from scipy import integrate, optimize

from ..errors import ParameterError
from .distributions import ValueDistribution
from .distributions import distribution as as_distribution
from .erlang import erlang_cdf, erlang_density, erlang_quantile, rescaled_signal

_QUAD = dict(limit=400, epsabs=1e-13, epsrel=1e-11)


def _quad(f, a, b, points=()) -> float:
    """∫_a^b f, split at the breakpoints inside (a, b); b may be ∞."""
    if not b > a:
        return 0.0
    cuts = sorted(p for p in set(points) if a < p < b and np.isfinite(p))
    edges = [a, *cuts, b]
    total = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        for lo, hi in zip(edges[:-1], edges[1:]):
            if hi > lo:
                total += integrate.quad(f, lo, hi, **_QUAD)[0]
    return total


@dataclass(frozen=True)
class GradedInterval:
    """A graded interval [a, b] of 002 Section 4.1.2, on which γ̄(x) = slope·e^x."""

    a: float
    b: float
    slope: float

    def C(self, N: int) -> float:
        """C(a, b) = N (b^{N-1} - a^{N-1})/(b^N - a^N), eq. (16) of 002."""
        a, b = self.a, self.b
        return N * (b ** (N - 1) - a ** (N - 1)) / (b**N - a**N)

    def D(self, N: int) -> float:
        """D(a, b) = (b - a) a^{N-1} b^{N-1}/(b^N - a^N), eq. (16) of 002."""
        a, b = self.a, self.b
        return (b - a) * a ** (N - 1) * b ** (N - 1) / (b**N - a**N)


class ProportionalAuction:
    """The maxmin proportional auction of 002 for a value distribution H, N bidders and cost c.

    ``must_sell=True`` gives the must-sell solution of 002 Section 4.3 (Theorem 2): no
    grading, μ̂(x) = (N-1)/x, Q̂ = 1, guarantee Π̂ (27).

    >>> from robustmech.symbolic.distributions import Uniform
    >>> auction = ProportionalAuction(Uniform(0, 1), N=2)
    >>> round(auction.guarantee / auction.expected_value, 2)   # 002 introduction: "56 percent"
    0.56
    """

    def __init__(self, H, N: int, cost: float = 0.0, must_sell: bool = False, grid_size: int = 4000):
        self.H: ValueDistribution = as_distribution(H)
        if int(N) != N or N < 2:
            raise ParameterError(f"the proportional auction needs N >= 2 bidders (002 Section 2.1), got N={N}")
        self.N = int(N)
        self.cost = float(cost)
        if self.cost < 0:
            raise ParameterError(f"the cost must be nonnegative, got c={cost}")
        if not self.H.mean() > self.cost:
            raise ParameterError(f"002 assumes E[v] > c; got E[v]={self.H.mean():.6g}, c={self.cost:g}: "
                                 "the guarantee is then 0 (002 footnote 5)")
        self.must_sell = bool(must_sell)
        self.grid_size = int(grid_size)
        self.v_lo = float(self.H.lower)
        self.v_hi = float(self.H.upper)
        # aggregate signals where ŵ jumps: X_k = G_N^{-1}(α_k) for every level α_k where H^{-1}
        # jumps (H at an atom below the top; H on a gap of the support)
        self.value_jumps = tuple(float(erlang_quantile(self.N, level)) for level in self.H.quantile_jumps())
        self.x_max = float(erlang_quantile(self.N, 1 - 1e-15))

    # -- the fully revealing objects -----------------------------------------------

    @property
    def expected_value(self) -> float:
        return self.H.mean()

    @property
    def gains_from_trade(self) -> float:
        """The ex ante gains from trade E[v] - c (the many-bidder limit, 002 Proposition 7)."""
        return self.H.mean() - self.cost

    def fully_revealing_value(self, x: float) -> float:
        """ŵ(x) = H^{-1}(G_N(x)), 002 Section 3.2."""
        return self.H.quantile(erlang_cdf(self.N, x))

    def fully_revealing_gains(self, x: float) -> float:
        """γ̂(x) = ŵ(x) - c."""
        return self.fully_revealing_value(x) - self.cost

    def integrated_gains(self, x: float) -> float:
        """Γ̂(x) = ∫_0^x γ̂ g_N = ∫_0^{G_N(x)} H^{-1} - c G_N(x)."""
        alpha = erlang_cdf(self.N, x)
        return self.H.partial_expectation(alpha) - self.cost * alpha

    def rescaled_signal(self, x: float) -> float:
        """E(x) = x^N/N!."""
        return float(rescaled_signal(self.N, x))

    def signal_of_value(self, v: float) -> float:
        """X(ν) = G_N^{-1}(H(ν)): where the fully revealing value passes ν."""
        return float(erlang_quantile(self.N, self.H.cdf(v)))

    # -- grading (002 Section 4.1.1) --------------------------------------------------

    @cached_property
    def graded_intervals(self) -> tuple[GradedInterval, ...]:
        """The graded intervals, from the upper concave hull of Γ̂∘E^{-1}, endpoints
        polished by the tangency conditions γ̂(a)e^{-a} = s = γ̂(b)e^{-b}."""
        if self.must_sell:
            return ()
        N = self.N
        xs = np.linspace(0.0, self.x_max, self.grid_size)
        extra = [x * f for x in self.value_jumps for f in (1 - 1e-9, 1 + 1e-9)]
        xs = np.unique(np.concatenate([xs, extra, np.geomspace(1e-6, 1.0, 200)]))
        zs = rescaled_signal(N, xs)
        fs = np.array([self.integrated_gains(x) for x in xs])
        hull = _upper_hull(zs, fs)
        scale = max(1.0, float(np.max(np.abs(fs))))
        intervals = []
        for j1, j2 in zip(hull[:-1], hull[1:]):
            if j2 <= j1 + 1:
                continue
            inside = slice(j1 + 1, j2)
            chord = fs[j1] + (fs[j2] - fs[j1]) * (zs[inside] - zs[j1]) / (zs[j2] - zs[j1])
            if np.max(chord - fs[inside]) <= 1e-12 * scale:
                continue
            a, b = self._polish(xs, j1, j2)
            slope = (self.integrated_gains(b) - self.integrated_gains(a)) / (self.rescaled_signal(b)
                                                                             - self.rescaled_signal(a))
            intervals.append(GradedInterval(float(a), float(b), float(slope)))
        return tuple(intervals)

    def _tangency(self, x: float, slope: float) -> float:
        return self.fully_revealing_gains(x) * math.exp(-x) - slope

    def _chord(self, a: float, b: float) -> float:
        return (self.integrated_gains(b) - self.integrated_gains(a)) / (self.rescaled_signal(b)
                                                                        - self.rescaled_signal(a))

    def _polish(self, xs, j1: int, j2: int) -> tuple[float, float]:
        a, b = float(xs[j1]), float(xs[j2])
        lo_b, hi_b = float(xs[max(j2 - 2, j1 + 1)]), float(xs[min(j2 + 2, len(xs) - 1)])
        if j1 == 0:
            def f(bb):
                return self._tangency(bb, self._chord(0.0, bb))
            try:
                if f(lo_b) * f(hi_b) < 0:
                    b = optimize.brentq(f, lo_b, hi_b, xtol=1e-14)
            except ValueError:
                pass
            return 0.0, b

        def equations(p):
            aa, bb = p
            if not bb > aa:  # a trial point of the solver past the diagonal (no chord there)
                return [1.0, 1.0]
            s = self._chord(aa, bb)
            return [self._tangency(aa, s), self._tangency(bb, s)]

        try:
            solution, info, status, _ = optimize.fsolve(equations, [a, b], full_output=True, xtol=1e-13)
            # four steps of the even grid (xs[1] - xs[0] is a step of the geometric points
            # near 0, about 1e-6, which refused every polished interval away from 0)
            step = 4 * self.x_max / (self.grid_size - 1)
            if status == 1 and abs(solution[0] - a) < step and abs(solution[1] - b) < step:
                a, b = float(solution[0]), float(solution[1])
        except (ValueError, RuntimeWarning):
            pass
        return a, b

    def _graded_at(self, x: float) -> GradedInterval | None:
        for interval in self.graded_intervals:
            if interval.a <= x <= interval.b:
                return interval
        return None

    @cached_property
    def breakpoints(self) -> tuple[float, ...]:
        """Aggregate signals where the integrands have kinks or jumps."""
        points = set(self.value_jumps)
        for interval in self.graded_intervals:
            points.update((interval.a, interval.b))
        return tuple(sorted(p for p in points if p > 0))

    @cached_property
    def value_breakpoints(self) -> tuple[float, ...]:
        """Values where ν ↦ μ̄(X(ν)) has kinks or jumps: atoms and images of graded endpoints."""
        points = set(self.H.atoms())
        for interval in self.graded_intervals:
            points.update((self.fully_revealing_value(interval.a), self.fully_revealing_value(interval.b)))
        return tuple(sorted(points))

    def graded_gains(self, x: float) -> float:
        """γ̄(x): s e^x on a graded interval, γ̂(x) elsewhere (002 Section 4.1.1)."""
        interval = self._graded_at(x)
        if interval is not None:
            return interval.slope * math.exp(x)
        return self.fully_revealing_gains(x)

    def graded_value(self, x: float) -> float:
        """w̄(x) = γ̄(x) + c."""
        return self.graded_gains(x) + self.cost

    # -- the mechanism ------------------------------------------------------------------

    def allocation_sensitivity(self, x: float) -> float:
        """μ̄(x), eq. (17) of 002: C(a, b) on a graded interval [a, b], (N-1)/x elsewhere."""
        interval = self._graded_at(x)
        if interval is not None:
            return interval.C(self.N)
        return (self.N - 1) / x if x > 0 else math.inf

    def aggregate_allocation(self, x: float) -> float:
        """Q̄(x), eq. (16) of 002."""
        interval = self._graded_at(x)
        if interval is None:
            return 1.0
        if interval.a == 0:
            return x / interval.b if x > 0 else 0.0
        return interval.C(self.N) * x / self.N + interval.D(self.N) / x ** (self.N - 1)

    def allocation(self, m) -> np.ndarray:
        """q̄_i(m), eq. (10) of 002: Q̄(0)/N at m = 0, (m_i/Σm) Q̄(Σm) otherwise."""
        m = np.asarray(m, dtype=float)
        total = float(m.sum())
        if total == 0:
            return np.full(len(m), self.aggregate_allocation(0.0) / len(m))
        return m / total * self.aggregate_allocation(total)

    def transfer(self, m) -> np.ndarray:
        """t̄_i(m), eq. (11) of 002: T̄(0)/N at m = 0, (m_i/Σm) T̄(Σm) otherwise."""
        m = np.asarray(m, dtype=float)
        total = float(m.sum())
        if total == 0:
            return np.full(len(m), self.aggregate_transfer(0.0) / len(m))
        return m / total * self.aggregate_transfer(total)

    # -- the guarantee ---------------------------------------------------------------------

    @cached_property
    def guarantee(self) -> float:
        """Π̄ = ∫_0^∞ γ̄ g_{N-1} dx, eq. (3) of 002 (Π̂ of (27) when must-sell).

        On a graded interval ∫_a^b s e^x g_{N-1} = s (b^{N-1} - a^{N-1})/(N-1)!.
        """
        N = self.N
        total = 0.0
        for interval in self.graded_intervals:
            total += interval.slope * (interval.b ** (N - 1) - interval.a ** (N - 1)) / math.factorial(N - 1)
        pieces = []
        cursor = 0.0
        for interval in self.graded_intervals:
            pieces.append((cursor, interval.a))
            cursor = interval.b
        pieces.append((cursor, math.inf))
        for lo, hi in pieces:
            total += _quad(lambda x: self.fully_revealing_gains(x) * erlang_density(N - 1, x), lo, hi,
                           self.value_jumps)
        return total

    @property
    def share_of_expected_value(self) -> float:
        """Π̄/E[v] (002 introduction: about 56 percent for N = 2, v ~ U[0, 1], c = 0)."""
        return self.guarantee / self.expected_value

    # -- the multiplier λ̄ (18), the excess growth Ξ̄ (19), the transfer T̄ (12) -------------

    def _mu_of_value(self, v: float) -> float:
        return self.allocation_sensitivity(self.signal_of_value(v))

    def _integral_mu(self, v1: float, v2: float, weight=None) -> float:
        """∫_{v1}^{v2} μ̄(X(ν)) [weight(ν)] dν."""
        if weight is None:
            f = self._mu_of_value
        else:
            def f(v):
                return self._mu_of_value(v) * weight(v)
        return _quad(f, v1, v2, self.value_breakpoints)

    @cached_property
    def _multiplier_top(self) -> float:
        """λ̄(v_hi) = Π̄ + ∫_0^∞ μ̄ G_N dŵ = Π̄ + ∫ μ̄(X(ν)) H(ν) dν."""
        return self.guarantee + self._integral_mu(self.v_lo, self.v_hi, self.H.cdf)

    @cached_property
    def _tail_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Nodes ν_j on [v_lo, v_hi] and ∫_{ν_j}^{v_hi} μ̄(X(ν)) dν, accumulated piece by piece."""
        nodes = np.unique(np.concatenate([np.linspace(self.v_lo, self.v_hi, 257),
                                          [p for p in self.value_breakpoints if self.v_lo <= p <= self.v_hi]]))
        pieces = [self._integral_mu(lo, hi) for lo, hi in zip(nodes[:-1], nodes[1:])]
        tails = np.concatenate([np.cumsum(pieces[::-1])[::-1], [0.0]])
        return nodes, tails

    def value_multiplier(self, v: float) -> float:
        """λ̄(v), eq. (18) of 002: Π̄ + ∫_0^∞ μ̄ G_N dŵ - ∫_v^{v_hi} μ̄(G_N^{-1}(H(ν))) dν."""
        v = min(max(float(v), self.v_lo), self.v_hi)
        nodes, tails = self._tail_table
        j = int(np.searchsorted(nodes, v, side="left"))
        j = min(j, len(nodes) - 1)
        return self._multiplier_top - (self._integral_mu(v, float(nodes[j])) + float(tails[j]))

    def aggregate_excess_growth(self, x: float) -> float:
        """Ξ̄(x) = μ̄(x) ŵ(x) - λ̄(ŵ(x)) - c Q̄(x), eq. (19) of 002."""
        w = self.fully_revealing_value(x)
        return self.allocation_sensitivity(x) * w - self.value_multiplier(w) - self.cost * self.aggregate_allocation(x)

    def aggregate_transfer(self, x: float, form: str = "auto") -> float:
        """T̄(x), eq. (12) of 002: v_lo Q̄(0) at 0, (1/g_N(x)) ∫_0^x Ξ̄ g_N otherwise.

        ``form="forward"`` evaluates (12) as written (integrated by parts against dŵ);
        ``"backward"`` uses -(1/g_N(x)) ∫_x^∞ Ξ̄ g_N, equal by Lemma 11 and stable for
        large x; ``"auto"`` uses forward below the mode N-1 of g_N and backward above.
        """
        x = float(x)
        if x <= 0:
            return self.v_lo * self.aggregate_allocation(0.0)
        if form == "auto":
            form = "forward" if x < max(self.N - 1, 1.0) else "backward"
        if form == "forward":
            return self._transfer_forward(x)
        if form == "backward":
            return self._transfer_backward(x)
        raise ValueError(f"form must be auto, forward or backward, got {form!r}")

    def _transfer_forward(self, x: float) -> float:
        # ∫_0^x Ξ̄ g_N = ∫_0^x (μ̄ ŵ - c Q̄) g_N - λ̄(ŵ(x)) G_N(x) + ∫_{v_lo}^{ŵ(x)} H(ν) μ̄(X(ν)) dν,
        # integrating ∫ λ̄(ŵ) dG_N by parts (dλ̄(ŵ(y)) = μ̄(y) dŵ(y), 002 proof of Lemma 7)
        N = self.N

        def direct(y):
            return (self.allocation_sensitivity(y) * self.fully_revealing_value(y)
                    - self.cost * self.aggregate_allocation(y)) * erlang_density(N, y)

        w = self.fully_revealing_value(x)
        numerator = (_quad(direct, 0.0, x, self.breakpoints) - self.value_multiplier(w) * erlang_cdf(N, x)
                     + self._integral_mu(self.v_lo, w, self.H.cdf))
        return numerator / erlang_density(N, x)

    def _transfer_backward(self, x: float) -> float:
        N = self.N

        def integrand(u):
            y = x + u
            return self.aggregate_excess_growth(y) * (y / x) ** (N - 1) * math.exp(-u)

        return -_quad(integrand, 0.0, math.inf, [p - x for p in self.breakpoints])

    # -- premium parts of Lemma 14 / (34) -------------------------------------------------

    def premium_excess_growth(self, x: float) -> float:
        """Ξ̄^p(x) = Ξ̄(x) - v_lo (μ̄(x) - Q̄(x)) (002 Appendix A, before (34))."""
        return self.aggregate_excess_growth(x) - self.v_lo * (self.allocation_sensitivity(x)
                                                              - self.aggregate_allocation(x))

    def premium_transfer(self, x: float) -> float:
        """T̄^p(x) = T̄(x) - v_lo Q̄(x) (002 Appendix A, before (34))."""
        return self.aggregate_transfer(x) - self.v_lo * self.aggregate_allocation(x)

    # -- summaries ------------------------------------------------------------------------

    def summary(self) -> dict:
        return {
            "N": self.N, "cost": self.cost, "distribution": str(self.H), "must_sell": self.must_sell,
            "guarantee": self.guarantee, "expected_value": self.expected_value,
            "share_of_expected_value": self.share_of_expected_value,
            "graded_intervals": [(g.a, g.b) for g in self.graded_intervals],
        }

    def __str__(self) -> str:
        kind = "must-sell" if self.must_sell else "can-keep"
        graded = ", ".join(f"[{g.a:.6g}, {g.b:.6g}]" for g in self.graded_intervals) or "none"
        return (f"proportional auction ({kind}), N={self.N}, c={self.cost:g}, v ~ {self.H}: "
                f"guarantee {self.guarantee:.10g} = {100 * self.share_of_expected_value:.4f}% of E[v]; "
                f"graded intervals {graded}")


def _upper_hull(zs: np.ndarray, fs: np.ndarray) -> list[int]:
    """Indices of the upper concave hull of the points (z_j, f_j), z increasing."""
    hull: list[int] = []
    for j in range(len(zs)):
        while len(hull) >= 2:
            o, a = hull[-2], hull[-1]
            cross = (zs[a] - zs[o]) * (fs[j] - fs[o]) - (fs[a] - fs[o]) * (zs[j] - zs[o])
            if cross >= 0:
                hull.pop()
            else:
                break
        hull.append(j)
    return hull


@lru_cache(maxsize=64)
def proportional_auction(H, N: int, cost: float = 0.0, must_sell: bool = False) -> ProportionalAuction:
    """A cached :class:`ProportionalAuction` (H must be hashable: the distribution classes are)."""
    return ProportionalAuction(H, N, cost, must_sell)


def must_sell_uniform_transfer(N: int, x: float) -> float:
    """T̂(x) for v ~ U[0, 1], c = 0 (002 Section 4.3, Appendix D.1):
    G_{N-1}(x) + C(2N-3, N-1)/2^{2N-3} · (G_N(x) - G_{2N-2}(2x))/g_N(x)."""
    coefficient = math.comb(2 * N - 3, N - 1) / 2 ** (2 * N - 3)
    return float(erlang_cdf(N - 1, x) + coefficient * (erlang_cdf(N, x) - erlang_cdf(2 * N - 2, 2 * x))
                 / erlang_density(N, x))


def must_sell_uniform_guarantee(N: int, cost=0):
    """Π̂ for v ~ U[0, 1]: (1 - C(2N-2, N-1)/4^{N-1})/2 - c (002 Section 4.3/6.1), exact."""
    import sympy

    return (1 - sympy.binomial(2 * N - 2, N - 1) / sympy.Integer(4) ** (N - 1)) / 2 - sympy.nsimplify(cost)


def uniform_threshold_equation(N: int, cost: float, x: float) -> float:
    """Left minus right side of eq. (28) of 002, whose positive root is the end x* of the
    single graded interval [0, x*] for a uniform value."""
    left = integrate.quad(lambda y: (erlang_cdf(N, y) - cost) * erlang_density(N, y), 0, x, **_QUAD)[0]
    right = math.exp(-x) * (erlang_cdf(N, x) - cost) * x**N / math.factorial(N)
    return left - right
