"""Solve several programs at once, each in a process of its own.

LB(k) and UB(k) are independent programs. Their solvers leave a core of a two-core
machine idle for most of a solve: PDLP and QDLDL run on one thread, and faer's two
threads wait on each other. Solving the two at once halves the wall time of
``robustmech bounds`` when both programs are large.

Each job runs in a fresh interpreter (``python -m robustmech.parallel``), never a
fork or a multiprocessing child:

- a fork would copy the HiGHS and Clarabel thread pools of the parent without their
  threads;
- ``spawn`` would import the user's script again, and a script without a
  ``__main__`` guard would then run once more in the child.

The job travels as a pickle on the child's stdin. The child's solver logs go to
stderr, as in the parent. Its progress lines, and then its result or error, come
back as pickles on its stdout. The parent owns the children: Ctrl-C, or an error in
one job, terminates them all.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


@dataclass
class Job:
    """``robustmech.api.solve(low, program, k, **options)`` in a child; ``tag`` prefixes
    its progress lines."""

    low: Any
    program: str
    k: int
    options: dict = field(default_factory=dict)
    tag: str = ""


def picklable(*objects) -> bool:
    """Whether the objects can be sent to a child (an environment built in Python with
    a lambda cannot)."""
    try:
        pickle.dumps(objects)
    except Exception:
        return False
    return True


def run_jobs(jobs: Sequence[Job], progress: Callable[[str], Any] | None = None) -> list:
    """Run ``jobs`` at once, one process each; returns their results in order. The first
    job error (a :class:`~robustmech.errors.RobustMechError` from the child) is raised
    here once every child has stopped."""
    import robustmech

    package_root = os.path.dirname(os.path.dirname(os.path.abspath(robustmech.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    children = []
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException | None] = [None] * len(jobs)
    try:
        for job in jobs:
            child = subprocess.Popen([sys.executable, "-m", "robustmech.parallel"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
            children.append(child)
            assert child.stdin is not None
            pickle.dump((job, progress is not None), child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            child.stdin.close()
        readers = [threading.Thread(target=_read, args=(child, i, results, errors, progress, job.tag), daemon=True)
                   for i, (child, job) in enumerate(zip(children, jobs))]
        for reader in readers:
            reader.start()
        for reader in readers:
            while reader.is_alive():
                reader.join(timeout=0.2)
                if any(e is not None for e in errors):
                    raise next(e for e in errors if e is not None)
        for i, child in enumerate(children):
            child.wait()
            if results[i] is None and errors[i] is None:
                errors[i] = RuntimeError(f"the process solving {jobs[i].program} ended with code {child.returncode} "
                                         "before it returned a result")
        for e in errors:
            if e is not None:
                raise e
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


def _read(child, i, results, errors, progress, tag) -> None:
    stream = child.stdout
    try:
        while True:
            kind, payload = pickle.load(stream)
            if kind == "progress":
                if progress is not None:
                    progress(f"{tag}{payload}")
            elif kind == "result":
                results[i] = payload
                return
            else:
                errors[i] = payload
                return
    except EOFError:
        return  # the child ended without a result: run_jobs reports it
    except Exception as exc:  # a result that does not unpickle is a bug; say so in the parent
        errors[i] = exc


def _child() -> None:
    """The child: read a job on stdin, solve it, write frames on the original stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what the solvers print goes to stderr, as in the parent
    sys.stdout = sys.stderr
    job, with_progress = pickle.load(sys.stdin.buffer)
    lock = threading.Lock()

    def send(kind: str, payload) -> None:
        with lock:
            pickle.dump((kind, payload), channel, protocol=pickle.HIGHEST_PROTOCOL)
            channel.flush()

    from . import api

    try:
        result = api.solve(job.low, job.program, job.k, progress=(lambda line: send("progress", line))
                           if with_progress else None, **job.options)
    except Exception as exc:
        try:
            send("error", exc)
        except Exception:  # an exception that does not pickle: its message does
            send("error", RuntimeError(f"{type(exc).__name__}: {exc}"))
        return
    send("result", result)


if __name__ == "__main__":
    _child()
