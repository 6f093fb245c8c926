"""Solve several programs at once, each in a process of its own.

LB(k) and UB(k) are independent programs. Their solvers leave a core of a two-core
machine idle for most of a solve: PDLP and QDLDL run on one thread, and faer's two
threads wait on each other. Solving the two at once halves the wall time of
``robustmech bounds`` when both programs are large.

Each job runs in a fresh interpreter, never a fork or a multiprocessing child:

- a fork would copy the HiGHS and Clarabel thread pools of the parent without their
  threads;
- ``spawn`` would import the user's script again, and a script without a
  ``__main__`` guard would then run once more in the child.

The child starts with ``-P`` (no current directory on its path) and takes the
parent's ``sys.path`` before anything else, so it imports the same robustmech. Then the
job travels as a pickle on its stdin, and the stdin stays open: when it closes, the
parent is gone and the child exits. The child's solver logs go to stderr, as in the
parent. Its progress lines, and then its result or error, come back as pickles on its
stdout. The parent owns the children: Ctrl-C, an error or an early death of one job
terminates them all.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .errors import RobustMechError, SolverError

# the child's first lines: the parent's path, then this module (nothing else imported first)
_BOOTSTRAP = ("import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
              "from robustmech.parallel import _child; _child()")


@dataclass
class Job:
    """``robustmech.api.solve(low, program, k, **options)`` in a child; ``tag`` prefixes
    its progress lines."""

    low: Any
    program: str
    k: int
    options: dict = field(default_factory=dict)
    tag: str = ""


class JobNotSent(RobustMechError):
    """A job that could not be handed to a child: it does not pickle, or a child cannot
    load it (an object of a class defined in the user's ``__main__``). The caller solves
    in its own process instead."""


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a cpuset or ``taskset``
    narrows), else the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def run_jobs(jobs: Sequence[Job], progress: Callable[[str], Any] | None = None) -> list:
    """Run ``jobs`` at once, one process each; returns their results in order.

    The first error a job raises (any exception, sent back from its child) is raised
    here, and every other child is terminated. A child that ends without a result
    raises :class:`~robustmech.errors.SolverError` naming its exit code. A job that
    cannot reach its child raises :class:`JobNotSent`."""
    payloads = []
    for job in jobs:
        try:
            payloads.append(pickle.dumps((job, progress is not None), protocol=pickle.HIGHEST_PROTOCOL))
        except Exception as exc:
            raise JobNotSent(f"the {job.program} job does not pickle ({type(exc).__name__}: {exc})") from None
    # the parent's -X and -W flags (the private helper multiprocessing uses), then no cwd on the path
    flags: list[str] = getattr(subprocess, "_args_from_interpreter_flags", list)()
    command = [sys.executable, *flags, "-P", "-c", _BOOTSTRAP]
    children: list[subprocess.Popen] = []
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException | None] = [None] * len(jobs)
    lock = threading.Lock()  # one progress line at a time

    def tell(line: str) -> None:
        with lock:
            if progress is not None:
                progress(line)

    try:
        for payload in payloads:
            children.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE))
            child = children[-1]
            assert child.stdin is not None
            try:
                pickle.dump(list(sys.path), child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                child.stdin.write(payload)
                child.stdin.flush()  # and kept open: its end tells the child the parent is gone
            except OSError:
                pass  # the child is already gone: its reader reports how it ended
        readers = [threading.Thread(target=_read, args=(child, job, i, results, errors, tell), daemon=True)
                   for i, (child, job) in enumerate(zip(children, jobs))]
        for reader in readers:
            reader.start()
        while any(reader.is_alive() for reader in readers):
            for reader in readers:
                reader.join(timeout=0.1)
            first = next((e for e in errors if e is not None), None)
            if first is not None:
                raise first
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first
        return results
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            for stream in (child.stdin, child.stdout):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass


def _read(child: subprocess.Popen, job: Job, i: int, results: list, errors: list, tell) -> None:
    """Read one child's frames until its result or error; a child that ends without one
    is reported at once (its exit code or signal), so the other job is not waited for."""
    assert child.stdout is not None
    try:
        while True:
            kind, payload = pickle.load(child.stdout)
            if kind == "progress":
                tell(f"{job.tag}{payload}")
            elif kind == "result":
                results[i] = payload
                return
            elif kind == "unloadable":
                errors[i] = JobNotSent(payload)
                return
            else:
                errors[i] = payload
                return
    except BaseException as exc:  # the end of the stream, a torn frame, or the progress callback's own error
        if not isinstance(exc, (EOFError, pickle.UnpicklingError)):
            errors[i] = exc
            return
    code = child.wait()
    how = f"was killed by signal {-code}" if code < 0 else f"ended with code {code}"
    if code in (-signal.SIGKILL, 137):
        how += " (out of memory?)"
    errors[i] = SolverError(f"the process solving {job.program} (k = {job.k}) {how} before it returned a result",
                            "error")


def _frame(kind: str, payload) -> bytes:
    """A frame that the parent can load, or a RuntimeError's that says what it was."""
    try:
        data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
        if kind == "error":
            pickle.loads(data)  # an exception that pickles may still fail to load (a custom __init__)
        return data
    except Exception:
        text = f"{type(payload).__name__}: {payload}"
        return pickle.dumps(("error", RuntimeError(text)), protocol=pickle.HIGHEST_PROTOCOL)


def _child() -> None:
    """The child: read a job on stdin, solve it, write frames on the original stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what the solvers print goes to stderr, as in the parent
    sys.stdout = sys.stderr
    lock = threading.Lock()

    def send(kind: str, payload) -> None:
        data = _frame(kind, payload)
        with lock:
            channel.write(data)
            channel.flush()

    try:
        job, with_progress = pickle.load(sys.stdin.buffer)
    except Exception as exc:
        send("unloadable", f"a child process cannot load the job ({type(exc).__name__}: {exc})")
        return

    def orphaned() -> None:  # stdin ends when the parent does, however it ended
        # on the raw descriptor: a thread blocked in sys.stdin.buffer.read() holds the
        # buffer's lock, and the interpreter's shutdown then aborts ("could not acquire
        # lock for <_io.BufferedReader name='<stdin>'>") after the result was sent
        while os.read(0, 1 << 16):
            pass
        os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()
    from . import api

    try:
        result = api.solve(job.low, job.program, job.k, progress=(lambda line: send("progress", line))
                           if with_progress else None, **job.options)
    except Exception as exc:
        if not isinstance(exc, RobustMechError):  # a bug: keep where it happened
            exc.add_note("".join(traceback.format_exception(exc)).rstrip())
        send("error", exc)
        return
    send("result", result)
