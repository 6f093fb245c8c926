"""A registered program as a Pyomo model, and a solved model back as a ``ProgramResult``.

    import robustmech as rm
    from robustmech.pyomo import to_pyomo, from_pyomo, solve_model

    env = rm.load_model("models/public_good.mech", params={"N": 2, "vbar": 3})
    model = to_pyomo(env, "guarantee", k=4)    # LB-G-4, (9) of 004
    ...                                        # add constraints, change the objective
    solve_model(model, "glpk")                 # or any SolverFactory(...).solve(model)
    result = from_pyomo(model)                 # the same type robustmech.solve returns
"""

from __future__ import annotations

from typing import Any

from ..errors import SolverError
from .model import model_from_program
from .readback import solution_from_model, with_solution


def to_pyomo(env, program: str = "guarantee", k: int | None = None, symmetry: bool = False, **options: Any):
    """The program (a name of ``robustmech.programs.base.names()``, with its options, ``k``
    for the grid programs) on ``env`` as a ``pyomo.environ.ConcreteModel``
    (:func:`robustmech.pyomo.model_from_program`). Every variable of the program is in
    the model, named as in the papers. With ``symmetry`` (as in ``robustmech.solve``),
    the symmetric solutions only: where the program is invariant under the
    environment's symmetries, a family ``symmetry`` ties each variable to the first of
    its orbit (a solver's presolve removes them; the names stay economic). Off by
    default, so that a constraint a user adds is not tied to its mirror image. The model
    remembers the program, the lowered environment and the inverse data, so
    :func:`from_pyomo` can read it back."""
    from .. import api
    from ..lower.arrays import LoweredEnvironment
    from ..programs.base import program as get_program

    low = env if isinstance(env, LoweredEnvironment) else api.validate(env)
    prog = get_program(program)
    given = dict(options)
    if k is not None:
        given["k"] = k
    lp, inverse = prog.build(low, **given)
    if symmetry:
        lp = with_symmetry_rows(lp, low)
    model = model_from_program(lp, inverse)
    model._robustmech.extra.update(program=prog, lowered=low, k=given.get("k"))
    return model


def with_symmetry_rows(lp, low):
    """``lp`` with rows x_c - x_r = 0 tying each column c to the first column r of its
    orbit under the symmetries the program is invariant under (the program itself when
    there are none): the same optimum (average any optimum over the group)."""
    import dataclasses

    import numpy as np
    import scipy.sparse as sp

    from ..lower.symmetry import find_symmetries
    from ..programs.lp import ConstraintFamily
    from ..programs.reductions import symmetry_reduction
    from ..programs.symmetry import orbit_matrix

    reduction, _ = symmetry_reduction(lp, find_symmetries(low), low.env.agents, low.env.states.labels,
                                      low.outcome_names)
    if reduction is None:
        return lp
    labels = orbit_matrix(lp.n_cols, reduction.permutations).indices  # the orbit of each column
    first = np.full(labels.max() + 1, lp.n_cols)
    np.minimum.at(first, labels, np.arange(lp.n_cols))
    tied = np.flatnonzero(first[labels] != np.arange(lp.n_cols))
    n = len(tied)
    rows = sp.csr_matrix((np.r_[np.ones(n), -np.ones(n)], (np.r_[np.arange(n), np.arange(n)],
                                                            np.r_[tied, first[labels[tied]]])), shape=(n, lp.n_cols))
    family = ConstraintFamily("symmetry", lp.n_rows, n, "each variable equals the first of its orbit under the "
                              "environment's symmetries (symmetric solutions only)")
    return dataclasses.replace(lp, A=sp.vstack([lp.A, rows], format="csr"), row_lower=np.r_[lp.row_lower, np.zeros(n)],
                               row_upper=np.r_[lp.row_upper, np.zeros(n)],
                               families={**lp.families, "symmetry": family})


def from_pyomo(model, results=None):
    """The solved model (from :func:`to_pyomo`, possibly extended) as a
    :class:`~robustmech.results.bounds.ProgramResult`: the value of the model's active
    objective, the weak-duality bound of the duals on the extended program, and the
    program's read-back (mechanism, information structure, multipliers) from the
    values. ``extra`` carries the checks of :func:`solution_from_model`.

    Raises :class:`~robustmech.errors.SolverError` (status ``uncertified``) naming every
    constraint or bound the point violates: a value that is not a bound of the program
    as extended is not reported."""
    from .. import api

    mapping = model._robustmech
    prog, low = mapping.extra.get("program"), mapping.extra.get("lowered")
    if prog is None or low is None:
        raise SolverError("this Pyomo model was built from a LinearProgram alone; build it with "
                          "robustmech.pyomo.to_pyomo(env, program, ...) to read it back as a result", "error")
    extended, solution, checks = solution_from_model(model, results)
    if checks["violations"]:
        named = ", ".join(f"{name} by {worst:.2e}" for name, worst in checks["violations"].items())
        raise SolverError(f"{extended.name}: the model's point violates {named}, so its value is not a bound",
                          "uncertified", tuple(checks["violations"]))
    if solution.status != "optimal":
        raise SolverError(f"{extended.name}: the Pyomo solve ended with status {solution.status}", solution.status)
    lp = mapping.program
    readback = prog.read(lp, with_solution(lp, solution), mapping.inverse)
    certificate = {"max_violation": checks["max_violation"], "dual_certified": checks["dual_certified"],
                   "pyomo": {key: checks[key] for key in ("added_constraints", "added_variables",
                                                            "objective_changed", "deactivated")}}
    solved = api.Solved(prog, extended, solution, readback, certificate, lp.build_seconds)
    return api.result_of(low, solved, mapping.extra.get("k"))
