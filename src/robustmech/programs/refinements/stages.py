"""The linear programs of 000's refinements, one builder per stage.

Each builder is a reduction from a prior-free environment's arrays to a
:class:`~robustmech.programs.lp.LinearProgram` over the mechanism polytope M
(:mod:`.polytope`), with the stage's own variables, rows and objective; the
algorithms of :mod:`.algorithms` chain them. v(θ) = V z + w0 is the designer's payoff.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ...lower.prior_free import PriorFreeArrays
from ..lp import LinearProgram, labelled
from .polytope import as_float, cell_index, mechanism_program, payoff_matrix


def _add_payoff_floors(b, a: PriorFreeArrays, V, w0, floors, description: str) -> np.ndarray:
    """Rows v(θ) >= floors(θ) at the cells with a finite floor; returns those cells."""
    fixed = np.flatnonzero(np.isfinite(floors))
    if len(fixed):
        b.add_rows("levels", {"z": V[fixed]}, lower=floors[fixed] - w0[fixed], description=description,
                   index=(cell_index(a, fixed),))
    return fixed


def build_bayes(a: PriorFreeArrays, mass: np.ndarray, floors=(), name: str = "bayes",
                payoff_floors: np.ndarray | None = None) -> LinearProgram:
    """max Σ_θ mass(θ) v(θ) over M (a Bayesian objective, 000 Section 2.1), subject to the
    earlier stage values Σ_θ µ_j(θ) v(θ) >= value_j for each pair (µ_j, value_j) in
    ``floors`` (the preemptive LPs of (1)), and v(θ) >= payoff_floors(θ) where finite
    (the maxmin face of Proposition 3)."""
    b = mechanism_program(a, name, "max")
    V, w0, mass = payoff_matrix(a), as_float(a.w_const), as_float(mass)
    b.set_cost("z", V.T @ mass)
    b.offset = float(mass @ w0)
    if len(floors):
        beliefs = sp.csr_matrix(np.vstack([as_float(m) for m, _ in floors]))
        values = np.array([value for _, value in floors], dtype=float)
        b.add_rows("stage_values", {"z": beliefs @ V}, lower=values - beliefs @ w0,
                   description="earlier beliefs of the LPS keep their optimal values",
                   index=(labelled("K", range(1, len(floors) + 1), description="earlier beliefs µ_k of the LPS"),))
    if payoff_floors is not None:
        _add_payoff_floors(b, a, V, w0, as_float(payoff_floors), "every profile keeps its floor (the maxmin face)")
    return b.build(metadata={"program": name, "source": "000 eq. (1)"})


def build_maxmin(a: PriorFreeArrays, free: np.ndarray, floors: np.ndarray, name: str = "maxmin") -> LinearProgram:
    """max t s.t. t <= v(θ) for the free profiles, v(θ) >= floors(θ) for the fixed ones,
    z ∈ M (the maxmin problem (2) of 000; one stage of sequential leximin)."""
    b = mechanism_program(a, name, "max")
    V, w0 = payoff_matrix(a), as_float(a.w_const)
    b.add_variables("t", 1, lower=-np.inf, upper=np.inf, description="t: the worst payoff over the free profiles")
    b.set_cost("t", 1.0)
    free = np.flatnonzero(free)
    b.add_rows("worst", {"z": -V[free], "t": sp.csr_matrix(np.ones((len(free), 1)))}, upper=w0[free],
               description="t <= v(θ) at every free profile", index=(cell_index(a, free),))
    fixed = _add_payoff_floors(b, a, V, w0, as_float(floors), "profiles fixed at earlier stages keep their levels")
    return b.build(metadata={"program": name, "source": "000 eq. (2)", "free": free, "fixed": fixed})


def build_admissibility(a: PriorFreeArrays, target: np.ndarray, support: np.ndarray | None = None,
                        name: str = "admissibility") -> LinearProgram:
    """max Σ_{θ ∈ S} e(θ) s.t. v(θ) - e(θ) >= v̄(θ), e >= 0 on S, z ∈ M (Definition 3 and
    Lemma 1 of 000, restricted to S as in the proof of Proposition 4). The mechanism with
    payoffs v̄ is undominated on S iff the value is 0; the duals of the ``gain`` rows are
    then a belief with support S against which it is optimal. Cells count with their
    multiplicity."""
    support = np.arange(a.n_cells) if support is None else np.asarray(support)
    b = mechanism_program(a, name, "max")
    V, w0 = payoff_matrix(a), as_float(a.w_const)
    k = len(support)
    S = cell_index(a, support)
    b.add_variables("e", lower=0.0, description="e(θ): the payoff gained over the tested mechanism", index=(S,))
    b.set_cost("e", as_float(a.multiplicity[support]))
    b.add_rows("gain", {"z": V[support], "e": -sp.identity(k, format="csr")},
               lower=as_float(target)[support] - w0[support], description="v(θ) - e(θ) >= v̄(θ): no profile loses",
               index=(S,))
    return b.build(metadata={"program": name, "source": "000 Lemma 1, Proposition 3", "support": support})


def build_ordered(a: PriorFreeArrays, stage: int, earlier: list[float], name: str = "ordered") -> LinearProgram:
    """Stage k of the ordered-outcomes formulation of leximin (Proposition 4 of 000):
    maximize θ_k(v) = max_r k r - Σ_θ mult(θ) (r - v(θ))^+, the sum of the k smallest
    payoffs, with θ_j >= θ_j* for j < k."""
    b = mechanism_program(a, name, "max")
    V, w0 = payoff_matrix(a), as_float(a.w_const)
    n, mult, K = a.n_cells, as_float(a.multiplicity), stage
    ks = labelled("K", range(1, K + 1), description="k: how many of the smallest payoffs are summed")
    theta = cell_index(a)
    b.add_variables("r", lower=-np.inf, description="r_k: the threshold of the k-th cumulative ordered sum",
                    index=(ks,))
    b.add_variables("d", lower=0.0, description="d_k(θ) >= (r_k - v(θ))^+", index=(ks, theta))
    # d_k(θ) + v(θ) - r_k >= 0
    rows_V = sp.kron(np.ones((K, 1)), V, format="csr")
    r_sel = sp.kron(sp.identity(K), np.ones((n, 1)), format="csr")
    b.add_rows("shortfall", {"z": rows_V, "r": -r_sel, "d": sp.identity(K * n, format="csr")},
               lower=-np.tile(w0, K), description="d_k(θ) >= r_k - v(θ)", index=(ks, theta))
    theta_r = sp.diags(np.arange(1, K + 1, dtype=float), format="csr")  # θ_j = j r_j - Σ mult d_j
    theta_d = -sp.kron(sp.identity(K), mult[None, :], format="csr")
    if K > 1:
        b.add_rows("cumulative", {"r": theta_r[: K - 1], "d": theta_d[: K - 1]}, lower=np.asarray(earlier, dtype=float),
                   description="earlier cumulative ordered sums keep their optimal values",
                   index=(labelled("K", range(1, K), description="earlier stages j < k"),))
    cost_r = np.zeros(K)
    cost_r[-1] = K
    cost_d = np.zeros((K, n))
    cost_d[-1] = -mult
    b.set_cost("r", cost_r)
    b.set_cost("d", cost_d.reshape(-1))
    return b.build(metadata={"program": name, "source": "000 Proposition 4 (leximin)", "stage": K})


def build_face_functional(a: PriorFreeArrays, floors: np.ndarray, objective: np.ndarray, sense: str,
                          name: str = "face") -> LinearProgram:
    """min or max of a linear functional Σ objective(θ)·z(θ) over {z ∈ M: v(θ) >= floors(θ)}
    (e.g. the robust face of Example 1 of 000: the range of the high type's expected quality)."""
    b = mechanism_program(a, name, sense)
    V, w0 = payoff_matrix(a), as_float(a.w_const)
    b.set_cost("z", as_float(objective).reshape(-1))
    _add_payoff_floors(b, a, V, w0, as_float(floors), "the face's payoff floors")
    return b.build(metadata={"program": name})


def build_saturation_screen(a: PriorFreeArrays, free: np.ndarray, floors: np.ndarray, level: float,
                            undecided: np.ndarray, name: str = "saturation-screen") -> LinearProgram:
    """One screening LP of sequential leximin (Proposition 4 of 000): max Σ g(θ) over the
    undecided free profiles with g(θ) <= v(θ) - t, 0 <= g <= 1, every free profile at
    least t = ``level`` and the fixed ones at their floors. A profile with g(θ) > 0 can
    rise above t, so it is not saturated."""
    b = mechanism_program(a, name, "max")
    V, w0 = payoff_matrix(a), as_float(a.w_const)
    others = np.flatnonzero(free)
    U = cell_index(a, undecided)
    b.add_variables("g", lower=0.0, upper=1.0, description="g(θ): how far the profile can rise above t (capped at 1)",
                    index=(U,))
    b.set_cost("g", 1.0)
    b.add_rows("worst", {"z": V[others]}, lower=level - w0[others], description="v(θ) >= t at every free profile",
               index=(cell_index(a, others),))
    b.add_rows("lift", {"z": V[undecided], "g": -sp.identity(len(undecided), format="csr")},
               lower=level - w0[undecided], description="v(θ) - g(θ) >= t at the undecided profiles", index=(U,))
    _add_payoff_floors(b, a, V, w0, as_float(floors), "profiles fixed at earlier stages keep their levels")
    return b.build(metadata={"program": name, "source": "000 Proposition 4 (saturation)"})
