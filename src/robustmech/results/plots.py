"""Figures of the papers, drawn from economic objects (matplotlib, no screen needed).

Every figure is a :class:`matplotlib.figure.Figure` built without ``pyplot``, so nothing
needs a display and no global state is touched. Each axes is labelled with the name of
its panel (``ax.get_label()``), and the arrays a panel shows are kept, next to the
artists, in ``fig.robustmech_panels[name]`` (a :class:`Panel`): tests compare those
arrays, and the artists' own data, with the solution's, never pixels.

Figures (``FIGURES`` lists them by the name ``robustmech plot --figure`` takes):

* ``public-good``: Figure 1 of 004 (Section 4.2), six panels from an LB-G-k solution
  (total expenditure E(x) = 1 - m(0|x) as a contour over the action profile, E against
  the aggregate action Σx, agent 1's share e_1(x)/E(x) against x_1 at fixed Σx) and a
  UB-P-k solution (log ρ(x) as a contour, ρ against Σx, agent 1's interim value
  v_1(x) = Σ_θ θ_1 σ(x, θ)/ρ(x) against x_1 at fixed Σx);
* ``convergence``: Figure 1 of 001 (Section 5.3), the upper bound UB(k), the lower
  bound LB(k) and the scaled upper bound (k-1)/k · UB(k) against k, from a sweep;
* ``allocation``: a two-bidder mechanism's allocation q_i(x_1, x_2) as heat maps over
  the two actions;
* ``bce``: a Bayes correlated equilibrium's joint distribution of actions and states
  σ(a_1, a_2, θ), one heat map per state;
* ``proportional``: Figure 2 of 002, the proportional auction's aggregate allocation
  and aggregate transfer from the closed forms (supplied by the caller as callables),
  with an LP solution's aggregates overlaid where one is given.

The LB-G-k optimum is very degenerate (004 Section 4.2): above the aggregate action
where total expenditure first reaches 1 the LP does not pin the mechanism down. The
figures show solutions as solved and say so in a caption; nothing is smoothed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..errors import ParameterError
from ..model.objects import InformationStructure, Mechanism

if TYPE_CHECKING:
    from .figure import PanelFigure

FORMATS = (".png", ".pdf", ".svg")
FIGURES = ("public-good", "convergence", "allocation", "bce", "proportional")

# the three series of 001 Figure 1, in the paper's colours
UPPER_COLOR, LOWER_COLOR, SCALED_COLOR = "tab:blue", "tab:red", "tab:green"

DEGENERACY_NOTE = ("LB-G-k solution as solved: above the aggregate action where E first reaches 1 "
                   "the program does not pin the mechanism down (004 Section 4.2).")


@dataclass
class Panel:
    """What one panel shows: its notation and the arrays drawn (``x``, ``y``, ``z``...)."""

    name: str
    title: str
    xlabel: str
    ylabel: str
    data: dict = field(default_factory=dict)


def _figure(nrows: int, ncols: int, width: float, height: float) -> tuple[PanelFigure, np.ndarray]:
    from .figure import PanelFigure

    fig = PanelFigure(figsize=(width, height), layout="constrained")
    axes = np.atleast_2d(fig.subplots(nrows, ncols, squeeze=False))
    return fig, axes


def _register(fig: PanelFigure, ax, panel: Panel) -> None:
    ax.set_label(panel.name)
    ax.set_title(panel.title, fontsize=10)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    fig.robustmech_panels[panel.name] = panel


def panel_axes(fig, name: str):
    """The axes of the panel called ``name`` (raises KeyError if there is none)."""
    for ax in fig.axes:
        if ax.get_label() == name:
            return ax
    raise KeyError(name)


def save_figure(fig, path: str | os.PathLike, force: bool = False, dpi: int = 150) -> str:
    """Write ``fig`` to ``path``; the format comes from the extension (.png, .pdf, .svg).
    Refuses to overwrite an existing file unless ``force``."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise ParameterError(f"cannot tell the image format of {path!r}: use a name ending in {', '.join(FORMATS)}")
    if os.path.exists(path) and not force:
        raise FileExistsError(f"{path} exists; refusing to overwrite it (use --force)")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ParameterError(f"the folder {folder} does not exist")
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def describe_params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in params.items())


def _frac(v: float) -> str:
    """A grid point l/k as a fraction (grid values are rational)."""
    from fractions import Fraction

    f = Fraction(float(v)).limit_denominator(1000)
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


# ---------------------------------------------------------------------------
# 004 Figure 1: public expenditure


@dataclass
class PublicGoodMechanism:
    """The public-good reading of a mechanism on a grid: total expenditure E(x) and
    each agent's expenditure e_i(x), from the outcome ``none`` and one ``paid_by``
    outcome per agent, or from one contribution variable per agent (004 Section 4.1)."""

    actions: tuple[np.ndarray, ...]
    expenditure: np.ndarray  # E(x), shape (K_1, ..., K_N)
    shares: np.ndarray  # e_i(x), shape (N, K_1, ..., K_N)


def public_good_mechanism(mechanism: Mechanism, none: str | None = None) -> PublicGoodMechanism:
    """E(x) = 1 - m(none|x) and e_i(x) = m(paid_by[i]|x) (finite outcomes: ``none``
    plus one outcome per agent, in agent order), or E(x) = Σ_i e_i(x) (continuous:
    one variable per agent)."""
    n, names = mechanism.n_agents, list(mechanism.outcome_names)
    if mechanism.finite:
        if len(names) != n + 1:
            raise ParameterError(f"the public-good figure needs outcomes 'none' and one 'paid_by' per agent "
                                 f"({n + 1} outcomes); this mechanism has {len(names)}: {', '.join(names)}")
        zero = names.index(none) if none is not None else (names.index("none") if "none" in names else 0)
        others = [j for j in range(len(names)) if j != zero]
        E = 1.0 - mechanism.rule[..., zero]
        e = np.stack([mechanism.rule[..., j] for j in others])
    else:
        if len(names) != n:
            raise ParameterError(f"the public-good figure needs one contribution variable per agent; "
                                 f"this mechanism has {len(names)}: {', '.join(names)}")
        e = np.moveaxis(mechanism.rule, -1, 0)
        E = e.sum(0)
    return PublicGoodMechanism(mechanism.actions, E, e)


def aggregate(axes: Sequence[np.ndarray]) -> np.ndarray:
    """Σx = Σ_i x_i at every profile of the product of ``axes``."""
    grids = np.meshgrid(*[np.asarray(a, dtype=float) for a in axes], indexing="ij")
    return np.asarray(sum(grids), dtype=float)


def threshold(axes: Sequence[np.ndarray], E: np.ndarray, tol: float = 1e-6) -> float:
    """The smallest aggregate action at which E reaches 1 (y of 004 Section 4.2), or
    the largest aggregate if it never does."""
    agg = aggregate(axes)
    hit = agg[E >= 1 - tol]
    return float(hit.min()) if hit.size else float(agg.max())


#: the share of ρ's largest value below which a profile counts as outside σ's support
#: when the figure's view is chosen (UB-P-30's σ: mass 1 - 6e-9 up to Σx = 8/3 at this
#: share, then values down to 1e-14 up to the box's edge)
SUPPORT_SHARE = 1e-6
#: the bottom panels' default levels reach where ρ is at least this share of its largest
#: (where v_1 is drawn from mass that shows, a narrower support than the view's)
LEVELS_SHARE = 1e-3

#: how far the default view reaches past the last feature (E reaching 1, σ's support)
VIEW_MARGIN = 1.5


def view_extent(mechanism_axes: Sequence[np.ndarray] | None, expenditure: np.ndarray | None,
                signals: Sequence[np.ndarray] | None, rho: np.ndarray | None) -> float | None:
    """The largest action the public-good figure shows by default: half as far again as
    the last of its features (004 Section 4.2: E reaches 1 at the aggregate y; ρ drops to
    near zero past a threshold close to y), rounded up to a half, and never past the
    grid (X(k) reaches k, the features lie near the origin: at k = 30 the view is [0, 4]
    of [0, 30]). None (the whole grid) where there is no feature to show."""
    tops, largest = [], []
    if mechanism_axes is not None and expenditure is not None:
        tops.append(threshold(mechanism_axes, expenditure))
        largest.append(max(float(np.max(a)) for a in mechanism_axes))
    if signals is not None and rho is not None and rho.max() > 0:
        tops.append(float(aggregate(signals)[rho >= SUPPORT_SHARE * rho.max()].max()))
        largest.append(max(float(np.max(a)) for a in signals))
    if not tops:
        return None
    return float(min(np.ceil(2 * VIEW_MARGIN * max(tops)) / 2, min(largest)))


def default_levels(axes: Sequence[np.ndarray], top: float, count: int = 4) -> list[float]:
    """``count`` aggregate levels evenly spread over (0, top], snapped to the grid's
    achievable aggregates."""
    agg = np.unique(np.round(aggregate(axes), 12))
    agg = agg[agg > 0]
    if agg.size == 0:
        return []
    wanted = [top * (j + 1) / count for j in range(count)]
    levels = sorted({float(agg[np.argmin(np.abs(agg - w))]) for w in wanted})
    return levels


def at_level(axes: Sequence[np.ndarray], level: float, tol: float = 1e-9) -> np.ndarray:
    """Mask of the profiles with Σx = level."""
    return np.abs(aggregate(axes) - level) <= tol


def _agent_one_curve(axes, values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """(x_1, f(x)) over the profiles with Σx = level where f is defined, sorted by x_1."""
    mask = at_level(axes, level) & np.isfinite(values)
    x1 = np.broadcast_to(np.asarray(axes[0], dtype=float).reshape((-1,) + (1,) * (len(axes) - 1)), mask.shape)[mask]
    y = values[mask]
    order = np.argsort(x1, kind="stable")
    return x1[order], y[order]


def _slice_2d(arr: np.ndarray) -> np.ndarray:
    """The (x_1, x_2) slice at x_3 = ... = x_N = 0."""
    return arr[(slice(None), slice(None)) + (0,) * (arr.ndim - 2)]


def state_coordinate(state_points: np.ndarray | None, agent: int = 0) -> np.ndarray:
    """θ_i per state: column ``agent`` of the state points (one row per state, as a
    solve returns them and a saved result keeps them)."""
    points = None if state_points is None else np.asarray(state_points, dtype=float)
    if points is None or points.ndim != 2 or points.shape[1] <= agent:
        raise ParameterError(f"cannot read agent {agent + 1}'s value from the states: the result has no state "
                             "points with that coordinate; pass theta1 (one value per state)")
    return points[:, agent]


def public_good_figure(lower=None, upper=None, *, theta1: Sequence[float] | None = None,
                       levels: Sequence[float] | None = None, title: str | None = None,
                       none: str | None = None, closed_form=None, view: float | str = "auto"):
    """Figure 1 of 004: the six panels from an LB-G-k result (``lower``) and a UB-P-k
    result (``upper``). Either may be left out; its column of panels is then left out.

    ``lower``/``upper`` are :class:`~robustmech.results.bounds.ProgramResult` objects
    (or a bare :class:`Mechanism` / :class:`InformationStructure`). ``theta1`` gives
    agent 1's value θ_1 in each state (default: the first coordinate of ``upper``'s
    state points).
    ``levels`` are the aggregate actions Σx at which the bottom panels are drawn
    (default: four levels up to where E first reaches 1).

    ``closed_form``, an object with ``aggregate_expenditure(s)``, ``signal_density(s)``
    and ``vbar`` (:func:`robustmech.symbolic.public_good.public_good_solution`), adds
    the closed forms of 004 Section 4.2 as black curves: Ê(Σx) of (15), the density (16)
    times the grid cell's area k^{-N} (a probability per grid point), and the
    proportional forms x_1/Σx and θ̄ x_1/Σx.

    ``view`` is the largest action x_i (and aggregate Σx) the panels show: ``"auto"``
    (default) where the solutions' features lie (:func:`view_extent`), ``"grid"`` the
    whole grid, or a number. It only sets the axes' limits: every panel's data is the
    whole grid's.
    """
    mech = getattr(lower, "mechanism", lower)
    info = getattr(upper, "information", upper)
    if mech is None and info is None:
        raise ParameterError("the public-good figure needs an LB-G-k result, a UB-P-k result, or both")
    if mech is not None and not isinstance(mech, Mechanism):
        raise ParameterError("the first result holds no mechanism: pass an LB-G-k (guarantee) result")
    if info is not None and not isinstance(info, InformationStructure):
        raise ParameterError("the second result holds no information structure: pass a UB-P-k (potential) result")
    shown = mech if mech is not None else info
    assert shown is not None
    n = shown.n_agents
    if n < 2:
        raise ParameterError("the public-good figure needs at least two agents")
    columns = [c for c, present in (("mechanism", mech is not None), ("information", info is not None)) if present]
    fig, axes = _figure(3, len(columns), 5.2 * len(columns), 11.0)
    col = {c: axes[:, j] for j, c in enumerate(columns)}
    pg = public_good_mechanism(mech, none) if mech is not None else None
    rho_all = info.signal_distribution() if info is not None else None  # ρ(x) = Σ_θ σ(x, θ)
    if levels is None:
        if pg is not None:
            levels = default_levels(pg.actions, threshold(pg.actions, pg.expenditure))
        else:
            assert info is not None and rho_all is not None
            top = float(aggregate(info.signals)[rho_all >= LEVELS_SHARE * rho_all.max()].max())
            levels = default_levels(info.signals, top)
    levels = [float(v) for v in levels]
    if view == "auto":
        extent: float | None = view_extent(pg.actions if pg is not None else None,
                                           pg.expenditure if pg is not None else None,
                                           info.signals if info is not None else None, rho_all)
    elif view == "grid":
        extent = None
    else:
        try:
            extent = float(view)
        except (TypeError, ValueError):
            raise ParameterError(f"view must be 'auto', 'grid' or a positive number, got {view!r}") from None
        if not np.isfinite(extent) or extent <= 0:
            raise ParameterError(f"view must be 'auto', 'grid' or a positive number, got {view!r}")
    slice_note = {2: "", 3: " at $x_3 = 0$"}.get(n, f" at $x_3 = \\dots = x_{n} = 0$")

    if pg is not None:
        a = col["mechanism"]
        x1, x2 = (np.asarray(v, dtype=float) for v in pg.actions[:2])
        E2 = _slice_2d(pg.expenditure)
        cs = a[0].contourf(x1, x2, E2.T, levels=np.linspace(0, 1, 11), cmap="viridis")
        fig.colorbar(cs, ax=a[0], label="$E(x)$")
        _register(fig, a[0], Panel("expenditure_contour", "total expenditure $E(x) = 1 - m(0|x)$" + slice_note,
                                   "$x_1$", "$x_2$", {"x": x1, "y": x2, "z": E2}))
        agg = aggregate(pg.actions)
        a[1].plot(agg.ravel(), pg.expenditure.ravel(), ".", ms=3, color="tab:blue")
        y = threshold(pg.actions, pg.expenditure)
        a[1].axvline(y, color="0.6", lw=0.8, ls=":")
        extra = {}
        if closed_form is not None:
            grid_s = np.linspace(0.0, float(agg.max()) if extent is None else extent, 400)  # what is shown
            Ehat = np.array([closed_form.aggregate_expenditure(v) if v > 0 else 0.0 for v in grid_s])
            a[1].plot(grid_s, Ehat, "-", color="k", lw=1, label="$\\hat E(\\Sigma x)$, eq. (15)")
            a[1].legend(fontsize=8)
            extra = {"closed_x": grid_s, "closed_y": Ehat}
        _register(fig, a[1], Panel("expenditure_aggregate", f"$E$ against $\\Sigma x$ (reaches 1 at $y = {_frac(y)}$)",
                                   "$\\Sigma x$", "$E(x)$",
                                   {"x": agg.ravel(), "y": pg.expenditure.ravel(), "threshold": y, **extra}))
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(pg.expenditure > 1e-9, pg.shares[0] / np.where(pg.expenditure > 1e-9, pg.expenditure, 1),
                             np.nan)
        curves = {}
        for lev in levels:
            cx, cy = _agent_one_curve(pg.actions, share, lev)
            a[2].plot(cx, cy, "o-" if n == 2 else "o", ms=3, label=f"$\\Sigma x = {_frac(lev)}$")
            curves[lev] = (cx, cy)
            if closed_form is not None and n == 2:
                a[2].plot(cx, cx / lev, ":", color="k", lw=0.8)
        a[2].legend(fontsize=8)
        _register(fig, a[2], Panel("share", "agent 1's share $e_1(x)/E(x)$ at fixed $\\Sigma x$", "$x_1$",
                                   "$e_1(x)/E(x)$", {"levels": levels, "curves": curves}))
    if info is not None:
        a = col["information"]
        s1, s2 = (np.asarray(v, dtype=float) for v in info.signals[:2])
        rho = rho_all
        assert rho is not None
        rho2 = _slice_2d(rho)
        with np.errstate(divide="ignore"):
            logrho = np.where(rho2 > 0, np.log(np.where(rho2 > 0, rho2, 1)), np.nan)
        finite = logrho[np.isfinite(logrho)]
        cs = a[0].contourf(s1, s2, np.ma.masked_invalid(logrho).T, levels=12, cmap="magma")
        fig.colorbar(cs, ax=a[0], label="$\\log \\rho(x)$")
        _register(fig, a[0], Panel("log_density_contour", "log signal density $\\log \\rho(x)$" + slice_note,
                                   "$x_1$", "$x_2$", {"x": s1, "y": s2, "z": logrho,
                                                      "min": float(finite.min()) if finite.size else np.nan}))
        agg = aggregate(info.signals)
        a[1].plot(agg.ravel(), rho.ravel(), ".", ms=3, color="tab:purple")
        extra = {}
        if closed_form is not None:
            step = float(s1[1] - s1[0]) if s1.size > 1 else 1.0
            grid_s = np.linspace(0.0, float(agg.max()) if extent is None else extent, 400)  # what is shown
            dens = np.array([closed_form.signal_density(v) for v in grid_s]) * step**n
            a[1].plot(grid_s, dens, "-", color="k", lw=1, label="$\\rho(\\Sigma x)\\,k^{-N}$, eq. (16)")
            a[1].legend(fontsize=8)
            a[1].set_ylim(-0.05 * float(rho.max()), 1.15 * float(rho.max()))  # the closed form is infinite at 0
            extra = {"closed_x": grid_s, "closed_y": dens}
        _register(fig, a[1], Panel("density_aggregate", "signal density $\\rho$ against $\\Sigma x$", "$\\Sigma x$",
                                   "$\\rho(x)$", {"x": agg.ravel(), "y": rho.ravel(), **extra}))
        theta = theta1 if theta1 is not None else state_coordinate(getattr(upper, "state_points", None), 0)
        v1 = info.interim_expectation(theta)
        curves = {}
        for lev in levels:
            cx, cy = _agent_one_curve(info.signals, v1, lev)
            a[2].plot(cx, cy, "o-" if n == 2 else "o", ms=3, label=f"$\\Sigma x = {_frac(lev)}$")
            curves[lev] = (cx, cy)
            if closed_form is not None and n == 2:
                a[2].plot(cx, float(closed_form.vbar) * cx / lev, ":", color="k", lw=0.8)
        a[2].legend(fontsize=8)
        _register(fig, a[2], Panel("interim_value", "agent 1's interim value $v_1(x)$ at fixed $\\Sigma x$", "$x_1$",
                                   "$v_1(x) = \\sum_\\theta \\theta_1 \\sigma(x,\\theta)/\\rho(x)$",
                                   {"levels": levels, "curves": curves, "theta1": np.asarray(theta, dtype=float)}))
    if title is None:
        title = _title("Public expenditure", lower if mech is not None else upper,
                       [r for r in (lower, upper) if r is not None])
    fig.suptitle(title, fontsize=11)
    if extent is not None:
        for c in columns:
            contour, along = col[c][0], col[c][1]
            contour.set_xlim(0.0, extent)
            contour.set_ylim(0.0, extent)
            along.set_xlim(-0.02 * extent, extent)
    for name in ("expenditure_contour", "expenditure_aggregate", "log_density_contour", "density_aggregate"):
        if name in fig.robustmech_panels:
            fig.robustmech_panels[name].data["view"] = extent  # None: the whole grid
    if pg is not None:
        fig.text(0.5, -0.005, DEGENERACY_NOTE, ha="center", va="top", fontsize=7, color="0.3")
    return fig


def _title(what: str, main, results: Iterable) -> str:
    model = getattr(main, "model", None)
    params = getattr(main, "params", None) or {}
    progs = []
    for r in results:
        prog, k = getattr(r, "program", None), getattr(r, "k", None)
        if prog is not None:
            progs.append({"guarantee": "LB-G", "potential": "UB-P", "dual": "dual"}.get(prog, prog)
                         + (f"-{k}" if k else ""))
    head = f"{what}" + (f" ({model})" if model else "")
    if params:
        head += ": " + describe_params(params)
    if progs:
        head += "; " + " and ".join(progs)
    return head


# ---------------------------------------------------------------------------
# 001 Figure 1: convergence of the bounds in k


def convergence_figure(rows: Sequence[Mapping[str, Any]], *, title: str | None = None, model: str | None = None):
    """The bounds against k, drawn as 001 draws its Figure 1: UB(k) (blue), LB(k) (red)
    and (k-1)/k · UB(k) (green), one panel per combination of the other parameters. The
    default title names the model, not a paper's figure (pass ``title`` for that). ``rows`` are a sweep's
    table rows (``k``, ``lower``, ``upper``, ``status`` and the parameters); rows
    whose solve failed are left out."""
    good = [r for r in rows if r.get("status") == "optimal" and r.get("lower") is not None
            and r.get("upper") is not None]
    if not good:
        raise ParameterError("no finished rows to plot: the sweep has no optimal solve yet")
    params = sorted({p for r in good for p in (r.get("params") or {})})
    groups: dict[tuple, list] = {}
    for r in good:
        key = tuple((p, str((r.get("params") or {}).get(p))) for p in params)
        groups.setdefault(key, []).append(r)
    n = len(groups)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig, axes = _figure(nrows, ncols, 5.0 * ncols, 3.8 * nrows)
    for j, (key, group) in enumerate(groups.items()):
        ax = axes.flat[j]
        group = sorted(group, key=lambda r: int(r["k"]))
        k = np.array([int(r["k"]) for r in group])
        lo = np.array([float(r["lower"]) for r in group])
        up = np.array([float(r["upper"]) for r in group])
        scaled = (k - 1) / k * up
        # 004's notation, which every model's bounds share (001's Π is an auction's profit)
        ax.plot(k, up, "o-", color=UPPER_COLOR, label="upper bound UB(k)")
        ax.plot(k, lo, "o-", color=LOWER_COLOR, label="lower bound LB(k)")
        ax.plot(k, scaled, "--", color=SCALED_COLOR, label="$\\frac{k-1}{k}$ UB(k)")
        ax.legend(fontsize=8)
        label = ", ".join(f"{p}={v}" for p, v in key)
        name = "convergence" + (f"[{label}]" if label else "")
        _register(fig, ax, Panel(name, label or "bounds against k", "$k$", "bound",
                                 {"k": k, "lower": lo, "upper": up, "scaled": scaled, "params": dict(key)}))
        ax.xaxis.get_major_locator().set_params(integer=True)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if title is None:
        model = model or good[0].get("model") or "sweep"
        title = f"LB(k) and UB(k) against k: {model}"
    fig.suptitle(title, fontsize=11)
    return fig


# ---------------------------------------------------------------------------
# heat maps: an auction mechanism's allocation, a BCE


_ALLOCATION = re.compile(r"^q\b|^q\[|^alloc", re.IGNORECASE)


def allocation_outcomes(mechanism: Mechanism) -> list[str]:
    """The allocation variables of a quasilinear mechanism: those named ``q[...]`` (as
    ``allocate q[i]`` declares them)."""
    names = [n for n in mechanism.outcome_names if _ALLOCATION.search(n)]
    if not names:
        raise ParameterError("no allocation variable (q[i]) in this mechanism; name the outcomes with --outcome")
    return names


def allocation_figure(result, *, outcomes: Sequence[str] | None = None, title: str | None = None):
    """Heat maps of a two-agent mechanism's outcome coordinates (by default the
    allocations q_i(x_1, x_2), plus the total Σ_i q_i) over the two actions."""
    mech = getattr(result, "mechanism", result)
    if not isinstance(mech, Mechanism):
        raise ParameterError("this result holds no mechanism: pass an LB-G-k (guarantee) result")
    if mech.n_agents != 2:
        raise ParameterError(f"a heat map over two actions needs two agents; this mechanism has {mech.n_agents}")
    names = list(outcomes) if outcomes else (allocation_outcomes(mech) if not mech.finite else list(mech.outcome_names))
    unknown = [n for n in names if n not in mech.outcome_names]
    if unknown:
        raise ParameterError(f"unknown outcome {unknown[0]!r}; this mechanism has {', '.join(mech.outcome_names)}")
    maps = [(n, mech.outcome(n)) for n in names]
    if not outcomes and not mech.finite and len(names) > 1:
        maps.append(("total", np.asarray(sum(m for _, m in maps))))
    x1, x2 = (np.asarray(a, dtype=float) for a in mech.actions)
    fig, axes = _figure(1, len(maps), 4.6 * len(maps), 4.0)
    for ax, (name, z) in zip(axes.flat, maps):
        mesh = ax.pcolormesh(x1, x2, z.T, shading="nearest", cmap="viridis")
        fig.colorbar(mesh, ax=ax)
        label = ("$\\sum_i q_i(x)$" if name == "total"
                 else f"$m({_tex(name)}\\,|\\,x)$" if mech.finite else f"${_tex(name)}(x)$")
        _register(fig, ax, Panel(f"heatmap[{name}]", label, "$x_1$", "$x_2$", {"x": x1, "y": x2, "z": z}))
    if title is None:
        title = _title("Allocation", result, [result]) if hasattr(result, "program") else f"Mechanism {mech.name}"
    fig.suptitle(title, fontsize=11)
    return fig


def _tex(name: str) -> str:
    m = re.match(r"^(\w+)\[(.+)\]$", name)
    if m:
        return f"{m.group(1)}_{{{m.group(2)}}}"
    return name.replace("_", "\\_")


def bce_figure(equilibrium, *, title: str | None = None, model: str | None = None):
    """Heat maps of a Bayes correlated equilibrium's joint distribution σ(a_1, a_2, θ),
    one per state, with the distribution of recommended actions Σ_θ σ(a, θ) last."""
    joint = np.asarray(equilibrium.joint, dtype=float)
    mech = equilibrium.mechanism
    if joint.ndim != 3:
        raise ParameterError(f"a heat map over two actions needs two agents; this equilibrium has {joint.ndim - 1}")
    a1, a2 = (np.asarray(a) for a in mech.actions)
    a1 = a1.astype(float) if np.issubdtype(a1.dtype, np.number) else np.arange(len(a1), dtype=float)
    a2 = a2.astype(float) if np.issubdtype(a2.dtype, np.number) else np.arange(len(a2), dtype=float)
    maps = [(f"state[{label}]", f"$\\sigma(a, \\theta = {label})$", joint[..., s])
            for s, label in enumerate(equilibrium.state_labels)]
    maps.append(("actions", "$\\sum_\\theta \\sigma(a, \\theta)$", joint.sum(-1)))
    ncols = min(len(maps), 4)
    nrows = -(-len(maps) // ncols)
    fig, axes = _figure(nrows, ncols, 4.2 * ncols, 3.8 * nrows)
    vmax = float(joint.max()) if joint.size else 1.0
    for ax, (name, label, z) in zip(axes.flat, maps):
        mesh = ax.pcolormesh(a1, a2, z.T, shading="nearest", cmap="Blues", vmin=0,
                             vmax=None if name == "actions" else vmax)
        fig.colorbar(mesh, ax=ax)
        _register(fig, ax, Panel(f"bce[{name}]", label, "$a_1$", "$a_2$", {"x": a1, "y": a2, "z": z}))
    for ax in list(axes.flat)[len(maps):]:
        ax.set_visible(False)
    if title is None:
        kind = "worst" if getattr(equilibrium, "sense", "min") == "min" else "best"
        title = (f"{kind.capitalize()} Bayes correlated equilibrium of {mech.name}" + (f" ({model})" if model else "")
                 + f": value {equilibrium.value:.6g}")
    fig.suptitle(title, fontsize=11)
    return fig


# ---------------------------------------------------------------------------
# 002 Figure 2: the proportional auction


def proportional_figure(allocation: Callable[[np.ndarray], np.ndarray], transfer: Callable[[np.ndarray], np.ndarray],
                        *, top: float = 5.0, points: int = 401, lp=None, title: str | None = None):
    """Figure 2 of 002: the aggregate allocation Q(x) and the aggregate transfer T(x)
    of the proportional auction against the aggregate bid x ∈ [0, top], from the
    closed forms ``allocation`` and ``transfer`` (vectorised callables, e.g. from
    :mod:`robustmech.symbolic`). ``lp``, an LB result of a two-bidder auction, is
    overlaid as the aggregates Σ_i q_i(x) and Σ_i t_i(x) at each grid profile,
    against Σx."""
    x = np.linspace(0.0, float(top), int(points))
    Q = np.asarray(allocation(x), dtype=float) * np.ones_like(x)
    T = np.asarray(transfer(x), dtype=float) * np.ones_like(x)
    fig, axes = _figure(1, 2, 10.0, 4.0)
    overlay = None
    if lp is not None:
        mech = getattr(lp, "mechanism", lp)
        names = list(mech.outcome_names)
        q = [n for n in names if _ALLOCATION.search(n)]
        t = [n for n in names if re.match(r"^t\b|^t\[", n)]
        if not q or not t:
            raise ParameterError("the overlay needs a mechanism with allocations q[i] and transfers t[i]")
        agg = aggregate(mech.actions).ravel()
        keep = agg <= top + 1e-12
        overlay = {"x": agg[keep], "Q": sum(mech.outcome(n) for n in q).ravel()[keep],
                   "T": sum(mech.outcome(n) for n in t).ravel()[keep]}
    series = (("aggregate_allocation", "aggregate allocation $Q(x)$", "$Q(x)$", Q, "Q"),
              ("aggregate_transfer", "aggregate transfer $T(x)$", "$T(x)$", T, "T"))
    for ax, (name, heading, label, y, key) in zip(axes.flat, series):
        ax.plot(x, y, "-", color="k", label="closed form")
        data = {"x": x, "y": y}
        if overlay is not None:
            ax.plot(overlay["x"], overlay[key], ".", ms=3, color="tab:orange", label="LP solution")
            data.update(lp_x=overlay["x"], lp_y=overlay[key])
            ax.legend(fontsize=8)
        _register(fig, ax, Panel(name, heading, "aggregate bid $x$", label, data))
    fig.suptitle(title or "Proportional auction: aggregate allocation and transfer", fontsize=11)
    return fig

