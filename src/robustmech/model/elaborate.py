"""Elaboration: give a parsed model file its meaning as an :class:`Environment`.

The elaborator resolves names, expands index sets and comprehensions, evaluates
expressions exactly (SymPy rationals: ``0.4`` is 2/5), and declares everything through
:class:`~robustmech.model.environment.ModelBuilder`, passing the ``location`` of each
statement, so that every check of the builder names ``file:line:col``. The language is
described in ``docs/language.md``; the environment is that of 004 Section 2:
(N, Θ, μ, Ω, u, w).

Payoffs over a finite outcome set are evaluated once per outcome, with the reserved
word ``outcome`` bound to it: ``[outcome == paid_by[i]]`` is 1 at ``paid_by[i]`` and 0
elsewhere, which gives the per-outcome table u_i(ω, θ) that the builder takes.
"""

from __future__ import annotations

import difflib
import itertools
import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import sympy

from ..dsl import ast as A
from ..errors import Location, ModelError, ParameterError, UnsupportedError
from .environment import Environment, ModelBuilder
from .objects import InformationStructure, Mechanism

FUNCTIONS = ("sum", "min", "max", "abs", "sqrt", "exp", "log", "unit", "grid", "product", "count")


# ---------------------------------------------------------------- values


@dataclass(frozen=True)
class Family:
    """An indexed family or a list: ``entries[k]`` has index ``indices[k]``
    (``theta[1..N]``, ``paid_by[j in 1..N]``, ``[0, 0.5, 1]`` indexed from 1)."""

    entries: tuple
    indices: tuple
    name: str = "this list"

    @staticmethod
    def of(entries, name: str = "this list") -> "Family":
        entries = tuple(entries)
        return Family(entries, tuple(range(1, len(entries) + 1)), name)


@dataclass(frozen=True)
class OutcomeValue:
    """One element of a finite outcome set, by name."""

    name: str


@dataclass(frozen=True)
class SetValue:
    """A finite set, in the order written (duplicates dropped)."""

    elements: tuple


@dataclass(frozen=True)
class TableValue:
    """``{key: value, ...}``; ``locs`` says where each entry was written."""

    keys: tuple
    values: tuple
    locs: tuple


@dataclass(frozen=True)
class LetFunction:
    stmt: A.LetStmt


_PENDING = object()


@dataclass
class _Binding:
    kind: str  # parameter, agents' index, agent, state, outcome, outcome variable, definition, mechanism, information
    loc: Location
    value: Any = _PENDING


@dataclass
class _Context:
    locals: dict
    outcome: OutcomeValue | None = None
    no_outcome: str = "`outcome` can only be used in utilities, the designer objective and definitions they use"
    unit: tuple | None = None  # the state's coordinate indices, for unit(j)


def elaborate(ast: A.ModelAST, overrides: Mapping[str, Any] | None = None, source: str | None = None) -> Environment:
    """The Environment a parsed model describes, with ``overrides`` (``--param``
    values, as strings or numbers) replacing the declared parameter defaults."""
    marker = next((s for s in ast.statements if isinstance(s, (A.TypesStmt, A.IncentiveStmt, A.ParticipationStmt))), None)
    if marker is not None:  # a model of 000: robustmech.model.elaborate_prior_free
        raise UnsupportedError(f"{marker.loc}: this is a prior-free model: use robustmech refine "
                               "(it declares `types`, `ic` or `participation`: the environments of 000)")
    return _Elaborator(ast, dict(overrides or {}), source if source is not None else ast.source).run()


class _Elaborator:
    def __init__(self, ast: A.ModelAST, overrides: dict, source: str | None):
        self.ast = ast
        self.file = ast.filename
        self.overrides = overrides
        self.source = source
        self.globals: dict[str, _Binding] = {}
        self.agent_var: str | None = None
        self.agent_numbers: list[int] = []
        self.state_symbols: tuple[sympy.Symbol, ...] = ()
        self.state_points: list[tuple] = []
        self.state_labels: list[str] = []
        self.state_indices: tuple | None = None
        self.outcome_names: list[str] | None = None
        self.variables: list[sympy.Symbol] = []
        self.evaluating: list[str] = []

    # ------------------------------------------------------------------ driver

    def _begin(self, stmts, builder_class):
        """The `model` line: make the builder; returns where errors about missing parts point."""
        models = [s for s in stmts if isinstance(s, A.ModelStmt)]
        if len(models) > 1:
            raise ModelError("the model is named twice (one `model NAME \"title\"` per file)", models[1].loc)
        start = models[0].loc if models else Location(self.file, 1, 1)
        name = models[0].name if models else _stem(self.file)
        title = models[0].title if models else ""
        path = self.file if self.file != "<model>" else None
        self.b = builder_class(name, title, path=path, source=self.source)
        return start

    def _declare_names_params_agents(self, stmts, start) -> None:
        """What every model declares first, in this order: names, parameters, agents, lets."""
        self._claim_names(stmts)
        self._params([s for s in stmts if isinstance(s, A.ParamStmt)])
        self._guard(self._agents, [s for s in stmts if isinstance(s, (A.AgentsRange, A.AgentsNamed))], start)
        for s in stmts:
            if isinstance(s, A.LetStmt):
                self.globals[s.name].value = LetFunction(s)

    def _declare_utilities(self, stmts, start) -> None:
        """Every `utility[i] = ...` statement, then refuse an agent left without one."""
        utilities = [s for s in stmts if isinstance(s, A.UtilityStmt)]
        for s in utilities:
            self._guard(self._utility, s)
        missing = [self.b._agents[i] for i in range(len(self.agent_numbers)) if ("utility", i) not in self.b.locations]
        if missing:
            where = utilities[-1].loc if utilities else start
            raise ModelError(f"no utility for agent {missing[0]}: write `utility[{self.agent_var or missing[0]}] = ...`",
                             where)

    def run(self) -> Environment:
        stmts = self.ast.statements
        start = self._begin(stmts, ModelBuilder)
        self._declare_names_params_agents(stmts, start)
        self._guard(self._states, [s for s in stmts if isinstance(s, A.StateStmt)], start)
        self._prior([s for s in stmts if isinstance(s, A.PriorStmt)])
        self._guard(self._outcomes, [s for s in stmts if isinstance(s, A.OutcomeStmt)], stmts)
        for s in stmts:
            if isinstance(s, A.ConstraintStmt):
                self._guard(self._constraint, s)
        self._declare_utilities(stmts, start)
        designers = [s for s in stmts if isinstance(s, A.DesignerStmt)]
        if not designers:
            raise ModelError("the model has no designer objective: add a line `designer = EXPR`", start)
        for s in designers:
            self._guard(self._designer, s)
        for s in stmts:
            if isinstance(s, A.MechanismStmt):
                self._guard(self._mechanism, s)
            elif isinstance(s, A.InformationStmt):
                self._guard(self._information, s)
        for s in stmts:
            if isinstance(s, A.DirectiveStmt):
                self._guard(self._directive, s)
        return self.b.build()

    def _guard(self, method, stmt, *args):
        """Run ``method(stmt, *args)``; a failure of the arithmetic underneath becomes a
        ModelError at the statement (never a traceback)."""
        try:
            return method(stmt, *args)
        except ModelError:
            raise
        except (TypeError, ValueError, ZeroDivisionError, ArithmeticError, sympy.SympifyError) as exc:
            loc = stmt.loc if isinstance(stmt, A.Node) else stmt[0].loc if stmt else Location(self.file)
            raise ModelError(f"cannot evaluate this statement: {exc}", loc) from None

    # ------------------------------------------------------------------ names

    def _claim(self, name: str, kind: str, loc: Location) -> None:
        if name in self.globals:
            first = self.globals[name]
            raise ModelError(f"duplicate name '{name}': already declared as {_article(first.kind)} at "
                             f"line {first.loc.line}", loc)
        if name in ("inf",):
            raise ModelError(f"'{name}' is a built-in name (infinity); choose another name", loc)
        self.globals[name] = _Binding(kind, loc)

    def _claim_names(self, stmts) -> None:
        for s in stmts:
            if isinstance(s, A.ParamStmt):
                self._claim(s.name, "parameter", s.name_loc)
            elif isinstance(s, A.AgentsRange):
                self._claim(s.var, "agents' index", s.name_loc)
            elif isinstance(s, A.AgentsNamed):
                for n, loc in zip(s.names, s.name_locs):
                    self._claim(n, "agent", loc)
            elif isinstance(s, A.StateStmt):
                for n in s.names:
                    self._claim(n, "state coordinate", s.name_loc)
            elif isinstance(s, A.OutcomeStmt):
                for d in s.decls:
                    self._claim(d.name, "outcome", d.loc)
            elif isinstance(s, (A.AllocateStmt, A.TransferStmt, A.VariableStmt)):
                self._claim(s.name, "outcome variable", s.loc)
            elif isinstance(s, A.LetStmt):
                self._claim(s.name, "definition", s.name_loc)
            elif isinstance(s, A.MechanismStmt):
                self._claim(s.name, "mechanism", s.loc)
            elif isinstance(s, A.InformationStmt):
                self._claim(s.name, "information structure", s.loc)

    # ------------------------------------------------------------------ parameters

    def _params(self, params: list[A.ParamStmt]) -> None:
        declared = {p.name for p in params}
        unknown = [n for n in self.overrides if n not in declared]
        if unknown:
            known = ", ".join(p.name for p in params) or "none"
            raise ParameterError(f"unknown parameter '{unknown[0]}' in --param (this model's parameters: {known})",
                                 Location(self.file))
        for p in params:
            default = self._guard(lambda stmt: self._eval(stmt.value, _Context({})), p)
            kind = _param_kind(default)
            if kind == "integer" and _written_as_real(p.value):
                kind = "number"  # `param vbar = 3.0` declares a real parameter
            if kind is None:
                raise ModelError(f"parameter {p.name} must be a number or a list of numbers, got {_show(default)}",
                                 p.value.loc)
            value = default
            if p.name in self.overrides:
                value = self._override(p, kind, self.overrides[p.name])
            self.globals[p.name].value = value
            self.b.param(p.name, _python(value), location=p.name_loc)

    def _override(self, p: A.ParamStmt, kind: str, given: Any):
        words = {"integer": "an integer", "number": "a number", "list": "a list of numbers"}[kind]
        hint = f"; write `param {p.name} = {p.value.text}.0` to allow other numbers" \
            if kind == "integer" and isinstance(p.value, A.Number) else ""
        wrong = ParameterError(f"parameter of the wrong type: {p.name} is {words} (declared here), "
                               f"but --param {p.name}={given} is not{hint}", p.name_loc)
        if isinstance(given, str):
            from ..dsl.parser import parse_value

            try:
                value = self._eval(parse_value(given, f"--param {p.name}"), _Context({}))
            except ModelError:
                raise wrong from None
        elif isinstance(given, (list, tuple)):
            try:
                value = Family.of([_exact(x) for x in given], p.name)
            except (TypeError, ValueError):
                raise wrong from None
        else:
            try:
                value = _exact(given)
            except (TypeError, ValueError):
                raise wrong from None
        got = _param_kind(value)
        if got is None or (kind == "integer" and got != "integer") or (kind == "list") != (got == "list"):
            raise wrong
        return value

    # ------------------------------------------------------------------ agents

    def _agents(self, stmts, start: Location) -> None:
        if not stmts:
            raise ModelError("no agents declared: write `agents i in 1..N`", start)
        if len(stmts) > 1:
            raise ModelError("agents are declared twice", stmts[1].loc)
        s = stmts[0]
        if isinstance(s, A.AgentsNamed):
            self.agent_numbers = list(range(1, len(s.names) + 1))
            self.b.agents(list(s.names), location=s.loc)
            for k, n in enumerate(s.names, start=1):
                self.globals[n].value = sympy.Integer(k)
            return
        values = self._iterable(self._eval(s.range, _Context({})), s.range.loc)
        numbers = [_integer(v, "an agent number", s.range.loc) for v in values]
        self.agent_var = s.var
        self.agent_numbers = numbers
        self.globals[s.var].value = None  # bound only where utility[i] binds it
        if numbers == list(range(1, len(numbers) + 1)):
            self.b.agents(len(numbers), location=s.loc)
        else:
            self.b.agents([str(n) for n in numbers], location=s.loc)

    def _agent_position(self, value, loc) -> int:
        number = _integer(value, "an agent", loc)
        if number not in self.agent_numbers:
            raise ModelError(f"index out of range: there is no agent {number} "
                             f"(agents are {_describe_indices(self.agent_numbers)})", loc)
        return self.agent_numbers.index(number)

    # ------------------------------------------------------------------ states and prior

    def _states(self, stmts, start: Location) -> None:
        if not stmts:
            raise ModelError("no state set declared: write e.g. `state v in grid(0, 1, 11)`", start)
        if len(stmts) > 1:
            raise ModelError("the state set is declared twice: declare one state set; for several coordinates "
                             "write `state (a, b) in product(A, B)` or `state v[1..N] in S^N`", stmts[1].loc)
        s = stmts[0]
        if s.kind == "indexed":
            indices = [_integer(v, "a state index", s.index_range.loc)
                       for v in self._iterable(self._eval(s.index_range, _Context({})), s.index_range.loc)]
            if not indices:
                raise ModelError("the state has no coordinates: its index range is empty", s.index_range.loc)
            names = [f"{s.names[0]}[{j}]" for j in indices]
        else:
            indices = list(range(1, len(s.names) + 1))
            names = list(s.names)
        self.state_indices = tuple(indices)
        value = self._eval(s.points, _Context({}, unit=tuple(indices)))
        elements = self._iterable(value, s.points.loc)
        points = [_point(e, s.points.loc) for e in elements]  # the builder checks their dimension
        symbols = self.b.states(names, points, location=s.loc)
        self.state_symbols = symbols
        self.state_points = list(self.b._points)
        self.state_labels = list(self.b._labels)
        if s.kind == "indexed":
            self.globals[s.names[0]].value = Family(tuple(symbols), tuple(indices), s.names[0])
        else:
            for n, sym in zip(s.names, symbols):
                self.globals[n].value = sym

    def _prior(self, stmts) -> None:
        if not stmts:
            return  # the builder reports a missing prior at the state declaration
        if len(stmts) > 1:
            raise ModelError("the prior is declared twice", stmts[1].loc)
        self._guard(lambda s: self._prior_spec(s.spec, s.loc), stmts[0])

    def _prior_spec(self, spec: A.PriorSpec, loc: Location) -> None:
        if spec.kind == "uniform":
            self.b.prior_uniform(location=loc)
        elif spec.kind == "set":
            raise ModelError("sets of priors (ambiguity) are not supported yet: no program of robustmech handles "
                             "them; declare a single prior", spec.loc)
        elif spec.kind == "density":
            ctx = _Context({}, no_outcome="`outcome` cannot be used in a prior")
            density = self._scalar(self._eval(spec.expr, ctx), spec.expr.loc, "a density")
            values = []
            for label, point in zip(self.state_labels, self.state_points):
                v = density.subs(dict(zip(self.state_symbols, point))) \
                    if density.free_symbols <= set(self.state_symbols) else None
                if v is None or not v.is_number or not v.is_real:
                    raise ModelError("a prior density may only use the state coordinates and parameters", spec.expr.loc)
                if v < 0:
                    raise ModelError(f"negative probability: the density is {v} at state {label}", spec.expr.loc)
                values.append(v)
            self.b.prior(_normalise(values, spec.expr.loc), location=loc)
        elif spec.kind == "independent":
            dims = len(self.state_symbols)
            marginals = list(spec.marginals)
            if len(marginals) == 1 and dims > 1:
                marginals = marginals * dims
            if len(marginals) != dims:
                raise ModelError(f"an independent prior needs one marginal per state coordinate ({dims}), "
                                 f"got {len(marginals)}", spec.loc)
            tables = []
            for c, m in enumerate(marginals):
                values = sorted({p[c] for p in self.state_points}, key=lambda x: float(x))
                if m is None:
                    tables.append({v: sympy.Rational(1, len(values)) for v in values})
                    continue
                table = self._eval(m, _Context({}))
                if not isinstance(table, TableValue):
                    raise ModelError("a marginal is written `uniform` or as a table {value: probability, ...}", m.loc)
                probs = {}
                for key, p, ploc in zip(table.keys, table.values, table.locs):
                    p = self._probability(p, ploc)
                    probs[self._scalar(key, ploc, "a coordinate value")] = p
                total = sum(probs.values(), sympy.Integer(0))
                if total != 1:
                    raise ModelError(f"the marginal of {self.state_symbols[c].name} sums to {total}, not 1", m.loc)
                tables.append(probs)
            self.b.prior_product(tables, location=loc)
        else:  # table: a list in state order, or {state: probability}
            value = self._eval(spec.expr, _Context({}))
            if isinstance(value, TableValue):
                mapping = {}
                for key, p, ploc in zip(value.keys, value.values, value.locs):
                    point = _point(key, ploc)
                    if point not in self.state_points:
                        raise ModelError(f"the prior names a state {_label(point)} that is not in the state set", ploc)
                    mapping[point] = self._probability(p, ploc, _label(point))
                self.b.prior(mapping, location=loc)
            elif isinstance(value, Family):
                items = spec.expr.items if isinstance(spec.expr, A.ListLit) else [spec.expr] * len(value.entries)
                probs = [self._probability(p, item.loc, label)
                         for p, item, label in zip(value.entries, items, self.state_labels)]
                if len(value.entries) != len(self.state_points):
                    raise ModelError(f"the prior has {len(value.entries)} entries for {len(self.state_points)} states",
                                     spec.expr.loc)
                self.b.prior(probs, location=loc)
            else:
                raise ModelError("a prior is `uniform`, a list of probabilities in state order, a table "
                                 "{state: probability, ...}, `independent ...` or `density EXPR`", spec.loc)

    def _probability(self, p, loc, label: str | None = None):
        p = self._scalar(p, loc, "a probability")
        if p.free_symbols:
            raise ModelError("a probability must be a number", loc)
        if p < 0:
            raise ModelError(f"negative probability {p}" + (f" for state {label}" if label else ""), loc)
        return p

    # ------------------------------------------------------------------ outcomes

    def _outcomes(self, finite: list, stmts) -> None:
        if finite:
            names = []
            for s in finite:
                for d in s.decls:
                    if d.var is None:
                        names.append(d.name)
                        self.globals[d.name].value = OutcomeValue(d.name)
                        continue
                    indices = [_integer(v, "an outcome index", d.range.loc)
                               for v in self._iterable(self._eval(d.range, _Context({})), d.range.loc)]
                    members = [f"{d.name}[{j}]" for j in indices]
                    names += members
                    self.globals[d.name].value = Family(tuple(OutcomeValue(m) for m in members), tuple(indices), d.name)
            self.outcome_names = names
            self.b.finite_outcomes(names, location=finite[0].loc)
        for s in stmts:
            if isinstance(s, A.AllocateStmt):
                self._guard(self._allocate, s)
            elif isinstance(s, A.TransferStmt):
                self._guard(self._transfer, s)
            elif isinstance(s, A.VariableStmt):
                self._guard(self._variable, s)

    def _family_size(self, index: A.IndexDecl, what: str) -> list[int]:
        if index.range is None:
            if index.var != self.agent_var:
                raise ModelError(f"unknown index '{index.var}': write {what}[{self.agent_var or 'i'}] for one per agent, "
                                 f"or {what}[{index.var} in 1..M]", index.loc)
            return list(self.agent_numbers)
        return [_integer(v, "an index", index.range.loc)
                for v in self._iterable(self._eval(index.range, _Context({})), index.range.loc)]

    def _allocate(self, s: A.AllocateStmt) -> None:
        indices = self._family_size(s.index, s.name)
        if indices != list(range(1, len(indices) + 1)):
            raise ModelError("the indices of an allocation run 1..n", s.index.loc)
        if s.lower is not None:
            lower = self._eval(s.lower, _Context({}))
            if s.lower_op != ">=" or not (isinstance(lower, sympy.Expr) and lower == 0):
                raise ModelError(f"an allocation is a probability: write `allocate {s.name}[...] >= 0`", s.lower.loc)
        total = None
        if s.total is not None:
            t = s.total
            if not (isinstance(t, A.Compare) and t.op == "<=" and isinstance(t.left, A.Call) and t.left.func == "sum"
                    and len(t.left.args) == 1 and isinstance(t.left.args[0], A.Name) and t.left.args[0].name == s.name):
                raise ModelError(f"expected `with sum({s.name}) <= TOTAL`", t.loc)
            total = self._scalar(self._eval(t.right, _Context({})), t.right.loc, "the total")
        syms = self.b.allocation(s.name, len(indices), total=total, location=s.loc)
        self._bind_variables(s.name, syms, indices)

    def _transfer(self, s: A.TransferStmt) -> None:
        indices = self._family_size(s.index, s.name)
        if indices != list(range(1, len(indices) + 1)):
            raise ModelError("the indices of a transfer run 1..n", s.index.loc)
        syms = self.b.transfer(s.name, len(indices), location=s.loc)
        self._bind_variables(s.name, syms, indices)

    def _variable(self, s: A.VariableStmt) -> None:
        if s.index is None:
            lo, hi = self._bounds(s, _Context({}))
            sym = self.b.variable(s.name, lo, hi, role="variable", location=s.loc)
            self.globals[s.name].value = sym
            self.variables.append(sym)
            return
        indices = self._family_size(s.index, s.name)
        syms = []
        for j in indices:
            lo, hi = self._bounds(s, _Context({s.index.var: sympy.Integer(j)}))
            syms.append(self.b.variable(f"{s.name}[{j}]", lo, hi, role="variable", location=s.loc))
        self._bind_variables(s.name, syms, indices)

    def _bounds(self, s: A.VariableStmt, ctx: _Context):
        if s.bound_kind is None:
            return None, None
        value = self._eval(s.bound, ctx)
        if s.bound_kind == "interval":
            if not isinstance(value, Family) or len(value.entries) != 2:
                raise ModelError("bounds are written `in [lo, hi]` (use -inf or inf for no bound)", s.bound.loc)
            lo, hi = (self._scalar(v, s.bound.loc, "a bound") for v in value.entries)
        elif s.bound_kind == ">=":
            lo, hi = self._scalar(value, s.bound.loc, "a bound"), sympy.oo
        elif s.bound_kind == "<=":
            lo, hi = -sympy.oo, self._scalar(value, s.bound.loc, "a bound")
        else:
            raise ModelError(f"a variable's bound is written `>= lo`, `<= hi` or `in [lo, hi]`, not `{s.bound_kind}`",
                             s.bound.loc)
        for b in (lo, hi):
            if b.free_symbols:
                raise ModelError("a bound must be a number", s.bound.loc)
        if lo != -sympy.oo and hi != sympy.oo and lo > hi:
            raise ModelError(f"the bounds are empty: {lo} > {hi}", s.bound.loc)
        return (None if lo == -sympy.oo else lo), (None if hi == sympy.oo else hi)

    def _bind_variables(self, name, syms, indices) -> None:
        self.globals[name].value = Family(tuple(syms), tuple(indices), name)
        self.variables += list(syms)

    def _constraint(self, s: A.ConstraintStmt) -> None:
        for ctx in self._expand(s.clauses, _Context({})):
            rel = self._eval(s.relation, ctx)
            if isinstance(rel, bool):
                rel = sympy.true if rel else sympy.false
            if isinstance(rel, sympy.Ne):
                raise ModelError("a constraint is written with <=, >= or ==, not !=", s.relation.loc)
            if not isinstance(rel, (sympy.core.relational.Relational, sympy.logic.boolalg.BooleanAtom)):
                raise ModelError("a constraint must compare two expressions with <=, >= or ==", s.relation.loc)
            if self.outcome_names is not None:
                raise ModelError("constraints restrict outcome variables; this model has a finite outcome set",
                                 s.loc)
            self.b.constraint(rel, location=s.loc)

    # ------------------------------------------------------------------ payoffs

    def _payoff(self, expr: A.Expr, locals_: dict, what: str, loc: Location):
        if self.outcome_names is not None:
            table = {}
            for name in self.outcome_names:
                value = self._eval(expr, _Context(dict(locals_), outcome=OutcomeValue(name)))
                table[name] = self._scalar(value, expr.loc, what)
            return table
        ctx = _Context(dict(locals_), no_outcome="`outcome` names an element of a finite outcome set; this model "
                       "has outcome variables instead: use them directly")
        value = self._scalar(self._eval(expr, ctx), expr.loc, what)
        if self.variables:
            try:
                sympy.Poly(sympy.expand(value), *self.variables)
            except sympy.PolynomialError:
                raise ModelError(f"{what} is not linear in the outcome variables ({value}); continuous outcomes "
                                 "need payoffs linear in them", loc) from None
        return value

    def _utility(self, s: A.UtilityStmt) -> None:
        if isinstance(s.agent, A.Name) and self.agent_var is not None and s.agent.name == self.agent_var:
            for pos, number in enumerate(self.agent_numbers):
                payoff = self._payoff(s.value, {self.agent_var: sympy.Integer(number)},
                                      f"the utility of agent {self.b._agents[pos]}", s.loc)
                self.b.utility(pos, payoff, location=s.loc)
            return
        pos = self._agent_position(self._eval(s.agent, _Context({})), s.agent.loc)
        payoff = self._payoff(s.value, {}, f"the utility of agent {self.b._agents[pos]}", s.loc)
        self.b.utility(pos, payoff, location=s.loc)

    def _designer(self, s: A.DesignerStmt) -> None:
        self.b.designer(self._payoff(s.value, {}, "the designer objective", s.loc), location=s.loc)

    # ------------------------------------------------------------------ mechanisms and information

    def _resolve_file(self, path: str, loc: Location) -> str:
        base = os.path.dirname(os.path.abspath(self.file)) if self.file not in ("<model>", "") else os.getcwd()
        full = path if os.path.isabs(path) else os.path.join(base, path)
        if not os.path.exists(full):
            raise ModelError(f"file not found: '{path}' (looked for {full})", loc)
        return full

    def _arrays(self, full: str, loc: Location) -> dict:
        """The arrays of an ``.npz`` file, or of a saved result (JSON + ``.npz`` beside it)."""
        try:
            if full.endswith(".json"):
                with open(full, encoding="utf-8") as fh:
                    meta = json.load(fh)
                if "arrays" not in meta:
                    raise ModelError(f"'{os.path.basename(full)}' is not a robustmech result with arrays", loc)
                full = os.path.join(os.path.dirname(full), meta["arrays"])
            with np.load(full, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            if "meta" in locals():
                arrays["_meta"] = meta
            return arrays
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot read '{os.path.basename(full)}': {exc}", loc) from None

    def _mechanism(self, s: A.MechanismStmt) -> None:
        """``mechanism M from "file.npz"``: arrays ``rule`` (shape |A_1| x ... x |A_N| x |Ω|)
        and optional ``actions_0``, ``actions_1``, ...; or a result saved by ``--out``."""
        full = self._resolve_file(s.path, s.loc)
        arrays = self._arrays(full, s.loc)
        rule = arrays.get("rule", arrays.get("mechanism_rule"))
        if rule is None:
            raise ModelError(f"'{s.path}' has no array 'rule' (the outcome at each action profile)", s.loc)
        n = len(self.agent_numbers)
        if rule.ndim != n + 1:
            raise ModelError(f"the rule in '{s.path}' has {rule.ndim - 1} action dimensions for {n} agents", s.loc)
        outcomes = tuple(self.outcome_names) if self.outcome_names is not None else tuple(v.name for v in self.variables)
        if rule.shape[-1] != len(outcomes):
            raise ModelError(f"the rule in '{s.path}' gives {rule.shape[-1]} outcome coordinates; the model has "
                             f"{len(outcomes)}", s.loc)
        actions = [arrays.get(f"actions_{i}", np.arange(rule.shape[i])) for i in range(n)]
        try:
            mech = Mechanism(tuple(actions), outcomes, rule, finite=self.outcome_names is not None, name=s.name,
                             metadata={"file": full})
        except ValueError as exc:
            raise ModelError(f"'{s.path}': {exc}", s.loc) from None
        if mech.finite and not mech.is_lottery(1e-7):
            raise ModelError(f"the rule in '{s.path}' is not a lottery over outcomes at every action profile", s.loc)
        self.b.mechanism(s.name, mech, location=s.loc)

    def _information(self, s: A.InformationStmt) -> None:
        n, labels = len(self.agent_numbers), tuple(self.state_labels)
        prior = np.array([float(p) for p in (self.b._prior or ())])
        if s.path is not None:
            full = self._resolve_file(s.path, s.loc)
            arrays = self._arrays(full, s.loc)
            joint = arrays.get("joint", arrays.get("information_joint"))
            if joint is None:
                raise ModelError(f"'{s.path}' has no array 'joint' (signal profiles and states)", s.loc)
            signals = [arrays.get(f"signals_{i}", np.arange(joint.shape[i]) if i < joint.ndim else None)
                       for i in range(n)]
            if joint.ndim != n + 1 or joint.shape[-1] != len(labels):
                raise ModelError(f"the joint distribution in '{s.path}' has shape {joint.shape}; expected one axis "
                                 f"per agent ({n}) and one for the {len(labels)} states", s.loc)
            if np.any(joint < -1e-12) or abs(joint.sum() - 1) > 1e-9:
                raise ModelError(f"the joint distribution in '{s.path}' is not a probability distribution", s.loc)
        else:
            signals_by_agent: dict[int, list] = {}
            for decl in s.signals:
                targets = list(range(n)) if (isinstance(decl.agent, A.Name) and decl.agent.name == self.agent_var) \
                    else [self._agent_position(self._eval(decl.agent, _Context({})), decl.agent.loc)]
                for pos in targets:
                    if pos in signals_by_agent:
                        raise ModelError(f"the signals of agent {self.b._agents[pos]} are declared twice", decl.loc)
                    ctx = _Context({self.agent_var: sympy.Integer(self.agent_numbers[pos])} if self.agent_var else {})
                    values = [self._scalar(v, decl.values.loc, "a signal")
                              for v in self._iterable(self._eval(decl.values, ctx), decl.values.loc)]
                    if not values:
                        raise ModelError("a signal set must not be empty", decl.values.loc)
                    signals_by_agent[pos] = values
            missing = [self.b._agents[p] for p in range(n) if p not in signals_by_agent]
            if missing:
                raise ModelError(f"information {s.name}: no signals for agent {missing[0]} "
                                 f"(write `signals[{self.agent_var or missing[0]}] = {{...}}`)", s.loc)
            signals = [signals_by_agent[p] for p in range(n)]
            exact = np.empty(tuple(len(x) for x in signals) + (len(labels),), dtype=object)
            exact.fill(sympy.Integer(0))
            if not s.joints:
                raise ModelError(f"information {s.name}: no joint distribution (write `joint {{ (s1, ..., state): p, ... }}`)",
                                 s.loc)
            for jexpr in s.joints:
                table = self._eval(jexpr, _Context({}))
                if not isinstance(table, TableValue):
                    raise ModelError("a joint distribution is a table { (s1, ..., sN, state): probability, ... }",
                                     jexpr.loc)
                for key, p, ploc in zip(table.keys, table.values, table.locs):
                    parts = key.entries if isinstance(key, Family) else (key,)
                    if len(parts) != n + 1:
                        raise ModelError(f"a joint entry is keyed (signal of each of the {n} agents, state), "
                                         f"got {len(parts)} items", ploc)
                    cell = []
                    for pos in range(n):
                        sig = self._scalar(parts[pos], ploc, "a signal")
                        if sig not in signals[pos]:
                            raise ModelError(f"signal {sig} is not among agent {self.b._agents[pos]}'s signals "
                                             f"{{{', '.join(map(str, signals[pos]))}}}", ploc)
                        cell.append(signals[pos].index(sig))
                    point = _point(parts[n], ploc)
                    if point not in self.state_points:
                        raise ModelError(f"the joint distribution names a state {_label(point)} that is not in the "
                                         "state set", ploc)
                    cell.append(self.state_points.index(point))
                    exact[tuple(cell)] += self._probability(p, ploc)
            total = sum(exact.flat, sympy.Integer(0))
            if total != 1:
                raise ModelError(f"information {s.name}: the joint distribution sums to {total}, not 1", s.loc)
            joint = np.array([float(x) for x in exact.flat]).reshape(exact.shape)
            signals = [np.array([float(v) for v in sig]) for sig in signals]
        marginal = joint.reshape(-1, joint.shape[-1]).sum(0)
        if prior.size and np.abs(marginal - prior).max() > 1e-9:
            worst = int(np.abs(marginal - prior).argmax())
            raise ModelError(f"information {s.name}: its marginal on the states is not the prior (state "
                             f"{labels[worst]} has probability {marginal[worst]:.6g}, the prior {prior[worst]:.6g})",
                             s.loc)
        info = InformationStructure(tuple(np.asarray(x) for x in signals), labels, joint, name=s.name,
                                    metadata={"file": s.path} if s.path else {})
        self.b.information(s.name, info, location=s.loc)

    # ------------------------------------------------------------------ directives

    def _directive(self, s: A.DirectiveStmt) -> None:
        options = {}
        for opt in s.options:
            if opt.name in options:
                raise ModelError(f"option {opt.name} is given twice", opt.loc)
            if isinstance(opt.value, A.Name) and opt.value.name not in self.globals:
                options[opt.name] = opt.value.name  # a bare word, e.g. solver = simplex
                continue
            options[opt.name] = _plain_option(self._eval(opt.value, _Context({})), opt.value.loc)
        if s.verb == "solve":
            self.b.directive(s.target, location=s.loc, **options)
        elif s.verb == "bounds":
            self.b.directive("bounds", location=s.loc, **options)
        else:
            binding = self.globals.get(s.target)
            if binding is None or binding.kind not in ("mechanism", "information structure"):
                raise ModelError(f"`evaluate` names a mechanism or an information structure declared in the model; "
                                 f"'{s.target}' is neither", s.loc)
            key = "mechanism" if binding.kind == "mechanism" else "information"
            self.b.directive("evaluate", location=s.loc, **{key: s.target}, **options)

    # ------------------------------------------------------------------ expressions

    def _expand(self, clauses, ctx: _Context, condition=None):
        """Every binding of the ``for`` clauses (nested, left to right), filtered by ``condition``."""
        if not clauses:
            if condition is None or self._truth(self._eval(condition, ctx), condition.loc):
                yield ctx
            return
        first, rest = clauses[0], clauses[1:]
        if first.var in self.globals and self.globals[first.var].kind not in ("agents' index",):
            raise ModelError(f"the index '{first.var}' hides the {self.globals[first.var].kind} of that name; "
                             "choose another index name", first.loc)
        for value in self._iterable(self._eval(first.iterable, ctx), first.iterable.loc):
            if isinstance(value, tuple):
                value = Family.of(value)
            inner = _Context({**ctx.locals, first.var: value}, ctx.outcome, ctx.no_outcome, ctx.unit)
            yield from self._expand(rest, inner, condition)

    def _truth(self, value, loc) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, sympy.logic.boolalg.BooleanAtom):
            return bool(value)
        raise ModelError("this condition must be decidable here (it depends on the state or the outcome)", loc)

    def _iterable(self, value, loc) -> tuple:
        if isinstance(value, SetValue):
            return value.elements
        if isinstance(value, Family):
            return value.entries
        raise ModelError(f"expected a set, a range a..b or a list, got {_show(value)}", loc)

    def _scalar(self, value, loc, what: str) -> sympy.Expr:
        if isinstance(value, sympy.Expr):
            if value.has(sympy.zoo, sympy.nan):
                raise ModelError(f"{what} is undefined here (division by zero)", loc)
            return value
        if isinstance(value, bool) or isinstance(value, sympy.logic.boolalg.Boolean):
            raise ModelError(f"{what} must be a number, got a condition: write [condition] for 1 if it holds, "
                             "0 if not", loc)
        if isinstance(value, OutcomeValue):
            raise ModelError(f"{what} must be a number, got the outcome {value.name}: write [outcome == "
                             f"{value.name}] for 1 at that outcome, 0 elsewhere", loc)
        raise ModelError(f"{what} must be a single number, got {_show(value)}", loc)

    def _eval(self, node: A.Expr, ctx: _Context):
        method = getattr(self, "_eval_" + type(node).__name__)
        return method(node, ctx)

    def _eval_Number(self, node: A.Number, ctx):
        return sympy.Rational(node.text)

    def _eval_String(self, node: A.String, ctx):
        return node.value

    def _eval_OutcomeRef(self, node, ctx):
        if ctx.outcome is None:
            raise ModelError(ctx.no_outcome, node.loc)
        return ctx.outcome

    def _eval_Name(self, node: A.Name, ctx):
        name = node.name
        if name in ctx.locals:
            return ctx.locals[name]
        if name == "inf":
            return sympy.oo
        binding = self.globals.get(name)
        if binding is None:
            candidates = list(ctx.locals) + list(self.globals)
            close = difflib.get_close_matches(name, candidates, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            if name in FUNCTIONS:
                hint = f"; {name} is a function: write {name}(...)"
            raise ModelError(f"unknown name '{name}'{hint}", node.loc)
        if binding.kind == "agents' index":
            raise ModelError(f"the agents' index '{name}' has a value only inside `utility[{name}] = ...`; "
                             f"elsewhere sum over agents, e.g. sum(... for j in 1..N)", node.loc)
        if binding.value is _PENDING:
            raise ModelError(f"'{name}' ({binding.kind}, line {binding.loc.line}) cannot be used here: it has no "
                             "value yet at this point of the model", node.loc)
        if binding.kind in ("mechanism", "information structure"):
            raise ModelError(f"'{name}' is {_article(binding.kind)}, not a number", node.loc)
        value = binding.value
        if isinstance(value, LetFunction):
            if value.stmt.params:
                return value
            return self._let(value.stmt, (), ctx, node.loc)
        return value

    def _let(self, stmt: A.LetStmt, args: tuple, ctx: _Context, loc: Location):
        if stmt.name in self.evaluating:
            raise ModelError(f"the definition of '{stmt.name}' refers to itself", loc)
        if len(args) != len(stmt.params):
            raise ModelError(f"'{stmt.name}' takes {len(stmt.params)} index(es), got {len(args)}", loc)
        self.evaluating.append(stmt.name)
        try:
            inner = _Context(dict(zip(stmt.params, args)), ctx.outcome, ctx.no_outcome, ctx.unit)
            return self._eval(stmt.value, inner)
        finally:
            self.evaluating.pop()

    def _eval_Index(self, node: A.Index, ctx):
        base = self._eval(node.base, ctx)
        args = [self._eval(i, ctx) for i in node.indices]
        if isinstance(base, LetFunction):
            return self._let(base.stmt, tuple(args), ctx, node.loc)
        if not isinstance(base, Family):
            raise ModelError(f"{_show(base)} has no indices", node.base.loc)
        if len(args) != 1:
            raise ModelError(f"{base.name} takes one index, got {len(args)}", node.loc)
        j = _integer(args[0], "an index", node.indices[0].loc)
        if j not in base.indices:
            raise ModelError(f"index out of range: {base.name}[{j}] does not exist (its indices are "
                             f"{_describe_indices(base.indices)})", node.indices[0].loc)
        return base.entries[base.indices.index(j)]

    def _eval_Call(self, node: A.Call, ctx):
        f = node.func
        if f not in FUNCTIONS:
            close = difflib.get_close_matches(f, FUNCTIONS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (functions: {', '.join(FUNCTIONS)})"
            raise ModelError(f"unknown function '{f}'{hint}", node.loc)
        if node.generator is not None:
            g = node.generator
            values = [self._eval(g.expr, c) for c in self._expand(g.clauses, ctx, g.condition)]
        else:
            values = [self._eval(a, ctx) for a in node.args]
            if f in ("sum", "min", "max", "count") and len(values) == 1 and isinstance(values[0], (Family, SetValue)):
                values = list(self._iterable(values[0], node.args[0].loc))
                values = [Family.of(v) if isinstance(v, tuple) else v for v in values]
        if f == "count":
            return sympy.Integer(len(values))
        if f == "sum":
            total = sympy.Integer(0)
            for v in values:
                total = self._arith("+", total, v, node.loc)
            return total
        if f in ("min", "max"):
            if not values:
                raise ModelError(f"{f} of nothing", node.loc)
            scalars = [self._scalar(v, node.loc, f"an argument of {f}") for v in values]
            return (sympy.Min if f == "min" else sympy.Max)(*scalars)
        if f in ("abs", "sqrt", "exp", "log"):
            if len(values) != 1:
                raise ModelError(f"{f} takes one argument", node.loc)
            x = self._scalar(values[0], node.loc, f"the argument of {f}")
            return {"abs": sympy.Abs, "sqrt": sympy.sqrt, "exp": sympy.exp, "log": sympy.log}[f](x)
        if f == "unit":
            if len(values) != 1:
                raise ModelError("unit(j) takes one index", node.loc)
            indices = ctx.unit or self.state_indices
            if not indices:
                raise ModelError("unit(j) is the j-th unit vector of the state: declare the state with indexed "
                                 "coordinates first, e.g. `state theta[1..N] in {...}`", node.loc)
            j = _integer(values[0], "an index", node.loc)
            if j not in indices:
                raise ModelError(f"index out of range: unit({j}) for a state with coordinates "
                                 f"{_describe_indices(indices)}", node.loc)
            return Family(tuple(sympy.Integer(1 if k == j else 0) for k in indices), tuple(indices), "unit vector")
        if f == "grid":
            if len(values) != 3:
                raise ModelError("grid(lo, hi, n) takes three arguments: n evenly spaced points from lo to hi", node.loc)
            lo, hi = (self._scalar(v, node.loc, "a grid end") for v in values[:2])
            n = _integer(values[2], "the number of grid points", node.args[2].loc)
            if n < 1 or (n == 1 and lo != hi):
                raise ModelError(f"grid({lo}, {hi}, n) needs n >= 2 points, got {n}", node.args[2].loc)
            if n == 1:
                return SetValue((lo,))
            return SetValue(tuple(lo + (hi - lo) * sympy.Rational(m, n - 1) for m in range(n)))
        if f == "product":
            sets = [self._iterable(v, node.loc) for v in values]
            return SetValue(tuple(sum((_flat(e) for e in combo), ()) for combo in itertools.product(*sets)))
        raise AssertionError(f)  # pragma: no cover

    def _eval_BinOp(self, node: A.BinOp, ctx):
        left = self._eval(node.left, ctx)
        right = self._eval(node.right, ctx)
        if node.op == "^" and isinstance(left, (SetValue,)):
            n = _integer(right, "a power of a set", node.right.loc)
            if n < 1:
                raise ModelError("a set power S^n needs n >= 1", node.right.loc)
            return SetValue(tuple(sum((_flat(e) for e in combo), ()) for combo in itertools.product(left.elements, repeat=n)))
        return self._arith(node.op, left, right, node.loc)

    def _arith(self, op, a, b, loc):
        if isinstance(a, Family) and isinstance(b, Family):
            if op not in "+-" or len(a.entries) != len(b.entries):
                raise ModelError(f"cannot apply {op} to two lists" + (" of different lengths" if op in "+-" else ""), loc)
            return Family(tuple(self._arith(op, x, y, loc) for x, y in zip(a.entries, b.entries)), a.indices, a.name)
        if isinstance(a, Family):
            return Family(tuple(self._arith(op, x, b, loc) for x in a.entries), a.indices, a.name)
        if isinstance(b, Family):
            if op not in "+*":
                raise ModelError(f"cannot apply {op} with a list on the right", loc)
            return Family(tuple(self._arith(op, a, y, loc) for y in b.entries), b.indices, b.name)
        x = self._scalar(a, loc, "an operand")
        y = self._scalar(b, loc, "an operand")
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "/":
            if y == 0:
                raise ModelError("division by zero", loc)
            return x / y
        result = x ** y
        if result.has(sympy.zoo, sympy.nan):
            raise ModelError("undefined power (0 to a negative power)", loc)
        return result

    def _eval_Neg(self, node: A.Neg, ctx):
        return self._arith("*", sympy.Integer(-1), self._eval(node.operand, ctx), node.loc)

    def _eval_Compare(self, node: A.Compare, ctx):
        a = self._eval(node.left, ctx)
        b = self._eval(node.right, ctx)
        if node.op == "in":
            members = self._iterable(b, node.right.loc)
            return any(self._equal(a, m, node.loc) is True for m in members)
        if isinstance(a, OutcomeValue) or isinstance(b, OutcomeValue):
            if not (isinstance(a, OutcomeValue) and isinstance(b, OutcomeValue)):
                other = b if isinstance(a, OutcomeValue) else a
                raise ModelError(f"cannot compare an outcome with {_show(other)}", node.loc)
            if node.op not in ("==", "!="):
                raise ModelError("outcomes are compared with == or !=", node.loc)
            return (a.name == b.name) == (node.op == "==")
        if isinstance(a, Family) or isinstance(b, Family):
            if node.op not in ("==", "!="):
                raise ModelError("lists are compared with == or !=", node.loc)
            return (self._equal(a, b, node.loc) is True) == (node.op == "==")
        x = self._scalar(a, node.left.loc, "a compared value")
        y = self._scalar(b, node.right.loc, "a compared value")
        rel = {"==": sympy.Eq, "!=": sympy.Ne, "<=": sympy.Le, ">=": sympy.Ge, "<": sympy.Lt, ">": sympy.Gt}[node.op]
        result = rel(x, y)
        if isinstance(result, sympy.logic.boolalg.BooleanAtom):
            return bool(result)
        return result

    def _equal(self, a, b, loc):
        if isinstance(a, Family) and isinstance(b, Family):
            return len(a.entries) == len(b.entries) and all(self._equal(x, y, loc) is True for x, y in zip(a.entries, b.entries))
        if isinstance(a, tuple) or isinstance(b, tuple):
            a = Family.of(a) if isinstance(a, tuple) else a
            b = Family.of(b) if isinstance(b, tuple) else b
            return self._equal(a, b, loc)
        if isinstance(a, OutcomeValue) or isinstance(b, OutcomeValue):
            return a == b
        if isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr):
            if a == b:
                return True
            if isinstance(a, sympy.Rational) and isinstance(b, sympy.Rational):
                return False
            if a.is_number and b.is_number:
                return bool(abs(sympy.N(a - b, 30)) < sympy.Float("1e-25"))
            return False
        return False

    def _eval_BoolOp(self, node: A.BoolOp, ctx):
        a = self._condition(self._eval(node.left, ctx), node.left.loc)
        b = self._condition(self._eval(node.right, ctx), node.right.loc)
        if isinstance(a, bool) and isinstance(b, bool):
            return (a and b) if node.op == "and" else (a or b)
        result = (sympy.And if node.op == "and" else sympy.Or)(a, b)
        return bool(result) if isinstance(result, sympy.logic.boolalg.BooleanAtom) else result

    def _eval_Not(self, node: A.Not, ctx):
        a = self._condition(self._eval(node.operand, ctx), node.operand.loc)
        return (not a) if isinstance(a, bool) else sympy.Not(a)

    def _condition(self, value, loc):
        if isinstance(value, (bool, sympy.logic.boolalg.Boolean)) and not isinstance(value, sympy.Expr):
            return value
        raise ModelError(f"expected a condition (a comparison), got {_show(value)}", loc)

    def _eval_Range(self, node: A.Range, ctx):
        lo = _integer(self._eval(node.lo, ctx), "the start of a range", node.lo.loc)
        hi = _integer(self._eval(node.hi, ctx), "the end of a range", node.hi.loc)
        return SetValue(tuple(sympy.Integer(v) for v in range(lo, hi + 1)))

    def _eval_Bracket(self, node: A.Bracket, ctx):
        value = self._eval(node.expr, ctx)
        if isinstance(value, bool):
            return sympy.Integer(1 if value else 0)
        if isinstance(value, sympy.logic.boolalg.Boolean) and not isinstance(value, sympy.Expr):
            return sympy.Piecewise((sympy.Integer(1), value), (sympy.Integer(0), True))
        return Family.of([value])

    def _eval_ListLit(self, node: A.ListLit, ctx):
        return Family.of([self._eval(i, ctx) for i in node.items])

    def _eval_TupleLit(self, node: A.TupleLit, ctx):
        return Family.of([self._eval(i, ctx) for i in node.items], "this tuple")

    def _eval_SetLit(self, node: A.SetLit, ctx):
        return SetValue(_unique(_element(self._eval(i, ctx)) for i in node.items))

    def _eval_SetComp(self, node: A.SetComp, ctx):
        g = node.generator
        return SetValue(_unique(_element(self._eval(g.expr, c)) for c in self._expand(g.clauses, ctx, g.condition)))

    def _eval_TableLit(self, node: A.TableLit, ctx):
        keys, values, locs = [], [], []
        seen = set()
        for e in node.entries:
            key = self._eval(e.key, ctx)
            if _element(key) in seen:
                raise ModelError(f"duplicate entry {_show(key)} in this table", e.key.loc)
            seen.add(_element(key))
            keys.append(key)
            values.append(self._eval(e.value, ctx))
            locs.append(e.value.loc)
        return TableValue(tuple(keys), tuple(values), tuple(locs))

    def _eval_TableComp(self, node: A.TableComp, ctx):
        keys, values, locs = [], [], []
        for c in self._expand(node.clauses, ctx, node.condition):
            keys.append(self._eval(node.entry.key, c))
            values.append(self._eval(node.entry.value, c))
            locs.append(node.entry.value.loc)
        return TableValue(tuple(keys), tuple(values), tuple(locs))


# ---------------------------------------------------------------- helpers


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0] or "model"


def _article(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _integer(value, what: str, loc) -> int:
    if isinstance(value, sympy.Expr) and value.is_number and value.is_integer:
        return int(value)
    raise ModelError(f"{what} must be a whole number, got {_show(value)}", loc)


def _exact(x) -> sympy.Expr:
    if isinstance(x, bool):
        raise TypeError(x)
    if isinstance(x, float):
        return sympy.Rational(repr(x))
    value = sympy.sympify(x)
    if not isinstance(value, sympy.Expr) or not value.is_number:
        raise ValueError(x)
    return value


def _param_kind(value) -> str | None:
    if isinstance(value, sympy.Expr) and value.is_number and value.is_real:
        return "integer" if value.is_integer else "number"
    if isinstance(value, Family) and all(isinstance(v, sympy.Expr) and v.is_number for v in value.entries):
        return "list"
    return None


def _written_as_real(node: A.Expr) -> bool:
    """True for a default written with a decimal point or exponent (``3.0``, ``-1e0``)."""
    if isinstance(node, A.Neg):
        return _written_as_real(node.operand)
    return isinstance(node, A.Number) and any(c in node.text for c in ".eE")


def _python(value):
    """A parameter value for ``Environment.params``: int, exact SymPy number, or list."""
    if isinstance(value, Family):
        return [_python(v) for v in value.entries]
    if isinstance(value, sympy.Integer):
        return int(value)
    return value


def _plain_option(value, loc):
    if isinstance(value, SetValue):
        return [_plain_option(v, loc) for v in value.elements]
    if isinstance(value, Family):
        return [_plain_option(v, loc) for v in value.entries]
    if isinstance(value, str):
        return value
    if isinstance(value, sympy.Expr) and value.is_number:
        return int(value) if value.is_integer else float(value)
    raise ModelError(f"an option must be a number, a range, a list or a word, got {_show(value)}", loc)


def _flat(e) -> tuple:
    return tuple(e) if isinstance(e, tuple) else (e,)


def _element(value):
    """A set element: numbers stay numbers, lists and tuples become tuples."""
    if isinstance(value, Family):
        return tuple(_element(v) for v in value.entries)
    return value


def _unique(items) -> tuple:
    """Items in first-seen order without repeats (exact values hash equal)."""
    return tuple(dict.fromkeys(items))


def _normalise(values: list, loc) -> list:
    """μ(θ) = f(θ) / Σ f over the points: exact for rational weights; otherwise the
    weights are normalised in double precision and stored as decimals that sum to
    exactly 1 (the last positive weight takes the rounding)."""
    if all(isinstance(v, sympy.Rational) for v in values):
        total = sum(values, sympy.Integer(0))
        if total == 0:
            raise ModelError("the density is 0 at every state: it cannot be normalised", loc)
        return [v / total for v in values]
    weights = np.array([float(v) for v in values])
    if not np.all(np.isfinite(weights)):
        raise ModelError("the density is not finite at every state", loc)
    if weights.sum() <= 0:
        raise ModelError("the density is 0 at every state: it cannot be normalised", loc)
    weights = weights / weights.sum()
    probs = [sympy.Rational(repr(float(w))) for w in weights]
    last = max(k for k, w in enumerate(weights) if w > 0)
    probs[last] = 1 - sum((p for k, p in enumerate(probs) if k != last), sympy.Integer(0))
    if probs[last] < 0:  # pragma: no cover - rounding cannot be this large
        raise ModelError("the density cannot be normalised in floating point", loc)
    return probs


def _point(value, loc) -> tuple:
    """A state point as a flat tuple of exact numbers."""
    if isinstance(value, Family):
        value = _element(value)
    coords = value if isinstance(value, tuple) else (value,)
    out = []
    for c in coords:
        if isinstance(c, tuple):
            raise ModelError("a state is a number or a tuple of numbers, not a nested tuple", loc)
        if not (isinstance(c, sympy.Expr) and c.is_number and c.is_real):
            raise ModelError(f"a state coordinate must be a number, got {_show(c)}", loc)
        out.append(c)
    return tuple(out)


def _label(point: tuple) -> str:
    return "(" + ", ".join(str(c) for c in point) + ")" if len(point) != 1 else str(point[0])


def _describe_indices(indices) -> str:
    indices = list(indices)
    if not indices:
        return "none"
    if indices == list(range(indices[0], indices[0] + len(indices))) and len(indices) > 2:
        return f"{indices[0]}..{indices[-1]}"
    return ", ".join(str(i) for i in indices)


def _show(value) -> str:
    if isinstance(value, Family):
        return f"a list ({', '.join(_show(v) for v in value.entries[:4])}{', ...' if len(value.entries) > 4 else ''})"
    if isinstance(value, SetValue):
        return f"a set of {len(value.elements)} elements"
    if isinstance(value, TableValue):
        return "a table"
    if isinstance(value, OutcomeValue):
        return f"the outcome {value.name}"
    if isinstance(value, LetFunction):
        return f"the indexed definition '{value.stmt.name}'"
    if isinstance(value, bool) or (isinstance(value, sympy.logic.boolalg.Boolean) and not isinstance(value, sympy.Expr)):
        return "a condition"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return str(value)
