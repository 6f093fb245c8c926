"""The directives a model file carries (``solve guarantee k = 6``, ``bounds k = 4..8``,
``evaluate private_values``), checked and run in file order.

``robustmech run MODEL`` is a thin layer over :func:`run_directives`; the other commands
take a model's own ``k`` from :func:`default_k` when the command line gives none.

    import robustmech as rm
    from robustmech.directives import run_directives
    env = rm.load_model("models/public_good.mech")
    for step in run_directives(env):               # bounds k = 6 -> LB(6), UB(6)
        print(step.result)

A directive names a registered program (``solve``), the bounding pair (``bounds``) or a
mechanism or information structure declared in the model (``evaluate``). Its options are
the program's own options (``k``, ``correlation``, ...) and the solver options
(``solver``, ``time_limit``, ``symmetry``); anything else is an error naming the
directive's line and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import Location, ModelError, RobustMechError
from .model.environment import Environment

if TYPE_CHECKING:
    from .certify import GuaranteeResult, PotentialResult
    from .results.bounds import Bounds, ProgramResult

SOLVER_OPTIONS = ("solver", "time_limit", "symmetry")
BOUNDS_OPTIONS = ("k", "family", "correlation", "penalty")


@dataclass(frozen=True)
class Step:
    """One directive, where it was written, and what running it gave."""

    verb: str  # "solve", "bounds" or "evaluate"
    options: dict
    location: Location | None
    result: Any = None

    def summary(self) -> dict:
        """One JSON object for the step (``robustmech run --json`` prints one per line)."""
        where = str(self.location) if self.location else None
        return {"directive": self.verb, "options": _jsonable(self.options), "at": where,
                "result": self.result.summary() if self.result is not None else None}


def directives(env: Environment) -> list[Step]:
    """The model's directives, checked (program names, option names) but not run."""
    steps = []
    for i, directive in enumerate(env.directives):
        location = env.locations.get(("directive", i))
        options = {key: value for key, value in directive.items() if key != "program"}
        program = directive["program"]
        verb = program if program in ("bounds", "evaluate") else "solve"
        try:
            _check(verb, program, options, env)
        except RobustMechError as error:
            raise ModelError(_message(error), location) from None
        steps.append(Step(verb, {"program": program, **options} if verb == "solve" else options, location))
    return steps


def _check(verb: str, program: str, options: dict, env: Environment) -> None:
    from .programs.base import program as get_program

    if verb == "solve":
        accepted = tuple(get_program(program).parameters) + SOLVER_OPTIONS
    elif verb == "bounds":
        accepted = BOUNDS_OPTIONS + SOLVER_OPTIONS
    else:
        accepted = ("mechanism", "information") + SOLVER_OPTIONS
    unknown = [key for key in options if key not in accepted]
    if unknown:
        raise ModelError(f"`{verb}` takes no option '{unknown[0]}' (its options: {', '.join(accepted)})")
    for key in ("k",):
        for k in _ks(options.get(key, 4)):
            if not isinstance(k, int) or isinstance(k, bool) or k < 1:
                raise ModelError(f"k must be a positive whole number, got {k!r}")
    if "symmetry" in options and not isinstance(options["symmetry"], (int, float)) and \
            options["symmetry"] not in ("on", "off", "true", "false"):
        raise ModelError(f"symmetry is on or off, got {options['symmetry']!r}")


def _message(error: RobustMechError) -> str:
    return getattr(error, "message", None) or str(error)


def _ks(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _symmetry(options: dict) -> bool:
    value = options.get("symmetry", True)
    return value not in (0, False, "off", "false")


def run_directives(env: Environment, solver: str | None = None, progress=None) -> list[Step]:
    """Run every directive of ``env`` in file order (``solver`` overrides the directives'
    own). A ``bounds`` or ``solve`` directive with a list of ``k`` gives one step per k."""
    from . import api
    from .certify import guarantee, potential

    steps = []
    low = api.validate(env)
    result: GuaranteeResult | PotentialResult | Bounds | ProgramResult
    for step in directives(env):
        options = dict(step.options)
        run_options = {"solver": solver or options.pop("solver", "auto"), "time_limit": options.pop("time_limit", None),
                       "symmetry": _symmetry(options)}
        options.pop("symmetry", None)
        try:
            if step.verb == "evaluate":
                if "mechanism" in options:
                    result = guarantee(low, env.mechanisms[options["mechanism"]], **run_options)
                else:
                    result = potential(low, env.information_structures[options["information"]], **run_options)
                steps.append(Step(step.verb, step.options, step.location, result))
                continue
            for k in _ks(options.pop("k", 4)):
                if step.verb == "bounds":
                    family = options.get("family", "auto")
                    program_options = {key: options[key] for key in ("correlation", "penalty") if key in options}
                    result = api.bounds(low, k, family=family, progress=progress, options=program_options or None,
                                        **run_options)
                else:
                    program = options.pop("program")
                    result = api.solve(low, program, k, progress=progress, options=options, **run_options)
                    options["program"] = program
                steps.append(Step(step.verb, {**step.options, "k": k}, step.location, result))
        except ModelError as error:
            if error.location is None:
                raise ModelError(_message(error), step.location) from None
            raise
    return steps


def default_k(env: Environment, program: str | None = None) -> int | None:
    """The model's own ``k`` for a command given none: the first ``solve`` directive of
    ``program`` (or, for the bounding pair, the first ``bounds`` directive) that sets one;
    its first value when it lists several."""
    for directive in env.directives:
        name = directive.get("program")
        if "k" in directive and (name == program or (name == "bounds" and program in (None, "bounds"))):
            return _ks(directive["k"])[0]
    return None


def default_solver(env: Environment) -> str | None:
    """The solver of the model's first ``bounds`` directive that names one (``bounds k = 7,
    solver = "highs-ipm"``), for ``robustmech bounds`` given no ``--solver``."""
    for directive in env.directives:
        if directive.get("program") == "bounds" and "solver" in directive:
            return str(directive["solver"])
    return None


def _jsonable(value):
    if isinstance(value, dict):
        return {key: _jsonable(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)
