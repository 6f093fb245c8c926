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

__all__ += ["refine"]
