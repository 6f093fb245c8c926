"""The syntax tree of a .mech model file.

Every node carries ``loc``, the :class:`~robustmech.errors.Location` (file, line,
column) where it was written, so that the elaborator can name the place of any error.
Nodes are plain data: the parser builds them, :mod:`robustmech.model.elaborate` gives
them meaning. The grammar is ``grammar.lark``; the reference is ``docs/language.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..errors import Location


@dataclass(frozen=True)
class Node:
    loc: Location


# ----------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Expr(Node):
    pass


@dataclass(frozen=True)
class Number(Expr):
    """A numeric literal, kept as the text written (``0.4`` stays exactly 2/5)."""

    text: str


@dataclass(frozen=True)
class String(Expr):
    value: str


@dataclass(frozen=True)
class Name(Expr):
    name: str


@dataclass(frozen=True)
class OutcomeRef(Expr):
    """The reserved word ``outcome``: the outcome at which a payoff is evaluated."""


@dataclass(frozen=True)
class Index(Expr):
    """``base[i]`` or ``base[i, j]``."""

    base: Expr
    indices: tuple[Expr, ...]


@dataclass(frozen=True)
class ForClause(Node):
    """``for var in iterable`` inside a comprehension, a sum or a constraint family."""

    var: str
    iterable: Expr


@dataclass(frozen=True)
class Call(Expr):
    """``f(a, b)`` or ``f(expr for j in S if cond)`` (then ``generator`` is set)."""

    func: str
    args: tuple[Expr, ...]
    generator: Optional["Generator"] = None


@dataclass(frozen=True)
class Generator(Node):
    expr: Expr
    clauses: tuple[ForClause, ...]
    condition: Optional[Expr] = None


@dataclass(frozen=True)
class BinOp(Expr):
    """Arithmetic: ``op`` is one of ``+ - * / ^``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Neg(Expr):
    operand: Expr


@dataclass(frozen=True)
class Compare(Expr):
    """``left op right`` with ``op`` in ``== != <= >= < > in``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class BoolOp(Expr):
    """``and`` / ``or``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True)
class Range(Expr):
    """``lo..hi``: the integers lo, lo+1, ..., hi."""

    lo: Expr
    hi: Expr


@dataclass(frozen=True)
class Bracket(Expr):
    """``[e]``: the Iverson bracket (1 if e holds, else 0) when e is a condition,
    a one-element list otherwise."""

    expr: Expr


@dataclass(frozen=True)
class ListLit(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class TupleLit(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class SetLit(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class SetComp(Expr):
    generator: Generator


@dataclass(frozen=True)
class Entry(Node):
    key: Expr
    value: Expr


@dataclass(frozen=True)
class TableLit(Expr):
    """``{ key: value, ... }``: a prior table, a marginal, a joint distribution."""

    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class TableComp(Expr):
    entry: Entry
    clauses: tuple[ForClause, ...]
    condition: Optional[Expr] = None


# ----------------------------------------------------------------- statements


@dataclass(frozen=True)
class Statement(Node):
    pass


@dataclass(frozen=True)
class ModelStmt(Statement):
    name: str
    title: str = ""


@dataclass(frozen=True)
class ParamStmt(Statement):
    name: str
    value: Expr
    name_loc: Location = field(default_factory=Location)


@dataclass(frozen=True)
class AgentsRange(Statement):
    """``agents i in 1..N``: agents numbered by the range, ``i`` their index."""

    var: str
    range: Expr
    name_loc: Location = field(default_factory=Location)


@dataclass(frozen=True)
class AgentsNamed(Statement):
    """``agents seller, buyer``: named agents (each name stands for its number 1, 2, ...)."""

    names: tuple[str, ...]
    name_locs: tuple[Location, ...] = ()


@dataclass(frozen=True)
class StateStmt(Statement):
    """``state v in S``, ``state theta[1..N] in S`` or ``state (s, b) in S``.

    ``kind`` is ``scalar``, ``indexed`` or ``tuple``; ``index_range`` is set for
    ``indexed``."""

    kind: str
    names: tuple[str, ...]
    index_range: Optional[Expr]
    points: Expr
    name_loc: Location = field(default_factory=Location)


@dataclass(frozen=True)
class ContinuousDist(Node):
    """A distribution of ``prior continuous``: ``kind`` ``uniform`` (``args``: lower,
    upper), ``density`` (``expr`` on the interval ``support``), ``named`` (``name``
    with ``args``: ``exponential(1)``; the name is checked by the elaborator) or
    ``mixture`` (``name`` as written, ``parts``: (weight, distribution) pairs)."""

    kind: str
    name: str = ""
    args: tuple[Expr, ...] = ()
    expr: Optional[Expr] = None
    support: Optional[Expr] = None
    parts: tuple[tuple[Expr, "ContinuousDist"], ...] = ()
    name_loc: Location = field(default_factory=Location)


@dataclass(frozen=True)
class PriorSpec(Node):
    """``kind``: ``uniform``, ``table`` (list or table in ``expr``), ``density``
    (``expr``), ``independent`` (``marginals``, each None for uniform or an Expr),
    ``marginals`` (the same, for known marginals with unknown correlation: ambiguity),
    ``set`` (``members``: a set of priors, ambiguity: their convex hull), ``penalty``
    (``expr``: c(θ), no prior, 001 Appendix B.1.6), ``continuous`` (``dist``: a
    distribution discretised onto the state grid)."""

    kind: str
    expr: Optional[Expr] = None
    marginals: tuple[Optional[Expr], ...] = ()
    members: tuple["PriorSpec", ...] = ()
    dist: Optional[ContinuousDist] = None


@dataclass(frozen=True)
class PriorStmt(Statement):
    spec: PriorSpec


@dataclass(frozen=True)
class OutcomeDecl(Node):
    """``none`` or ``paid_by[j in 1..N]`` (then ``var`` and ``range`` are set)."""

    name: str
    var: Optional[str] = None
    range: Optional[Expr] = None


@dataclass(frozen=True)
class OutcomeStmt(Statement):
    decls: tuple[OutcomeDecl, ...]


@dataclass(frozen=True)
class IndexDecl(Node):
    """``[i]`` (one per agent when i is the agents' index) or ``[j in 1..M]``."""

    var: str
    range: Optional[Expr] = None


@dataclass(frozen=True)
class AllocateStmt(Statement):
    """``allocate q[i] >= 0 with sum(q) <= 1``, ``allocate q >= 0`` (one agent) or
    ``allocate q[i, l in 1..L] >= 0 with sum(q[j, l] for j in 1..N) <= 1 for l in 1..L``.

    ``index`` is the first index (None for a scalar), ``more_indices`` the others;
    ``total`` is the whole ``with`` condition and ``total_clauses`` its ``for`` clauses."""

    name: str
    index: Optional[IndexDecl]
    lower_op: Optional[str] = None
    lower: Optional[Expr] = None
    total: Optional[Expr] = None  # the whole ``with`` condition
    more_indices: tuple[IndexDecl, ...] = ()
    total_clauses: tuple[ForClause, ...] = ()

    @property
    def indices(self) -> tuple[IndexDecl, ...]:
        return ((self.index,) if self.index is not None else ()) + self.more_indices


@dataclass(frozen=True)
class TransferStmt(Statement):
    """``transfer t[i]`` or ``transfer t`` (one agent); ``index`` is None for a scalar."""

    name: str
    index: Optional[IndexDecl]


@dataclass(frozen=True)
class VariableStmt(Statement):
    """``variable x[i] in [lo, hi]``, ``variable x >= lo``, ``variable x``.

    ``bound_kind``: None, ``interval`` (``bound`` is the list), ``>=`` or ``<=``."""

    name: str
    index: Optional[IndexDecl] = None
    bound_kind: Optional[str] = None
    bound: Optional[Expr] = None


@dataclass(frozen=True)
class ConstraintStmt(Statement):
    relation: Expr
    clauses: tuple[ForClause, ...] = ()


@dataclass(frozen=True)
class LetStmt(Statement):
    """``let E = expr`` or ``let price[o] = expr`` (an indexed definition)."""

    name: str
    params: tuple[str, ...]
    value: Expr
    name_loc: Location = field(default_factory=Location)


@dataclass(frozen=True)
class UtilityStmt(Statement):
    """``utility[i] = expr``: for every agent when ``i`` is the agents' index,
    otherwise for the one agent the index names."""

    agent: Expr
    value: Expr


@dataclass(frozen=True)
class DesignerStmt(Statement):
    value: Expr


@dataclass(frozen=True)
class Option(Node):
    name: str
    value: Expr


@dataclass(frozen=True)
class DirectiveStmt(Statement):
    """``solve PROGRAM opts``, ``bounds opts`` or ``evaluate NAME opts``."""

    verb: str  # solve, bounds, evaluate
    target: Optional[str]
    options: tuple[Option, ...] = ()


@dataclass(frozen=True)
class MechanismStmt(Statement):
    name: str
    path: str


@dataclass(frozen=True)
class SignalsDecl(Node):
    agent: Expr
    values: Expr


@dataclass(frozen=True)
class InformationStmt(Statement):
    """``information I from "file"`` (``path``) or an inline block (``signals``, ``joint``)."""

    name: str
    path: Optional[str] = None
    signals: tuple[SignalsDecl, ...] = ()
    joints: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class BaselineStmt(Statement):
    """``baseline NAME`` (a declared information structure, ``name``) or ``baseline
    knows EXPR`` (``knows``: the signal EXPR(i, θ) of each agent i in each state θ): the
    information every information structure refines. ``name_loc`` is the name's place."""

    name: Optional[str]
    knows: Optional[Expr] = None
    name_loc: Location = field(default_factory=Location)


@dataclass(frozen=True)
class RestrictStmt(Statement):
    """``restrict KIND`` or ``restrict KIND WORD NAME, NAME, ...`` (``restrict mixture
    of first, second``): a restriction on the mechanism class of the guarantee programs.
    Words as written; the elaborator checks them. ``locs`` are the words' locations."""

    kind: str
    words: tuple[str, ...] = ()
    kind_loc: Location = field(default_factory=Location)
    locs: tuple[Location, ...] = ()


# ----------------------------------------------------------------- prior-free models (000)


@dataclass(frozen=True)
class TypesStmt(Statement):
    """``types theta[i] in S``: agent i's finite type grid (prior-free models of 000; the
    state is the type profile). ``S`` may use the index ``var``."""

    name: str
    var: str
    grid: Expr
    name_loc: Location = field(default_factory=Location)
    var_loc: Location = field(default_factory=Location)


@dataclass(frozen=True)
class IncentiveStmt(Statement):
    """``ic dominant``, ``ic dominant adjacent`` or ``ic none`` (words as written; the
    elaborator checks them)."""

    kind: str
    modifier: Optional[str] = None
    kind_loc: Location = field(default_factory=Location)
    modifier_loc: Optional[Location] = None


@dataclass(frozen=True)
class ParticipationStmt(Statement):
    """``participation ex_post`` or ``participation none``."""

    kind: str
    kind_loc: Location = field(default_factory=Location)


@dataclass(frozen=True)
class ModelAST(Node):
    """A parsed model file: its statements in file order."""

    statements: tuple[Statement, ...]
    filename: str = "<model>"
    source: str = field(default="", repr=False, compare=False)
