"""``prior continuous ...`` (docs/language.md, "Continuous priors"): the discretisation onto
the state grid, the symbolic layer's reading of the same distribution, and 002's closed
form found from the model's content.

Every expected number is computed here independently of the code under test: the masses
by integrating the distribution over the nearest-point cells by hand (exact fractions, or
scipy's quad), the CDFs from their formulas, and 002's guarantees from (28) and Section
4.4 by quadrature (uniform), or from the concave hull of Γ̂∘E^{-1} on a fine grid
(002 Section 4.1.1; Figure 3's two intervals).
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
import sympy
from scipy import integrate, optimize

import robustmech as rm
from robustmech.cli import main
from robustmech.symbolic import SymbolicDistribution, Uniform
from robustmech.symbolic.continuous import distribution_of
from robustmech.symbolic.distributions import Exponential, UniformMixture

from conftest import MODELS

AUCTION = """model continuous_test
param N = 2
param rate = 1
agents i in 1..N
state v in {states}
prior continuous {prior}
allocate q[i] >= 0 with sum(q) <= 1
transfer t[i]
utility[i] = v * q[i] - t[i]
designer = sum(t)
"""


def load(tmp_path, prior: str, states: str = "grid(0, 1, 5)", params=None):
    path = tmp_path / "model.mech"
    path.write_text(AUCTION.format(prior=prior, states=states))
    return rm.load_model(path, params or {})


def cells(points, lower, upper):
    """The nearest-point cells of sorted ``points``: split at midpoints, ends at the support's ends."""
    cuts = [(a + b) / 2 for a, b in zip(points[:-1], points[1:])]
    return list(zip([lower, *cuts], [*cuts, upper]))


def masses(env):
    return [Fraction(str(p)) if isinstance(p, sympy.Rational) else float(p) for p in env.states.prior]


# ---------------------------------------------------------------------- discretisation


@pytest.mark.parametrize("n", [2, 5, 11])
def test_uniform_interior_cells_h_end_cells_half(tmp_path, n):
    """U[0, 1] on grid(0, 1, n): interior cells have mass h = 1/(n-1), the end cells h/2, exactly."""
    env = load(tmp_path, "uniform(0, 1)", f"grid(0, 1, {n})")
    h = Fraction(1, n - 1)
    assert masses(env) == [h / 2] + [h] * (n - 2) + [h / 2]
    assert sum(env.states.prior) == 1


def test_uniform_on_a_wider_support_extends_the_end_cells(tmp_path):
    """U[-1, 3] on {0, 1, 2}: cells [-1, 1/2], [1/2, 3/2], [3/2, 3] of mass 3/8, 1/4, 3/8."""
    env = load(tmp_path, "uniform(-1, 3)", "{0, 1, 2}")
    assert masses(env) == [Fraction(3, 8), Fraction(1, 4), Fraction(3, 8)]


def test_density_2v_cells_are_differences_of_squares(tmp_path):
    """density 2v on [0, 1]: the mass of [a, b] is b² - a² (H(v) = v²), exactly."""
    env = load(tmp_path, "density 2*v on [0, 1]")
    points = [Fraction(j, 4) for j in range(5)]
    assert masses(env) == [b * b - a * a for a, b in cells(points, Fraction(0), Fraction(1))]
    assert masses(env) == [Fraction(1, 64), Fraction(1, 8), Fraction(1, 4), Fraction(3, 8), Fraction(15, 64)]


def test_density_is_normalised(tmp_path):
    """density 6v on [0, 1] integrates to 3: it is the same prior as density 2v."""
    assert load(tmp_path, "density 6*v on [0, 1]").states.prior == load(tmp_path, "density 2*v on [0, 1]").states.prior


def test_mixture_of_two_intervals(tmp_path):
    """1/2 U[0, 1/4] + 1/2 U[3/4, 1] on grid(0, 1, 5): cells [0,1/8], [1/8,3/8], [3/8,5/8],
    [5/8,7/8], [7/8,1] carry 1/4, 1/4, 0, 1/4, 1/4."""
    env = load(tmp_path, "mixture { 1/2: uniform(0, 1/4), 1/2: uniform(3/4, 1) }")

    def mass(a, b):
        def part(lo, hi):
            return max(Fraction(0), min(b, hi) - max(a, lo)) / (hi - lo)
        return Fraction(1, 2) * part(Fraction(0), Fraction(1, 4)) + Fraction(1, 2) * part(Fraction(3, 4), Fraction(1))

    points = [Fraction(j, 4) for j in range(5)]
    expected = [mass(a, b) for a, b in cells(points, Fraction(0), Fraction(1))]
    assert expected == [Fraction(1, 4), Fraction(1, 4), 0, Fraction(1, 4), Fraction(1, 4)]
    assert masses(env) == expected


@pytest.mark.parametrize("rate", [1, 2])
def test_exponential_tail_falls_in_the_last_cell(tmp_path, rate):
    """exponential(rate) on grid(0, 4, 9): the mass of [a, b] is e^{-rate a} - e^{-rate b}, and the last
    cell [3.75, ∞) carries the tail e^{-3.75 rate}."""
    env = load(tmp_path, "exponential(rate)", "grid(0, 4, 9)", {"rate": rate})
    points = [j / 2 for j in range(9)]
    expected = [math.exp(-rate * a) - (math.exp(-rate * b) if b != math.inf else 0.0)
                for a, b in cells(points, 0.0, math.inf)]
    assert expected[-1] == pytest.approx(math.exp(-3.75 * rate), rel=1e-15)
    assert masses(env) == pytest.approx(expected, abs=1e-15)
    assert sum(env.states.prior) == 1  # stored as decimals that sum to exactly 1


def test_density_without_closed_form_is_integrated_numerically(tmp_path):
    """exp(-v²)/(1+v) has no elementary antiderivative: each cell is integrated numerically
    (to 1e-12), here against scipy's quad, normalised by the integral over [0, 1]."""
    env = load(tmp_path, "density exp(-v^2)/(1 + v) on [0, 1]")
    assert env.states.continuous.quadrature

    def f(x):
        return math.exp(-x * x) / (1 + x)

    total = integrate.quad(f, 0, 1, epsabs=1e-14, epsrel=1e-14)[0]
    expected = [integrate.quad(f, a, b, epsabs=1e-14, epsrel=1e-14)[0] / total
                for a, b in cells([j / 4 for j in range(5)], 0.0, 1.0)]
    assert masses(env) == pytest.approx(expected, abs=1e-12)


def test_the_environment_keeps_the_distribution_and_its_place(tmp_path):
    env = load(tmp_path, "uniform(0, 1)")
    assert str(env.states.continuous) == "uniform(0, 1)"
    assert env.states.continuous.location.line == 6
    assert load(tmp_path, "uniform(0, 1)", "{0, 1/2, 1}").states.continuous is not None
    assert rm.load_model(MODELS / "common_value_auction.mech").states.continuous is None


# ---------------------------------------------------------------------- the symbolic layer reads it


def test_symbolic_reads_the_uniform(tmp_path):
    H = distribution_of(load(tmp_path, "uniform(0, 1)").states.continuous)
    assert H == Uniform(0.0, 1.0)


def test_symbolic_reads_the_density_2v(tmp_path):
    """H(x) = x² on [0, 1]."""
    H = distribution_of(load(tmp_path, "density 2*v on [0, 1]").states.continuous)
    assert isinstance(H, SymbolicDistribution)
    for x in (-0.5, 0.0, 0.1, 0.5, 0.9, 1.0, 2.0):
        assert H.cdf(x) == pytest.approx(min(max(x, 0.0), 1.0) ** 2, abs=1e-15)


def test_symbolic_reads_a_mixture_of_a_uniform_and_a_density(tmp_path):
    """1/2 U[0, 1/2] + 1/2 (density 2v on [0, 1]): H(x) = min(x, 1/2) + x²/2 on [0, 1]."""
    H = distribution_of(load(tmp_path, "mixture { 1/2: uniform(0, 1/2), 1/2: density 2*v on [0, 1] }")
                        .states.continuous)
    for x in (0.0, 0.2, 0.5, 0.7, 1.0):
        assert H.cdf(x) == pytest.approx(min(x, 0.5) + x * x / 2, abs=1e-15)


def test_symbolic_reads_figure_3s_two_intervals():
    """002 Figure 3: v uniform on [0, 0.95] ∪ [3.95, 4]: H(x) = x on [0, 0.95], 0.95 on the gap,
    0.95 + (x - 3.95) on [3.95, 4]; H^{-1}(α) = α up to 0.95, then 3.95 + (α - 0.95)."""
    H = distribution_of(rm.load_model(MODELS / "common_value_two_intervals.mech").states.continuous)
    assert isinstance(H, UniformMixture)
    for x, value in ((0.5, 0.5), (0.95, 0.95), (2.0, 0.95), (3.95, 0.95), (3.975, 0.975), (4.0, 1.0)):
        assert H.cdf(x) == pytest.approx(value, abs=1e-15)
    for alpha, value in ((0.3, 0.3), (0.95, 0.95), (0.96, 3.96), (1.0, 4.0)):
        assert H.quantile(alpha) == pytest.approx(value, abs=1e-12)
    assert H.mean() == pytest.approx(0.95 * 0.475 + 0.05 * 3.975, abs=1e-15)


def test_symbolic_reads_the_exponential(tmp_path):
    """exponential(2): H(x) = 1 - e^{-2x}."""
    H = distribution_of(load(tmp_path, "exponential(rate)", "grid(0, 4, 9)", {"rate": 2}).states.continuous)
    assert isinstance(H, Exponential)
    for x in (0.0, 0.3, 1.0, 5.0):
        assert H.cdf(x) == pytest.approx(1 - math.exp(-2 * x), abs=1e-15)
    assert H.quantile(0.5) == pytest.approx(math.log(2) / 2, abs=1e-15)


# ---------------------------------------------------------------------- 002's closed form, by content


def closed_form(capsys, path, *args):
    code = main(["closed-form", str(path), *args, "--json"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else captured.err)


def _g(n, x):
    """The Erlang density g_n (002 (14))."""
    return x ** (n - 1) * math.exp(-x) / math.factorial(n - 1)


def _G(n, x):
    """The Erlang CDF G_n (002 (15))."""
    return 1 - math.exp(-x) * sum(x**j / math.factorial(j) for j in range(n))


def uniform_guarantee(N: int, c: float = 0.0) -> float:
    """002 Section 4.4, v ~ U[0, 1] (single crossing): x* solves (28), γ̄(0) = e^{-x*}(G_N(x*) - c),
    Π̄ = ∫_0^{x*} γ̄(0) e^x g_{N-1} + ∫_{x*}^∞ (G_N - c) g_{N-1}, by quadrature."""
    q = dict(epsabs=1e-14, epsrel=1e-13, limit=200)

    def gap(x_star):
        left = integrate.quad(lambda x: (_G(N, x) - c) * _g(N, x), 0, x_star, **q)[0]
        right = math.exp(-x_star) * (_G(N, x_star) - c) * integrate.quad(lambda x: math.exp(x) * _g(N, x),
                                                                         0, x_star, **q)[0]
        return left - right

    x_star = optimize.brentq(gap, 0.5, 30, xtol=1e-15)
    start = math.exp(-x_star) * (_G(N, x_star) - c)
    return (integrate.quad(lambda x: start * math.exp(x) * _g(N - 1, x), 0, x_star, **q)[0]
            + integrate.quad(lambda x: (_G(N, x) - c) * _g(N - 1, x), x_star, np.inf, **q)[0])


def test_uniform_model_gives_002s_56_percent(capsys):
    """models/common_value_uniform.mech: 002's introduction prints that with two bidders, v standard
    uniform and c = 0 the maxmin auction guarantees at least 56 percent of E[v] = 1/2; the value
    is Section 4.4's formula (28) and Π̄, here by quadrature."""
    code, out = closed_form(capsys, MODELS / "common_value_uniform.mech")
    assert code == 0 and out["family"] == "common_value_continuous"
    assert 0.56 <= out["value"] / 0.5 < 0.57
    assert out["value"] == pytest.approx(uniform_guarantee(2), abs=1e-9)


def test_uniform_model_with_three_bidders(capsys):
    """The same with N = 3 (002 Section 4.4's formulas, by quadrature)."""
    code, out = closed_form(capsys, MODELS / "common_value_uniform.mech", "--param", "N=3")
    assert code == 0 and out["params"]["N"] == 3
    assert out["value"] == pytest.approx(uniform_guarantee(3), abs=1e-9)


def hull_guarantee(partial_expectation, c: float, n: int = 160001, x_max: float = 40.0) -> float:
    """Π̄ of 002 (3) for N = 2 from the upper concave hull of Γ̂∘E^{-1} (002 Section 4.1.1) on a grid:
    Γ̂(x) = ∫_0^{G_2(x)} H^{-1} - c G_2(x), E(x) = x²/2; on each hull segment the graded gains are
    γ̄(x) = s e^x with s the segment's slope, so Π̄ = ∫ γ̄ g_1 = Σ s Δx. The grid error is O(h²),
    about 1e-10 at h = 2.5e-4 (it falls 16-fold when h halves twice)."""
    xs = np.linspace(0.0, x_max, n)
    z = xs * xs / 2
    G = 1 - np.exp(-xs) * (1 + xs)
    f = np.array([partial_expectation(a) for a in G]) - c * G
    hull: list[int] = []
    for j in range(n):
        while len(hull) >= 2:
            i1, i2 = hull[-2], hull[-1]
            if (z[i2] - z[i1]) * (f[j] - f[i1]) - (f[i2] - f[i1]) * (z[j] - z[i1]) >= 0:
                hull.pop()
            else:
                break
        hull.append(j)
    h = np.array(hull)
    return float(np.sum((f[h[1:]] - f[h[:-1]]) / (z[h[1:]] - z[h[:-1]]) * (xs[h[1:]] - xs[h[:-1]])))


def test_two_interval_model_gives_002_figure_3(capsys):
    """models/common_value_two_intervals.mech: 002 Figure 3 (N = 2, v uniform on [0, 0.95] ∪ [3.95, 4],
    c = 0.2). The paper prints no number for it; it says the construction has two graded intervals
    [0, x1] and [x2, x3] (Section 4.1.4). Π̄ here is by the concave hull of Γ̂∘E^{-1}, independently
    of robustmech's ProportionalAuction."""
    code, out = closed_form(capsys, MODELS / "common_value_two_intervals.mech")
    assert code == 0 and out["family"] == "common_value_continuous"
    assert out["params"] == {"N": 2, "c": pytest.approx(0.2, abs=1e-15)}
    assert out["graded_intervals"] == 2

    def partial(alpha):  # ∫_0^α H^{-1}(u) du
        if alpha <= 0.95:
            return alpha * alpha / 2
        return 0.95**2 / 2 + 3.95 * (alpha - 0.95) + (alpha - 0.95) ** 2 / 2

    assert out["value"] == pytest.approx(hull_guarantee(partial, 0.2), abs=1e-9)


def test_the_hull_check_reproduces_the_uniform_formula():
    """The hull method of the Figure 3 test against Section 4.4's formula (U[0, 1], N = 2, c = 0)."""
    assert hull_guarantee(lambda a: a * a / 2, 0.0) == pytest.approx(uniform_guarantee(2), abs=1e-9)


def test_exponential_model_is_refused_with_the_reason(capsys):
    """models/common_value_exponential.mech: 002 Section 2.1 assumes a bounded support; footnote 36
    (Figure 4's exponential) only takes a limit. closed-form exits 2 and says so."""
    code, err = closed_form(capsys, MODELS / "common_value_exponential.mech")
    assert code == 2
    assert "no closed form applies: " in err and len(err.strip().splitlines()) == 1
    assert ("common value, continuous prior (002 (3)): the prior exponential(1) has an unbounded support; 002 "
            "Section 2.1 assumes a bounded one") in err


def test_edited_continuous_auction_is_refused(tmp_path, capsys):
    """A bidder's utility v q_i - 2 t_i is not 002's auction: refused with that difference."""
    path = tmp_path / "edited.mech"
    path.write_text(AUCTION.format(prior="uniform(0, 1)", states="grid(0, 1, 5)")
                    .replace("utility[i] = v * q[i] - t[i]", "utility[i] = v * q[i] - 2 * t[i]"))
    code, err = closed_form(capsys, path)
    assert code == 2
    assert "common value, continuous prior (002 (3)): agent 1's utility differs at variable t[1]" in err


def test_lp_bracket_on_the_discretised_uniform(capsys):
    """The programs of 004 run on the discretised prior (grid(0, 1, 5)): LB(2) <= UB(2), and the JSON
    says the bracket is of the discretised model."""
    code, out = closed_form(capsys, MODELS / "common_value_uniform.mech", "--k", "2")
    assert code == 0 and out["discretised_prior"] is True and out["lower"] <= out["upper"]


def test_density_model_gives_the_hull_value(tmp_path, capsys):
    """A common-value auction with `prior continuous density 2*v on [0, 1]` (H(v) = v², H^{-1}(u) = √u,
    ∫_0^α H^{-1} = (2/3) α^{3/2}) is recognised as 002's; Π̄ (3) against the concave hull of Γ̂∘E^{-1}."""
    path = tmp_path / "density.mech"
    path.write_text((MODELS / "common_value_uniform.mech").read_text()
                    .replace("prior continuous uniform(0, 1)", "prior continuous density 2*v on [0, 1]"))
    code, out = closed_form(capsys, path)
    assert code == 0 and out["family"] == "common_value_continuous"
    assert out["value"] == pytest.approx(hull_guarantee(lambda a: 2 / 3 * a**1.5, 0.0), abs=1e-9)
