"""Naming the objects to evaluate on the command line (``robustmech evaluate
--mechanism SPEC`` / ``--information SPEC``): a model's named object, a saved file, or
a standard mechanism or information structure.

A mechanism is M = (A, m) and an information structure I = (S, σ) (004 Section 2);
files are read by :mod:`robustmech.results.io`.
"""

from __future__ import annotations

import os
import re

import numpy as np

from ..errors import DataError, ModelError
from ..model.environment import Environment
from ..model.objects import InformationStructure, Mechanism
from ..results import io

INFORMATION_BUILTINS = ("private_values", "no_information", "complete_information")
MAX_BIDS = 10_000  # a bid grid per agent; the BCE has |A|·|Θ| columns


def resolve_mechanism(env: Environment, spec: str) -> Mechanism:
    """The mechanism ``spec`` names: a mechanism declared in the model, a saved result
    (``robustmech solve ... --out r.json``) or an ``.npz`` file, or a standard mechanism
    with options, e.g. ``first_price(bids=41, reserve=0.1)`` or ``posted_price(price=0.25)``."""
    from ..model import generators

    named = dict(env.mechanisms)
    if spec in named:
        obj = named[spec]
        return obj if isinstance(obj, Mechanism) else mechanism_file(env, str(obj))
    if looks_like_file(spec):
        return mechanism_file(env, spec)
    parsed = call_spec(spec)
    if parsed is not None and parsed[0].replace("-", "_") in generators.GENERATORS:
        name, options = parsed
        return generators.standard_mechanism(env, name, **options)
    known = list(named) + [f"{g}(...)" for g in generators.GENERATORS]
    raise ModelError(f"no mechanism '{spec}': name one declared in the model, a result file (.json/.npz), "
                     f"or one of {', '.join(known)}")


def resolve_information(env: Environment, spec: str) -> InformationStructure:
    """The information structure ``spec`` names: one declared in the model, a saved
    result (``robustmech solve --program potential ... --out r.json``) or an ``.npz``,
    or ``private_values`` (agent i observes state coordinate i), ``no_information``,
    ``complete_information`` (every agent observes the state)."""
    from ..model import generators

    named = dict(env.information_structures)
    if spec in named:
        obj = named[spec]
        return obj if isinstance(obj, InformationStructure) else information_file(env, str(obj))
    if looks_like_file(spec):
        return information_file(env, spec)
    if spec == "private_values":
        return generators.state_revealing_information(env, name=spec)
    if spec in ("no_information", "complete_information"):
        n, s = env.n_agents, env.n_states
        prior = env.states.prior_array()
        if spec == "no_information":
            return generators.information_from_joint([[0]] * n, env.states.labels, prior.reshape((1,) * n + (s,)),
                                                     name=spec)
        joint = np.zeros((s,) * n + (s,))
        joint[(np.arange(s),) * (n + 1)] = prior
        return generators.information_from_joint([np.arange(s)] * n, env.states.labels, joint, name=spec)
    raise ModelError(f"no information structure '{spec}': name one declared in the model, a result file "
                     f"(.json/.npz), or one of {', '.join(list(named) + list(INFORMATION_BUILTINS))}")


def looks_like_file(spec: str) -> bool:
    return spec.endswith((".json", ".npz")) or os.path.sep in spec or os.path.exists(spec)


def call_spec(spec: str):
    """``name`` or ``name(key=value, ...)`` -> (name, options), values as numbers."""
    m = re.fullmatch(r"\s*([A-Za-z_][\w-]*)\s*(?:\((.*)\))?\s*", spec)
    if not m:
        return None
    options = {}
    body = (m.group(2) or "").strip()
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ModelError(f"mechanism options are written key=value, got '{part}' in '{spec}'")
        try:
            number = float(value)
        except ValueError:
            raise ModelError(f"option {key.strip()} of '{spec}' must be a number, got '{value.strip()}'") from None
        if key.strip() == "bids":
            if not number.is_integer() or not 2 <= number <= MAX_BIDS:
                raise ModelError(f"bids in '{spec}' must be a whole number of grid points from 2 to {MAX_BIDS}, "
                                 f"got {value.strip()}")
            number = int(number)
        options[key.strip()] = number
    return m.group(1), options


def _existing(path: str) -> str:
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    return path


def _saved_name(result, path: str) -> str:
    return f"{result.program} k={result.k} ({os.path.basename(path)})"


def _file_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def mechanism_file(env: Environment, path: str) -> Mechanism:
    """The mechanism of a saved result (as it was saved) or of a plain ``.npz`` (``rule``
    and ``actions_i``, outcome names ``outcomes`` or the model's)."""
    if io.is_result_file(_existing(path)):
        result, mechanism = io.saved_part(path, "mechanism")
        mechanism.name = _saved_name(result, path)
        return mechanism
    arrays = io.mechanism_arrays(path)
    rule = arrays["rule"]
    actions = [arrays.get(f"actions_{i}", np.arange(n)) for i, n in enumerate(rule.shape[:-1])]
    outcomes = [str(o) for o in arrays["outcomes"]] if "outcomes" in arrays else list(env.outcomes.names)
    try:
        return Mechanism(tuple(actions), tuple(outcomes), rule, finite=env.outcomes.is_finite, name=_file_name(path))
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None


def information_file(env: Environment, path: str) -> InformationStructure:
    """The information structure of a saved result (as it was saved) or of a plain
    ``.npz`` (``joint`` and ``signals_i``, on the model's states)."""
    if io.is_result_file(_existing(path)):
        result, information = io.saved_part(path, "information")
        information.name = _saved_name(result, path)
        return information
    arrays = io.information_arrays(path)
    joint = arrays["joint"]
    signals = [arrays.get(f"signals_{i}", np.arange(n)) for i, n in enumerate(joint.shape[:-1])]
    try:
        return InformationStructure(tuple(signals), env.states.labels, joint, name=_file_name(path))
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None
