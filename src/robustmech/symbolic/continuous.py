"""The symbolic layer's reading of a model's continuous prior (``prior continuous ...``).

:func:`distribution_of` turns ``env.states.continuous`` (a
:class:`robustmech.model.continuous.ContinuousPrior`) into the same distribution as a
:mod:`robustmech.symbolic.distributions` object: :class:`Uniform` for ``uniform(a, b)``,
:class:`Exponential` for ``exponential(rate)``, :class:`UniformMixture` for a mixture of
uniforms, and otherwise (a density, a mixture) a
:class:`SymbolicDistribution` whose CDF is the SymPy expression
H(x) = Σ_j w_j ∫_{a_j}^{min(x, b_j)} f_j / Z_j (a Piecewise in the state's symbol).
"""

from __future__ import annotations

import sympy

from ..errors import UnsupportedError
from .distributions import Exponential, SymbolicDistribution, Uniform, UniformMixture, ValueDistribution


def cdf_expression(prior) -> sympy.Expr:
    """H(x) of ``prior`` as a SymPy expression in its symbol (exact where the pieces are)."""
    x = prior.symbol
    terms = []
    for piece in prior.pieces:
        if piece.antiderivative is None:
            raise UnsupportedError(f"the CDF of the prior {prior} has no closed form in SymPy (its cells were "
                                   "integrated numerically)")
        inside = piece.antiderivative / piece.total
        terms.append(piece.weight * sympy.Piecewise((0, x < piece.lower), (inside, x < piece.upper), (1, True)))
    return sympy.Add(*terms)


def distribution_of(prior) -> ValueDistribution:
    """The distribution of ``prior`` (``env.states.continuous``) as a symbolic-layer object."""
    if len(prior.pieces) == 1:
        (piece,) = prior.pieces
        if piece.kind == "uniform":
            return Uniform(float(piece.lower), float(piece.upper))
        if piece.kind == "exponential":
            return Exponential(float(piece.params[0]))
    if all(piece.kind == "uniform" for piece in prior.pieces):
        return UniformMixture(tuple((piece.weight, piece.lower, piece.upper) for piece in prior.pieces))
    if prior.upper == sympy.oo:
        raise UnsupportedError(f"the prior {prior} has an unbounded support: the symbolic distributions other than "
                               "the exponential are on bounded intervals (002 Section 2.1)")
    return SymbolicDistribution(cdf_expression(prior), prior.symbol, float(prior.lower), float(prior.upper))
