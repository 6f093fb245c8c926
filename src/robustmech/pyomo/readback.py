"""The read-back from a solved Pyomo model of a program, user extensions included.

A researcher may add constraints (and variables) to the model of a program, change its
objective, fix variables or change their bounds, or deactivate rows, and solve it with
any Pyomo solver. :func:`program_from_model` turns the model as it now stands back
into a :class:`~robustmech.programs.lp.LinearProgram`: the program's own columns and
rows in their order, followed by one column block per added variable component and
one constraint family per added constraint component (its rows taken from Pyomo's
standard linear representation). :func:`solution_from_model` reads the solution into
an :class:`~robustmech.solve.LPSolution` of that program and checks it: the point
against every row and column bound (:func:`robustmech.programs.symmetry.max_violation`),
each added constraint as Pyomo evaluates it, by name, and the weak-duality bound of
the solver's row duals (:func:`robustmech.solve.dual_objective`).

Sign convention: Pyomo's ``dual`` suffix holds ∂objective/∂(right-hand side) for both
senses, as HiGHS's row duals do (c = Aᵀy + z), checked for ``appsi_highs`` and ``glpk``;
so the suffix values are the IR's row duals as they are.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import SolverError, UnsupportedError
from ..programs.lp import ConstraintFamily, LinearProgram, VariableBlock
from ..programs.symmetry import max_violation
from ..solve import LPSolution, dual_objective
from .model import ModelMap

CHECK_TOLERANCE = 1e-6  # relative to max(1, |objective|), as robustmech.api.certify_solution


def _map(model) -> ModelMap:
    mapping = getattr(model, "_robustmech", None)
    if mapping is None:
        raise UnsupportedError("this Pyomo model was not built by robustmech (model_from_program); "
                               "it has no program to read back into")
    return mapping


def program_from_model(model) -> LinearProgram:
    """The program the model now states (module docstring). Raises
    :class:`~robustmech.errors.UnsupportedError` for a nonlinear added constraint or
    objective, or for more than one active objective."""
    return _extended(model)[0]


def _extended(model):
    import pyomo.environ as pyo
    from pyomo.repn import generate_standard_repn

    mapping = _map(model)
    lp = mapping.program
    own = set(mapping.families.values())
    columns = list(mapping.columns)
    position = {id(v): j for j, v in enumerate(columns)}
    added_blocks: dict[str, VariableBlock] = {}

    referenced: dict[str, set[int]] = {}  # added variable component -> ids of the entries used

    def linear(expr, where: str):
        repn = generate_standard_repn(expr, compute_values=True, quadratic=False)
        if not repn.is_linear():
            raise UnsupportedError(f"{where} is not linear; the read-back handles linear programs only")
        for var in repn.linear_vars:
            if id(var) not in position:
                referenced.setdefault(var.parent_component().name, set()).add(id(var))
        return list(repn.linear_vars), np.asarray(repn.linear_coefs, dtype=float), float(pyo.value(repn.constant))

    def added_columns() -> None:
        """Columns for the entries of added variables that the added rows or the objective
        use, one block per component, in the component's own order."""
        for name, ids in referenced.items():
            entries = [v for v in model.find_component(name).values() if id(v) in ids]
            added_blocks[name] = VariableBlock(name, len(columns), (len(entries),), "added to the Pyomo model")
            for entry in entries:
                position[id(entry)] = len(columns)
                columns.append(entry)

    def column_numbers(variables) -> np.ndarray:
        return np.fromiter((position[id(v)] for v in variables), dtype=np.int64, count=len(variables))

    # constraints added to the model: every active constraint outside the program's families
    added_rows, added_families = [], {}
    start = lp.n_rows
    for con in model.component_objects(pyo.Constraint, active=True, descend_into=True):
        if con.parent_block() is model and con.local_name in own:
            continue
        entries = [c for c in con.values() if c.active]
        if not entries:
            continue
        for c in entries:
            variables, coefs, constant = linear(c.body, f"constraint {c.name}")
            lo = -np.inf if c.lb is None else float(c.lb) - constant
            hi = np.inf if c.ub is None else float(c.ub) - constant
            added_rows.append((variables, coefs, lo, hi, c))
        added_families[con.name] = ConstraintFamily(con.name, start, len(entries), "added to the Pyomo model")
        start += len(entries)

    objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objectives) != 1:
        raise UnsupportedError(f"the model has {len(objectives)} active objectives; the read-back needs exactly one")
    objective: Any = objectives[0]
    sense = "min" if objective.sense == pyo.minimize else "max"
    expression = objective.expr
    changed = objective is not getattr(model, "objective", None) or expression is not mapping.objective_expr \
        or sense != mapping.sense
    if changed:
        objective_vars, objective_coefs, offset = linear(expression, f"objective {objective.name}")
    added_columns()
    added_rows = [(column_numbers(variables), coefs, lo, hi, c) for variables, coefs, lo, hi, c in added_rows]
    n = len(columns)
    if changed:
        cost = np.zeros(n)
        np.add.at(cost, column_numbers(objective_vars), objective_coefs)
    else:
        cost, offset = np.concatenate([lp.cost, np.zeros(n - lp.n_cols)]), float(lp.offset)

    # the program's rows, with deactivated ones freed; then the added rows
    own_active = np.fromiter((r is not None and r.active for r in mapping.rows), dtype=bool, count=lp.n_rows)
    free_row = np.fromiter((r is None for r in mapping.rows), dtype=bool, count=lp.n_rows)
    row_lower = np.where(own_active | free_row, lp.row_lower, -np.inf)
    row_upper = np.where(own_active | free_row, lp.row_upper, np.inf)
    A = lp.A.tocsr()
    if n > lp.n_cols:
        A = sp.hstack([A, sp.csr_matrix((lp.n_rows, n - lp.n_cols))], format="csr")
    if added_rows:
        counts = [len(cols) for cols, *_ in added_rows]
        indptr = np.concatenate([[0], np.cumsum(counts)])
        user = sp.csr_matrix((np.concatenate([c for _, c, *_ in added_rows]),
                              np.concatenate([cols for cols, *_ in added_rows]), indptr), shape=(len(added_rows), n))
        user.sum_duplicates()
        A = sp.vstack([A, user], format="csr")
        row_lower = np.concatenate([row_lower, [lo for *_, lo, _, _ in added_rows]])
        row_upper = np.concatenate([row_upper, [hi for *_, hi, _ in added_rows]])

    # column bounds as the model now has them (a fixed variable is fixed at its value)
    col_lower, col_upper = _bounds(columns)
    program = LinearProgram(
        name=lp.name if not (added_rows or added_blocks or changed) else f"{lp.name} (extended in Pyomo)",
        sense=sense, cost=cost, A=A, row_lower=row_lower, row_upper=row_upper, col_lower=col_lower,
        col_upper=col_upper, variables={**lp.variables, **added_blocks}, families={**lp.families, **added_families},
        offset=offset, build_seconds=lp.build_seconds, metadata=dict(lp.metadata),
    )
    rows = list(mapping.rows) + [c for *_, c in added_rows]
    deactivated = sorted({mapping.rows[r].parent_component().name for r in np.flatnonzero(~own_active & ~free_row)})
    facts = {"added_constraints": list(added_families), "added_variables": list(added_blocks),
             "objective_changed": bool(changed), "deactivated": deactivated}
    return program, columns, rows, facts


def _bounds(columns) -> tuple[np.ndarray, np.ndarray]:
    fixed = np.fromiter((v.fixed for v in columns), dtype=bool, count=len(columns))
    values = np.fromiter((np.nan if v.value is None else v.value for v in columns), dtype=float, count=len(columns))
    lower = np.fromiter((-np.inf if v.lb is None else v.lb for v in columns), dtype=float, count=len(columns))
    upper = np.fromiter((np.inf if v.ub is None else v.ub for v in columns), dtype=float, count=len(columns))
    return np.where(fixed, values, lower), np.where(fixed, values, upper)


def solution_from_model(model, results=None) -> tuple[LinearProgram, LPSolution, dict]:
    """The solved model read back: ``(program, solution, checks)``.

    ``program`` is :func:`program_from_model` (the first columns are the original
    program's, so its ``read`` works on ``solution.x``). ``solution`` holds the values,
    the row duals from the ``dual`` suffix (``nan`` where the solver gave none), the
    column duals recomputed as c - Aᵀy, the objective and its weak-duality bound.
    ``checks``: ``max_violation`` (the point against every row and bound),
    ``violations`` (component name -> largest violation, for every component above
    the tolerance: the program's families by name, each added constraint as Pyomo
    evaluates it), ``dual_certified``, and what was changed (``added_constraints``,
    ``added_variables``, ``objective_changed``, ``deactivated``).

    ``results`` (what ``SolverFactory(...).solve`` returned) gives the status; without
    it the results of :func:`robustmech.pyomo.solve_model` are used, and failing those
    the status is ``optimal`` when the checks certify the point, else ``unverified``.
    Raises :class:`~robustmech.errors.SolverError` when the model holds no values.
    """
    import pyomo.environ as pyo

    program, columns, rows, facts = _extended(model)
    x = np.fromiter((np.nan if v.value is None else v.value for v in columns), dtype=float, count=len(columns))
    if np.isnan(x).any():
        missing = sorted({columns[j].parent_component().name for j in np.flatnonzero(np.isnan(x))})
        raise SolverError(f"{program.name}: the Pyomo model holds no values for {', '.join(missing)}; solve it first",
                          "error")
    suffix: Any = getattr(model, "dual", None)
    has_duals = isinstance(suffix, pyo.Suffix) and len(suffix) > 0
    # a free or deactivated row is no row of the solved model: its dual is zero
    duals = [0.0 if r is None or not r.active else suffix.get(r, np.nan) if has_duals else np.nan for r in rows]
    y = np.asarray(duals, dtype=float).reshape(len(rows))
    activity = program.A @ x
    objective = float(program.cost @ x + program.offset)
    z = program.cost - program.A.T @ np.nan_to_num(y)
    dual = dual_objective(program, y, z, activity, x) if has_duals and not np.isnan(y).any() else float("nan")

    violation = max_violation(program, x)
    scale = max(1.0, abs(objective))
    violations = {}
    for name, family in program.families.items():
        sl = family.slice
        worst = _excess(activity[sl], program.row_lower[sl], program.row_upper[sl])
        if name in facts["added_constraints"]:
            worst = max(worst, _pyomo_violation(model.find_component(name)))
        if worst > CHECK_TOLERANCE * scale:
            violations[name] = worst
    for name, block in program.variables.items():
        sl = block.slice
        worst = _excess(x[sl], program.col_lower[sl], program.col_upper[sl])
        if worst > CHECK_TOLERANCE * scale:
            violations[f"bounds of {name}"] = worst
    gap = abs(objective - dual)
    certified = bool(np.isfinite(gap) and gap <= CHECK_TOLERANCE * scale and not violations)

    results = results if results is not None else getattr(model, "_robustmech_results", None)
    status = _status(results) if results is not None else ("optimal" if certified else "unverified")
    stored = getattr(model, "_robustmech_solve", {})
    solution = LPSolution(status=status, objective=objective, dual_objective=dual, x=x, row_dual=y, col_dual=z,
                          row_activity=activity, solve_seconds=float(stored.get("seconds", 0.0)),
                          solver=str(stored.get("solver", "pyomo")), message=str(_termination(results) or ""))
    checks = {"max_violation": violation, "violations": violations, "dual_certified": certified, **facts}
    return program, solution, checks


def _excess(values: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """How far ``values`` leave [lower, upper] at most (0 inside)."""
    return float(np.maximum(np.maximum(lower - values, values - upper), 0.0).max(initial=0.0))


def _pyomo_violation(con) -> float:
    """The largest violation of an indexed or scalar constraint, as Pyomo evaluates it."""
    import pyomo.environ as pyo

    worst = 0.0
    for c in con.values():
        if not c.active:
            continue
        body = pyo.value(c.body)
        if c.lb is not None:
            worst = max(worst, float(pyo.value(c.lb)) - body)
        if c.ub is not None:
            worst = max(worst, body - float(pyo.value(c.ub)))
    return worst


def _termination(results):
    if results is None:
        return None
    return getattr(getattr(results, "solver", None), "termination_condition", None)


def _status(results) -> str:
    """A Pyomo termination condition in robustmech's status words."""
    from pyomo.opt import TerminationCondition as TC

    condition = _termination(results)
    return {TC.optimal: "optimal", TC.infeasible: "infeasible", TC.unbounded: "unbounded",
            TC.infeasibleOrUnbounded: "infeasible_or_unbounded", TC.maxTimeLimit: "time_limit",
            TC.maxIterations: "iteration_limit"}.get(condition, "error")


def with_solution(lp: LinearProgram, solution: LPSolution) -> LPSolution:
    """``solution`` restricted to the columns and rows of ``lp`` (the program before any
    extension), for code that reads the original program back."""
    return replace(solution, x=solution.x[:lp.n_cols], col_dual=solution.col_dual[:lp.n_cols],
                   row_dual=solution.row_dual[:lp.n_rows], row_activity=solution.row_activity[:lp.n_rows])
