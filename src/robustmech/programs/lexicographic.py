"""000's lexicographic refinements of maxmin: the names of :mod:`robustmech.programs.refinements`.

The programs, algorithms, certificate checkers and exact re-verification live in that
package, one job per module; this module re-exports its public names.
"""

from .refinements import *  # noqa: F403
from .refinements import __all__  # noqa: F401
