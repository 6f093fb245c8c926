"""The expression evaluator of the model language: an AST expression to an exact value.

Numbers are exact (SymPy rationals: ``0.4`` is 2/5); names are looked up in the local
:class:`~robustmech.model.scope.Context` and then in the model's
:class:`~robustmech.model.scope.Scope`; comprehensions (``for j in 1..N if ...``) are
expanded here. Every type error (a list where a number is needed, a condition where a
number is needed, an index out of range, an unknown name or function) is a
:class:`~robustmech.errors.ModelError` at the expression's file:line:col. Both the
Bayesian and the prior-free elaborator evaluate their expressions with one
:class:`Evaluator`.
"""

from __future__ import annotations

import difflib
import itertools

import sympy

from ..dsl import ast as A
from ..errors import Location, ModelError
from .scope import PENDING, Context, Scope
from .values import (
    Family,
    LetFunction,
    OutcomeValue,
    SetValue,
    TableValue,
    describe_index_grid,
    describe_indices,
    flat,
    is_condition,
    set_element,
    show,
    unique,
    whole_number,
    with_article,
)

FUNCTIONS = ("sum", "min", "max", "abs", "sqrt", "exp", "log", "unit", "grid", "product", "count")

_RELATIONS = {"==": sympy.Eq, "!=": sympy.Ne, "<=": sympy.Le, ">=": sympy.Ge, "<": sympy.Lt, ">": sympy.Gt}
_FUNCTIONS_OF_ONE = {"abs": sympy.Abs, "sqrt": sympy.sqrt, "exp": sympy.exp, "log": sympy.log}


#: the most elements a range, a grid, a set power or a product may have (a state set of a
#: hundred thousand points is already far past what a program can be built for)
MAX_ELEMENTS = 100_000
#: the most binary digits of an exact power (about 3,000 decimal digits; floats end at 1e308)
MAX_POWER_BITS = 10_000
_CHAINS = {"+": "+-", "-": "+-", "*": "*/", "/": "*/"}


def _digits(n: int) -> str:
    """``n`` for a message: in full when short, else its order of magnitude."""
    return str(n) if abs(n) < 10 ** 30 else f"about 10^{int(abs(n).bit_length() * 0.30103)}"


def _check_size(base: int, power: int, what: str, loc) -> None:
    """Refuse a set of base^power elements beyond MAX_ELEMENTS before listing it."""
    too_many = power * base.bit_length() > 64 if base > 1 else False
    if too_many or base ** power > MAX_ELEMENTS:
        shown = f"{base}^{power}" if power > 1 else _digits(base)
        raise ModelError(f"{what} has {shown} elements; at most {MAX_ELEMENTS:,} are supported", loc)


def _check_power(x, y, loc) -> None:
    """Refuse x^y whose exact value would have more than MAX_POWER_BITS bits (10^10^10
    would take minutes and gigabytes to compute)."""
    if not (isinstance(x, sympy.Rational) and isinstance(y, sympy.Rational)) or x in (0, 1, -1):
        return
    size = max(abs(x.p).bit_length(), abs(x.q).bit_length())
    if abs(y) * size > MAX_POWER_BITS:
        raise ModelError(f"the power {x}^{y} is out of range (its exact value has more than "
                         f"{MAX_POWER_BITS * 3 // 10:,} digits)", loc)


class NoValueHere(ModelError):
    """The index of an outcome family, used at an outcome outside that family (``p`` of
    ``trade[p in ...]`` at ``no_trade``). A product with a factor that is 0 there
    (``[outcome != no_trade] * p``) is 0 all the same; otherwise this is the error."""


class Evaluator:
    """Evaluates the expressions of one model file against its ``scope``.

    ``state_indices`` (the state's coordinate indices, set once the state is declared)
    is what ``unit(j)`` refers to outside the state declaration."""

    def __init__(self, scope: Scope):
        self.scope = scope
        self.state_indices: tuple | None = None
        self._definitions_in_progress: list[str] = []

    # ------------------------------------------------------------------ entry points

    def evaluate(self, node: A.Expr, ctx: Context | None = None):
        """The value of ``node`` in ``ctx`` (no local names when omitted)."""
        method = getattr(self, "_eval_" + type(node).__name__)
        return method(node, ctx if ctx is not None else Context({}))

    def expand(self, clauses, ctx: Context, condition=None):
        """Every binding of the ``for`` clauses (nested, left to right), filtered by ``condition``."""
        if not clauses:
            if condition is None or self.truth(self.evaluate(condition, ctx), condition.loc):
                yield ctx
            return
        first, rest = clauses[0], clauses[1:]
        bound = self.scope.get(first.var)
        if bound is not None and bound.kind not in ("agents' index", "outcome index"):
            raise ModelError(f"the index '{first.var}' hides the {bound.kind} of that name; "
                             "choose another index name", first.loc)
        for value in self.elements(self.evaluate(first.iterable, ctx), first.iterable.loc):
            if isinstance(value, tuple):
                value = Family.of(value)
            yield from self.expand(rest, ctx.with_locals({first.var: value}), condition)

    def truth(self, value, loc) -> bool:
        """A condition that must be decidable where it is written."""
        if isinstance(value, bool):
            return value
        if isinstance(value, sympy.logic.boolalg.BooleanAtom):
            return bool(value)
        raise ModelError("this condition must be decidable here (it depends on the state or the outcome)", loc)

    def elements(self, value, loc) -> tuple:
        """The elements of a set, a range or a list, in order."""
        if isinstance(value, SetValue):
            return value.elements
        if isinstance(value, Family):
            return value.entries
        raise ModelError(f"expected a set, a range a..b or a list, got {show(value)}", loc)

    def number(self, value, loc, what: str) -> sympy.Expr:
        """``value`` as one SymPy expression; ``what`` names it in the error otherwise."""
        if isinstance(value, sympy.Expr):
            if value.has(sympy.zoo, sympy.nan):
                raise ModelError(f"{what} is undefined here (division by zero)", loc)
            return value
        if isinstance(value, (bool, sympy.logic.boolalg.Boolean)):
            raise ModelError(f"{what} must be a number, got a condition: write [condition] for 1 if it holds, "
                             "0 if not", loc)
        if isinstance(value, OutcomeValue):
            raise ModelError(f"{what} must be a number, got the outcome {value.name}: write [outcome == "
                             f"{value.name}] for 1 at that outcome, 0 elsewhere", loc)
        raise ModelError(f"{what} must be a single number, got {show(value)}", loc)

    def equal(self, a, b, loc) -> bool:
        """Exact equality of two values (numbers that are not rational to 25 digits)."""
        if isinstance(a, Family) and isinstance(b, Family):
            return len(a.entries) == len(b.entries) and all(self.equal(x, y, loc) is True
                                                            for x, y in zip(a.entries, b.entries))
        if isinstance(a, tuple) or isinstance(b, tuple):
            a = Family.of(a) if isinstance(a, tuple) else a
            b = Family.of(b) if isinstance(b, tuple) else b
            return self.equal(a, b, loc)
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

    # ------------------------------------------------------------------ names and definitions

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
        if name in ctx.at_outcome:
            return ctx.at_outcome[name]
        if name == "inf":
            return sympy.oo
        binding = self.scope.get(name)
        if binding is None:
            candidates = list(ctx.locals) + self.scope.names()
            close = difflib.get_close_matches(name, candidates, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            if name in FUNCTIONS:
                hint = f"; {name} is a function: write {name}(...)"
            raise ModelError(f"unknown name '{name}'{hint}", node.loc)
        if binding.kind == "agents' index":
            raise ModelError(f"the agents' index '{name}' has a value only inside `utility[{name}] = ...`; "
                             f"elsewhere sum over agents, e.g. sum(... for j in 1..N)", node.loc)
        if binding.value is PENDING:
            if binding.unavailable is not None:
                error = NoValueHere if binding.kind == "outcome index" and ctx.outcome is not None else ModelError
                raise error(binding.unavailable(ctx), node.loc)
            raise ModelError(f"'{name}' ({binding.kind}, line {binding.loc.line}) cannot be used here: it has no "
                             "value yet at this point of the model", node.loc)
        if binding.kind in ("mechanism", "information structure"):
            raise ModelError(f"'{name}' is {with_article(binding.kind)}, not a number", node.loc)
        value = binding.value
        if isinstance(value, LetFunction):
            if value.stmt.params:
                return value
            return self._definition(value.stmt, (), ctx, node.loc)
        return value

    def _definition(self, stmt: A.LetStmt, args: tuple, ctx: Context, loc: Location):
        if stmt.name in self._definitions_in_progress:
            raise ModelError(f"the definition of '{stmt.name}' refers to itself", loc)
        if len(args) != len(stmt.params):
            raise ModelError(f"'{stmt.name}' takes {len(stmt.params)} index(es), got {len(args)}", loc)
        self._definitions_in_progress.append(stmt.name)
        try:
            return self.evaluate(stmt.value, ctx.only(dict(zip(stmt.params, args))))
        finally:
            self._definitions_in_progress.pop()

    def _eval_Index(self, node: A.Index, ctx):
        base = self.evaluate(node.base, ctx)
        if isinstance(base, Family) and base.indices and isinstance(base.indices[0], tuple):
            return self._at_indices(base, node, ctx)
        if isinstance(base, Family) and len(node.indices) == 1 and not all(isinstance(k, int) for k in base.indices):
            return self._at_number(base, node, ctx)
        args = [self.evaluate(i, ctx) for i in node.indices]
        if isinstance(base, LetFunction):
            return self._definition(base.stmt, tuple(args), ctx, node.loc)
        if not isinstance(base, Family):
            raise ModelError(f"{show(base)} has no indices", node.base.loc)
        if len(args) != 1:
            raise ModelError(f"{base.name} takes one index, got {len(args)}", node.loc)
        j = whole_number(args[0], "an index", node.indices[0].loc)
        if j not in base.indices:
            raise ModelError(f"index out of range: {base.name}[{j}] does not exist (its indices are "
                             f"{describe_indices(base.indices)})", node.indices[0].loc)
        return base.entries[base.indices.index(j)]

    def _at_indices(self, base: Family, node: A.Index, ctx):
        """A family with several indices (``q[i, l]`` of ``allocate q[i, l in 1..L]``)."""
        arity = len(base.indices[0])
        if len(node.indices) != arity:
            names = base.index_names if len(base.index_names) == arity else tuple(f"j{p + 1}" for p in range(arity))
            raise ModelError(f"{base.name} has {arity} indices, got {len(node.indices)}: write "
                             f"{base.name}[{', '.join(names)}]", node.loc)
        key = tuple(whole_number(self.evaluate(i, ctx), "an index", i.loc) for i in node.indices)
        if key not in base.indices:
            bad = next((i for p, i in enumerate(node.indices) if key[p] not in {t[p] for t in base.indices}),
                       node.indices[0])
            names = base.index_names
            if len(names) == arity:
                ranges = " and ".join(f"{n} in {describe_indices(dict.fromkeys(t[p] for t in base.indices))}"
                                      for p, n in enumerate(names))
                known = f"{base.name}[{', '.join(names)}] has {ranges}"
            else:
                known = f"its indices are {describe_index_grid(base.indices)}"
            raise ModelError(f"index out of range: {base.name}[{', '.join(str(k) for k in key)}] does not exist "
                             f"({known})", bad.loc)
        return base.entries[base.indices.index(key)]

    def _at_number(self, base: Family, node: A.Index, ctx):
        """A family indexed by numbers other than integers (an outcome family ``Q[q in grid(0, 1, 3)]``)."""
        key = self.number(self.evaluate(node.indices[0], ctx), node.indices[0].loc, "an index")
        for k, entry in zip(base.indices, base.entries):
            if self.equal(sympy.sympify(k), key, node.loc) is True:
                return entry
        raise ModelError(f"index out of range: {base.name}[{key}] does not exist (its indices are "
                         f"{describe_indices(base.indices)})", node.indices[0].loc)

    # ------------------------------------------------------------------ functions

    def _eval_Call(self, node: A.Call, ctx):
        f = node.func
        if f not in FUNCTIONS:
            close = difflib.get_close_matches(f, FUNCTIONS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (functions: {', '.join(FUNCTIONS)})"
            raise ModelError(f"unknown function '{f}'{hint}", node.loc)
        if node.generator is not None:
            g = node.generator
            values = [self.evaluate(g.expr, c) for c in self.expand(g.clauses, ctx, g.condition)]
        else:
            values = [self.evaluate(a, ctx) for a in node.args]
            if f in ("sum", "min", "max", "count") and len(values) == 1 and isinstance(values[0], (Family, SetValue)):
                values = list(self.elements(values[0], node.args[0].loc))
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
            scalars = [self.number(v, node.loc, f"an argument of {f}") for v in values]
            return (sympy.Min if f == "min" else sympy.Max)(*scalars)
        if f in _FUNCTIONS_OF_ONE:
            if len(values) != 1:
                raise ModelError(f"{f} takes one argument", node.loc)
            return _FUNCTIONS_OF_ONE[f](self.number(values[0], node.loc, f"the argument of {f}"))
        if f == "unit":
            return self._unit(values, node, ctx)
        if f == "grid":
            return self._grid(values, node)
        if f == "product":
            sets = [self.elements(v, node.loc) for v in values]
            total = 1
            for x in sets:
                total *= len(x)
            _check_size(total, 1, "this product", node.loc)
            return SetValue(tuple(sum((flat(e) for e in combo), ()) for combo in itertools.product(*sets)))
        raise AssertionError(f)  # pragma: no cover

    def _unit(self, values, node: A.Call, ctx):
        if len(values) != 1:
            raise ModelError("unit(j) takes one index", node.loc)
        indices = ctx.unit or self.state_indices
        if not indices:
            raise ModelError("unit(j) is the j-th unit vector of the state: declare the state with indexed "
                             "coordinates first, e.g. `state theta[1..N] in {...}`", node.loc)
        j = whole_number(values[0], "an index", node.loc)
        if j not in indices:
            raise ModelError(f"index out of range: unit({j}) for a state with coordinates "
                             f"{describe_indices(indices)}", node.loc)
        return Family(tuple(sympy.Integer(1 if k == j else 0) for k in indices), tuple(indices), "unit vector")

    def _grid(self, values, node: A.Call):
        if len(values) != 3:
            raise ModelError("grid(lo, hi, n) takes three arguments: n evenly spaced points from lo to hi", node.loc)
        lo, hi = (self.number(v, node.loc, "a grid end") for v in values[:2])
        n = whole_number(values[2], "the number of grid points", node.args[2].loc)
        if n < 1 or (n == 1 and lo != hi):
            raise ModelError(f"grid({lo}, {hi}, n) needs n >= 2 points, got {n}", node.args[2].loc)
        if n > MAX_ELEMENTS:
            raise ModelError(f"grid(lo, hi, n) with n = {_digits(n)} points; at most {MAX_ELEMENTS:,} are supported",
                             node.args[2].loc)
        if n == 1:
            return SetValue((lo,))
        return SetValue(tuple(lo + (hi - lo) * sympy.Rational(m, n - 1) for m in range(n)))

    # ------------------------------------------------------------------ arithmetic and logic

    def _eval_BinOp(self, node: A.BinOp, ctx):
        if node.op in _CHAINS:
            # a chain a + b - c + ... is as deep as it is long: walk its left spine without recursion
            chain: list[A.BinOp] = []
            ops = _CHAINS[node.op]
            first: A.Expr = node
            while isinstance(first, A.BinOp) and first.op in ops:
                chain.append(first)
                first = first.left
            if ops == "*/":
                return self._product(first, chain, ctx)
            value = self.evaluate(first, ctx)
            for link in reversed(chain):
                value = self._arith(link.op, value, self.evaluate(link.right, ctx), link.loc)
            return value
        left = self.evaluate(node.left, ctx)
        right = self.evaluate(node.right, ctx)
        if node.op == "^" and isinstance(left, SetValue):
            n = whole_number(right, "a power of a set", node.right.loc)
            if n < 1:
                raise ModelError("a set power S^n needs n >= 1", node.right.loc)
            _check_size(len(left.elements), n, "this set power", node.loc)
            return SetValue(tuple(sum((flat(e) for e in combo), ())
                                  for combo in itertools.product(left.elements, repeat=n)))
        return self._arith(node.op, left, right, node.loc)

    def _product(self, first: A.Expr, chain: list[A.BinOp], ctx):
        """A chain ``a * b / c ...``; a factor without a value at this outcome (see
        :class:`NoValueHere`) leaves the product 0 when another factor is 0."""
        missing: NoValueHere | None = None
        try:
            value = self.evaluate(first, ctx)
        except NoValueHere as exc:
            missing, value = exc, sympy.Integer(1)
        for link in reversed(chain):
            try:
                right = self.evaluate(link.right, ctx)
            except NoValueHere as exc:
                missing = missing or exc
                continue
            value = self._arith(link.op, value, right, link.loc)
        if missing is not None:
            if isinstance(value, sympy.Expr) and value.is_zero is True:
                return sympy.Integer(0)
            raise missing
        return value

    def _arith(self, op, a, b, loc):
        if isinstance(a, Family) and isinstance(b, Family):
            if op not in "+-" or len(a.entries) != len(b.entries):
                raise ModelError(f"cannot apply {op} to two lists" + (" of different lengths" if op in "+-" else ""),
                                 loc)
            return Family(tuple(self._arith(op, x, y, loc) for x, y in zip(a.entries, b.entries)), a.indices, a.name)
        if isinstance(a, Family):
            return Family(tuple(self._arith(op, x, b, loc) for x in a.entries), a.indices, a.name)
        if isinstance(b, Family):
            if op not in "+*":
                raise ModelError(f"cannot apply {op} with a list on the right", loc)
            return Family(tuple(self._arith(op, a, y, loc) for y in b.entries), b.indices, b.name)
        x = self.number(a, loc, "an operand")
        y = self.number(b, loc, "an operand")
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
        _check_power(x, y, loc)
        result = x ** y
        if result.has(sympy.zoo, sympy.nan):
            raise ModelError("undefined power (0 to a negative power)", loc)
        return result

    def _eval_Neg(self, node: A.Neg, ctx):
        return self._arith("*", sympy.Integer(-1), self.evaluate(node.operand, ctx), node.loc)

    def _eval_Compare(self, node: A.Compare, ctx):
        a = self.evaluate(node.left, ctx)
        b = self.evaluate(node.right, ctx)
        if node.op == "in":
            members = self.elements(b, node.right.loc)
            return any(self.equal(a, m, node.loc) is True for m in members)
        if isinstance(a, OutcomeValue) or isinstance(b, OutcomeValue):
            if not (isinstance(a, OutcomeValue) and isinstance(b, OutcomeValue)):
                other = b if isinstance(a, OutcomeValue) else a
                raise ModelError(f"cannot compare an outcome with {show(other)}", node.loc)
            if node.op not in ("==", "!="):
                raise ModelError("outcomes are compared with == or !=", node.loc)
            return (a.name == b.name) == (node.op == "==")
        if isinstance(a, Family) or isinstance(b, Family):
            if node.op not in ("==", "!="):
                raise ModelError("lists are compared with == or !=", node.loc)
            return (self.equal(a, b, node.loc) is True) == (node.op == "==")
        x = self.number(a, node.left.loc, "a compared value")
        y = self.number(b, node.right.loc, "a compared value")
        result = _RELATIONS[node.op](x, y)
        if isinstance(result, sympy.logic.boolalg.BooleanAtom):
            return bool(result)
        return result

    def _eval_BoolOp(self, node: A.BoolOp, ctx):
        a = self._condition(self.evaluate(node.left, ctx), node.left.loc)
        b = self._condition(self.evaluate(node.right, ctx), node.right.loc)
        if isinstance(a, bool) and isinstance(b, bool):
            return (a and b) if node.op == "and" else (a or b)
        result = (sympy.And if node.op == "and" else sympy.Or)(a, b)
        return bool(result) if isinstance(result, sympy.logic.boolalg.BooleanAtom) else result

    def _eval_Not(self, node: A.Not, ctx):
        a = self._condition(self.evaluate(node.operand, ctx), node.operand.loc)
        return (not a) if isinstance(a, bool) else sympy.Not(a)

    def _condition(self, value, loc):
        if is_condition(value):
            return value
        raise ModelError(f"expected a condition (a comparison), got {show(value)}", loc)

    def _eval_Bracket(self, node: A.Bracket, ctx):
        value = self.evaluate(node.expr, ctx)
        if isinstance(value, bool):
            return sympy.Integer(1 if value else 0)
        if is_condition(value):
            return sympy.Piecewise((sympy.Integer(1), value), (sympy.Integer(0), True))
        return Family.of([value])

    # ------------------------------------------------------------------ collections

    def _eval_Range(self, node: A.Range, ctx):
        lo = whole_number(self.evaluate(node.lo, ctx), "the start of a range", node.lo.loc)
        hi = whole_number(self.evaluate(node.hi, ctx), "the end of a range", node.hi.loc)
        if hi - lo + 1 > MAX_ELEMENTS:
            raise ModelError(f"this range has {_digits(hi - lo + 1)} elements; at most {MAX_ELEMENTS:,} are supported",
                             node.loc)
        return SetValue(tuple(sympy.Integer(v) for v in range(lo, hi + 1)))

    def _eval_ListLit(self, node: A.ListLit, ctx):
        return Family.of([self.evaluate(i, ctx) for i in node.items])

    def _eval_TupleLit(self, node: A.TupleLit, ctx):
        return Family.of([self.evaluate(i, ctx) for i in node.items], "this tuple")

    def _eval_SetLit(self, node: A.SetLit, ctx):
        return SetValue(unique(set_element(self.evaluate(i, ctx)) for i in node.items))

    def _eval_SetComp(self, node: A.SetComp, ctx):
        g = node.generator
        return SetValue(unique(set_element(self.evaluate(g.expr, c)) for c in self.expand(g.clauses, ctx, g.condition)))

    def _eval_TableLit(self, node: A.TableLit, ctx):
        keys, values, locs = [], [], []
        seen = set()
        for e in node.entries:
            key = self.evaluate(e.key, ctx)
            if set_element(key) in seen:
                raise ModelError(f"duplicate entry {show(key)} in this table", e.key.loc)
            seen.add(set_element(key))
            keys.append(key)
            values.append(self.evaluate(e.value, ctx))
            locs.append(e.value.loc)
        return TableValue(tuple(keys), tuple(values), tuple(locs))

    def _eval_TableComp(self, node: A.TableComp, ctx):
        keys, values, locs = [], [], []
        for c in self.expand(node.clauses, ctx, node.condition):
            keys.append(self.evaluate(node.entry.key, c))
            values.append(self.evaluate(node.entry.value, c))
            locs.append(node.entry.value.loc)
        return TableValue(tuple(keys), tuple(values), tuple(locs))
