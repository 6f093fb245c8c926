"""Restricted mechanism classes: linear restrictions on the mechanism of LB-G-k.

A model's ``restrict`` statements (docs/language.md) shrink the designer's choice set in
the guarantee program LB-G-k ((9) of 004). Each restriction is a family of linear rows
on the mechanism block m(ω|x) of LB-G-k (x ∈ X(k), ω an outcome or an outcome
coordinate), so the restricted program is still an LP and its value is the guarantee
lower bound of the best mechanism on X(k) *within the class*; restricting the choice set
cannot raise the max, so it is at most the unrestricted LB(k).

* ``anonymous``: m(φω | πx) = m(ω | x) for every relabeling (π, τ, φ) of the agents (with
  the states and outcome coordinates relabelled alongside) that leaves the environment
  unchanged (:func:`robustmech.lower.symmetry.find_symmetries`): the outcome at a
  permuted action profile is the permuted outcome. Written as m(g(x, ω)) - m(x, ω) = 0
  for each detected relabeling g (a column (x, ω) that g fixes gives a free, empty row).
* ``aggregate``: m(·|x) depends on x only through the aggregate action Σ_i x_i. On
  X(k), x_i = l_i / k with 0 <= l_i <= k², so Σ_i x_i = L / k with L = Σ_i l_i ∈ {0, ...,
  N k²}. Written with the aggregate rule a(ω | L) as extra columns: m(ω|x) - a(ω|L(x)) = 0.
  ``aggregate E`` restricts one definition E of the outcome (a number per outcome, or
  linear in the outcome variables, free of the state): Σ_ω E(ω) m(ω|x) - e(L(x)) = 0
  (004 Section 4: the total expenditure of the optimum is a function of Σx).
* ``no_transfers_to_losers`` (quasilinear models, one allocation variable q_i and one
  transfer t_i per agent): -v̄_i q_i(x) <= t_i(x) <= v̄_i q_i(x), v̄_i the highest value
  of agent i for its allocation. An outcome point (q, t) of LB-G-k is an expected
  allocation and transfer; "an agent who gets nothing pays and receives nothing" is the
  non-convex condition q_i = 0 => t_i = 0, whose closure is every point. Its linear form
  is the lottery reading: with probability q_i agent i wins and pays a price p_i, with
  probability 1 - q_i it loses and pays nothing, so t_i = q_i p_i; with |p_i| <= v̄_i that
  is exactly the rows above (and t_i = 0 whenever q_i = 0).
* ``budget_balanced`` (models with transfer variables): Σ_i t_i(x) = 0 at every profile.
  Ex post budget balance (every outcome of the lottery balances) implies it, and every
  point of P ∩ {Σ t = 0} is a lottery over balanced outcomes of that polyhedron, so the
  two are the same restriction on LB-G-k.
* ``mixture of M1, M2, ...`` is not a restriction of LB-G-k (the mechanisms are fixed, on
  their own action sets, not on X(k)); :func:`robustmech.mixture.mixture_guarantee`
  computes the exact guarantee of mixtures and this module refuses it in LB-G-k.

Every family is built for all profiles at once from Kronecker products and index maps
(no loop over grid points). The families are invariant under the environment's
symmetries whenever the restriction is (anonymity and the aggregate are; the
transfer rows are because φ maps agent i's allocation and transfer to agent π(i)'s); the
symmetry reduction checks the program's invariance on its numbers in any case.
:func:`check_mechanism` checks a read-back mechanism against each restriction directly
on its rule array (transposing the profile axes, not through the LP's index maps).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import Location, ModelError, SolverError, UnsupportedError
from ..lower.arrays import LoweredEnvironment
from ..lower.grid import Grid
from ..model.elaborate import RESTRICTION_KINDS
from ..model.objects import Mechanism
from .lp import ProgramBuilder, labelled

#: the kinds of `restrict` (the elaborator checks the words; this module gives them meaning)
KINDS = RESTRICTION_KINDS
#: the standard mechanisms of a mixture take their default bids; the most bid profiles built
STANDARD_BIDS = 21
MAX_STANDARD_PROFILES = 200_000
#: a read-back mechanism may violate a restriction by this much (relative to its size)
TOLERANCE = 1e-6


def restrictions(low: LoweredEnvironment) -> tuple[dict, ...]:
    return tuple(getattr(low.env, "restrictions", ()) or ())


def label(r: dict) -> str:
    """How a restriction is written: ``anonymous``, ``aggregate E``, ``mixture of a, b``."""
    if r.get("of"):
        return f"{r['kind']} {r['of']}"
    if r.get("mechanisms"):
        return f"{r['kind']} of {', '.join(r['mechanisms'])}"
    return str(r["kind"])


def where(low: LoweredEnvironment, j: int) -> Location | None:
    return low.env.locations.get(("restrict", j))


def _error(low: LoweredEnvironment, j: int, message: str) -> ModelError:
    return ModelError(f"restrict {label(restrictions(low)[j])}: {message}", where(low, j))


def refuse(low: LoweredEnvironment, program: str, title: str, alternative: str) -> None:
    """Refuse a program that takes no restrictions, naming the program and the first
    restriction's place, when the model has any."""
    rs = restrictions(low)
    if rs:
        raise UnsupportedError(f"{where(low, 0) or low.env.name}: program '{program}' ({title}) takes no "
                               f"restrictions on the mechanism (restrict {rs[0]['kind']}); {alternative}")


def check(low: LoweredEnvironment) -> None:
    """Check that every restriction applies to the lowered model (run when the model is
    validated, before any program is built); errors name the restrict statement."""
    for j, r in enumerate(restrictions(low)):
        kind = r["kind"]
        if kind == "anonymous":
            _symmetries(low, j)
        elif kind == "no_transfers_to_losers":
            _losers(low, j)
        elif kind == "budget_balanced":
            _transfer_columns(low, j)
        elif kind == "mixture":
            resolve_mixture(low.env, tuple(r["mechanisms"]), where(low, j))


def _symmetries(low: LoweredEnvironment, j: int) -> list:
    from ..lower.symmetry import find_symmetries

    syms = find_symmetries(low)
    if not syms:
        raise _error(low, j, "no relabeling of the agents (with the states and outcomes relabelled alongside) "
                     "that leaves this model's prior and payoffs unchanged was found (none exists, or the search "
                     "over permutations of the agents and outcomes is too large), so there is no symmetric "
                     "treatment of the agents to impose")
    return syms


def _transfer_columns(low: LoweredEnvironment, j: int) -> np.ndarray:
    roles = getattr(low.env.outcomes, "roles", ())
    cols = np.array([c for c, role in enumerate(roles) if role == "transfer"], dtype=np.int64)
    if low.finite or not len(cols):
        raise _error(low, j, "this model has no transfers (declare `transfer t[i]`)")
    return cols


def _losers(low: LoweredEnvironment, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Agent i's allocation column, transfer column and highest value v̄_i."""
    from ..lower.quasilinear import recognise

    try:
        q = recognise(low)
    except UnsupportedError as exc:
        raise _error(low, j, f"it needs a quasilinear model with one allocation per agent: {exc}") from None
    n = low.n_agents
    alloc = np.full(n, -1, dtype=np.int64)
    vbar = np.zeros(n)
    for i in range(n):
        own = np.flatnonzero(q.owners == i)
        if len(own) != 1:
            raise _error(low, j, f"agent {low.env.agents[i]} values {len(own)} allocation variables; the restriction "
                         "needs one allocation q_i per agent (`allocate q[i] ...`)")
        alloc[i] = q.allocation_columns[own[0]]
        vbar[i] = float(q.values[i, :, own[0]].max())
    return alloc, q.transfer_columns.astype(np.int64), vbar


def resolve_mixture(env, names: tuple[str, ...], where: Location | None) -> list[Mechanism]:
    """The named mechanisms (declared in the model, or standard ones with their default
    options), checked to share action sets and outcomes."""
    from ..model import generators

    mechs = []
    for name in names:
        obj = env.mechanisms.get(name)
        if obj is None:
            profiles = STANDARD_BIDS ** env.n_agents
            if profiles > MAX_STANDARD_PROFILES:
                raise ModelError(f"restrict mixture: the standard mechanism {name} has {STANDARD_BIDS} bids per agent, "
                                 f"{profiles:,} bid profiles for {env.n_agents} agents; at most "
                                 f"{MAX_STANDARD_PROFILES:,} are built (declare the mechanisms from files)", where)
            obj = generators.standard_mechanism(env, name)
        if not isinstance(obj, Mechanism):
            raise ModelError(f"restrict mixture: '{name}' is not a mechanism", where)
        mechs.append(obj)
    first = mechs[0]
    for name, m in zip(names[1:], mechs[1:]):
        same = m.shape == first.shape and m.outcome_names == first.outcome_names and all(
            np.array_equal(a, b) for a, b in zip(m.actions, first.actions))
        if not same:
            raise ModelError(f"restrict mixture: {name} and {names[0]} do not share their action sets and outcomes "
                             f"({' x '.join(map(str, m.shape))} vs {' x '.join(map(str, first.shape))} actions); a "
                             "mixture combines the outcomes at the same action profile", where)
    return mechs



# -- rows of LB-G-k ------------------------------------------------------------------------


def add_rows(b: ProgramBuilder, grid: Grid, low: LoweredEnvironment, X, Omega) -> list[str]:
    """Add every restriction's rows to LB-G-k under construction; returns their families."""
    families = []
    for j, r in enumerate(restrictions(low)):
        kind = r["kind"]
        if kind == "mixture":
            raise UnsupportedError(
                f"{where(low, j) or low.env.name}: restrict mixture: LB-G-k (program 'guarantee') optimises over "
                "mechanisms on its grid X(k), and a mixture of fixed mechanisms is not one; the exact guarantee of "
                "the mixtures is computed by `robustmech evaluate MODEL --mixture` "
                "(robustmech.mixture.mixture_guarantee)")
        families.append(_ADD[kind](b, grid, low, j, X, Omega))
    return families


def _profile_images(grid: Grid, d: int, sym) -> np.ndarray:
    """Flat column (x, ω) of m -> the column of (πx, φω)."""
    from ..lower.symmetry import profile_permutation

    moved = profile_permutation(grid.shape, sym.agents)
    return (moved[:, None] * d + np.asarray(sym.outcomes)[None, :]).ravel()


def _anonymous(b, grid, low, j, X, Omega) -> str:
    n_m, d = grid.size * low.dim, low.dim
    mats, lower, upper = [], [], []
    syms = _symmetries(low, j)
    for sym in syms:
        image = _profile_images(grid, d, sym)
        moved = image != np.arange(n_m)
        rows = np.arange(n_m)
        # m(g r) - m(r) for each column r; a column g fixes gives an empty, free row
        data = np.concatenate([np.where(moved, 1.0, 0.0), np.where(moved, -1.0, 0.0)])
        mat = sp.csr_matrix((data, (np.concatenate([rows, rows]), np.concatenate([image, rows]))), shape=(n_m, n_m))
        mat.eliminate_zeros()
        mats.append(mat)
        lower.append(np.where(moved, 0.0, -np.inf))
        upper.append(np.where(moved, 0.0, np.inf))
    G = labelled("G", [f"g{g + 1}" for g in range(len(syms))], description="relabelings of the agents")
    b.add_rows("anonymous", {"m": sp.vstack(mats, format="csr")}, lower=np.concatenate(lower),
               upper=np.concatenate(upper),
               description="restrict anonymous: m(φω|πx) = m(ω|x) for each relabeling (π, τ, φ) of the agents",
               index=(G, X, Omega))
    return "anonymous"


def aggregate_levels(grid: Grid) -> np.ndarray:
    """L(x) = Σ_i l_i at every profile (flat, C order), where x_i = l_i / k."""
    idx = np.indices(grid.shape).reshape(grid.n_agents, -1)
    return idx.sum(axis=0)


def _aggregate(b, grid, low, j, X, Omega) -> str:
    d = low.dim
    levels = aggregate_levels(grid)
    n_levels = grid.n_agents * (grid.points_per_agent - 1) + 1
    L = labelled("L", [float(v) for v in np.arange(n_levels) / grid.k],
                 description="aggregate actions Σ_i x_i on X(k): 0, 1/k, ..., N k")
    select = sp.csr_matrix((np.ones(grid.size), (np.arange(grid.size), levels)), shape=(grid.size, n_levels))
    r = restrictions(low)[j]
    if r.get("of"):  # one definition E of the outcome: Σ_ω E(ω) m(ω|x) = e(Σx)
        name, coef = r["of"], np.asarray(r["coefficients"], dtype=float)
        block = f"aggregate_{name}"
        b.add_variables(block, lower=-np.inf, index=(L,), symbol=f"agg_{name}",
                        description=f"the expected {name} as a function of the aggregate action (restrict aggregate "
                        f"{name})")
        b.add_rows(block, {"m": sp.kron(sp.identity(grid.size), coef[None, :], format="csr"), block: -select},
                   lower=0.0, upper=0.0,
                   description=f"restrict aggregate {name}: the expected {name} at x depends only on Σ_i x_i",
                   index=(X,))
        return block
    poly = low.polytope
    b.add_variables("aggregate", lower=np.tile(poly.lower, n_levels), upper=np.tile(poly.upper, n_levels),
                    description="a(ω|Σx): the outcome as a function of the aggregate action (restrict aggregate)",
                    index=(L, Omega), symbol="agg")
    eye_d = sp.identity(d, format="csr")
    b.add_rows("aggregate", {"m": sp.identity(grid.size * d, format="csr"),
                             "aggregate": -sp.kron(select, eye_d, format="csr")},
               lower=0.0, upper=0.0,
               description="restrict aggregate: m(ω|x) = a(ω|Σ_i x_i) at every profile", index=(X, Omega))
    return "aggregate"


def _agents(low: LoweredEnvironment):
    return labelled("I", low.env.agents, kind="agent", description="agents i")


def _losers_rows(b, grid, low, j, X, Omega) -> str:
    alloc, transfer, vbar = _losers(low, j)
    n, d = low.n_agents, low.dim
    coef = np.zeros((2, n, d))
    agents = np.arange(n)
    coef[0, agents, transfer] = 1.0  # t_i - v̄_i q_i <= 0
    coef[1, agents, transfer] = -1.0  # -t_i - v̄_i q_i <= 0
    coef[:, agents, alloc] = -vbar[None, :]
    eye = sp.identity(grid.size, format="csr")
    mat = sp.vstack([sp.kron(eye, coef[s, i][None, :], format="csr") for s in range(2) for i in range(n)],
                    format="csr")
    S = labelled("S", ("pays", "receives"), description="the sign of the bound on the transfer")
    b.add_rows("no_transfers_to_losers", {"m": mat}, upper=0.0,
               description="restrict no_transfers_to_losers: |t_i(x)| <= v̄_i q_i(x) (a loser pays and receives "
               "nothing; a winner's price is at most its highest value v̄_i in size)",
               index=(S, _agents(low), X))
    return "no_transfers_to_losers"


def _budget_rows(b, grid, low, j, X, Omega) -> str:
    cols = _transfer_columns(low, j)
    row = np.zeros((1, low.dim))
    row[0, cols] = 1.0
    b.add_rows("budget_balanced", {"m": sp.kron(sp.identity(grid.size), row, format="csr")}, lower=0.0, upper=0.0,
               description="restrict budget_balanced: Σ_i t_i(x) = 0 at every profile", index=(X,))
    return "budget_balanced"


_ADD = {"anonymous": _anonymous, "aggregate": _aggregate, "no_transfers_to_losers": _losers_rows,
        "budget_balanced": _budget_rows}


# -- the read-back mechanism ---------------------------------------------------------------


def violations(mechanism: Mechanism, low: LoweredEnvironment, k: int) -> dict[str, float]:
    """How far a mechanism on X(k) is from each restriction of the model, measured on its
    rule array (shape |X_1| × ... × |X_N| × d)."""
    rule = mechanism.rule
    n = rule.ndim - 1
    out: dict[str, float] = {}
    for j, r in enumerate(restrictions(low)):
        kind = r["kind"]
        if kind == "anonymous":
            worst = 0.0
            for sym in _symmetries(low, j):
                # the relabelled rule: m'(φω | πx) = m(ω | x), with (πx)_{π(i)} = x_i
                moved = np.empty_like(rule)
                moved[..., list(sym.outcomes)] = rule
                axes = [0] * n
                for i, target in enumerate(sym.agents):
                    axes[target] = i
                moved = np.transpose(moved, axes + [n])
                worst = max(worst, float(np.abs(moved - rule).max(initial=0.0)))
            out[label(r)] = worst
        elif kind == "aggregate":
            lv = aggregate_levels(Grid(n, k))
            flat = rule.reshape(-1, rule.shape[-1])
            if r.get("of"):
                flat = flat @ np.asarray(r["coefficients"], dtype=float)[:, None]
            hi = np.full((lv.max() + 1, flat.shape[1]), -np.inf)
            lo = np.full_like(hi, np.inf)
            np.maximum.at(hi, lv, flat)
            np.minimum.at(lo, lv, flat)
            out[label(r)] = float((hi - lo).max(initial=0.0))
        elif kind == "no_transfers_to_losers":
            alloc, transfer, vbar = _losers(low, j)
            q, t = rule[..., alloc], rule[..., transfer]
            out[label(r)] = float(np.maximum(np.abs(t) - vbar * q, 0.0).max(initial=0.0))
        elif kind == "budget_balanced":
            out[label(r)] = float(np.abs(rule[..., _transfer_columns(low, j)].sum(-1)).max(initial=0.0))
    return out


def check_mechanism(mechanism: Mechanism, low: LoweredEnvironment, k: int, value: float) -> dict[str, float]:
    """The violations of :func:`violations`; a violation beyond the tolerance (relative to
    the mechanism's and the value's size) is an error naming the restriction."""
    found = violations(mechanism, low, k)
    scale = max(1.0, abs(value), float(np.abs(mechanism.rule).max(initial=0.0)))
    for j, r in enumerate(restrictions(low)):
        gap = found.get(label(r), 0.0)
        if gap > TOLERANCE * scale:
            raise SolverError(f"{where(low, j) or low.env.name}: the mechanism read back from {mechanism.name} "
                              f"violates restrict {label(r)} by {gap:.1e}; rerun with --solver highs-simplex",
                              "uncertified")
    return found


__all__ = ["KINDS", "check", "add_rows", "violations", "check_mechanism", "refuse", "aggregate_levels"]
