"""Names of a model file: what each global name is bound to, the local context of an
expression, and the parameters with their ``--param`` overrides.

Every name is claimed once, before anything is evaluated (so that a duplicate is
reported at its second declaration, and a name used before its statement gets a clear
error); the statements then give the names their values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import sympy

from ..dsl import ast as A
from ..errors import Location, ModelError, ParameterError
from .values import Family, OutcomeValue, exact_number, guarded, show, with_article

#: the value of a name whose statement has not been elaborated yet
PENDING = object()

#: the name the language itself defines (infinity)
BUILT_IN_NAMES = ("inf",)


@dataclass
class Binding:
    """What a global name is: its kind (parameter, agents' index, agent, state coordinate,
    outcome, outcome variable, definition, mechanism, information structure, ...), where
    it was declared, and its value once its statement is elaborated.

    ``unavailable``, when given, says (for the context of a use) why the name has no
    value there; otherwise the evaluator says it has no value yet."""

    kind: str
    loc: Location
    value: Any = PENDING
    unavailable: Callable[[Context], str] | None = None


@dataclass
class Context:
    """The local names of an expression (indices, a definition's parameters), the
    outcome that ``outcome`` names, and the state's coordinate indices for ``unit(j)``."""

    locals: dict
    outcome: OutcomeValue | None = None
    no_outcome: str = "`outcome` can only be used in utilities, the designer objective and definitions they use"
    unit: tuple | None = None
    #: the index of the outcome family being evaluated (``p`` of ``trade[p in ...]`` at
    #: ``trade[1/4]``), which definitions used there see too
    at_outcome: dict = field(default_factory=dict)

    def with_locals(self, names: Mapping[str, Any]) -> Context:
        """This context with ``names`` added to its locals."""
        return Context({**self.locals, **names}, self.outcome, self.no_outcome, self.unit, self.at_outcome)

    def only(self, names: Mapping[str, Any]) -> Context:
        """A context with ``names`` as its only locals (a definition's body)."""
        return Context(dict(names), self.outcome, self.no_outcome, self.unit, self.at_outcome)


class Scope:
    """The global names of one model file."""

    def __init__(self) -> None:
        self.bindings: dict[str, Binding] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.bindings

    def __getitem__(self, name: str) -> Binding:
        return self.bindings[name]

    def get(self, name: str) -> Binding | None:
        return self.bindings.get(name)

    def names(self) -> list[str]:
        return list(self.bindings)

    def claim(self, name: str, kind: str, loc: Location, unavailable: Callable[[Context], str] | None = None) -> None:
        """Declare ``name`` as a ``kind``; a second declaration of a name is an error."""
        if name in self.bindings:
            first = self.bindings[name]
            raise ModelError(f"duplicate name '{name}': already declared as {with_article(first.kind)} at "
                             f"line {first.loc.line}", loc)
        if name in BUILT_IN_NAMES:
            raise ModelError(f"'{name}' is a built-in name (infinity); choose another name", loc)
        self.bindings[name] = Binding(kind, loc, unavailable=unavailable)

    def claim_declarations(self, stmts) -> None:
        """Claim every name the statements of a model file declare, in file order."""
        for s in stmts:
            if isinstance(s, A.ParamStmt):
                self.claim(s.name, "parameter", s.name_loc)
            elif isinstance(s, A.AgentsRange):
                self.claim(s.var, "agents' index", s.name_loc)
            elif isinstance(s, A.AgentsNamed):
                for n, loc in zip(s.names, s.name_locs):
                    self.claim(n, "agent", loc)
            elif isinstance(s, A.StateStmt):
                for n in s.names:
                    self.claim(n, "state coordinate", s.name_loc)
            elif isinstance(s, A.OutcomeStmt):
                for d in s.decls:
                    self.claim(d.name, "outcome", d.loc)
            elif isinstance(s, (A.AllocateStmt, A.TransferStmt, A.VariableStmt)):
                self.claim(s.name, "outcome variable", s.loc)
            elif isinstance(s, A.LetStmt):
                self.claim(s.name, "definition", s.name_loc)
            elif isinstance(s, A.MechanismStmt):
                self.claim(s.name, "mechanism", s.loc)
            elif isinstance(s, A.InformationStmt):
                self.claim(s.name, "information structure", s.loc)

    def bind(self, name: str, value: Any) -> None:
        self.bindings[name].value = value


# ---------------------------------------------------------------- parameters


def parameter_values(params: list[A.ParamStmt], overrides: Mapping[str, Any], evaluate: Callable[[A.Expr], Any],
                     file: str) -> Iterator[tuple[A.ParamStmt, Any]]:
    """Each parameter with its value: its default (``evaluate``\\ d), or its ``--param``
    override typed against the default (integer, number, list of numbers).

    A generator: the caller binds each parameter before the next default is evaluated,
    so a default may use the parameters declared above it."""
    declared = {p.name for p in params}
    unknown = [n for n in overrides if n not in declared]
    if unknown:
        known = ", ".join(p.name for p in params) or "none"
        raise ParameterError(f"unknown parameter '{unknown[0]}' in --param (this model's parameters: {known})",
                             Location(file))
    for p in params:
        default = guarded(partial(evaluate, p.value), p.loc)
        kind = parameter_kind(default)
        if kind == "integer" and _written_as_real(p.value):
            kind = "number"  # `param vbar = 3.0` declares a real parameter
        if kind is None:
            raise ModelError(f"parameter {p.name} must be a number or a list of numbers, got {show(default)}",
                             p.value.loc)
        yield p, (_override(p, kind, overrides[p.name], evaluate) if p.name in overrides else default)


def _override(p: A.ParamStmt, kind: str, given: Any, evaluate: Callable[[A.Expr], Any]):
    words = {"integer": "an integer", "number": "a number", "list": "a list of numbers"}[kind]
    hint = f"; write `param {p.name} = {p.value.text}.0` to allow other numbers" \
        if kind == "integer" and isinstance(p.value, A.Number) else ""
    wrong = ParameterError(f"parameter of the wrong type: {p.name} is {words} (declared here), "
                           f"but --param {p.name}={given} is not{hint}", p.name_loc)
    if isinstance(given, str):
        from ..dsl.parser import parse_value

        try:
            value = evaluate(parse_value(given, f"--param {p.name}"))
        except ModelError as exc:
            if "out of range" in exc.message or "too many digits" in exc.message or "nested too deeply" in exc.message:
                raise ParameterError(f"--param {p.name}={given if len(given) <= 40 else given[:37] + '...'}: "
                                     f"{exc.message.split(': ', 1)[-1]}", p.name_loc) from None
            raise wrong from None
    elif isinstance(given, (list, tuple)):
        try:
            value = Family.of([exact_number(x) for x in given], p.name)
        except (TypeError, ValueError):
            raise wrong from None
    else:
        try:
            value = exact_number(given)
        except (TypeError, ValueError):
            raise wrong from None
    got = parameter_kind(value)
    if got is None or (kind == "integer" and got != "integer") or (kind == "list") != (got == "list"):
        raise wrong
    return value


def parameter_kind(value) -> str | None:
    """``integer``, ``number`` or ``list`` (of numbers); None for anything else."""
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


def python_value(value):
    """A parameter value for ``Environment.params``: int, exact SymPy number, or list."""
    if isinstance(value, Family):
        return [python_value(v) for v in value.entries]
    if isinstance(value, sympy.Integer):
        return int(value)
    return value
