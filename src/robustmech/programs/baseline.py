"""A baseline signal in the programs: information every information structure refines.

A model's ``baseline NAME`` or ``baseline knows EXPR`` (docs/language.md, "baseline")
reaches the programs as ``LoweredEnvironment.baseline``, an
:class:`~robustmech.model.objects.InformationStructure` B = (S, π) with π(s, θ) the
joint of the baseline signal profile s and the state (its state marginal is the prior).
Agents are known to observe at least s_i (Bergemann and Morris (2016); 003 Section 5.1):
Nature may only add information, so every structure it chooses has signals (s_i, y_i)
with Σ_y σ(s, y, θ) = π(s, θ).

The programs that use it write each agent's signal or action as a pair (s_i, z_i),
stored at the combined index c_i = s_i |Z_i| + z_i, profiles in C order (agent 1
slowest), so one agent's combined axis is the product of its baseline signals (slow)
and its own values (fast). This module builds those pairs, the marginal rows
Σ_z p(s, z, θ) = π(s, θ) and the operators acting on z_i within each s_i:

* ``bce`` (``bce-worst``, ``bce-best``): the decision rule p(s, a, θ), obedient for each
  agent given (s_i, a_i) (deviations keep s_i: a deviation is an action, not a signal);
* ``bounding`` (``potential``, UB-P-k): σ(θ, s, x), x ∈ X(k), with the ∇̃+ operators of
  (7) of 004 acting on x_i within each s_i (block diagonal over s_i).

Programs that cannot honour it refuse it (:func:`refuse`), or, where ignoring it leaves a
valid bound, say so in their result (LB-G-k: :data:`IGNORED_BY_LOWER_BOUND`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ModelError
from ..model.objects import InformationStructure
from .lp import IndexSet

#: what a lower-bounding program that ignores the baseline says in its result
IGNORED_BY_LOWER_BOUND = ("ignored: this program bounds the max guarantee over every information structure, which "
                          "is at most the max guarantee over those refining the baseline, so it remains a valid "
                          "(looser) lower bound")


def baseline_of(low) -> InformationStructure | None:
    """The lowered environment's baseline signal (None without one)."""
    return getattr(low, "baseline", None)


def refuse(low, program: str, why: str) -> None:
    """A ModelError at the ``baseline`` statement when a program cannot honour it."""
    if baseline_of(low) is None:
        return
    raise ModelError(f"the program '{program}' does not take the baseline signal into account ({why}); remove the "
                     "`baseline` statement to run it", low.env.location("baseline"))


def joint(low) -> np.ndarray:
    """π(s, θ) with the signal profiles flattened: shape (|S|, |Θ|)."""
    b = baseline_of(low)
    assert b is not None
    return np.clip(b.joint, 0.0, None).reshape(-1, b.joint.shape[-1])


def signal_sizes(low) -> tuple[int, ...]:
    b = baseline_of(low)
    assert b is not None
    return tuple(len(s) for s in b.signals)


def signal_profiles(low, name: str = "S") -> IndexSet:
    """The baseline's signal profiles s by their labels."""
    b = baseline_of(low)
    assert b is not None
    axes = tuple(tuple(np.asarray(s).tolist()) for s in b.signals)
    return IndexSet(name, axes=axes, kind="profile", description="baseline signal profiles s")


def pair_profiles(low, inner: tuple[tuple, ...], name: str, description: str) -> IndexSet:
    """Profiles of pairs (s_i, z_i): each agent's axis lists its baseline signals (slow)
    times its own values ``inner[i]`` (fast), labelled by the pair as text, ``"(s, z)"``
    (one entry per agent, so that a profile is a flat tuple, as Pyomo's sets want)."""
    b = baseline_of(low)
    assert b is not None
    axes = tuple(tuple(pair_label(s, z) for s in np.asarray(sig).tolist() for z in own)
                 for sig, own in zip(b.signals, inner))
    return IndexSet(name, axes=axes, kind="profile", description=description)


def signal_of_pairs(sizes: tuple[int, ...], inner: tuple[int, ...]) -> np.ndarray:
    """For every pair profile (flat, C order), the flat index of its baseline signal profile."""
    combined = tuple(s * z for s, z in zip(sizes, inner))
    idx = np.indices(combined).reshape(len(combined), -1)
    parts = tuple(idx[j] // inner[j] for j in range(len(combined)))
    return np.ravel_multi_index(parts, sizes) if parts else np.zeros(1, dtype=np.intp)


def lift(one_agent: sp.spmatrix, agent: int, sizes: tuple[int, ...], inner: tuple[int, ...]) -> sp.csr_matrix:
    """A one-agent operator on z_i (|Z_i| × |Z_i|) acting on the pair profiles: within each
    baseline signal s_i (block diagonal, kron(I_{S_i}, op)), the identity on the others."""
    combined = [s * z for s, z in zip(sizes, inner)]
    left = sp.identity(int(np.prod(combined[:agent])), format="csr")
    right = sp.identity(int(np.prod(combined[agent + 1:])), format="csr")
    own = sp.kron(sp.identity(sizes[agent], format="csr"), one_agent, format="csr")
    return sp.kron(sp.kron(left, own), right, format="csr")


def extend(array: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    """An array over (z_1, ..., z_N, Θ) that does not depend on the baseline signals, over
    the pair profiles (c_1, ..., c_N, Θ), c_i = s_i |Z_i| + z_i (broadcast, then copied)."""
    n = len(sizes)
    inner = array.shape[:n]
    expanded = array.reshape(tuple(v for z in inner for v in (1, z)) + array.shape[n:])
    target = tuple(v for s, z in zip(sizes, inner) for v in (s, z)) + array.shape[n:]
    return np.ascontiguousarray(np.broadcast_to(expanded, target)).reshape(
        tuple(s * z for s, z in zip(sizes, inner)) + array.shape[n:])


def within_signals(mask: np.ndarray, size: int) -> np.ndarray:
    """A (recommendation, deviation) mask over one agent's own values, written within
    each of its ``size`` baseline signals: kron(I, mask) (no pair across two signals)."""
    return np.kron(np.eye(size, dtype=bool), np.asarray(mask, dtype=bool))


def pair_label(s, z) -> str:
    """The label of a pair signal (s_i, x_i) in a read-back information structure."""
    return f"({_short(s)}, {_short(z)})"


def _short(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)
