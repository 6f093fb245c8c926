"""Prior-free environments of 000 (Kambhampati), and the builder that makes one.

These differ from the Bayesian environments of 004 (:mod:`robustmech.model.environment`):
there is no prior over information. Each agent i has a finite, strictly increasing
type grid Θ^i = {θ_1 < ... < θ_N}; the state is the type profile θ ∈ Θ = ∏_i Θ^i and
is known to the agents. A (direct) mechanism picks, at every profile θ, an outcome z(θ)
in a polyhedron: quasilinear outcomes such as

* a lottery over a quality grid with a cost (screening, Section 3 of 000),
* per-agent allocation probabilities with Σ_i q_i <= 1 (auction, Section 4),
* a public-good probability q ∈ [0, 1] with a cost (public good, Section 5),

together with per-agent transfers p_i. Utilities u_i(z, θ) and the designer's payoff
w(z, θ) are SymPy expressions, linear in the outcome variables, with coefficients in
the type symbols ``theta[i]``. The mechanism must satisfy

* dominant-strategy incentive compatibility (``incentive="dominant"``): for all θ, i
  and reports θ̂^i, u_i(z(θ), θ) >= u_i(z(θ̂^i, θ^-i), θ); or only its downward-adjacent
  part θ̂^i = θ_{n-1} when θ^i = θ_n (``incentive="adjacent"``, the relaxed space M' of
  the proof of Proposition 7 of 000);
* ex post participation (``participation="ex_post"``): u_i(z(θ), θ) >= 0.

The designer's payoff per type profile is v(z, θ) = w(z(θ), θ); the criteria of 000
(robust, perfectly robust, properly robust) are functions of the payoff vector
(v(θ))_θ. Profiles are listed agent 1 slowest: ``itertools.product`` of the grids.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy

from ..errors import Location, ModelError
from .environment import (
    DeclarationBuilder,
    LinearConstraint,
    _expr,
    _first_duplicate,
    _number,
    check_float_range,
    split_linear,
)

INCENTIVE = ("dominant", "adjacent", "none")
PARTICIPATION = ("ex_post", "none")


@dataclass(frozen=True)
class OutcomeVariable:
    """One outcome coordinate of a profile's outcome z(θ).

    ``agent`` is None for a shared variable (a public-good probability, a quality
    lottery weight) and the 0-based agent for a per-agent one (an allocation
    probability q_i, a transfer p_i); ``family`` names the per-agent family (``q``,
    ``p``) so that agents can be exchanged.
    """

    symbol: sympy.Symbol
    lower: sympy.Expr | None
    upper: sympy.Expr | None
    role: str  # "allocation", "transfer", "probability", "lottery", "variable"
    family: str
    agent: int | None = None

    @property
    def name(self) -> str:
        return self.symbol.name


@dataclass(frozen=True)
class PriorFreeEnvironment:
    """A prior-free environment of 000: agents, type grids, quasilinear outcomes,
    utilities, the designer's payoff, and the incentive and participation families.

    Build one with :class:`PriorFreeBuilder` (or the examples :func:`screening`,
    :func:`auction`, :func:`public_good`).
    """

    name: str
    agents: tuple[str, ...]
    type_symbols: tuple[sympy.Symbol, ...]  # theta[1], ..., theta[I]
    type_grids: tuple[tuple[sympy.Expr, ...], ...]  # Θ^i, strictly increasing
    variables: tuple[OutcomeVariable, ...]
    constraints: tuple[LinearConstraint, ...]
    utilities: tuple[sympy.Expr, ...]
    designer: sympy.Expr
    incentive: str = "dominant"
    participation: str = "ex_post"
    prior: tuple[sympy.Expr, ...] | None = None  # over profiles, for the Bayesian criterion
    title: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    path: str | None = None
    locations: Mapping[Any, Location | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def n_profiles(self) -> int:
        return math.prod(len(g) for g in self.type_grids)  # exact: 3^50 is past int64

    def profiles(self) -> list[tuple[int, ...]]:
        """Type profiles as tuples of 0-based type indices, agent 1 slowest."""
        return list(itertools.product(*(range(len(g)) for g in self.type_grids)))

    def profile_values(self, profile: Sequence[int]) -> tuple[sympy.Expr, ...]:
        return tuple(self.type_grids[i][t] for i, t in enumerate(profile))

    def profile_label(self, profile: Sequence[int]) -> str:
        return "(" + ", ".join(str(v) for v in self.profile_values(profile)) + ")"

    def profile_labels(self) -> list[str]:
        return [self.profile_label(p) for p in self.profiles()]

    @property
    def symmetric_grids(self) -> bool:
        return all(g == self.type_grids[0] for g in self.type_grids)

    def location(self, key) -> Location | None:
        return self.locations.get(key) or (Location(self.path) if self.path else None)

    def __str__(self) -> str:
        lines = [f"prior-free model {self.name}" + (f' "{self.title}"' if self.title else "")]
        if self.params:
            lines.append("  params: " + ", ".join(f"{k}={v}" for k, v in self.params.items()))
        lines.append(f"  agents: {', '.join(self.agents)}")
        for s, g in zip(self.type_symbols, self.type_grids):
            lines.append(f"  {s.name} in {{{', '.join(str(v) for v in g)}}}")
        lines.append(f"  type profiles: {self.n_profiles}")
        lines.append(f"  outcome variables per profile: {', '.join(v.name for v in self.variables)}")
        lines.append(f"  incentive compatibility: {self.incentive}; participation: {self.participation}")
        return "\n".join(lines)


class PriorFreeBuilder(DeclarationBuilder):
    """Build a :class:`PriorFreeEnvironment` in Python, as a model file would.

    >>> from robustmech.model.prior_free import PriorFreeBuilder
    >>> b = PriorFreeBuilder("public_good")
    >>> b.agents(2)
    ('1', '2')
    >>> theta = b.types("theta", [0, 1])
    >>> q = b.probability("q")
    >>> p = b.transfer("p")
    >>> for i in range(2):
    ...     b.utility(i, theta[i] * q - p[i])
    >>> b.designer(p[0] + p[1] - 1 * q)
    >>> env = b.build()

    Every method takes ``location=`` so that a model file's elaborator can have the
    errors found by :meth:`build` point at file:line:col.
    """

    def __init__(self, name: str, title: str = "", *, path: str | None = None, source: str | None = None):
        self.name, self.title, self.path, self.source = name, title, path, source
        self.params: dict[str, Any] = {}
        self._agents: tuple[str, ...] | None = None
        self._type_symbols: tuple[sympy.Symbol, ...] | None = None
        self._grids: tuple[tuple[sympy.Expr, ...], ...] | None = None
        self._variables: list[OutcomeVariable] = []
        self._constraints: list[LinearConstraint] = []
        self._utilities: dict[int, Any] = {}
        self._designer: Any = None
        self._incentive = "dominant"
        self._participation = "ex_post"
        self._prior: Any = None
        self.locations: dict[Any, Location | None] = {}

    # -- declarations ------------------------------------------------------


    def types(self, name: str, grid: Sequence[Any] | Sequence[Sequence[Any]],
              location: Location | None = None) -> tuple[sympy.Symbol, ...]:
        """Each agent's type grid Θ^i: one grid for all agents, or one per agent.

        Returns the type symbols ``name[1], ..., name[I]`` for utility expressions.
        Grids must be strictly increasing (0 < θ_1 < ... is not required: the public
        good of 000 Section 5 allows θ_ℓ <= 0).
        """
        if self._agents is None:
            raise ModelError("declare the agents before their types", location)
        if self._type_symbols is not None:
            raise ModelError("types are declared twice", location)
        n = len(self._agents)
        grid = list(grid)
        if grid and all(isinstance(g, (list, tuple, np.ndarray)) for g in grid):
            if len(grid) != n:
                raise ModelError(f"{len(grid)} type grids for {n} agents", location)
            grids = [list(g) for g in grid]
        else:
            grids = [grid] * n
        exact = []
        for i, g in enumerate(grids):
            if not g:
                raise ModelError(f"the type grid of agent {self._agents[i]} is empty", location)
            values = tuple(_number(v, "a type", location) for v in g)
            for a, b in zip(values, values[1:]):
                if not a < b:
                    raise ModelError(f"type grids must be strictly increasing; agent {self._agents[i]} "
                                     f"has {a} before {b}", location)
            exact.append(values)
        _check_profiles([len(g) for g in exact], location)
        self._type_symbols = tuple(sympy.Symbol(f"{name}[{i}]", real=True) for i in range(1, n + 1))
        self._grids = tuple(exact)
        self.locations["types"] = location
        return self._type_symbols

    def variable(self, name: str, lower: Any = None, upper: Any = None, role: str = "variable",
                 location: Location | None = None) -> sympy.Symbol:
        """A shared outcome variable (one per profile) with optional bounds."""
        return self._add(name, lower, upper, role, name, None, location)

    def agent_variable(self, name: str, lower: Any = None, upper: Any = None, role: str = "variable",
                       location: Location | None = None) -> tuple[sympy.Symbol, ...]:
        """A per-agent family ``name[1..I]`` of outcome variables."""
        if self._agents is None:
            raise ModelError(f"declare the agents before the per-agent variable '{name}'", location)
        return tuple(self._add(f"{name}[{i + 1}]", lower, upper, role, name, i, location)
                     for i in range(len(self._agents)))

    def allocation(self, name: str, total: Any = 1, location: Location | None = None) -> tuple[sympy.Symbol, ...]:
        """Allocation probabilities q_i >= 0 with Σ_i q_i <= total (the auction of 000 Section 4)."""
        syms = self.agent_variable(name, lower=0, upper=None, role="allocation", location=location)
        if total is not None:
            self.constraint(sympy.Add(*syms) <= _number(total, "the allocation total", location), location=location)
        return syms

    def transfer(self, name: str, location: Location | None = None) -> tuple[sympy.Symbol, ...]:
        """Per-agent transfers p_i to the designer, free in sign."""
        return self.agent_variable(name, role="transfer", location=location)

    def probability(self, name: str, location: Location | None = None) -> sympy.Symbol:
        """A shared probability in [0, 1] (the public-good provision probability Q(θ) of 000 Section 5)."""
        return self.variable(name, lower=0, upper=1, role="probability", location=location)

    def lottery(self, name: str, support: Sequence[Any], location: Location | None = None) -> "Lottery":
        """A lottery over a finite grid (the quality lottery Q(θ) ∈ Δ(Q) of 000 Section 3):
        weights ``name[g] >= 0`` summing to one. Use :meth:`Lottery.expect` for E[f(q)]."""
        values = tuple(_number(v, "a lottery point", location) for v in support)
        if not values:
            raise ModelError(f"the lottery '{name}' has an empty support", location)
        dup = _first_duplicate([str(v) for v in values])
        if dup is not None:
            raise ModelError(f"the lottery '{name}' lists the point {dup} twice", location)
        syms = tuple(self._add(f"{name}[{v}]", 0, 1, "lottery", name, None, location) for v in values)
        self.constraint(sympy.Eq(sympy.Add(*syms), 1), location=location)
        return Lottery(name, values, syms)

    def constraint(self, relation: Any, location: Location | None = None) -> None:
        """A linear feasibility constraint on the outcome variables of one profile."""
        if relation is sympy.true:
            return
        if relation is sympy.false:
            raise ModelError("this constraint can never hold", location)
        if not isinstance(relation, sympy.core.relational.Relational) or relation.rel_op not in ("<=", ">=", "=="):
            raise ModelError(f"a constraint must be an inequality or equation (<=, >=, ==), got {relation}", location)
        expr = sympy.expand(relation.lhs - relation.rhs)
        known = {v.symbol for v in self._variables}
        unknown = expr.free_symbols - known
        if unknown:
            raise ModelError("a constraint may only involve outcome variables and numbers; unknown: "
                             + ", ".join(sorted(s.name for s in unknown)), location)
        found, rest, bad = split_linear(expr, known)
        if len(bad) > 1:
            first = next(v for v in self._variables if v.symbol in bad)
            raise ModelError(f"the constraint {relation} is not linear in {first.name}", location)
        if bad:
            raise ModelError(f"the constraint {relation} is not linear", location)
        coeffs = [(v.symbol, found[v.symbol]) for v in self._variables if found.get(v.symbol, 0) != 0]
        check_float_range(expr, "this constraint", location)
        self._constraints.append(LinearConstraint(tuple(coeffs), relation.rel_op, -rest, str(relation)))
        self.locations[("constraint", len(self._constraints) - 1)] = location

    def utility(self, agent: int | str, payoff: Any, location: Location | None = None) -> None:
        """u_i(z, θ): linear in the outcome variables, coefficients in the type symbols."""
        i = self._agent_index(agent, location)
        if i in self._utilities:
            raise ModelError(f"the utility of agent {self._agent_name(i)} is defined twice", location)
        self._utilities[i] = payoff
        self.locations[("utility", i)] = location

    def utilities(self, payoff: Callable[[int], Any], location: Location | None = None) -> None:
        """u_i for every agent from a function of the 0-based agent index."""
        if self._agents is None:
            raise ModelError("declare the agents before their utilities", location)
        for i in range(len(self._agents)):
            self.utility(i, payoff(i), location=location)

    def designer(self, payoff: Any, location: Location | None = None) -> None:
        """w(z, θ): the designer's payoff at a profile (revenue minus cost)."""
        if self._designer is not None:
            raise ModelError("the designer's payoff is defined twice", location)
        self._designer = payoff
        self.locations["designer"] = location

    def incentive(self, kind: str = "dominant", location: Location | None = None) -> None:
        """``dominant``: all DSIC constraints; ``adjacent``: only the downward-adjacent
        ones (000's relaxed space M', proof of Proposition 7); ``none``."""
        if kind not in INCENTIVE:
            raise ModelError(f"incentive compatibility must be one of {', '.join(INCENTIVE)}, got '{kind}'", location)
        self._incentive = kind
        self.locations["incentive"] = location

    def participation(self, kind: str = "ex_post", location: Location | None = None) -> None:
        """``ex_post``: u_i(z(θ), θ) >= 0 at every profile; ``none``."""
        if kind not in PARTICIPATION:
            raise ModelError(f"participation must be one of {', '.join(PARTICIPATION)}, got '{kind}'", location)
        self._participation = kind
        self.locations["participation"] = location

    def prior(self, weights: Any = "uniform", location: Location | None = None) -> None:
        """A prior over type profiles (profile listing order), for the Bayesian criterion only."""
        self._prior = weights
        self.locations["prior"] = location

    # -- build -------------------------------------------------------------

    def build(self) -> PriorFreeEnvironment:
        """Check names, linearity and signs symbolically and return the environment."""
        loc = self.locations.get
        here = Location(self.path or "<model>")
        if self._agents is None:
            raise ModelError("no agents declared (write `agents i in 1..I`)", here)
        if self._type_symbols is None or self._grids is None:  # types() sets both
            raise ModelError("no types declared (write `types theta[i] in {...}`)", here)
        grids = self._grids
        if not self._variables:
            raise ModelError("no outcome variables declared (an allocation, a probability, a lottery, transfers)", here)
        symbols = {v.symbol for v in self._variables}
        allowed = symbols | set(self._type_symbols)
        utilities = []
        for i, agent in enumerate(self._agents):
            if i not in self._utilities:
                raise ModelError(f"no utility for agent {agent} (write `utility[i] = ...`)", loc("agents") or here)
            utilities.append(self._linear(self._utilities[i], f"the utility of agent {agent}", symbols, allowed,
                                          loc(("utility", i))))
        if self._designer is None:
            raise ModelError("no designer payoff (write `designer = ...`)", here)
        designer = self._linear(self._designer, "the designer's payoff", symbols, allowed, loc("designer"))
        n_profiles = math.prod(len(g) for g in grids)
        prior = None
        if self._prior is not None:
            prior = self._prior_values(self._prior, n_profiles, loc("prior"))
        return PriorFreeEnvironment(
            name=self.name, agents=self._agents, type_symbols=self._type_symbols, type_grids=grids,
            variables=tuple(self._variables), constraints=tuple(self._constraints), utilities=tuple(utilities),
            designer=designer, incentive=self._incentive, participation=self._participation, prior=prior,
            title=self.title, params=dict(self.params), source=self.source, path=self.path,
            locations=dict(self.locations),
        )

    # -- helpers -----------------------------------------------------------

    def _add(self, name, lower, upper, role, family, agent, location) -> sympy.Symbol:
        if name in {v.name for v in self._variables}:
            raise ModelError(f"duplicate outcome variable '{name}'", location)
        lo = None if lower is None else _number(lower, f"the lower bound of {name}", location)
        hi = None if upper is None else _number(upper, f"the upper bound of {name}", location)
        if lo is not None and hi is not None and lo > hi:
            raise ModelError(f"the bounds of {name} are empty: {lo} > {hi}", location)
        sym = sympy.Symbol(name, real=True)
        self._variables.append(OutcomeVariable(sym, lo, hi, role, family, agent))
        self.locations[("variable", name)] = location
        return sym

    @staticmethod
    def _linear(payoff, what, variables, allowed, location) -> sympy.Expr:
        expr = sympy.expand(_expr(payoff, what, location))
        unknown = expr.free_symbols - allowed
        if unknown:
            raise ModelError(f"{what} uses unknown name(s) {', '.join(sorted(s.name for s in unknown))}", location)
        # term by term (no sympy.Poly: with hundreds of agents its nested representation
        # exhausts the stack; no coeff per variable: quadratic in a lottery's support)
        _, _, bad = split_linear(expr, variables)
        if len(bad) > 1:
            raise ModelError(f"{what} is not linear in the outcome variables ({expr}); "
                             "prior-free programs need payoffs linear in them (use a lottery for a nonlinear cost)",
                             location)
        if bad:  # Q^2, 1/Q, sqrt(Q)
            raise ModelError(f"{what} is not linear in the outcome variables ({expr})", location)
        check_float_range(expr, what, location)
        return expr

    def _prior_values(self, weights, n, location) -> tuple[sympy.Expr, ...]:
        if n > MAX_TYPE_PROFILES:
            raise ModelError(f"a prior over {n if n < 10**30 else 'more than 10^30'} type profiles: at most "
                             f"{MAX_TYPE_PROFILES:,} are supported", location)
        if isinstance(weights, str):
            if weights != "uniform":
                raise ModelError(f"unknown prior '{weights}' (use uniform or a list of weights)", location)
            return tuple(sympy.Rational(1, n) for _ in range(n))
        values = [_number(w, "a prior weight", location) for w in weights]
        if len(values) != n:
            raise ModelError(f"the prior lists {len(values)} weights for {n} type profiles", location)
        if any(v < 0 for v in values):
            raise ModelError("a prior weight is negative", location)
        total = sum(values, sympy.Integer(0))
        if total <= 0:
            raise ModelError("the prior weights sum to zero", location)
        return tuple(v / total for v in values)


#: the most type profiles (or, for exchangeable agents, profiles up to relabeling) a
#: prior-free model may have; the programs of 000 have a block of rows per profile
MAX_TYPE_PROFILES = 200_000


def _check_profiles(sizes: list[int], location) -> None:
    """Refuse a types declaration with more profiles than any program of 000 can be built for."""
    profiles = 1
    for n in sizes:
        profiles *= n
        if profiles > MAX_TYPE_PROFILES:
            break
    if profiles <= MAX_TYPE_PROFILES:
        return
    cells = math.comb(sizes[0] + len(sizes) - 1, len(sizes)) if len(set(sizes)) == 1 else profiles
    if cells > MAX_TYPE_PROFILES:
        raise ModelError(f"{len(sizes)} agents with these types have more than {MAX_TYPE_PROFILES:,} type profiles, "
                         "even up to relabeling: too many for the programs of 000", location)


@dataclass(frozen=True)
class Lottery:
    """A lottery over a finite grid: weights ``symbols[g]`` on ``support[g]``."""

    name: str
    support: tuple[sympy.Expr, ...]
    symbols: tuple[sympy.Symbol, ...]

    def expect(self, f: Callable[[sympy.Expr], Any] | None = None) -> sympy.Expr:
        """E[f(q)] = Σ_g f(q_g) weight_g (E[q] without ``f``)."""
        f = f or (lambda q: q)
        return sympy.Add(*(sympy.sympify(f(v)) * s for v, s in zip(self.support, self.symbols)))


# ---------------------------------------------------------------------------
# the environments of 000


def screening(thetas: Sequence[Any] = (1, 2), qualities: Sequence[Any] | None = None,
              cost: Callable[[sympy.Expr], Any] | None = None, incentive: str = "dominant") -> PriorFreeEnvironment:
    """The screening model of 000 Section 3 with u(q, θ) = θ q (Example 1): one buyer with
    types θ_1 < ... < θ_N, a quality lottery Q(θ) on a grid, the cost c(q) = q²/2 by
    default, a price P(θ); the seller's payoff P(θ) - E_Q(θ)[c(q)]."""
    thetas = [sympy.nsimplify(t) for t in thetas]
    if qualities is None:
        top = int(sympy.ceiling(max(thetas))) + 1
        qualities = [sympy.Rational(k, 2) for k in range(0, 2 * top + 1)]
    cost = cost or (lambda q: q ** 2 / 2)
    b = PriorFreeBuilder("screening", "Screening with u = theta q and c = q^2/2 (000 Section 3)")
    b.param("N", len(thetas))
    b.agents(1)
    (theta,) = b.types("theta", thetas)
    Q = b.lottery("Q", qualities)
    (p,) = b.transfer("P")
    b.utility(0, theta * Q.expect() - p)
    b.designer(p - Q.expect(cost))
    b.incentive(incentive)
    return b.build()


def auction(n_agents: int = 2, types: Sequence[Any] = (1, 2, 3), incentive: str = "dominant") -> PriorFreeEnvironment:
    """The single-unit auction of 000 Section 4: I bidders with types on a common grid,
    Q^i(θ) >= 0 with Σ_i Q^i(θ) <= 1, transfers P^i(θ); revenue Σ_i P^i(θ)."""
    b = PriorFreeBuilder("auction_discrete_types", "Single-unit auction with discrete types (000 Section 4)")
    b.param("I", n_agents)
    b.param("N", len(types))
    b.agents(n_agents)
    theta = b.types("theta", list(types))
    q = b.allocation("Q")
    p = b.transfer("P")
    b.utilities(lambda i: theta[i] * q[i] - p[i])
    b.designer(sympy.Add(*p))
    b.incentive(incentive)
    return b.build()


def public_good(n_agents: int = 3, theta_l: Any = 0, theta_h: Any = 1, gamma: Any = sympy.Rational(1, 2),
                incentive: str = "dominant") -> PriorFreeEnvironment:
    """The public good of 000 Section 5: I agents with types θ_ℓ < θ_h, provision
    probability Q(θ) ∈ [0, 1] at cost c = γ I, transfers P^i(θ); the firm's payoff
    Σ_i P^i(θ) - Q(θ) c."""
    theta_l, theta_h, gamma = (_number(x, name, None)
                               for x, name in ((theta_l, "theta_l"), (theta_h, "theta_h"), (gamma, "gamma")))
    if not theta_l < gamma < theta_h:
        raise ModelError(f"000 Section 5 assumes theta_l < gamma < theta_h, got {theta_l}, {gamma}, {theta_h}")
    b = PriorFreeBuilder("public_good_two_types", "Public good with two types (000 Section 5)")
    for name, value in (("I", n_agents), ("theta_l", theta_l), ("theta_h", theta_h), ("gamma", gamma)):
        b.param(name, value)
    b.agents(n_agents)
    theta = b.types("theta", [theta_l, theta_h])
    q = b.probability("Q")
    p = b.transfer("P")
    b.utilities(lambda i: theta[i] * q - p[i])
    b.designer(sympy.Add(*p) - gamma * n_agents * q)
    b.incentive(incentive)
    return b.build()
