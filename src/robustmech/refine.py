"""000's refinements of maxmin through one call: load -> lower -> refine -> check -> verify.

The Python API that ``robustmech refine`` is a thin layer over::

    import robustmech as rm
    result = rm.refine("models/screening.mech", "proper", params={"thetas": "[1, 2, 3]"}, exact=True)
    result.payoffs, result.certificate.beliefs, result.checks["passed"], result.exact["passed"]

    from robustmech.refine import refine_summary
    refine_summary(result)                    # what `robustmech refine --json` prints

A model is a prior-free ``.mech`` file, one of the built-in environments of 000
(``screening``: params ``theta=1,2,3`` or ``N``, ``qmax``, ``qstep``; ``auction``: ``I``,
``N``; ``public_good``: ``I``, ``theta_l``, ``theta_h``, ``gamma``), a
:class:`~robustmech.model.prior_free.PriorFreeEnvironment`, or its lowered
:class:`~robustmech.lower.prior_free.PriorFreeArrays`.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy

from .errors import ModelError, ParameterError, UnsupportedError
from .lower.prior_free import PriorFreeArrays, is_exchangeable, lower_prior_free
from .model import prior_free as pf
from .programs import refinements
from .programs.refinements import CRITERIA, Refinement
from .solve import SolverOptions

BUILTIN = ("screening", "auction", "public_good")
AUTO_ANONYMOUS = 4096  # profiles above which exchangeable models use the anonymous program
EXPAND_LIMIT = 4096  # per-profile listings in the summary up to this many profiles
EXACT_LIMIT = 400  # outcome coordinates up to which exact re-verification runs
NEAR_TOLERANCE = 1e-6  # a positive payoff below this (relative) is reported as near solver tolerance


def refine(
    env_or_path: str | os.PathLike | pf.PriorFreeEnvironment | PriorFreeArrays,
    criterion: str = "proper",
    *,
    params: Mapping[str, Any] | None = None,
    beliefs: Sequence[Sequence[float]] | None = None,
    method: str = "sequential",
    saturation: str = "test",
    adjacent: bool = False,
    anonymous: bool | None = None,
    exact: bool = False,
    solver: str | Callable = "auto",
    time_limit: float | None = None,
    verbose: bool = False,
    progress: Callable[[str], Any] | None = None,
) -> Refinement:
    """A mechanism chosen by one criterion of 000, with the LPS that certifies it and the
    checks it passed.

    ``criterion``: ``bayes`` (Proposition 1), ``lps`` (eq. (1)), ``robust`` (maxmin,
    Proposition 2), ``perfect`` (maxmin and admissible, Proposition 3) or ``proper``
    (leximin, Proposition 4). ``beliefs``: weight lists over type profiles in listing order
    (or over the cells of the anonymous program), in LPS order: the prior for ``bayes``,
    the LPS for ``lps``, the full-support objective for ``perfect``; weights are
    normalized. ``method``/``saturation``: how leximin is computed. ``adjacent``: impose only
    downward-adjacent IC (000's relaxed space M'). ``anonymous``: solve over anonymous
    mechanisms (exchangeable agents only; by default beyond ``AUTO_ANONYMOUS`` profiles).
    ``exact``: re-verify the mechanism and its certificate in rational arithmetic
    (``result.exact``). ``solver``: a solver name of :mod:`robustmech.solve`, or a callable
    ``LinearProgram -> solution``. ``progress`` is called with one line before solving.

    The result's ``checks`` hold the certificate checks (``passed``), ``notes`` what the
    command line prints under them; :func:`refine_summary` gives the printed form.
    """
    if criterion not in CRITERIA:
        raise UnsupportedError(f"unknown criterion '{criterion}'; choose one of {', '.join(CRITERIA)}")
    if method not in refinements.METHODS:
        raise UnsupportedError(f"unknown leximin method '{method}'; choose one of {', '.join(refinements.METHODS)}")
    if saturation not in refinements.SATURATION:
        raise UnsupportedError(f"unknown saturation rule '{saturation}'; "
                               f"choose one of {', '.join(refinements.SATURATION)}")
    arrays, notes = prior_free_arrays(env_or_path, params, adjacent=adjacent, anonymous=anonymous)
    env = arrays.env
    run = solver if callable(solver) else _named_solver(SolverOptions(solver=solver, time_limit=time_limit,
                                                                      verbose=verbose))
    per_cell = beliefs_per_cell(beliefs, arrays) if beliefs else None
    if progress is not None:
        progress(f"refining {env.name} ({arrays.n_profiles} type profiles, {arrays.n_cells} "
                 f"{'type counts' if arrays.anonymous else 'cells'}) by the {criterion} criterion ...")
    result = refinements.refine(arrays, criterion, run, per_cell, method=method, saturation=saturation)
    result.notes[:0] = notes
    positive = result.payoffs[result.payoffs > 1e-12]
    if len(positive) and positive.min() < NEAR_TOLERANCE * max(1.0, float(np.abs(result.payoffs).max())):
        result.notes.append(f"the smallest positive payoff {positive.min():.3g} is near solver tolerance: "
                            "re-verify in rational arithmetic (exact=True, --exact) or compare with the closed form")
    if exact:
        _verify_exactly(result, run)
    return result


def _named_solver(options: SolverOptions) -> Callable:
    """Each LP stage through the chain after the build (``api.solve_built``): solved, its
    point and weak-duality bound certified against the stage's own rows."""
    from . import api

    return lambda lp: api.solve_built(lp, options)[0]


def _verify_exactly(result: Refinement, solver: Callable) -> None:
    """Exact rational re-verification (``result.exact``), when the instance is small enough
    and the certificate has one belief per stage that the exact check handles."""
    a = result.arrays
    exchangeable = is_exchangeable(a.env) and a.env.n_agents > 1
    if a.n_cells * a.dim > EXACT_LIMIT:
        result.notes.append(f"exact re-verification skipped: {a.n_cells * a.dim} outcome coordinates exceed "
                            f"{EXACT_LIMIT}"
                            + ("" if a.anonymous or not exchangeable else "; try the anonymous program (--anonymous)"))
    elif result.criterion == "lps":
        result.notes.append("exact re-verification handles single-belief certificates; the lps criterion is "
                            "checked in floating point only")
    else:
        exact_arrays = lower_prior_free(a.env, anonymous=a.anonymous, exact=True)
        result.exact = refinements.exact_verify(exact_arrays, result, solver)
        result.notes.append("re-verified in exact rational arithmetic: "
                            + ("passed" if result.exact["passed"] else "FAILED"))


def prior_free_arrays(env_or_path, params: Mapping[str, Any] | None = None, *, adjacent: bool = False,
                      anonymous: bool | None = None) -> tuple[PriorFreeArrays, list[str]]:
    """The lowered arrays a refinement runs on, and the notes on how they were chosen
    (the anonymous program for large exchangeable models, A.14.1 of 000)."""
    if isinstance(env_or_path, PriorFreeArrays):
        if params:
            raise ParameterError("parameters apply to a model file or a built-in model, not to lowered arrays")
        env = env_or_path.env
        if anonymous is None:
            anonymous = env_or_path.anonymous
    elif isinstance(env_or_path, pf.PriorFreeEnvironment):
        if params:
            raise ParameterError("parameters apply to a model file or a built-in model, not to a built environment")
        env = env_or_path
    elif isinstance(env_or_path, (str, os.PathLike)):
        env = load_prior_free(os.fspath(env_or_path), dict(params or {}))
    else:
        raise UnsupportedError(f"refine needs a prior-free model (a .mech file with `types`, a built-in name "
                               f"{', '.join(BUILTIN)}, or a PriorFreeEnvironment), got {type(env_or_path).__name__}")
    if adjacent and env.incentive != "adjacent":
        env = dataclasses.replace(env, incentive="adjacent")
    exchangeable = is_exchangeable(env) and env.n_agents > 1
    if anonymous is None:
        anonymous = exchangeable and env.n_profiles > AUTO_ANONYMOUS
    notes = []
    if anonymous:
        notes.append("solved over anonymous mechanisms (exchangeable agents: the leximin optimum is symmetric, "
                     "A.14.1 of 000); payoffs are per type count")
    if isinstance(env_or_path, PriorFreeArrays) and env is env_or_path.env and anonymous == env_or_path.anonymous:
        return env_or_path, notes
    return lower_prior_free(env, anonymous=anonymous), notes


# -- loading -----------------------------------------------------------------------------


def load_prior_free(model: str, params: Mapping[str, Any] | None = None) -> pf.PriorFreeEnvironment:
    """A built-in environment of 000 by name, or a prior-free .mech file."""
    params = dict(params or {})
    if model in BUILTIN:
        return builtin(model, params)
    if not os.path.exists(model):
        raise ModelError(f"no model file '{model}' (or use a built-in model: {', '.join(BUILTIN)})")
    try:
        from .model.elaborate_prior_free import load_prior_free as load_file
    except ImportError:
        raise ModelError(f"{model}: prior-free model files need the language extension, which is not available "
                         f"in this build; use a built-in model: {', '.join(BUILTIN)}") from None
    return load_file(model, params)


def _number(params: dict, name: str, default):
    if name not in params:
        return default
    text = params.pop(name)
    try:
        return sympy.Rational(str(text).strip())
    except (TypeError, ValueError):
        raise ParameterError(f"--param {name} must be a number, got {text!r}") from None


def _integer(params: dict, name: str, default: int, least: int) -> int:
    if name not in params:
        return default
    text = params.pop(name)
    try:
        integral = isinstance(text, numbers.Integral) and not isinstance(text, bool)
        value = int(text) if integral else int(str(text).strip())
    except ValueError:
        raise ParameterError(f"--param {name} must be an integer, got {text!r}") from None
    if value < least:
        raise ParameterError(f"--param {name} must be at least {least}, got {value}")
    return value


def builtin(name: str, params: Mapping[str, Any] | None = None) -> pf.PriorFreeEnvironment:
    """The built-in environments of 000: screening (Section 3), auction (Section 4),
    public good (Section 5), with parameter overrides (strings or numbers)."""
    params = dict(params or {})
    env_args: dict[str, Any]
    make: Callable[..., pf.PriorFreeEnvironment]
    if name == "screening":
        if "theta" in params:
            given = params.pop("theta")
            items = given.split(",") if isinstance(given, str) else list(np.atleast_1d(given))
            try:
                thetas = [sympy.Rational(str(t).strip()) for t in items]
            except (TypeError, ValueError):
                raise ParameterError("--param theta expects a comma-separated list of numbers, "
                                     "e.g. theta=1,2,3") from None
        else:
            thetas = list(range(1, _integer(params, "N", 2, 1) + 1))
        step = _number(params, "qstep", sympy.Rational(1, 2))
        qmax = _number(params, "qmax", max(thetas) + 1)
        if step <= 0 or qmax < 0:
            raise ParameterError("--param qstep must be positive and qmax non-negative")
        env_args = {"thetas": thetas, "qualities": [k * step for k in range(int(qmax / step) + 1)]}
        make = pf.screening
    elif name == "auction":
        env_args = {"n_agents": _integer(params, "I", 2, 2), "types": list(range(1, _integer(params, "N", 3, 2) + 1))}
        make = pf.auction
    elif name == "public_good":
        env_args = {"n_agents": _integer(params, "I", 3, 2), "theta_l": _number(params, "theta_l", 0),
                    "theta_h": _number(params, "theta_h", 1), "gamma": _number(params, "gamma", sympy.Rational(1, 2))}
        make = pf.public_good
    else:
        raise ModelError(f"no built-in model '{name}' (choose one of {', '.join(BUILTIN)})")
    if params:
        raise ParameterError(f"unknown parameter(s) for the built-in model {name}: {', '.join(sorted(params))}")
    return make(**env_args)


def beliefs_per_cell(beliefs, arrays: PriorFreeArrays) -> list[np.ndarray]:
    """Weight lists over type profiles (listing order) as mass per cell; for the
    anonymous program a list may also give one weight per cell, and a per-profile list
    must be exchangeable (equal weights on the profiles of a cell)."""
    if len(beliefs) and np.ndim(beliefs[0]) == 0:
        beliefs = [beliefs]  # one belief given as a flat list
    out = []
    n_profiles = arrays.n_profiles
    for k, item in enumerate(beliefs):
        try:
            w = np.asarray(item, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise ParameterError(f"belief {k + 1} must be a list of numbers, got {item!r}") from None
        if not arrays.anonymous:
            if len(w) != n_profiles:
                raise ParameterError(f"belief {k + 1} lists {len(w)} weights for {n_profiles} type profiles")
            out.append(w)
            continue
        if len(w) == arrays.n_cells:  # already mass per cell
            out.append(w)
            continue
        if len(w) != n_profiles:
            raise ParameterError(f"belief {k + 1} lists {len(w)} weights; expected {n_profiles} (one per type profile) "
                                 f"or {arrays.n_cells} (one per type count, anonymous program)")
        index = {tuple(c): j for j, c in enumerate(arrays.cells)}
        cell_of = np.array([index[tuple(sorted(p))] for p in arrays.env.profiles()])
        top = np.full(arrays.n_cells, -np.inf)
        low = np.full(arrays.n_cells, np.inf)
        np.maximum.at(top, cell_of, w)
        np.minimum.at(low, cell_of, w)
        if np.any(top - low > 1e-12 * np.maximum(1.0, top)):
            raise ParameterError(f"belief {k + 1} is not exchangeable; solve the full program (--full)")
        out.append(np.bincount(cell_of, weights=w, minlength=arrays.n_cells))
    return out


# -- the printed form ------------------------------------------------------------------------


def refine_summary(result: Refinement) -> dict:
    """What ``robustmech refine --json`` prints: criterion, value, payoffs per profile
    (listing order), the mechanism, the certificate with its checks, the stages, the exact
    re-verification and the notes."""
    a = result.arrays
    expand = a.n_profiles <= EXPAND_LIMIT
    notes = list(result.notes)
    out: dict[str, Any] = {
        "criterion": result.criterion,
        "model": a.env.name,
        "params": {k: str(v) for k, v in a.env.params.items()},
        "incentive": a.env.incentive,
        "program": "anonymous" if a.anonymous else "full",
        "value": result.value,
    }
    if expand:
        out["profiles"] = a.env.profile_labels()
        out["payoffs"] = [float(x) for x in a.expand(result.payoffs)]
    else:
        out["cells"] = a.labels()
        out["multiplicity"] = [int(m) for m in a.multiplicity]
        out["payoffs"] = [float(x) for x in result.payoffs]
        notes.append(f"{a.n_profiles} type profiles: payoffs and beliefs are listed per type count")
    out["mechanism"] = {"cells": a.labels(),
                        "outcomes": {s: [float(x) + 0.0 for x in result.z[:, k]] for k, s in enumerate(a.slots)}}
    if result.certificate is not None:
        cert = result.certificate
        out["certificate"] = {
            "kind": cert.kind, "source": cert.source,
            "lps": cert.per_profile(a) if expand else [[float(x) for x in m] for m in cert.beliefs],
            "checks": dict(result.checks),
        }
    out["stages"] = result.stages
    if result.exact is not None:
        ex = result.exact
        reported = ("feasible", "adversarial", "full_support", "strongly_adversarial", "beliefs_optimal", "reason")
        out["exact"] = {"passed": ex["passed"], **{k: ex[k] for k in reported if k in ex}}
        if "payoffs" in ex:
            payoffs = a.expand(np.array(ex["payoffs"], dtype=object)) if expand else ex["payoffs"]
            out["exact"]["payoffs"] = [str(p) for p in payoffs]
            out["exact"]["outcomes"] = {s: [str(x) for x in ex["z"][:, k]] for k, s in enumerate(a.slots)}
        if "beliefs" in ex:
            out["exact"]["lps"] = [[str(x) for x in m] for m in ex["beliefs"]]
    out["notes"] = notes
    return out
