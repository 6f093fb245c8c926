"""Exact rational re-verification of a refinement of maxmin (000), for small instances.

The floating-point stages find a mechanism and its certificate LPS; here both are
re-derived in ``fractions.Fraction`` arithmetic: the constraints of M tight at the float
mechanism are solved exactly, and for each belief µ_k an exact dual certificate of
µ_k-optimality (the KKT conditions of the Bayes LP of 000 Section 2.1) is solved on the
float duals' support; signs, complementary slackness and the certificate's support
conditions (Definitions 1, 4, 6 of 000) are then checked exactly.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ...lower.prior_free import PriorFreeArrays
from .algorithms import Refinement
from .polytope import mechanism_families
from .solving import Solver, solve_optimal
from .stage_programs import stage


def _exact_rows(a: PriorFreeArrays):
    """M as exact rows: list of (dict col -> Fraction, lower, upper) plus column bounds."""
    rows = []
    for _, r, c, v, m, lo, hi, _, _ in mechanism_families(a):
        table: list[dict[int, Fraction]] = [{} for _ in range(m)]
        for i, j, x in zip(r.tolist(), c.tolist(), v.tolist()):
            if x != 0:
                table[i][j] = table[i].get(j, Fraction(0)) + Fraction(x)
        for i in range(m):
            rows.append((table[i], _exactify(lo[i]), _exactify(hi[i])))
    lower = [_exactify(x) for x in a.lower.reshape(-1)]
    upper = [_exactify(x) for x in a.upper.reshape(-1)]
    return rows, lower, upper


def _exactify(x):
    if isinstance(x, Fraction):
        return x
    x = float(x)
    if not np.isfinite(x):
        return None
    return Fraction(x).limit_denominator(10**12)


def _rational(x: float, max_den: int = 10**7) -> Fraction:
    return Fraction(float(x)).limit_denominator(max_den)


def _solve_exact(equations: list[tuple[dict, Fraction]], n: int, guess: list[Fraction]) -> list[Fraction] | None:
    """A rational solution of the linear equations (dict col -> coef, rhs) in n unknowns:
    Gauss-Jordan elimination; free unknowns take their (rationalized) guess. None when
    the equations are inconsistent."""
    pivots: list[tuple[int, dict, Fraction]] = []
    for coefs, rhs in equations:
        row, b = dict(coefs), Fraction(rhs)
        for col, prow, pb in pivots:
            f = row.get(col)
            if f:
                for j, x in prow.items():
                    row[j] = row.get(j, Fraction(0)) - f * x
                    if row[j] == 0:
                        del row[j]
                b -= f * pb
        if not row:
            if b != 0:
                return None
            continue
        col = max(row, key=lambda j: abs(row[j]))
        p = row[col]
        row = {j: x / p for j, x in row.items()}
        b /= p
        for k, (c2, r2, b2) in enumerate(pivots):  # keep earlier pivot rows reduced
            f = r2.get(col)
            if f:
                for j, x in row.items():
                    r2[j] = r2.get(j, Fraction(0)) - f * x
                    if r2[j] == 0:
                        del r2[j]
                pivots[k] = (c2, r2, b2 - f * b)
        pivots.append((col, row, b))
    x = list(guess)
    pivot_cols = {c for c, _, _ in pivots}
    for col, row, b in pivots:
        x[col] = b - sum((v * x[j] for j, v in row.items() if j != col and j not in pivot_cols), Fraction(0))
    return x


def exact_verify(a_exact: PriorFreeArrays, result: Refinement, solver: Solver, tol: float = 1e-7) -> dict:
    """Re-verify a result in rational arithmetic (small instances).

    1. The mechanism: the constraints of M tight at the float solution are solved exactly
       (free directions take rationalized values) and every constraint is checked exactly.
    2. Each belief µ_k of the certificate: an exact dual certificate that the mechanism is
       µ_k-optimal over M (µ_k and the multipliers solved exactly on the float duals'
       support, signs and complementary slackness checked exactly): the mechanism is then
       µ-optimal exactly. The certificate's support conditions are checked on exact payoffs.
    """
    a = a_exact
    n, d = a.n_cells, a.dim
    rows, lo_col, hi_col = _exact_rows(a)
    x_float = np.asarray(result.z, dtype=float).reshape(-1)
    N = n * d
    eps = 1e-7 * max(1.0, float(np.max(np.abs(x_float))) if N else 1.0)
    eqs = []
    for j in range(N):
        for bnd in (lo_col[j], hi_col[j]):
            if bnd is not None and abs(x_float[j] - float(bnd)) <= eps:
                eqs.append(({j: Fraction(1)}, bnd))
                break
    for coefs, lo, hi in rows:
        act = sum(float(v) * x_float[j] for j, v in coefs.items())
        for bnd in (lo, hi):
            if bnd is not None and abs(act - float(bnd)) <= eps * max(1, len(coefs)):
                eqs.append((coefs, bnd))
                break
    x = _solve_exact(eqs, N, [_rational(v) for v in x_float])
    out: dict = {"mechanism_exact": x is not None}
    if x is None:
        out["passed"] = False
        out["reason"] = "the constraints tight at the float solution are inconsistent in exact arithmetic"
        return out
    feasible = all((lo_col[j] is None or x[j] >= lo_col[j]) and (hi_col[j] is None or x[j] <= hi_col[j])
                   for j in range(N))
    activity = [sum((v * x[j] for j, v in coefs.items()), Fraction(0)) for coefs, _, _ in rows]
    feasible = feasible and all((lo is None or act >= lo) and (hi is None or act <= hi)
                                for act, (_, lo, hi) in zip(activity, rows))
    out["feasible"] = feasible
    z = np.array(x, dtype=object).reshape(n, d)
    payoffs = [sum((a.w_coef[c][k] * z[c][k] for k in range(d)), Fraction(0)) + a.w_const[c] for c in range(n)]
    out["payoffs"] = payoffs
    out["z"] = z
    beliefs_exact, per_belief = [], []
    certificate = result.certificate
    if certificate is None:
        out["passed"] = feasible
        return out
    for mass in certificate.beliefs:
        ok, mu = _exact_optimality(a, rows, lo_col, hi_col, x, activity, np.asarray(mass, dtype=float), solver)
        per_belief.append(ok)
        beliefs_exact.append(mu)
    out["beliefs_optimal"] = per_belief
    out["beliefs"] = beliefs_exact
    passed = feasible and all(per_belief)
    if passed:
        v = payoffs
        vmin = min(v)
        if certificate.kind in ("adversarial", "perfect", "proper"):
            out["adversarial"] = all(v[c] == vmin for c in range(n) if beliefs_exact[0][c] > 0)
            passed &= out["adversarial"]
        if certificate.kind in ("perfect", "proper"):
            out["full_support"] = all(any(mu[c] > 0 for mu in beliefs_exact) for c in range(n))
            passed &= out["full_support"]
        if certificate.kind == "proper":
            first = [min((k for k, mu in enumerate(beliefs_exact) if mu[c] > 0), default=len(beliefs_exact))
                     for c in range(n)]
            out["strongly_adversarial"] = all(v[c] <= v[e] for c in range(n) for e in range(n) if first[c] <= first[e])
            passed &= out["strongly_adversarial"]
    out["passed"] = bool(passed)
    return out


def _exact_optimality(a, rows, lo_col, hi_col, x, activity, mass, solver):
    """Exact dual certificate that x maximizes Σ µ(c) v(c) over M, µ near ``mass`` with the
    same support. Unknowns: µ on the support and multipliers on the float optimal duals'
    support; equations: ∇(µ·v) = Aᵀy + z_bounds, Σ µ = 1."""
    n, d = a.n_cells, a.dim
    lp = stage("refinement-bayes", a, mass=mass, name="exact-guide")
    sol = solve_optimal(solver, lp)
    m_rows = len(rows)
    y = np.asarray(sol.row_dual[:m_rows], dtype=float)
    zc = np.asarray(sol.col_dual[: n * d], dtype=float)
    support = np.flatnonzero(mass > 0)
    scale = max(1.0, float(np.max(np.abs(y), initial=0.0)), float(np.max(np.abs(zc), initial=0.0)))
    ry = [r for r in range(m_rows) if abs(y[r]) > 1e-9 * scale]
    rz = [j for j in range(n * d) if abs(zc[j]) > 1e-9 * scale]
    # unknown layout: µ (support) | y (ry) | z (rz)
    nu, ny = len(support), len(ry)
    idx_y = {r: nu + k for k, r in enumerate(ry)}
    idx_z = {j: nu + ny + k for k, j in enumerate(rz)}
    cols_eq: dict[int, dict] = {}
    for k, c in enumerate(support):
        for s in range(d):
            w = a.w_coef[c][s]
            if w != 0:
                cols_eq.setdefault(c * d + s, {})[k] = Fraction(w)
    for r in ry:
        for j, v in rows[r][0].items():
            e = cols_eq.setdefault(j, {})
            e[idx_y[r]] = e.get(idx_y[r], Fraction(0)) - v
    for j in rz:
        e = cols_eq.setdefault(j, {})
        e[idx_z[j]] = e.get(idx_z[j], Fraction(0)) - 1
    eqs = [(coefs, Fraction(0)) for coefs in cols_eq.values()]
    eqs.append(({k: Fraction(1) for k in range(nu)}, Fraction(1)))
    guess = ([_rational(mass[c] / mass[support].sum()) for c in support] + [_rational(y[r]) for r in ry]
             + [_rational(zc[j]) for j in rz])
    u = _solve_exact(eqs, nu + ny + len(rz), guess)
    mu = [Fraction(0)] * n
    if u is None:
        return False, mu
    for k, c in enumerate(support):
        mu[c] = u[k]
    ok = all(u[k] > 0 for k in range(nu))
    # signs and complementary slackness (max problem, HiGHS convention c = Aᵀy + z)
    for r in ry:
        val, (_, lo, hi) = u[idx_y[r]], rows[r]
        if val > 0:
            ok &= hi is not None and activity[r] == hi
        elif val < 0:
            ok &= lo is not None and activity[r] == lo
    for j in rz:
        val = u[idx_z[j]]
        if val > 0:
            ok &= hi_col[j] is not None and x[j] == hi_col[j]
        elif val < 0:
            ok &= lo_col[j] is not None and x[j] == lo_col[j]
    return bool(ok), mu
