"""Lowering a :class:`~robustmech.model.prior_free.PriorFreeEnvironment` to arrays.

A mechanism is an outcome vector z(c) ∈ R^d per *cell* c. In the full program a cell is
a type profile θ (agent 1 slowest) and z(θ) lists the model's outcome variables. In the
*anonymous* program (exchangeable agents only, see :func:`is_exchangeable`) a cell is a
type count, written as its sorted representative profile, and the per-agent variables
are replaced by one variable per (family, type): an anonymous mechanism gives all agents
of the same type the same allocation and transfer (the symmetrization of A.14.1 of 000
shows that this is without loss for leximin; for every criterion an optimal
mechanism can be symmetrized when beliefs are exchangeable). Cell multiplicities count
the profiles a cell stands for.

Arrays (float, or exact ``fractions.Fraction`` objects with ``exact=True``):

* ``w_coef[c] · z(c) + w_const[c]``: the designer's payoff v(c);
* incentive rows ``ic_own[r] · z(ic_cell[r]) - ic_other[r] · z(ic_dev[r]) >= 0``: agent
  ``ic_agent[r]`` at ``ic_cell[r]`` does not gain by reporting type ``ic_report[r]``
  (dominant-strategy IC of 000 (Sections 3.1, 4.1, 5.1), or its downward-adjacent part);
* participation rows ``ir_coef[r] · z(ir_cell[r]) + ir_const[r] >= 0`` (ex post);
* feasibility: ``lower <= z(c) <= upper``, ``A_ub[c] z(c) <= b_ub[c]``, ``A_eq[c] z(c) = b_eq[c]``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy

from ..errors import Location, ModelError, UnsupportedError
from ..model.environment import split_linear
from ..model.prior_free import OutcomeVariable, PriorFreeEnvironment
from .arrays import INFEASIBLE_HERE, first_infeasible, linear_rows

MAX_PROFILES = 200_000


@dataclass(frozen=True)
class PriorFreeArrays:
    env: PriorFreeEnvironment
    anonymous: bool
    exact: bool
    cells: np.ndarray  # (n_cells, I) type indices
    multiplicity: np.ndarray  # (n_cells,) profiles per cell
    slots: tuple[str, ...]  # names of the d outcome coordinates of a cell
    lower: np.ndarray  # (n_cells, d)
    upper: np.ndarray
    A_ub: np.ndarray  # (n_cells, r_ub, d)
    b_ub: np.ndarray  # (n_cells, r_ub)
    A_eq: np.ndarray
    b_eq: np.ndarray
    ic_cell: np.ndarray
    ic_dev: np.ndarray
    ic_agent: np.ndarray
    ic_report: np.ndarray
    ic_own: np.ndarray  # (n_ic, d)
    ic_other: np.ndarray
    ir_cell: np.ndarray
    ir_agent: np.ndarray
    ir_coef: np.ndarray  # (n_ir, d)
    ir_const: np.ndarray
    w_coef: np.ndarray  # (n_cells, d)
    w_const: np.ndarray

    @property
    def n_cells(self) -> int:
        return self.cells.shape[0]

    @property
    def dim(self) -> int:
        return len(self.slots)

    @property
    def n_profiles(self) -> int:
        return int(self.multiplicity.sum())

    def labels(self) -> list[str]:
        """A label per cell: the profile's type values (for anonymous cells, the count of
        each type, e.g. ``#theta=1: 2``)."""
        env = self.env
        if not self.anonymous:
            return [env.profile_label(c) for c in self.cells]
        grid = env.type_grids[0]
        out = []
        for c in self.cells:
            counts = np.bincount(c, minlength=len(grid))
            out.append(", ".join(f"{counts[t]} x {grid[t]}" for t in range(len(grid)) if counts[t]))
        return out

    def payoffs(self, z: np.ndarray) -> np.ndarray:
        """v(c) = w_coef[c] · z(c) + w_const[c] for a mechanism z of shape (n_cells, d)."""
        return np.einsum("cd,cd->c", self.w_coef, z) + self.w_const

    def violations(self, z: np.ndarray) -> dict[str, float]:
        """The largest violation of each constraint family by a mechanism z (floats)."""
        z = np.asarray(z, dtype=float)
        out = {"bounds": float(max(np.max(np.nan_to_num(self.lower.astype(float) - z, neginf=0.0), initial=0.0),
                                   np.max(np.nan_to_num(z - self.upper.astype(float), neginf=0.0), initial=0.0)))}
        if self.A_ub.shape[1]:
            out["feasibility_ub"] = float(max(0.0, np.max(np.einsum("crd,cd->cr", self.A_ub.astype(float), z)
                                                          - self.b_ub.astype(float))))
        if self.A_eq.shape[1]:
            out["feasibility_eq"] = float(np.max(np.abs(np.einsum("crd,cd->cr", self.A_eq.astype(float), z)
                                                        - self.b_eq.astype(float))))
        if len(self.ic_cell):
            gap = (np.einsum("rd,rd->r", self.ic_own.astype(float), z[self.ic_cell])
                   - np.einsum("rd,rd->r", self.ic_other.astype(float), z[self.ic_dev]))
            out["incentive"] = float(max(0.0, -gap.min()))
        if len(self.ir_cell):
            gap = np.einsum("rd,rd->r", self.ir_coef.astype(float), z[self.ir_cell]) + self.ir_const.astype(float)
            out["participation"] = float(max(0.0, -gap.min()))
        return out

    def expand(self, values: np.ndarray) -> np.ndarray:
        """Per-cell values (payoffs) as per-profile values in the profile listing order."""
        if not self.anonymous:
            return np.asarray(values)
        index = {tuple(c): k for k, c in enumerate(self.cells)}
        profiles = self.env.profiles()
        return np.asarray([values[index[tuple(sorted(p))]] for p in profiles])

    def belief_per_profile(self, mass: np.ndarray) -> np.ndarray:
        """A belief given as mass per cell, spread uniformly over each cell's profiles,
        in the profile listing order."""
        per = np.asarray(mass, dtype=object if self.exact else float) / self.multiplicity
        return self.expand(per)


# ---------------------------------------------------------------------------


def _check_finite(values: np.ndarray, what: str, where, exact: bool) -> None:
    """Refuse payoff coefficients beyond the float range at some type profile."""
    if not exact and not np.all(np.isfinite(values)):
        raise ModelError(f"{what} is beyond the float range (about 1.8e308) at some type profile", where)


def _check_outcomes_exist(env: PriorFreeEnvironment) -> None:
    """Refuse outcome constraints that no outcome satisfies, at the first constraint to blame."""
    bounds = [(None if v.lower is None else float(v.lower), None if v.upper is None else float(v.upper))
              for v in env.variables]
    first = first_infeasible(env.constraints, [v.symbol for v in env.variables], bounds)
    if first is not None:
        where = env.locations.get(("constraint", first)) or (Location(env.path) if env.path else None)
        raise ModelError("the outcome constraints admit no outcome at all" + INFEASIBLE_HERE, where)


def lower_prior_free(env: PriorFreeEnvironment, anonymous: bool = False, exact: bool = False) -> PriorFreeArrays:
    """The arrays of ``env``: the full program, or the anonymous one (exchangeable agents)."""
    if anonymous and not is_exchangeable(env):
        raise UnsupportedError("the anonymous program needs exchangeable agents (same type grid, utilities, "
                               "designer payoff and constraints invariant when agents are relabeled)")
    _check_outcomes_exist(env)
    if not anonymous and env.n_profiles > MAX_PROFILES:
        shown = f"{env.n_profiles:,}" if env.n_profiles < 10**15 else f"about 10^{len(str(env.n_profiles)) - 1}"
        raise UnsupportedError(f"{shown} type profiles are too many for the full program; "
                               "use the anonymous program (--anonymous) for exchangeable agents")
    I = env.n_agents
    variables = env.variables
    D = len(variables)
    grids = env.type_grids
    sizes = [len(g) for g in grids]
    # -- cells ---------------------------------------------------------------
    if anonymous:
        N = sizes[0]
        cells = np.array(list(itertools.combinations_with_replacement(range(N), I)), dtype=np.int64).reshape(-1, I)
        counts = np.stack([np.bincount(c, minlength=N) for c in cells]) if len(cells) else np.zeros((0, N), int)
        sizes_of_cells = [math.factorial(I) // math.prod(math.factorial(int(k)) for k in row) for row in counts]
        if max(sizes_of_cells, default=0) >= 2**62:
            raise ModelError(f"{I} exchangeable agents: a class of type profiles has about "
                             f"10^{len(str(max(sizes_of_cells))) - 1} members, more than the anonymous program's "
                             "weights can hold (2^62); use fewer agents", env.locations.get("types"))
        multiplicity = np.array(sizes_of_cells, dtype=np.int64)
        index = {tuple(np.bincount(c, minlength=N)): k for k, c in enumerate(cells)}

        def cell_index(profiles: np.ndarray) -> np.ndarray:
            return np.array([index[tuple(np.bincount(p, minlength=N))] for p in profiles], dtype=np.int64)
    else:
        cells = np.array(list(itertools.product(*(range(n) for n in sizes))), dtype=np.int64).reshape(-1, I)
        multiplicity = np.ones(len(cells), dtype=np.int64)

        def cell_index(profiles: np.ndarray) -> np.ndarray:
            return np.ravel_multi_index(tuple(profiles.T), sizes).astype(np.int64)
    n_cells = len(cells)
    # -- slots and the variable -> slot map ------------------------------------
    shared = [k for k, v in enumerate(variables) if v.agent is None]
    families: list[str] = []
    for v in variables:
        if v.agent is not None and v.family not in families:
            families.append(v.family)
    var_agent = np.array([-1 if v.agent is None else v.agent for v in variables], dtype=np.int64)
    if anonymous:
        N = sizes[0]
        grid = grids[0]
        slots = [variables[k].name for k in shared] + [f"{f}[type={grid[t]}]" for f in families for t in range(N)]
        shared_slot = np.full(D, -1, dtype=np.int64)
        shared_slot[shared] = np.arange(len(shared))
        fam_base = np.array([len(shared) + families.index(v.family) * N if v.agent is not None else -1
                             for v in variables], dtype=np.int64)

        def slot_map(profiles: np.ndarray) -> np.ndarray:
            """(n, D): the slot of each model variable when the profile is ``profiles[n]``."""
            types_of_owner = profiles[:, np.maximum(var_agent, 0)]
            return np.where(var_agent < 0, shared_slot[None, :], fam_base[None, :] + types_of_owner)
    else:
        slots = [v.name for v in variables]

        def slot_map(profiles: np.ndarray) -> np.ndarray:
            return np.broadcast_to(np.arange(D, dtype=np.int64), (len(profiles), D))
    d = len(slots)
    zero = Fraction(0) if exact else 0.0
    dtype = object if exact else float

    def scatter(coef: np.ndarray, maps: np.ndarray) -> np.ndarray:
        """Rows of coefficients over model variables -> rows over slots (summing collisions)."""
        out = np.full((coef.shape[0], d), zero, dtype=dtype)
        rows = np.repeat(np.arange(coef.shape[0]), coef.shape[1])
        np.add.at(out, (rows, maps.reshape(-1)), coef.reshape(-1))
        return out

    values = _profile_values(env, cells, exact)  # (n_cells, I)
    cell_maps = slot_map(cells)
    symbols = [v.symbol for v in variables]
    # -- designer ------------------------------------------------------------
    w_all = _coefficients(env.designer, symbols, env.type_symbols, values, exact)  # (n_cells, D + 1)
    _check_finite(w_all, "the designer's payoff", env.locations.get("designer"), exact)
    w_coef = scatter(w_all[:, :D], cell_maps)
    w_const = w_all[:, D]
    # -- incentive and participation rows -------------------------------------
    ic_parts, ir_parts = [], []
    for i in range(I):
        if anonymous:
            # agent i speaks for its type class when it is the first agent of its type
            first = np.array([int(np.argmax(c == c[i])) == i for c in cells])
            rows = np.flatnonzero(first)
        else:
            rows = np.arange(n_cells)
        if not len(rows):
            continue
        u_all = _coefficients(env.utilities[i], symbols, env.type_symbols, values[rows], exact)
        _check_finite(u_all, f"the utility of agent {env.agents[i]}", env.locations.get(("utility", i)), exact)
        coef = u_all[:, :D]
        own = scatter(coef, cell_maps[rows])
        if env.participation == "ex_post":
            ir_parts.append((rows, np.full(len(rows), i), own, u_all[:, D]))
        if env.incentive == "none":
            continue
        n_types = sizes[i]
        true_type = cells[rows, i]
        if env.incentive == "adjacent":
            pick = true_type >= 1
            r_rows, reports, src = rows[pick], true_type[pick] - 1, np.flatnonzero(pick)
        else:
            reps = np.tile(np.arange(n_types), len(rows))
            src = np.repeat(np.arange(len(rows)), n_types)
            keep = reps != true_type[src]
            r_rows, reports, src = rows[src[keep]], reps[keep], src[keep]
        if not len(r_rows):
            continue
        deviated = cells[r_rows].copy()
        deviated[:, i] = reports
        dev = cell_index(deviated)
        other = scatter(coef[src], slot_map(deviated))
        ic_parts.append((r_rows, dev, np.full(len(r_rows), i), reports, own[src], other))
    ic_cell, ic_dev, ic_agent, ic_report, ic_own, ic_other = _stack(ic_parts, 6, d, dtype)
    ir_cell, ir_agent, ir_coef, ir_const = _stack(ir_parts, 4, d, dtype, coef_at=(2,))
    # -- feasibility ----------------------------------------------------------
    lower = np.empty((n_cells, d), dtype=object)
    upper = np.empty((n_cells, d), dtype=object)
    lo_var = [_num(v.lower, exact, -np.inf) for v in variables]
    hi_var = [_num(v.upper, exact, np.inf) for v in variables]
    lower[:] = zero
    upper[:] = zero  # slots no profile uses (absent type classes) are fixed at 0
    for k in range(D):
        lower[np.arange(n_cells), cell_maps[:, k]] = lo_var[k]
        upper[np.arange(n_cells), cell_maps[:, k]] = hi_var[k]
    if not exact:
        lower, upper = lower.astype(float), upper.astype(float)
    A_ub, b_ub, A_eq, b_eq = _polytope(env, symbols, cell_maps, d, exact)
    return PriorFreeArrays(env, anonymous, exact, cells, multiplicity, tuple(slots), lower, upper,
                           A_ub, b_ub, A_eq, b_eq,
                           ic_cell, ic_dev, ic_agent, ic_report, ic_own, ic_other, ir_cell, ir_agent, ir_coef, ir_const,
                           w_coef, np.asarray(w_const, dtype=dtype))


def _stack(parts, n, d, dtype, coef_at=(4, 5)):
    if not parts:
        out = [np.zeros(0, dtype=np.int64) for _ in range(n)]
        for k in coef_at:
            out[k] = np.zeros((0, d), dtype=dtype)
        if n == 4:
            out[3] = np.zeros(0, dtype=dtype)
        return tuple(out)
    cols = list(zip(*parts))
    out = []
    for k, col in enumerate(cols):
        arr = np.concatenate(col) if col[0].ndim == 1 else np.vstack(col)
        if k in coef_at or (n == 4 and k == 3):
            arr = arr.astype(dtype)
        else:
            arr = arr.astype(np.int64)
        out.append(arr)
    return tuple(out)


def _num(value, exact, default):
    if value is None:
        return default
    return Fraction(int(value.p), int(value.q)) if exact else float(value)


def _to_fraction(x) -> Fraction:
    x = sympy.nsimplify(x) if isinstance(x, sympy.Float) else sympy.sympify(x)
    if not x.is_Rational:
        raise UnsupportedError(f"exact arithmetic needs rational data, got {x}")
    return Fraction(int(x.p), int(x.q))


def _profile_values(env: PriorFreeEnvironment, cells: np.ndarray, exact: bool) -> np.ndarray:
    grids = env.type_grids
    table: list[list[Fraction]] | list[list[float]]
    if exact:
        table = [[_to_fraction(v) for v in g] for g in grids]
        out = np.empty(cells.shape, dtype=object)
    else:
        table = [[float(v) for v in g] for g in grids]
        out = np.empty(cells.shape, dtype=float)
    for i in range(cells.shape[1]):
        out[:, i] = np.asarray(table[i], dtype=out.dtype)[cells[:, i]]
    return out


def _coefficients(expr: sympy.Expr, variables, type_symbols, values: np.ndarray, exact: bool) -> np.ndarray:
    """(n, D + 1): the coefficient of each outcome variable and the constant of a linear
    payoff, evaluated at n type profiles (vectorized with lambdify; exact with SymPy)."""
    expr = sympy.expand(expr)
    found, const, _ = split_linear(expr, set(variables))  # linear time; checked linear when it was built
    parts = [sympy.expand(found.get(v, sympy.Integer(0))) for v in variables]
    parts.append(sympy.expand(const))
    n = values.shape[0]
    if exact:
        out = np.empty((n, len(parts)), dtype=object)
        for k, p in enumerate(parts):
            if not p.free_symbols:
                out[:, k] = _to_fraction(p)
                continue
            f = sympy.lambdify(type_symbols, p, modules="sympy")
            out[:, k] = [_to_fraction(f(*(sympy.Rational(x.numerator, x.denominator) for x in row))) for row in values]
        return out
    f = sympy.lambdify(type_symbols, parts, modules="numpy")
    with np.errstate(all="ignore"):  # a product beyond the float range: refused by the caller
        cols = f(*[values[:, i] for i in range(values.shape[1])])
        return np.column_stack([np.broadcast_to(np.asarray(c, dtype=float), (n,))
                                for c in cols]) if n else np.zeros((0, len(parts)))


def _polytope(env, symbols, cell_maps, d, exact):
    conv = (lambda x: _to_fraction(x)) if exact else (lambda x: float(x))
    dtype = object if exact else float
    zero = Fraction(0) if exact else 0.0
    index = {s: k for k, s in enumerate(symbols)}
    ub_rows, ub_rhs, eq_rows, eq_rhs = linear_rows(env.constraints, index, conv, zero, dtype)
    n_cells = cell_maps.shape[0]

    def per_cell(rows, rhs):
        A = np.full((n_cells, len(rows), d), zero, dtype=dtype)
        if rows:
            R = np.array(rows, dtype=dtype)  # (r, D)
            r_idx = np.arange(len(rows))
            for k in range(R.shape[1]):  # one pass per model variable, vectorized over cells and rows
                cols = cell_maps[:, k]
                A[np.arange(n_cells)[:, None], r_idx[None, :], cols[:, None]] += R[None, :, k]
        b = np.tile(np.array(rhs, dtype=dtype), (n_cells, 1)) if rhs else np.zeros((n_cells, 0), dtype=dtype)
        return A, b

    A_ub, b_ub = per_cell(ub_rows, ub_rhs)
    A_eq, b_eq = per_cell(eq_rows, eq_rhs)
    return A_ub, b_ub, A_eq, b_eq


# ---------------------------------------------------------------------------


def is_exchangeable(env: PriorFreeEnvironment) -> bool:
    """True when relabeling the agents leaves the environment unchanged: one type grid,
    per-agent variable families with equal bounds, u_{π(i)} = u_i ∘ π, w ∘ π = w and the
    constraints permuted into themselves, for the generators (1 2) and (1 2 ... I) of S_I."""
    I = env.n_agents
    if I == 1:
        return True
    if not env.symmetric_grids:
        return False
    fam: dict[str, dict[int, OutcomeVariable]] = {}
    for v in env.variables:
        if v.agent is not None:
            fam.setdefault(v.family, {})[v.agent] = v
    for members in fam.values():
        if len(members) != I or len({(m.lower, m.upper, m.role) for m in members.values()}) != 1:
            return False
    perms = [tuple([1, 0] + list(range(2, I))), tuple(list(range(1, I)) + [0])]
    canon = {_canonical(c) for c in env.constraints}
    for pi in perms:
        sub = {env.type_symbols[j]: env.type_symbols[pi[j]] for j in range(I)}
        for members in fam.values():
            for j in range(I):
                sub[members[j].symbol] = members[pi[j]].symbol
        for i in range(I):
            if sympy.expand(env.utilities[i].xreplace(sub) - env.utilities[pi[i]]) != 0:
                return False
        if sympy.expand(env.designer.xreplace(sub) - env.designer) != 0:
            return False
        moved = {_canonical(type(c)(tuple((sub.get(s, s), a) for s, a in c.coefficients), c.sense, c.rhs, c.text))
                 for c in env.constraints}
        if moved != canon:
            return False
    return True


def _canonical(c) -> tuple:
    return (c.sense, c.rhs, tuple(sorted((s.name, a) for s, a in c.coefficients)))
