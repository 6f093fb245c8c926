"""Standard mechanisms and information structures, built from arrays.

Mechanisms (003 Section 2: M = (A, m)) for quasilinear environments, whose outcome
variables are declared with roles: one ``allocation`` q_i and one ``transfer`` t_i per
agent (``allocate q[i] ...`` and ``transfer t[i]`` in a model file, or
:meth:`ModelBuilder.allocation` / :meth:`ModelBuilder.transfer`):

* :func:`first_price_auction`, :func:`second_price_auction`, :func:`all_pay_auction`
  on a bid grid (ties broken uniformly, an optional reserve price);
* :func:`posted_price` (actions: pass or buy; the good goes to a uniformly drawn buyer);
* :func:`proportional_cost_sharing` (004 Section 4.2.1: total expenditure Ê(Σx), agent
  i's share x_i/Σx), for the public good with finite outcomes ``none`` and one
  ``paid_by`` outcome per agent, or with one contribution variable per agent.

Every action profile is handled at once with numpy broadcasting over the grid of
profiles; no Python loop runs over profiles.

Information structures (003 Section 2: I = (S, σ)): :func:`information_from_joint`,
:func:`product_information` (σ(s, θ) = μ(θ) Π_i π_i(s_i | θ)) and
:func:`state_revealing_information` (each agent observes some coordinates of θ, e.g.
their own value in Myerson's private-value example of 003 Section 1.1).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..errors import ModelError
from .environment import Environment
from .objects import InformationStructure, Mechanism

# ---------------------------------------------------------------------------
# helpers


def bid_grid(count: int, top: float = 1.0, bottom: float = 0.0) -> np.ndarray:
    """``count`` evenly spaced bids from ``bottom`` to ``top`` (both included)."""
    if int(count) != count or count < 2:
        raise ModelError(f"a bid grid needs at least 2 bids, got {count!r}")
    if not top > bottom:
        raise ModelError(f"the top bid {top} must exceed the bottom bid {bottom}")
    return np.linspace(float(bottom), float(top), int(count))


def _as_bids(bids, what: str = "bids") -> np.ndarray:
    if np.isscalar(bids):
        return bid_grid(int(bids))  # type: ignore[arg-type]  # numpy's isscalar guard admits complex; int() refuses it
    arr = np.asarray(bids, dtype=float).reshape(-1)
    if arr.size < 1:
        raise ModelError(f"the {what} are empty")
    if np.any(np.diff(arr) <= 0):
        raise ModelError(f"the {what} must be strictly increasing")
    return arr


def quasilinear_roles(env: Environment) -> tuple[list[int], list[int]]:
    """Indices of the allocation variable q_i and the transfer variable t_i of each agent.

    Raises a ModelError naming what is missing when the environment is not an auction
    with one allocation and one transfer per agent.
    """
    out = env.outcomes
    if out.is_finite:
        raise ModelError(
            "this mechanism needs allocation and transfer variables (write `allocate q[i] ...` and "
            "`transfer t[i]`); the model has a finite outcome set", env.location("outcomes"))
    alloc = [j for j, r in enumerate(out.roles) if r == "allocation"]
    trans = [j for j, r in enumerate(out.roles) if r == "transfer"]
    n = env.n_agents
    if len(alloc) != n or len(trans) != n:
        raise ModelError(
            f"this mechanism needs one allocation and one transfer variable per agent ({n} each); "
            f"the model declares {len(alloc)} allocation and {len(trans)} transfer variables",
            env.location("outcomes"))
    return alloc, trans


def _profiles(bids: np.ndarray, n: int) -> np.ndarray:
    """Bid of each agent at each profile: shape (n, K, ..., K)."""
    grids = np.meshgrid(*([bids] * n), indexing="ij")
    return np.stack(grids)


def _highest_bidder_allocation(b: np.ndarray, reserve: float | None) -> np.ndarray:
    """q_i = 1/#winners if b_i is the highest bid (and meets the reserve), else 0."""
    top = b.max(axis=0)
    win = np.isclose(b, top[None])
    if reserve is not None:
        win &= top[None] >= reserve - 1e-12
    count = win.sum(axis=0)
    return np.where(win, 1.0 / np.maximum(count, 1)[None], 0.0)


def _auction(env: Environment, bids: np.ndarray, q: np.ndarray, t: np.ndarray, name: str, meta: dict) -> Mechanism:
    alloc, trans = quasilinear_roles(env)
    n, d = env.n_agents, len(env.outcomes)
    shape = (len(bids),) * n
    rule = np.zeros(shape + (d,))
    for i in range(n):  # a loop over agents only
        rule[..., alloc[i]] = q[i]
        rule[..., trans[i]] = t[i]
    return Mechanism(tuple(bids.copy() for _ in range(n)), env.outcomes.names, rule, finite=False, name=name,
                     metadata=dict(meta, generator=name))


def _check_reserve(reserve):
    if reserve is not None and (not np.isfinite(reserve)):
        raise ModelError(f"the reserve price must be a number, got {reserve!r}")


# ---------------------------------------------------------------------------
# auctions


def first_price_auction(env: Environment, bids=21, reserve: float | None = None) -> Mechanism:
    """First-price auction on a bid grid: the highest bid wins (ties uniformly) and the
    winner pays their bid. Bidding the lowest bid 0 is participation secure."""
    bids = _as_bids(bids)
    _check_reserve(reserve)
    b = _profiles(bids, env.n_agents)
    q = _highest_bidder_allocation(b, reserve)
    return _auction(env, bids, q, q * b, "first_price", {"reserve": reserve})


def second_price_auction(env: Environment, bids=21, reserve: float | None = None) -> Mechanism:
    """Second-price auction on a bid grid: the highest bid wins (ties uniformly) and the
    winner pays the larger of the highest losing bid and the reserve."""
    bids = _as_bids(bids)
    _check_reserve(reserve)
    n = env.n_agents
    b = _profiles(bids, n)
    q = _highest_bidder_allocation(b, reserve)
    if n == 1:
        second = np.zeros_like(b)
    else:
        # the highest bid among the others, for each agent
        second = np.stack([np.delete(b, i, axis=0).max(axis=0) for i in range(n)])
    price = np.maximum(second, reserve if reserve is not None else -np.inf)
    return _auction(env, bids, q, q * price, "second_price", {"reserve": reserve})


def all_pay_auction(env: Environment, bids=21, reserve: float | None = None) -> Mechanism:
    """All-pay auction on a bid grid: the highest bid wins (ties uniformly) and every
    bidder pays their bid."""
    bids = _as_bids(bids)
    _check_reserve(reserve)
    b = _profiles(bids, env.n_agents)
    q = _highest_bidder_allocation(b, reserve)
    return _auction(env, bids, q, b.copy(), "all_pay", {"reserve": reserve})


def posted_price(env: Environment, price: float) -> Mechanism:
    """Posted price p: each agent passes (action 0) or asks to buy (action 1); the good
    goes to one of the buyers, uniformly, who pays p. Passing is participation secure.

    With a pure common value v uniform on [0, 1] its guarantee is p(1 - 2p), at most 1/8
    at p = 1/4 (002 Section 6.1 and its footnote 35: the worst case is a public signal
    whether v exceeds 2p)."""
    price = float(price)
    if not np.isfinite(price):
        raise ModelError(f"the posted price must be a number, got {price!r}")
    acts = np.array([0.0, 1.0])
    b = _profiles(acts, env.n_agents)
    buyers = b > 0.5
    count = buyers.sum(axis=0)
    q = np.where(buyers, 1.0 / np.maximum(count, 1)[None], 0.0)
    mech = _auction(env, acts, q, q * price, "posted_price", {"price": price})
    return mech


# ---------------------------------------------------------------------------
# public good


def proportional_cost_sharing(env: Environment, bids=21, expenditure: Callable[[np.ndarray], np.ndarray] | None = None,
                              none: str = "none", paid_by: Sequence[str] | None = None) -> Mechanism:
    """Proportional cost-sharing (004 Section 4.2.1): total expenditure Ê(Σx) depends on
    the aggregate action, and agent i's share is e_i(x) = (x_i / Σx) Ê(Σx).

    ``expenditure`` maps aggregate actions to [0, 1] (default: Ê(y) = min(1, y / max bid),
    linear until the aggregate reaches the top bid). Finite outcomes: ``none`` and one
    ``paid_by`` outcome per agent (default: every other outcome, in agent order), and
    m(paid_by[i] | x) = e_i(x). Continuous outcomes: one contribution variable per
    agent (the allocation or plain variables, in agent order) set to e_i(x).
    Ê(0) = 0 makes the action 0 participation secure.
    """
    bids = _as_bids(bids)
    n = env.n_agents
    b = _profiles(bids, n)
    total = b.sum(axis=0)
    if expenditure is None:
        top = bids[-1]
        expenditure = lambda y: np.minimum(1.0, y / top)  # noqa: E731
    E = np.asarray(expenditure(total), dtype=float)
    if E.shape != total.shape:
        E = np.broadcast_to(E, total.shape)
    if np.any(E < -1e-12) or np.any(E > 1 + 1e-12):
        raise ModelError("the expenditure function must take values in [0, 1]")
    E = np.clip(E, 0.0, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total[None] > 0, b / np.where(total > 0, total, 1.0)[None], 1.0 / n)
    e = share * E[None]
    out = env.outcomes
    names = out.names
    if out.is_finite:
        if paid_by is None:
            paid_by = [nm for nm in names if nm != none]
        paid_by = list(paid_by)
        if none not in names:
            raise ModelError(f"proportional cost-sharing needs a no-expenditure outcome '{none}'; "
                             f"the outcomes are {', '.join(names)}", env.location("outcomes"))
        if len(paid_by) != n or any(p not in names for p in paid_by):
            raise ModelError(f"proportional cost-sharing needs one 'paid by' outcome per agent ({n}); "
                             f"got {paid_by}", env.location("outcomes"))
        rule = np.zeros(total.shape + (len(names),))
        rule[..., names.index(none)] = 1.0 - E
        for i in range(n):
            rule[..., names.index(paid_by[i])] = e[i]
        finite = True
    else:
        contrib = [j for j, r in enumerate(out.roles) if r in ("allocation", "variable")]
        if len(contrib) != n:
            raise ModelError(f"proportional cost-sharing needs one contribution variable per agent ({n}); "
                             f"the model declares {len(contrib)}", env.location("outcomes"))
        rule = np.zeros(total.shape + (len(names),))
        for i in range(n):
            rule[..., contrib[i]] = e[i]
        finite = False
    return Mechanism(tuple(bids.copy() for _ in range(n)), names, rule, finite=finite, name="proportional_cost_sharing",
                     metadata={"generator": "proportional_cost_sharing"})


GENERATORS: dict[str, Callable[..., Mechanism]] = {
    "first_price": first_price_auction,
    "second_price": second_price_auction,
    "all_pay": all_pay_auction,
    "posted_price": posted_price,
    "proportional_cost_sharing": proportional_cost_sharing,
}


def standard_mechanism(env: Environment, name: str, **options) -> Mechanism:
    """A bundled mechanism by name (``first_price``, ``second_price``, ``all_pay``,
    ``posted_price``, ``proportional_cost_sharing``) with its options (``bids=41``,
    ``reserve=0.2``, ``price=0.25``)."""
    key = name.replace("-", "_")
    if key not in GENERATORS:
        raise ModelError(f"unknown standard mechanism '{name}'; choose one of {', '.join(GENERATORS)}")
    try:
        return GENERATORS[key](env, **options)
    except TypeError as exc:
        raise ModelError(f"bad options for mechanism '{name}': {exc}") from None


# ---------------------------------------------------------------------------
# information structures


def information_from_joint(signals: Sequence[Sequence | np.ndarray], state_labels: Sequence[str], joint,
                           name: str = "information") -> InformationStructure:
    """I = (S, σ) from a joint table ``joint[s_1, ..., s_N, θ]`` (non-negative, summing to one)."""
    joint = np.asarray(joint, dtype=float)
    if np.any(joint < 0):
        raise ModelError("the joint distribution of signals and states has a negative entry")
    total = joint.sum()
    if abs(total - 1.0) > 1e-9:
        raise ModelError(f"the joint distribution of signals and states sums to {total:.10g}, not 1")
    try:
        return InformationStructure(tuple(np.asarray(s) for s in signals), tuple(state_labels), joint, name=name)
    except ValueError as exc:
        raise ModelError(str(exc)) from None


def product_information(env: Environment, conditionals: Sequence,
                        signals: Sequence[Sequence | np.ndarray] | None = None,
                        name: str = "information") -> InformationStructure:
    """σ(s, θ) = μ(θ) Π_i π_i(s_i | θ): signals drawn independently given the state.

    ``conditionals[i]`` has shape (|S_i|, |Θ|), each column a distribution over agent i's
    signals."""
    prior = env.states.prior_array()
    n = env.n_agents
    if len(conditionals) != n:
        raise ModelError(f"give one conditional signal distribution per agent ({n}), got {len(conditionals)}")
    joint = prior
    for i, pi in enumerate(conditionals):
        pi = np.asarray(pi, dtype=float)
        if pi.ndim != 2 or pi.shape[1] != len(prior):
            raise ModelError(f"the signal distribution of agent {env.agents[i]} must have shape (signals, {len(prior)} "
                             "states)")
        if np.any(pi < 0) or not np.allclose(pi.sum(0), 1.0, atol=1e-9):
            raise ModelError(f"the signal distribution of agent {env.agents[i]} is not a distribution in every state")
        # joint[s_1..s_i, θ] -> joint[s_1..s_i, s_{i+1}, θ]
        joint = joint[..., None, :] * pi
    if signals is None:
        signals = [np.arange(np.asarray(pi).shape[0]) for pi in conditionals]
    return information_from_joint(signals, env.states.labels, joint, name=name)


def state_revealing_information(env: Environment, coordinates: Sequence | None = None,
                                name: str = "information") -> InformationStructure:
    """Each agent observes some coordinates of the state: ``coordinates[i]`` is a state
    symbol name (or index, or a list of them). By default agent i observes coordinate i
    (private values: ``theta[i]`` is agent i's own value, 003 Section 1.1). Signals are
    the distinct observed values; σ(s, θ) = μ(θ) when s is what θ shows, else 0."""
    points = env.states.values()
    symbols = [s.name for s in env.states.symbols]
    n = env.n_agents
    if coordinates is None:
        if len(symbols) != n:
            raise ModelError(f"say which state coordinates each agent observes: the state has {len(symbols)} "
                             f"coordinates for {n} agents")
        coordinates = list(range(n))
    if len(coordinates) != n:
        raise ModelError(f"give the observed coordinates of each of the {n} agents")
    codes, axes = [], []
    for i, c in enumerate(coordinates):
        cols = []
        for x in (c if isinstance(c, (list, tuple)) else [c]):
            if isinstance(x, str):
                if x not in symbols:
                    raise ModelError(f"agent {env.agents[i]} observes an unknown state coordinate '{x}'")
                cols.append(symbols.index(x))
            else:
                cols.append(int(x))
        seen = points[:, cols]
        values, code = np.unique(np.round(seen, 12), axis=0, return_inverse=True)
        codes.append(code.reshape(-1))
        axes.append(values[:, 0] if values.shape[1] == 1 else np.arange(len(values)))
    shape = tuple(len(a) for a in axes) + (len(points),)
    joint = np.zeros(shape)
    joint[tuple(codes) + (np.arange(len(points)),)] = env.states.prior_array()
    return information_from_joint(axes, env.states.labels, joint, name=name)
