"""The economic environment of 004 Section 2, and the builder that makes one.

An :class:`Environment` holds agents ``i = 1..N``, a finite state set Θ with a prior
μ ∈ Δ(Θ), an outcome space (finite Ω, or continuous outcome variables in a polyhedron),
the agents' utility indices u_i(ω, θ) and the designer's objective w(ω, θ). Utilities
are SymPy expressions:

* finite outcomes: ``utilities[i]`` is a tuple with one expression per outcome, in the
  state symbols only;
* continuous outcomes: ``utilities[i]`` is one expression, linear in the outcome
  variables, with coefficients in the state symbols.

The model file elaborator and the Python :class:`ModelBuilder` produce the same object;
``ModelBuilder.build`` runs every check that can be made before a solve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping, Sequence, Union

import numpy as np
import sympy

from ..errors import Location, ModelError

Payoff = Union[tuple, sympy.Expr]  # tuple of Expr (finite outcomes) or one Expr (continuous)


def _number(value: Any, what: str, location: Location | None) -> sympy.Expr:
    """An exact SymPy number from an int, a float, a string or a SymPy number."""
    try:
        if isinstance(value, (float, np.floating)):
            # a decimal the user typed: keep it exact (0.4 -> 2/5)
            number = sympy.Rational(repr(float(value)))
        elif isinstance(value, np.integer):
            number = sympy.Integer(int(value))
        elif isinstance(value, str):
            number = sympy.Rational(value)
        else:
            number = sympy.sympify(value)
    except (TypeError, ValueError, sympy.SympifyError):
        raise ModelError(f"{what} must be a number, got {value!r}", location) from None
    if not number.is_number or not number.is_real:
        raise ModelError(f"{what} must be a real number, got {value}", location)
    check_float_range(number, what, location)
    return sympy.nsimplify(number) if isinstance(number, sympy.Float) else number


@dataclass(frozen=True)
class PriorSet:
    """An ambiguous prior: a closed convex set 𝒫 ⊆ Δ(Θ) from which Nature chooses μ,
    jointly with the information (maxmin over 𝒫, Gilboa-Schmeidler).

    ``kind`` is ``"marginals"``: every joint μ on Θ whose marginal on coordinate c is
    ``marginals[c]`` (a mapping value -> probability; 001 Appendix B.1.5, unknown
    correlation), ``"hull"``: the convex hull of ``priors`` (each one probability per
    state, in state order), or ``"penalty"``: every distribution on Θ, Nature paying
    ``penalty[s]`` for state s (001 Appendix B.1.6, variational preferences: the
    designer's payoff is E_μ[w + c(θ)], minimised over μ as well). The environment's
    single prior ``StateSpace.prior`` is a member of the set (the product of the
    marginals; the average of the listed priors; the uniform prior for a penalty).
    """

    kind: Literal["marginals", "hull", "penalty"]
    priors: tuple[tuple[sympy.Expr, ...], ...] = ()
    marginals: tuple[tuple[tuple[sympy.Expr, sympy.Expr], ...], ...] = ()
    penalty: tuple[sympy.Expr, ...] = ()

    def contains(self, points: Sequence[tuple], mu: Sequence[float], tol: float = 1e-9) -> bool:
        """Whether the distribution ``mu`` on the states ``points`` (in state order) is in the set."""
        mu_arr = np.asarray(mu, dtype=float)
        if mu_arr.min(initial=0.0) < -tol or abs(mu_arr.sum() - 1.0) > tol:
            return False
        if self.kind == "penalty":
            return True
        if self.kind == "marginals":
            for c, marginal in enumerate(self.marginals):
                for value, p in marginal:
                    mass = sum(m for pt, m in zip(points, mu_arr) if pt[c] == value)
                    if abs(mass - float(p)) > tol:
                        return False
            return True
        from scipy.optimize import linprog

        extremes = np.array([[float(p) for p in prior] for prior in self.priors], dtype=float)
        m = len(extremes)
        res = linprog(np.zeros(m), A_eq=np.vstack([extremes.T, np.ones((1, m))]), b_eq=np.append(mu_arr, 1.0),
                      bounds=(0, None), method="highs")
        return res.status == 0 and bool(np.abs(extremes.T @ res.x - mu_arr).max(initial=0.0) <= tol)

    def describe(self) -> str:
        if self.kind == "marginals":
            return "known marginals, unknown correlation (001 Appendix B.1.5)"
        if self.kind == "penalty":
            return "any prior, at a penalty c(θ) paid by Nature (001 Appendix B.1.6)"
        return f"the convex hull of {len(self.priors)} prior{'s' if len(self.priors) != 1 else ''}"


@dataclass(frozen=True)
class StateSpace:
    """Finite state set Θ with the prior μ.

    ``symbols`` are the coordinates of a state (``theta[1], theta[2]`` or ``v``);
    ``points[s]`` gives their exact values in state ``s``; ``prior[s]`` is μ(θ_s).
    ``prior_set`` is the set of priors of an ambiguous model (:class:`PriorSet`), else
    None; ``prior`` is then one member of it.
    """

    symbols: tuple[sympy.Symbol, ...]
    points: tuple[tuple[sympy.Expr, ...], ...]
    labels: tuple[str, ...]
    prior: tuple[sympy.Expr, ...]
    prior_set: PriorSet | None = None
    #: the distribution of ``prior continuous ...`` that ``prior`` discretises
    #: (:class:`robustmech.model.continuous.ContinuousPrior`, with its location), else None
    continuous: Any = None

    def __len__(self) -> int:
        return len(self.points)

    def values(self) -> np.ndarray:
        """State coordinates as a float array of shape (|Θ|, len(symbols))."""
        return np.array([[float(c) for c in p] for p in self.points], dtype=float).reshape(
            len(self.points), len(self.symbols)
        )

    def prior_array(self) -> np.ndarray:
        return np.array([float(p) for p in self.prior], dtype=float)

    def substitution(self, s: int) -> dict:
        return dict(zip(self.symbols, self.points[s]))


@dataclass(frozen=True)
class FiniteOutcomes:
    """A finite outcome set Ω; a mechanism maps actions to lotteries over it."""

    names: tuple[str, ...]

    @property
    def is_finite(self) -> Literal[True]:  # a Literal, so that `if outcomes.is_finite` narrows OutcomeSpace
        return True

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class LinearConstraint:
    """``sum(coefficients[v] * v) (<=|>=|==) rhs`` over outcome variables."""

    coefficients: tuple[tuple[sympy.Symbol, sympy.Expr], ...]
    sense: str  # "<=", ">=", "=="
    rhs: sympy.Expr
    text: str = ""


@dataclass(frozen=True)
class ContinuousOutcomes:
    """Outcome variables in a polyhedron: bounds per variable and linear constraints.

    ``roles[j]`` is ``"allocation"``, ``"transfer"`` or ``"variable"``: what the
    declaration said, kept so that programs for quasilinear environments can
    recognise them. A bound of ``None`` means unbounded in that direction.
    """

    variables: tuple[sympy.Symbol, ...]
    lower: tuple[sympy.Expr | None, ...]
    upper: tuple[sympy.Expr | None, ...]
    constraints: tuple[LinearConstraint, ...]
    roles: tuple[str, ...]

    @property
    def is_finite(self) -> Literal[False]:
        return False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)

    def __len__(self) -> int:
        return len(self.variables)

    def is_bounded(self) -> bool:
        """True when every variable has both bounds (then the polyhedron is a polytope
        for sure); False does not mean unbounded, only that bounds are not all given."""
        return all(b is not None for b in self.lower) and all(b is not None for b in self.upper)


OutcomeSpace = Union[FiniteOutcomes, ContinuousOutcomes]


@dataclass(frozen=True)
class Environment:
    """An environment of 004 Section 2: (N, Θ, μ, Ω, u, w).

    Build one with :class:`ModelBuilder` or :func:`robustmech.load_model`.
    """

    name: str
    agents: tuple[str, ...]
    states: StateSpace
    outcomes: OutcomeSpace
    utilities: tuple[Payoff, ...]
    designer: Payoff
    title: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None  # the model file's text, when it came from one
    path: str | None = None
    # objects and instructions a model file may carry besides the environment:
    # named mechanisms and information structures (robustmech.model.objects) and
    # program directives ({"program": "guarantee", "k": 6, ...}) in file order
    mechanisms: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    information_structures: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    directives: tuple = field(default=(), compare=False, repr=False)
    # restrictions on the mechanism class of the guarantee programs (`restrict anonymous`,
    # robustmech.programs.restrictions): {"kind": "anonymous"} or {"kind": "mixture",
    # "mechanisms": ("first", "second")}, in file order; their places are ("restrict", j)
    restrictions: tuple = field(default=(), compare=False, repr=False)
    # the baseline signal (`baseline NAME`, `baseline knows EXPR`): an information structure
    # (robustmech.model.objects.InformationStructure) that every information structure
    # refines (Bergemann-Morris BCE; 003 Section 5.1); None: Nature's choice is unrestricted.
    # Its place is the key "baseline"
    baseline: Any = field(default=None, compare=False, repr=False)
    # where each declaration was written: keys "agents", "states", "prior", "outcomes",
    # "designer", ("utility", i), ("param", name), ("variable", name), ("constraint", j)
    locations: Mapping[Any, Location | None] = field(default_factory=dict, compare=False, repr=False)

    def location(self, key) -> Location | None:
        return self.locations.get(key) or (Location(self.path) if self.path else None)

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def n_states(self) -> int:
        return len(self.states)

    def utility(self, agent: int, outcome: str | int | None = None) -> sympy.Expr:
        """u_i as a SymPy expression: at ``outcome`` for a finite outcome set."""
        return _payoff_at(self, self.utilities[agent], outcome)

    def designer_objective(self, outcome: str | int | None = None) -> sympy.Expr:
        """w as a SymPy expression: at ``outcome`` for a finite outcome set."""
        return _payoff_at(self, self.designer, outcome)

    def __str__(self) -> str:
        return describe(self)

    def _repr_html_(self) -> str:  # pragma: no cover - notebook rendering
        import html

        return "<pre>" + html.escape(describe(self)) + "</pre>"


def _payoff_at(env: Environment, payoff: Payoff, outcome) -> sympy.Expr:
    if env.outcomes.is_finite:
        if outcome is None:
            raise ValueError("name an outcome: the outcome set is finite")
        index = env.outcomes.names.index(outcome) if isinstance(outcome, str) else int(outcome)
        return payoff[index]
    return payoff


def describe(env: Environment) -> str:
    """A short text summary of an environment."""
    lines = [f"model {env.name}" + (f' "{env.title}"' if env.title else "")]
    if env.params:
        lines.append("  params: " + ", ".join(f"{k}={v}" for k, v in env.params.items()))
    lines.append(f"  agents: {', '.join(env.agents)}")
    syms = ", ".join(s.name for s in env.states.symbols)
    lines.append(f"  states ({syms}): {len(env.states)}")
    for label, point, p in zip(env.states.labels, env.states.points, env.states.prior):
        lines.append(f"    {label:<16} ({', '.join(str(c) for c in point)})  prior {p}")
    if env.states.prior_set is not None:
        lines.append(f"  ambiguous prior: {env.states.prior_set.describe()} (the prior above is one member)")
    if env.states.continuous is not None:
        lines.append(f"  continuous prior: {env.states.continuous} (the prior above integrates it over each point's "
                     "cell)")
    if env.outcomes.is_finite:
        lines.append(f"  outcomes: {', '.join(env.outcomes.names)}")
    else:
        lines.append(f"  outcome variables: {', '.join(env.outcomes.names)}")
        for c in env.outcomes.constraints:
            lines.append(f"    {c.text}")
    if env.baseline is not None:
        counts = " x ".join(str(len(s)) for s in env.baseline.signals)
        lines.append(f"  baseline signal: {counts} signals (every information structure refines it)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# builder


class DeclarationBuilder:
    """What every builder declares the same way: parameters and agents.

    Subclasses set ``self.params``, ``self._agents`` and ``self.locations``.
    """

    params: dict
    locations: dict
    _agents: tuple[str, ...] | None

    def param(self, name: str, value: Any, location: Location | None = None) -> Any:
        if name in self.params:
            raise ModelError(f"duplicate parameter '{name}'", location)
        self.params[name] = value
        self.locations[("param", name)] = location
        return value

    def agents(self, agents: int | Sequence[str], location: Location | None = None) -> tuple[str, ...]:
        """Declare the agents: a count (named 1..N) or a list of names."""
        if self._agents is not None:
            raise ModelError("agents are declared twice", location)
        if isinstance(agents, bool):
            raise ModelError(f"the agents are a count or a list of names, not {agents}", location)
        if isinstance(agents, (int, np.integer)):
            if agents < 1:
                raise ModelError(f"there must be at least one agent, got {agents}", location)
            names = tuple(str(i) for i in range(1, int(agents) + 1))
        else:
            names = tuple(str(a) for a in agents)
        if not names:
            raise ModelError("there must be at least one agent", location)
        dup = _first_duplicate(names)
        if dup is not None:
            raise ModelError(f"duplicate agent name '{dup}'", location)
        self._agents = names
        self.locations["agents"] = location
        return names

    def _agent_index(self, agent, location) -> int:
        if self._agents is None:
            raise ModelError("declare the agents before their utilities", location)
        if isinstance(agent, (int, np.integer)) and not isinstance(agent, bool):
            if not 0 <= agent < len(self._agents):
                raise ModelError(f"agent index {agent} is out of range 0..{len(self._agents) - 1}", location)
            return int(agent)
        if str(agent) in self._agents:
            return self._agents.index(str(agent))
        raise ModelError(f"unknown agent '{agent}'", location)

    def _agent_name(self, i: int) -> str:
        """The name of agent ``i`` (after :meth:`_agent_index`, so the agents are declared)."""
        assert self._agents is not None
        return self._agents[i]


class ModelBuilder(DeclarationBuilder):
    """Build an :class:`Environment` in Python, as a model file would.

    The public good of 004 Section 4.1 with N = 2 and social value 3 (as in
    ``models/public_good.mech``): one agent values the good at 3, the other at 0; the
    good costs 1, paid by one agent:

    >>> import robustmech as rm
    >>> b = rm.ModelBuilder("public_good")
    >>> b.agents(2)
    ('1', '2')
    >>> theta = b.states(["theta[1]", "theta[2]"], [(3, 0), (0, 3)])
    >>> b.prior_uniform()
    >>> b.finite_outcomes(["none", "paid_by[1]", "paid_by[2]"])
    ('none', 'paid_by[1]', 'paid_by[2]')
    >>> for i in range(2):
    ...     b.utility(i, {"none": 0, "paid_by[1]": theta[i] - int(i == 0), "paid_by[2]": theta[i] - int(i == 1)})
    >>> b.designer(lambda outcome: 0 if outcome == "none" else sum(theta) - 1)
    >>> env = b.build()
    >>> env.utility(0, "paid_by[1]")
    theta[1] - 1
    >>> env.designer_objective("paid_by[2]")
    theta[1] + theta[2] - 1

    Each method takes an optional ``location`` so that a model file's elaborator can
    have errors found by :meth:`build` point at the right line.
    """

    def __init__(self, name: str, title: str = "", *, path: str | None = None, source: str | None = None):
        self.name = name
        self.title = title
        self.path = path
        self.source = source
        self.params: dict[str, Any] = {}
        self._agents: tuple[str, ...] | None = None
        self._state_symbols: tuple[sympy.Symbol, ...] | None = None
        self._points: list[tuple[sympy.Expr, ...]] = []
        self._labels: list[str] = []
        self._prior: tuple[sympy.Expr, ...] | None = None
        self._prior_kind: str | None = None
        self._prior_set: PriorSet | None = None
        self._continuous: Any = None
        self._outcomes: OutcomeSpace | None = None
        self._variables: list[sympy.Symbol] = []
        self._lower: list[sympy.Expr | None] = []
        self._upper: list[sympy.Expr | None] = []
        self._roles: list[str] = []
        self._constraints: list[LinearConstraint] = []
        self._utilities: dict[int, Any] = {}
        self._designer: Any = None
        self._mechanisms: dict[str, Any] = {}
        self._informations: dict[str, Any] = {}
        self._baseline: Any = None
        self._directives: list[dict] = []
        self._restrictions: list[dict] = []
        self.locations: dict[Any, Location | None] = {}

    # -- declarations ------------------------------------------------------


    def states(
        self,
        symbols: Sequence[str | sympy.Symbol] | str,
        points: Iterable[Any],
        labels: Sequence[str] | None = None,
        location: Location | None = None,
    ) -> tuple[sympy.Symbol, ...]:
        """Declare the finite state set: coordinate names and the list of points.

        Returns the coordinate symbols, to be used in utility expressions.
        """
        if self._state_symbols is not None:
            raise ModelError("the state set is declared twice", location)
        if isinstance(symbols, (str, sympy.Symbol)):
            symbols = [symbols]
        syms = tuple(s if isinstance(s, sympy.Symbol) else sympy.Symbol(str(s), real=True) for s in symbols)
        dup = _first_duplicate([s.name for s in syms])
        if dup is not None:
            raise ModelError(f"duplicate state coordinate '{dup}'", location)
        pts = []
        for p in points:
            coords = tuple(p) if isinstance(p, (tuple, list, np.ndarray)) else (p,)
            if len(coords) != len(syms):
                raise ModelError(
                    f"a state has {len(coords)} coordinates, expected {len(syms)} "
                    f"({', '.join(s.name for s in syms)})",
                    location,
                )
            pts.append(tuple(_number(c, "a state coordinate", location) for c in coords))
        if not pts:
            raise ModelError("the state set is empty: declare at least one state", location)
        if labels is None:
            labels = [_state_label(pt) for pt in pts]
        labels = [str(x) for x in labels]
        if len(labels) != len(pts):
            raise ModelError(f"{len(labels)} state labels for {len(pts)} states", location)
        dup = _first_duplicate(labels)
        if dup is not None:
            raise ModelError(f"duplicate state {dup}", location)
        self._state_symbols = syms
        self._points = pts
        self._labels = labels
        self.locations["states"] = location
        return syms

    def prior(self, probabilities: Sequence[Any] | Mapping[Any, Any], location: Location | None = None) -> None:
        """An explicit prior: one probability per state (in declaration order), or a
        mapping from state label (or point tuple) to probability; missing states get 0."""
        self._need_states("prior", location)
        if isinstance(probabilities, Mapping):
            values = [sympy.Integer(0)] * len(self._points)
            for key, p in probabilities.items():
                s = self._state_index(key, location)
                values[s] = _number(p, "a prior probability", location)
        else:
            values = [_number(p, "a prior probability", location) for p in probabilities]
            if len(values) != len(self._points):
                raise ModelError(f"the prior has {len(values)} entries for {len(self._points)} states", location)
        self._set_prior(tuple(values), "table", location)

    def prior_continuous(self, distribution: Any, masses: Sequence[Any], location: Location | None = None) -> None:
        """The discretisation ``masses`` (one per state, in state order) of the continuous
        distribution ``distribution`` (a :class:`robustmech.model.continuous.ContinuousPrior`),
        which the environment keeps as ``states.continuous``."""
        self._need_states("prior", location)
        values = [_number(p, "a prior probability", location) for p in masses]
        if len(values) != len(self._points):
            raise ModelError(f"the prior has {len(values)} entries for {len(self._points)} states", location)
        self._set_prior(tuple(values), "continuous", location)
        self._continuous = distribution

    def prior_uniform(self, location: Location | None = None) -> None:
        self._need_states("prior", location)
        n = len(self._points)
        self._set_prior(tuple(sympy.Rational(1, n) for _ in range(n)), "uniform", location)

    def prior_product(self, marginals: Sequence[Mapping[Any, Any]], location: Location | None = None) -> None:
        """Independent coordinates: ``marginals[c]`` maps each value of coordinate c to
        its probability; ``μ(θ) = ∏_c marginals[c][θ_c]``."""
        state_symbols = self._need_states("prior", location)
        if len(marginals) != len(state_symbols):
            raise ModelError(
                f"a product prior needs one marginal per state coordinate ({len(state_symbols)}), "
                f"got {len(marginals)}",
                location,
            )
        exact = []
        for marg in marginals:
            exact.append({_number(k, "a marginal's value", location): _number(v, "a marginal probability", location)
                          for k, v in marg.items()})
        values = []
        for pt in self._points:
            p = sympy.Integer(1)
            for c, coord in enumerate(pt):
                if coord not in exact[c]:
                    raise ModelError(
                        f"the marginal of {state_symbols[c].name} gives no probability for the value {coord}",
                        location,
                    )
                p *= exact[c][coord]
            values.append(p)
        self._set_prior(tuple(values), "product", location)

    def prior_marginals(self, marginals: Sequence[Mapping[Any, Any]], location: Location | None = None) -> None:
        """Known marginals, unknown correlation (001 Appendix B.1.5): Nature chooses any
        joint prior on Θ whose marginal on coordinate c is ``marginals[c]`` (value ->
        probability). The single prior ``env.states.prior`` is their product, which must
        sum to 1 over Θ (so that the set is not empty)."""
        state_symbols = self._need_states("prior", location)
        for c, given in enumerate(marginals[:len(state_symbols)]):
            taken = {pt[c] for pt in self._points}
            for value, p in given.items():
                v = _number(value, "a marginal's value", location)
                if v not in taken and _number(p, "a marginal probability", location) != 0:
                    raise ModelError(f"the marginal of {state_symbols[c].name} gives probability {p} to the value "
                                     f"{v}, which no state has", location)
        self.prior_product(marginals, location=location)
        exact = tuple(tuple((_number(k, "a marginal's value", location), _number(v, "a marginal probability", location))
                            for k, v in marg.items()) for marg in marginals)
        names = [sym.name for sym in self._state_symbols or ()]
        for c, table in enumerate(exact):
            if any(p < 0 for _, p in table):
                raise ModelError(f"negative probability in the marginal of {names[c]}", location)
            total = sum((p for _, p in table), sympy.Integer(0))
            if total != 1:
                raise ModelError(f"the marginal of {names[c]} sums to {total}, not 1", location)
        self._prior_set = PriorSet("marginals", marginals=exact)
        self._prior_kind = "marginals"

    def prior_hull(self, priors: Sequence[Sequence[Any]], location: Location | None = None) -> None:
        """A finite set of priors, read as its convex hull (maxmin over a closed convex
        set of priors): each one probability per state, in state order. The single prior
        ``env.states.prior`` is their centre (the average of the listed priors), a member
        of the hull in its relative interior."""
        self._need_states("prior", location)
        if not priors:
            raise ModelError("a set of priors needs at least one prior", location)
        checked = []
        for j, probabilities in enumerate(priors):
            values = [_number(p, "a prior probability", location) for p in probabilities]
            if len(values) != len(self._points):
                raise ModelError(f"prior {j + 1} of the set has {len(values)} entries for {len(self._points)} states",
                                 location)
            self._check_probabilities(values, f"prior {j + 1} of the set: ", f"prior {j + 1} of the set", location)
            checked.append(tuple(values))
        m = len(checked)
        centre = tuple(sum((mu[s] for mu in checked), sympy.Integer(0)) / m for s in range(len(self._points)))
        self._set_prior(centre, "hull", location)
        self._prior_set = PriorSet("hull", priors=tuple(checked))

    def prior_penalty(self, penalty: Sequence[Any], location: Location | None = None) -> None:
        """No prior: Nature chooses any distribution μ on Θ and pays ``penalty[s]`` (one
        real number per state, in state order) in expectation, so a mechanism is judged
        by min over μ and the information of E_μ[w + c(θ)] (001 Appendix B.1.6). The
        single prior ``env.states.prior`` is the uniform one, a member of the set Δ(Θ)."""
        self._need_states("prior", location)
        values = tuple(_number(c, "a penalty", location) for c in penalty)
        if len(values) != len(self._points):
            raise ModelError(f"the penalty has {len(values)} entries for {len(self._points)} states", location)
        n = len(self._points)
        self._set_prior(tuple(sympy.Rational(1, n) for _ in range(n)), "penalty", location)
        self._prior_set = PriorSet("penalty", penalty=values)

    def finite_outcomes(self, names: Sequence[str], location: Location | None = None) -> tuple[str, ...]:
        if self._outcomes is not None or self._variables:
            raise ModelError("the outcome space is declared twice (finite outcomes and outcome variables do not mix)",
                             location)
        names = tuple(str(n) for n in names)
        if not names:
            raise ModelError("the outcome set is empty", location)
        dup = _first_duplicate(names)
        if dup is not None:
            raise ModelError(f"duplicate outcome '{dup}'", location)
        self._outcomes = FiniteOutcomes(names)
        self.locations["outcomes"] = location
        return names

    def variable(
        self,
        name: str,
        lower: Any = None,
        upper: Any = None,
        role: str = "variable",
        location: Location | None = None,
    ) -> sympy.Symbol:
        """A continuous outcome variable with optional bounds (None = unbounded)."""
        if isinstance(self._outcomes, FiniteOutcomes):
            raise ModelError("outcome variables cannot be mixed with a finite outcome set", location)
        if name in {v.name for v in self._variables}:
            raise ModelError(f"duplicate outcome variable '{name}'", location)
        sym = sympy.Symbol(name, real=True)
        self._variables.append(sym)
        self._lower.append(None if lower is None else _number(lower, f"the lower bound of {name}", location))
        self._upper.append(None if upper is None else _number(upper, f"the upper bound of {name}", location))
        self._roles.append(role)
        self.locations[("variable", name)] = location
        return sym

    def allocation(self, name: str, n: int | None = None, total: Any = 1,
                   location: Location | None = None) -> tuple[sympy.Symbol, ...]:
        """Allocation probabilities ``name[1..n] >= 0`` with ``sum <= total`` (one per agent by default)."""
        n = len(self._agents or ()) if n is None else n
        if n < 1:
            raise ModelError("declare the agents before an allocation, or give its size", location)
        syms = tuple(self.variable(f"{name}[{j}]", lower=0, role="allocation", location=location)
                     for j in range(1, n + 1))
        if total is not None:
            self.constraint(sympy.Add(*syms) <= _number(total, "the allocation total", location), location=location)
        return syms

    def transfer(self, name: str, n: int | None = None, location: Location | None = None) -> tuple[sympy.Symbol, ...]:
        """Transfers ``name[1..n]``, free in sign and unbounded (one per agent by default)."""
        n = len(self._agents or ()) if n is None else n
        if n < 1:
            raise ModelError("declare the agents before a transfer, or give its size", location)
        return tuple(self.variable(f"{name}[{j}]", role="transfer", location=location) for j in range(1, n + 1))

    def constraint(self, relation: sympy.Basic, location: Location | None = None) -> None:
        """A linear feasibility constraint on the outcome variables, e.g. ``q1 + q2 <= 1``."""
        if not isinstance(relation, sympy.core.relational.Relational) or relation.rel_op not in ("<=", ">=", "=="):
            if relation is sympy.true:
                return
            if relation is sympy.false:
                raise ModelError("this constraint can never hold", location)
            raise ModelError(f"a constraint must be an inequality or equation (<=, >=, ==), got {relation}", location)
        expr = sympy.expand(relation.lhs - relation.rhs)
        variables = set(self._variables)
        unknown = expr.free_symbols - variables
        if unknown:
            names = ", ".join(sorted(s.name for s in unknown))
            raise ModelError(f"a constraint may only involve outcome variables and numbers; unknown: {names}", location)
        coeffs = []
        for v in self._variables:
            c = expr.coeff(v)
            if c.free_symbols:
                raise ModelError(f"the constraint {relation} is not linear in {v.name}", location)
            if c != 0:
                coeffs.append((v, c))
        rest = sympy.expand(expr - sum(c * v for v, c in coeffs))
        if rest.free_symbols:
            raise ModelError(f"the constraint {relation} is not linear", location)
        check_float_range(expr, "this constraint", location)
        self._constraints.append(LinearConstraint(tuple(coeffs), relation.rel_op, -rest, str(relation)))
        self.locations[("constraint", len(self._constraints) - 1)] = location

    def utility(self, agent: int | str, payoff: Any, location: Location | None = None) -> None:
        """u_i: for finite outcomes a mapping outcome -> expression, a sequence in
        outcome order, or a callable ``outcome_name -> expression``; for continuous
        outcomes one expression linear in the outcome variables."""
        i = self._agent_index(agent, location)
        if i in self._utilities:
            raise ModelError(f"the utility of agent {self._agent_name(i)} is defined twice", location)
        self._utilities[i] = payoff
        self.locations[("utility", i)] = location

    def designer(self, payoff: Any, location: Location | None = None) -> None:
        """w: the designer's objective, in the same forms as :meth:`utility`."""
        if self._designer is not None:
            raise ModelError("the designer objective is defined twice", location)
        self._designer = payoff
        self.locations["designer"] = location

    def mechanism(self, name: str, mechanism: Any, location: Location | None = None) -> None:
        """Attach a named finite mechanism (a :class:`~robustmech.model.objects.Mechanism`)."""
        if name in self._mechanisms:
            raise ModelError(f"duplicate mechanism '{name}'", location)
        self._mechanisms[name] = mechanism
        self.locations[("mechanism", name)] = location

    def information(self, name: str, information: Any, location: Location | None = None) -> None:
        """Attach a named information structure (:class:`~robustmech.model.objects.InformationStructure`)."""
        if name in self._informations:
            raise ModelError(f"duplicate information structure '{name}'", location)
        self._informations[name] = information
        self.locations[("information", name)] = location

    def baseline(self, information: Any, location: Location | None = None) -> None:
        """Declare the baseline signal: an :class:`~robustmech.model.objects.InformationStructure`
        over the model's agents and states, with the prior as its state marginal, that every
        information structure refines (each agent observes at least its baseline signal)."""
        if self._baseline is not None:
            where = self.locations.get("baseline")
            raise ModelError("the baseline signal is declared twice" + (f" (first at line {where.line})"
                                                                        if where and where.line else ""), location)
        if self._prior_set is not None:
            raise ModelError("a baseline signal with an ambiguous prior (prior marginals, prior in {...}, "
                             "prior penalty) is not supported: declare a single prior", location)
        if self._prior is None or self._agents is None:
            raise ModelError("declare the agents, states and prior before the baseline signal", location)
        joint = np.asarray(information.joint, dtype=float)
        if information.n_agents != len(self._agents) or joint.shape[-1] != len(self._prior):
            raise ModelError(f"the baseline signal has {information.n_agents} signal sets and {joint.shape[-1]} "
                             f"states; the model has {len(self._agents)} agents and {len(self._prior)} states",
                             location)
        prior = np.array([float(p) for p in self._prior])
        marginal = joint.reshape(-1, joint.shape[-1]).sum(0)
        if np.abs(marginal - prior).max() > 1e-9:
            worst = int(np.abs(marginal - prior).argmax())
            raise ModelError(f"the baseline signal's marginal on the states is not the prior (state "
                             f"{self._labels[worst]} has probability {marginal[worst]:.6g}, the prior "
                             f"{prior[worst]:.6g})", location)
        self._baseline = information
        self.locations["baseline"] = location

    def directive(self, program: str, location: Location | None = None, **options: Any) -> None:
        """Record which program to run with which options (``solve guarantee k=6``)."""
        self._directives.append({"program": program, **options})
        self.locations[("directive", len(self._directives) - 1)] = location

    def restriction(self, kind: str, location: Location | None = None, **options: Any) -> None:
        """Restrict the mechanism class of the guarantee programs (``restrict anonymous``;
        the kinds are those of :mod:`robustmech.programs.restrictions`, checked there)."""
        same = [j for j, r in enumerate(self._restrictions) if r["kind"] == kind and r.get("of") == options.get("of")]
        if same:
            where = self.locations.get(("restrict", same[0]))
            what = f"{kind} {options['of']}" if options.get("of") else kind
            raise ModelError(f"restrict {what} is given twice" + (f" (first at line {where.line})" if where else ""),
                             location)
        self._restrictions.append({"kind": kind, **options})
        self.locations[("restrict", len(self._restrictions) - 1)] = location

    # -- build -------------------------------------------------------------

    def build(self) -> Environment:
        """Check the model symbolically and return the Environment.

        Names, counts, the prior and linearity are checked here; the numeric checks
        (that a participation-secure mechanism can exist) run when the environment is
        lowered to arrays, still before any solve (see :func:`robustmech.validate`).
        """
        loc = self.locations.get
        if self._agents is None:
            raise ModelError("no agents declared (write `agents i in 1..N`)", Location(self.path or "<model>"))
        if self._state_symbols is None:
            raise ModelError("no state set declared (write `state ...`)", Location(self.path or "<model>"))
        if self._prior is None:
            raise ModelError("no prior declared (write `prior uniform` or a table)", loc("states"))
        if self._outcomes is None and not self._variables:
            raise ModelError("no outcomes declared (write `outcome ...` or `allocate`/`transfer`/`variable`)",
                             Location(self.path or "<model>"))
        if self._outcomes is None:
            outcomes: OutcomeSpace = ContinuousOutcomes(
                tuple(self._variables), tuple(self._lower), tuple(self._upper), tuple(self._constraints),
                tuple(self._roles)
            )
        else:
            outcomes = self._outcomes
        states = StateSpace(self._state_symbols, tuple(self._points), tuple(self._labels), self._prior,
                            self._prior_set, self._continuous)
        utilities = []
        for i, agent in enumerate(self._agents):
            if i not in self._utilities:
                raise ModelError(f"no utility for agent {agent} (write `utility[i] = ...`)", loc("agents"))
            utilities.append(self._payoff(self._utilities[i], outcomes, f"the utility of agent {agent}",
                                          loc(("utility", i))))
        if self._designer is None:
            raise ModelError("no designer objective (write `designer = ...`)", Location(self.path or "<model>"))
        designer = self._payoff(self._designer, outcomes, "the designer objective", loc("designer"))
        env = Environment(
            name=self.name,
            agents=self._agents,
            states=states,
            outcomes=outcomes,
            utilities=tuple(utilities),
            designer=designer,
            title=self.title,
            params=dict(self.params),
            source=self.source,
            path=self.path,
            mechanisms=dict(self._mechanisms),
            information_structures=dict(self._informations),
            directives=tuple(self._directives),
            restrictions=tuple(self._restrictions),
            baseline=self._baseline,
            locations=dict(self.locations),
        )
        return env

    # -- helpers -----------------------------------------------------------

    def _need_states(self, what: str, location) -> tuple[sympy.Symbol, ...]:
        if self._state_symbols is None:
            raise ModelError(f"declare the states before the {what}", location)
        return self._state_symbols

    def _check_probabilities(self, values, prefix: str, what: str, location) -> None:
        """No negative entry, and a sum of 1 (exactly for rationals, to 1e-9 otherwise)."""
        for label, p in zip(self._labels, values):
            if p < 0:
                raise ModelError(f"{prefix}negative probability {p} for state {label}", location)
        total = sum(values, sympy.Integer(0))
        exact = all(isinstance(v, sympy.Rational) for v in values)
        if (exact and total != 1) or (not exact and abs(float(total) - 1.0) > 1e-9):
            raise ModelError(f"{what} sums to {total} (= {float(total):.10g}), not 1", location)

    def _set_prior(self, values: tuple, kind: str, location):
        if self._prior is not None:
            raise ModelError("the prior is declared twice", location)
        self._check_probabilities(values, "", "the prior", location)
        self._prior = values
        self._prior_kind = kind
        self.locations["prior"] = location

    def _state_index(self, key, location) -> int:
        if isinstance(key, str) and key in self._labels:
            return self._labels.index(key)
        coords = tuple(key) if isinstance(key, (tuple, list)) else (key,)
        try:
            target = tuple(_number(c, "a state coordinate", location) for c in coords)
        except ModelError:
            target = None
        if target in self._points:
            return self._points.index(target)
        raise ModelError(f"the prior names a state {key!r} that is not in the state set", location)

    def _payoff(self, payoff, outcomes: OutcomeSpace, what: str, location) -> Payoff:
        state_syms = set(self._need_states(what, location))
        if outcomes.is_finite:
            names = outcomes.names
            if callable(payoff) and not isinstance(payoff, sympy.Basic):
                table = [payoff(n) for n in names]
            elif isinstance(payoff, Mapping):
                unknown = [k for k in payoff if k not in names]
                if unknown:
                    raise ModelError(f"{what} names unknown outcome '{unknown[0]}'", location)
                missing = [n for n in names if n not in payoff]
                if missing:
                    raise ModelError(f"{what} gives no value for outcome '{missing[0]}'", location)
                table = [payoff[n] for n in names]
            elif isinstance(payoff, (list, tuple)):
                if len(payoff) != len(names):
                    raise ModelError(f"{what} has {len(payoff)} entries for {len(names)} outcomes", location)
                table = list(payoff)
            else:
                raise ModelError(f"{what} must give one value per outcome", location)
            exprs = []
            for n, e in zip(names, table):
                expr = _expr(e, f"{what} at outcome {n}", location)
                unknown = expr.free_symbols - state_syms
                if unknown:
                    raise ModelError(
                        f"{what} at outcome {n} uses unknown name(s) {', '.join(sorted(s.name for s in unknown))}",
                        location,
                    )
                check_float_range(expr, f"{what} at outcome {n}", location)
                exprs.append(expr)
            return tuple(exprs)
        expr = _expr(payoff, what, location)
        variables = set(outcomes.variables)
        unknown = expr.free_symbols - state_syms - variables
        if unknown:
            raise ModelError(f"{what} uses unknown name(s) {', '.join(sorted(s.name for s in unknown))}", location)
        expanded = sympy.expand(expr)
        # coefficients may depend on the state but not on the variables
        if not is_affine(expanded, variables):
            raise ModelError(
                f"{what} is not linear in the outcome variables ({expr}); "
                "continuous outcomes need utilities linear in them",
                location,
            )
        check_float_range(expanded, what, location)
        return expanded


def split_linear(expr: sympy.Expr, variables) -> tuple[dict, sympy.Expr, tuple]:
    """``expr`` (expanded) as Σ c_v v + const, term by term in linear time (``coeff`` per
    variable is quadratic: minutes for a lottery of 3,000 points). Returns (coefficients,
    constant, bad) where ``bad`` is () for an affine expression, else the variables of
    the first term that is not affine in them (Q·P, Q², 1/Q)."""
    varset = variables if isinstance(variables, (set, frozenset)) else set(variables)
    coeffs: dict = {}
    const = []
    for term in sympy.Add.make_args(expr):
        present = term.free_symbols & varset
        if not present:
            const.append(term)
            continue
        if len(present) == 1:
            (v,) = present
            c = term / v
            if not (c.free_symbols & varset):
                coeffs[v] = coeffs.get(v, sympy.Integer(0)) + c
                continue
        return coeffs, sympy.Add(*const), tuple(present)
    return coeffs, sympy.Add(*const), ()


def is_affine(expr: sympy.Expr, variables) -> bool:
    """Whether ``expr`` is affine in ``variables`` (coefficients free of them). No
    sympy.Poly: with hundreds of variables it is slow and exhausts the stack."""
    return not split_linear(sympy.expand(expr), set(variables))[2]


#: the largest float; exact numbers beyond it cannot reach a solver
FLOAT_MAX = sympy.Float(1.7976931348623157e308)


def check_float_range(expr, what: str, location: Location | None) -> None:
    """Refuse an expression holding a number beyond the float range (1e300 * 1e300)."""
    if not isinstance(expr, sympy.Basic):
        return
    for atom in expr.atoms(sympy.Number):
        if atom.is_finite and abs(atom) > FLOAT_MAX:
            raise ModelError(f"{what} holds a number beyond the float range (about 1.8e308): "
                             f"{sympy.Float(atom, 3) if atom.is_finite else atom}", location)


def _expr(value, what, location) -> sympy.Expr:
    try:
        expr = sympy.sympify(value)
    except (sympy.SympifyError, TypeError):
        raise ModelError(f"{what} is not an expression: {value!r}", location) from None
    if isinstance(expr, sympy.Float):
        expr = sympy.nsimplify(expr)
    if not isinstance(expr, sympy.Expr):
        raise ModelError(f"{what} is not a numeric expression: {value!r}", location)
    return expr


def _first_duplicate(items: Iterable[str]) -> str | None:
    seen = set()
    for x in items:
        if x in seen:
            return x
        seen.add(x)
    return None


def _state_label(point: tuple) -> str:
    return "(" + ", ".join(str(c) for c in point) + ")" if len(point) != 1 else str(point[0])
