"""The bounding programs of 004 Section 3: LB-G-k (9), UB-P-k (10) and the relaxed dual (12).

Each program is a reduction: ``build(lowered, k)`` returns the
:class:`~robustmech.programs.lp.LinearProgram` and the inverse data needed to read a
solution back; ``read(lp, solution, inverse)`` returns economic objects. Outcomes are
points of the polyhedron P of :mod:`robustmech.lower.arrays`; for a finite Ω, P is the
simplex and q(x) = m(·|x).

Layouts: the mechanism m is stored x-major, column ``x * d + j``; the information
structure σ is θ-major, column ``θ * |X| + x``. All blocks are Kronecker products of
the grid's derivative matrices with coefficient rows: no Python loop over grid points.
They are written as structured blocks (:mod:`robustmech.lower.kron`), assembled by the
builder, or kept as they are with ``structured=True`` (to be folded onto a box of the
grid and to certify a solution on the whole grid without assembling it).

An ambiguous prior (a set 𝒫 of priors: known marginals, or the convex hull of listed
priors) enters through :mod:`robustmech.programs.priors`: in LB-G-k and (12) the
objective Σ_θ μ(θ) λ(θ) becomes its worst case over 𝒫 (an epigraph over the listed
priors, or λ(θ) = Σ_c ν_c(θ_c) priced at the marginals); in UB-P-k the marginal of σ
on Θ ranges over 𝒫 with σ (Nature chooses the prior and the information together).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import UnsupportedError
from ..lower.arrays import LoweredEnvironment
from ..lower.grid import Grid
from ..lower.kron import Kron, hstack, kron, vstack
from ..model.objects import InformationStructure, Mechanism
from . import baseline as bl
from . import restrictions
from .base import REQUIRED, Program, ReadBack, register
from .lp import IndexSet, LinearProgram, ProgramBuilder, labelled, profiles
from .priors import add_multiplier, add_state_marginal, multiplier_values
from .truncation import Extension

PROGRAMS = ("guarantee", "potential", "dual")


@dataclass(frozen=True)
class Inverse:
    """What ``read`` needs besides the solution."""

    program: str
    grid: Grid
    lowered: LoweredEnvironment


def build(program: str, lowered: LoweredEnvironment, k: int,
          structured: bool = False) -> tuple[LinearProgram, Inverse]:
    """Build one of ``guarantee`` (LB-G-k), ``potential`` (UB-P-k), ``dual`` (12)."""
    builders = {"guarantee": build_guarantee_lower_bound, "potential": build_potential_upper_bound,
                "dual": build_relaxed_dual}
    if program not in builders:
        raise UnsupportedError(f"unknown program '{program}'; choose one of {', '.join(PROGRAMS)}")
    return builders[program](lowered, k, structured)


def index_sets(grid: Grid, low: LoweredEnvironment) -> dict[str, IndexSet]:
    """The programs' index sets in economic terms: profiles X(k), outcomes Ω (or the
    coordinates of the outcome polyhedron), states Θ, agents I."""
    return {
        "X": profiles("X", [grid.values] * grid.n_agents, "action (or signal) profiles x ∈ X(k)"),
        "Omega": labelled("Omega", low.outcome_names, "outcome", "outcomes ω (coordinates of the outcome space)"),
        "Theta": labelled("Theta", low.env.states.labels, "state", "states θ"),
    }


def _mechanism_rows(grid: Grid, low: LoweredEnvironment, derivative):
    """Rows of w(q(x), θ) + Σ_i u_i(∂_i q(x), θ) over (θ, x), θ-major: the strategic
    virtual objective (4) of 004 with ∂ = ∇+, or the modified one of (11) with ∂ = ∇-.

    Returns the coefficient matrix on m and the constant part per row (w's constant,
    plus u_i's constant times ∂_i 1, which is non-zero only for ∇-), of shape
    (states, 1) where it is one number per state (it broadcasts over X(k) without being
    written out), else (states, |X(k)|).
    """
    n_x = grid.size
    eye = grid.identity_operator()
    ops = [derivative(i) for i in range(low.n_agents)]
    blocks, along = [], []
    for s in range(low.n_states):
        block = kron(eye, low.designer_coef[s][None, :])
        for i, op in enumerate(ops):
            coef = low.utility_coef[i, s]
            if np.any(coef):
                block = block + kron(op, coef[None, :])
            if low.utility_const[i, s]:
                along.append((s, low.utility_const[i, s] * (op @ np.ones(n_x))))
        blocks.append(block)
    const = np.asarray(low.designer_const, dtype=float)[:, None]
    if any(np.any(term) for _, term in along):
        const = np.repeat(const, n_x, axis=1)
        for s, term in along:
            const[s] += term
    return vstack(blocks), const


def _polytope_rows(builder: ProgramBuilder, grid: Grid, low: LoweredEnvironment) -> None:
    """q(x) ∈ P for every x: P's rows repeated on the grid (bounds go on the columns)."""
    poly, eye = low.polytope, grid.identity_operator()
    X = index_sets(grid, low)["X"]
    if len(poly.A_eq):
        builder.add_rows("feasibility_eq", {"m": kron(eye, poly.A_eq)},
                         lower=poly.b_eq, upper=poly.b_eq,  # P's rows, the same at every x
                         description="the outcome at each profile is feasible (lotteries sum to one)",
                         index=(X, labelled("E", range(1, len(poly.A_eq) + 1), description="equality rows of P")))
    if len(poly.A_ub):
        builder.add_rows("feasibility_ub", {"m": kron(eye, poly.A_ub)},
                         upper=poly.b_ub, description="the outcome at each profile is feasible",
                         index=(X, labelled("U", range(1, len(poly.A_ub) + 1), description="inequality rows of P")))


def _mechanism_variables(builder: ProgramBuilder, grid: Grid, low: LoweredEnvironment) -> None:
    poly, sets = low.polytope, index_sets(grid, low)
    builder.add_variables("m", lower=poly.lower, upper=poly.upper,  # per outcome, the same at every x
                          description="m(ω|x): the mechanism's outcome at each action profile",
                          index=(sets["X"], sets["Omega"]))


def build_guarantee_lower_bound(low: LoweredEnvironment, k: int,
                                structured: bool = False) -> tuple[LinearProgram, Inverse]:
    """LB-G-k, the linear program (9) of 004, with the upward derivative ∇+ of (1).

    max Σ_θ μ(θ) λ(θ)  s.t.  λ(θ) <= Σ_ω [w(ω,θ) m(ω|x) + Σ_i u_i(ω,θ) ∇+_i m(ω|x)]  ∀θ, x
                             Σ_ω u_i(ω,θ) m(ω|0,x_-i) >= 0                           ∀i, x_-i, θ
                             m(·|x) ∈ Δ(Ω) (or the outcome polyhedron)               ∀x

    With an ambiguous prior 𝒫 the objective is min_{μ ∈ 𝒫} Σ_θ μ(θ) λ(θ).
    """
    start = time.perf_counter()
    grid = Grid(low.n_agents, k)
    b = ProgramBuilder(f"LB-G-{k}", "max", drop_rounding=True, structured=structured)
    _mechanism_variables(b, grid, low)
    lam = add_multiplier(b, low, grid.size, index_sets(grid, low)["Theta"],
                         "λ(θ): the lowest strategic virtual objective in state θ", ones=grid.ones_operator())
    coef, const = _mechanism_rows(grid, low, grid.upward_operator)
    b.add_rows("strategic", {"m": -coef, **lam}, upper=const,
               description="λ(θ) <= strategic virtual objective (4) at every (θ, x)",
               index=(index_sets(grid, low)["Theta"], index_sets(grid, low)["X"]))
    _participation_rows(b, grid, low)
    _polytope_rows(b, grid, low)
    sets = index_sets(grid, low)
    restricted = restrictions.add_rows(b, grid, low, sets["X"], sets["Omega"])  # `restrict` statements
    meta = {"program": "guarantee", "k": k, "equation": "(9) of 004", "grid_dimension": grid.n_agents}
    if restricted:
        meta["restrictions"] = restricted
    return b.build(time.perf_counter() - start, meta), Inverse("guarantee", grid, low)


def _participation_rows(b: ProgramBuilder, grid: Grid, low: LoweredEnvironment) -> None:
    """u_i(q(0, x_-i), θ) >= 0: action 0 is participation secure. States with the same
    utility coefficients for agent i give the same rows; each is written once."""
    mats: list[sp.csr_matrix] = []
    lowers: list[np.ndarray] = []
    members: list[tuple] = []
    values = tuple(float(v) for v in grid.values)
    for i in range(low.n_agents):
        select = grid.at_zero_operator(i)
        seen = set()
        for s in range(low.n_states):
            coef, const = low.utility_coef[i, s], low.utility_const[i, s]
            if not np.any(coef):
                continue  # constant utility: feasible by the pre-check, nothing to impose
            key = (tuple(np.round(coef, 12)), round(float(const), 12))
            if key in seen:
                continue
            seen.add(key)
            mats.append(kron(select, coef[None, :]))
            lowers.append(np.full(select.shape[0], -const))
            # θ names the first state of its class (states with the same utility for i)
            # (i, θ) + x_-i for every x_-i, in the product's order, the tuples made by
            # itertools (in C) rather than one concatenation per row in Python
            members.extend(itertools.product((low.env.agents[i],), (low.env.states.labels[s],),
                                             *([values] * (grid.n_agents - 1))))
    if mats:
        b.add_rows("participation", {"m": vstack(mats)}, lower=np.concatenate(lowers),
                   description="action 0 is participation secure: u_i(m(0, x_-i), θ) >= 0",
                   index=(labelled("IThetaX0", members, description="(agent i, state θ, others' profile x_-i)"),))


def build_relaxed_dual(low: LoweredEnvironment, k: int, structured: bool = False) -> tuple[LinearProgram, Inverse]:
    """The relaxed dual (12) of 004, the LP dual of UB-P-k (10): LB-G-k's form with
    the downward derivative ∇- (which prices the lowest type's participation into the
    objective) and no participation-security rows."""
    restrictions.refuse(low, "dual", "the relaxed dual (12) of 004",
                        "its value bounds the unrestricted max guarantee; use the program 'guarantee' (LB-G-k)")
    bl.refuse(low, "dual", "(12) is the LP dual of UB-P-k without the baseline, which bounds the min potential "
              "over every information structure, not over those refining the baseline; use 'potential'")
    start = time.perf_counter()
    grid = Grid(low.n_agents, k)
    b = ProgramBuilder(f"dual-{k}", "max", drop_rounding=True, structured=structured)
    _mechanism_variables(b, grid, low)
    lam = add_multiplier(b, low, grid.size, index_sets(grid, low)["Theta"],
                         "λ(θ): the lowest modified strategic virtual objective", ones=grid.ones_operator())
    coef, const = _mechanism_rows(grid, low, grid.downward_operator)
    b.add_rows("strategic", {"m": -coef, **lam}, upper=const,
               description="λ(θ) <= modified strategic virtual objective (11) at every (θ, x)",
               index=(index_sets(grid, low)["Theta"], index_sets(grid, low)["X"]))
    _polytope_rows(b, grid, low)
    meta = {"program": "dual", "k": k, "equation": "(12) of 004", "grid_dimension": grid.n_agents}
    return b.build(time.perf_counter() - start, meta), Inverse("dual", grid, low)


def build_potential_upper_bound(low: LoweredEnvironment, k: int,
                                structured: bool = False) -> tuple[LinearProgram, Inverse]:
    """UB-P-k, the linear program (10) of 004, with the adjoint derivative ∇̃+ of (7).

    min Σ_x γ(x)  s.t.  γ(x) >= Σ_θ [w(ω,θ) σ(x,θ) - Σ_i u_i(ω,θ) ∇̃+_i σ(x,θ)]  ∀x, ω
                        Σ_x σ(x,θ) = μ(θ)                                          ∀θ

    With an ambiguous prior 𝒫, μ is a variable of the program, μ ∈ 𝒫.

    For continuous outcomes the inner maximum over ω becomes the maximum over the
    polyhedron P = conv(V) + cone(R) + span(L): one row per vertex v, and the
    informational virtual objective must not increase along any ray (≤ 0) or
    lineality direction (= 0); otherwise the designer's maximum is +∞. With free
    transfers this forces the censored geometric signal marginal of 001 Section 3.1.

    With a baseline signal B = (S, π) (:mod:`robustmech.programs.baseline`), the minimum
    is over the structures that refine B, and the program is the same derivation as 004
    Section 3.1.3 done within each baseline signal. Agent i's signal is (s_i, x_i), x_i ∈
    X_i(k), and σ(θ, s, x) >= 0 with Σ_x σ(θ, s, x) = π(s, θ): each such structure refines
    B, so restricting Nature to them can only raise the min potential (the first step of
    004, here over the structures refining B). For one of them, the designer's problem
    (interim IC and IR over the signals (s_i, x_i), by the revelation principle) is relaxed
    by dropping every IR constraint except at (s_i, 0) and every IC constraint except
    (s_i, x_i) mimicking (s_i, x_i - 1/k): misreports of the baseline signal s_i are among
    those dropped, which only relaxes it. What is left is (5) of 004 for each s_i,
    Σ_{θ, s_-i, x_-i} σ(θ, s, x) u_i(∇-_i m(·|s, x), θ) >= 0 with ∇-_i acting on x_i at fixed
    s (block diagonal over s_i), and adding these with the multipliers of ∇-_i to the
    objective gives the Lagrangian (6) over (s, x), an upper bound on the relaxed problem
    for every σ. Lemma 2's summation by parts Σ_{x_i} f ∇-_i g = -Σ_{x_i} g ∇̃+_i f holds
    at each fixed (s, x_-i), so (6) is Σ_{s,x,ω} m(ω|s, x) Σ_θ [w σ - Σ_i u_i ∇̃+_i σ](θ, s, x),
    the informational virtual objective (8) at each (s, x), with ∇̃+_i = kron(I_{S_i},
    ∇̃+_i of (7)); the designer's maximum over m is its maximum over ω at each (s, x), and
    the program is (10) over (s, x) with the marginal rows on (θ, s) in place of those on
    θ. Its value bounds the min potential over the structures refining B from above, its
    solution is such a structure, and with one baseline signal per agent it is (10).
    (LB-G-k (9) is not changed: it bounds the max guarantee over all structures from
    below, and the max guarantee over those refining B is at least that.)
    """
    start = time.perf_counter()
    grid = Grid(low.n_agents, k)
    gens = low.polytope.generators
    if len(gens.vertices) == 0:
        raise UnsupportedError("the outcome polyhedron has no vertex; UB-P-k needs a pointed outcome space")
    n_s = low.n_states
    sets = index_sets(grid, low)
    baseline = bl.baseline_of(low)
    if baseline is None:
        n_x = grid.size
        b = ProgramBuilder(f"UB-P-{k}", "min", drop_rounding=True, structured=structured)
        b.add_variables("sigma", description="σ(x, θ): the information structure on X(k) (stored θ-major)",
                        index=(sets["Theta"], sets["X"]))
        adj = [grid.adjoint_upward_operator(i) for i in range(low.n_agents)]
        eye = grid.identity_operator()
    else:
        # signals (s_i, x_i): profiles of pairs, each agent's x_i within its baseline signal s_i
        sizes, inner = bl.signal_sizes(low), (grid.points_per_agent,) * low.n_agents
        values = tuple(float(v) for v in grid.values)
        sets["X"] = bl.pair_profiles(low, (values,) * low.n_agents, "X",
                                     "signal profiles (s, x): baseline signals s and x ∈ X(k)")
        n_x = sets["X"].size
        pi = bl.joint(low)  # (|S|, |Θ|)
        signal = bl.signal_of_pairs(sizes, inner)  # pair profile -> its baseline signal profile
        live = (pi[signal].T > 0).reshape(-1)  # θ-major
        b = ProgramBuilder(f"UB-P-{k} (baseline)", "min", drop_rounding=True, structured=structured)
        b.add_variables("sigma", upper=np.where(live, np.inf, 0.0),
                        description="σ(θ, s, x): the information structure refining the baseline, signals (s_i, x_i) "
                        "(stored θ-major)", index=(sets["Theta"], sets["X"]))
        one = grid.adjoint_upward_one_agent()
        adj = [bl.lift(one, i, sizes, inner) for i in range(low.n_agents)]
        eye = sp.identity(n_x, format="csr")
    b.add_variables("gamma", lower=-np.inf, description="γ(x): the highest informational virtual objective at x",
                    index=(sets["X"],))
    b.set_cost("gamma", 1.0)

    def virtual(direction: np.ndarray, with_constants: bool):
        # Σ_θ [w(v,θ) σ_θ - Σ_i u_i(v,θ) ∇̃+_i σ_θ] as a row block over x, columns over (θ, x)
        cols = []
        for s in range(n_s):
            w = low.designer_coef[s] @ direction + (low.designer_const[s] if with_constants else 0.0)
            block = w * eye
            for i in range(low.n_agents):
                u = low.utility_coef[i, s] @ direction + (low.utility_const[i, s] if with_constants else 0.0)
                if u:
                    block = block - u * adj[i]
            cols.append(block)
        return hstack(cols)

    vmats = [virtual(v, True) for v in gens.vertices]
    b.add_rows("virtual", {"sigma": -vstack(vmats), "gamma": vstack([eye] * len(vmats))},
               lower=0.0, description="γ(x) >= informational virtual objective (8) at every (x, outcome)",
               index=(_generator_set("V", gens.vertices, low, "vertices of the outcome space"), sets["X"]))
    if len(gens.rays):
        b.add_rows("rays", {"sigma": vstack([virtual(r, False) for r in gens.rays])}, upper=0.0,
                   description="the informational virtual objective is bounded along every ray of the outcome space",
                   index=(_generator_set("R", gens.rays, low, "extreme rays of the outcome space"), sets["X"]))
    if len(gens.lineality):
        b.add_rows("lineality", {"sigma": vstack([virtual(l, False) for l in gens.lineality])},
                   lower=0.0, upper=0.0,
                   description="the informational virtual objective is flat in free directions (transfers)",
                   index=(_generator_set("L", gens.lineality, low, "lineality directions of the outcome space"),
                          sets["X"]))
    meta = {"program": "potential", "k": k, "equation": "(10) of 004", "vertices": gens.vertices.tolist(),
            "grid_dimension": grid.n_agents}
    if baseline is None:
        add_state_marginal(b, low, "sigma", kron(Kron.identity(n_s), grid.ones_operator("columns")),
                           sets["Theta"])
    else:
        n_sig = pi.shape[0]
        rows = (np.arange(n_s)[:, None] * n_sig + signal[None, :]).reshape(-1)  # (θ, pair) -> (θ, s)
        mass = sp.csr_matrix((np.ones(n_s * n_x), (rows, np.arange(n_s * n_x))), shape=(n_s * n_sig, n_s * n_x))
        target = pi.T.reshape(-1)
        b.add_rows("marginal", {"sigma": mass}, lower=target, upper=target,
                   description="Σ_x σ(θ, s, x) = π(s, θ): every structure refines the baseline signal",
                   index=(sets["Theta"], bl.signal_profiles(low)))
        meta["baseline"] = True
    return b.build(time.perf_counter() - start, meta), Inverse("potential", grid, low)


def _generator_set(name: str, generators: np.ndarray, low: LoweredEnvironment, description: str) -> IndexSet:
    """Vertices (rays, lineality directions) of P by name: the outcome itself where the
    generator is a unit vector (a finite Ω's vertices are its outcomes), else a number."""
    labels = []
    for j, g in enumerate(np.asarray(generators)):
        hot = np.flatnonzero(g)
        unit = len(hot) == 1 and g[hot[0]] == 1.0
        labels.append(low.outcome_names[hot[0]] if unit else f"{name.lower()}{j + 1}")
    if len(set(labels)) < len(labels):
        labels = [f"{name.lower()}{j + 1}" for j in range(len(labels))]
    return labelled(name, labels, description=description)


def read(lp: LinearProgram, x: np.ndarray, inverse: Inverse) -> dict:
    """Economic objects from a primal solution: the mechanism (and λ) or the
    information structure (and γ)."""
    grid, low = inverse.grid, inverse.lowered
    axes = tuple(grid.values for _ in range(grid.n_agents))
    if inverse.program in ("guarantee", "dual"):
        rule = lp.block(x, "m").reshape(grid.shape + (low.dim,))
        if low.finite:
            rule = np.clip(rule, 0.0, None)  # solver noise below zero on a lottery
        mech = Mechanism(axes, low.outcome_names, rule, finite=low.finite, name=lp.name,
                         metadata={"k": grid.k, "program": inverse.program})
        return {"mechanism": mech, "lambda": multiplier_values(lp, x, low)}
    sigma = lp.block(x, "sigma")  # (S, |X|)
    baseline = bl.baseline_of(low)
    if baseline is None:
        joint = np.moveaxis(sigma.reshape((low.n_states,) + grid.shape), 0, -1)
        info = InformationStructure(axes, low.env.states.labels, np.clip(joint, 0.0, None), name=lp.name,
                                    metadata={"k": grid.k, "program": inverse.program})
        return {"information": info, "gamma": lp.block(x, "gamma").reshape(grid.shape)}
    # signals (s_i, x_i), agent i's axis its baseline signals (slow) times X_i(k) (fast)
    shape = tuple(len(s) * grid.points_per_agent for s in baseline.signals)
    joint = np.moveaxis(sigma.reshape((low.n_states,) + shape), 0, -1)
    parts = tuple([(s, float(v)) for s in np.asarray(sig).tolist() for v in grid.values] for sig in baseline.signals)
    labels = tuple(np.array([bl.pair_label(s, v) for s, v in part]) for part in parts)
    info = InformationStructure(labels, low.env.states.labels, np.clip(joint, 0.0, None), name=lp.name,
                                metadata={"k": grid.k, "program": inverse.program, "baseline": True,
                                          "signal_parts": parts})
    return {"information": info, "gamma": lp.block(x, "gamma").reshape(shape)}


# -- the programs, registered ------------------------------------------------------------


class _BoundingProgram(Program):
    parameters = {"k": REQUIRED}
    builder = staticmethod(build_guarantee_lower_bound)

    def build(self, lowered: LoweredEnvironment, **options) -> tuple[LinearProgram, Inverse]:
        k = self.options(options)["k"]
        return type(self).builder(lowered, k)

    def build_structured(self, lowered: LoweredEnvironment, **options) -> tuple[LinearProgram, Inverse]:
        k = self.options(options)["k"]
        return type(self).builder(lowered, k, structured=True)

    def read(self, lp: LinearProgram, solution, inverse: Inverse) -> ReadBack:
        objects = read(lp, solution.x, inverse)
        arrays = {name: objects[name] for name in ("lambda", "gamma") if name in objects}
        extra: dict[str, Any] = {}
        if bl.baseline_of(inverse.lowered) is not None:
            extra["baseline"] = bl.IGNORED_BY_LOWER_BOUND if inverse.program == "guarantee" else "used"
        if inverse.program == "guarantee" and restrictions.restrictions(inverse.lowered):
            # each restriction checked on the mechanism read back (an error beyond the tolerance)
            extra["restrictions"] = restrictions.check_mechanism(objects["mechanism"], inverse.lowered,
                                                                 inverse.grid.k, float(solution.objective))
        return ReadBack(mechanism=objects.get("mechanism"), information=objects.get("information"), arrays=arrays,
                        extra=extra)


class GuaranteeLowerBound(_BoundingProgram):
    """LB-G-k, (9) of 004: a participation-secure mechanism on X(k) whose guarantee
    bounds the max guarantee from below."""

    name, title, source, family, bound = "guarantee", "LB-G-k", "(9) of 004", "general", "lower"
    builder = staticmethod(build_guarantee_lower_bound)

    def truncation(self, lowered: LoweredEnvironment) -> Extension | None:
        # the rows that bind (the designer's worst case over (θ, x)) lie at low x; the
        # mechanism is extended as a constant beyond the box. `restrict` statements
        # couple profiles across the grid, so they keep the whole grid.
        return None if restrictions.restrictions(lowered) else "primal"


class PotentialUpperBound(_BoundingProgram):
    """UB-P-k, (10) of 004: an information structure on X(k) whose potential bounds the
    min potential from above."""

    name, title, source, family, bound = "potential", "UB-P-k", "(10) of 004", "general", "upper"
    builder = staticmethod(build_potential_upper_bound)

    def truncation(self, lowered: LoweredEnvironment) -> Extension | None:
        # σ puts its mass at low x (004 Figure 1: ρ drops to near zero past a threshold of
        # Σx); the designer's response (the duals) is extended as a constant beyond the
        # box. A baseline's signal profiles are pairs (s_i, x_i), not a grid the box can cut.
        return None if bl.baseline_of(lowered) is not None else "dual"


class RelaxedDual(_BoundingProgram):
    """The relaxed dual (12) of 004 (the LP dual of UB-P-k)."""

    name, title, source = "dual", "relaxed dual", "(12) of 004"
    builder = staticmethod(build_relaxed_dual)


for _program in (GuaranteeLowerBound(), PotentialUpperBound(), RelaxedDual()):
    register(_program)
