"""The guarantee of mixtures of fixed mechanisms (``restrict mixture of M1, M2, ...``).

003 Section 5.3 (after Bergemann, Brooks and Morris 2019) asks for the best guarantee
among "standard" auctions and their convex combinations. For fixed mechanisms
M_1, ..., M_J on the same action sets A and the same outcomes, the mixture with weights
α ∈ Δ_J is the mechanism m_α(·|a) = Σ_j α_j m_j(·|a): at every action profile its
outcome is the α-combination of theirs (the agents do not learn which rule is used).
Its guarantee G(α) is the minimum of the designer's objective over Bayes correlated
equilibria of m_α (003 (2), (5)-(6); the ``bce-worst`` program), and the class's
guarantee is max over α of G(α).

Why this is not one linear program. In the BCE program of m_α the weights multiply the
equilibrium: the objective Σ σ(a, θ) Σ_j α_j w(m_j(a), θ) and every obedience row
Σ σ(a, θ) Σ_j α_j [u_i(m_j(a'_i, a_-i), θ) - u_i(m_j(a), θ)] <= 0 are bilinear in (σ, α).
Dualising the inner minimum gives max over (ν, λ >= 0) of Σ_θ μ(θ) ν(θ) subject to
ν(θ) <= Σ_j α_j [w(m_j(a), θ) + Σ_i Σ_{a'_i} λ_i(a_i, a'_i) (u_i(m_j(a'_i, a_-i), θ) - u_i(m_j(a), θ))],
whose right side still has the products α_j λ_i. So the max-min is linear in α for fixed
multipliers and linear in the multipliers for fixed α, never in both; replacing the
products by free variables β_{j,i} = α_j λ_i relaxes the problem, which bounds the max
guarantee from *above*, not below, and is not a guarantee. Nor is G concave in α in
general (the set of equilibria moves with α), so no convex program in α alone computes it.

What is computed instead, exactly: G(α) for every α on the simplex grid with step 1/n
(``weights = n``), each by the BCE program through the one chain (certified by its dual),
and the best of them. That is the exact max guarantee of the class of mixtures whose
weights are multiples of 1/n, and a lower bound on the supremum over all mixtures (a
mixture with any weights is a participation-secure mechanism; its guarantee is what it
is). With one mechanism the class is that mechanism, and the value is its exact guarantee.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from .errors import Location, ModelError, SolverError
from .lower.arrays import LoweredEnvironment
from .model.environment import Environment
from .model.objects import Mechanism
from .programs.restrictions import resolve_mixture

#: the most mixtures one call evaluates (one BCE program each)
MAX_MIXTURES = 500


@dataclass
class MixtureResult:
    """The guarantee of each mixture on the weight grid, and the best one."""

    names: tuple[str, ...]
    weights: list[tuple[float, ...]]
    values: list[float]
    dual_values: list[float]
    best: int  # index of the best mixture
    mechanism: Mechanism  # the best mixture
    step: int  # weights are multiples of 1/step
    model: str = ""
    seconds: float = 0.0
    checks: dict = field(default_factory=dict)

    @property
    def value(self) -> float:
        return self.values[self.best]

    @property
    def best_weights(self) -> tuple[float, ...]:
        return self.weights[self.best]

    def summary(self) -> dict:
        return {"model": self.model, "evaluation": "mixture", "mechanisms": list(self.names),
                "weight_step": self.step, "guarantee": self.value, "weights": list(self.best_weights),
                "dual_value": self.dual_values[self.best],
                "mixtures": [{"weights": list(w), "guarantee": v, "dual_value": d}
                             for w, v, d in zip(self.weights, self.values, self.dual_values)],
                "seconds": round(self.seconds, 6), **self.checks}

    def __str__(self) -> str:
        head = " + ".join(f"{w:g} {n}" for w, n in zip(self.best_weights, self.names))
        lines = [f"best mixture of {', '.join(self.names)} (weights in steps of 1/{self.step}): {head}",
                 f"  guarantee {self.value:.6f}  [exact for these weights, dual {self.dual_values[self.best]:.6f}]"]
        if len(self.weights) > 1:
            lines.append("  weights" + " " * max(0, 8 * len(self.names) - 7) + "  guarantee")
            for w, v in zip(self.weights, self.values):
                lines.append("  " + " ".join(f"{x:7.3f}" for x in w) + f"  {v:.6f}")
        return "\n".join(lines)


def weight_grid(count: int, step: int) -> list[tuple[float, ...]]:
    """Every α ∈ Δ_count whose entries are multiples of 1/step (one point for one mechanism)."""
    if count == 1:
        return [(1.0,)]
    grid = []
    for bars in itertools.combinations(range(step + count - 1), count - 1):
        parts = np.diff((-1,) + bars + (step + count - 1,)) - 1
        grid.append(tuple(float(p) / step for p in parts))
    return grid


def mixture_restriction(env: Environment) -> tuple[tuple[str, ...], Location | None]:
    """The mechanisms of the model's ``restrict mixture of ...`` and where it was written."""
    for j, r in enumerate(env.restrictions):
        if r["kind"] == "mixture":
            return tuple(r["mechanisms"]), env.locations.get(("restrict", j))
    raise ModelError(f"{env.name}: the model has no `restrict mixture of NAME, NAME, ...` statement")


def mixed(mechanisms: list[Mechanism], names: tuple[str, ...], alpha: tuple[float, ...]) -> Mechanism:
    rule = sum(a * m.rule for a, m in zip(alpha, mechanisms))
    label = " + ".join(f"{a:g} {n}" for a, n in zip(alpha, names))
    first = mechanisms[0]
    return Mechanism(first.actions, first.outcome_names, np.asarray(rule), finite=first.finite, name=label,
                     metadata={"mixture": dict(zip(names, alpha))})


def mixture_guarantee(env: Environment | LoweredEnvironment, names: tuple[str, ...] | None = None, weights: int = 10,
                      solver: str = "auto", time_limit: float | None = None, verbose: bool = False,
                      symmetry: bool = True) -> MixtureResult:
    """The exact guarantee of every mixture of the named mechanisms with weights in steps
    of 1/``weights`` (the model's ``restrict mixture`` when ``names`` is None), and the
    best (see the module docstring for why this is a search over weights, not one LP)."""
    import time

    from .api import validate
    from .certify import guarantee

    start = time.perf_counter()
    low = env if isinstance(env, LoweredEnvironment) else validate(env)
    if names is None:
        names, where = mixture_restriction(low.env)
    else:
        names, where = tuple(names), None
    if not names:
        raise ModelError("a mixture needs at least one mechanism", where)
    if isinstance(weights, bool) or not isinstance(weights, (int, np.integer)) or weights < 1:
        raise ModelError(f"the weight step must be a whole number >= 1 (weights in steps of 1/n), got {weights!r}",
                         where)
    count = math.comb(int(weights) + len(names) - 1, len(names) - 1) if len(names) > 1 else 1
    if count > MAX_MIXTURES:
        raise ModelError(f"{count:,} mixtures of {len(names)} mechanisms in steps of 1/{weights}: at most "
                         f"{MAX_MIXTURES} are evaluated (one BCE program each); take fewer weights", where)
    mechs = resolve_mixture(low.env, names, where)
    grid = weight_grid(len(names), int(weights))
    values, duals, results = [], [], []
    for alpha in grid:
        g = guarantee(low, mixed(mechs, names, alpha), solver=solver, time_limit=time_limit, verbose=verbose,
                      best=False, symmetry=symmetry)
        values.append(g.value)
        duals.append(g.dual_value)
        results.append(g)
    best = int(np.argmax(values))
    mech = results[best].mechanism
    # the restriction, checked on the mechanism read back: its rule is the α-combination
    weights_best = np.asarray(grid[best])
    gap = float(np.abs(mech.rule - sum(a * m.rule for a, m in zip(weights_best, mechs))).max(initial=0.0))
    if np.any(weights_best < 0) or abs(weights_best.sum() - 1.0) > 1e-12 or gap > 1e-9:
        raise SolverError(f"the best mixture {mech.name} is not a mixture of {', '.join(names)}", "uncertified")
    return MixtureResult(tuple(names), grid, values, duals, best, mech, int(weights), low.env.name,
                         time.perf_counter() - start, {"mixture_violation": gap})


__all__ = ["MixtureResult", "mixture_guarantee", "weight_grid", "mixed"]
