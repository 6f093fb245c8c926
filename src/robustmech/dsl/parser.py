"""Parse .mech text into a :class:`~robustmech.dsl.ast.ModelAST`.

The grammar is ``grammar.lark`` (LALR(1), basic lexer). Every node of the tree keeps
the file, line and column it was written at. Syntax errors become one-line
:class:`~robustmech.errors.ModelError` messages that say, in words, what was found
and what was expected there; no Lark traceback or internal token name reaches the user.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import pathlib

import lark
from lark import Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from ..errors import Location, ModelError
from . import ast as A

GRAMMAR_PATH = pathlib.Path(__file__).with_name("grammar.lark")

#: words that start a statement; an error that expects all of them says "a new statement"
STATEMENT_WORDS = (
    "model", "param", "agents", "state", "prior", "outcome", "allocate", "transfer", "variable",
    "constraint", "let", "utility", "designer", "solve", "bounds", "evaluate", "mechanism", "information",
    "baseline", "restrict", "types", "ic", "participation",
)

#: how named terminals are described in error messages
_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a quoted string ("...")',
    "COMPOP": "a comparison (==, !=, <=, >=, <, >)",
    "POW": "'^'",
    "$END": "the end of the file",
}


@functools.lru_cache(maxsize=1)
def _lark() -> lark.Lark:
    return lark.Lark(
        GRAMMAR_PATH.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=False,
    )


@functools.lru_cache(maxsize=1)
def _terminal_words() -> dict[str, str]:
    words = dict(_TERMINAL_WORDS)
    for term in _lark().terminals:
        if term.name in words:
            continue
        pattern = term.pattern
        if isinstance(pattern, lark.lexer.PatternStr):
            words[term.name] = f"'{pattern.value}'"
    return words


def parse(text: str, filename: str = "<model>") -> A.ModelAST:
    """The syntax tree of ``text``; ``filename`` is used in every location."""
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, filename) from None
    try:
        statements = _transform(_ToAST(filename), tree)
    except VisitError as exc:  # an error raised while building a node
        if isinstance(exc.orig_exc, ModelError):
            raise exc.orig_exc from None
        raise
    for statement in statements:
        _check_nesting(statement)
    return A.ModelAST(Location(filename, 1, 1), tuple(statements), filename, text)


#: how deeply expressions may nest (brackets, calls, operators of different precedence);
#: a chain of one operator (a sum of 500 terms) counts as one level
MAX_NESTING = 60
#: the longest number literal (its exact value is a rational with as many digits)
MAX_NUMBER_CHARACTERS = 400
_CHAINS = {"+": "+-", "-": "+-", "*": "*/", "/": "*/"}


def _transform(transformer: Transformer, tree: lark.Tree):
    """``transformer.transform(tree)`` without recursion: a long sum is a tree as deep
    as it has terms, past Python's recursion limit."""
    out: list = []
    todo: list = [(tree, False)]
    while todo:
        node, ready = todo.pop()
        if not isinstance(node, lark.Tree):
            out.append(node)
        elif ready:
            n = len(node.children)
            children = out[len(out) - n:] if n else []
            del out[len(out) - n:]
            out.append(transformer._call_userfunc(node, children))
        else:
            todo.append((node, True))
            todo.extend((c, False) for c in reversed(node.children))
    return out[0]


def _check_nesting(statement: A.Node) -> None:
    """Refuse an expression nested more than MAX_NESTING levels (evaluating it would
    exhaust Python's stack); the left operand of a chain ``a + b - c`` stays at its level."""
    todo: list = [(statement, 0)]
    while todo:
        node, depth = todo.pop()
        if depth > MAX_NESTING:
            raise ModelError(f"expression nested too deeply (more than {MAX_NESTING} levels of brackets, calls or "
                             "operators)", node.loc)
        chain = _CHAINS.get(node.op) if isinstance(node, A.BinOp) else None
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            items = value if isinstance(value, tuple) else (value,)
            for item in items:
                if isinstance(item, A.Node):
                    same = chain is not None and f.name == "left" and isinstance(item, A.BinOp) and item.op in chain
                    todo.append((item, depth if same else depth + 1))


def read_model(path) -> tuple[str, str]:
    """The path (as a string) and text of a model file; an unreadable file is a
    ModelError naming it."""
    import os

    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ModelError(f"cannot read model file: {exc.strerror}", Location(path)) from None
    try:
        return path, data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ModelError(f"the model file is not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded",
                         Location(path, line, column)) from None


def parse_value(text: str, what: str = "value") -> A.Expr:
    """Parse one expression (used for ``--param NAME=VALUE`` overrides)."""
    try:
        tree = _lark().parse(f"param _ = {text}")
    except UnexpectedInput:
        raise ModelError(f"cannot read {what} {text!r}: expected a number or a list like [0, 0.5, 1]") from None
    try:
        statements = _transform(_ToAST("<command line>"), tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ModelError):
            raise ModelError(f"cannot read {what} {text!r}: {exc.orig_exc.message}") from None
        raise
    if len(statements) != 1 or not isinstance(statements[0], A.ParamStmt):
        raise ModelError(f"cannot read {what} {text!r}: expected a number or a list like [0, 0.5, 1]")
    try:
        _check_nesting(statements[0])
    except ModelError as exc:
        raise ModelError(f"cannot read {what}: {exc.message}") from None
    return statements[0].value


# ------------------------------------------------------------------ errors


def _describe_token(token: Token) -> str:
    value = str(token.value)
    if token.type == "$END":
        return "end of file"
    if token.type == "NAME":
        return f"name '{value}'"
    if token.type == "NUMBER":
        return f"number {value}"
    if token.type == "STRING":
        return f"string {value}"
    if value.isalpha():
        return f"reserved word '{value}'"
    return f"'{value}'"


def _expected_words(expected) -> list[str]:
    words = _terminal_words()
    names = set(expected)
    out: list[str] = []
    described = {n: words.get(n, n.lower()) for n in names}
    statement_terms = {n for n, w in described.items() if w.strip("'") in STATEMENT_WORDS}
    operator_terms = {n for n, w in described.items() if w in ("'+'", "'-'", "'*'", "'/'", "'^'")}
    if len(statement_terms) >= len(STATEMENT_WORDS) - 1:
        names -= statement_terms
        new_statement = True
    else:
        new_statement = False
    if "NAME" in names and "NUMBER" in names and "LPAR" in names:
        expression_starts = {n for n, w in described.items()
                             if n in ("NAME", "NUMBER", "STRING")
                             or w in ("'('", "'['", "'{'", "'+'", "'-'", "'not'", "'outcome'")}
        names -= expression_starts
        operator_terms -= expression_starts
        out.append("an expression")
    if len(operator_terms) >= 4 and new_statement:
        # after a complete expression: it may go on with an operator, or a statement may start
        return ["an operator (+ - * / ^ == <= and or ..)", "a new statement (param, state, utility, ...)"]
    if len(operator_terms) >= 4:
        names -= operator_terms
        out.append("an operator (+ - * / ^)")
    for n in sorted(names, key=lambda n: (n == "$END", described[n])):
        out.append(described[n])
    if new_statement:
        out.append("a new statement (param, state, utility, ...)")
    return out


def _syntax_error(exc: UnexpectedInput, text: str, filename: str) -> ModelError:
    line = getattr(exc, "line", 0) or 0
    column = getattr(exc, "column", 0) or 0
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    loc = Location(filename, max(line, 1), max(column, 1))
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream if exc.pos_in_stream is not None else -1
        char = text[pos] if 0 <= pos < len(text) else "?"
        if char == '"':
            return ModelError("unterminated string: a string must close with \" on the same line", loc)
        return ModelError(f"syntax error: unexpected character {char!r}", loc)
    if isinstance(exc, UnexpectedEOF):
        expected = _expected_words(exc.expected)
        return ModelError(f"syntax error: unexpected end of file; expected {_one_of(expected)}", loc)
    if isinstance(exc, UnexpectedToken):
        found = _describe_token(exc.token)
        one_of = _one_of(_expected_words(exc.accepts or exc.expected))
        previous = _end_of_previous(text, exc.token)
        if previous is not None and str(exc.token.value) in STATEMENT_WORDS:
            # the statement on an earlier line is incomplete: point at its end
            line, column = previous
            return ModelError(f"syntax error: the statement is incomplete at the end of line {line} (the next line "
                              f"starts with '{exc.token.value}'); expected {one_of}",
                              Location(filename, line, column))
        return ModelError(f"syntax error: unexpected {found}; expected {one_of}", loc)
    return ModelError("syntax error", loc)  # pragma: no cover - Lark raises only the above


def _end_of_previous(text: str, token: Token):
    """(line, column) just after the last code character before ``token`` when that
    character is on an earlier line than the token; None otherwise."""
    pos = getattr(token, "start_pos", None)
    if pos is None:
        return None
    lines = text[:pos].split("\n")
    for back in range(len(lines) - 2, -1, -1):  # earlier lines, last first
        code = lines[back].split("#", 1)[0].rstrip()
        if code:
            return back + 1, len(code) + 1
        if back == 0:
            break
    return None


def _one_of(words: list[str]) -> str:
    if not words:
        return "nothing more"
    if len(words) == 1:
        return words[0]
    if all(w.startswith("'") for w in words):
        return "one of " + ", ".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


# ------------------------------------------------------------------ tree -> AST


def _tok_loc(filename: str, token: Token) -> Location:
    return Location(filename, token.line or 0, token.column or 0)


@v_args(meta=True, inline=True)
class _ToAST(Transformer):
    def __init__(self, filename: str):
        super().__init__()
        self.filename = filename

    def _loc(self, meta) -> Location:
        if getattr(meta, "empty", True):
            return Location(self.filename)
        return Location(self.filename, meta.line, meta.column)

    @v_args(inline=False, meta=False)
    def start(self, children):
        return list(children)

    # -- statements ----------------------------------------------------------

    def model_stmt(self, meta, name, title=None):
        return A.ModelStmt(self._loc(meta), str(name), str(title)[1:-1] if title is not None else "")

    def param_stmt(self, meta, name, value):
        return A.ParamStmt(self._loc(meta), str(name), value, _tok_loc(self.filename, name))

    def agents_range(self, meta, var, rng):
        return A.AgentsRange(self._loc(meta), str(var), rng, _tok_loc(self.filename, var))

    def agents_named(self, meta, *names):
        return A.AgentsNamed(self._loc(meta), tuple(str(n) for n in names),
                             tuple(_tok_loc(self.filename, n) for n in names))

    def state_stmt(self, meta, coords, points):
        kind, names, rng, name_loc = coords
        return A.StateStmt(self._loc(meta), kind, names, rng, points, name_loc)

    def coord_scalar(self, meta, name):
        return ("scalar", (str(name),), None, _tok_loc(self.filename, name))

    def coord_indexed(self, meta, name, rng):
        return ("indexed", (str(name),), rng, _tok_loc(self.filename, name))

    def coord_tuple(self, meta, *names):
        return ("tuple", tuple(str(n) for n in names), None, _tok_loc(self.filename, names[0]))

    def prior_stmt(self, meta, spec):
        return A.PriorStmt(self._loc(meta), spec)

    def prior_uniform(self, meta):
        return A.PriorSpec(self._loc(meta), "uniform")

    def prior_density(self, meta, expr):
        return A.PriorSpec(self._loc(meta), "density", expr=expr)

    def prior_independent(self, meta, *marginals):
        return A.PriorSpec(self._loc(meta), "independent", marginals=tuple(marginals))

    def prior_marginals(self, meta, *marginals):
        return A.PriorSpec(self._loc(meta), "marginals", marginals=tuple(marginals))

    def prior_set(self, meta, *members):
        return A.PriorSpec(self._loc(meta), "set", members=tuple(members))

    def prior_penalty(self, meta, expr):
        return A.PriorSpec(self._loc(meta), "penalty", expr=expr)

    def prior_continuous(self, meta, dist):
        return A.PriorSpec(self._loc(meta), "continuous", dist=dist)

    def dist_uniform(self, meta, lower, upper):
        return A.ContinuousDist(self._loc(meta), "uniform", "uniform", args=(lower, upper),
                                name_loc=self._loc(meta))

    def dist_density(self, meta, expr, support):
        return A.ContinuousDist(self._loc(meta), "density", "density", expr=expr, support=support,
                                name_loc=self._loc(meta))

    def dist_named(self, meta, name, args=None):
        if isinstance(args, A.Generator):
            raise ModelError(f"{name}(...) takes numbers, not a comprehension", args.loc)
        return A.ContinuousDist(self._loc(meta), "named", str(name), args=tuple(args or ()),
                                name_loc=_tok_loc(self.filename, name))

    def dist_mixture(self, meta, name, *parts):
        return A.ContinuousDist(self._loc(meta), "mixture", str(name), parts=tuple(parts),
                                name_loc=_tok_loc(self.filename, name))

    def dist_part(self, meta, weight, dist):
        return (weight, dist)

    def prior_table(self, meta, expr):
        return A.PriorSpec(self._loc(meta), "table", expr=expr)

    def marginal_uniform(self, meta):
        return None

    def marginal_table(self, meta, expr):
        return expr

    def outcome_stmt(self, meta, *decls):
        return A.OutcomeStmt(self._loc(meta), tuple(decls))

    def outcome_single(self, meta, name):
        return A.OutcomeDecl(_tok_loc(self.filename, name), str(name))

    def outcome_family(self, meta, name, var, rng):
        return A.OutcomeDecl(_tok_loc(self.filename, name), str(name), str(var), rng)

    def index_decl(self, meta, var, rng=None):
        return A.IndexDecl(self._loc(meta), str(var), rng)

    def allocate_stmt(self, meta, name, *parts):
        rest = list(parts)
        indices = []
        while rest and isinstance(rest[0], A.IndexDecl):
            indices.append(rest.pop(0))
        lower_op = lower = total = None
        if rest and isinstance(rest[0], Token) and rest[0].type == "COMPOP":
            lower_op, lower = str(rest[0]), rest[1]
            rest = rest[2:]
        if rest:
            total = rest[0]
        clauses = tuple(r for r in rest[1:] if isinstance(r, A.ForClause))
        return A.AllocateStmt(self._loc(meta), str(name), indices[0] if indices else None, lower_op, lower, total,
                              tuple(indices[1:]), clauses)

    def transfer_stmt(self, meta, name, index=None):
        return A.TransferStmt(self._loc(meta), str(name), index)

    def variable_stmt(self, meta, name, *rest):
        index = None
        bound_kind = bound = None
        for item in rest:
            if isinstance(item, A.IndexDecl):
                index = item
            else:
                bound_kind, bound = item
        return A.VariableStmt(self._loc(meta), str(name), index, bound_kind, bound)

    def bounds_interval(self, meta, expr):
        return ("interval", expr)

    def bounds_one_sided(self, meta, op, expr):
        return (str(op), expr)

    def constraint_stmt(self, meta, relation, *clauses):
        return A.ConstraintStmt(self._loc(meta), relation, tuple(clauses))

    def let_stmt(self, meta, name, *rest):
        params, value = rest[:-1], rest[-1]
        return A.LetStmt(self._loc(meta), str(name), tuple(str(p) for p in params), value,
                         _tok_loc(self.filename, name))

    def utility_stmt(self, meta, agent, value):
        return A.UtilityStmt(self._loc(meta), agent, value)

    def designer_stmt(self, meta, value):
        return A.DesignerStmt(self._loc(meta), value)

    def program_name(self, meta, *parts):
        return "-".join(str(p) for p in parts)

    def solve_stmt(self, meta, program, options=()):
        return A.DirectiveStmt(self._loc(meta), "solve", str(program), tuple(options))

    def bounds_stmt(self, meta, options=()):
        return A.DirectiveStmt(self._loc(meta), "bounds", None, tuple(options))

    def evaluate_stmt(self, meta, target, options=()):
        return A.DirectiveStmt(self._loc(meta), "evaluate", str(target), tuple(options))

    def options(self, meta, *options):
        return list(options)

    def option(self, meta, name, value):
        return A.Option(_tok_loc(self.filename, name), str(name), value)

    def mechanism_stmt(self, meta, name, path):
        return A.MechanismStmt(self._loc(meta), str(name), str(path)[1:-1])

    def information_file(self, meta, name, path):
        return A.InformationStmt(self._loc(meta), str(name), path=str(path)[1:-1])

    def information_inline(self, meta, name, *items):
        signals = tuple(x for x in items if isinstance(x, A.SignalsDecl))
        joints = tuple(x for x in items if not isinstance(x, A.SignalsDecl))
        return A.InformationStmt(self._loc(meta), str(name), None, signals, joints)

    def info_signals(self, meta, agent, values):
        return A.SignalsDecl(self._loc(meta), agent, values)

    def info_joint(self, meta, expr):
        return expr

    def baseline_named(self, meta, name):
        return A.BaselineStmt(self._loc(meta), str(name), None, _tok_loc(self.filename, name))

    def baseline_knows(self, meta, expr):
        return A.BaselineStmt(self._loc(meta), None, expr)

    def restrict_stmt(self, meta, kind, *words):
        return A.RestrictStmt(self._loc(meta), str(kind), tuple(str(w) for w in words), _tok_loc(self.filename, kind),
                              tuple(_tok_loc(self.filename, w) for w in words))

    # -- prior-free statements (000) ------------------------------------------

    def types_stmt(self, meta, name, var, grid):
        return A.TypesStmt(self._loc(meta), str(name), str(var), grid, _tok_loc(self.filename, name),
                           _tok_loc(self.filename, var))

    def ic_stmt(self, meta, kind, modifier=None):
        return A.IncentiveStmt(self._loc(meta), str(kind), str(modifier) if modifier is not None else None,
                               _tok_loc(self.filename, kind),
                               _tok_loc(self.filename, modifier) if modifier is not None else None)

    def participation_stmt(self, meta, kind):
        return A.ParticipationStmt(self._loc(meta), str(kind), _tok_loc(self.filename, kind))

    # -- expressions ----------------------------------------------------------

    def or_(self, meta, a, b):
        return A.BoolOp(self._loc(meta), "or", a, b)

    def and_(self, meta, a, b):
        return A.BoolOp(self._loc(meta), "and", a, b)

    def not_(self, meta, a):
        return A.Not(self._loc(meta), a)

    def compare(self, meta, a, op, b):
        return A.Compare(self._loc(meta), str(op), a, b)

    def member(self, meta, a, b):
        return A.Compare(self._loc(meta), "in", a, b)

    def range_(self, meta, lo, hi):
        return A.Range(self._loc(meta), lo, hi)

    def add(self, meta, a, b):
        return A.BinOp(self._loc(meta), "+", a, b)

    def sub(self, meta, a, b):
        return A.BinOp(self._loc(meta), "-", a, b)

    def mul(self, meta, a, b):
        return A.BinOp(self._loc(meta), "*", a, b)

    def div(self, meta, a, b):
        return A.BinOp(self._loc(meta), "/", a, b)

    def neg(self, meta, a):
        return A.Neg(self._loc(meta), a)

    def pos(self, meta, a):
        return a

    def pow(self, meta, a, op, b):
        return A.BinOp(self._loc(meta), "^", a, b)

    def index(self, meta, base, *indices):
        return A.Index(self._loc(meta), base, tuple(indices))

    def call(self, meta, name, args=None):
        loc = self._loc(meta)
        if isinstance(args, A.Generator):
            return A.Call(loc, str(name), (), args)
        return A.Call(loc, str(name), tuple(args or ()))

    def args(self, meta, *items):
        return list(items)

    def generator(self, meta, expr, *rest):
        clauses, condition = _split_clauses(rest)
        return A.Generator(self._loc(meta), expr, clauses, condition)

    def comp_for(self, meta, var, iterable):
        return A.ForClause(self._loc(meta), str(var), iterable)

    def comp_if(self, meta, cond):
        return ("if", cond)

    def number(self, meta, tok):
        text = str(tok)
        shown = text if len(text) <= 24 else f"{text[:10]}...{text[-6:]} ({len(text)} characters)"
        if not math.isfinite(float(text)):
            raise ModelError(f"number {shown} is out of range (the largest number is about 1.8e308)", self._loc(meta))
        if len(text) > MAX_NUMBER_CHARACTERS:
            raise ModelError(f"number {shown} has too many digits (at most {MAX_NUMBER_CHARACTERS})", self._loc(meta))
        return A.Number(self._loc(meta), text)

    def string(self, meta, tok):
        return A.String(self._loc(meta), str(tok)[1:-1])

    def name(self, meta, tok):
        return A.Name(self._loc(meta), str(tok))

    def outcome_ref(self, meta):
        return A.OutcomeRef(self._loc(meta))

    def tuple_(self, meta, *items):
        return A.TupleLit(self._loc(meta), tuple(items))

    def bracket(self, meta, expr):
        return A.Bracket(self._loc(meta), expr)

    def list_(self, meta, *items):
        return A.ListLit(self._loc(meta), tuple(items))

    def empty_list(self, meta):
        return A.ListLit(self._loc(meta), ())

    def empty_set(self, meta):
        return A.SetLit(self._loc(meta), ())

    def set_(self, meta, *items):
        return A.SetLit(self._loc(meta), tuple(items))

    def set_comp(self, meta, expr, *rest):
        clauses, condition = _split_clauses(rest)
        return A.SetComp(self._loc(meta), A.Generator(self._loc(meta), expr, clauses, condition))

    def entry(self, meta, key, value):
        return A.Entry(self._loc(meta), key, value)

    def table(self, meta, *entries):
        return A.TableLit(self._loc(meta), tuple(entries))

    def table_comp(self, meta, entry, *rest):
        clauses, condition = _split_clauses(rest)
        return A.TableComp(self._loc(meta), entry, clauses, condition)


def _split_clauses(rest):
    clauses = tuple(r for r in rest if isinstance(r, A.ForClause))
    conditions = [r[1] for r in rest if isinstance(r, tuple) and r and r[0] == "if"]
    return clauses, (conditions[0] if conditions else None)
