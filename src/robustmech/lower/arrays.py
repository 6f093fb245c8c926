"""Lowering: an :class:`~robustmech.model.Environment` as numeric arrays.

Every outcome space becomes a polyhedron P of outcome points q ∈ R^d with utilities
affine in q:

    u_i(q, θ) = utility_coef[i, θ] · q + utility_const[i, θ]
    w(q, θ)   = designer_coef[θ] · q + designer_const[θ]

A finite outcome set Ω is the simplex of lotteries, q = m(·) ∈ Δ(Ω), so u[i, ω, θ] of
004 is ``utility_coef[i, θ, ω]`` and the constants are zero. Continuous outcome
variables keep their bounds and linear constraints. The programs use the
H-representation (bounds and rows, for mechanisms: q(x) ∈ P) and the V-representation
(vertices, extreme rays and lineality, for the inner maximum of UB-P-k over P).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import sympy

from ..errors import ModelError
from ..model.environment import ContinuousOutcomes, Environment


@dataclass(frozen=True)
class Polyhedron:
    """P = {q : lower <= q <= upper, A_ub q <= b_ub, A_eq q = b_eq} in R^dim."""

    names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    A_ub: np.ndarray
    b_ub: np.ndarray
    A_eq: np.ndarray
    b_eq: np.ndarray

    @property
    def dim(self) -> int:
        return len(self.names)

    def inequalities(self) -> tuple[np.ndarray, np.ndarray]:
        """All of P's inequalities as G q <= h (bounds included, equalities excluded)."""
        eye = np.eye(self.dim)
        rows, rhs = [self.A_ub], [self.b_ub]
        lo = np.isfinite(self.lower)
        hi = np.isfinite(self.upper)
        rows += [-eye[lo], eye[hi]]
        rhs += [-self.lower[lo], self.upper[hi]]
        return np.vstack(rows), np.concatenate(rhs)

    @cached_property
    def generators(self) -> "Generators":
        return _minkowski_weyl(self)


@dataclass(frozen=True)
class Generators:
    """P = conv(vertices) + cone(rays) + span(lineality) (Minkowski-Weyl)."""

    vertices: np.ndarray  # (n_vertices, dim)
    rays: np.ndarray  # (n_rays, dim)
    lineality: np.ndarray  # (n_lineality, dim)

    @property
    def bounded(self) -> bool:
        return len(self.rays) == 0 and len(self.lineality) == 0


@dataclass(frozen=True)
class LoweredPriorSet:
    """The numbers of an ambiguous prior (:class:`~robustmech.model.environment.PriorSet`):
    a polytope 𝒫 ⊆ Δ(Θ).

    ``kind == "hull"``: 𝒫 = conv(``extremes``), one listed prior per row (m, S); with
    ``penalty`` (m,), Nature also pays ``penalty[j]`` per unit weight on prior j. A
    model's ``prior penalty c`` (001 Appendix B.1.6) is the hull of the point masses
    (𝒫 = Δ(Θ), ``extremes`` the identity) with ``penalty`` = c(θ).
    ``kind == "marginals"``: 𝒫 = {μ >= 0 : Σ_{θ: θ_c = v} μ(θ) = targets_c[v] for every
    coordinate c and value v}; ``classes[c]`` is (labels, values, targets): the index of
    each state's value of coordinate c (S,), the coordinate's values, their probabilities.
    """

    kind: str
    extremes: np.ndarray  # (m, S) for a hull; (0, S) for marginals
    classes: tuple = ()
    penalty: np.ndarray | None = None  # (m,): what Nature pays per unit weight on each listed prior

    def marginal_matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """For marginals: the rows C (Σ_c |values_c|, S) and targets c with 𝒫 = {μ >= 0 : C μ = c}."""
        rows, targets = [], []
        for labels, values, target in self.classes:
            rows.append((labels[None, :] == np.arange(len(values))[:, None]).astype(float))
            targets.append(target)
        S = self.extremes.shape[1]
        return (np.vstack(rows) if rows else np.zeros((0, S))), (np.concatenate(targets) if targets else np.zeros(0))

    def contains(self, mu: np.ndarray, tol: float = 1e-7) -> bool:
        """Whether the distribution ``mu`` on Θ lies in 𝒫 (to ``tol``)."""
        mu = np.asarray(mu, dtype=float)
        if mu.min(initial=0.0) < -tol or abs(mu.sum() - 1.0) > tol:
            return False
        if self.kind == "marginals":
            C, c = self.marginal_matrix()
            return bool(np.abs(C @ mu - c).max(initial=0.0) <= tol)
        from scipy.optimize import linprog

        m = self.extremes.shape[0]
        res = linprog(np.zeros(m), A_eq=np.vstack([self.extremes.T, np.ones((1, m))]),
                      b_eq=np.concatenate([mu, [1.0]]), bounds=(0, None), method="highs")
        if res.status != 0:
            return False
        return bool(np.abs(self.extremes.T @ res.x - mu).max(initial=0.0) <= tol)


def lower_prior_set(states) -> LoweredPriorSet | None:
    """The arrays of ``states.prior_set`` (None for a single prior)."""
    ps = states.prior_set
    if ps is None:
        return None
    S = len(states.points)
    if ps.kind == "hull":
        return LoweredPriorSet("hull", np.array([[float(p) for p in mu] for mu in ps.priors], dtype=float))
    if ps.kind == "penalty":
        return LoweredPriorSet("hull", np.identity(S), penalty=np.array([float(c) for c in ps.penalty], dtype=float))
    classes = []
    for c, marginal in enumerate(ps.marginals):
        values = sorted({pt[c] for pt in states.points}, key=float)
        where = {v: j for j, v in enumerate(values)}
        labels = np.array([where[pt[c]] for pt in states.points], dtype=np.int64)
        table = dict(marginal)
        target = np.array([float(table.get(v, 0)) for v in values], dtype=float)
        classes.append((labels, tuple(float(v) for v in values), target))
    return LoweredPriorSet("marginals", np.zeros((0, S)), tuple(classes))


@dataclass(frozen=True)
class LoweredEnvironment:
    """The numbers of an environment. Shapes: N agents, S states, d outcome dims."""

    env: Environment
    prior: np.ndarray  # (S,)
    states: np.ndarray  # (S, state dims)
    polytope: Polyhedron
    utility_coef: np.ndarray  # (N, S, d)
    utility_const: np.ndarray  # (N, S)
    designer_coef: np.ndarray  # (S, d)
    designer_const: np.ndarray  # (S,)
    finite: bool
    outcome_names: tuple[str, ...]
    checks: dict = field(default_factory=dict)
    # an ambiguous prior (None: the single prior ``prior``); every program that depends on
    # the prior honours it or refuses it (robustmech.programs.priors)
    prior_set: LoweredPriorSet | None = None
    # the baseline signal that every information structure refines (None: none);
    # robustmech.programs.baseline
    baseline: Any = None

    @property
    def n_agents(self) -> int:
        return self.utility_coef.shape[0]

    @property
    def n_states(self) -> int:
        return self.prior.shape[0]

    @property
    def dim(self) -> int:
        return self.polytope.dim

    def payoff_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """u[i, ω, θ] and w[ω, θ] of 004 for a finite outcome set."""
        if not self.finite:
            raise ValueError("payoff tables exist only for finite outcome sets")
        return self.utility_coef.transpose(0, 2, 1).copy(), self.designer_coef.T.copy()


def lower_environment(env: Environment, check: bool = True) -> LoweredEnvironment:
    """Turn an Environment into arrays; with ``check``, refuse environments in which
    no participation-secure mechanism exists (before any program is built)."""
    symbols = env.states.symbols
    points = env.states.values()
    n, s = env.n_agents, env.n_states

    def on_states(expr: sympy.Expr) -> np.ndarray:
        expr = sympy.sympify(expr)
        if not expr.free_symbols:
            try:
                return np.full(s, float(expr))
            except OverflowError:  # an exact number beyond the float range: refused below
                return np.full(s, np.inf)
        f = sympy.lambdify(symbols, expr, modules="numpy")
        with np.errstate(all="ignore"):  # inf and nan are refused below, with the statement's place
            out = np.asarray(f(*points.T), dtype=float)
        return np.broadcast_to(out, (s,)).astype(float)

    def on_states_many(exprs) -> np.ndarray:
        """``on_states`` of each of ``exprs``, (len(exprs), S), with one lambdify for all
        (one per expression takes minutes for a hundred agents' payoff tables)."""
        exprs = [sympy.sympify(e) for e in exprs]
        out = np.empty((len(exprs), s))
        varying = [j for j, e in enumerate(exprs) if e.free_symbols]
        for j, e in enumerate(exprs):
            if not e.free_symbols:
                out[j] = on_states(e)
        if varying:
            f = sympy.lambdify(symbols, [exprs[j] for j in varying], modules="numpy")
            with np.errstate(all="ignore"):
                for j, v in zip(varying, f(*points.T)):
                    out[j] = np.broadcast_to(np.asarray(v, dtype=float), (s,))
        return out

    if env.outcomes.is_finite:
        d = len(env.outcomes)
        poly = Polyhedron(
            names=env.outcomes.names,
            lower=np.zeros(d),
            # implied by the simplex, but stated: a finite upper bound lets the weak-duality
            # bound use a column dual of either sign (solve.dual_objective)
            upper=np.ones(d),
            A_ub=np.zeros((0, d)),
            b_ub=np.zeros(0),
            A_eq=np.ones((1, d)),
            b_eq=np.ones(1),
        )
        ucoef = on_states_many([e for i in range(n) for e in env.utilities[i]]).reshape(n, d, s).transpose(0, 2, 1)
        uconst = np.zeros((n, s))
        wcoef = on_states_many(env.designer).T
        wconst = np.zeros(s)
    else:
        out = env.outcomes
        poly = _polyhedron(out)
        ucoef = np.zeros((n, s, len(out)))
        uconst = np.zeros((n, s))
        for i in range(n):
            ucoef[i], uconst[i] = _affine(env.utilities[i], out.variables, on_states)
        wcoef, wconst = _affine(env.designer, out.variables, on_states)
    for name, arrays, key in (("utilities", (ucoef, uconst), ("utility", 0)), ("designer objective", (wcoef, wconst),
                                                                               "designer")):
        if not all(np.all(np.isfinite(a)) for a in arrays):
            raise ModelError(f"the {name} are not finite in some state", env.location(key))
    low = LoweredEnvironment(
        env=env,
        prior=env.states.prior_array(),
        states=points,
        polytope=poly,
        utility_coef=ucoef,
        utility_const=uconst,
        designer_coef=wcoef,
        designer_const=wconst,
        finite=env.outcomes.is_finite,
        outcome_names=tuple(env.outcomes.names),
        prior_set=lower_prior_set(env.states),
        baseline=env.baseline,
    )
    if check:
        check_participation_secure_exists(low)
    return low


def _affine(expr, variables, on_states):
    expr = sympy.expand(sympy.sympify(expr))
    present = expr.free_symbols
    const = on_states(expr.subs({v: 0 for v in variables if v in present}))
    zero = np.zeros_like(const)
    coef = np.stack([on_states(expr.coeff(v)) if v in present else zero for v in variables], axis=1) \
        if variables else None
    return coef, const


def _polyhedron(out: ContinuousOutcomes) -> Polyhedron:
    d = len(out)
    index = {v: j for j, v in enumerate(out.variables)}
    lower = np.array([-np.inf if b is None else float(b) for b in out.lower])
    upper = np.array([np.inf if b is None else float(b) for b in out.upper])
    ub_rows, ub_rhs, eq_rows, eq_rhs = linear_rows(out.constraints, index)
    return Polyhedron(
        names=out.names,
        lower=lower,
        upper=upper,
        A_ub=np.array(ub_rows).reshape(-1, d),
        b_ub=np.array(ub_rhs),
        A_eq=np.array(eq_rows).reshape(-1, d),
        b_eq=np.array(eq_rhs),
    )


def linear_rows(constraints, index: dict, convert=float, zero=0.0, dtype=float):
    """Linear constraints as rows: ``<=`` and ``>=`` (negated) into (ub_rows, ub_rhs),
    ``==`` into (eq_rows, eq_rhs); ``index`` maps each variable to its column.
    ``convert``/``zero``/``dtype`` choose the arithmetic (floats, or exact fractions)."""
    ub_rows, ub_rhs, eq_rows, eq_rhs = [], [], [], []
    for c in constraints:
        row = np.full(len(index), zero, dtype=dtype)
        for v, coef in c.coefficients:
            row[index[v]] = convert(coef)
        rhs = convert(c.rhs)
        if c.sense == "<=":
            ub_rows.append(row)
            ub_rhs.append(rhs)
        elif c.sense == ">=":
            ub_rows.append(-row)
            ub_rhs.append(-rhs)
        else:
            eq_rows.append(row)
            eq_rhs.append(rhs)
    return ub_rows, ub_rhs, eq_rows, eq_rhs


def _minkowski_weyl(poly: Polyhedron, tol: float = 1e-9) -> Generators:
    """Vertices, extreme rays and lineality of a small polyhedron, by enumerating
    active sets. Outcome spaces have a handful of dimensions, so this is cheap."""
    d = poly.dim
    G, h = poly.inequalities()
    E, e = poly.A_eq, poly.b_eq
    # lineality: directions along which nothing binds
    M = np.vstack([G, E]) if len(G) + len(E) else np.zeros((0, d))
    lineality = _null_space(M, tol)
    # affine parametrisation of {E q = e} ∩ lineality⊥: q = q0 + B z
    constraints = np.vstack([E, lineality.T]) if len(lineality.T) else E
    rhs = np.concatenate([e, np.zeros(lineality.shape[1])])
    if len(constraints):
        q0, *_ = np.linalg.lstsq(constraints, rhs, rcond=None)
        if np.abs(constraints @ q0 - rhs).max(initial=0) > 1e-7:
            return Generators(np.zeros((0, d)), np.zeros((0, d)), lineality.T)
        B = _null_space(constraints, tol)
    else:
        q0, B = np.zeros(d), np.eye(d)
    r = B.shape[1]
    Gz, hz = G @ B, h - G @ q0
    vertices, rays = [], []
    if r == 0:
        if np.all(hz >= -tol):
            vertices.append(q0)
    else:
        for active in itertools.combinations(range(len(Gz)), r):
            sub = Gz[list(active)]
            if np.linalg.matrix_rank(sub, tol) < r:
                continue
            z = np.linalg.solve(sub, hz[list(active)])
            if np.all(Gz @ z <= hz + 1e-9):
                vertices.append(q0 + B @ z)
        for active in itertools.combinations(range(len(Gz)), r - 1):
            sub = Gz[list(active)] if active else np.zeros((0, r))
            ns = _null_space(sub, tol)
            if ns.shape[1] != 1:
                continue
            for sign in (1.0, -1.0):
                z = sign * ns[:, 0]
                if np.all(Gz @ z <= tol):
                    rays.append(B @ z)
    return Generators(_unique_rows(vertices, d), _unique_rows([x / np.abs(x).max() for x in rays], d), lineality.T)


def _null_space(M: np.ndarray, tol: float) -> np.ndarray:
    d = M.shape[1]
    if M.shape[0] == 0:
        return np.eye(d)
    _, sv, vt = np.linalg.svd(M)
    rank = int((sv > tol * max(1.0, sv.max(initial=0))).sum())
    return vt[rank:].T


def _unique_rows(rows, d) -> np.ndarray:
    if not rows:
        return np.zeros((0, d))
    with np.errstate(over="ignore"):  # coordinates near 1e308 round to inf: still told apart by np.unique
        arr = np.round(np.array(rows), 12) + 0.0
    _, idx = np.unique(arr, axis=0, return_index=True)
    return np.array(rows)[np.sort(idx)]


INFEASIBLE_HERE = ": no outcome satisfies this constraint, the variables' bounds and the constraints before it"


def first_infeasible(constraints, variables, bounds) -> int | None:
    """The index of the first of ``constraints`` (linear, on ``variables`` within
    ``bounds``, a list of (low, high) with None for no bound) that makes them infeasible
    together with the ones before it; None if they are all feasible together."""
    from scipy.optimize import linprog

    index = {v: j for j, v in enumerate(variables)}
    for k in range(len(constraints)):
        ub_rows, ub_rhs, eq_rows, eq_rhs = linear_rows(constraints[:k + 1], index)
        res = linprog(np.zeros(len(index)), A_ub=np.array(ub_rows).reshape(-1, len(index)) if ub_rows else None,
                      b_ub=np.array(ub_rhs) if ub_rows else None,
                      A_eq=np.array(eq_rows).reshape(-1, len(index)) if eq_rows else None,
                      b_eq=np.array(eq_rhs) if eq_rows else None, bounds=bounds, method="highs")
        if res.status == 2:
            return k
    return None


def check_participation_secure_exists(low: LoweredEnvironment) -> None:
    """Refuse an environment in which no participation-secure mechanism exists.

    One exists iff some point q of the outcome polyhedron (a lottery over outcomes)
    gives every agent a non-negative utility in every state: the profile of
    participation-secure actions is played against every θ (004 Section 2), and the
    constant mechanism at such a q is participation secure. Each state is tried alone
    first, so that the error can name a state that no outcome can serve.
    """
    from scipy.optimize import linprog

    env, poly = low.env, low.polytope
    bounds = [(None if not np.isfinite(a) else a, None if not np.isfinite(b) else b)
              for a, b in zip(poly.lower, poly.upper)]

    def feasible(states) -> bool:
        states = list(states)
        A = np.vstack([-low.utility_coef[:, s, :] for s in states] + [poly.A_ub])
        b = np.concatenate([low.utility_const[:, s] for s in states] + [poly.b_ub])
        res = linprog(
            np.zeros(poly.dim),
            A_ub=A,
            b_ub=b,
            A_eq=poly.A_eq if len(poly.A_eq) else None,
            b_eq=poly.b_eq if len(poly.A_eq) else None,
            bounds=bounds,
            method="highs",
        )
        return res.status == 0

    where = env.location(("utility", 0)) or env.location("states")
    if len(poly.A_eq) or len(poly.A_ub) or np.isfinite(poly.lower).any() or np.isfinite(poly.upper).any():
        if not feasible([]):
            out = env.outcomes
            first = None if out.is_finite else first_infeasible(out.constraints, out.variables, bounds)
            where_empty = env.location(("constraint", first)) if first is not None else env.location("outcomes")
            raise ModelError("the outcome constraints admit no outcome at all" + (INFEASIBLE_HERE if first is not None
                                                                                    else ""), where_empty)
    if feasible(range(low.n_states)):  # one LP in the usual case; state by state only to name the culprit
        low.checks["participation_secure_exists"] = True
        return
    for s in range(low.n_states):
        if not feasible([s]):
            raise ModelError(
                f"no outcome gives every agent a non-negative utility in state {env.states.labels[s]}: "
                "no participation-secure mechanism exists (004 Section 2)",
                where,
            )
    raise ModelError(
        "no outcome (or lottery over outcomes) gives every agent a non-negative utility in every state: "
        "no participation-secure mechanism exists (004 Section 2)",
        where,
    )
