"""Lexicographic refinements of maxmin (000, Kambhampati) as sequences of linear programs.

Every program is a reduction over the mechanism polytope M of a prior-free environment
(:mod:`robustmech.lower.prior_free`). One job per module:

* :mod:`.polytope`: M (outcome z(θ) per cell, dominant-strategy IC, ex post
  participation, feasibility) and the payoff matrix v = V z + w0;
* :mod:`.stages`: each stage LP (``build_bayes``, ``build_maxmin``, ``build_admissibility``,
  ``build_ordered``, ``build_face_functional``, ``build_saturation_screen``);
* :mod:`.algorithms`: the criteria (Bayes and LPS optima, robust, perfectly robust,
  properly robust by sequential or ordered leximin, membership, ``refine``);
* :mod:`.certificates`: the LPS that certifies a mechanism and its checkers;
* :mod:`.exact`: exact rational re-verification;
* :mod:`.solving`: how a stage is solved (levels held exactly, relaxed on infeasibility).

Solving is the caller's (``solver``: ``LinearProgram -> solution``). Beliefs are mass per
cell (for the anonymous program, the total mass of the profiles a cell stands for).
"""

from .algorithms import (
                         CRITERIA,
                         MAX_ORDERED_PROFILES,
                         METHODS,
                         SATURATION,
                         Refinement,
                         admissibility,
                         bayes_optimal,
                         check_mass,
                         face_range,
                         level_set_certificate,
                         level_sets,
                         leximin_ordered,
                         leximin_sequential,
                         lps_optimal,
                         maxmin_floors,
                         membership,
                         perfectly_robust,
                         properly_robust,
                         refine,
                         robust,
                         uniform_mass,
)
from .certificates import (
                         LPSCertificate,
                         check_adversarial,
                         check_certificate,
                         check_full_support,
                         check_mu_optimal,
                         check_strongly_adversarial,
                         first_appearance,
)
from .exact import exact_verify
from .polytope import mechanism_families, payoff_matrix
from .solving import Solver
from .stages import (
                         build_admissibility,
                         build_bayes,
                         build_face_functional,
                         build_maxmin,
                         build_ordered,
                         build_saturation_screen,
)

__all__ = [
    "CRITERIA", "MAX_ORDERED_PROFILES", "METHODS", "SATURATION", "Refinement", "LPSCertificate", "Solver",
    "admissibility", "bayes_optimal", "check_mass", "face_range", "leximin_ordered", "leximin_sequential",
    "level_set_certificate", "level_sets", "lps_optimal", "maxmin_floors", "membership", "perfectly_robust",
    "properly_robust", "refine", "robust", "uniform_mass",
    "check_adversarial", "check_certificate", "check_full_support", "check_mu_optimal", "check_strongly_adversarial",
    "first_appearance", "exact_verify", "mechanism_families", "payoff_matrix",
    "build_admissibility", "build_bayes", "build_face_functional", "build_maxmin", "build_ordered",
    "build_saturation_screen",
]
