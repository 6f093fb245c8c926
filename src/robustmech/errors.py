"""Errors a user can act on.

Every error robustmech raises on purpose derives from :class:`RobustMechError`. The
command line turns them into one line on stderr and an exit code: 2 for bad input
(:class:`ModelError`, :class:`ParameterError`), 3 when the solver fails
(:class:`SolverError`). Anything else is a bug in robustmech.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where a piece of a model was written: file, line and column (1-based)."""

    file: str = "<model>"
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


class RobustMechError(Exception):
    """Base class of the errors robustmech reports to its users."""

    exit_code = 1


class ModelError(RobustMechError):
    """A model (file or builder call) is malformed or economically impossible.

    The message names the place (``file:line:col``) when the model came from a file.
    """

    exit_code = 2

    def __init__(self, message: str, location: Location | None = None):
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class ParameterError(ModelError):
    """A ``--param NAME=VALUE`` override or a program option is invalid."""


class DataError(ModelError):
    """A data file (a saved result, an ``.npz`` of a mechanism or an information
    structure) cannot be read or does not hold what it should. The message names the file."""


class SolverError(RobustMechError):
    """The solver did not return an optimal solution.

    ``status`` is one of ``infeasible``, ``unbounded``, ``time_limit``, ``error``;
    ``families`` names the constraint families (or variable blocks) to blame where
    the diagnosis could find them.
    """

    exit_code = 3

    def __init__(self, message: str, status: str = "error", families: tuple[str, ...] = ()):
        self.status = status
        self.families = tuple(families)
        super().__init__(message)


class UnsupportedError(RobustMechError):
    """The model is valid, but the requested program does not apply to it (yet)."""

    exit_code = 2
