"""Closed-form values of the papers' environments.

:func:`closed_form_of` finds the family from the model's content
(:mod:`robustmech.symbolic.recognise`: parameters inferred, the lowered arrays compared
with the family's canonical environment), whatever the model is called;
:func:`closed_form` computes a family's value at given parameters.

| family | parameters | value | source |
|---|---|---|---|
| public_good | N, vbar (vbar/N > 1) | the guarantee λ | 004 Section 4.2, (15)-(17) |
| common_value_binary | N, p | 1 - G_N(y), G_{N+1}(y) = 1 - p | 003 Section 3.5, (34)-(37) |
| common_value_continuous | N, c; H from `prior continuous` | Π̄ of the proportional auction | 002 (3), Theorem 1 |
| common_value_uniform | N, c (default 0) | Π̄ of the proportional auction, v ~ U[0, 1] | 002 (3), Section 4.4 |
| bilateral_trade_two_states | g, h | L = g - (h-g)/y of (43), (45) | 003 Section 3.6 |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import ParameterError, UnsupportedError
from .auction import ProportionalAuction
from .distributions import Uniform
from .erlang import erlang_cdf, erlang_quantile
from .public_good import bilateral_trade_solution, public_good_solution


@dataclass(frozen=True)
class ClosedForm:
    model: str
    value: float
    formula: str
    source: str
    params: dict
    extra: dict


def _number(params: Mapping[str, Any], name: str, default=None) -> float:
    if name not in params:
        if default is None:
            raise ParameterError(f"the closed form needs the parameter '{name}'")
        return float(default)
    try:
        return float(params[name])
    except (TypeError, ValueError):
        raise ParameterError(f"parameter '{name}' must be a number, got {params[name]!r}") from None


def _integer(params, name) -> int:
    value = _number(params, name)
    if value != int(value):
        raise ParameterError(f"parameter '{name}' must be an integer, got {value}")
    return int(value)


def common_value_binary_guarantee(N: int, p: float) -> tuple[float, float]:
    """(1 - G_N(y), y) with G_{N+1}(y) = 1 - p: 003 eqs. (34) and (37)."""
    if not 0 < p < 1:
        raise ParameterError(f"p must be in (0, 1), got {p}")
    if N < 1:
        raise ParameterError(f"N must be at least 1, got {N}")
    y = float(erlang_quantile(N + 1, 1 - p))
    return 1 - float(erlang_cdf(N, y)), y


def closed_form_of(env) -> ClosedForm:
    """The closed form that applies to ``env``, recognised from its content (not its
    name); an UnsupportedError with one reason per family when none applies."""
    from .recognise import recognise

    found = recognise(env)
    return closed_form(found.family, found.params, distribution=found.distribution)


def closed_form(name: str, params: Mapping[str, Any], distribution=None) -> ClosedForm:
    """The closed-form value of the family ``name`` at ``params`` (for
    ``common_value_continuous``, of the value distribution ``distribution``)."""
    if name == "public_good":
        N, vbar = _integer(params, "N"), _number(params, "vbar")
        solution = public_good_solution(N, vbar)
        return ClosedForm(name, solution.guarantee, "lambda = (vbar-1) - (N-1)/y, E(y; lambda) = 1",
                          "004 Section 4.2, eqs. (15)-(17)", {"N": N, "vbar": vbar},
                          {"boundary": solution.boundary, "efficiency": solution.efficiency()})
    if name == "common_value_binary":
        N, p = _integer(params, "N"), _number(params, "p")
        value, y = common_value_binary_guarantee(N, p)
        return ClosedForm(name, value, "1 - G_N(y) with G_{N+1}(y) = 1 - p", "003 Section 3.5, eqs. (34)-(37)",
                          {"N": N, "p": p}, {"boundary": y})
    if name == "common_value_uniform":
        N, c = _integer(params, "N"), _number(params, "c", 0)
        auction = ProportionalAuction(Uniform(0.0, 1.0), N, cost=c)
        (interval,) = auction.graded_intervals or (None,)
        return ClosedForm(name, auction.guarantee, "Pi = int_0^inf gamma_bar(x) g_{N-1}(x) dx",
                          "002 eq. (3), Section 4.4",
                          {"N": N, "c": c},
                          {"x_star": interval.b if interval else 0.0,
                           "share_of_expected_value": auction.share_of_expected_value})
    if name == "common_value_continuous":
        if distribution is None:
            raise ParameterError("the continuous common-value closed form needs the value distribution H")
        N, c = _integer(params, "N"), _number(params, "c", 0)
        auction = ProportionalAuction(distribution, N, cost=c)
        return ClosedForm(name, auction.guarantee, "Pi = int_0^inf gamma_bar(x) g_{N-1}(x) dx",
                          "002 eq. (3), Theorem 1", {"N": N, "c": c},
                          {"graded_intervals": len(auction.graded_intervals),
                           "share_of_expected_value": auction.share_of_expected_value})
    if name == "bilateral_trade_two_states":
        g, h = _number(params, "g"), _number(params, "h")
        trade = bilateral_trade_solution(g, h)
        return ClosedForm(name, trade.guarantee, "L = g - (h-g)/y = g e^y y^{-(h-g)/g} / int_0^y e^z z^{-(h-g)/g} dz",
                          "003 Section 3.6, eqs. (43)-(45)", {"g": g, "h": h}, {"boundary": trade.boundary})
    raise UnsupportedError(f"no closed form is known for '{name}' (known: {', '.join(KNOWN_MODELS)})")


KNOWN_MODELS = ("public_good", "common_value_binary", "common_value_continuous", "common_value_uniform",
                "bilateral_trade_two_states")
