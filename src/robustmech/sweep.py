"""Sweeps: the bounds LB(k) <= value <= UB(k) of 004 Theorem 1 over a grid of k and
model parameters, written as a tidy table that survives interruptions.

``run_sweep(model, ks, params, out)`` solves one row per combination of parameter
values and k with :func:`robustmech.bounds` and writes, into the folder ``out``:

* ``sweep.json``: what the sweep is (the model and a hash of its text, the grid, the
  solver options) so that a re-run can tell whether it may resume;
* ``rows/<id>.json``: one file per finished row, written atomically as soon as the
  row is solved: a sweep that is interrupted and run again skips these rows;
* ``table.csv`` and ``table.json``: the table, one row per solve (parameters, k,
  lower, upper, gap, status, times), in grid order, rewritten after every run;
* ``results/<id>.lb.json`` / ``.ub.json`` (+ ``.npz``) with ``save_results``: the full
  LB-G-k and UB-P-k solutions, which ``robustmech plot DIR --figure public-good`` reads.

Backends: ``serial`` (this process), ``local`` (a process pool on all cores, the
default) and ``dask`` (a Dask distributed cluster: a running scheduler's address, or
a ``LocalCluster`` on this machine). Rows are computed the same way on each, so the
tables agree except for the timing columns.

A model is a ``.mech`` file (parameters typed by the elaborator), a Python factory
``file.py:function`` or ``package.module:function`` called with the parameters as
keyword arguments (values that look like integers or decimals become numbers), or,
from Python, a picklable callable.

The sweep runs the whole pipeline, so its worker calls :func:`robustmech.api.bounds`
(imported when a row runs): the one place in ``results/`` that looks past the stages
before it, as the orchestration layer the API is.
"""

from __future__ import annotations

import csv
import hashlib
import html
import importlib
import importlib.util
import io
import itertools
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import ParameterError, RobustMechError
from .parallel import usable_cores

FORMAT = "robustmech-sweep/1"
BACKENDS = ("local", "serial", "dask")
TIMING_COLUMNS = ("lower_build_seconds", "lower_solve_seconds", "upper_build_seconds", "upper_solve_seconds",
                  "build_seconds", "solve_seconds", "wall_seconds")
COLUMNS = ("id", "model", "k", "lower", "upper", "gap", "status", "error", "solver") + TIMING_COLUMNS


# ---------------------------------------------------------------------------
# parsing the grid


def parse_ks(text: str) -> list[int]:
    """``2..10`` (inclusive), ``2..10..2`` (with a step), ``2,4,8`` or a mix ``2..4,8``."""
    out: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            raise ParameterError(f"--k: empty item in {text!r}")
        m = re.fullmatch(r"(\d+)\s*\.\.\s*(\d+)(?:\s*\.\.\s*(\d+))?", part)
        try:
            if m:
                lo, hi, step = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
                if hi < lo or step < 1:
                    raise ParameterError(f"--k: empty range {part!r}")
                out.extend(range(lo, hi + 1, step))
            else:
                out.append(int(part))
        except ValueError:
            raise ParameterError(f"--k expects integers or ranges like 2..10, got {part!r}") from None
    bad = [k for k in out if k < 1]
    if bad:
        raise ParameterError(f"--k: k must be a positive integer, got {bad[0]}")
    return sorted(set(out))


def parse_param_grid(items: Iterable[str]) -> dict[str, list[str]]:
    """``["N=2,3", "vbar=3,4"]`` to ``{"N": ["2", "3"], "vbar": ["3", "4"]}`` (order kept)."""
    grid: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = str(item).partition("=")
        name = name.strip()
        vals = [v.strip() for v in values.split(",")]
        if not sep or not name or not values.strip() or any(not v for v in vals):
            raise ParameterError(f"--param expects NAME=VALUE[,VALUE...], got {item!r}")
        if name in grid:
            raise ParameterError(f"--param {name} is given twice")
        if len(set(vals)) != len(vals):
            raise ParameterError(f"--param {name} repeats a value")
        grid[name] = vals
    return grid


def _coerce(value):
    """A parameter value for a Python factory: an int, a decimal, or the string."""
    if isinstance(value, str):
        if re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
        try:
            return float(value)
        except ValueError:
            return value
    return value


# ---------------------------------------------------------------------------
# the model


@dataclass(frozen=True)
class ModelSpec:
    """How every worker builds the environment for one row (picklable)."""

    kind: str  # "mech" | "file" | "module" | "callable"
    target: Any  # a path, "module:function", or a callable
    function: str | None = None

    @classmethod
    def of(cls, model) -> "ModelSpec":
        if callable(model):
            return cls("callable", model)
        text = os.fspath(model)
        path, sep, func = text.rpartition(":")
        if sep and path.endswith(".py"):
            if not os.path.isfile(path):
                raise ParameterError(f"no such Python file: {path}")
            return cls("file", os.path.abspath(path), func)
        if (sep and re.fullmatch(r"[A-Za-z_][\w.]*", path or "") and re.fullmatch(r"[A-Za-z_]\w*", func)
                and not os.path.exists(text)):
            return cls("module", path, func)
        if not os.path.isfile(text):
            raise ParameterError(f"no such model file: {text}")
        return cls("mech", os.path.abspath(text))

    @property
    def name(self) -> str:
        if self.kind == "callable":
            return getattr(self.target, "__qualname__", repr(self.target))
        if self.kind in ("file", "module"):
            return f"{self.target}:{self.function}"
        return self.target

    def text(self) -> str | None:
        """The model's source text, when it is a file."""
        if self.kind in ("mech", "file"):
            with open(self.target, encoding="utf-8") as fh:
                return fh.read()
        return None

    def identity(self) -> str:
        """A hash of what the model is: its file's text, or the factory's name."""
        text = self.text()
        payload = text if text is not None else f"{self.kind}:{self.name}"
        return hashlib.sha256(payload.encode()).hexdigest()

    def build(self, params: Mapping[str, str]):
        if self.kind == "mech":
            from . import api

            return api.load_model(self.target, dict(params))
        if self.kind == "callable":
            factory = self.target
        elif self.kind == "file":
            modname = "_robustmech_sweep_" + hashlib.sha1(self.target.encode()).hexdigest()[:12]
            module = sys.modules.get(modname)
            if module is None:
                spec = importlib.util.spec_from_file_location(modname, self.target)
                if spec is None or spec.loader is None:
                    raise ParameterError(f"cannot import {self.target} as a Python file")
                module = importlib.util.module_from_spec(spec)
                sys.modules[modname] = module
                spec.loader.exec_module(module)
            factory = _attribute(module, self.function, self.target)
        else:
            try:
                module = importlib.import_module(self.target)
            except ImportError as exc:
                raise ParameterError(f"cannot import {self.target}: {exc}") from None
            factory = _attribute(module, self.function, self.target)
        try:
            return factory(**{k: _coerce(v) for k, v in params.items()})
        except TypeError as exc:
            raise ParameterError(f"{self.name} does not take these parameters ({exc})") from None


def _attribute(module, name, where):
    func = getattr(module, name, None)
    if not callable(func):
        raise ParameterError(f"{where} has no function {name!r}")
    return func


# ---------------------------------------------------------------------------
# rows


def row_id(params: Mapping[str, str], k: int) -> str:
    """A file-safe, readable id: ``N=2_vbar=3_k=4`` (plus a short hash when a name or
    value needed escaping)."""
    parts = [(str(p), str(v)) for p, v in params.items()] + [("k", str(k))]
    clean = [(re.sub(r"[^A-Za-z0-9.+-]", "-", p), re.sub(r"[^A-Za-z0-9.+-]", "-", v)) for p, v in parts]
    rid = "_".join(f"{p}={v}" for p, v in clean)
    if clean != parts or len(rid) > 120:
        raw = "_".join(f"{p}={v}" for p, v in parts)
        rid = rid[:100] + "~" + hashlib.sha1(raw.encode()).hexdigest()[:8]
    return rid


@dataclass(frozen=True)
class Task:
    id: str
    params: dict
    k: int


def grid_tasks(ks: Sequence[int], params: Mapping[str, Sequence[str]]) -> list[Task]:
    """The rows of the grid, parameters in the order given (the first slowest), then k."""
    names = list(params)
    tasks = []
    for values in itertools.product(*[params[n] for n in names]):
        p = dict(zip(names, (str(v) for v in values)))
        for k in ks:
            tasks.append(Task(row_id(p, k), p, int(k)))
    return tasks


def solve_row(model: ModelSpec, task: Task, solver: str = "auto", time_limit: float | None = None,
              results_dir: str | None = None, truncate: bool = True) -> dict:
    """One row: build the environment, solve LB(k) and UB(k) with
    :func:`robustmech.bounds` (Theorem 1 of 004; ``truncate`` as there), return the row
    (never raises for a model or solver failure: the row records it)."""
    from . import api

    start = time.perf_counter()
    row: dict[str, Any] = {"id": task.id, "model": None, "params": dict(task.params), "k": task.k, "lower": None,
                           "upper": None, "gap": None, "status": "failed", "error": None, "solver": solver}
    try:
        env = model.build(task.params)
        row["model"] = env.name
        # the sweep's workers share the cores among its rows: one process a row
        b = api.bounds(env, task.k, solver=solver, time_limit=time_limit, concurrent=False, truncate=truncate)
        s = b.summary()
        row.update({"lower": s["lower"], "upper": s["upper"], "gap": s["gap"], "status": s["status"]})
        for c in TIMING_COLUMNS[:-1]:
            row[c] = s.get(c)
        if results_dir is not None:
            source = getattr(env, "source", None) or model.text()
            for tag, res in (("lb", b.lower), ("ub", b.upper)):
                res.save(os.path.join(results_dir, f"{task.id}.{tag}.json"), force=True, source=source)
    except RobustMechError as exc:
        row["error"] = str(exc)
    except Exception as exc:  # a bug should not lose the rest of the sweep; the row says what happened
        row["error"] = f"{type(exc).__name__}: {exc}"
    row["wall_seconds"] = round(time.perf_counter() - start, 6)
    return row


# ---------------------------------------------------------------------------
# the table


@dataclass
class SweepTable:
    """A sweep's rows, one per solve; prints as text, renders as HTML in Jupyter."""

    rows: list[dict]
    params: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return ["id", "model"] + self.params + [c for c in COLUMNS if c not in ("id", "model")]

    def flat(self) -> list[dict]:
        """Rows with the parameters as their own columns (the CSV layout)."""
        out = []
        for r in self.rows:
            flat = {c: r.get(c) for c in COLUMNS}
            flat.update({p: (r.get("params") or {}).get(p) for p in self.params})
            out.append({c: flat.get(c) for c in self.columns})
        return out

    def values(self, drop_timings: bool = True) -> list[dict]:
        """The rows without the timing columns: what must agree between backends."""
        return [{c: v for c, v in r.items() if not (drop_timings and c in TIMING_COLUMNS)} for r in self.flat()]

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        for r in self.flat():
            writer.writerow({c: _csv_value(v) for c, v in r.items()})
        return buf.getvalue()

    def to_json(self) -> dict:
        return {"format": FORMAT, **self.meta, "params": self.params, "columns": self.columns, "rows": self.flat()}

    def finished(self) -> list[dict]:
        return [r for r in self.rows if r.get("status") == "optimal"]

    def __len__(self) -> int:
        return len(self.rows)

    def __str__(self) -> str:
        shown = ["k"] + self.params + ["lower", "upper", "gap", "status", "wall_seconds"]
        head = [c if c != "wall_seconds" else "seconds" for c in shown]
        body = []
        for r in self.flat():
            body.append([_text(r.get(c)) for c in shown])
        widths = [max(len(h), *(len(b[j]) for b in body)) if body else len(h) for j, h in enumerate(head)]
        lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(b, widths)) for b in body]
        failed = [r for r in self.rows if r.get("status") != "optimal" and r.get("error")]
        for r in failed:
            lines.append(f"  {r['id']}: {r['error']}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        shown = ["k"] + self.params + ["lower", "upper", "gap", "status", "wall_seconds"]
        head = "".join(f"<th>{html.escape(c)}</th>" for c in shown)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_text(r.get(c)))}</td>" for c in shown) + "</tr>"
                       for r in self.flat())
        title = html.escape(str(self.meta.get("model", "sweep")))
        return f"<table><caption>{title}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _csv_value(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return v


def _text(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6f}"
    return str(v)


# ---------------------------------------------------------------------------
# the folder


def _write_json_atomic(path: str, obj) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1, default=_json_default)
    os.replace(tmp, path)


def _write_text_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _json_default(v):
    try:
        return v.item()
    except AttributeError:
        return str(v)


def is_sweep_dir(path: str | os.PathLike) -> bool:
    return os.path.isfile(os.path.join(os.fspath(path), "sweep.json"))


def load_sweep(path: str | os.PathLike) -> SweepTable:
    """The table of the sweep in folder ``path``: every finished (or failed) row on
    disk, in the grid order of ``sweep.json``."""
    path = os.fspath(path)
    if not is_sweep_dir(path):
        raise ParameterError(f"{path} is not a sweep folder (no sweep.json)")
    with open(os.path.join(path, "sweep.json")) as fh:
        manifest = json.load(fh)
    if manifest.get("format") != FORMAT:
        raise ParameterError(f"{path}/sweep.json is not a robustmech sweep (format {manifest.get('format')!r})")
    tasks = grid_tasks(manifest["ks"], manifest["params"])
    rows = [r for r in (_read_row(path, t.id) for t in tasks) if r is not None]
    kept = ("model", "model_name", "ks", "solver", "time_limit", "truncate", "backend")
    meta = {k: manifest[k] for k in kept if k in manifest}
    return SweepTable(rows, list(manifest["params"]), meta)


def _read_row(folder: str, rid: str) -> dict | None:
    p = os.path.join(folder, "rows", f"{rid}.json")
    if not os.path.isfile(p):
        return None
    try:
        with open(p) as fh:
            return json.load(fh)
    except (OSError, json.JSONDecodeError):
        return None  # a row torn by a crash is solved again


def result_paths(folder: str | os.PathLike, row: Mapping[str, Any]) -> tuple[str, str]:
    """The saved LB and UB results of a row (``save_results``)."""
    base = os.path.join(os.fspath(folder), "results", row["id"])
    return base + ".lb.json", base + ".ub.json"


def _prepare(out: str, manifest: dict, force: bool) -> None:
    if os.path.exists(out) and not os.path.isdir(out):
        raise ParameterError(f"{out} exists and is not a folder")
    if os.path.isdir(out) and not is_sweep_dir(out) and os.listdir(out):
        raise FileExistsError(f"{out} is a folder that is not a sweep; refusing to write into it")
    if is_sweep_dir(out):
        with open(os.path.join(out, "sweep.json")) as fh:
            old = json.load(fh)
        old.setdefault("truncate", True)  # a sweep written before the setting was recorded used the default
        keys = ("model_identity", "solver", "time_limit", "truncate")
        changed = [k for k in keys if old.get(k) != manifest.get(k)]
        if changed:
            what = {"model_identity": "the model (its file changed, or another model)", "solver": "the solver",
                    "time_limit": "the time limit", "truncate": "truncation setting (--no-truncation)"}
            if not force:
                raise FileExistsError(f"{out} holds a sweep with a different {what[changed[0]]}; "
                                      "refusing to mix them (use --force to start it over)")
            for sub in ("rows", "results"):
                shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
            for f in ("table.csv", "table.json"):
                if os.path.exists(os.path.join(out, f)):
                    os.remove(os.path.join(out, f))
    os.makedirs(os.path.join(out, "rows"), exist_ok=True)
    _write_json_atomic(os.path.join(out, "sweep.json"), manifest)


def write_table(out: str) -> SweepTable:
    table = load_sweep(out)
    _write_text_atomic(os.path.join(out, "table.csv"), table.to_csv())
    _write_json_atomic(os.path.join(out, "table.json"), table.to_json())
    return table


@dataclass
class SweepRun:
    """What :func:`run_sweep` did: the table, and how many rows it solved or skipped."""

    table: SweepTable
    solved: int
    skipped: int
    failed: int
    folder: str


def run_sweep(model, ks: Sequence[int] | str, params: Mapping[str, Sequence[Any]] | Sequence[str] | None,
              out: str | os.PathLike, *, backend: str = "local", jobs: int | None = None,
              scheduler: str | None = None, solver: str = "auto",
              time_limit: float | None = None, save_results: bool = False, force: bool = False,
              progress: Callable[[int, int, dict], None] | None = None, truncate: bool = True) -> SweepRun:
    """Solve LB(k) and UB(k) for every combination of ``params`` and every k in ``ks``,
    into the folder ``out``; rows already there are not solved again. ``truncate=False``
    solves every program on its whole grid (:func:`robustmech.bounds`), never on boxes of
    low profiles first: the same values, certified either way, and a sweep resumes only
    with the setting it was started with.

    ``progress(done, total, row)`` is called after each row. On an interruption
    (Ctrl-C) the finished rows stay on disk and the table is written before the
    interruption propagates.
    """
    if backend not in BACKENDS:
        raise ParameterError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if jobs is not None and jobs < 1:
        raise ParameterError(f"--jobs must be a positive integer, got {jobs}")
    spec = ModelSpec.of(model)
    ks = parse_ks(ks) if isinstance(ks, str) else sorted({int(k) for k in ks})
    if not ks or any(k < 1 for k in ks):
        raise ParameterError("give at least one positive k")
    if params is None:
        params = {}
    elif not isinstance(params, Mapping):
        params = parse_param_grid(params)
    params = {str(n): [str(v) for v in vals] for n, vals in params.items()}
    out, truncate = os.fspath(out), bool(truncate)
    manifest = {"format": FORMAT, "model": spec.name, "model_identity": spec.identity(), "ks": ks, "params": params,
                "solver": solver, "time_limit": time_limit, "truncate": truncate, "backend": backend}
    _prepare(out, manifest, force)
    results_dir = None
    if save_results:
        results_dir = os.path.join(out, "results")
        os.makedirs(results_dir, exist_ok=True)
    tasks = grid_tasks(ks, params)
    done = {t.id for t in tasks if (r := _read_row(out, t.id)) is not None and r.get("status") == "optimal"}
    if save_results:  # a row without its saved solutions is solved again
        done = {rid for rid in done if all(os.path.isfile(p) for p in result_paths(out, {"id": rid}))}
    pending = [t for t in tasks if t.id not in done]
    total, count, failed = len(tasks), len(done), 0

    def record(row: dict) -> None:
        nonlocal count, failed
        _write_json_atomic(os.path.join(out, "rows", f"{row['id']}.json"), row)
        count += 1
        failed += row.get("status") != "optimal"
        if progress is not None:
            progress(count, total, row)

    args = (solver, time_limit, results_dir, truncate)
    try:
        if pending:
            _BACKEND_RUNNERS[backend](spec, pending, args, record, jobs=jobs, scheduler=scheduler)
    finally:
        table = write_table(out)
    return SweepRun(table, len(pending), len(done), failed, out)


def _run_serial(spec, tasks, args, record, **_):
    for t in tasks:
        record(solve_row(spec, t, *args))


def _run_local(spec, tasks, args, record, jobs=None, **_):
    """Rows on local worker processes. The parent owns the workers and terminates them on
    Ctrl-C (or any error): a worker inside a solver's C code sees a signal only when the
    solve returns, and concurrent.futures' pool joins its manager thread at interpreter
    exit, which waited for the rows in flight (98 s measured) or, interrupted inside its
    own locks, for ever. Finished rows are already on disk when a row is recorded."""
    import multiprocessing
    import queue

    workers = min(jobs or usable_cores(), len(tasks))
    if workers <= 1:
        return _run_serial(spec, tasks, args, record)
    ctx = multiprocessing.get_context()
    todo, done = ctx.Queue(), ctx.Queue()
    todo.cancel_join_thread()  # never wait at exit to hand tasks to workers that are gone
    for t in tasks:
        todo.put(t)
    for _worker in range(workers):
        todo.put(None)
    procs = [ctx.Process(target=_local_worker, args=(spec, todo, done, args), daemon=True) for _w in range(workers)]
    for proc in procs:
        proc.start()
    try:
        for _task in tasks:
            while True:
                try:
                    kind, payload = done.get(timeout=0.5)
                    break
                except queue.Empty:
                    if not any(proc.is_alive() for proc in procs) and done.empty():
                        raise RuntimeError("every sweep worker process ended before its rows were done") from None
            if kind == "error":
                raise payload
            record(payload)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=5)


def _local_worker(spec, todo, done, args) -> None:
    """One worker: solve rows until the sentinel ``None``; Ctrl-C is the parent's to handle."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while (task := todo.get()) is not None:
        try:
            done.put(("row", solve_row(spec, task, *args)))
        except BaseException as exc:  # solve_row returns failures as rows; this is a bug, re-raised by the parent
            done.put(("error", exc))
            return


def _run_dask(spec, tasks, args, record, jobs=None, scheduler=None, **_):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ParameterError("the dask backend needs Dask: pip install 'robustmech[cluster]'") from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=min(jobs or usable_cores(), len(tasks)), threads_per_worker=1,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        futures = [client.submit(solve_row, spec, t, *args, key=f"robustmech-{t.id}-{os.getpid()}-{time.time_ns()}",
                                 pure=False) for t in tasks]
        for fut in as_completed(futures):
            record(fut.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


_BACKEND_RUNNERS = {"serial": _run_serial, "local": _run_local, "dask": _run_dask}
