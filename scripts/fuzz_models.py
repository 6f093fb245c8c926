"""Mutation fuzzing of the bundled models: every mutated file loads or is refused with
one of robustmech's own errors; nothing else (no other exception, no hang, no memory
eaten).

    python scripts/fuzz_models.py                  # 10,000 files, seed 0, 2 processes
    python scripts/fuzz_models.py --files 500 --seed 3 --jobs 1 --show 5

Each file is a copy of one of ``models/*.mech`` with one to three seeded mutations
(characters and tokens inserted, spans deleted, numbers replaced by extreme ones, lines
duplicated, dropped or swapped, a piece repeated hundreds of times, bytes that are not
UTF-8). Each is read, parsed, elaborated and lowered in-process, exactly as
``robustmech solve`` / ``refine`` do before a program is built, and the sizes of
LB-G-6 and UB-P-6 are checked (lower/size.py); nothing is solved. A file that runs
past ``--time-limit`` seconds is a hang. The counts are printed as

    loaded 3201  clean error 6799 (1 of them without file:line:col)  anything else 0

(seed 0; seed 1 gives 3354 / 6646 / 0). An error without file:line:col is one with no
place in the file to name: a program too large for this machine's memory.

and the exit status is 1 when "anything else" is not zero. tests/test_fuzz.py runs a
few hundred of these in the suite.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import pathlib
import random
import resource
import signal
import sys
import tempfile
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODELS = sorted((ROOT / "models").glob("*.mech"))

TOKENS = [
    "1e400", "1e309", "1e99999", "1e308", "0", "-1", "-", "0.5", "10^10^10", "99999999999999999999", "1000", "100",
    "(", ")", "[", "]", "{", "}", ",", "..", "+", "*", "/", "^", "==", "<=", ">=", "!=", "=", ":", ";",
    "sum(", "max(", "unit(", "grid(0, 1, 3)", " for j in 1..N", " if ", "outcome", "theta", "N", "i", "j", "q[1]",
    "inf", "and", "not", "in", "1..1000000", "\n", "#", '"', "é", "\t", " ", "let x = 1\n", "param ", "state ",
    "prior ", "types ", "ic ", "utility[i] = ", "designer = ", "constraint ", "variable z in 0..1\n",
    "mechanism M from \"m.npz\"\n", "information I from \"i.npz\"\n", "bounds k = 100\n", "solve guarantee k = 0\n",
]
NUMBERS = ["0", "-1", "1e400", "1e308", "1e-400", "100", "1000", "10^10", "0.5", "99999999999999999999", "3", "-0.5"]
REPEATED = ["+ 1 ", "[", "(", "-", "sum(", "1..", "x", "\n", "+ q[1] "]


def mutate(text: str, rng: random.Random) -> bytes:
    """One to three mutations of ``text``; bytes, since some are not UTF-8."""
    raw_bytes = None
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(9)
        pos = rng.randrange(len(text) + 1)
        if kind == 0:
            text = text[:pos] + rng.choice(TOKENS) + text[pos:]
        elif kind == 1:
            text = text[:pos] + text[pos + rng.randint(1, 20):]
        elif kind == 2:
            import re

            numbers = list(re.finditer(r"(?<![A-Za-z_\d.])\d+(\.\d+)?([eE][+-]?\d+)?", text))
            if numbers:
                m = rng.choice(numbers)
                text = text[:m.start()] + rng.choice(NUMBERS) + text[m.end():]
        elif kind in (3, 4, 5):
            lines = text.split("\n")
            a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
            if kind == 3:
                lines.insert(b, lines[a])
            elif kind == 4:
                del lines[a]
            else:
                lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines)
        elif kind == 6:
            piece = rng.choice(REPEATED) if rng.random() < 0.7 else text[pos:pos + rng.randint(1, 8)]
            text = text[:pos] + piece * rng.choice([10, 100, 600]) + text[pos:]
        elif kind == 7:
            text = text[:pos]  # truncated
        else:
            raw_bytes = (pos, bytes([rng.choice([0xff, 0xfe, 0xc3, 0x80, 0xe9])]))
        if not text:
            text = " "
    data = text.encode("utf-8")
    if raw_bytes is not None:
        pos = min(raw_bytes[0], len(data))
        data = data[:pos] + raw_bytes[1] + data[pos:]
    return data


def corpus(n: int, seed: int):
    """(name, bytes) of ``n`` mutated files, the same for the same seed."""
    rng = random.Random(seed)
    texts = [(p.stem, p.read_text(encoding="utf-8")) for p in MODELS]
    for i in range(n):
        stem, text = texts[i % len(texts)]
        yield f"{i:05d}_{stem}.mech", mutate(text, random.Random(rng.getrandbits(64)))


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def check(path: str, time_limit: float) -> tuple[str, str]:
    """('loaded' | 'error' | 'other', detail) for one model file, run in-process."""
    from robustmech import api
    from robustmech.dsl.parser import parse, read_model
    from robustmech.errors import RobustMechError
    from robustmech.lower.size import check_program_size
    from robustmech.model.elaborate_prior_free import is_prior_free
    from robustmech.refine import prior_free_arrays

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        try:
            _, text = read_model(path)
            prior_free = is_prior_free(parse(text, path))
        except RobustMechError as exc:
            return ("error", str(exc)) if "\n" not in str(exc) else ("other", f"a message of several lines: {exc}")
        try:
            if prior_free:
                prior_free_arrays(path)  # as refine lowers it: the anonymous program for large exchangeable models
            else:
                low = api.validate(api.load_model(path))
                for program in ("guarantee", "potential"):
                    check_program_size(low, program, {"k": 6})
            return "loaded", ""
        except RobustMechError as exc:
            if "\n" in str(exc):
                return "other", f"a message of several lines: {exc}"
            return "error", str(exc)
    except Hang:
        return "other", f"no answer within {time_limit} s"
    except BaseException as exc:  # noqa: BLE001 - what the fuzzing is looking for
        if isinstance(exc, KeyboardInterrupt):
            raise
        return "other", "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _worker(args):
    name, data, folder, time_limit = args
    path = os.path.join(folder, name)
    with open(path, "wb") as fh:
        fh.write(data)
    start = time.perf_counter()
    outcome, detail = check(path, time_limit)
    return name, outcome, detail, time.perf_counter() - start


def _limit_memory(gigabytes: float) -> None:
    limit = int(gigabytes * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run(files: int, seed: int, jobs: int, time_limit: float, memory_gb: float, folder: str):
    tasks = ((name, data, folder, time_limit) for name, data in corpus(files, seed))
    results = []
    if jobs <= 1:
        _limit_memory(memory_gb)
        results = [_worker(t) for t in tasks]
    else:
        with multiprocessing.get_context("fork").Pool(jobs, initializer=_limit_memory, initargs=(memory_gb,)) as pool:
            results = list(pool.imap_unordered(_worker, tasks, chunksize=8))
    return sorted(results)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--time-limit", type=float, default=30.0, help="seconds per file before it counts as a hang")
    p.add_argument("--memory-gb", type=float, default=4.0, help="address space per process")
    p.add_argument("--keep", metavar="DIR", help="write the corpus into DIR and keep it")
    p.add_argument("--show", type=int, default=3, help="messages to print per outcome")
    args = p.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="robustmech-fuzz-") as tmp:
        folder = args.keep or tmp
        os.makedirs(folder, exist_ok=True)
        results = run(args.files, args.seed, args.jobs, args.time_limit, args.memory_gb, folder)
    counts = collections.Counter(outcome for _, outcome, _, _ in results)
    slowest = max(results, key=lambda r: r[3])
    for outcome in ("error", "other"):
        shown = [r for r in results if r[1] == outcome][:args.show if outcome == "error" else None]
        for name, _, detail, _ in shown:
            print(f"{outcome}: {name}: {detail.strip()}")
    print(f"{len(results)} files (seed {args.seed}) in {time.perf_counter() - start:.0f} s; slowest "
          f"{slowest[0]} {slowest[3]:.1f} s")
    import re

    placed = re.compile(r"^\S+\.mech:\d+:\d+: ")
    unplaced = [r for r in results if r[1] == "error" and not placed.match(r[2])]
    for name, _, detail, _ in unplaced[:args.show]:
        print(f"error without file:line:col: {name}: {detail.strip()}")
    print(f"loaded {counts['loaded']}  clean error {counts['error']} ({len(unplaced)} of them without file:line:col)  "
          f"anything else {counts['other']}")
    return 1 if counts["other"] else 0


if __name__ == "__main__":
    sys.exit(main())
