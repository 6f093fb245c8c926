"""Mutation fuzzing in the suite: seeded mutations of the bundled models (the
mutations of scripts/fuzz_models.py, which runs a corpus of 10,000) load or are refused
with robustmech's own errors, in one line; no other exception, no hang.

Each file runs in-process with a time limit (SIGALRM), through read -> parse ->
elaborate -> lower and the size check of LB-G-6 and UB-P-6, as ``robustmech solve`` and
``refine`` do before a program is built.
"""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "fuzz_models.py"
FILES = 160
TIME_LIMIT = 20.0  # seconds per file; the slowest of these takes about 2 s alone


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_models", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_corpus_is_seeded(fuzz):
    first = list(fuzz.corpus(30, seed=11))
    assert first == list(fuzz.corpus(30, seed=11))
    assert first != list(fuzz.corpus(30, seed=12))
    originals = {p.read_bytes() for p in fuzz.MODELS}
    assert sum(data not in originals for _, data in first) >= 25  # nearly all are changed


def test_mutated_models_load_or_fail_cleanly(fuzz, tmp_path):
    outcomes = {"loaded": 0, "error": 0}
    bad = []
    for name, data in fuzz.corpus(FILES, seed=2026):
        path = tmp_path / name
        path.write_bytes(data)
        outcome, detail = fuzz.check(str(path), TIME_LIMIT)
        if outcome == "other":
            bad.append(f"{name}: {detail}")
        else:
            outcomes[outcome] += 1
    assert not bad, "\n".join(bad)
    # both kinds occur: the mutations are neither all harmless nor all fatal
    assert outcomes["loaded"] >= FILES // 10 and outcomes["error"] >= FILES // 3, outcomes
