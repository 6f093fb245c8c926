"""Results of the bounding programs, with their certificates, and saving them.

A :class:`ProgramResult` is what one solve returns: the program, k, the optimal value,
the solver status, the dual objective (computed from the duals, so the reported gap is
a certificate), timings and sizes, and the economic object (a mechanism on X(k) with
λ(θ), or an information structure on X(k) with γ(x)). :class:`Bounds` pairs LB(k) and
UB(k). Both save to a JSON file plus an ``.npz`` of arrays beside it, and load back.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model.objects import InformationStructure, Mechanism

FORMAT = "robustmech-result/1"


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
    extra: dict = field(default_factory=dict)
    # where a loaded result came from: "versions", "machine", "source" (the model file)
    provenance: dict = field(default_factory=dict)

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
        return head + f"\n  dual value {s['dual_value']:.6f} (gap {s['duality_gap']:.1e}); build {s['build_seconds']:.2f} s, solve {s['solve_seconds']:.2f} s"

    def _repr_html_(self) -> str:  # pragma: no cover - notebook rendering
        rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in self.summary().items() if not isinstance(v, dict))
        return f"<table>{rows}</table>"

    # -- saving ---------------------------------------------------------------

    def save(self, path: str, force: bool = False, source: str | None = None) -> list[str]:
        """Write ``path`` (JSON) and, when there are arrays, ``path`` with ``.npz``.
        Refuses to overwrite an existing file unless ``force``."""
        npz_path = arrays_path(path)
        targets = [path] + ([npz_path] if self.mechanism is not None or self.information is not None else [])
        for t in targets:
            if os.path.exists(t) and not force:
                raise FileExistsError(f"{t} exists; refusing to overwrite it (use --force)")
        meta = {"format": FORMAT, **self.summary(), "versions": versions(), "machine": platform.platform()}
        if source is not None:
            meta["source"] = source
        arrays: dict[str, np.ndarray] = {}
        if self.mechanism is not None:
            meta["mechanism"] = {"outcomes": list(self.mechanism.outcome_names), "finite": self.mechanism.finite}
            arrays["mechanism_rule"] = self.mechanism.rule
            for i, a in enumerate(self.mechanism.actions):
                arrays[f"actions_{i}"] = a
        if self.information is not None:
            meta["information"] = {"states": list(self.information.state_labels)}
            arrays["information_joint"] = self.information.joint
            for i, s in enumerate(self.information.signals):
                arrays[f"signals_{i}"] = s
        for name, value in self.multipliers.items():
            arrays[f"multiplier_{name}"] = np.asarray(value)
        meta["state_labels"] = list(self.state_labels)
        if arrays:
            meta["arrays"] = os.path.basename(npz_path)
            np.savez_compressed(npz_path, **arrays)
        with open(path, "w") as fh:
            json.dump(meta, fh, indent=2)
        return targets


def load(path: str) -> ProgramResult:
    """Read a result written by :meth:`ProgramResult.save` (or ``--out``)."""
    with open(path) as fh:
        meta = json.load(fh)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a robustmech result (format {meta.get('format')!r})")
    arrays = {}
    if "arrays" in meta:
        with np.load(os.path.join(os.path.dirname(os.path.abspath(path)), meta["arrays"])) as data:
            arrays = {k: data[k] for k in data.files}
    mech = info = None
    if "mechanism_rule" in arrays:
        n = arrays["mechanism_rule"].ndim - 1
        mech = Mechanism(tuple(arrays[f"actions_{i}"] for i in range(n)), meta["mechanism"]["outcomes"],
                         arrays["mechanism_rule"], finite=meta["mechanism"]["finite"], name=meta["program"])
    if "information_joint" in arrays:
        n = arrays["information_joint"].ndim - 1
        info = InformationStructure(tuple(arrays[f"signals_{i}"] for i in range(n)), meta["information"]["states"],
                                    arrays["information_joint"], name=meta["program"])
    multipliers = {k[len("multiplier_"):]: v for k, v in arrays.items() if k.startswith("multiplier_")}
    known = {"format", "model", "params", "program", "k", "value", "dual_value", "duality_gap", "status", "solver",
             "build_seconds", "solve_seconds", "variables", "constraints", "versions", "machine", "source", "mechanism",
             "information", "arrays", "state_labels", "lambda"}
    return ProgramResult(
        program=meta["program"], k=meta["k"], value=meta["value"], status=meta["status"], dual_value=meta["dual_value"],
        build_seconds=meta["build_seconds"], solve_seconds=meta["solve_seconds"], solver=meta["solver"], model=meta["model"],
        params=meta.get("params", {}), n_variables=meta.get("variables", 0), n_constraints=meta.get("constraints", 0),
        mechanism=mech, information=info, multipliers=multipliers, state_labels=tuple(meta.get("state_labels", ())),
        extra={k: v for k, v in meta.items() if k not in known},
        provenance={k: meta[k] for k in ("versions", "machine", "source") if k in meta},
    )


@dataclass
class Bounds:
    """LB(k) <= max guarantee <= min potential <= UB(k) (Theorem 1 of 004)."""

    lower: ProgramResult
    upper: ProgramResult

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
        }

    def _repr_html_(self) -> str:  # pragma: no cover - notebook rendering
        rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in self.summary().items() if not isinstance(v, dict))
        return f"<table>{rows}</table>"

    @property
    def consistent(self) -> bool:
        """LB(k) <= UB(k), as Theorem 1 of 004 promises (to 1e-7)."""
        return self.lower.value <= self.upper.value + 1e-7 * max(1.0, abs(self.upper.value))

    def __str__(self) -> str:
        s = self.summary()
        warn = "" if self.consistent else "  VIOLATES Theorem 1 of 004 (LB > UB)"
        return warn.join(["", ""]) + f"{s['model']} k={s['k']}: LB {s['lower']:.6f} <= value <= UB {s['upper']:.6f}  (gap {s['gap']:.6f})" + warn


def versions() -> dict:
    import importlib.metadata as md

    out = {}
    for pkg in ("robustmech", "pyomo", "highspy", "numpy", "scipy", "sympy", "lark"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def arrays_path(path: str) -> str:
    """Where the arrays of a result saved at ``path`` go: ``x.json`` -> ``x.npz``."""
    root, ext = os.path.splitext(path)
    return (root if ext == ".json" else path) + ".npz"


def _jsonable(v: Any):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)
