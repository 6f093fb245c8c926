"""Closed forms of the papers in SymPy/mpmath, and the named checks that hold them
against each other and against the numbers (``robustmech verify``)."""

from .auction import GradedInterval, ProportionalAuction, must_sell_uniform_guarantee, must_sell_uniform_transfer
from .closed_forms import ClosedForm, closed_form, closed_form_of, common_value_binary_guarantee
from .continuous import distribution_of
from .distributions import (
    Discrete,
    Exponential,
    SymbolicDistribution,
    Uniform,
    UniformMixture,
    ValueDistribution,
    binary,
    from_cdf,
)
from .erlang import erlang_cdf, erlang_cdf_expr, erlang_density, erlang_density_expr, erlang_quantile
from .public_good import BilateralTradeSolution, PublicGoodSolution, bilateral_trade_solution, public_good_solution
from .virtual_values import (
    censored_geometric,
    discrete_inverse_hazard_rate,
    discrete_virtual_values,
    myerson_virtual_value,
    regularity,
)

__all__ = [
    "GradedInterval", "ProportionalAuction", "must_sell_uniform_guarantee", "must_sell_uniform_transfer",
    "ClosedForm", "closed_form", "closed_form_of", "common_value_binary_guarantee", "distribution_of",
    "Discrete", "Exponential", "SymbolicDistribution", "Uniform", "UniformMixture", "ValueDistribution", "binary",
    "from_cdf",
    "erlang_cdf", "erlang_cdf_expr", "erlang_density", "erlang_density_expr", "erlang_quantile",
    "BilateralTradeSolution", "PublicGoodSolution", "bilateral_trade_solution", "public_good_solution",
    "censored_geometric", "discrete_inverse_hazard_rate", "discrete_virtual_values", "myerson_virtual_value",
    "regularity",
]
