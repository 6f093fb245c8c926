"""Results of the bounding programs, with their certificates, and saving them.

A :class:`ProgramResult` is what one solve returns: the program, k, the optimal value,
the solver status, the dual objective (computed from the duals, so the reported gap is
a certificate), timings and sizes, and the economic object (a mechanism on X(k) with
λ(θ), or an information structure on X(k) with γ(x)). :class:`Bounds` pairs LB(k) and
UB(k). A result saves to a JSON file plus an ``.npz`` of arrays beside it and loads
back (:mod:`robustmech.results.io`, which owns that format).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model.objects import InformationStructure, Mechanism
from .states import points_from_labels


@dataclass
class ProgramResult:
    program: str  # "guarantee" | "potential" | "dual" | ...
    k: int | None
    value: float
    status: str
    dual_value: float
    build_seconds: float
    solve_seconds: float
    solver: str
    model: str
    params: dict = field(default_factory=dict)
    n_variables: int = 0
    n_constraints: int = 0
    mechanism: Mechanism | None = None
    information: InformationStructure | None = None
    multipliers: dict = field(default_factory=dict)  # "lambda" (per state) or "gamma" (per profile)
    state_labels: tuple = ()
    # one row of numbers per state (its coordinates); when not given, read from labels such
    # as "(3, 0)" (results saved before the points were), or None if the labels are not numbers
    state_points: np.ndarray | None = None
    extra: dict = field(default_factory=dict)
    # where a loaded result came from: "versions", "machine", "source" (the model file)
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.state_points is None:
            self.state_points = points_from_labels(self.state_labels)
        else:
            self.state_points = np.asarray(self.state_points, dtype=float)

    @property
    def duality_gap(self) -> float:
        return abs(self.value - self.dual_value)

    def summary(self) -> dict:
        """The JSON-ready summary printed by ``robustmech solve --json``."""
        out = {
            "model": self.model,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "program": self.program,
            "k": self.k,
            "value": self.value,
            "dual_value": self.dual_value,
            "duality_gap": self.duality_gap,
            "status": self.status,
            "solver": self.solver,
            "build_seconds": round(self.build_seconds, 6),
            "solve_seconds": round(self.solve_seconds, 6),
            "variables": self.n_variables,
            "constraints": self.n_constraints,
        }
        if "lambda" in self.multipliers:
            out["lambda"] = dict(zip(self.state_labels, map(float, self.multipliers["lambda"])))
        out.update({k: _jsonable(v) for k, v in self.extra.items()})
        return out

    def __str__(self) -> str:
        s = self.summary()
        head = f"{s['program']} (k={s['k']}) on {s['model']}: value {s['value']:.6f}  [{s['status']}]"
        restricted = self.extra.get("restrictions")
        if restricted:  # `restrict` statements, each checked on the mechanism read back
            shown = (f"{name} (violation {gap:.1e})" for name, gap in restricted.items())
            head += "\n  restricted to " + ", ".join(shown)
        if self.extra.get("baseline"):  # the model's baseline signal: used, or ignored (and why that is valid)
            head += f"\n  baseline signal: {self.extra['baseline']}"
        return head + (f"\n  dual value {s['dual_value']:.6f} (gap {s['duality_gap']:.1e}); "
                       f"build {s['build_seconds']:.2f} s, solve {s['solve_seconds']:.2f} s")

    def _repr_html_(self) -> str:  # pragma: no cover - notebook rendering
        rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>"
                       for k, v in self.summary().items() if not isinstance(v, dict))
        return f"<table>{rows}</table>"

    def save(self, path: str, force: bool = False, source: str | None = None) -> list[str]:
        """Write ``path`` (JSON) and, when there are arrays, ``path`` with ``.npz``
        (:func:`robustmech.results.io.save_result`). Refuses to overwrite an existing
        file unless ``force``."""
        from .io import save_result

        return save_result(self, path, force=force, source=source)


@dataclass
class Bounds:
    """LB(k) <= max guarantee <= min potential <= UB(k) (Theorem 1 of 004)."""

    lower: ProgramResult
    upper: ProgramResult
    wall_seconds: float | None = None  # the pair, start to end (less than the sum when solved at once)
    concurrent: bool = False  # solved at once, each in a process of its own (robustmech.parallel)

    @property
    def gap(self) -> float:
        return self.upper.value - self.lower.value

    def contains(self, value: float, tol: float = 1e-7) -> bool:
        return self.lower.value - tol <= value <= self.upper.value + tol

    def summary(self) -> dict:
        return {
            "model": self.lower.model,
            "params": {k: _jsonable(v) for k, v in self.lower.params.items()},
            "k": self.lower.k,
            "lower": self.lower.value,
            "upper": self.upper.value,
            "gap": self.gap,
            "status": "optimal" if self.lower.status == self.upper.status == "optimal" else "failed",
            "consistent": self.consistent,
            "solver": self.lower.solver,
            "lower_build_seconds": round(self.lower.build_seconds, 6),
            "lower_solve_seconds": round(self.lower.solve_seconds, 6),
            "upper_build_seconds": round(self.upper.build_seconds, 6),
            "upper_solve_seconds": round(self.upper.solve_seconds, 6),
            "build_seconds": round(self.lower.build_seconds + self.upper.build_seconds, 6),
            "solve_seconds": round(self.lower.solve_seconds + self.upper.solve_seconds, 6),
            "wall_seconds": None if self.wall_seconds is None else round(self.wall_seconds, 6),
            "concurrent": self.concurrent,
        }

    def _repr_html_(self) -> str:  # pragma: no cover - notebook rendering
        rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>"
                       for k, v in self.summary().items() if not isinstance(v, dict))
        return f"<table>{rows}</table>"

    @property
    def consistent(self) -> bool:
        """LB(k) <= UB(k), as Theorem 1 of 004 promises (to 1e-7)."""
        return self.lower.value <= self.upper.value + 1e-7 * max(1.0, abs(self.upper.value))

    def __str__(self) -> str:
        s = self.summary()
        warn = "" if self.consistent else "  VIOLATES Theorem 1 of 004 (LB > UB)"
        text = (warn.join(["", ""]) + f"{s['model']} k={s['k']}: LB {s['lower']:.6f} <= value <= UB {s['upper']:.6f}"
                f"  (gap {s['gap']:.6f})" + warn)
        if self.lower.extra.get("baseline"):  # a model with a baseline signal: say what each bound does with it
            text += (f"\n  baseline signal: UB {self.upper.extra.get('baseline', 'ignored')}; "
                     "LB ignores it (a valid, looser lower bound)")
        return text


def _jsonable(v: Any):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    if isinstance(v, dict):  # e.g. the symmetry report: a JSON object, not its repr
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)
