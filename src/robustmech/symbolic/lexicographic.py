"""Closed forms of 000 (Kambhampati, lexicographic refinements of maxmin), in SymPy.

* screening: efficient qualities q*_i = argmax u(q, θ_i) - c(q) and the maximal prices (3);
* auction: the maximal transfers (5) of an allocation rule, the efficient rule with
  uniform tie-breaking, and the payment formula of Proposition 10 (a unique winner pays
  θ_n/(J+1) + (1 - 1/(J+1)) θ_{n+1}, θ_n the second-highest bid, J bidders at θ_n);
* public good: the maximal transfers (7), the surplus S_k, k*, the properly robust rule
  of Proposition 13 (q_K as a sum and by the recursion Q_k(t) = (t + kΔ Q_{k-1}(t))/S_k),
  the certificate weights w_k, the identity w_k S_k = (k+1) Δ w_{k+1} and the telescoping
  of the µ_2-expected payoff to Q_I / q_I (A.14.3), and the bound of Proposition 14.

Everything is exact (SymPy rationals or symbols); ``compare_*`` functions set the closed
forms against numerical results.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Sequence

import sympy

R = sympy.Rational


def _s(x) -> sympy.Expr:
    return sympy.nsimplify(x) if isinstance(x, float) else sympy.sympify(x)


# -- screening -------------------------------------------------------------------


def efficient_qualities(thetas: Sequence[Any], u: Callable | None = None,
                        c: Callable | None = None) -> list[sympy.Expr]:
    """q*_i = argmax_q u(q, θ_i) - c(q) (000 Section 3.1) for smooth strictly concave
    surplus: the root of the first-order condition (u = θ q, c = q²/2: q*_i = θ_i)."""
    q = sympy.Symbol("q", nonnegative=True)
    u = u or (lambda q, t: t * q)
    c = c or (lambda q: q ** 2 / 2)
    out = []
    for t in thetas:
        surplus = u(q, _s(t)) - c(q)
        roots = [r for r in sympy.solve(sympy.diff(surplus, q), q) if r.is_real and r >= 0]
        out.append(max(roots, key=lambda r: surplus.subs(q, r)) if roots else sympy.Integer(0))
    return out


def screening_maximal_prices(thetas: Sequence[Any], qualities: Sequence[Any],
                             u: Callable | None = None) -> list[sympy.Expr]:
    """The maximal prices (3) of 000 for a monotone allocation: P(θ_1) = u(q_1, θ_1),
    P(θ_j) = u(q_1, θ_1) + Σ_{i=2}^j [u(q_i, θ_i) - u(q_{i-1}, θ_i)]."""
    u = u or (lambda q, t: t * q)
    th = [_s(t) for t in thetas]
    qs = [_s(q) for q in qualities]
    prices = [u(qs[0], th[0])]
    for i in range(1, len(th)):
        prices.append(prices[-1] + u(qs[i], th[i]) - u(qs[i - 1], th[i]))
    return [sympy.simplify(p) for p in prices]


def screening_efficient_maximal(thetas: Sequence[Any], u: Callable | None = None, c: Callable | None = None) -> dict:
    """The efficient and maximal mechanism of 000 (Proposition 7: the unique properly
    robust one): qualities, prices (3) and the seller's payoffs P - c(q)."""
    c = c or (lambda q: q ** 2 / 2)
    q = efficient_qualities(thetas, u, c)
    p = screening_maximal_prices(thetas, q, u)
    return {"qualities": q, "prices": p, "payoffs": [sympy.simplify(pi - c(qi)) for pi, qi in zip(p, q)]}


# -- auction ----------------------------------------------------------------------


def uniform_efficient_allocation(profile: Sequence[int], n_agents: int) -> list[sympy.Expr]:
    """Q^i(θ) = 1/|argmax| if θ^i = max(θ), else 0 (000 Section 4.1); ``profile`` holds type indices."""
    top = max(profile)
    winners = [i for i in range(n_agents) if profile[i] == top]
    return [R(1, len(winners)) if i in winners else sympy.Integer(0) for i in range(n_agents)]


def auction_maximal_transfers(thetas: Sequence[Any], n_agents: int,
                              allocation: Callable[[tuple[int, ...]], Sequence[Any]] | None = None) -> dict:
    """The maximal transfers (5) of 000 for an allocation rule (uniform efficient by
    default): P^i(θ_k, θ^-i) = Q^i(θ_1, θ^-i) θ_1 + Σ_{j=2}^k (Q^i(θ_j, θ^-i) - Q^i(θ_{j-1}, θ^-i)) θ_j.
    Returns {profile: (Q, P, revenue)} over all profiles (type indices)."""
    th = [_s(t) for t in thetas]
    N = len(th)
    allocation = allocation or (lambda p: uniform_efficient_allocation(p, n_agents))
    out = {}
    for prof in itertools.product(range(N), repeat=n_agents):
        Q = [_s(x) for x in allocation(prof)]
        P = []
        for i in range(n_agents):
            def q_at(k, prof=prof, i=i):
                p = list(prof)
                p[i] = k
                return _s(allocation(tuple(p))[i])
            pay = q_at(0) * th[0] + sum((q_at(j) - q_at(j - 1)) * th[j] for j in range(1, prof[i] + 1))
            P.append(sympy.simplify(pay))
        out[prof] = (Q, P, sympy.simplify(sum(P)))
    return out


def proposition10_revenue(profile: Sequence[int], thetas: Sequence[Any]) -> sympy.Expr:
    """Revenue of the efficient maximal auction with uniform tie-breaking (Proposition 10 of
    000): with several top bidders, the top bid; with a unique winner, his payment
    θ_n/(J+1) + (1 - 1/(J+1)) θ_{n+1}, θ_n the second-highest bid, J the bidders at θ_n."""
    th = [_s(t) for t in thetas]
    top = max(profile)
    if list(profile).count(top) > 1:
        return th[top]
    n = max(t for t in profile if t != top)
    J = list(profile).count(n)
    return th[n] / (J + 1) + (1 - R(1, J + 1)) * th[n + 1]


def check_proposition10(thetas: Sequence[Any], n_agents: int) -> bool:
    """(5) with uniform tie-breaking gives exactly the Proposition 10 revenues at every profile."""
    table = auction_maximal_transfers(thetas, n_agents)
    return all(sympy.simplify(rev - proposition10_revenue(p, thetas)) == 0 for p, (_, _, rev) in table.items())


# -- public good -------------------------------------------------------------------


def public_good_maximal_transfers(Q: Callable[[tuple[int, ...]], Any], profile: Sequence[int], theta_l,
                                  theta_h) -> list[sympy.Expr]:
    """(7) of 000: P^i(θ_ℓ, θ^-i) = Q(θ_ℓ, θ^-i) θ_ℓ,
    P^i(θ_h, θ^-i) = Q(θ_ℓ, θ^-i) θ_ℓ + (Q(θ_h, θ^-i) - Q(θ_ℓ, θ^-i)) θ_h;
    ``profile`` holds 0 (θ_ℓ) or 1 (θ_h) per agent."""
    tl, th = _s(theta_l), _s(theta_h)
    out = []
    for i, t in enumerate(profile):
        low = list(profile)
        low[i] = 0
        q_low = _s(Q(tuple(low)))
        out.append(q_low * tl if t == 0 else q_low * tl + (_s(Q(tuple(profile))) - q_low) * th)
    return out


def surplus(k, I, theta_l, theta_h, gamma) -> sympy.Expr:
    """S_k = I θ_ℓ + k (θ_h - θ_ℓ) - c with c = γ I (000 Section 5.1)."""
    return I * _s(theta_l) + k * (_s(theta_h) - _s(theta_l)) - _s(gamma) * I


def k_star(I: int, theta_l, theta_h, gamma) -> int:
    """k* = min{k : S_k > 0}."""
    return min(k for k in range(1, I + 1) if surplus(k, I, theta_l, theta_h, gamma) > 0)


def q_sum(K: int, I: int, theta_l, theta_h, gamma) -> sympy.Expr:
    """q_K = Σ_{k=k*}^K (1/S_k) Π_{j=k+1}^K j (θ_h - θ_ℓ) / S_j (Proposition 13 of 000)."""
    d = _s(theta_h) - _s(theta_l)
    ks = k_star(I, theta_l, theta_h, gamma)

    def S(k):
        return surplus(k, I, theta_l, theta_h, gamma)
    return sympy.nsimplify(sum((1 / S(k)) * sympy.prod([j * d / S(j) for j in range(k + 1, K + 1)])
                               for k in range(ks, K + 1)))


def q_recursion(I: int, theta_l, theta_h, gamma, t=1) -> dict[int, sympy.Expr]:
    """The component-wise minimal sequence of (10) in A.14.2: Q_{k*}(t) = t/S_{k*},
    Q_k(t) = (t + k (θ_h - θ_ℓ) Q_{k-1}(t)) / S_k; Q_K(t) = t q_K."""
    d = _s(theta_h) - _s(theta_l)
    ks = k_star(I, theta_l, theta_h, gamma)
    t = _s(t)
    out, prev = {}, sympy.Integer(0)
    for k in range(ks, I + 1):
        prev = (t + k * d * prev) / surplus(k, I, theta_l, theta_h, gamma)
        out[k] = sympy.simplify(prev)
    return out


def public_good_properly_robust(I: int, theta_l=0, theta_h=1, gamma=sympy.Rational(1, 2)) -> dict:
    """The unique properly robust public-good mechanism (Proposition 13 of 000): provision
    probability Q_K = q_K / q_I with K high types when S_K > 0 (0 otherwise), the payoff
    1/q_I at every profile with positive surplus (0 elsewhere), and the certificate
    weights w_k = (1/S_k) Π_{j=k+1}^I j (θ_h - θ_ℓ)/S_j (A.14.3)."""
    d = _s(theta_h) - _s(theta_l)
    ks = k_star(I, theta_l, theta_h, gamma)
    qI = q_sum(I, I, theta_l, theta_h, gamma)
    Q = [sympy.Integer(0) if K < ks else sympy.nsimplify(q_sum(K, I, theta_l, theta_h, gamma) / qI)
         for K in range(I + 1)]

    def S(k):
        return surplus(k, I, theta_l, theta_h, gamma)
    w = {k: sympy.nsimplify((1 / S(k)) * sympy.prod([j * d / S(j) for j in range(k + 1, I + 1)]))
         for k in range(ks, I + 1)}
    payoff = [sympy.Integer(0) if K < ks else sympy.nsimplify(Q[K] * S(K) - K * d * (Q[K - 1] if K > 0 else 0))
              for K in range(I + 1)]
    return {"k_star": ks, "q_I": qI, "Q": Q, "payoff": payoff, "value": 1 / qI, "weights": w}


def check_weight_identity(I: int, theta_l=0, theta_h=1, gamma=sympy.Rational(1, 2)) -> bool:
    """w_k S_k = (k+1)(θ_h - θ_ℓ) w_{k+1} for k* <= k < I (A.14.3 of 000)."""
    sol = public_good_properly_robust(I, theta_l, theta_h, gamma)
    d = _s(theta_h) - _s(theta_l)
    w = sol["weights"]
    return all(sympy.simplify(w[k] * surplus(k, I, theta_l, theta_h, gamma) - (k + 1) * d * w[k + 1]) == 0
               for k in range(sol["k_star"], I))


def telescoped_payoff(I: int, theta_l=0, theta_h=1, gamma=sympy.Rational(1, 2)) -> sympy.Expr:
    """(1/q_I) Σ_{k=k*}^I w_k (Q_k S_k - k (θ_h - θ_ℓ) Q_{k-1}) - Q_I/q_I for symbolic Q_k with
    Q_{k*-1} = 0: the µ_2-expected payoff of A.14.3 minus its telescoped value (zero)."""
    sol = public_good_properly_robust(I, theta_l, theta_h, gamma)
    ks, w, qI = sol["k_star"], sol["weights"], sol["q_I"]
    d = _s(theta_h) - _s(theta_l)
    Q = {k: sympy.Symbol(f"Q_{k}") for k in range(ks, I + 1)}
    Q[ks - 1] = sympy.Integer(0)
    total = sum(w[k] * (Q[k] * surplus(k, I, theta_l, theta_h, gamma) - k * d * Q[k - 1])
                for k in range(ks, I + 1)) / qI
    return sympy.simplify(sympy.expand(total - Q[I] / qI))


def proposition14_bound(I: int, K: int, theta_l=0, theta_h=1, gamma=sympy.Rational(1, 2)) -> sympy.Expr:
    """Q^I_K <= (1 - ρ)^{I-K} with ρ = (γ - θ_ℓ)/(θ_h - θ_ℓ) (proof of Proposition 14 of 000)."""
    rho = (_s(gamma) - _s(theta_l)) / (_s(theta_h) - _s(theta_l))
    return (1 - rho) ** (I - K)


def compare(numeric: Sequence[float], exact: Sequence[Any], tol: float = 1e-7) -> float:
    """The largest |numeric - closed form|."""
    return max((abs(float(a) - float(b)) for a, b in zip(numeric, exact)), default=0.0)
