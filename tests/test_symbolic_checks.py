"""Every named check of robustmech.symbolic passes, and each one fails on a wrong formula."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from robustmech.symbolic.checks import CHECKS


@pytest.mark.parametrize("name", list(CHECKS))
def test_check_passes(name):
    """Each identity (004 (15)-(17), Lemma 2; 002 (7), (24), (34), Lemmas 6, 11, Prop. 3; ...) holds."""
    result = CHECKS[name]()
    assert result.passed, f"{name}: residual {result.residual} > {result.tolerance} ({result.detail})"


def _wrong_expenditure(N, vbar, lam, y):
    z = sympy.Dummy("z", positive=True)
    a = (N - 1) / vbar  # wrong exponent: should be (N-1)/(vbar-1)
    return lam / (vbar - 1) * sympy.exp(-y) * y**a * sympy.Integral(sympy.exp(z) * z ** (-a), (z, 0, y))


def _wrong_density(N, vbar, boundary, s):
    z = sympy.Dummy("z", positive=True)
    c = (N - 1) * vbar / (vbar - 1)
    # (N-1)! dropped: fine for N=2
    normaliser = sympy.Integral(sympy.exp(z) * z ** (-c) * z ** (N - 1), (z, 0, boundary))
    return sympy.exp(s) * s ** (1 - c) / normaliser  # wrong power of s


class _Shifted:
    def __init__(self, solution, shift):
        self._s, self.guarantee, self.boundary = solution, solution.guarantee + shift, solution.boundary

    def boundary_contribution(self):
        return self._s.boundary_contribution()


WRONG = {
    "public-good-expenditure-ode": dict(expenditure_formula=_wrong_expenditure),
    "public-good-density-ode": dict(density_formula=_wrong_density),
    "public-good-boundary-contribution": dict(
        solver=lambda N, v: type("S", (), {"boundary_contribution": lambda self: 1.01 * __import__(
            "robustmech").symbolic.public_good_solution(N, v).guarantee})()),
    "public-good-fixed-point": dict(
        solver=lambda N, v: _Shifted(__import__("robustmech").symbolic.public_good_solution(N, v), 1e-3)),
    "myerson-virtual-value": dict(virtual_value=lambda F, v: v - (1 - F)),  # forgot the density
    # rate 1, not k-1
    "censored-geometric-virtual-value": dict(virtual_values=lambda w, pmf: w - np.r_[np.diff(w), 0.0]),
    "summation-by-parts": dict(adjoint=lambda grid, i: -grid.upward(i).T),  # ∇+ has factor k-1, not the adjoint
    "ode-7-allocation-sensitivity": dict(allocation=lambda a, m: m / m.sum()),  # must-sell rule where grading applies
    "ode-24-profit-incentive": dict(transfer=lambda a, m: a.allocation(m) * 0.3),
    "ode-34-premium": dict(premium_transfer=lambda a, x: a.aggregate_allocation(x) * 0.2),
    "lemma-6": dict(multiplier=lambda a, v: a.value_multiplier(v) + 0.01),
    "lemma-11": dict(excess_growth=lambda a, x: a.aggregate_excess_growth(x) + 1e-3),
    "proposition-3-weak-duality": dict(multiplier=lambda a, v: a.value_multiplier(v) + 0.01 * v),
    "must-sell-uniform-guarantee": dict(formula=lambda N,
                                        c: (1 - sympy.binomial(2 * N - 2, N - 1) / 2 ** (N - 1)) / 2 - c),
    "must-sell-uniform-transfer": dict(formula=lambda N, x: 0.5),
    "common-value-binary": dict(guarantee=lambda N, p: p),
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_check_fails_on_wrong_formula(name):
    """A deliberately wrong formula makes the check fail (each check can fail)."""
    result = CHECKS[name](**WRONG[name])
    assert not result.passed, f"{name} passed with a wrong formula (residual {result.residual})"


def test_every_check_with_formula_arguments_has_a_wrong_version():
    import inspect
    for name, check in CHECKS.items():
        if inspect.signature(check.run).parameters:
            assert name in WRONG, name
