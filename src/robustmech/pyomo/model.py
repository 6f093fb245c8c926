"""A :class:`~robustmech.programs.lp.LinearProgram` as a ``pyomo.environ.ConcreteModel``.

The model reads as the paper's program. For LB-G-k, (9) of 004::

    model.X          Set of action profiles x ∈ X(k) (tuples of grid values)
    model.Omega      Set of outcomes ω
    model.Theta      Set of states θ
    model.m          Var(X, Omega):  m(ω|x), e.g. model.m[0.25, 0.5, "paid_by[1]"]
    model.lam        Var(Theta):     λ(θ)
    model.strategic  Constraint(Theta, X): λ(θ) <= the strategic virtual objective (4)
    model.participation  Constraint over (agent, state, x_-i)
    model.objective  Σ_θ μ(θ) λ(θ), maximised
    model.dual, model.rc  import Suffixes for the solver's duals and reduced costs

Each row is one ``LinearExpression`` made from its slice of the CSR matrix (the
coefficients and the variables are lists handed over whole, no Python arithmetic per
term), so LB-G-4 of the public good builds in a few hundredths of a second. Blocks and
families without index sets are indexed by a ``RangeSet`` over their entries.

``model._robustmech`` (a :class:`ModelMap`, a plain attribute, not a Pyomo component)
keeps the program, its columns and rows in program order and the objective as built,
for :func:`robustmech.pyomo.solution_from_model`.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UnsupportedError
from ..programs.lp import IndexSet, LinearProgram


@dataclass
class ModelMap:
    """What the read-back needs: the program, and the model's pieces in program order.

    ``columns[j]`` is the Pyomo variable of the program's column j, ``rows[r]`` the
    constraint of row r (``None`` for a row without finite bounds, which the model
    omits); ``blocks`` and ``families`` map the program's names to component names;
    ``objective_expr`` and ``sense`` are the objective as built, so a change to it is
    seen; ``inverse`` is whatever the caller needs to read economic objects back."""

    program: LinearProgram
    columns: list
    rows: list
    blocks: dict[str, str]
    families: dict[str, str]
    objective_expr: Any
    sense: str
    inverse: Any = None
    extra: dict = field(default_factory=dict)


def pyomo_name(name: str) -> str:
    """A program name as a Pyomo component name an attribute can reach: ``ic[1]`` ->
    ``ic_1``, ``lambda`` -> ``lambda_`` (a Python keyword)."""
    cleaned = re.sub(r"\W+", "_", name).strip("_") or "block"
    if cleaned[0].isdigit():
        cleaned = "_" + cleaned
    return cleaned + "_" if keyword.iskeyword(cleaned) else cleaned


def model_from_program(lp: LinearProgram, inverse: Any = None, name: str | None = None):
    """The program ``lp`` as a ``pyomo.environ.ConcreteModel`` (module docstring).

    Variables are named by their block's ``symbol`` (``m``, ``lam``, ``sigma``,
    ``gamma``), constraints by their family's name, sets by their index sets' names.
    Bounds come from the arrays (an infinite bound is no bound). ``inverse`` is kept on
    ``model._robustmech`` for the read-back of economic objects."""
    from pyomo.common.gc_manager import PauseGC

    with PauseGC():  # Python's cycle collector would walk the new objects again and again
        return _build(lp, inverse, name)


def _build(lp: LinearProgram, inverse: Any, name: str | None):
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    model = pyo.ConcreteModel(name=name or lp.name)
    sets = _SetRegistry(model)
    taken: set[str] = {"objective", "dual", "rc"}  # the components every model has

    columns: list = []
    blocks: dict[str, str] = {}
    for block in lp.variables.values():
        component = _unique(pyomo_name(block.symbol or block.name), taken, model)
        index = sets.for_owner(block.index, block.size, component)
        var = pyo.Var(*index, dense=True, doc=block.description)
        model.add_component(component, var)
        entries = list(var.values())
        if len(entries) != block.size:
            raise UnsupportedError(f"{lp.name}: variable block {block.name} has {block.size} columns but its index "
                                   f"sets give {len(entries)} Pyomo variables (repeated members?)")
        columns.extend(entries)
        blocks[block.name] = component
    lower = np.where(np.isfinite(lp.col_lower), lp.col_lower, np.nan).tolist()
    upper = np.where(np.isfinite(lp.col_upper), lp.col_upper, np.nan).tolist()
    for var, lo, hi in zip(columns, lower, upper):
        var.setlb(None if lo != lo else lo)  # nan (an infinite bound) is no bound
        var.setub(None if hi != hi else hi)

    A = lp.A.tocsr()
    A.sort_indices()
    indptr = A.indptr.tolist()
    linear_vars = [columns[j] for j in A.indices.tolist()]  # one list; each row takes its slice
    coefs = A.data.tolist()
    row_lower, row_upper = lp.row_lower.tolist(), lp.row_upper.tolist()

    def relation(r: int):
        expr = LinearExpression(constant=0.0, linear_coefs=coefs[indptr[r]:indptr[r + 1]],
                                linear_vars=linear_vars[indptr[r]:indptr[r + 1]])
        lo, hi = row_lower[r], row_upper[r]
        lo = lo if np.isfinite(lo) else None
        hi = hi if np.isfinite(hi) else None
        if lo is not None and lo == hi:
            return (expr, lo)
        return (lo, expr, hi)

    rows: list = []
    families: dict[str, str] = {}
    for family in lp.families.values():
        component = _unique(pyomo_name(family.name), taken, model)
        index = sets.for_owner(family.index, family.count, component)
        if int(np.prod([len(s) for s in index])) != family.count:
            raise UnsupportedError(f"{lp.name}: constraint family {family.name} has {family.count} rows but its "
                                   "index sets give another number of members (repeated members?)")
        # Pyomo calls the rule once per member of the (ordered) index, in C order: row
        # family.start + n belongs to the n-th member, as the family's index says
        order = iter(range(family.start, family.start + family.count))
        made: list = []

        def rule(_model, *_member, order=order, made=made):
            r = next(order)
            if row_lower[r] == -np.inf and row_upper[r] == np.inf:
                made.append(None)  # a free row constrains nothing; Pyomo refuses it
                return pyo.Constraint.Skip
            made.append(r)
            return relation(r)

        con = pyo.Constraint(*index, rule=rule, doc=family.description)
        model.add_component(component, con)
        built = iter(con.values())
        rows.extend(None if r is None else next(built) for r in made)
        families[family.name] = component

    nonzero = np.flatnonzero(lp.cost)
    objective_expr = LinearExpression(constant=float(lp.offset), linear_coefs=lp.cost[nonzero].tolist(),
                                      linear_vars=[columns[j] for j in nonzero.tolist()])
    model.objective = pyo.Objective(expr=objective_expr, sense=pyo.minimize if lp.sense == "min" else pyo.maximize,
                                    doc=lp.metadata.get("equation", ""))
    model.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    model.rc = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    model._robustmech = ModelMap(lp, columns, rows, blocks, families, objective_expr, lp.sense, inverse)
    return model


def _unique(name: str, taken: set[str], model) -> str:
    candidate, n = name, 2
    while candidate in taken or hasattr(model, candidate):
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


class _SetRegistry:
    """One Pyomo ``Set`` per distinct index set name; a second set of the same name
    with other members gets the owner's name appended."""

    def __init__(self, model):
        self.model = model
        self.by_name: dict[str, tuple[IndexSet, Any]] = {}

    def for_owner(self, index: tuple[IndexSet, ...], size: int, owner: str) -> tuple:
        import pyomo.environ as pyo

        if not index:
            name = _unique(f"{owner}_index", set(), self.model)
            self.model.add_component(name, pyo.RangeSet(size, doc=f"entries of {owner}"))
            return (getattr(self.model, name),)
        return tuple(self._set(s, owner) for s in index)

    def _set(self, index_set: IndexSet, owner: str):
        import pyomo.environ as pyo

        name = pyomo_name(index_set.name)
        known = self.by_name.get(name)
        if known is not None and _same(known[0], index_set):
            return known[1]
        if known is not None or hasattr(self.model, name):
            name = _unique(f"{name}_{owner}", set(), self.model)
        component = pyo.Set(initialize=index_set.members, dimen=index_set.dimen, ordered=pyo.Set.InsertionOrder,
                            doc=index_set.description)
        self.model.add_component(name, component)
        self.by_name.setdefault(pyomo_name(index_set.name), (index_set, component))
        return component


def _same(a: IndexSet, b: IndexSet) -> bool:
    return a is b or (a.axes == b.axes and a.labels == b.labels)
