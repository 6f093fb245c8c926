"""robustmech: informationally robust mechanism design.

A modeling language for environments (agents, states and a prior, outcomes, utilities,
the designer's objective) and the linear programs of the literature, solved by HiGHS.
"""

__version__ = "0.1.0"

from .api import bounds, load_model, parse_model, solve, validate
from .certify import Certificate, GuaranteeResult, PotentialResult, certify, guarantee, potential
from .errors import Location, ModelError, ParameterError, RobustMechError, SolverError, UnsupportedError
from .lower.arrays import LoweredEnvironment, lower_environment
from .lower.grid import Grid
from .model.environment import ContinuousOutcomes, Environment, FiniteOutcomes, ModelBuilder, StateSpace
from .model.objects import InformationStructure, Mechanism
from .results.bounds import Bounds, ProgramResult
from .results.io import load_result as load

__all__ = [
    "bounds", "load_model", "parse_model", "solve", "validate", "load",
    "Location", "ModelError", "ParameterError", "RobustMechError", "SolverError", "UnsupportedError",
    "LoweredEnvironment", "lower_environment", "Grid",
    "ContinuousOutcomes", "Environment", "FiniteOutcomes", "ModelBuilder", "StateSpace",
    "InformationStructure", "Mechanism", "Bounds", "ProgramResult",
    "certify", "guarantee", "potential", "Certificate", "GuaranteeResult", "PotentialResult",
]

from .api import refine  # noqa: E402  (000: robust, perfectly and properly robust mechanisms)

__all__ += ["refine", "to_pyomo", "from_pyomo"]


def to_pyomo(env, program: str = "guarantee", k: int | None = None, **options):
    """The program on ``env`` as a ``pyomo.environ.ConcreteModel`` with indexed Sets, Vars
    and Constraints named as in the papers (:func:`robustmech.pyomo.to_pyomo`; Pyomo is
    imported only when this is called)."""
    from .pyomo import to_pyomo as build

    return build(env, program, k, **options)


def from_pyomo(model, results=None) -> ProgramResult:
    """A solved model from :func:`to_pyomo`, possibly extended, as the result
    :func:`solve` returns (:func:`robustmech.pyomo.from_pyomo`)."""
    from .pyomo import from_pyomo as read

    return read(model, results)
