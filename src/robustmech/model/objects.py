"""Mechanisms and information structures (004 Section 2) as economic objects.

A :class:`Mechanism` is M = (A, m): finite action sets A_i and an outcome rule that
maps each action profile to a lottery over a finite Ω (``rule[a] ∈ Δ(Ω)``) or to a
point of a continuous outcome polyhedron (allocations and transfers). An
:class:`InformationStructure` is I = (S, σ): finite signal sets S_i and a joint
distribution ``joint[s, θ]`` whose marginal on Θ is the prior.

The bounding programs return these types on the grid X(k); users can also build them
directly (from arrays or generators) and evaluate them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np


@dataclass
class Mechanism:
    """M = (A, m). ``rule`` has shape (|A_1|, ..., |A_N|, d)."""

    actions: tuple[np.ndarray, ...]  # action labels per agent (numbers on a grid, or indices)
    outcome_names: tuple[str, ...]
    rule: np.ndarray
    finite: bool = True
    name: str = "mechanism"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.actions = tuple(np.asarray(a) for a in self.actions)
        self.outcome_names = tuple(self.outcome_names)
        self.rule = np.asarray(self.rule, dtype=float)
        expected = tuple(len(a) for a in self.actions) + (len(self.outcome_names),)
        if self.rule.shape != expected:
            raise ValueError(f"outcome rule has shape {self.rule.shape}, expected {expected}")

    @property
    def n_agents(self) -> int:
        return len(self.actions)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.rule.shape[:-1]

    def outcome(self, name: str) -> np.ndarray:
        """m(ω|·) for one outcome (or one outcome variable), shaped like the action profiles."""
        return self.rule[..., self.outcome_names.index(name)]

    def is_lottery(self, tol: float = 1e-7) -> bool:
        return bool(np.all(self.rule >= -tol) and np.allclose(self.rule.sum(-1), 1.0, atol=tol))


@dataclass
class InformationStructure:
    """I = (S, σ). ``joint`` has shape (|S_1|, ..., |S_N|, |Θ|)."""

    signals: tuple[np.ndarray, ...]
    state_labels: tuple[str, ...]
    joint: np.ndarray
    name: str = "information"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.signals = tuple(np.asarray(s) for s in self.signals)
        self.state_labels = tuple(self.state_labels)
        self.joint = np.asarray(self.joint, dtype=float)
        expected = tuple(len(s) for s in self.signals) + (len(self.state_labels),)
        if self.joint.shape != expected:
            raise ValueError(f"joint distribution has shape {self.joint.shape}, expected {expected}")

    @property
    def n_agents(self) -> int:
        return len(self.signals)

    def state_marginal(self) -> np.ndarray:
        return self.joint.reshape(-1, self.joint.shape[-1]).sum(0)

    def signal_distribution(self) -> np.ndarray:
        """ρ(x) = Σ_θ σ(x, θ)."""
        return self.joint.sum(-1)

    def interim_expectation(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """E[f(θ) | s] for a function of the state given as one value per state (NaN where ρ(s) = 0)."""
        rho = self.signal_distribution()
        num = np.tensordot(self.joint, np.asarray(values, dtype=float), axes=([-1], [0]))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(rho > 0, num / np.where(rho > 0, rho, 1), np.nan)
