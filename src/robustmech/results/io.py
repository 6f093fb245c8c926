"""The saved-result format: a JSON record plus an ``.npz`` of arrays beside it.

This module is the one place that writes and reads it:

* :func:`save_result` writes a :class:`~robustmech.results.bounds.ProgramResult`
  (``robustmech solve ... --out r.json``): ``r.json`` holds the summary, the model
  source, versions, the state labels and the state points (one row of numbers per
  state); ``r.npz`` holds ``mechanism_rule`` and ``actions_i`` (a mechanism
  M = (A, m) of 004 Section 2), ``information_joint`` and ``signals_i`` (an information
  structure I = (S, σ)), and ``multiplier_NAME`` (λ(θ) of LB-G-k (9), γ(x) of
  UB-P-k (10), the auction programs' arrays).
* :func:`load_result` reads it back; :func:`read_record` reads the JSON alone.
* :func:`mechanism_arrays` and :func:`information_arrays` read the canonical arrays of
  a mechanism (``rule``, ``actions_i``) or an information structure (``joint``,
  ``signals_i``) from a saved result or a plain ``.npz``; :class:`ResultFiles` offers
  them as the elaborator's :class:`~robustmech.model.data.DataLoader`.

Every file that cannot be read, or does not hold what it should, raises
:class:`~robustmech.errors.DataError` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import os
import platform
import zipfile
import zlib

import numpy as np

from ..errors import DataError
from ..model.objects import InformationStructure, Mechanism
from .bounds import ProgramResult
from .states import points_from_labels  # noqa: F401  (part of this module's surface)

FORMAT = "robustmech-result/1"

# the record's fields and their JSON types (a missing optional field is fine; a field
# of the wrong type is not)
_NUMBER = "a number"
_REQUIRED = {"program": str, "value": _NUMBER, "status": str, "solver": str, "model": str,
             "build_seconds": _NUMBER, "solve_seconds": _NUMBER}
_OPTIONAL = {"params": dict, "variables": int, "constraints": int, "dual_value": _NUMBER, "duality_gap": _NUMBER,
             "state_labels": list, "state_points": list, "mechanism": dict, "information": dict, "arrays": str,
             "source": str, "versions": dict, "machine": str, "lambda": dict}
_NULLABLE = {"dual_value", "duality_gap"}  # NaN and infinities are written as null by `show --json`
_KNOWN = {"format", "k", *_REQUIRED, *_OPTIONAL}


# ---------------------------------------------------------------------------- writing


def arrays_path(path: str) -> str:
    """Where the arrays of a result saved at ``path`` go: ``x.json`` -> ``x.npz``."""
    root, ext = os.path.splitext(path)
    return (root if ext == ".json" else path) + ".npz"


def save_result(result: ProgramResult, path: str, force: bool = False, source: str | None = None) -> list[str]:
    """Write ``path`` (JSON) and, when there are arrays, ``path`` with ``.npz``; return
    the files written. Refuses to overwrite an existing file unless ``force``."""
    npz_path = arrays_path(path)
    has_objects = result.mechanism is not None or result.information is not None
    targets = [path] + ([npz_path] if has_objects else [])
    for target in targets:
        if os.path.exists(target) and not force:
            raise FileExistsError(f"{target} exists; refusing to overwrite it (use --force)")
    record = {"format": FORMAT, **result.summary(), "versions": versions(), "machine": platform.platform()}
    if source is not None:
        record["source"] = source
    arrays: dict[str, np.ndarray] = {}
    if result.mechanism is not None:
        mech = result.mechanism
        record["mechanism"] = {"outcomes": list(mech.outcome_names), "finite": mech.finite}
        arrays["mechanism_rule"] = mech.rule
        arrays.update({f"actions_{i}": a for i, a in enumerate(mech.actions)})
    if result.information is not None:
        info = result.information
        record["information"] = {"states": list(info.state_labels)}
        arrays["information_joint"] = info.joint
        arrays.update({f"signals_{i}": s for i, s in enumerate(info.signals)})
    arrays.update({f"multiplier_{name}": np.asarray(value) for name, value in result.multipliers.items()})
    record["state_labels"] = list(result.state_labels)
    if result.state_points is not None:
        record["state_points"] = np.asarray(result.state_points, dtype=float).tolist()
    if arrays:
        record["arrays"] = os.path.basename(npz_path)
        np.savez_compressed(npz_path, **arrays)  # type: ignore[arg-type]  # numpy's stub: any key might be allow_pickle
    with open(path, "w") as fh:
        json.dump(record, fh, indent=2)
    return targets


def versions() -> dict:
    """The versions of robustmech and the packages a result depends on."""
    import importlib.metadata as md

    out = {}
    for pkg in ("robustmech", "pyomo", "highspy", "numpy", "scipy", "sympy", "lark"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


# ---------------------------------------------------------------------------- reading the record


def read_record(path: str) -> dict:
    """The JSON record of a saved result, with every field checked for its type."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: {'a folder, not a file' if os.path.isdir(path) else 'no such file'}")
    try:
        with open(path, encoding="utf-8") as fh:
            record = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise DataError(f"{path}: not a robustmech result (not a JSON file)") from None
    if not isinstance(record, dict):
        raise DataError(f"{path}: not a robustmech result (the JSON is {_kind(record)}, not an object)")
    if record.get("format") != FORMAT:
        raise DataError(f"{path}: not a robustmech result (format {record.get('format')!r})")
    for name, expected in _REQUIRED.items():
        if name not in record:
            raise DataError(f"{path}: the field '{name}' is missing")
        _check_field(path, record, name, expected)
    if "k" not in record:
        raise DataError(f"{path}: the field 'k' is missing")
    if record["k"] is not None and not _is_int(record["k"]):
        raise DataError(f"{path}: the field 'k' must be a whole number or null, got {_kind(record['k'])}")
    for name, expected in _OPTIONAL.items():
        if name in record and not (name in _NULLABLE and record[name] is None):
            _check_field(path, record, name, expected)
    if not all(isinstance(s, str) for s in record.get("state_labels", ())):
        raise DataError(f"{path}: the field 'state_labels' must be a list of strings")
    if "arrays" in record and os.path.basename(record["arrays"]) != record["arrays"]:
        raise DataError(f"{path}: the field 'arrays' must name a file beside it, got {record['arrays']!r}")
    _check_object_fields(path, record)
    return record


def _check_object_fields(path: str, record: dict) -> None:
    mech, info = record.get("mechanism"), record.get("information")
    if mech is not None:
        if not _is_list_of(mech.get("outcomes"), str):
            raise DataError(f"{path}: the field 'mechanism.outcomes' must be a list of strings")
        if not isinstance(mech.get("finite"), bool):
            raise DataError(f"{path}: the field 'mechanism.finite' must be true or false")
    if info is not None and not _is_list_of(info.get("states"), str):
        raise DataError(f"{path}: the field 'information.states' must be a list of strings")
    if (mech is not None or info is not None) and "arrays" not in record:
        raise DataError(f"{path}: holds a {'mechanism' if mech is not None else 'information structure'} "
                        "but names no arrays file (the field 'arrays' is missing)")


def _check_field(path: str, record: dict, name: str, expected) -> None:
    value = record[name]
    if expected is _NUMBER:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        want = "a number"
    elif expected is int:
        ok, want = _is_int(value), "a whole number"
    else:
        ok = isinstance(value, expected)
        want = {str: "a string", dict: "an object", list: "a list"}[expected]
    if not ok:
        raise DataError(f"{path}: the field '{name}' must be {want}, got {_kind(value)}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list_of(value, kind) -> bool:
    return isinstance(value, list) and all(isinstance(v, kind) for v in value)


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    names: dict[type, str] = {str: "a string", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


# ---------------------------------------------------------------------------- reading the arrays


def read_arrays(npz_path: str) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive, by name (``rule.npy`` -> ``rule``). Each
    member must be a ``.npy`` array of numbers or strings (no pickled objects)."""
    if not os.path.isfile(npz_path):
        raise DataError(f"{npz_path}: {'a folder, not a file' if os.path.isdir(npz_path) else 'no such file'}")
    if os.path.getsize(npz_path) == 0:
        raise DataError(f"{npz_path}: the file is empty (not a .npz archive)")
    try:
        archive = zipfile.ZipFile(npz_path)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise DataError(f"{npz_path}: not a .npz archive (truncated, or not a zip file)") from None
    arrays = {}
    with archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                raise DataError(f"{npz_path}: the member '{member}' is not a .npy array")
            try:
                with archive.open(member) as fh:
                    arrays[member[:-len(".npy")]] = np.lib.format.read_array(fh, allow_pickle=False)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error):
                raise DataError(f"{npz_path}: the member '{member}' cannot be read "
                                "(truncated, corrupt, or a pickled object array)") from None
    return arrays


def _numbers(where: str, name: str, array: np.ndarray, finite: bool = True, nonempty: bool = True) -> np.ndarray:
    """``array`` if it is real numbers (finite unless told, with no zero-length axis
    unless told), else DataError naming the file and the array."""
    if array.dtype.kind == "c":
        raise DataError(f"{where}: the array '{name}' is complex")
    if array.dtype.kind not in "biuf":
        raise DataError(f"{where}: the array '{name}' holds {array.dtype} values, not numbers")
    if nonempty and 0 in array.shape:
        raise DataError(f"{where}: the array '{name}' has a zero-length axis (shape {array.shape})")
    if finite and not np.all(np.isfinite(array)):
        raise DataError(f"{where}: the array '{name}' holds NaN or infinite values")
    return array


def _labels(where: str, name: str, array: np.ndarray, length: int) -> np.ndarray:
    """Action or signal labels: one number or string per element of an axis of length ``length``."""
    if array.dtype.kind not in "U":
        _numbers(where, name, array)
    if array.shape != (length,):
        raise DataError(f"{where}: the array '{name}' has shape {array.shape}; expected ({length},), "
                        "one label per element of its axis")
    return array


def _main_array(where: str, arrays: dict, names: tuple[str, ...], what: str) -> np.ndarray:
    """The rule or the joint distribution: real, finite, one axis per agent plus one."""
    array = next((arrays[n] for n in names if n in arrays), None)
    if array is None:
        raise DataError(f"{where}: no array '{names[0]}' ({what})")
    name = next(n for n in names if n in arrays)
    _numbers(where, name, array)
    if array.ndim < 2:
        raise DataError(f"{where}: the array '{name}' has shape {array.shape}; expected one axis per agent "
                        "and a last one")
    return array


def _indexed(where: str, arrays: dict, prefix: str, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    return {f"{prefix}_{i}": _labels(where, f"{prefix}_{i}", arrays[f"{prefix}_{i}"], length)
            for i, length in enumerate(shape) if f"{prefix}_{i}" in arrays}


RULE_WHAT = "the outcome at each action profile"
JOINT_WHAT = "the distribution of signal profiles and states"


def _mechanism_from_npz(where: str, arrays: dict, names=("rule", "mechanism_rule")) -> dict[str, np.ndarray]:
    rule = _main_array(where, arrays, names, RULE_WHAT)
    out = {"rule": rule, **_indexed(where, arrays, "actions", rule.shape[:-1])}
    if "outcomes" in arrays:
        out["outcomes"] = _labels(where, "outcomes", arrays["outcomes"], rule.shape[-1]).astype(str)
    return out


def _information_from_npz(where: str, arrays: dict, names=("joint", "information_joint")) -> dict[str, np.ndarray]:
    joint = _main_array(where, arrays, names, JOINT_WHAT)
    return {"joint": joint, **_indexed(where, arrays, "signals", joint.shape[:-1])}


# ---------------------------------------------------------------------------- results


def load_result(path: str) -> ProgramResult:
    """Read a result written by :func:`save_result` (``robustmech solve ... --out``)."""
    record = read_record(path)
    arrays: dict[str, np.ndarray] = {}
    npz = path
    if "arrays" in record:
        npz = os.path.join(os.path.dirname(os.path.abspath(path)), record["arrays"])
        if not os.path.isfile(npz):
            raise DataError(f"{path}: its arrays file {record['arrays']} is missing")
        arrays = read_arrays(npz)
    program = record["program"]
    mech = info = None
    if record.get("mechanism") is not None:
        a = _mechanism_from_npz(npz, arrays, ("mechanism_rule",))
        actions = [a.get(f"actions_{i}", np.arange(n)) for i, n in enumerate(a["rule"].shape[:-1])]
        mech = _build(npz, Mechanism, tuple(actions), record["mechanism"]["outcomes"], a["rule"],
                      finite=record["mechanism"]["finite"], name=program)
    elif "mechanism_rule" in arrays:
        raise DataError(f"{path}: its arrays hold a mechanism rule but the field 'mechanism' is missing")
    if record.get("information") is not None:
        a = _information_from_npz(npz, arrays, ("information_joint",))
        signals = [a.get(f"signals_{i}", np.arange(n)) for i, n in enumerate(a["joint"].shape[:-1])]
        info = _build(npz, InformationStructure, tuple(signals), record["information"]["states"], a["joint"],
                      name=program)
    elif "information_joint" in arrays:
        raise DataError(f"{path}: its arrays hold a joint distribution but the field 'information' is missing")
    multipliers = {name[len("multiplier_"):]: _numbers(npz, name, value, finite=False, nonempty=False)
                   for name, value in arrays.items() if name.startswith("multiplier_")}
    labels = tuple(record.get("state_labels", ()))
    return ProgramResult(
        program=program, k=record["k"], value=record["value"], status=record["status"],
        dual_value=_float(record.get("dual_value")), build_seconds=record["build_seconds"],
        solve_seconds=record["solve_seconds"], solver=record["solver"], model=record["model"],
        params=record.get("params", {}), n_variables=record.get("variables", 0),
        n_constraints=record.get("constraints", 0), mechanism=mech, information=info, multipliers=multipliers,
        state_labels=labels, state_points=_state_points(path, record, labels),
        extra={k: v for k, v in record.items() if k not in _KNOWN},
        provenance={k: record[k] for k in ("versions", "machine", "source") if k in record},
    )


def _build(where: str, cls, *args, **kwargs):
    try:
        return cls(*args, **kwargs)
    except ValueError as exc:
        raise DataError(f"{where}: {exc}") from None


def _float(value) -> float:
    return float("nan") if value is None else float(value)


def _state_points(path: str, record: dict, labels: tuple[str, ...]) -> np.ndarray | None:
    """One row of numbers per state: saved beside the labels, or (in files written
    before the points were saved) read from labels such as ``(3, 0)``."""
    if "state_points" not in record:
        return None  # the result reads them from the labels
    rows = record["state_points"]
    if not (_is_list_of(rows, list) and all(_is_list_of(r, (int, float)) for r in rows)):
        raise DataError(f"{path}: the field 'state_points' must be a list of rows of numbers")
    points = np.array(rows, dtype=float)
    if len(rows) != len(labels) or len({len(r) for r in rows}) > 1:
        raise DataError(f"{path}: the field 'state_points' must have one row per state, all of one length "
                        f"({len(labels)} states)")
    return points.reshape(len(labels), -1)


# ---------------------------------------------------------------------------- data files


def is_result_file(path: str) -> bool:
    """A saved result's JSON record (as opposed to a plain ``.npz``)."""
    return str(path).endswith(".json")


_PART_NAMES = {"mechanism": "mechanism", "information": "information structure"}


def saved_part(path: str, part: str):
    """The saved result at ``path`` and its ``part`` (``"mechanism"`` or
    ``"information"``); a result without that part is a DataError naming the file."""
    result = load_result(path)
    value = getattr(result, part)
    if value is None:
        raise DataError(f"{path}: holds no {_PART_NAMES[part]} (it is a {result.program} result)")
    return result, value


def mechanism_arrays(path: str) -> dict[str, np.ndarray]:
    """The canonical arrays of a mechanism saved at ``path``: ``rule`` (|A_1| × ... ×
    |A_N| × |Ω|), each agent's action labels ``actions_i`` where the file has them, and
    the outcome names ``outcomes`` where the file has them. ``path`` is a saved result
    (``.json``) or a plain ``.npz`` (``rule`` or ``mechanism_rule``)."""
    if is_result_file(path):
        _, mech = saved_part(path, "mechanism")
        return {"rule": mech.rule, **{f"actions_{i}": a for i, a in enumerate(mech.actions)},
                "outcomes": np.array(mech.outcome_names, dtype=str)}
    return _mechanism_from_npz(path, read_arrays(path))


def information_arrays(path: str) -> dict[str, np.ndarray]:
    """The canonical arrays of an information structure saved at ``path``: ``joint``
    (|S_1| × ... × |S_N| × |Θ|), each agent's signal labels ``signals_i`` where the file
    has them, and the state labels ``states`` of a saved result. ``path`` is a saved
    result (``.json``) or a plain ``.npz`` (``joint`` or ``information_joint``)."""
    if is_result_file(path):
        _, info = saved_part(path, "information")
        return {"joint": info.joint, **{f"signals_{i}": s for i, s in enumerate(info.signals)},
                "states": np.array(info.state_labels, dtype=str)}
    return _information_from_npz(path, read_arrays(path))


class ResultFiles:
    """The :class:`~robustmech.model.data.DataLoader` for robustmech's files: saved
    results (JSON + ``.npz``) and plain ``.npz`` archives."""

    def mechanism_arrays(self, path: str) -> dict[str, np.ndarray]:
        return mechanism_arrays(path)

    def information_arrays(self, path: str) -> dict[str, np.ndarray]:
        return information_arrays(path)

