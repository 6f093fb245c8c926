"""Elaboration: give a parsed model file its meaning as an :class:`Environment`.

The elaborator resolves names (:mod:`~robustmech.model.scope`), evaluates expressions
exactly (:mod:`~robustmech.model.evaluate`: SymPy rationals, ``0.4`` is 2/5), and declares
everything through :class:`~robustmech.model.environment.ModelBuilder`, passing the
``location`` of each statement, so that every check of the builder names
``file:line:col``. The language is described in ``docs/language.md``; the environment is
that of 004 Section 2: (N, Θ, μ, Ω, u, w).

Payoffs over a finite outcome set are evaluated once per outcome, with the reserved
word ``outcome`` bound to it: ``[outcome == paid_by[i]]`` is 1 at ``paid_by[i]`` and 0
elsewhere, which gives the per-outcome table u_i(ω, θ) that the builder takes.

Data files (``mechanism M from "file"``, ``information I from "file"``) are read by the
:class:`~robustmech.model.data.DataLoader` passed in; :func:`robustmech.load_model` passes
the one that reads saved results and ``.npz`` files.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np
import sympy

from ..dsl import ast as A
from ..errors import Location, ModelError, UnsupportedError
from .continuous import ContinuousPrior, Piece, discretise, make_piece
from .data import DataLoader
from .declared_objects import DeclaredObjects
from .environment import Environment, ModelBuilder, is_affine
from .scope import Context
from .statements import CommonStatements, note_overrides
from .values import (
    Family,
    OutcomeValue,
    SetValue,
    TableValue,
    point_label,
    show,
    state_point,
    whole_number,
)

__all__ = ["elaborate"]


def elaborate(ast: A.ModelAST, overrides: Mapping[str, Any] | None = None, source: str | None = None,
              loader: DataLoader | None = None) -> Environment:
    """The Environment a parsed model describes, with ``overrides`` (``--param``
    values, as strings or numbers) replacing the declared parameter defaults.

    ``loader`` reads the model's data files (``mechanism M from "file"``); without one, a
    model that reads a data file is refused (load it with :func:`robustmech.load_model`)."""
    marker = next((s for s in ast.statements if isinstance(s, (A.TypesStmt, A.IncentiveStmt, A.ParticipationStmt))),
                  None)
    if marker is not None:  # a model of 000: robustmech.model.elaborate_prior_free
        raise UnsupportedError(f"{marker.loc}: this is a prior-free model: use robustmech refine "
                               "(it declares `types`, `ic` or `participation`: the environments of 000)")
    try:
        return _BayesianElaborator(ast, overrides or {}, source if source is not None else ast.source, loader).run()
    except ModelError as exc:
        raise note_overrides(exc, ast, overrides or {}) from None


#: the kinds of `restrict` (robustmech.programs.restrictions); standard mechanisms a mixture may name
RESTRICTION_KINDS = ("anonymous", "aggregate", "no_transfers_to_losers", "budget_balanced", "mixture")
MIXTURE_STANDARD = ("first_price", "second_price", "all_pay", "proportional_cost_sharing")

#: the most payoff table entries ((agents + 1) x outcomes) a model may have; every program
#: on X(k) has at least 2^N profiles, so the models that can be solved are far smaller
MAX_PAYOFF_ENTRIES = 100_000
#: the most agents of a Bayesian model (their states and payoff tables are built before any check of a program)
MAX_AGENTS = 200


class _BayesianElaborator:
    """The statements of a Bayesian model (states, prior, outcomes, mechanisms,
    information, directives) on top of the statements every model has."""

    def __init__(self, ast: A.ModelAST, overrides: Mapping[str, Any], source: str | None, loader: DataLoader | None):
        self.ast = ast
        self.overrides = overrides
        self.source = source
        self.loader = loader
        self.state_symbols: tuple[sympy.Symbol, ...] = ()
        self.state_points: list[tuple] = []
        self.state_labels: list[str] = []
        self.outcome_names: list[str] | None = None
        self.outcome_index: dict[str, tuple[str, Any]] = {}  # member -> (index name, its value there)
        self.claimed_indices: set[str] = set()
        self.index_families: dict[str, list[str]] = {}  # index name -> the outcome families it indexes

    def run(self) -> Environment:
        stmts = self.ast.statements
        common = self.common = CommonStatements(self.ast, self.overrides, self.source, ModelBuilder)
        self.b, self.evaluate = common.builder, common.evaluate
        self.number, self.elements = common.number, common.elements
        common.scope.claim_declarations(stmts)
        self._claim_outcome_indices(stmts)
        common.declare_params_agents_lets(stmts)
        if len(common.agent_numbers) > MAX_AGENTS:
            where = next((s.loc for s in stmts if isinstance(s, (A.AgentsRange, A.AgentsNamed))), common.start)
            raise ModelError(f"{len(common.agent_numbers):,} agents: at most {MAX_AGENTS} are supported (a program "
                             f"on X(k) has at least 2^N profiles)", where)
        common.guard(self._states, [s for s in stmts if isinstance(s, A.StateStmt)])
        self._prior([s for s in stmts if isinstance(s, A.PriorStmt)])
        common.guard(self._outcomes, [s for s in stmts if isinstance(s, A.OutcomeStmt)], stmts)
        for s in stmts:
            if isinstance(s, A.ConstraintStmt):
                common.guard(self._constraint, s)
        self._check_payoff_size(stmts)
        common.declare_utilities(stmts, self._payoff)
        common.declare_designer(stmts, self._payoff,
                                "the model has no designer objective: add a line `designer = EXPR`")
        finite = self.outcome_names is not None
        objects = DeclaredObjects(common, self.loader,
                                  tuple(self.outcome_names) if self.outcome_names is not None
                                  else tuple(v.name for v in common.variables),
                                  finite, self.state_labels, self.state_points, self._probability)
        for s in stmts:
            if isinstance(s, A.MechanismStmt):
                common.guard(objects.mechanism, s)
            elif isinstance(s, A.InformationStmt):
                common.guard(objects.information, s)
        for s in stmts:
            if isinstance(s, A.BaselineStmt):  # after the information structures it may name
                common.guard(objects.baseline, s)
        for s in stmts:
            if isinstance(s, A.RestrictStmt):
                common.guard(self._restrict, s)
        self._check_mixture_alone([s for s in stmts if isinstance(s, A.RestrictStmt)])
        for s in stmts:
            if isinstance(s, A.DirectiveStmt):
                common.guard(self._directive, s)
        return self.b.build()

    # ------------------------------------------------------------------ states and prior

    def _states(self, stmts) -> None:
        start = self.common.start
        if not stmts:
            raise ModelError("no state set declared: write e.g. `state v in grid(0, 1, 11)`", start)
        if len(stmts) > 1:
            raise ModelError("the state set is declared twice: declare one state set; for several coordinates "
                             "write `state (a, b) in product(A, B)` or `state v[1..N] in S^N`", stmts[1].loc)
        s = stmts[0]
        if s.kind == "indexed":
            indices = [whole_number(v, "a state index", s.index_range.loc)
                       for v in self.elements(self.evaluate(s.index_range), s.index_range.loc)]
            if not indices:
                raise ModelError("the state has no coordinates: its index range is empty", s.index_range.loc)
            names = [f"{s.names[0]}[{j}]" for j in indices]
        else:
            indices = list(range(1, len(s.names) + 1))
            names = list(s.names)
        self.common.evaluator.state_indices = tuple(indices)
        value = self.evaluate(s.points, Context({}, unit=tuple(indices)))
        elements = self.elements(value, s.points.loc)
        points = [state_point(e, s.points.loc) for e in elements]  # the builder checks their dimension
        symbols = self.b.states(names, points, location=s.loc)
        self.state_symbols = symbols
        self.state_points = list(self.b._points)
        self.state_labels = list(self.b._labels)
        if s.kind == "indexed":
            self.common.scope.bind(s.names[0], Family(tuple(symbols), tuple(indices), s.names[0]))
        else:
            for n, sym in zip(s.names, symbols):
                self.common.scope.bind(n, sym)

    def _prior(self, stmts) -> None:
        if not stmts:
            return  # the builder reports a missing prior at the state declaration
        if len(stmts) > 1:
            raise ModelError("the prior is declared twice", stmts[1].loc)
        self.common.guard(lambda s: self._prior_spec(s.spec, s.loc), stmts[0])

    def _prior_spec(self, spec: A.PriorSpec, loc: Location) -> None:
        if spec.kind == "uniform":
            self.b.prior_uniform(location=loc)
        elif spec.kind == "set":
            self._prior_set(spec, loc)
        elif spec.kind == "density":
            self._prior_density(spec, loc)
        elif spec.kind == "penalty":
            expr = spec.expr
            assert expr is not None  # the parser gives a penalty its expression
            self.b.prior_penalty(self._state_function(expr, "a penalty"), location=loc)
        elif spec.kind == "continuous":
            self._prior_continuous(spec, loc)
        elif spec.kind == "independent":
            self.b.prior_product(self._marginal_tables(spec, "an independent prior"), location=loc)
        elif spec.kind == "marginals":
            self.b.prior_marginals(self._marginal_tables(spec, "`prior marginals`"), location=loc)
        else:  # table: a list in state order, or {state: probability}
            expr = spec.expr
            assert expr is not None  # the parser gives a table prior its expression
            value = self.evaluate(expr)
            if isinstance(value, TableValue):
                mapping = {}
                for key, p, ploc in zip(value.keys, value.values, value.locs):
                    point = state_point(key, ploc)
                    if point not in self.state_points:
                        raise ModelError(f"the prior names a state {point_label(point)} that is not in the state set",
                                         ploc)
                    mapping[point] = self._probability(p, ploc, point_label(point))
                self.b.prior(mapping, location=loc)
            elif isinstance(value, Family):
                items = expr.items if isinstance(expr, A.ListLit) else [expr] * len(value.entries)
                probs = [self._probability(p, item.loc, label)
                         for p, item, label in zip(value.entries, items, self.state_labels)]
                if len(value.entries) != len(self.state_points):
                    raise ModelError(f"the prior has {len(value.entries)} entries for {len(self.state_points)} states",
                                     expr.loc)
                self.b.prior(probs, location=loc)
            else:
                raise ModelError("a prior is `uniform`, a list of probabilities in state order, a table "
                                 "{state: probability, ...}, `independent ...` or `density EXPR`", spec.loc)

    def _prior_density(self, spec: A.PriorSpec, loc: Location) -> None:
        expr = spec.expr
        assert expr is not None  # the parser gives a density prior its expression
        values = self._state_function(expr, "a prior density")
        for label, v in zip(self.state_labels, values):
            if v < 0:
                raise ModelError(f"negative probability: the density is {v} at state {label}", expr.loc)
        self.b.prior(_normalise(values, expr.loc), location=loc)

    def _state_function(self, expr: A.Expr, what: str) -> list:
        """The exact real value of ``expr`` (state coordinates and parameters only) at each state."""
        ctx = Context({}, no_outcome="`outcome` cannot be used in a prior")
        function = self.number(self.evaluate(expr, ctx), expr.loc, what)
        values = []
        for point in self.state_points:
            v = function.subs(dict(zip(self.state_symbols, point))) \
                if function.free_symbols <= set(self.state_symbols) else None
            if v is None or not v.is_number or not v.is_real:
                raise ModelError(f"{what} may only use the state coordinates and parameters", expr.loc)
            values.append(v)
        return values

    def _prior_continuous(self, spec: A.PriorSpec, loc: Location) -> None:
        """``prior continuous D``: the distribution D of the state's one coordinate,
        discretised onto the state grid by integrating it over each point's cell
        (robustmech.model.continuous)."""
        dist = spec.dist
        assert dist is not None  # the parser gives a continuous prior its distribution
        if len(self.state_symbols) != 1:
            names = ", ".join(sym.name for sym in self.state_symbols)
            raise ModelError(f"a continuous prior is for a state with one coordinate; this state has "
                             f"{len(self.state_symbols)} ({names}): give a table, `independent` marginals or "
                             f"`density EXPR`", spec.loc)
        symbol = self.state_symbols[0]
        pieces, text = self._dist_pieces(dist, sympy.Integer(1), symbol)
        prior = ContinuousPrior(symbol, tuple(pieces), text, location=loc,
                                quadrature=any(p.antiderivative is None for p in pieces))
        masses = discretise(prior, [point[0] for point in self.state_points], dist.loc)
        self.b.prior_continuous(prior, _normalise(masses, dist.loc), location=loc)

    def _dist_number(self, expr: A.Expr, what: str) -> sympy.Expr:
        value = self.number(self.evaluate(expr), expr.loc, what)
        if value.free_symbols or not (value.is_real or value in (sympy.oo, -sympy.oo)):
            raise ModelError(f"{what} must be a number (parameters, not state coordinates)", expr.loc)
        return value

    def _dist_pieces(self, dist: A.ContinuousDist, weight, symbol) -> tuple[list[Piece], str]:
        """The pieces of ``dist`` (each weighted by ``weight`` times its own weight) and
        the distribution as text."""
        if dist.kind == "uniform":
            a, b = (self._dist_number(e, "an end of the interval") for e in dist.args)
            if a == -sympy.oo or b == sympy.oo:
                raise ModelError(f"uniform({a}, {b}): a uniform distribution needs a bounded interval", dist.loc)
            return [make_piece("uniform", weight, sympy.Integer(1), symbol, a, b, dist.loc, (a, b))], \
                f"uniform({a}, {b})"
        if dist.kind == "density":
            assert dist.expr is not None and dist.support is not None  # the parser sets both
            ctx = Context({}, no_outcome="`outcome` cannot be used in a prior")
            density = self.number(self.evaluate(dist.expr, ctx), dist.expr.loc, "a density")
            if density.free_symbols - {symbol}:
                raise ModelError(f"a density may only use the state coordinate {symbol} and parameters",
                                 dist.expr.loc)
            support = self.evaluate(dist.support)
            if not isinstance(support, Family) or len(support.entries) != 2:
                raise ModelError("the support of a density is an interval, written `on [lower, upper]`",
                                 dist.support.loc)
            a, b = (self.number(e, dist.support.loc, "an end of the support") for e in support.entries)
            if a.free_symbols or b.free_symbols:
                raise ModelError("the ends of the support must be numbers (parameters, not state coordinates)",
                                 dist.support.loc)
            return [make_piece("density", weight, density, symbol, a, b, dist.expr.loc)], \
                f"density {density} on [{a}, {'inf' if b == sympy.oo else b}]"
        if dist.kind == "named" and dist.name == "exponential":
            if len(dist.args) != 1:
                raise ModelError(f"exponential(rate) takes one number, got {len(dist.args)}", dist.loc)
            rate = self._dist_number(dist.args[0], "the rate of an exponential distribution")
            if not bool(rate > 0) or rate == sympy.oo:
                raise ModelError(f"the rate of an exponential distribution must be positive and finite, got {rate}",
                                 dist.args[0].loc)
            return [make_piece("exponential", weight, rate * sympy.exp(-rate * symbol), symbol, sympy.Integer(0),
                               sympy.oo, dist.loc, (rate,))], f"exponential({rate})"
        if dist.kind == "mixture" and dist.name == "mixture":
            weights = [self._probability(self._dist_number(w, "a weight"), w.loc) for w, _ in dist.parts]
            total = sum(weights, sympy.Integer(0))
            if total != 1:
                raise ModelError(f"the weights of the mixture sum to {total}, not 1", dist.loc)
            pieces, texts = [], []
            for w, (_, part) in zip(weights, dist.parts):
                if part.kind == "mixture":
                    raise ModelError("a mixture's parts are single distributions (write the mixture out flat)",
                                     part.loc)
                more, text = self._dist_pieces(part, weight * w, symbol)
                pieces += more
                texts.append(f"{w}: {text}")
            return pieces, "mixture {" + ", ".join(texts) + "}"
        known = ("uniform", "exponential", "density", "mixture")
        close = difflib.get_close_matches(dist.name, known, n=1, cutoff=0.75)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ModelError(f"unknown distribution '{dist.name}'{hint} (a continuous prior is uniform(a, b), "
                         f"exponential(rate), density EXPR on [a, b] or mixture {{w: D, ...}})", dist.name_loc)

    def _prior_set(self, spec: A.PriorSpec, loc: Location) -> None:
        """``prior in { P1, P2, ... }``: each member is a prior in any single form, checked
        as a prior is (on a scratch builder with the same states); the set is their convex
        hull (:meth:`ModelBuilder.prior_hull`)."""
        members = []
        builder = self.b
        for j, member in enumerate(spec.members, start=1):
            scratch = ModelBuilder(builder.name, path=builder.path)
            scratch._state_symbols, scratch._points, scratch._labels = (builder._state_symbols, builder._points,
                                                                       builder._labels)
            self.b = scratch
            try:
                self._prior_spec(member, member.loc)
            except ModelError as exc:
                raise ModelError(f"prior {j} of the set: {exc.message}", exc.location or member.loc) from None
            finally:
                self.b = builder
            assert scratch._prior is not None  # every single form sets the prior or raises
            members.append(scratch._prior)
        self.b.prior_hull(members, location=loc)

    def _marginal_tables(self, spec: A.PriorSpec, what: str) -> list[dict]:
        """The marginals of ``prior independent ...`` / ``prior marginals ...``: one table
        {value: probability} per state coordinate (``uniform``: uniform over the values
        the coordinate takes in Θ); one marginal given for several coordinates is repeated."""
        dims = len(self.state_symbols)
        marginals = list(spec.marginals)
        if len(marginals) == 1 and dims > 1:
            marginals = marginals * dims
        if len(marginals) != dims:
            names = ", ".join(sym.name for sym in self.state_symbols)
            raise ModelError(f"{what} needs one marginal per state coordinate ({dims}: {names}), "
                             f"got {len(marginals)}", spec.loc)
        tables = []
        for c, m in enumerate(marginals):
            values = sorted({p[c] for p in self.state_points}, key=lambda x: float(x))
            if m is None:
                tables.append({v: sympy.Rational(1, len(values)) for v in values})
                continue
            table = self.evaluate(m)
            if not isinstance(table, TableValue):
                raise ModelError("a marginal is written `uniform` or as a table {value: probability, ...}", m.loc)
            probs = {}
            for key, p, ploc in zip(table.keys, table.values, table.locs):
                p = self._probability(p, ploc)
                value = self.number(key, ploc, "a coordinate value")
                if p != 0 and value not in values:
                    raise ModelError(f"the marginal of {self.state_symbols[c].name} gives probability {p} to the "
                                     f"value {value}, which no state has", ploc)
                probs[value] = p
            total = sum(probs.values(), sympy.Integer(0))
            if total != 1:
                raise ModelError(f"the marginal of {self.state_symbols[c].name} sums to {total}, not 1", m.loc)
            tables.append(probs)
        return tables

    def _probability(self, p, loc, label: str | None = None):
        p = self.number(p, loc, "a probability")
        if p.free_symbols:
            raise ModelError("a probability must be a number", loc)
        if p < 0:
            raise ModelError(f"negative probability {p}" + (f" for state {label}" if label else ""), loc)
        return p

    # ------------------------------------------------------------------ outcomes

    def _claim_outcome_indices(self, stmts) -> None:
        """The index of an outcome family (``p`` of ``trade[p in {0.25, 0.5}]``) names, in
        payoffs, the value of the outcome being evaluated. It is a new name (several
        families may share one), or the agents' index, which keeps its meaning in
        payoffs (``paid_by[i in 1..N]``: there the index only lists the family)."""
        scope = self.common.scope
        for s in stmts:
            if not isinstance(s, A.OutcomeStmt):
                continue
            for d in s.decls:
                if d.var is not None:
                    self.index_families.setdefault(d.var, []).append(d.name)
                if d.var is None or d.var in self.claimed_indices:
                    continue
                bound = scope.get(d.var)
                if bound is not None and bound.kind == "agents' index":
                    continue
                if bound is not None:
                    raise ModelError(f"the index '{d.var}' of the outcome family {d.name} hides the {bound.kind} of "
                                     "that name; choose another index name", d.loc)
                scope.claim(d.var, "outcome index", d.loc, unavailable=partial(self._outcome_index_unbound, d.var))
                self.claimed_indices.add(d.var)

    def _outcome_index_unbound(self, var: str, ctx: Context) -> str:
        decl = ", ".join(f"{f}[{var} in ...]" for f in self.index_families.get(var, []))
        where = (f"; here the outcome is {ctx.outcome.name}" if ctx.outcome is not None else
                 " (in utilities, the designer objective and definitions they use)")
        return f"'{var}' is the index of the outcome family {decl}: it has a value only at those outcomes{where}"

    def _family_values(self, d: A.OutcomeDecl) -> list:
        """The values indexing the outcome family ``d``, each a number, none twice."""
        assert d.range is not None and d.var is not None
        if isinstance(d.range, A.SetLit):  # a set literal drops repeats: check them as written
            items = [(self.evaluate(item), item.loc) for item in d.range.items]
        else:
            items = [(v, d.range.loc) for v in self.elements(self.evaluate(d.range), d.range.loc)]
        values: list = []
        for v, loc in items:
            if not (isinstance(v, sympy.Expr) and v.is_number and v.is_real and v.is_finite):
                raise ModelError(f"an outcome index must be a number, got {show(v)}", loc)
            if any(self.common.evaluator.equal(v, w, loc) for w in values):
                raise ModelError(f"the outcome family {d.name} has the index value {v} twice: each outcome "
                                 f"{d.name}[{d.var} in ...] needs its own value", loc)
            values.append(int(v) if v.is_integer else v)
        if not values:
            raise ModelError(f"the outcome family {d.name} is empty", d.range.loc)
        return values

    def _outcomes(self, finite: list, stmts) -> None:
        common = self.common
        if finite:
            names = []
            for s in finite:
                for d in s.decls:
                    if d.var is None:
                        names.append(d.name)
                        common.scope.bind(d.name, OutcomeValue(d.name))
                        continue
                    values = self._family_values(d)
                    members = [f"{d.name}[{v}]" for v in values]
                    if d.var in self.claimed_indices:
                        for m, v in zip(members, values):
                            self.outcome_index[m] = (d.var, sympy.sympify(v))
                    names += members
                    common.scope.bind(d.name, Family(tuple(OutcomeValue(m) for m in members), tuple(values), d.name))
            self.outcome_names = names
            self.b.finite_outcomes(names, location=finite[0].loc)
        for s in stmts:
            if isinstance(s, A.AllocateStmt):
                common.guard(self._allocate, s)
            elif isinstance(s, A.TransferStmt):
                common.guard(self._transfer, s)
            elif isinstance(s, A.VariableStmt):
                common.guard(self._variable, s)

    def _family_size(self, index: A.IndexDecl, what: str) -> list[int]:
        agent_var = self.common.agent_var
        if index.range is None:
            if index.var != agent_var:
                raise ModelError(f"unknown index '{index.var}': write {what}[{agent_var or 'i'}] for one per agent, "
                                 f"or {what}[{index.var} in 1..M]", index.loc)
            return list(self.common.agent_numbers)
        return [whole_number(v, "an index", index.range.loc)
                for v in self.elements(self.evaluate(index.range), index.range.loc)]

    def _one_agent(self, s, word: str) -> None:
        """A scalar ``allocate q`` / ``transfer t`` is the one agent's."""
        n = len(self.common.agent_numbers)
        if n != 1:
            index = self.common.agent_var or "i"
            raise ModelError(f"`{word} {s.name}` without an index is for a model with one agent; this one has {n} "
                             f"agents: write `{word} {s.name}[{index}]` for one per agent", s.loc)

    def _allocate(self, s: A.AllocateStmt) -> None:
        common = self.common
        if s.index is None:  # the one agent's allocation
            self._one_agent(s, "allocate")
            common.allocation_lower(s)
            sym = self.b.variable(s.name, lower=0, role="allocation", location=s.loc)
            common.bind_variable(s.name, sym)
            self._allocation_with(s, [sym])
            return
        if s.more_indices:
            self._allocate_indices(s)
            return
        indices = self._family_size(s.index, s.name)
        if indices != list(range(1, len(indices) + 1)):
            raise ModelError("the indices of an allocation run 1..n", s.index.loc)
        if s.total is None or common.is_simple_total(s):
            total = common.allocation_total(s)
            syms = self.b.allocation(s.name, len(indices), total=total, location=s.loc)
            common.bind_variables(s.name, syms, indices)
            return
        common.allocation_lower(s)
        syms = self.b.allocation(s.name, len(indices), total=None, location=s.loc)
        common.bind_variables(s.name, syms, indices)
        self._allocation_with(s, syms)

    def _allocate_indices(self, s: A.AllocateStmt) -> None:
        """``allocate q[i, l in 1..L] >= 0 with ... for l in 1..L``: one allocation variable
        per index tuple, listed as one ``allocate`` statement per value of the other
        indices would list them (those indices in order, the first slowest; within each,
        the agents in order), with lower bound 0 and the ``with`` constraints."""
        common = self.common
        decls = s.indices
        seen: dict[str, A.IndexDecl] = {}
        for d in decls:
            if d.var in seen:
                raise ModelError(f"the index '{d.var}' appears twice in {s.name}[...]: give each index its own name",
                                 d.loc)
            seen[d.var] = d
        agent = [p for p, d in enumerate(decls) if d.range is None]
        for p in agent:
            d = decls[p]
            if d.var != common.agent_var:
                raise ModelError(f"unknown index '{d.var}': an index other than the agents' needs its values, e.g. "
                                 f"{s.name}[{', '.join(x.var if x is not d else x.var + ' in 1..L' for x in decls)}]",
                                 d.loc)
        if len(agent) > 1:
            raise ModelError(f"the agents' index '{common.agent_var}' appears twice in {s.name}[...]",
                             decls[agent[1]].loc)
        values = []
        for d in decls:
            if d.range is None:
                values.append(list(common.agent_numbers))
                continue
            vs = [whole_number(v, "an index", d.range.loc) for v in self.elements(self.evaluate(d.range), d.range.loc)]
            if not vs:
                raise ModelError(f"the index '{d.var}' of {s.name} has no values", d.range.loc)
            if len(set(vs)) != len(vs):
                raise ModelError(f"the index '{d.var}' of {s.name} lists a value twice", d.range.loc)
            values.append(vs)
        if s.total is not None and _sums_whole_family(s.total, s.name):
            raise ModelError(f"sum({s.name}) adds {s.name} over all its indices; for one constraint per good write "
                             f"e.g. `with sum({s.name}[j, l] for j in 1..N) <= 1 for l in 1..L`, and for a total "
                             f"over everything sum({s.name}[j, l] for j in 1..N for l in 1..L)", s.total.loc)
        common.allocation_lower(s)
        others = [p for p in range(len(decls)) if p not in agent]
        keys: list[tuple] = []
        for outer in itertools.product(*(values[p] for p in others)):
            if not agent:
                keys.append(tuple(outer))
                continue
            for a in values[agent[0]]:
                key = list(outer)
                key.insert(agent[0], a)
                keys.append(tuple(key))
        syms = [self.b.variable(f"{s.name}[{','.join(str(k) for k in key)}]", lower=0, role="allocation",
                                location=s.loc) for key in keys]
        common.scope.bind(s.name, Family(tuple(syms), tuple(keys), s.name, tuple(d.var for d in decls)))
        common.variables += syms
        self._allocation_with(s, syms)

    def _allocation_with(self, s: A.AllocateStmt, syms) -> None:
        for rel in self.common.allocation_with(s, syms):
            self.b.constraint(rel, location=s.loc)

    def _transfer(self, s: A.TransferStmt) -> None:
        if s.index is None:  # the one agent's transfer
            self._one_agent(s, "transfer")
            self.common.bind_variable(s.name, self.b.variable(s.name, role="transfer", location=s.loc))
            return
        indices = self._family_size(s.index, s.name)
        if indices != list(range(1, len(indices) + 1)):
            raise ModelError("the indices of a transfer run 1..n", s.index.loc)
        syms = self.b.transfer(s.name, len(indices), location=s.loc)
        self.common.bind_variables(s.name, syms, indices)

    def _variable(self, s: A.VariableStmt) -> None:
        common = self.common
        if s.index is None:
            lo, hi = common.variable_bounds(s)
            common.bind_variable(s.name, self.b.variable(s.name, lo, hi, role="variable", location=s.loc))
            return
        indices = self._family_size(s.index, s.name)
        syms = []
        for j in indices:
            lo, hi = common.variable_bounds(s, Context({s.index.var: sympy.Integer(j)}))
            syms.append(self.b.variable(f"{s.name}[{j}]", lo, hi, role="variable", location=s.loc))
        common.bind_variables(s.name, syms, indices)

    def _constraint(self, s: A.ConstraintStmt) -> None:
        for rel in self.common.constraint_relations(s):
            if self.outcome_names is not None:
                raise ModelError("constraints restrict outcome variables; this model has a finite outcome set",
                                 s.loc)
            self.b.constraint(rel, location=s.loc)

    # ------------------------------------------------------------------ payoffs

    def _check_payoff_size(self, stmts) -> None:
        """Refuse payoff tables too large to evaluate (2,000 agents of the public good
        are 4 million table entries: an hour of symbolic arithmetic)."""
        agents = len(self.common.agent_numbers)
        per_agent = len(self.outcome_names) if self.outcome_names is not None else len(self.common.variables)
        entries = (agents + 1) * per_agent
        if entries > MAX_PAYOFF_ENTRIES:
            what = "outcomes" if self.outcome_names is not None else "outcome variables"
            where = next((s.loc for s in stmts if isinstance(s, (A.AgentsRange, A.AgentsNamed))), self.common.start)
            raise ModelError(f"{agents:,} agents and {per_agent:,} {what} make payoff tables of {entries:,} entries; "
                             f"at most {MAX_PAYOFF_ENTRIES:,} are supported", where)

    def _payoff(self, expr: A.Expr, locals_: dict, what: str, loc: Location):
        """Over a finite outcome set, the table outcome -> value; otherwise one
        expression, linear in the outcome variables."""
        if self.outcome_names is not None:
            table = {}
            for name in self.outcome_names:
                at = dict([self.outcome_index[name]]) if name in self.outcome_index else {}
                value = self.evaluate(expr, Context(dict(locals_), outcome=OutcomeValue(name), at_outcome=at))
                table[name] = self.number(value, expr.loc, what)
            return table
        ctx = Context(dict(locals_), no_outcome="`outcome` names an element of a finite outcome set; this model "
                      "has outcome variables instead: use them directly")
        value = self.number(self.evaluate(expr, ctx), expr.loc, what)
        if self.common.variables and not is_affine(value, self.common.variables):
            raise ModelError(f"{what} is not linear in the outcome variables ({value}); continuous outcomes "
                             "need payoffs linear in them", loc)
        return value

    # ------------------------------------------------------------------ restrictions

    def _restrict(self, s: A.RestrictStmt) -> None:
        """``restrict KIND`` (robustmech.programs.restrictions gives the kinds their rows);
        what can be checked on the declarations is checked here, the rest when the model
        is lowered (symmetries, the quasilinear form)."""
        if s.kind not in RESTRICTION_KINDS:
            close = difflib.get_close_matches(s.kind, RESTRICTION_KINDS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ModelError(f"unknown restriction '{s.kind}'; {hint}choose one of {', '.join(RESTRICTION_KINDS)}",
                             s.kind_loc)
        if s.kind == "mixture":
            self._mixture(s)
            return
        if s.kind == "aggregate" and s.words:
            self._aggregate_of(s)
            return
        if s.words:
            raise ModelError(f"restrict {s.kind} takes no further words, got '{s.words[0]}'", s.locs[0])
        roles = tuple(self.b._roles)
        if s.kind == "budget_balanced" and "transfer" not in roles:
            raise ModelError("restrict budget_balanced: this model has no transfers (declare `transfer t[i]`); "
                             "budget balance says the transfers sum to zero at every action profile", s.loc)
        if s.kind == "no_transfers_to_losers" and not ("transfer" in roles and "allocation" in roles):
            raise ModelError("restrict no_transfers_to_losers: this model has no allocations and transfers (declare "
                             "`allocate q[i] ...` and `transfer t[i]`)", s.loc)
        if s.kind == "anonymous" and len(self.common.agent_numbers) < 2:
            raise ModelError("restrict anonymous: a model with one agent has no agents to treat alike", s.loc)
        self.b.restriction(s.kind, location=s.loc)

    def _aggregate_of(self, s: A.RestrictStmt) -> None:
        """``restrict aggregate E``: the expectation of the definition (or outcome variable)
        E under the mechanism's outcome depends on the action profile only through the
        aggregate action; E is a number per outcome (or linear in the outcome variables)
        that does not depend on the state."""
        if len(s.words) != 1:
            raise ModelError("write restrict aggregate (the whole outcome) or restrict aggregate NAME (one "
                             "definition of the outcome)", s.locs[1])
        name, loc = s.words[0], s.locs[0]
        binding = self.common.scope.get(name)
        if binding is None or binding.kind not in ("definition", "outcome variable"):
            what = f"'{name}' is a {binding.kind}" if binding is not None else f"unknown name '{name}'"
            raise ModelError(f"restrict aggregate {name}: {what}; name a definition of the outcome (`let E = ...`)",
                             loc)
        value = self._payoff(A.Name(loc, name), {}, f"restrict aggregate {name}", loc)
        states = set(self.state_symbols)
        if self.outcome_names is not None:
            entries = [sympy.sympify(value[o]) for o in self.outcome_names]
            if any(e.free_symbols & states for e in entries):
                raise ModelError(f"restrict aggregate {name}: {name} depends on the state; it must be a function of "
                                 "the outcome only", loc)
            coefficients = tuple(float(e) for e in entries)
        else:
            expr = sympy.expand(sympy.sympify(value))
            variables = list(self.common.variables)
            coefs = [expr.coeff(v) for v in variables]
            if any(sympy.sympify(c).free_symbols for c in coefs):
                raise ModelError(f"restrict aggregate {name}: {name} depends on the state; it must be a function of "
                                 "the outcome only", loc)
            coefficients = tuple(float(c) for c in coefs)
        if not any(coefficients):
            raise ModelError(f"restrict aggregate {name}: {name} does not depend on the outcome", loc)
        self.b.restriction("aggregate", location=s.loc, of=name, coefficients=coefficients)

    def _mixture(self, s: A.RestrictStmt) -> None:
        from .generators import GENERATORS

        if len(s.words) < 2 or s.words[0] != "of":
            at = s.locs[0] if s.words else s.kind_loc
            raise ModelError("write restrict mixture of NAME, NAME, ... (mechanisms declared in the model, or "
                             f"standard ones: {', '.join(MIXTURE_STANDARD)})", at)
        names = s.words[1:]
        for name, loc in zip(names, s.locs[1:]):
            binding = self.common.scope.get(name)
            if binding is not None and binding.kind == "mechanism":
                continue
            if binding is None and name in GENERATORS and name in MIXTURE_STANDARD:
                continue
            what = f"'{name}' is a {binding.kind}" if binding is not None else f"no mechanism '{name}'"
            raise ModelError(f"restrict mixture: {what}; name mechanisms declared in the model (`mechanism NAME from "
                             f"\"file\"`) or standard ones: {', '.join(MIXTURE_STANDARD)}", loc)
        seen: set[str] = set()
        for name, loc in zip(names, s.locs[1:]):
            if name in seen:
                raise ModelError(f"restrict mixture: '{name}' is named twice", loc)
            seen.add(name)
        self.b.restriction("mixture", location=s.loc, mechanisms=tuple(names))

    def _check_mixture_alone(self, stmts: list) -> None:
        if len(stmts) > 1 and any(s.kind == "mixture" for s in stmts):
            other = next(s for s in stmts[1:] if s is not stmts[0])
            raise ModelError("restrict mixture cannot be combined with other restrictions (the mixture's class is "
                             "given by its mechanisms)", other.loc)

    # ------------------------------------------------------------------ directives

    def _directive(self, s: A.DirectiveStmt) -> None:
        options = {}
        for opt in s.options:
            if opt.name in options:
                raise ModelError(f"option {opt.name} is given twice", opt.loc)
            if isinstance(opt.value, A.Name) and opt.value.name not in self.common.scope:
                options[opt.name] = opt.value.name  # a bare word, e.g. solver = simplex
                continue
            options[opt.name] = _plain_option(self.evaluate(opt.value), opt.value.loc)
        if s.verb == "solve":
            self.b.directive(s.target, location=s.loc, **options)
        elif s.verb == "bounds":
            self.b.directive("bounds", location=s.loc, **options)
        else:
            binding = self.common.scope.get(s.target) if s.target is not None else None
            if binding is None or binding.kind not in ("mechanism", "information structure"):
                raise ModelError(f"`evaluate` names a mechanism or an information structure declared in the model; "
                                 f"'{s.target}' is neither", s.loc)
            key = "mechanism" if binding.kind == "mechanism" else "information"
            self.b.directive("evaluate", location=s.loc, **{key: s.target}, **options)


def _sums_whole_family(expr: A.Node, name: str) -> bool:
    """True when ``expr`` holds ``sum(name)`` (the sum of a whole family)."""
    todo: list = [expr]
    while todo:
        node = todo.pop()
        if (isinstance(node, A.Call) and node.func == "sum" and len(node.args) == 1
                and isinstance(node.args[0], A.Name) and node.args[0].name == name):
            return True
        for value in vars(node).values():
            todo += [v for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, A.Node)]
    return False


def _plain_option(value, loc):
    if isinstance(value, SetValue):
        return [_plain_option(v, loc) for v in value.elements]
    if isinstance(value, Family):
        return [_plain_option(v, loc) for v in value.entries]
    if isinstance(value, str):
        return value
    if isinstance(value, sympy.Expr) and value.is_number:
        return int(value) if value.is_integer else float(value)
    raise ModelError(f"an option must be a number, a range, a list or a word, got {show(value)}", loc)


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
