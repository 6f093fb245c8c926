"""Which closed form applies to a model: recognised from its content, not its name.

Each family of :mod:`robustmech.symbolic.closed_forms` has a recogniser. It infers the
family's parameters from the environment (N from the agents, vbar from the states, p from
the prior, c from the designer's objective, H from ``prior continuous ...``), builds the
family's canonical environment at those parameters (:data:`TEMPLATES`, the bundled
model's statements), lowers both to arrays and compares them:

* the same number of agents, in the same order (no relabelling of the agents);
* the same state points (matched by their exact coordinates; any order) and the same
  prior on them (to 1e-12);
* finite outcomes: the same number, matched one to one by their columns of payoffs
  (every agent's utility and the designer's objective in every state), so a relabelling
  of the outcomes is allowed; continuous outcome variables: matched one to one by their
  bounds and utility columns, then the same constraints (rows compared as sets, each
  scaled to a largest coefficient of 1), utilities and designer objective;
* everything to a relative tolerance of 1e-9.

The first difference found is the reason the family does not apply, e.g.
``public good (004 §4.2): the designer's objective differs at outcome none in state (3, 0)``.
:func:`recognise` tries every family and returns the first that matches, or raises
:class:`~robustmech.errors.UnsupportedError` with one reason per family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import sympy

from ..errors import ModelError, ParameterError, RobustMechError, UnsupportedError

TOL = 1e-9

TEMPLATES = {
    "public_good": """
model public_good
param N = {N}
param vbar = {vbar}
agents i in 1..N
state theta[1..N] in {{ vbar * unit(j) for j in 1..N }}
prior uniform
outcome none
outcome paid_by[j in 1..N]
let E = [outcome != none]
utility[i] = theta[i] * E - [outcome == paid_by[i]]
designer = (sum(theta) - 1) * E
""",
    "common_value_binary": """
model common_value_binary
param N = {N}
param p = {p}
agents i in 1..N
state v in {{0, 1}}
prior [1 - p, p]
allocate q[i] >= 0 with sum(q) <= 1
transfer t[i]
utility[i] = v * q[i] - t[i]
designer = sum(t)
""",
    "bilateral_trade_two_states": """
model bilateral_trade_two_states
param g = {g}
param h = {h}
agents seller, buyer
state (theta1, theta2) in {{(0, g), (h, h + g)}}
prior uniform
allocate q[k in 1..1] >= 0 with sum(q) <= 1
transfer t[k in 1..1]
utility[seller] = t[1] - theta1 * q[1]
utility[buyer] = theta2 * q[1] - t[1]
designer = g * q[1]
""",
    # the states and the prior are the model's own (the recogniser checks that the prior
    # is `prior continuous ...` of a one-dimensional state first)
    "common_value_continuous": """
model common_value_continuous
param N = {N}
param c = {c}
agents i in 1..N
state v in {{{points}}}
prior [{masses}]
allocate q[i] >= 0 with sum(q) <= 1
transfer t[i]
utility[i] = v * q[i] - t[i]
designer = sum(t) - c * sum(q)
""",
}

#: each family's name in reasons
TITLES = {
    "public_good": "public good (004 §4.2)",
    "common_value_binary": "common value, binary (003 §3.5)",
    "common_value_continuous": "common value, continuous prior (002 (3))",
    "bilateral_trade_two_states": "bilateral trade, two states (003 §3.6)",
}


class NotThis(Exception):
    """The family does not apply; the message says why."""


@dataclass(frozen=True)
class Recognised:
    family: str
    params: dict
    distribution: Any = None  # the value distribution H (002) of a continuous prior


def _lower(env):
    from ..lower.arrays import lower_environment

    return lower_environment(env, check=False)


def _canonical(family: str, **fields):
    from ..dsl.parser import parse
    from ..model.elaborate import elaborate

    text = TEMPLATES[family].format(**fields)
    return elaborate(parse(text, f"<{family}>"), {})


def _exact(value) -> str:
    """A number as the language writes it exactly (a rational as p/q)."""
    value = sympy.nsimplify(value) if not isinstance(value, sympy.Basic) else value
    if isinstance(value, sympy.Rational):
        return str(value) if value.q == 1 else f"({value.p}/{value.q})"
    raise NotThis(f"the parameter {value} is not a rational number")


def _point(point) -> str:
    return "(" + ", ".join(str(c) for c in point) + ")" if len(point) > 1 else str(point[0])


def _close(a, b) -> bool:
    return bool(np.allclose(a, b, rtol=TOL, atol=TOL))


def compare(env, canon) -> None:
    """Raise :class:`NotThis` at the first difference between ``env`` and ``canon``."""
    low, ref = _lower(env), _lower(canon)
    if low.n_agents != ref.n_agents:
        raise NotThis(f"it has {low.n_agents} agents, the family's model {ref.n_agents}")
    points = list(env.states.points)
    ref_points = list(canon.states.points)
    if len(points) != len(ref_points) or len(points[0]) != len(ref_points[0]):
        raise NotThis(f"its state set has {len(points)} points of {len(points[0])} coordinates, the family's "
                      f"{len(ref_points)} of {len(ref_points[0])}")
    order = []
    for p in ref_points:
        if p not in points:
            raise NotThis(f"the state {_point(p)} of the family's model is not a state of this one")
        order.append(points.index(p))
    for s_ref, s in enumerate(order):
        if abs(low.prior[s] - ref.prior[s_ref]) > 1e-12:
            raise NotThis(f"the prior differs at state {_point(ref_points[s_ref])}: {env.states.prior[s]} instead "
                          f"of {canon.states.prior[s_ref]}")
    labels = [_point(p) for p in ref_points]
    u, w = low.utility_coef[:, order, :], low.designer_coef[order, :]
    uc, wc = low.utility_const[:, order], low.designer_const[order]
    if low.finite != ref.finite:
        kind = {True: "a finite outcome set", False: "continuous outcome variables"}
        raise NotThis(f"its outcomes are {kind[low.finite]}, the family's are {kind[ref.finite]}")
    if low.dim != ref.dim:
        raise NotThis(f"it has {low.dim} outcome{'s' if low.dim != 1 else ''} ({', '.join(low.outcome_names)}), "
                      f"the family's model {ref.dim} ({', '.join(ref.outcome_names)})")
    columns = [np.concatenate([u[:, :, j].ravel(), w[:, j]]) for j in range(low.dim)]
    ref_columns = [np.concatenate([ref.utility_coef[:, :, j].ravel(), ref.designer_coef[:, j]]) for j in range(ref.dim)]
    if low.finite:
        match = _matching(columns, ref_columns)
        if match is None:  # report the first difference, pairing the outcomes by name if they agree, else in order
            names = list(low.outcome_names)
            match = ([names.index(n) for n in ref.outcome_names] if sorted(names) == sorted(ref.outcome_names)
                     else list(range(low.dim)))
        _payoffs(low, ref, u, w, uc, wc, match, labels, [ref.outcome_names[j] for j in range(ref.dim)], "outcome")
        return
    keys = [np.concatenate([u[:, :, j].ravel(), [low.polytope.lower[j], low.polytope.upper[j]]])
            for j in range(low.dim)]
    ref_keys = [np.concatenate([ref.utility_coef[:, :, j].ravel(), [ref.polytope.lower[j], ref.polytope.upper[j]]])
                for j in range(ref.dim)]
    match = _matching(keys, ref_keys)
    if match is None:
        match = list(range(low.dim))
        _payoffs(low, ref, u, w, uc, wc, match, labels, list(ref.outcome_names), "variable")
        raise NotThis("its outcome variables' bounds differ from the family's")
    _constraints(low, ref, match)
    _payoffs(low, ref, u, w, uc, wc, match, labels, list(ref.outcome_names), "variable")


def variable_matching(env, canon) -> list[int] | None:
    """For continuous outcomes: the model's variable matched to each of ``canon``'s, by
    bounds and utility columns (None without a one-to-one matching)."""
    low, ref = _lower(env), _lower(canon)
    if low.finite or ref.finite or low.dim != ref.dim or low.n_agents != ref.n_agents:
        return None
    keys = [np.concatenate([low.utility_coef[:, :, j].ravel(), [low.polytope.lower[j], low.polytope.upper[j]]])
            for j in range(low.dim)]
    ref_keys = [np.concatenate([ref.utility_coef[:, :, j].ravel(), [ref.polytope.lower[j], ref.polytope.upper[j]]])
                for j in range(ref.dim)]
    if len(env.states.points) != len(canon.states.points) or list(env.states.points) != list(canon.states.points):
        return None
    return _matching(keys, ref_keys)


def _matching(columns, ref_columns) -> list[int] | None:
    """match[j] = the column of ``columns`` equal to ref_columns[j], one to one (None if none)."""
    used: set[int] = set()
    match = []
    for ref_col in ref_columns:
        found = next((k for k, col in enumerate(columns)
                      if k not in used and col.shape == ref_col.shape
                      and np.array_equal(np.isfinite(col), np.isfinite(ref_col))
                      and _close(np.where(np.isfinite(col), col, 0), np.where(np.isfinite(ref_col), ref_col, 0))),
                     None)
        if found is None:
            return None
        used.add(found)
        match.append(found)
    return match


def _payoffs(low, ref, u, w, uc, wc, match, labels, ref_names, what) -> None:
    agents = low.env.agents
    for i in range(ref.n_agents):
        for j, k in enumerate(match):
            for s, label in enumerate(labels):
                if not _close(u[i, s, k], ref.utility_coef[i, s, j]):
                    raise NotThis(f"agent {agents[i]}'s utility differs at {what} {ref_names[j]} in state {label}")
        for s, label in enumerate(labels):
            if not _close(uc[i, s], ref.utility_const[i, s]):
                raise NotThis(f"agent {agents[i]}'s utility differs by a constant in state {label}")
    for j, k in enumerate(match):
        for s, label in enumerate(labels):
            if not _close(w[s, k], ref.designer_coef[s, j]):
                raise NotThis(f"the designer's objective differs at {what} {ref_names[j]} in state {label}")
    for s, label in enumerate(labels):
        if not _close(wc[s], ref.designer_const[s]):
            raise NotThis(f"the designer's objective differs by a constant in state {label}")


def _rows(A, b, match) -> list[tuple]:
    rows = []
    for a, rhs in zip(A[:, match] if A.size else A.reshape(0, len(match)), b):
        scale = max(float(np.max(np.abs(a))), 1e-300)
        rows.append(tuple(np.round(np.concatenate([a, [rhs]]) / scale, 9)))
    return sorted(rows)


def _constraints(low, ref, match) -> None:
    P, R = low.polytope, ref.polytope
    if _rows(P.A_ub, P.b_ub, match) != _rows(R.A_ub, R.b_ub, list(range(R.dim))):
        raise NotThis("its constraints on the outcome variables differ from the family's (e.g. sum(q) <= 1)")
    eq, ref_eq = _rows(P.A_eq, P.b_eq, match), _rows(R.A_eq, R.b_eq, list(range(R.dim)))
    if eq != ref_eq and [tuple(-x for x in r) for r in eq] != ref_eq:
        raise NotThis("its equality constraints on the outcome variables differ from the family's")


# ---------------------------------------------------------------------- the families


def _public_good(env) -> Recognised:
    N = env.n_agents
    points = env.states.points
    if len(points[0]) != N:
        raise NotThis(f"the state has {len(points[0])} coordinate{'s' if len(points[0]) != 1 else ''}, not one "
                      f"per agent (N = {N})")
    vbar = max((c for p in points for c in p), key=float)
    compare(env, _canonical("public_good", N=N, vbar=_exact(vbar)))
    return Recognised("public_good", {"N": N, "vbar": float(vbar)})


def _common_value_binary(env) -> Recognised:
    points = list(env.states.points)
    if sorted(points, key=lambda p: [float(c) for c in p]) != [(0,), (1,)]:
        raise NotThis(f"the state set is not {{0, 1}} (it has {len(points)} point{'s' if len(points) != 1 else ''})")
    p = env.states.prior[points.index((1,))]
    compare(env, _canonical("common_value_binary", N=env.n_agents, p=_exact(p)))
    return Recognised("common_value_binary", {"N": env.n_agents, "p": float(p)})


def _bilateral_trade(env) -> Recognised:
    points = sorted(env.states.points, key=lambda p: [float(c) for c in p])
    if env.n_agents != 2 or len(points) != 2 or len(points[0]) != 2:
        raise NotThis("it is not two agents with two states of two coordinates (theta1, theta2)")
    g, h = points[0][1], points[1][0]
    compare(env, _canonical("bilateral_trade_two_states", g=_exact(g), h=_exact(h)))
    return Recognised("bilateral_trade_two_states", {"g": float(g), "h": float(h)})


def _common_value_continuous(env) -> Recognised:
    from .continuous import distribution_of

    prior = env.states.continuous
    if prior is None:
        raise NotThis("its prior is not a continuous distribution (`prior continuous ...`)")
    fields = dict(N=env.n_agents, points=", ".join(str(p[0]) for p in env.states.points),
                  masses=", ".join(str(m) for m in env.states.prior))
    plain = _canonical("common_value_continuous", c=0, **fields)
    match = variable_matching(env, plain)
    c = 0.0
    if match is not None:  # the cost c: minus the designer's coefficient on q[1]
        low = _lower(env)
        c = 0.0 - float(low.designer_coef[0, match[0]])  # (0.0 - x: no -0.0)
    compare(env, _canonical("common_value_continuous", c=_exact(sympy.nsimplify(c, rational=True, tolerance=1e-12)),
                            **fields))
    if prior.upper == sympy.oo:
        raise NotThis(f"the prior {prior} has an unbounded support; 002 Section 2.1 assumes a bounded one "
                      "(002 footnote 36 takes a limit of the bounded formulas)")
    return Recognised("common_value_continuous", {"N": env.n_agents, "c": c}, distribution_of(prior))


RECOGNISERS: dict[str, Callable[[Any], Recognised]] = {
    "public_good": _public_good,
    "common_value_binary": _common_value_binary,
    "common_value_continuous": _common_value_continuous,
    "bilateral_trade_two_states": _bilateral_trade,
}


def recognise(env) -> Recognised:
    """The first family whose recogniser matches ``env`` (any name), or an
    UnsupportedError giving one reason per family."""
    reasons = []
    for family, recogniser in RECOGNISERS.items():
        try:
            return recogniser(env)
        except NotThis as exc:
            reasons.append(f"{TITLES[family]}: {exc}")
        except (ModelError, ParameterError) as exc:  # a canonical model refusing the inferred parameters
            reasons.append(f"{TITLES[family]}: {getattr(exc, 'message', exc)}")
        except RobustMechError as exc:  # pragma: no cover - defensive
            reasons.append(f"{TITLES[family]}: {exc}")
    raise UnsupportedError("no closed form applies: " + "; ".join(reasons))
