"""The statements every model file has, Bayesian (004) or prior-free (000).

``model``, ``param``, ``agents``, ``let``, the bounds of outcome variables, ``constraint``,
``utility`` and ``designer`` mean the same in both kinds of model. :class:`CommonStatements`
holds what a model file's elaboration shares (the builder, the names, the evaluator, the
agents, the outcome variables) and elaborates these statements; each elaborator composes
one and adds its own statements and its own payoffs (a per-outcome table, or a lottery's
expectation) through the ``payoff`` function it passes in.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import sympy

from ..dsl import ast as A
from ..errors import Location, ModelError
from .evaluate import Evaluator
from .scope import Context, Scope, parameter_values, python_value
from .values import Family, LetFunction, describe_indices, guarded, whole_number

#: ``payoff(expression, local names, what it is, where)``: the value a builder takes
Payoff = Callable[[A.Expr, dict, str, Location], Any]


class CommonStatements:
    """The shared part of elaborating one model file.

    Made at the start of an elaboration: the ``model`` line names the builder (of
    ``builder_class``) that every statement declares into."""

    def __init__(self, ast: A.ModelAST, overrides: Mapping[str, Any], source: str | None, builder_class):
        self.ast = ast
        self.file = ast.filename
        self.overrides = dict(overrides)
        self.scope = Scope()
        self.evaluator = Evaluator(self.scope)
        self.evaluate = self.evaluator.evaluate
        self.number = self.evaluator.number
        self.elements = self.evaluator.elements
        self.agent_var: str | None = None
        self.agent_numbers: list[int] = []
        #: `agents seller, buyer` (the agents' index, if any, is a new name used per agent)
        self.named_agents = False
        self.variables: list[sympy.Symbol] = []
        models = [s for s in ast.statements if isinstance(s, A.ModelStmt)]
        if len(models) > 1:
            raise ModelError("the model is named twice (one `model NAME \"title\"` per file)", models[1].loc)
        #: where errors about a missing part of the model point
        self.start = models[0].loc if models else Location(self.file, 1, 1)
        name = models[0].name if models else _stem(self.file)
        title = models[0].title if models else ""
        path = self.file if self.file != "<model>" else None
        self.builder = builder_class(name, title, path=path, source=source)

    def guard(self, method, stmt, *args):
        """Run ``method(stmt, *args)``; a failure of the arithmetic underneath becomes a
        ModelError at the statement (never a traceback)."""
        if isinstance(stmt, A.Node):
            loc = stmt.loc
        else:
            loc = stmt[0].loc if stmt else Location(self.file)
        return guarded(lambda: method(stmt, *args), loc)

    # ------------------------------------------------------------------ parameters, agents, definitions

    def declare_params_agents_lets(self, stmts) -> None:
        """What every model declares after its names, in this order: parameters, agents, lets."""
        params = [s for s in stmts if isinstance(s, A.ParamStmt)]
        for p, value in parameter_values(params, self.overrides, self.evaluate, self.file):
            self.scope.bind(p.name, value)
            self.builder.param(p.name, python_value(value), location=p.name_loc)
        self.guard(self._agents, [s for s in stmts if isinstance(s, (A.AgentsRange, A.AgentsNamed))])
        for s in stmts:
            if isinstance(s, A.LetStmt):
                self.scope.bind(s.name, LetFunction(s))

    def _agents(self, stmts) -> None:
        if not stmts:
            raise ModelError("no agents declared: write `agents i in 1..N`", self.start)
        if len(stmts) > 1:
            raise ModelError("agents are declared twice", stmts[1].loc)
        s = stmts[0]
        if isinstance(s, A.AgentsNamed):
            self.agent_numbers = list(range(1, len(s.names) + 1))
            self.named_agents = True
            self.builder.agents(list(s.names), location=s.loc)
            for k, n in enumerate(s.names, start=1):
                self.scope.bind(n, sympy.Integer(k))
            self._implicit_agents_index(s)
            return
        values = self.elements(self.evaluate(s.range), s.range.loc)
        numbers = [whole_number(v, "an agent number", s.range.loc) for v in values]
        self.agent_var = s.var
        self.agent_numbers = numbers
        self.scope.bind(s.var, None)  # bound only where utility[i] binds it
        if numbers == list(range(1, len(numbers) + 1)):
            self.builder.agents(len(numbers), location=s.loc)
        else:
            self.builder.agents([str(n) for n in numbers], location=s.loc)

    def _implicit_agents_index(self, agents: A.AgentsNamed) -> None:
        """With named agents, a new name where one per agent is declared (``allocate
        q[i]``, ``transfer t[i]``, ``variable e[i]``, ``utility[i]``, ``types theta[i]``,
        ``signals[i]``) is the agents' index, ranging over the named agents. One name
        serves the whole file; a second new name there is an error (a misspelt agent,
        when it is close to an agent's name)."""
        uses: list[tuple[str, Location]] = []
        for s in self.ast.statements:
            if isinstance(s, (A.AllocateStmt, A.TransferStmt, A.VariableStmt)):
                if s.index is not None and s.index.range is None:
                    uses.append((s.index.var, s.index.loc))
            elif isinstance(s, A.UtilityStmt) and isinstance(s.agent, A.Name):
                uses.append((s.agent.name, s.agent.loc))
            elif isinstance(s, A.TypesStmt):
                uses.append((s.var, s.var_loc))
            elif isinstance(s, A.InformationStmt):
                uses += [(d.agent.name, d.agent.loc) for d in s.signals if isinstance(d.agent, A.Name)]
        index: str | None = None
        for name, loc in uses:
            if name in self.scope or name == index:
                continue
            close = difflib.get_close_matches(name, agents.names, n=1, cutoff=0.75)
            if close:
                raise ModelError(f"unknown agent '{name}'; did you mean '{close[0]}'? (the agents are "
                                 f"{', '.join(agents.names)})", loc)
            if index is not None:
                raise ModelError(f"unknown agent '{name}' (the agents are {', '.join(agents.names)}); the agents' "
                                 f"index of this file is '{index}': write [{index}] for one per agent", loc)
            index = name
            self.scope.claim(name, "agents' index", loc)
            self.scope.bind(name, None)
            self.agent_var = name

    def agent_position(self, value, loc) -> int:
        """The position (0-based) of the agent numbered ``value``."""
        number = whole_number(value, "an agent", loc)
        if number not in self.agent_numbers:
            raise ModelError(f"index out of range: there is no agent {number} "
                             f"(agents are {describe_indices(self.agent_numbers)})", loc)
        return self.agent_numbers.index(number)

    def agent_name(self, position: int) -> str:
        return self.builder._agents[position]

    # ------------------------------------------------------------------ outcome variables and constraints

    def allocation_lower(self, s: A.AllocateStmt) -> None:
        """Refuse a lower bound of an allocation other than ``>= 0``."""
        if s.lower is not None:
            lower = self.evaluate(s.lower)
            if s.lower_op != ">=" or not (isinstance(lower, sympy.Expr) and lower == 0):
                brackets = f"[{', '.join(d.var for d in s.indices)}]" if s.indices else ""
                raise ModelError(f"an allocation is a probability: write `allocate {s.name}{brackets} >= 0`",
                                 s.lower.loc)

    def is_simple_total(self, s: A.AllocateStmt) -> bool:
        """True for ``with sum(Q) <= TOTAL`` (no ``for`` clauses)."""
        t = s.total
        return (isinstance(t, A.Compare) and t.op == "<=" and isinstance(t.left, A.Call) and t.left.func == "sum"
                and len(t.left.args) == 1 and isinstance(t.left.args[0], A.Name) and t.left.args[0].name == s.name
                and not s.total_clauses)

    def allocation_with(self, s: A.AllocateStmt, syms) -> Iterator[sympy.Basic]:
        """The relations of the ``with`` part of an allocation (a constraint family, as
        ``constraint``), each on the allocation's own variables only."""
        if s.total is None:
            return
        own = set(syms)
        for ctx in self.evaluator.expand(s.total_clauses, Context({})):
            rel = self.evaluate(s.total, ctx)
            if isinstance(rel, bool):
                rel = sympy.true if rel else sympy.false
            if isinstance(rel, sympy.Ne) or not isinstance(rel, (sympy.core.relational.Relational,
                                                                  sympy.logic.boolalg.BooleanAtom)):
                raise ModelError(f"the `with` part of an allocation is a constraint on it with <=, >= or ==, e.g. "
                                 f"`with sum({s.name}) <= 1`", s.total.loc)
            others = sorted(v.name for v in rel.free_symbols - own if v in set(self.variables))
            if others:
                raise ModelError(f"the `with` part of allocate {s.name} constrains {s.name} only; it involves "
                                 f"{others[0]}: write a `constraint` statement for that", s.total.loc)
            yield rel

    def allocation_total(self, s: A.AllocateStmt):
        """The ``with sum(Q) <= TOTAL`` of an allocation (None without one), after
        checking that its lower bound is 0."""
        self.allocation_lower(s)
        if s.total is None:
            return None
        t = s.total
        if not (isinstance(t, A.Compare) and t.op == "<=" and isinstance(t.left, A.Call) and t.left.func == "sum"
                and len(t.left.args) == 1 and isinstance(t.left.args[0], A.Name) and t.left.args[0].name == s.name):
            raise ModelError(f"expected `with sum({s.name}) <= TOTAL`", t.loc)
        return self.number(self.evaluate(t.right), t.right.loc, "the total")

    def variable_bounds(self, s: A.VariableStmt, ctx: Context | None = None):
        """``(lo, hi)`` of a ``variable`` statement, None where unbounded."""
        if s.bound_kind is None:
            return None, None
        bound = s.bound
        assert bound is not None  # the parser sets a bound with its kind
        value = self.evaluate(bound, ctx)
        if s.bound_kind == "interval":
            if not isinstance(value, Family) or len(value.entries) != 2:
                raise ModelError("bounds are written `in [lo, hi]` (use -inf or inf for no bound)", bound.loc)
            lo, hi = (self.number(v, bound.loc, "a bound") for v in value.entries)
        elif s.bound_kind == ">=":
            lo, hi = self.number(value, bound.loc, "a bound"), sympy.oo
        elif s.bound_kind == "<=":
            lo, hi = -sympy.oo, self.number(value, bound.loc, "a bound")
        else:
            raise ModelError(f"a variable's bound is written `>= lo`, `<= hi` or `in [lo, hi]`, not `{s.bound_kind}`",
                             bound.loc)
        for b in (lo, hi):
            if b.free_symbols:
                raise ModelError("a bound must be a number", bound.loc)
        if lo != -sympy.oo and hi != sympy.oo and lo > hi:
            raise ModelError(f"the bounds are empty: {lo} > {hi}", bound.loc)
        return (None if lo == -sympy.oo else lo), (None if hi == sympy.oo else hi)

    def bind_variables(self, name: str, syms, indices) -> None:
        """Bind the family ``name`` to its outcome variables."""
        self.scope.bind(name, Family(tuple(syms), tuple(indices), name))
        self.variables += list(syms)

    def bind_variable(self, name: str, sym: sympy.Symbol) -> None:
        self.scope.bind(name, sym)
        self.variables.append(sym)

    def constraint_relations(self, s: A.ConstraintStmt) -> Iterator[sympy.Basic]:
        """The relation of a ``constraint`` statement at each binding of its ``for`` clauses."""
        for ctx in self.evaluator.expand(s.clauses, Context({})):
            rel = self.evaluate(s.relation, ctx)
            if isinstance(rel, bool):
                rel = sympy.true if rel else sympy.false
            if isinstance(rel, sympy.Ne):
                raise ModelError("a constraint is written with <=, >= or ==, not !=", s.relation.loc)
            if not isinstance(rel, (sympy.core.relational.Relational, sympy.logic.boolalg.BooleanAtom)):
                raise ModelError("a constraint must compare two expressions with <=, >= or ==", s.relation.loc)
            yield rel

    # ------------------------------------------------------------------ payoffs

    def declare_utilities(self, stmts, payoff: Payoff) -> None:
        """Every `utility[i] = ...` statement, then refuse an agent left without one."""
        utilities = [s for s in stmts if isinstance(s, A.UtilityStmt)]
        for s in utilities:
            self.guard(self._utility, s, payoff)
        missing = [self.agent_name(i) for i in range(len(self.agent_numbers))
                   if ("utility", i) not in self.builder.locations]
        if missing:
            where = utilities[-1].loc if utilities else self.start
            index = self.agent_var or missing[0]
            raise ModelError(f"no utility for agent {missing[0]}: write `utility[{index}] = ...`", where)

    def _utility(self, s: A.UtilityStmt, payoff: Payoff) -> None:
        if isinstance(s.agent, A.Name) and self.agent_var is not None and s.agent.name == self.agent_var:
            for pos, number in enumerate(self.agent_numbers):
                value = payoff(s.value, {self.agent_var: sympy.Integer(number)},
                               f"the utility of agent {self.agent_name(pos)}", s.loc)
                self.builder.utility(pos, value, location=s.loc)
            return
        pos = self.agent_position(self.evaluate(s.agent), s.agent.loc)
        value = payoff(s.value, {}, f"the utility of agent {self.agent_name(pos)}", s.loc)
        self.builder.utility(pos, value, location=s.loc)

    def declare_designer(self, stmts, payoff: Payoff, missing: str) -> None:
        """The `designer = ...` statement; ``missing`` is the error without one."""
        designers = [s for s in stmts if isinstance(s, A.DesignerStmt)]
        if not designers:
            raise ModelError(missing, self.start)
        for s in designers:
            self.guard(lambda st: self.builder.designer(payoff(st.value, {}, "the designer objective", st.loc),
                                                        location=st.loc), s)


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0] or "model"


def note_overrides(exc: ModelError, ast: A.ModelAST, overrides: Mapping[str, Any]) -> ModelError:
    """``exc`` with the ``--param`` overrides it comes from named: those the failing
    statement uses, directly or through parameters and definitions (``negative
    probability -1/2`` says that ``--param p=1.5`` made it). ``exc`` itself otherwise."""
    from ..errors import ParameterError

    if not overrides or isinstance(exc, ParameterError) or exc.location is None or exc.location.line <= 0:
        return exc
    where = (exc.location.line, exc.location.column)
    starts = [s for s in ast.statements if (s.loc.line, s.loc.column) <= where]
    if not starts:
        return exc
    statement = max(starts, key=lambda s: (s.loc.line, s.loc.column))
    definitions = {s.name: s.value for s in ast.statements if isinstance(s, (A.ParamStmt, A.LetStmt))}
    used: list[str] = []
    todo: list[A.Node] = [statement]
    seen: set[str] = set()
    while todo:  # the names the statement uses, through parameters and definitions
        node = todo.pop()
        if isinstance(node, A.Name):
            if node.name in overrides and node.name not in used:
                used.append(node.name)
            if node.name in definitions and node.name not in seen:
                seen.add(node.name)
                todo.append(definitions[node.name])
        for value in vars(node).values():
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, A.Node):
                    todo.append(item)
    if isinstance(statement, A.ParamStmt) and statement.name in overrides and statement.name not in used:
        used.insert(0, statement.name)
    if not used:
        return exc
    given = ", ".join(f"--param {name}={overrides[name]}" for name in sorted(used))
    declared = {s.name: s.name_loc.line for s in ast.statements if isinstance(s, A.ParamStmt)}
    names = ", ".join(f"{name} (line {declared[name]})" if name in declared else name for name in sorted(used))
    plural = "s" if len(used) > 1 else ""
    noted = type(exc)(f"{exc.message}; from the override{plural} {given} of the parameter{plural} {names}",
                      exc.location)
    return noted
