"""Elaboration of prior-free model files: the environments of 000 (Kambhampati).

A prior-free ``.mech`` file declares agents with finite type grids (the state is the type
profile, known to the agents; there is no prior), quasilinear outcomes, the utilities, the
designer's payoff per type profile, and the incentive and participation families::

    agents i in 1..I
    types theta[i] in 1..N                # Θ^i = {θ_1 < ... < θ_N}
    ic dominant                           # or: ic dominant adjacent | ic none
    participation ex_post                 # or: participation none
    allocate Q[i] >= 0 with sum(Q) <= 1
    transfer P[i]
    utility[i] = theta[i] * Q[i] - P[i]
    designer   = sum(P)

The language is that of ``docs/language.md`` (names, parameters, definitions, expressions,
``allocate``, ``transfer``, ``variable``, ``constraint``, ``outcome``) with three statements
added (``types``, ``ic``, ``participation``; ``docs/refinements.md``). A finite outcome set
(``outcome Q[q in grid(0, 3, 7)]``, ``outcome none``) is a *lottery*: the mechanism picks a
probability for each outcome at each profile (000 Section 3: Q(θ) ∈ Δ(Q)); payoffs are
evaluated at each outcome, with ``outcome`` and the family's index (``q``) bound to it, and
extended linearly, so ``utility[i] = theta[i] * q - P[i]`` is θ E_Q[q] - P. Outcome
variables (transfers, allocations) may sit beside the lottery; their coefficients must not
depend on the outcome.

Everything is declared through :class:`~robustmech.model.prior_free.PriorFreeBuilder` with
the ``location`` of each statement, so that every error names ``file:line:col``. The
statements every model has and the expression evaluator are shared with the Bayesian
elaborator (:mod:`robustmech.model.statements`, :mod:`robustmech.model.evaluate`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from typing import Any

import sympy

from ..dsl import ast as A
from ..errors import Location, ModelError, UnsupportedError
from .prior_free import PriorFreeBuilder, PriorFreeEnvironment
from .scope import Context
from .statements import CommonStatements, note_overrides
from .values import Family, OutcomeValue, show, whole_number

#: the statements that make a model file prior-free
PRIOR_FREE_STATEMENTS = (A.TypesStmt, A.IncentiveStmt, A.ParticipationStmt)

_IC_HELP = "write `ic dominant` (dominant-strategy IC), `ic dominant adjacent` (downward-adjacent IC only) or `ic none`"
_IR_HELP = "write `participation ex_post` or `participation none`"


def is_prior_free(ast: A.ModelAST) -> bool:
    """True when the model declares ``types``, ``ic`` or ``participation`` (a model of 000)."""
    return any(isinstance(s, PRIOR_FREE_STATEMENTS) for s in ast.statements)


def prior_free_marker(ast: A.ModelAST) -> A.Statement | None:
    """The first statement that makes ``ast`` prior-free (``types`` if there is one)."""
    found = [s for s in ast.statements if isinstance(s, PRIOR_FREE_STATEMENTS)]
    types = [s for s in found if isinstance(s, A.TypesStmt)]
    return (types or found or [None])[0]


def load_prior_free(path: str | os.PathLike, params: Mapping[str, Any] | None = None) -> PriorFreeEnvironment:
    """Read, parse and elaborate a prior-free ``.mech`` file, with ``--param`` overrides
    (strings or numbers, typed against the declared defaults)."""
    from ..dsl.parser import parse, read_model

    path, text = read_model(path)
    return elaborate_prior_free(parse(text, path), params or {}, source=text)


def elaborate_prior_free(ast: A.ModelAST, overrides: Mapping[str, Any] | None = None,
                         source: str | None = None) -> PriorFreeEnvironment:
    """The :class:`PriorFreeEnvironment` a parsed prior-free model describes."""
    if not is_prior_free(ast):
        states = [s for s in ast.statements if isinstance(s, (A.StateStmt, A.PriorStmt))]
        where = states[0].loc if states else Location(ast.filename)
        raise UnsupportedError(f"{where}: this is a Bayesian model (no `types` declared): use robustmech solve or "
                               "robustmech bounds; robustmech refine needs a prior-free model (`types theta[i] in "
                               "...`, 000)")
    try:
        return _PriorFreeElaborator(ast, overrides or {}, source if source is not None else ast.source).run()
    except ModelError as exc:
        raise note_overrides(exc, ast, overrides or {}) from None


class _PriorFreeElaborator:
    """The statements of a prior-free model (types, ic, participation, lotteries and
    outcome variables, expected payoffs) on top of the statements every model has,
    declared through :class:`PriorFreeBuilder`."""

    def __init__(self, ast: A.ModelAST, overrides: Mapping[str, Any], source: str | None):
        self.ast = ast
        self.overrides = overrides
        self.source = source
        self.lottery_names: list[str] = []
        self.lottery_symbols: list[sympy.Symbol] = []
        self.outcome_index: dict[str, tuple[str, Any, str]] = {}  # member -> (index name, value, family)

    # ------------------------------------------------------------------ driver

    def run(self) -> PriorFreeEnvironment:
        stmts = self.ast.statements
        common = self.common = CommonStatements(self.ast, self.overrides, self.source, PriorFreeBuilder)
        self.b, self.evaluate = common.builder, common.evaluate
        self.number, self.elements = common.number, common.elements
        start = common.start
        self._refuse_bayesian(stmts)
        common.scope.claim_declarations(stmts)
        self._claim_prior_free_names(stmts)
        common.declare_params_agents_lets(stmts)
        self._types([s for s in stmts if isinstance(s, A.TypesStmt)], start)
        self._incentive([s for s in stmts if isinstance(s, A.IncentiveStmt)], start)
        self._participation([s for s in stmts if isinstance(s, A.ParticipationStmt)], start)
        common.guard(self._outcomes, [s for s in stmts if isinstance(s, A.OutcomeStmt)], stmts)
        if not self.lottery_symbols and not common.variables:
            raise ModelError("no outcomes declared: declare a lottery (`outcome Q[q in grid(0, 3, 7)]`), allocations "
                             "(`allocate Q[i] >= 0 with sum(Q) <= 1`), a probability (`variable Q in [0, 1]`) or "
                             "transfers (`transfer P[i]`)", start)
        for s in stmts:
            if isinstance(s, A.ConstraintStmt):
                common.guard(self._constraint, s)
        common.declare_utilities(stmts, self._payoff)
        common.declare_designer(stmts, self._payoff, "the model has no designer payoff: add a line `designer = EXPR` "
                                "(the payoff per type profile, e.g. revenue `sum(P)`)")
        return self.b.build()

    def _refuse_bayesian(self, stmts) -> None:
        for s in stmts:
            if isinstance(s, A.StateStmt):
                raise ModelError("a prior-free model has no state set: the state is the type profile, declared by "
                                 "`types theta[i] in ...`; remove the `state` statement", s.loc)
            if isinstance(s, A.PriorStmt):
                raise ModelError("a prior-free model has no prior (000); the bayes and lps criteria of robustmech "
                                 "refine take beliefs over type profiles with --belief", s.loc)
            if isinstance(s, (A.MechanismStmt, A.InformationStmt)):
                raise ModelError("mechanisms and information structures from files are not part of prior-free models; "
                                 "robustmech refine computes the mechanism", s.loc)
            if isinstance(s, A.BaselineStmt):
                raise ModelError("a prior-free model has no prior and no information structures, so no baseline "
                                 "signal: the agents know the type profile (000)", s.loc)
            if isinstance(s, A.RestrictStmt):
                raise ModelError("`restrict` restricts the guarantee programs of Bayesian models; a prior-free model's "
                                 "refinements (000) take no restrictions", s.loc)
            if isinstance(s, A.DirectiveStmt):
                raise ModelError(f"`{s.verb}` directives are for Bayesian models; run a prior-free model with "
                                 "robustmech refine MODEL --criterion bayes|lps|robust|perfect|proper", s.loc)

    def _claim_prior_free_names(self, stmts) -> None:
        scope = self.common.scope
        for s in stmts:
            if isinstance(s, A.TypesStmt):
                scope.claim(s.name, "type", s.name_loc, unavailable=partial(_types_unavailable, s.name))
            elif isinstance(s, A.OutcomeStmt):
                for d in s.decls:
                    if d.var is not None:
                        bound = scope.get(d.var)
                        if bound is not None and bound.kind == "outcome index":
                            continue  # several families may share an index name
                        scope.claim(d.var, "outcome index", d.loc,
                                    unavailable=partial(self._outcome_index_unbound, d.var))

    def _outcome_index_unbound(self, var: str, ctx: Context) -> str:
        """Why the index ``var`` of an outcome family has no value in ``ctx``."""
        families = sorted({fam for v, _, fam in self.outcome_index.values() if v == var})
        decl = ", ".join(f"{f}[{var} in ...]" for f in families)
        where = (f"; here the outcome is {ctx.outcome.name}" if ctx.outcome is not None else
                 " (in utilities, the designer payoff and definitions they use)")
        return f"'{var}' is the index of the outcome family {decl}: it has a value only at those outcomes{where}"

    # ------------------------------------------------------------------ types, ic, participation

    def _types(self, stmts, start: Location) -> None:
        common = self.common
        if not stmts:
            raise ModelError("no types declared: write `types theta[i] in {...}` (each agent's finite type grid)",
                             start)
        if len(stmts) > 1:
            raise ModelError("types are declared twice: declare one type grid per agent with one `types` statement "
                             "(the grid may use the agents' index)", stmts[1].loc)
        s = stmts[0]
        if common.agent_var is not None and s.var != common.agent_var:
            raise ModelError("the index of the types must be the agents' index: write `types "
                             f"{s.name}[{common.agent_var}] "
                             f"in ...`", s.var_loc)
        if common.agent_var is None and s.var in common.scope:
            raise ModelError(f"the index '{s.var}' hides the {common.scope[s.var].kind} of that name; choose another "
                             "index name", s.var_loc)
        grids: list[list[sympy.Expr]] = []
        for number in common.agent_numbers:
            value = common.guard(lambda st, n=number: self.evaluate(st.grid, Context({st.var: sympy.Integer(n)})), s)
            elements = self.elements(value, s.grid.loc)
            if not elements:
                raise ModelError(f"the type grid of agent {common.agent_name(len(grids))} is empty", s.grid.loc)
            values = []
            for e in elements:
                if not (isinstance(e, sympy.Expr) and e.is_number and e.is_real):
                    raise ModelError(f"a type must be a number, got {show(e)}", s.grid.loc)
                values.append(e)
            if not isinstance(value, Family):
                values = sorted(values, key=lambda v: sympy.N(v, 30))  # a set of types is listed increasing
            grids.append(values)
        grid = grids[0] if all(g == grids[0] for g in grids) else grids
        symbols = self.b.types(s.name, grid, location=s.loc)
        common.scope.bind(s.name, Family(tuple(symbols), tuple(common.agent_numbers), s.name))

    def _incentive(self, stmts, start: Location) -> None:
        if not stmts:
            raise ModelError(f"no incentive constraints declared: {_IC_HELP}", start)
        if len(stmts) > 1:
            raise ModelError("the incentive constraints are declared twice", stmts[1].loc)
        s = stmts[0]
        if s.kind == "adjacent":
            raise ModelError(f"unknown incentive constraints 'adjacent': {_IC_HELP}", s.kind_loc)
        if s.kind not in ("dominant", "none"):
            raise ModelError(f"unknown incentive constraints '{s.kind}': {_IC_HELP}", s.kind_loc)
        kind = s.kind
        if s.modifier is not None:
            if s.kind != "dominant" or s.modifier != "adjacent":
                raise ModelError(f"unexpected '{s.modifier}' after `ic {s.kind}`: {_IC_HELP}", s.modifier_loc)
            kind = "adjacent"
        self.b.incentive(kind, location=s.loc)

    def _participation(self, stmts, start: Location) -> None:
        if not stmts:
            raise ModelError(f"no participation constraints declared: {_IR_HELP}", start)
        if len(stmts) > 1:
            raise ModelError("the participation constraints are declared twice", stmts[1].loc)
        s = stmts[0]
        if s.kind not in ("ex_post", "none"):
            raise ModelError(f"unknown participation constraints '{s.kind}': {_IR_HELP}", s.kind_loc)
        self.b.participation(s.kind, location=s.loc)

    # ------------------------------------------------------------------ outcomes

    def _outcomes(self, finite: list, stmts) -> None:
        if finite:
            self._lottery(finite)
        for s in stmts:
            if isinstance(s, A.AllocateStmt):
                self.common.guard(self._allocate, s)
            elif isinstance(s, A.TransferStmt):
                self.common.guard(self._transfer, s)
            elif isinstance(s, A.VariableStmt):
                self.common.guard(self._variable, s)

    def _lottery(self, finite: list) -> None:
        """A finite outcome set: one probability per outcome, summing to one at each profile."""
        names, families = [], []
        for s in finite:
            for d in s.decls:
                if d.var is None:
                    names.append(d.name)
                    families.append(d.name)
                    self.common.scope.bind(d.name, OutcomeValue(d.name))
                    continue
                values = []
                for v in self.elements(self.evaluate(d.range), d.range.loc):
                    if not (isinstance(v, sympy.Expr) and v.is_number and v.is_real):
                        raise ModelError(f"an outcome index must be a number, got {show(v)}", d.range.loc)
                    values.append(int(v) if v.is_integer else v)
                if not values:
                    raise ModelError(f"the outcome family {d.name} is empty", d.range.loc)
                members = [f"{d.name}[{v}]" for v in values]
                for m, v in zip(members, values):
                    self.outcome_index[m] = (d.var, sympy.sympify(v), d.name)
                names += members
                families += [d.name] * len(members)
                self.common.scope.bind(d.name, Family(tuple(OutcomeValue(m) for m in members), tuple(values), d.name))
        loc = finite[0].loc
        for n, family in zip(names, families):  # as PriorFreeBuilder.lottery names them
            self.lottery_symbols.append(self.b._add(n, 0, 1, "lottery", family, None, loc))
        self.lottery_names = names
        self.b.constraint(sympy.Eq(sympy.Add(*self.lottery_symbols), 1), location=loc)

    def _per_agent(self, index: A.IndexDecl, what: str) -> list[int] | None:
        """None for one variable per agent (the agents' index, or ``[j in 1..I]`` for named
        agents); otherwise the indices of a shared family ``[j in 1..M]``."""
        if index.range is None:
            if index.var != self.common.agent_var:
                raise ModelError(f"unknown index '{index.var}': write {what}[{self.common.agent_var or 'i'}] for one "
                                 "per agent, "
                                 f"or {what}[{index.var} in 1..M]", index.loc)
            return None
        indices = [whole_number(v, "an index", index.range.loc)
                   for v in self.elements(self.evaluate(index.range), index.range.loc)]
        if (self.common.agent_var is None or self.common.named_agents) and indices == list(self.common.agent_numbers):
            return None
        if indices != list(range(1, len(indices) + 1)):
            raise ModelError(f"the indices of {what} run 1..n", index.range.loc)
        return indices

    def _allocate(self, s: A.AllocateStmt) -> None:
        if s.index is None or s.more_indices:
            brackets = f"[{', '.join(d.var for d in s.indices)}]" if s.index is not None else ""
            form = f"allocate {s.name}{brackets}"
            raise ModelError(f"`{form}` is for Bayesian models; in a prior-free model write `allocate {s.name}[i] >= 0 "
                             f"with sum({s.name}) <= 1` (one allocation per agent)", s.loc)
        total = self.common.allocation_total(s)
        indices = self._per_agent(s.index, s.name)
        if indices is None:
            syms = self.b.allocation(s.name, total=total, location=s.loc)
            indices = list(self.common.agent_numbers)
        else:
            syms = [self.b.variable(f"{s.name}[{j}]", 0, None, role="allocation", location=s.loc) for j in indices]
            if total is not None:
                self.b.constraint(sympy.Add(*syms) <= total, location=s.loc)
        self.common.bind_variables(s.name, list(syms), indices)

    def _transfer(self, s: A.TransferStmt) -> None:
        if s.index is None:
            raise ModelError(f"`transfer {s.name}` without an index is for Bayesian models; in a prior-free model "
                             f"write `transfer {s.name}[i]` (one transfer per agent)", s.loc)
        indices = self._per_agent(s.index, s.name)
        if indices is None:
            syms = self.b.transfer(s.name, location=s.loc)
            indices = list(self.common.agent_numbers)
        else:
            syms = [self.b.variable(f"{s.name}[{j}]", role="transfer", location=s.loc) for j in indices]
        self.common.bind_variables(s.name, list(syms), indices)

    def _variable(self, s: A.VariableStmt) -> None:
        if s.index is None:
            lo, hi = self.common.variable_bounds(s)
            if lo == 0 and hi == 1:
                sym = self.b.probability(s.name, location=s.loc)  # the public-good probability of 000 Section 5
            else:
                sym = self.b.variable(s.name, lo, hi, role="variable", location=s.loc)
            self.common.bind_variable(s.name, sym)
            return
        indices = self._per_agent(s.index, s.name)
        syms = []
        if indices is None:
            for pos, number in enumerate(self.common.agent_numbers):
                lo, hi = self.common.variable_bounds(s, Context({s.index.var: sympy.Integer(number)}))
                syms.append(self.b._add(f"{s.name}[{pos + 1}]", lo, hi, "variable", s.name, pos, s.loc))
            indices = list(self.common.agent_numbers)
        else:
            for j in indices:
                lo, hi = self.common.variable_bounds(s, Context({s.index.var: sympy.Integer(j)}))
                syms.append(self.b.variable(f"{s.name}[{j}]", lo, hi, role="variable", location=s.loc))
        self.common.bind_variables(s.name, syms, indices)

    def _constraint(self, s: A.ConstraintStmt) -> None:
        for rel in self.common.constraint_relations(s):
            self.b.constraint(rel, location=s.loc)

    # ------------------------------------------------------------------ payoffs

    def _payoff(self, expr: A.Expr, locals_: dict, what: str, loc: Location):
        """A payoff linear in the outcome variables; with a lottery, its expectation:
        Σ_ω Q_ω u(ω, θ) + (the part linear in the other outcome variables)."""
        if not self.lottery_names:
            ctx = Context(dict(locals_), no_outcome="`outcome` names an element of a finite outcome set; this model "
                          "declares none (it has outcome variables: use them directly)")
            return self.number(self.evaluate(expr, ctx), expr.loc, what)
        values = []
        for member in self.lottery_names:
            at = {}
            if member in self.outcome_index:
                var, value, _ = self.outcome_index[member]
                at[var] = value
            ctx = Context(dict(locals_), outcome=OutcomeValue(member), at_outcome=at)
            values.append(self.number(self.evaluate(expr, ctx), expr.loc, what))
        zero = {v: sympy.Integer(0) for v in self.common.variables}
        const = [sympy.expand(v.xreplace(zero)) for v in values]
        rest = [sympy.expand(v - c) for v, c in zip(values, const)]
        for member, r in zip(self.lottery_names, rest):
            if sympy.expand(r - rest[0]) != 0:
                raise ModelError(f"{what} is not linear in the outcome: its part in the outcome variables changes with "
                                 f"the outcome ({rest[0]} at {self.lottery_names[0]}, {r} at {member}); a lottery "
                                 "multiplies only terms that do not involve the outcome variables", loc)
        return sympy.Add(*(w * c for w, c in zip(self.lottery_symbols, const))) + rest[0]


def _types_unavailable(name: str, ctx: Context) -> str:
    return (f"the types '{name}' cannot be used here: they have no value before the `types` statement is "
            "elaborated (use them in utilities, the designer payoff and definitions)")
