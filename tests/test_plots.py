"""Figures: the panels exist, and the arrays they draw are the solution's.

Sources: 004 Section 4.2 and Figure 1 (public good, N = 2, θ̄ = 3: six panels; total
expenditure and agent 1's share are proportional, x_1/Σx, below the aggregate where E
reaches 1; the interim value is θ̄ x_1/Σx), 001 Section 5.3 and Figure 1 (UB(k), LB(k)
and (k-1)/k UB(k) against k), 003 Section 2 (a BCE's joint distribution of actions and
states has the prior as its state marginal). No pixel comparisons.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

import robustmech as rm
from robustmech.cli import main
from robustmech.results import plots
from robustmech.sweep import run_sweep

from conftest import ROOT, common_value_auction, public_good

K = 4
PANELS = ("expenditure_contour", "expenditure_aggregate", "share", "log_density_contour", "density_aggregate",
          "interim_value")


@pytest.fixture(scope="module")
def pg_bounds():
    """LB-G-4 and UB-P-4 of the public good of 004 Section 4 (N = 2, θ̄ = 3)."""
    return rm.bounds(public_good(2, 3), K)


@pytest.fixture(scope="module")
def pg_figure(pg_bounds):
    return plots.public_good_figure(pg_bounds.lower, pg_bounds.upper)


@pytest.fixture(scope="module")
def saved(pg_bounds, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    lb, ub = str(folder / "lb.json"), str(folder / "ub.json")
    pg_bounds.lower.save(lb, source="# a model file\n")
    pg_bounds.upper.save(ub)
    return lb, ub


def _grid_arrays(res):
    mech = res.mechanism
    x1, x2 = np.meshgrid(*mech.actions, indexing="ij")
    return x1, x2, 1.0 - mech.outcome("none"), mech.outcome("paid_by[1]")


def test_figures_declare_their_panels(pg_figure):
    """The panels live on a declared attribute of a Figure subclass, not one set on a plain Figure."""
    import pickle

    from matplotlib.figure import Figure

    from robustmech.results.figure import PanelFigure

    assert isinstance(pg_figure, PanelFigure) and isinstance(pg_figure, Figure)
    assert "robustmech_panels" not in vars(Figure())
    copy = pickle.loads(pickle.dumps(pg_figure))
    assert set(copy.robustmech_panels) == set(PANELS)
    np.testing.assert_array_equal(copy.robustmech_panels["share"].data["levels"],
                                  pg_figure.robustmech_panels["share"].data["levels"])


def test_public_good_figure_has_the_six_panels_of_004_figure_1(pg_figure):
    # 004 Figure 1: contour of E, E against Σx, agent 1's share; log ρ contour, ρ against Σx, v_1
    labels = [ax.get_label() for ax in pg_figure.axes if ax.get_label() != "<colorbar>"]
    assert sorted(labels) == sorted(PANELS)
    assert set(pg_figure.robustmech_panels) == set(PANELS)
    notation = {name: (plots.panel_axes(pg_figure, name).get_xlabel(), plots.panel_axes(pg_figure, name).get_ylabel())
                for name in PANELS}
    assert notation["expenditure_contour"] == ("$x_1$", "$x_2$")
    assert notation["expenditure_aggregate"] == ("$\\Sigma x$", "$E(x)$")
    assert notation["share"] == ("$x_1$", "$e_1(x)/E(x)$")
    assert notation["density_aggregate"] == ("$\\Sigma x$", "$\\rho(x)$")
    title = pg_figure._suptitle.get_text()
    assert "public_good" in title and "N=2" in title and "vbar=3" in title
    assert f"LB-G-{K}" in title and f"UB-P-{K}" in title


def test_mechanism_panels_draw_the_lb_solution(pg_figure, pg_bounds):
    # E(x) = 1 - m(0|x) (004 Section 4.2), against the aggregate action Σx = x_1 + x_2
    x1, x2, E, e1 = _grid_arrays(pg_bounds.lower)
    contour = pg_figure.robustmech_panels["expenditure_contour"].data
    np.testing.assert_array_equal(contour["z"], E)
    line = plots.panel_axes(pg_figure, "expenditure_aggregate").lines[0]
    np.testing.assert_array_equal(line.get_xdata(), (x1 + x2).ravel())
    np.testing.assert_array_equal(line.get_ydata(), E.ravel())
    # agent 1's share at each level of Σx: the plotted points are e_1/E on that diagonal
    share_ax = plots.panel_axes(pg_figure, "share")
    levels = pg_figure.robustmech_panels["share"].data["levels"]
    assert len(share_ax.lines) == len(levels) >= 3
    for level, ln in zip(levels, share_ax.lines):
        on = np.isclose(x1 + x2, level) & (E > 1e-9)
        order = np.argsort(x1[on])
        np.testing.assert_allclose(ln.get_xdata(), x1[on][order])
        np.testing.assert_allclose(ln.get_ydata(), (e1[on] / E[on])[order])


def test_information_panels_draw_the_ub_solution(pg_figure, pg_bounds):
    # ρ(x) = Σ_θ σ(x, θ) and v_1(x) = Σ_θ θ_1 σ(x, θ)/ρ(x) (004 Section 4.2)
    info = pg_bounds.upper.information
    rho = info.joint.sum(-1)
    s1, s2 = np.meshgrid(*info.signals, indexing="ij")
    z = pg_figure.robustmech_panels["log_density_contour"].data["z"]
    np.testing.assert_allclose(np.exp(z[rho > 0]), rho[rho > 0])
    assert np.all(np.isnan(z[rho == 0]))
    line = plots.panel_axes(pg_figure, "density_aggregate").lines[0]
    np.testing.assert_array_equal(line.get_ydata(), rho.ravel())
    theta1 = np.array([3.0, 0.0])  # states (3, 0) and (0, 3)
    v1 = (info.joint @ theta1) / np.where(rho > 0, rho, 1)
    value_ax = plots.panel_axes(pg_figure, "interim_value")
    for level, ln in zip(pg_figure.robustmech_panels["interim_value"].data["levels"], value_ax.lines):
        on = np.isclose(s1 + s2, level) & (rho > 0)
        order = np.argsort(s1[on])
        np.testing.assert_allclose(ln.get_ydata(), v1[on][order])


def test_shares_and_interim_values_are_proportional_below_the_boundary(pg_figure):
    # 004 Section 4.2: e_1/E = x_1/Σx (proportional cost sharing) and v_1 = θ̄ x_1/Σx
    # at the levels drawn, which lie at or below where E first reaches 1
    y = pg_figure.robustmech_panels["expenditure_aggregate"].data["threshold"]
    for name, scale in (("share", 1.0), ("interim_value", 3.0)):
        data = pg_figure.robustmech_panels[name].data
        assert max(data["levels"]) <= y + 1e-12
        for level, (x, v) in data["curves"].items():
            np.testing.assert_allclose(v, scale * x / level, atol=1e-6)


def test_the_view_covers_the_features_or_what_is_asked():
    # 004 Section 4.2: E reaches 1 at the aggregate y and ρ drops to near zero past a
    # threshold; the default view shows both, near the origin of a grid that reaches
    # x_i = 8 (k = 8)
    b = rm.bounds(public_good(2, 3), 8)
    fig = plots.public_good_figure(b.lower, b.upper)
    view = fig.robustmech_panels["density_aggregate"].data["view"]
    y = fig.robustmech_panels["expenditure_aggregate"].data["threshold"]
    info = b.upper.information
    rho = info.joint.sum(-1)
    aggregate = np.add.outer(*info.signals)
    assert y < view < 8 and rho[aggregate > view].sum() <= 1e-6  # σ's mass lies in the view
    assert plots.panel_axes(fig, "log_density_contour").get_ylim() == (0.0, view)
    whole = plots.public_good_figure(b.lower, b.upper, view="grid")
    assert whole.robustmech_panels["expenditure_contour"].data["view"] is None
    assert plots.panel_axes(whole, "expenditure_contour").get_xlim() == (0.0, 8.0)  # contourf's own: the grid
    asked = plots.public_good_figure(b.lower, b.upper, view=1.5)
    assert plots.panel_axes(asked, "expenditure_contour").get_xlim() == (0.0, 1.5)
    for bad in ("wide", -1.0, float("nan")):
        with pytest.raises(rm.ParameterError, match="view must be"):
            plots.public_good_figure(b.lower, b.upper, view=bad)


def test_cli_view_is_checked_and_only_for_the_public_good_figure(saved, tmp_path, capsys):
    lb, ub = saved
    out = str(tmp_path / "v.png")
    assert main(["plot", lb, "--with", ub, "--view", "0", "--out", out]) == 2
    assert "view must be 'auto', 'grid' or a positive number, got '0'" in capsys.readouterr().err
    assert main(["plot", lb, "--with", ub, "--view", "grid", "--out", out]) == 0
    assert main(["plot", lb, "--figure", "allocation", "--view", "2", "--out", str(tmp_path / "a.png")]) == 2
    assert "--view is for the public-good figure" in capsys.readouterr().err


def test_figure_from_saved_results_equals_figure_from_the_solve(saved, pg_figure):
    lb, ub = (rm.load(p) for p in saved)
    fig = plots.public_good_figure(lb, ub)
    for name in ("expenditure_contour", "log_density_contour"):
        np.testing.assert_array_equal(fig.robustmech_panels[name].data["z"],
                                      pg_figure.robustmech_panels[name].data["z"])


def test_closed_form_overlay_is_equation_15(pg_bounds):
    # Ê of eq. (15) of 004 drawn beside the LB solution; it reaches 1 at the boundary y
    from robustmech.symbolic.public_good import public_good_solution  # the package's own: a broken import fails

    sol = public_good_solution(2, 3)
    fig = plots.public_good_figure(pg_bounds.lower, pg_bounds.upper, closed_form=sol)
    data = fig.robustmech_panels["expenditure_aggregate"].data
    mid = len(data["closed_x"]) // 3
    assert data["closed_y"][mid] == pytest.approx(sol.aggregate_expenditure(data["closed_x"][mid]))
    assert np.all(data["closed_y"][data["closed_x"] >= sol.boundary] == 1.0)


def _drawn_figure(monkeypatch, argv):
    """Run `robustmech plot ARGV` and return the figure the command wrote (with its data)."""
    drawn = []
    real = plots.save_figure

    def recording(fig, path, **kwargs):
        drawn.append(fig)
        return real(fig, path, **kwargs)

    monkeypatch.setattr(plots, "save_figure", recording)
    assert main(["plot", *argv]) == 0
    [fig] = drawn
    return fig


def test_cli_closed_form_overlay_is_equation_15_of_004(saved, tmp_path, monkeypatch):
    """`robustmech plot LB --with UB --closed-form`: the curve drawn beside the LB solution
    is Ê of (15) of 004, evaluated here by quadrature from the formula, Ê(y) = λ/(vbar-1)
    e^{-y} y^a ∫_0^y e^z z^{-a} dz with a = (N-1)/(vbar-1) = 1/2 below the boundary ȳ of
    (17), and 1 beyond it (N = 2, vbar = 3, the parameters saved with the result). 1e-9:
    mpmath's quadrature at 15 digits and the package's ȳ (bisection)."""
    import mpmath

    from robustmech.symbolic.public_good import public_good_solution

    lb, ub = saved
    fig = _drawn_figure(monkeypatch, [lb, "--with", ub, "--figure", "public-good", "--closed-form",
                                      "--out", str(tmp_path / "cf.png")])
    data = fig.robustmech_panels["expenditure_aggregate"].data
    sol = public_good_solution(2, 3)
    lam, boundary = sol.guarantee, sol.boundary
    x, y = np.asarray(data["closed_x"]), np.asarray(data["closed_y"])
    assert x.min() <= boundary / 2 and x.max() >= boundary
    for xi, yi in list(zip(x, y))[1::7]:
        if xi >= boundary:
            assert yi == 1.0, xi
        elif xi > 0:
            want = lam / 2 * mpmath.exp(-xi) * mpmath.sqrt(xi) * mpmath.quad(lambda z: mpmath.exp(z) / mpmath.sqrt(z),
                                                                             [0, xi])
            assert yi == pytest.approx(float(want), abs=1e-9), xi


def test_cli_plot_writes_png_pdf_svg_and_never_overwrites(saved, tmp_path, capsys):
    # the format follows the extension; nothing is overwritten without --force
    lb, ub = saved
    heads = {".png": b"\x89PNG", ".pdf": b"%PDF", ".svg": b"<?xml"}
    for ext, head in heads.items():
        out = tmp_path / f"fig1{ext}"
        assert main(["plot", lb, "--with", ub, "--figure", "public-good", "--out", str(out)]) == 0
        assert out.read_bytes()[:len(head)] == head
    out = tmp_path / "fig1.png"
    before = out.read_bytes()
    assert main(["plot", lb, "--with", ub, "--out", str(out)]) == 2
    assert "use --force" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(["plot", lb, "--with", ub, "--out", str(tmp_path / "fig1.jpg")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "image format" in err


def test_cli_show_reads_back_a_saved_result(saved, capsys):
    # a saved result keeps the model source, parameters, program, k, solver, versions, timings
    lb, _ = saved
    assert main(["show", lb]) == 0
    text = capsys.readouterr().out
    assert f"LB-G-{K}" in text and "N=2, vbar=3" in text and "versions: robustmech" in text
    assert main(["show", lb, "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)
    with open(lb) as fh:
        saved_meta = json.load(fh)
    assert meta["value"] == saved_meta["value"] == rm.load(lb).value
    assert meta["k"] == K and meta["program"] == "guarantee" and meta["params"] == {"N": 2, "vbar": 3}
    assert "numpy" in meta["versions"] and meta["solve_seconds"] >= 0
    assert main(["show", lb, "--source"]) == 0
    assert capsys.readouterr().out == "# a model file\n"
    assert main(["show", os.path.dirname(lb) + "/missing.json"]) == 2


def test_convergence_figure_draws_the_sweep_table(tmp_path):
    # 001 Figure 1: blue UB(k), red LB(k), green (k-1)/k UB(k), from a sweep's table
    factory = tmp_path / "models.py"
    factory.write_text("from conftest import common_value_auction\n"
                       "def cva():\n    return common_value_auction(2, (0, 0.5, 1))\n")
    run = run_sweep(f"{factory}:cva", [2, 3, 4], None, tmp_path / "sweep", backend="serial")
    rows = run.table.rows
    fig = plots.convergence_figure(rows)
    ax = fig.axes[0]
    up, lo, scaled = ax.lines
    k = np.array([2, 3, 4])
    np.testing.assert_array_equal(up.get_xdata(), k)
    np.testing.assert_allclose(up.get_ydata(), [r["upper"] for r in rows])
    np.testing.assert_allclose(lo.get_ydata(), [r["lower"] for r in rows])
    np.testing.assert_allclose(scaled.get_ydata(), (k - 1) / k * np.array([r["upper"] for r in rows]))
    assert (up.get_color(), lo.get_color(), scaled.get_color()) == ("tab:blue", "tab:red", "tab:green")
    # 001 Section 5.3: the scaled upper bound lies below the lower bound
    assert np.all(scaled.get_ydata() <= lo.get_ydata() + 1e-9)
    out = tmp_path / "conv.svg"
    assert main(["plot", str(tmp_path / "sweep"), "--out", str(out)]) == 0 and out.exists()


def test_allocation_heat_map_is_the_mechanism(tmp_path):
    # a two-bidder auction's allocation q_i(x_1, x_2) over the two actions, and the total
    res = rm.solve(common_value_auction(2, (0, 0.5, 1)), "guarantee", 2)
    mech = res.mechanism
    fig = plots.allocation_figure(res)
    names = [ax.get_label() for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert names == ["heatmap[q[1]]", "heatmap[q[2]]", "heatmap[total]"]
    for ax, z in zip(fig.axes,
                     (mech.outcome("q[1]"), mech.outcome("q[2]"), mech.outcome("q[1]") + mech.outcome("q[2]"))):
        mesh = ax.collections[0]
        np.testing.assert_allclose(np.asarray(mesh.get_array()).ravel(), z.T.ravel())
    path = str(tmp_path / "lb.json")
    res.save(path)
    assert main(["plot", path, "--out", str(tmp_path / "alloc.png")]) == 0  # allocation is the default here


def test_bce_heat_maps_are_the_joint_distribution():
    # 003 Section 2: a BCE σ ∈ Δ(A × Θ); one heat map per state, whose mass is the prior
    from robustmech.certify import guarantee
    from robustmech.model.generators import first_price_auction

    env = common_value_auction(2, (0, 0.5, 1))
    g = guarantee(env, first_price_auction(env, bids=3))
    fig = plots.bce_figure(g.worst)
    state_axes = [ax for ax in fig.axes if ax.get_label().startswith("bce[state")]
    assert len(state_axes) == 3
    for s, ax in enumerate(state_axes):
        z = np.asarray(ax.collections[0].get_array()).reshape(3, 3).T
        np.testing.assert_allclose(z, g.worst.joint[..., s])
        assert z.sum() == pytest.approx(1 / 3, abs=1e-7)


def test_proportional_figure_draws_closed_forms_and_the_lp_aggregates():
    # 002 Figure 2: aggregate allocation and transfer against the aggregate bid; the LP
    # overlay is Σ_i q_i(x) and Σ_i t_i(x) at each grid profile, against Σx
    res = rm.solve(common_value_auction(2, (0, 0.5, 1)), "guarantee", 2)
    Q = lambda x: 1 - np.exp(-x)  # noqa: E731 - stand-ins for the closed forms of 002
    T = lambda x: x * np.exp(-x)  # noqa: E731
    fig = plots.proportional_figure(Q, T, top=4.0, lp=res)
    alloc = fig.robustmech_panels["aggregate_allocation"].data
    np.testing.assert_allclose(alloc["y"], Q(alloc["x"]))
    m = res.mechanism
    x1, x2 = np.meshgrid(*m.actions, indexing="ij")
    keep = (x1 + x2).ravel() <= 4.0
    np.testing.assert_allclose(alloc["lp_y"], (m.outcome("q[1]") + m.outcome("q[2]")).ravel()[keep])
    transfer = fig.robustmech_panels["aggregate_transfer"].data
    np.testing.assert_allclose(transfer["lp_y"], (m.outcome("t[1]") + m.outcome("t[2]")).ravel()[keep])


def test_cli_proportional_figure_uses_the_closed_form_of_002(tmp_path, capsys, monkeypatch):
    """002 Figure 2 from the command line: the allocation curve is Q̄ of (16) of 002 for the
    model's common-value distribution (here the 10-point uniform of 001's appendix), N = 2,
    written out here from (16): C(a, b) x/N + D(a, b)/x^{N-1} on each graded interval [a, b]
    with a > 0, x/b on a graded [0, b], 1 elsewhere, with C = N (b^{N-1} - a^{N-1})/(b^N - a^N)
    and D = (b - a) a^{N-1} b^{N-1}/(b^N - a^N) (the intervals are the package's grading of
    Section 4.1.1). The figure comes from the command itself, which refuses to overwrite."""
    from robustmech.symbolic.auction import ProportionalAuction
    from robustmech.symbolic.distributions import Discrete

    model = str(ROOT / "models" / "common_value_auction.mech")
    lb = tmp_path / "lb.json"
    assert main(["solve", model, "--k", "2", "--out", str(lb)]) == 0
    out = tmp_path / "prop.png"
    fig = _drawn_figure(monkeypatch, [str(lb), "--figure", "proportional", "--model", model, "--out", str(out)])
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert main(["plot", str(lb), "--figure", "proportional", "--model", model, "--out", str(out)]) == 2
    N = 2
    intervals = ProportionalAuction(Discrete(tuple(np.arange(10) / 9), tuple([0.1] * 10)), N).graded_intervals
    assert intervals and intervals[0].a == 0

    def q_bar(x):  # (16) of 002
        for iv in intervals:
            a, b = iv.a, iv.b
            if a <= x <= b:
                if a == 0:
                    return x / b
                C = N * (b ** (N - 1) - a ** (N - 1)) / (b**N - a**N)
                D = (b - a) * a ** (N - 1) * b ** (N - 1) / (b**N - a**N)
                return C * x / N + D / x ** (N - 1)
        return 1.0

    data = fig.robustmech_panels["aggregate_allocation"].data
    np.testing.assert_allclose(data["y"], [q_bar(x) for x in data["x"]], rtol=0, atol=1e-12)
    assert data["y"][-1] == 1.0  # Q̄ = 1 beyond the graded intervals (002 (16))
