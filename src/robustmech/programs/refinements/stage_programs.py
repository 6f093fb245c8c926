"""Each LP stage of 000's refinements as a registered :class:`~robustmech.programs.base.Program`.

The same interface as every program of robustmech: ``build(arrays, **options) ->
(LinearProgram, inverse)`` on the prior-free arrays (the lowered environment of 000)
and ``read(lp, solution, inverse) -> ReadBack`` (the outcome z(θ) at each type profile
and the payoffs v(θ)). The algorithms (:mod:`.algorithms`) build every stage through
:func:`stage`, and solve it with the caller's solver, which for ``robustmech.refine``
is the chain after the build (``robustmech.api.solve_built``).
"""

from __future__ import annotations

from typing import Any

from ...lower.prior_free import PriorFreeArrays
from ..base import REQUIRED, Program, ReadBack, register
from ..base import program as get_program
from ..lp import LinearProgram
from .solving import mechanism
from .stages import (
    build_admissibility,
    build_bayes,
    build_face_functional,
    build_maxmin,
    build_ordered,
    build_saturation_screen,
)


class _Stage(Program):
    builder: Any = None

    def build(self, lowered: PriorFreeArrays, **options) -> tuple[LinearProgram, PriorFreeArrays]:
        return type(self).builder(lowered, **self.options(options)), lowered

    def read(self, lp: LinearProgram, solution, inverse: PriorFreeArrays) -> ReadBack:
        z = mechanism(inverse, lp, solution.x)
        return ReadBack(arrays={"outcome": z, "payoffs": inverse.payoffs(z)})


class BayesStage(_Stage):
    """max Σ_θ mass(θ) v(θ) over the mechanisms M with earlier stages' values held (000 (1))."""

    name, title, source = "refinement-bayes", "Bayesian stage", "(1) of 000"
    parameters = {"mass": REQUIRED, "floors": (), "name": "bayes", "payoff_floors": None}
    builder = staticmethod(build_bayes)


class MaxminStage(_Stage):
    """max t s.t. t <= v(θ) on the free profiles (the maxmin LP (2) of 000; leximin stages)."""

    name, title, source = "refinement-maxmin", "maxmin stage", "(2) of 000"
    parameters = {"free": REQUIRED, "floors": REQUIRED, "name": "maxmin"}
    builder = staticmethod(build_maxmin)


class AdmissibilityStage(_Stage):
    """The admissibility LP of Lemma 1 of 000."""

    name, title, source = "refinement-admissibility", "admissibility", "Lemma 1 of 000"
    parameters = {"target": REQUIRED, "support": None, "name": "admissibility"}
    builder = staticmethod(build_admissibility)


class OrderedStage(_Stage):
    """Stage k of the ordered-outcomes formulation of leximin (Proposition 4 of 000)."""

    name, title, source = "refinement-ordered", "ordered-outcomes stage", "Proposition 4 of 000"
    parameters = {"stage": REQUIRED, "earlier": REQUIRED, "name": "ordered"}
    builder = staticmethod(build_ordered)


class FaceStage(_Stage):
    """min or max of a linear functional over a face {z ∈ M : v >= floors} (Example 1 of 000)."""

    name, title, source = "refinement-face", "face functional", "Example 1 of 000"
    parameters = {"floors": REQUIRED, "objective": REQUIRED, "sense": REQUIRED, "name": "face"}
    builder = staticmethod(build_face_functional)


class SaturationScreenStage(_Stage):
    """The screening LP of sequential leximin (Proposition 4 of 000)."""

    name, title, source = "refinement-saturation", "saturation screen", "Proposition 4 of 000"
    parameters = {"free": REQUIRED, "floors": REQUIRED, "level": REQUIRED, "undecided": REQUIRED,
                  "name": "saturation-screen"}
    builder = staticmethod(build_saturation_screen)


for _program in (BayesStage(), MaxminStage(), AdmissibilityStage(), OrderedStage(), FaceStage(),
                 SaturationScreenStage()):
    register(_program)


def stage(program: str, arrays: PriorFreeArrays, /, **options) -> LinearProgram:
    """The LP of the registered stage ``program`` on ``arrays`` (``name=`` names the LP)."""
    return get_program(program).build(arrays, **options)[0]
