"""One command-line convention for every subcommand.

- The shared options (MODEL and --param, the solver set, --json, --out/--force) are
  declared once, in robustmech.cli.common, and every subcommand that takes them uses it.
- Every option a subcommand accepts reaches its code (read from the handler's source)
  and, for the solver set, the library call (a recording stand-in for the library).
- One error path: handlers raise, main prints `robustmech: error: ...` once and exits
  2 (bad input) or 3 (solver failure, broken certificate); Ctrl-C is 130 with one line;
  a stdout closed by its reader is 141 and silent (as git).
- stdout carries the result alone: `solve --verbose --json` prints only JSON there.

Numbers: the public good of 004 Section 4 (N = 2, vbar = 3), whose max guarantee is
about 1.5567 by the closed form (15)-(17) of 004; the posted price 1 on 003 Section
1.1's two-by-two model, whose guarantee is 0.75 (see tests/test_certify.py).
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import os
import subprocess
import sys
import textwrap

import pytest

import robustmech as rm
from robustmech import api
from robustmech.cli import SUBCOMMANDS, build_parser, main
from robustmech.errors import SolverError

from conftest import MODELS, ROOT

PUBLIC_GOOD = str(MODELS / "public_good.mech")
MYERSON = str(MODELS / "myerson_two_by_two.mech")
CLI = ROOT / "src" / "robustmech" / "cli"


def run(capsys, *argv):
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


# --- the shared argument sets -------------------------------------------------------

SHARED = ('"--json"', '"--solver"', '"--param"', '"--time-limit"', '"--out"', '"--force"', '"--verbose"',
          '"--no-symmetry"')


@pytest.mark.parametrize("module", [m.rsplit(".", 1)[1] for m in SUBCOMMANDS])
def test_no_subcommand_declares_a_shared_option_itself(module):
    text = (CLI / f"{module}.py").read_text()
    for option in SHARED:
        assert f"add_argument({option}" not in text, f"cli/{module}.py declares {option}; use cli/common.py"


def test_the_shared_options_mean_the_same_everywhere():
    """Where two subcommands take --solver, --time-limit, --param, --json or --out, they
    spell, type and default it alike (the help may narrow the meaning)."""
    from robustmech.solve import SOLVERS

    seen: dict[str, tuple] = {}
    for name, sub in subparsers().items():
        for a in sub._actions:
            for flag in ("--solver", "--time-limit", "--verbose", "--no-symmetry", "--json", "--param", "--out",
                         "--force"):
                if flag in a.option_strings:
                    shape = (tuple(a.option_strings), a.dest, a.type, a.default, a.nargs,
                             tuple(a.choices) if a.choices else None, type(a).__name__)
                    assert seen.setdefault(flag, shape) == shape, f"{name} {flag}: {shape} != {seen[flag]}"
    assert seen["--solver"][5] == tuple(SOLVERS)
    assert set(seen) >= {"--solver", "--time-limit", "--verbose", "--no-symmetry", "--json", "--param", "--out",
                         "--force"}


# --- every option reaches the code --------------------------------------------------

def _reads(func, argname: str, seen: set) -> set[str]:
    """The attributes of ``argname`` that ``func`` reads, following calls into the
    functions of robustmech.cli it hands ``argname`` to."""
    if (func, argname) in seen:
        return set()
    seen.add((func, argname))
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == argname:
            found.add(node.attr)
        if isinstance(node, ast.Call):
            if (isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr") and len(node.args) > 1
                    and isinstance(node.args[0], ast.Name) and node.args[0].id == argname
                    and isinstance(node.args[1], ast.Constant)):
                found.add(node.args[1].value)
            callee = func.__globals__.get(node.func.id) if isinstance(node.func, ast.Name) else None
            if not (inspect.isfunction(callee) and callee.__module__.startswith("robustmech.cli")):
                continue
            params = list(inspect.signature(callee).parameters)
            passed = [params[i] for i, a in enumerate(node.args)
                      if isinstance(a, ast.Name) and a.id == argname and i < len(params)]
            passed += [k.arg for k in node.keywords if isinstance(k.value, ast.Name) and k.value.id == argname]
            for p in passed:
                found |= _reads(callee, p, seen)
    return found


@pytest.mark.parametrize("command", sorted(subparsers()))
def test_every_option_of_every_subcommand_is_used(command):
    """No option is accepted and ignored: each destination of the subcommand's parser
    (what `robustmech COMMAND --help` lists) is read by its handler."""
    sub = subparsers()[command]
    handler = sub.get_default("handler")
    first = next(iter(inspect.signature(handler).parameters))
    used = _reads(handler, first, set())
    dests = {a.dest for a in sub._actions if not isinstance(a, argparse._HelpAction)}
    assert dests, command
    assert dests <= used, f"robustmech {command} accepts {sorted(dests - used)} and never reads them"


def _recording(monkeypatch, module, name, calls, result=None):
    """Replace ``module.name`` by a stand-in that records its keyword arguments and then
    calls the real function (or fails like a solver, when ``result`` is 'fail')."""
    real = getattr(module, name)

    def stand_in(*args, **kwargs):
        calls.append(kwargs)
        if result == "fail":
            raise SolverError("stand-in: not solved", "error")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, stand_in)


SOLVER_FLAGS = ["--solver", "highs-ipm", "--time-limit", "30", "--verbose", "--no-symmetry"]
SOLVER_KWARGS = {"solver": "highs-ipm", "time_limit": 30.0, "verbose": True, "symmetry": False}


@pytest.mark.parametrize("argv, where", [
    (["solve", PUBLIC_GOOD, "--k", "2"], ("robustmech.cli.solve", "api", "solve")),
    (["bounds", PUBLIC_GOOD, "--k", "2"], ("robustmech.cli.solve", "api", "bounds")),
    (["certify", PUBLIC_GOOD, "--k", "2"], ("robustmech.cli.certify", None, "certify_chain")),
    (["evaluate", MYERSON, "--mechanism", "posted_price(price=1)"], ("robustmech.cli.evaluate", None, "guarantee")),
    (["evaluate", PUBLIC_GOOD, "--information", "no_information"], ("robustmech.cli.evaluate", None, "potential")),
], ids=["solve", "bounds", "certify", "evaluate-mechanism", "evaluate-information"])
def test_the_solver_options_reach_the_library(capsys, monkeypatch, argv, where):
    """--solver, --time-limit, --verbose and --no-symmetry arrive at the library call as
    solver=, time_limit=, verbose=, symmetry= (--no-symmetry used to be accepted and
    dropped by certify and evaluate); without the flags, the library's defaults."""
    import importlib

    module = importlib.import_module(where[0])
    target = getattr(module, where[1]) if where[1] else module
    calls: list[dict] = []
    _recording(monkeypatch, target, where[2], calls, result="fail")
    code, _, err = run(capsys, *argv, *SOLVER_FLAGS)
    assert code == 3 and err.splitlines()[-1] == "robustmech: error: stand-in: not solved"
    assert {k: calls[0].get(k) for k in SOLVER_KWARGS} == SOLVER_KWARGS
    calls.clear()
    code, _, _ = run(capsys, *argv)
    assert code == 3
    assert {k: calls[0].get(k) for k in SOLVER_KWARGS} == {"solver": "auto", "time_limit": None, "verbose": False,
                                                           "symmetry": True}


def test_no_symmetry_evaluates_the_same_guarantee(capsys, monkeypatch):
    """The full BCE program and its symmetry reduction give the same guarantee of the
    posted price 1 on 003 Section 1.1's model: 0.75 (best BCE 1.0)."""
    import robustmech.cli.evaluate as evaluate

    calls: list[dict] = []
    _recording(monkeypatch, evaluate, "guarantee", calls)
    values = []
    for extra in ([], ["--no-symmetry"]):
        code, out, _ = run(capsys, "evaluate", MYERSON, "--mechanism", "posted_price(price=1)", "--json", *extra)
        assert code == 0
        values.append(json.loads(out))
    assert [c["symmetry"] for c in calls] == [True, False]
    for data in values:
        assert data["guarantee"] == pytest.approx(0.75, abs=1e-9) and data["best_bce"] == pytest.approx(1.0, abs=1e-9)


def test_no_symmetry_certifies_the_same_chain(capsys, monkeypatch):
    """certify --no-symmetry runs the BCE and direct programs in full: the same chain
    LB(2) <= G <= P <= UB(2) around the public good's 1.5567 (Theorem 1 of 004, (15)-(17))."""
    import robustmech.cli.certify as certify

    calls: list[dict] = []
    _recording(monkeypatch, certify, "certify_chain", calls)
    chains = []
    for extra in ([], ["--no-symmetry"]):
        code, out, _ = run(capsys, "certify", PUBLIC_GOOD, "--k", "2", "--json", *extra)
        assert code == 0
        chains.append(json.loads(out))
    assert [c["symmetry"] for c in calls] == [True, False]
    reduced, full = chains
    assert full["holds"] and reduced["holds"]
    assert full["lower"] <= 1.5567 <= full["upper"]
    for key in ("lower", "mechanism_guarantee", "information_potential", "upper"):
        assert full[key] == pytest.approx(reduced[key], abs=1e-7)


# --- one error path -----------------------------------------------------------------

@pytest.mark.parametrize("module", [m.rsplit(".", 1)[1] for m in SUBCOMMANDS])
def test_handlers_raise_instead_of_printing_errors_or_exiting(module):
    text = (CLI / f"{module}.py").read_text()
    assert "sys.exit" not in text
    assert "robustmech: error" not in text and "robustmech: interrupted" not in text
    handlers = {sub.get_default("handler") for sub in subparsers().values()}
    for handler in (h for h in handlers if h.__module__ == f"robustmech.cli.{module}"):
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(handler)))):
            if isinstance(node, ast.Return):  # main exits 0 unless a handler raises
                assert node.value is None, f"{handler.__name__} returns a value (an exit code?)"


def test_lb_above_ub_exits_3_after_printing_the_result(capsys, monkeypatch):
    """Theorem 1 of 004 rules out LB(k) > UB(k); bounds reporting it (here LB and UB
    swapped by a stand-in) prints the JSON and exits 3 with one error line."""
    env = rm.load_model(PUBLIC_GOOD)
    lower, upper = rm.solve(env, "guarantee", 2), rm.solve(env, "potential", 2)
    from robustmech.results.bounds import Bounds

    monkeypatch.setattr(api, "bounds", lambda *a, **k: Bounds(lower=upper, upper=lower))
    code, out, err = run(capsys, "bounds", PUBLIC_GOOD, "--k", "2", "--json")
    assert code == 3
    assert json.loads(out)["consistent"] is False
    assert err.count("\n") == 1 and err.startswith("robustmech: error: LB(2) = ") and "Theorem 1 of 004" in err


def test_a_broken_certificate_exits_3(capsys, monkeypatch):
    import robustmech.cli.certify as certify
    from robustmech.certify import Certificate

    broken = Certificate(k=2, lower=1.2, mechanism_guarantee=1.0, information_potential=2.0, upper=2.1,
                         tolerance=1e-6, model="public_good")
    monkeypatch.setattr(certify, "certify_chain", lambda *a, **k: broken)
    code, out, err = run(capsys, "certify", PUBLIC_GOOD, "--k", "2", "--json")
    assert code == 3 and json.loads(out)["holds"] is False
    assert err.count("\n") == 1 and err.startswith("robustmech: error: certificate chain broken on public_good at k=2")
    assert "LB(k) <= G(M_LB) fails: 1.2 > 1" in err


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SolverError("LB-G-2: interrupted by the user (Ctrl-C)",
                                                                   "interrupted")], ids=["ctrl-c", "solver"])
def test_ctrl_c_exits_130_with_one_line(capsys, monkeypatch, exc):
    def interrupted(*args, **kwargs):
        raise exc

    monkeypatch.setattr(api, "solve", interrupted)
    code, out, err = run(capsys, "solve", PUBLIC_GOOD, "--k", "2", "--json")
    assert code == 130 and out == ""
    assert err.count("\n") == 1 and err.startswith("robustmech: interrupted")


def test_an_interrupted_sweep_says_how_to_resume(capsys, monkeypatch, tmp_path):
    import robustmech.cli.sweep as sweep

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "run_sweep", interrupted)
    out = str(tmp_path / "runs")
    code, _, err = run(capsys, "sweep", PUBLIC_GOOD, "--k", "2", "--out", out, "--quiet")
    assert code == 130
    assert err == f"robustmech: interrupted: finished rows are saved in {out}; run the same command to resume\n"


@pytest.mark.parametrize("argv, message", [
    (["sweep", PUBLIC_GOOD, "--k", "2", "--out", "runs", "--scheduler", "tcp://x:1"],
     "--scheduler needs --backend dask"),
    (["bench", "--models", "/nonexistent/models"], "no models folder at /nonexistent/models (use --models DIR)"),
], ids=["sweep-scheduler", "bench-models"])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err == f"robustmech: error: {message}\n"


def test_failed_checks_exit_1_with_one_error_line(capsys, monkeypatch):
    """verify keeps its exit 1 for a failing identity (004 Lemma 2 with the wrong adjoint)
    and says which, once, on stderr."""
    from robustmech.symbolic import checks

    original = checks.CHECKS["summation-by-parts"].run
    wrong = checks.Check("summation-by-parts", "004 Lemma 2", lambda: original(adjoint=lambda g, i: -g.upward(i).T))
    monkeypatch.setitem(checks.CHECKS, "summation-by-parts", wrong)
    code, out, err = run(capsys, "verify", "summation-by-parts")
    assert code == 1 and "FAIL" in out
    assert err == "robustmech: error: 1 of 1 checks failed: summation-by-parts\n"


def _cli(*argv, stdout=subprocess.PIPE):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "robustmech", *argv], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, cwd=ROOT, env=env, timeout=300)


def test_a_closed_stdout_pipe_exits_141_quietly():
    """`robustmech ... | head -1` where head has gone: exit 141 (128 + SIGPIPE, what git
    exits with), no traceback and no message."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write
    try:
        proc = _cli("verify", "--list", stdout=write_end)
    finally:
        os.close(write_end)
    assert proc.returncode == 141 and proc.stderr == ""


# --- stdout carries the result alone ------------------------------------------------

def test_verbose_json_prints_only_json_on_stdout():
    """The solver's log goes to stderr: stdout is one JSON object, LB(2) of the public
    good, below its closed-form guarantee 1.5567 (004 (15)-(17)) and equal to the library's."""
    proc = _cli("solve", "models/public_good.mech", "--k", "2", "--verbose", "--json")
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert obj["program"] == "guarantee" and obj["k"] == 2 and obj["status"] == "optimal"
    assert obj["value"] <= 1.5567
    assert obj["value"] == pytest.approx(rm.solve(rm.load_model(PUBLIC_GOOD), "guarantee", 2).value, abs=1e-9)
    assert len(proc.stderr.splitlines()) > 3  # the log went somewhere: stderr


def test_symmetry_in_json_is_an_object(capsys):
    """The symmetry report is a JSON object (the swap of the two agents of the public
    good: a group of order 2), not the text of a Python dict."""
    code, out, _ = run(capsys, "solve", PUBLIC_GOOD, "--k", "2", "--json")
    assert code == 0
    obj = json.loads(out)
    assert isinstance(obj["symmetry"], dict)
    assert obj["symmetry"]["group_order"] == 2
    assert obj["symmetry"]["columns"] < obj["symmetry"]["full_columns"] == obj["variables"]


def test_solver_log_to_stderr_moves_fd_1_and_python_stdout(capfd):
    """What C code writes to file descriptor 1 and Python to sys.stdout inside the
    context lands on stderr; stdout is back afterwards."""
    from robustmech.cli.common import solver_log_to_stderr

    with solver_log_to_stderr():
        os.write(1, b"from C\n")
        print("from Python")
    print("result")
    out, err = capfd.readouterr()
    assert out == "result\n"
    assert err == "from C\nfrom Python\n"


# --- options that only some uses read are refused elsewhere -------------------------

@pytest.fixture(scope="module")
def saved_lb(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "lb.json"
    assert main(["solve", PUBLIC_GOOD, "--k", "2", "--out", str(path)]) == 0
    return str(path)


@pytest.mark.parametrize("extra, message", [
    (["--figure", "allocation", "--levels", "1,2"], "--levels is for the public-good figure, not allocation"),
    (["--figure", "bce", "--closed-form"], "--closed-form is for the public-good figure, not bce"),
    (["--outcome", "none"], "--outcome is for the allocation figure, not public-good"),
    (["--model", PUBLIC_GOOD], "--model is for the bce and proportional figures, not public-good"),
    (["--k", "2"], "--k picks rows of a sweep folder; {lb} is a saved result"),
    (["--param", "N=2"], "--param picks rows of a sweep folder; {lb} is a saved result"),
], ids=["levels", "closed-form", "outcome", "model", "k", "param"])
def test_plot_refuses_an_option_its_figure_would_not_read(capsys, tmp_path, saved_lb, extra, message):
    out = tmp_path / "fig.png"
    code, _, err = run(capsys, "plot", saved_lb, "--out", str(out), *extra)
    assert code == 2 and err == f"robustmech: error: {message.format(lb=saved_lb)}\n"
    assert not out.exists()


def test_plot_refuses_k_for_the_convergence_figure(capsys, tmp_path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "sweep.json").write_text("{}")  # refused before the sweep is read
    code, _, err = run(capsys, "plot", str(folder), "--k", "3", "--out", str(tmp_path / "c.png"))
    assert code == 2
    assert err == ("robustmech: error: --k picks the row of the public-good figure; "
                   "the convergence figure draws every k\n")


def test_sweep_refuses_jobs_it_would_not_use(capsys, tmp_path):
    code, _, err = run(capsys, "sweep", PUBLIC_GOOD, "--k", "2", "--out", str(tmp_path / "r"), "--backend", "serial",
                       "--jobs", "2")
    assert code == 2 and err.count("\n") == 1 and err.startswith("robustmech: error: --jobs sets the processes")
    assert not (tmp_path / "r").exists()


def test_verify_list_names_and_json(capsys):
    """--list lists the named checks (with their sources) and --json makes it JSON."""
    code, out, _ = run(capsys, "verify", "--list", "lemma-11", "summation-by-parts", "--json")
    assert code == 0
    assert json.loads(out) == {"checks": [{"check": "lemma-11", "source": "002 Lemma 11"},
                                          {"check": "summation-by-parts", "source": "004 Lemma 2 and eq. (7)"}]}
    code, _, err = run(capsys, "verify", "--list", "no-such-check")
    assert code == 2 and err.startswith("robustmech: error: unknown check 'no-such-check'")
