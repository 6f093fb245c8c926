"""How large a program on X(k) will be, estimated before it is built.

A program on the grid X(k) of 004 has (k² + 1)^N profiles; its columns and nonzeros
grow with that number times the states, the outcome dimensions and the agents. Building
one costs about 60 bytes per nonzero (the sparse blocks and their Kronecker products)
and solving it as much again and more, so :func:`check_program_size` refuses a program
whose estimate does not fit in this machine's available memory, with the estimate in
the message, before anything large is allocated (``--k 10000`` would otherwise ask
numpy for petabytes). The estimates are upper bounds of the right order (within a
factor of two of the bundled models' programs), not exact counts.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeGuard

from ..errors import ParameterError

#: bytes per nonzero to build and solve a program (build ~60, HiGHS and the read-back the rest)
BYTES_PER_NONZERO = 200
#: bytes per column (bounds, costs, the solution and its duals, the solver's copies)
BYTES_PER_COLUMN = 100
#: bytes per row of a program solved on boxes of low profiles, whose whole matrix is kept
#: as Kronecker-structured blocks and never assembled: its bounds, activity, duals and
#: where each row folds (LB-G-40 and UB-P-40 of the public good, 7.7 million columns and
#: 7.7 million rows: 1.26 GB at the peak, both programs, one after the other)
BYTES_PER_ROW_ON_BOXES = 60
#: the programs of this size and beyond take minutes: say so before starting
LARGE_NONZEROS = 20_000_000
#: beyond this many profiles the outcome space's vertices are not enumerated for the estimate
MAX_PROFILES_FOR_GENERATORS = 10**9


@dataclass(frozen=True)
class SizeEstimate:
    """Profiles, columns, rows, nonzeros and bytes of one program (Python ints: exact
    however large, so that an astronomically large program is still described)."""

    program: str
    k: int
    profiles: int
    columns: int
    rows: int
    nonzeros: int

    @property
    def bytes(self) -> int:
        return self.nonzeros * BYTES_PER_NONZERO + self.columns * BYTES_PER_COLUMN

    @property
    def bytes_on_boxes(self) -> int:
        """The bytes of the program solved on boxes of low profiles: its vectors at the
        whole grid's size (the matrix stays structured; the box programs are far smaller)."""
        return self.columns * BYTES_PER_COLUMN + self.rows * BYTES_PER_ROW_ON_BOXES

    def describe(self) -> str:
        return (f"{magnitude(self.profiles)} profiles, {magnitude(self.columns)} columns, "
                f"{magnitude(self.nonzeros)} nonzeros, {show_bytes(self.bytes)} to build and solve")


def magnitude(n: int) -> str:
    """``n`` in words a message can hold: 1,234, 5.2e8, or 10^400 (never a 4,300-digit string)."""
    if n < 100_000:
        return f"{n:,}"
    if n.bit_length() < 1000:
        return f"{float(n):.2g}".replace("e+0", "e+").replace("e+", "e")
    return f"10^{int(n.bit_length() * 0.30103)}"


def show_bytes(n: int) -> str:
    """``n`` bytes in words: 23.5 GB, 4.7e19 bytes."""
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size <= n < 1000 * 10**12:
            return f"{n / size:.3g} {unit}"
    return f"{n:,} bytes" if n < 1000 else f"{magnitude(n)} bytes"


def available_memory() -> int:
    """Bytes this machine can give now (MemAvailable of /proc/meminfo, else all of it)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8 * 10**9


def estimate(low, program: str, k: int) -> SizeEstimate:
    """The size of ``program`` on X(k) for the lowered environment ``low``."""
    n, s, d = low.n_agents, low.n_states, low.dim
    x = (k * k + 1) ** n
    if program in ("guarantee", "dual"):
        columns, rows = x * d + s, x * (s + 2 + n)
        nonzeros = x * (s * d * (n + 1) + d + 1)
    elif program == "potential":
        baseline = getattr(low, "baseline", None)
        if baseline is not None:  # signals (s_i, x_i): the pair profiles (robustmech.programs.baseline)
            x *= int(math.prod(len(sig) for sig in baseline.signals))
        v = 1  # the outcome space's generators, where enumerating them is not itself the problem
        if x <= MAX_PROFILES_FOR_GENERATORS and d <= 20:
            gens = low.polytope.generators
            v = max(1, len(gens.vertices) + len(gens.rays) + len(gens.lineality))
        columns, rows = x * (s + 1), x * v + s
        nonzeros = x * v * (s * 2 * n + 1) + x * s
    else:  # the auction programs of 001: ρ, the allocation or transfers per profile and bidder
        columns, rows = x * (n + 2), x * (s + 2)
        nonzeros = x * (s + 2) * (n + 1)
    return SizeEstimate(program, k, x, columns, rows, nonzeros)


def check_program_size(low, program: Any, options: Mapping[str, Any],
                       on_boxes: Callable[[SizeEstimate], bool] | None = None) -> SizeEstimate | None:
    """Refuse a program on X(k) that cannot fit in this machine's memory (the estimate
    is in the message); returns the estimate, or None for a program not on X(k).
    ``on_boxes`` says, from the estimate, whether the program will be solved on boxes of
    low profiles first (:mod:`robustmech.programs.truncation`): then what has to fit is
    :attr:`SizeEstimate.bytes_on_boxes`, and the whole grid is checked again
    (:func:`check_whole_grid`) only if no box is certified."""
    name = getattr(program, "name", str(program))
    k = options.get("k")
    if k is None or isinstance(k, bool) or not isinstance(k, int) and not hasattr(k, "__index__"):
        return None
    k = int(k)
    if k < 1:
        raise ParameterError(f"k must be a positive whole number, got {k}")
    if name not in ("guarantee", "potential", "dual") and not name.startswith("auction-"):
        return None
    est = estimate(low, name, k)
    free = available_memory()
    if on_boxes is not None and on_boxes(est):
        if est.bytes_on_boxes > free:
            raise ParameterError(f"{name} at k = {magnitude(k)} on {low.env.name} is too large for this machine: "
                                 f"{est.describe()}, {show_bytes(est.bytes_on_boxes)} on boxes of low profiles, "
                                 f"and {show_bytes(free)} is available; use a smaller k")
        return est
    if est.bytes > free:
        raise ParameterError(f"{name} at k = {magnitude(k)} on {low.env.name} is too large for this machine: "
                         f"{est.describe()}, and {show_bytes(free)} is available; use a smaller k"
                         + (" or fewer agents" if low.n_agents > 2 else ""))
    return est


def check_whole_grid(est: SizeEstimate | None, model: str, why: str) -> None:
    """Refuse to assemble the whole matrix of a program solved on boxes (``why``: no box
    was certified, or it is exported) where it does not fit in this machine's memory; its
    vectors are already held."""
    free = available_memory()
    if est is not None and est.bytes - est.bytes_on_boxes > free:
        raise ParameterError(f"{est.program} at k = {magnitude(est.k)} on {model}: {why}, and the whole grid is too "
                             f"large for this machine: {est.describe()}, and {show_bytes(free)} is available; use a "
                             "smaller k")


def fits_on_box(est: SizeEstimate, share: float) -> bool:
    """Whether the program on a box holding ``share`` of the grid's profiles fits beside
    the whole grid's vectors (its build and solve at the bytes per nonzero of the whole)."""
    return share * (est.bytes - est.columns * BYTES_PER_COLUMN) <= available_memory()


def is_large(est: SizeEstimate | None) -> TypeGuard[SizeEstimate]:
    """Whether ``est`` is a program of minutes (worth a line before it starts)."""
    return est is not None and est.nonzeros >= LARGE_NONZEROS


#: nonzeros built per second (the bundled models' programs: 2-3 million a second)
BUILD_RATE = 2_000_000


def large_note(est: SizeEstimate, on_boxes: bool = False) -> str:
    """The line said before a large program is built: its size and how long it takes
    (``on_boxes``: it is solved first on boxes of low profiles, in seconds where one is
    certified; robustmech.programs.truncation)."""
    if on_boxes:
        return (f"{est.program} at k = {magnitude(est.k)} is large: {magnitude(est.profiles)} profiles, "
                f"{magnitude(est.columns)} columns, {magnitude(est.nonzeros)} nonzeros; it is solved first on boxes "
                f"of low profiles, the whole matrix kept unassembled ({show_bytes(est.bytes_on_boxes)}) to certify "
                "the answer")
    seconds = est.nonzeros / BUILD_RATE
    building = f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
    solving = "solving it several times as long" if seconds >= 90 else "solving it minutes"
    return (f"{est.program} at k = {magnitude(est.k)} is large: {est.describe()}; building it takes about "
            f"{building} and {solving}")
