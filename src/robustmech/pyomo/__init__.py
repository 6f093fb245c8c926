"""Every program of robustmech as a ``pyomo.environ.ConcreteModel``, and the read-back.

``model_from_program(lp)`` builds the model of a :class:`~robustmech.programs.lp.LinearProgram`
in bulk, with the index sets, variables and constraint families named as in the papers
(``model.m[x1, x2, "paid_by[1]"]``, ``model.lam["theta[1]"]``, ``model.strategic[θ, x1, x2]``).
A researcher may add constraints or change the objective and solve it with any Pyomo
solver; ``solution_from_model(model)`` reads the solved model back in the program's
order, the added constraints included, with the certificate checks by name.
"""

from .chain import from_pyomo, to_pyomo
from .model import ModelMap, model_from_program, pyomo_name
from .readback import program_from_model, solution_from_model
from .solvers import solve_model

__all__ = ["ModelMap", "from_pyomo", "model_from_program", "program_from_model", "pyomo_name", "solution_from_model",
           "solve_model", "to_pyomo"]
