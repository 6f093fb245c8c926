"""The values of the model language's expressions, and how they are shown in errors.

An expression evaluates to an exact SymPy number or expression (``0.4`` is 2/5), a
condition (a Python ``bool`` or a SymPy relation), a string (an option word), or one of
the value types below: an indexed :class:`Family` (lists, tuples, ``theta[1..N]``), a
:class:`SetValue`, a :class:`TableValue` (``{key: value}``), an :class:`OutcomeValue` (an
element of a finite outcome set) or a :class:`LetFunction` (an indexed definition).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy

from ..dsl import ast as A
from ..errors import Location, ModelError


@dataclass(frozen=True)
class Family:
    """An indexed family or a list: ``entries[k]`` has index ``indices[k]``
    (``theta[1..N]``, ``paid_by[j in 1..N]``, ``[0, 0.5, 1]`` indexed from 1)."""

    entries: tuple
    indices: tuple
    name: str = "this list"
    #: the names a family with several indices was declared with (``("i", "l")`` for ``q[i, l in 1..L]``)
    index_names: tuple = ()

    @staticmethod
    def of(entries, name: str = "this list") -> Family:
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
    """A definition with indices (``let cost[j] = ...``), evaluated where it is indexed."""

    stmt: A.LetStmt


def is_condition(value) -> bool:
    """True for a truth value or a SymPy relation (not for a number)."""
    return isinstance(value, (bool, sympy.logic.boolalg.Boolean)) and not isinstance(value, sympy.Expr)


def whole_number(value, what: str, loc: Location | None) -> int:
    """``value`` as an int, or a ModelError saying that ``what`` must be a whole number."""
    if isinstance(value, sympy.Expr) and value.is_number and value.is_integer:
        return int(value)
    raise ModelError(f"{what} must be a whole number, got {show(value)}", loc)


def exact_number(x) -> sympy.Expr:
    """A Python or SymPy number as an exact SymPy number (a float by its shortest decimal)."""
    if isinstance(x, bool):
        raise TypeError(x)
    if isinstance(x, float):
        return sympy.Rational(repr(x))
    value = sympy.sympify(x)
    if not isinstance(value, sympy.Expr) or not value.is_number:
        raise ValueError(x)
    return value


def flat(element) -> tuple:
    """A set element as a tuple of coordinates (a number is a 1-tuple)."""
    return tuple(element) if isinstance(element, tuple) else (element,)


def set_element(value):
    """A set element: numbers stay numbers, lists and tuples become tuples."""
    if isinstance(value, Family):
        return tuple(set_element(v) for v in value.entries)
    return value


def unique(items) -> tuple:
    """Items in first-seen order without repeats (exact values hash equal)."""
    return tuple(dict.fromkeys(items))


def state_point(value, loc) -> tuple:
    """A state point as a flat tuple of exact numbers."""
    if isinstance(value, Family):
        value = set_element(value)
    coords = value if isinstance(value, tuple) else (value,)
    out = []
    for c in coords:
        if isinstance(c, tuple):
            raise ModelError("a state is a number or a tuple of numbers, not a nested tuple", loc)
        if not (isinstance(c, sympy.Expr) and c.is_number and c.is_real):
            raise ModelError(f"a state coordinate must be a number, got {show(c)}", loc)
        out.append(c)
    return tuple(out)


def point_label(point: tuple) -> str:
    """``(0, 3)`` for a point with several coordinates, ``3`` for one."""
    return "(" + ", ".join(str(c) for c in point) + ")" if len(point) != 1 else str(point[0])


def describe_indices(indices) -> str:
    """``1..4`` for a run of at least three consecutive indices, else the list."""
    indices = list(indices)
    if not indices:
        return "none"
    if (all(isinstance(i, int) for i in indices) and indices == list(range(indices[0], indices[0] + len(indices)))
            and len(indices) > 2):
        return f"{indices[0]}..{indices[-1]}"
    return ", ".join(str(i) for i in indices)


def describe_index_grid(indices) -> str:
    """The indices of a family with several indices, position by position: ``1..2 by 1, 2``
    (or the list of index tuples when they do not form a grid)."""
    indices = list(indices)
    positions = [list(dict.fromkeys(t[p] for t in indices)) for p in range(len(indices[0]))] if indices else []
    size = 1
    for p in positions:
        size *= len(p)
    if size == len(indices):
        return " by ".join(describe_indices(p) for p in positions)
    return ", ".join("(" + ", ".join(str(x) for x in t) + ")" for t in indices)


def with_article(kind: str) -> str:
    """``a parameter``, ``an agent``."""
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def show(value) -> str:
    """A value as an error message names it."""
    if isinstance(value, Family):
        return f"a list ({', '.join(show(v) for v in value.entries[:4])}{', ...' if len(value.entries) > 4 else ''})"
    if isinstance(value, SetValue):
        return f"a set of {len(value.elements)} elements"
    if isinstance(value, TableValue):
        return "a table"
    if isinstance(value, OutcomeValue):
        return f"the outcome {value.name}"
    if isinstance(value, LetFunction):
        return f"the indexed definition '{value.stmt.name}'"
    if is_condition(value):
        return "a condition"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "(" + ", ".join(show(v) for v in value) + ")"
    return str(value)


def guarded(compute: Callable[[], Any], loc: Location | None):
    """``compute()``; a failure of the arithmetic underneath becomes a ModelError at
    ``loc`` (never a traceback)."""
    try:
        return compute()
    except ModelError:
        raise
    except RecursionError:
        raise ModelError("expression nested too deeply to evaluate (definitions or brackets inside one another "
                         "hundreds of levels deep)", loc) from None
    except (TypeError, ValueError, ZeroDivisionError, ArithmeticError, sympy.SympifyError) as exc:
        raise ModelError(f"cannot evaluate this statement: {exc}", loc) from None
