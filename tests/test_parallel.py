"""LB(k) and UB(k) solved at once, each in a process of its own (robustmech.parallel).

The two processes must give the bounds the sequential path gives (same programs, same
solver, same certificates), bracket the closed-form guarantee of the public good
(λ = 1.556723777 by (15)-(17) of 004, N = 2, vbar = 3), send their errors back as the
same errors, and keep stdout for the result alone.
"""

from __future__ import annotations

import json

import pytest

import robustmech as rm
from robustmech import api, parallel
from robustmech.cli import main
from robustmech.errors import ModelError

from conftest import MODELS

PUBLIC_GOOD = str(MODELS / "public_good.mech")
CLOSED_FORM = 1.556723777  # (15)-(17) of 004, N = 2, vbar = 3
AUCTION = str(MODELS / "common_value_auction.mech")


@pytest.fixture(scope="module")
def env():
    return rm.load_model(PUBLIC_GOOD, {"N": 2, "vbar": 3})


def test_concurrent_bounds_equal_the_sequential_ones_and_bracket_the_closed_form(env):
    sequential = rm.bounds(env, 5, concurrent=False)
    together = rm.bounds(env, 5, concurrent=True)
    assert together.concurrent and not sequential.concurrent
    for a, b in ((together.lower, sequential.lower), (together.upper, sequential.upper)):
        assert a.program == b.program
        assert a.value == pytest.approx(b.value, abs=1e-12)
        assert a.dual_value == pytest.approx(b.dual_value, abs=1e-12)
        assert a.extra["dual_certified"] and b.extra["dual_certified"]
    assert together.lower.value < CLOSED_FORM < together.upper.value
    # the mechanism and the information structure come back whole
    assert together.lower.mechanism.rule == pytest.approx(sequential.lower.mechanism.rule, abs=1e-9)
    assert together.upper.information.joint == pytest.approx(sequential.upper.information.joint, abs=1e-9)
    assert together.wall_seconds is not None and together.wall_seconds > 0


def test_progress_lines_come_back_tagged_with_their_bound_and_a_silent_death_is_reported(tmp_path):
    # the parent's reader on a stream of frames as a child writes them (parallel._child)
    import pickle
    import subprocess
    import sys

    from robustmech.errors import SolverError
    from robustmech.parallel import Job, _read

    frames = [("progress", "[   2.0 s] clarabel iteration 3"), ("progress", "[   3.0 s] clarabel iteration 5"),
              ("result", 42.0)]
    (tmp_path / "frames").write_bytes(b"".join(pickle.dumps(f) for f in frames))
    lines: list[str] = []
    results, errors = [None], [None]
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb')"
                              ".read())", str(tmp_path / "frames")], stdout=subprocess.PIPE)
    _read(child, Job(None, "guarantee", 6, tag="LB: "), 0, results, errors, lines.append)
    child.wait()
    assert lines == ["LB: [   2.0 s] clarabel iteration 3", "LB: [   3.0 s] clarabel iteration 5"]
    assert results == [42.0] and errors == [None]
    # a child that dies without a frame (killed, out of memory) is an error at once
    child = subprocess.Popen([sys.executable, "-c", "import os; os._exit(9)"], stdout=subprocess.PIPE)
    results, errors = [None], [None]
    _read(child, Job(None, "potential", 8), 0, results, errors, lines.append)
    assert isinstance(errors[0], SolverError) and "potential (k = 8) ended with code 9" in str(errors[0])


def test_a_child_that_sent_its_result_ends_cleanly_while_the_parent_holds_its_stdin(tmp_path):
    # the parent keeps a child's stdin open until every job is done; a child blocked on
    # sys.stdin.buffer at its shutdown aborted ("Fatal Python error: _enter_buffered_busy")
    import pickle
    import subprocess
    import sys

    from robustmech.parallel import _BOOTSTRAP, Job, _read

    job = Job(rm.validate(rm.load_model(PUBLIC_GOOD, {"N": 2, "vbar": 3})), "guarantee", 3)
    log = (tmp_path / "stderr").open("wb")
    child = subprocess.Popen([sys.executable, "-P", "-c", _BOOTSTRAP], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=log)
    assert child.stdin is not None
    pickle.dump(list(sys.path), child.stdin)
    pickle.dump((job, False), child.stdin)
    child.stdin.flush()
    results, errors = [None], [None]
    _read(child, job, 0, results, errors, print)
    assert errors == [None] and results[0].value == pytest.approx(10 / 7, abs=1e-8)  # LB(3), as in test_pyomo_model
    assert child.wait(timeout=60) == 0  # with its stdin still open
    log.close()
    assert b"Fatal Python error" not in (tmp_path / "stderr").read_bytes()
    child.stdin.close()


def test_an_error_in_a_child_is_raised_in_the_parent_as_itself():
    env = rm.load_model(AUCTION, {"N": 2, "nvalues": 3})
    with pytest.raises(ModelError, match="correlation"):
        rm.bounds(env, 2, concurrent=True, options={"correlation": "no-such-option"})
    with pytest.raises(ModelError, match="correlation"):  # the same error as on the sequential path
        rm.bounds(env, 2, concurrent=False, options={"correlation": "no-such-option"})


def test_the_default_solves_at_once_only_what_is_large_and_never_inside_a_pool_worker(env, monkeypatch):
    low = api.validate(env)
    pair = ("guarantee", "potential")
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    assert not api._worth_concurrent(low, pair, 6)  # 40,000 nonzeros: the child would cost more
    assert api._worth_concurrent(low, pair, 14)  # about 1.1 million: ten seconds a program
    # both solved on boxes of low profiles (robustmech.programs.truncation): seconds each,
    # and two children would each build the whole program
    assert not api._worth_concurrent(low, pair, 14, truncate=True)
    three = api.validate(rm.load_model(PUBLIC_GOOD, {"N": 3, "vbar": 4}))
    # three agents: both on boxes from k = 8 (seconds), at k = 5 the whole grid (below
    # 100,000 columns), solved at once
    assert not api._worth_concurrent(three, pair, 8, truncate=True)
    assert api._worth_concurrent(three, pair, 5, truncate=True)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    assert not api._worth_concurrent(low, pair, 14)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    import multiprocessing

    monkeypatch.setattr(multiprocessing, "parent_process", lambda: object())
    assert not api._worth_concurrent(low, pair, 14)


def test_an_error_in_one_child_stops_the_other_at_once():
    import time

    from robustmech.parallel import Job, run_jobs

    auction = api.validate(rm.load_model(AUCTION, {"N": 2, "nvalues": 3}))
    public_good = api.validate(rm.load_model(PUBLIC_GOOD, {"N": 2, "vbar": 3}))
    start = time.perf_counter()
    with pytest.raises(ModelError, match="correlation"):
        run_jobs([Job(public_good, "guarantee", 24, {"truncate": False}),  # minutes of building and solving
                  Job(auction, "auction-guarantee", 2, {"options": {"correlation": "no-such-option"}})])
    assert time.perf_counter() - start < 60  # not the long job's minutes: it was terminated


def test_a_job_a_child_cannot_load_is_solved_in_this_process(tmp_path):
    # a class defined in a script's __main__ pickles in the parent but not in a child
    import subprocess
    import sys

    script = tmp_path / "script.py"
    script.write_text(f"""
import robustmech as rm
class Correlation(str):
    pass
env = rm.load_model({AUCTION!r}, {{"N": 2, "nvalues": 3}})
try:
    rm.bounds(env, 2, concurrent=True, progress=print, options={{"correlation": Correlation("no-such-option")}})
except rm.ModelError as e:
    print("ModelError:", e)
""")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120).stdout
    assert "cannot load the job" in out and "solved one after the other" in out
    assert "ModelError: correlation must be one of" in out  # the sequential path's own error


def test_the_command_line_keeps_stdout_for_json_when_the_bounds_run_at_once(monkeypatch, capfd):
    monkeypatch.setattr(api, "CONCURRENT_FROM_NONZEROS", 0)
    assert main(["bounds", PUBLIC_GOOD, "--k", "3", "--json", "--verbose"]) in (0, None)
    out, err = capfd.readouterr()
    summary = json.loads(out)  # the whole of stdout is one JSON object
    assert summary["concurrent"] is True
    assert summary["lower"] < CLOSED_FORM < summary["upper"]
    assert "Clarabel" in err or "HiGHS" in err  # the children's solver logs went to stderr


def test_sequential_flag_keeps_one_process(monkeypatch, capfd):
    monkeypatch.setattr(api, "CONCURRENT_FROM_NONZEROS", 0)
    assert main(["bounds", PUBLIC_GOOD, "--k", "3", "--json", "--sequential"]) in (0, None)
    out, _ = capfd.readouterr()
    assert json.loads(out)["concurrent"] is False
