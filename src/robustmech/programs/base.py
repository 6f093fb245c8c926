"""The one program interface: every program of robustmech is a reduction from the
lowered environment to the :class:`~robustmech.programs.lp.LinearProgram` IR.

A :class:`Program` has one signature, whatever it computes:

* ``build(lowered, **options) -> (LinearProgram, inverse)``: the program and the
  inverse data that reading a solution back needs (the grid, the mechanism, ...);
* ``read(lp, solution, inverse) -> ReadBack``: economic objects from a solution of the
  *full* program (the reductions have been inverted before).

``options`` are the program's own parameters (``k`` for the grid programs, the
mechanism for the BCE, the information structure for the direct program, ...), each
declared in ``parameters`` with its default; an option a program does not take is an
error, never silently ignored. The registry (:func:`program`, :data:`PROGRAMS`) maps a
name to its program, so the orchestration (``robustmech.api``) never dispatches on
names: it builds, reduces, solves, inverts, certifies and reads back any of them in the
same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import ParameterError, UnsupportedError
from .lp import LinearProgram


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # the default of an option a program cannot do without


@dataclass
class ReadBack:
    """What a program's solution means: the economic objects and named arrays.

    ``mechanism`` / ``information`` / ``equilibrium`` are the objects the program
    computes; ``arrays`` the named multipliers (λ, γ, allocations, ...); ``extra``
    the program's own checks and decompositions, reported with the result."""

    mechanism: Any = None
    information: Any = None
    equilibrium: Any = None
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class Program(ABC):
    """A program of the papers as a reduction to the LP IR (see the module docstring)."""

    name: ClassVar[str]  # the registry name: "guarantee", "auction-potential", "bce-worst", ...
    title: ClassVar[str]  # how the papers call it: "LB-G-k", "UB-P-k", ...
    source: ClassVar[str]  # the equation: "(9) of 004"
    family: ClassVar[str] = ""  # "general" or "auction" for the bounding pairs; "" otherwise
    bound: ClassVar[str] = ""  # "lower" or "upper" where the value bounds the max guarantee / min potential
    # the options build takes besides the environment, with their defaults (REQUIRED: no default)
    parameters: ClassVar[dict[str, Any]] = {}

    def options(self, given: dict[str, Any]) -> dict[str, Any]:
        """``given`` completed with the defaults; an unknown or missing option is an error."""
        unknown = sorted(set(given) - set(self.parameters))
        if unknown:
            accepted = ", ".join(self.parameters) or "none"
            raise ParameterError(f"program '{self.name}' takes no option '{unknown[0]}' (its options: {accepted})")
        merged = {**self.parameters, **given}
        missing = [key for key, value in merged.items() if value is REQUIRED or (value is None and
                                                                                self.parameters[key] is REQUIRED)]
        if missing:
            raise ParameterError(f"program '{self.name}' needs the option '{missing[0]}'")
        return merged

    @abstractmethod
    def build(self, lowered, **options) -> tuple[LinearProgram, Any]:
        """The program on ``lowered`` and the inverse data for :meth:`read`."""

    @abstractmethod
    def read(self, lp: LinearProgram, solution, inverse) -> ReadBack:
        """Economic objects from an optimal ``solution`` (an ``LPSolution``) of ``lp``."""

    def build_structured(self, lowered, **options) -> tuple[LinearProgram, Any]:
        """:meth:`build`, with the matrix kept as Kronecker-structured blocks where the
        program writes it so (:attr:`LinearProgram.structured`): what a box of the grid
        is folded from (:mod:`robustmech.programs.truncation`). The default builds it
        assembled, which every consumer of the structured form also takes."""
        return self.build(lowered, **options)

    def describe(self) -> str:
        return f"{self.title}, {self.source}"

    def reformulation(self, lp: LinearProgram, inverse, solver: str):
        """A :class:`~robustmech.programs.reductions.Reduction` of ``lp`` to an equivalent
        program that ``solver`` (the ``--solver`` name) solves better, or None (the
        default): the chain solves the reformulation, inverts it, and certifies the
        answer on ``lp``'s own rows."""
        return None

    def truncation(self, lowered) -> Literal["primal", "dual"] | None:
        """Which side of the program's solution on ``lowered`` stays near the origin of its grid of profiles,
        so that the program may be solved on a box of low profiles
        (:mod:`robustmech.programs.truncation`): ``"dual"`` where the primal support is
        local and the duals are extended as a constant beyond the box (UB-P-k),
        ``"primal"`` where the dual support is local and the point is extended
        (LB-G-k), or None (the default: the whole grid is solved)."""
        return None


PROGRAMS: dict[str, Program] = {}


def register(program: Program) -> Program:
    """Add a program to the registry under its name (a new program is one module and one
    ``register`` call)."""
    if program.name in PROGRAMS:
        raise ValueError(f"a program named {program.name!r} is already registered")
    PROGRAMS[program.name] = program
    return program


def program(name: str | Program) -> Program:
    """The registered program called ``name`` (the program itself passes through)."""
    if isinstance(name, Program):
        return name
    _load_programs()
    try:
        return PROGRAMS[name]
    except KeyError:
        raise UnsupportedError(f"unknown program '{name}'; choose one of {', '.join(names())}") from None


def names() -> tuple[str, ...]:
    """The registered programs: those of ``PROGRAM_MODULES`` in that order, then any other."""
    _load_programs()

    def rank(name: str) -> int:
        module = type(PROGRAMS[name]).__module__.split(".programs.", 1)[-1]
        return PROGRAM_MODULES.index(module) if module in PROGRAM_MODULES else len(PROGRAM_MODULES)

    return tuple(sorted(PROGRAMS, key=rank))


def bounding_pair(family: str) -> tuple[Program, Program]:
    """The lower- and upper-bound programs of a family (``general``: LB-G-k and UB-P-k of
    004; ``auction``: 001's (41) and (3))."""
    _load_programs()
    lower = [p for p in PROGRAMS.values() if p.family == family and p.bound == "lower"]
    upper = [p for p in PROGRAMS.values() if p.family == family and p.bound == "upper"]
    if len(lower) != 1 or len(upper) != 1:
        raise UnsupportedError(f"no bounding programs for the family '{family}'")
    return lower[0], upper[0]


# registered in this order (000's refinement stages last)
PROGRAM_MODULES = ("bounding", "auction", "bce", "direct", "refinements.stage_programs")


def _load_programs() -> None:
    # the program modules register themselves on import
    import importlib

    for module in PROGRAM_MODULES:
        importlib.import_module(f"{__package__}.{module}")
