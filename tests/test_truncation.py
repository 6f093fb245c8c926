"""Grid truncation (robustmech.programs.truncation): 004's bounding programs solved on a
box of low profiles, extended to the whole grid X(k), and certified there.

Sources: 004 Section 4.2 and Figure 1 (public good, N = 2, vbar = 3): ρ drops to near zero
once the aggregate signal passes a threshold, so UB-P-k's structure lives on low
profiles; the closed-form max guarantee (15)-(17) of 004 is 1.556723777. Every value
here is checked against the whole program solved by HiGHS without truncation (an
independent computation), and every certificate against the whole program's own rows
and weak-duality bound; the boxes that are too small must be caught by those checks.
"""

from __future__ import annotations

import numpy as np
import pytest

import robustmech as rm
from robustmech.api import certify_solution
from robustmech.errors import SolverError
from robustmech.programs import bounding, truncation
from robustmech.programs.base import program
from robustmech.programs.symmetry import max_violation
from robustmech.programs.truncation import GridTruncation, boxes
from robustmech.solve import SolverOptions, dual_objective, solve

from conftest import MODELS

CLOSED_FORM_N2 = 1.556723777  # (15)-(17) of 004, N = 2, vbar = 3


@pytest.fixture(scope="module")
def public_good():
    return rm.validate(rm.load_model(MODELS / "public_good.mech", params={"N": 2, "vbar": 3}))


@pytest.fixture(scope="module")
def whole(public_good):
    """LB-G-10 and UB-P-10 of 004, each built whole, and each solved on the whole grid by
    the path without truncation (symmetric, Clarabel, made a vertex, certified)."""
    out = {}
    for name in ("guarantee", "potential"):
        lp, _ = bounding.build(name, public_good, 10)
        out[name] = (lp, rm.solve(public_good, name, 10, truncate=False))
    return out


def _on_box(lp, box: int, extend: str):
    """The program on the box, solved by HiGHS, and its answer inverted onto the whole grid."""
    reduction = GridTruncation(box, extend)
    small, data = reduction.apply(lp)
    small_solution = solve(small, SolverOptions(solver="highs"))
    return small, small_solution, reduction.invert(small_solution, data)


def _bound(lp, solution) -> float:
    return dual_objective(lp, solution.row_dual, solution.col_dual, solution.row_activity, solution.x)


@pytest.mark.parametrize("name, extend, box", [("guarantee", "primal", 20), ("potential", "dual", 30)])
def test_the_box_gives_the_whole_programs_optimum(whole, name, extend, box):
    """LB-G-10 (9) on x <= 2 and UB-P-10 (10) on x <= 3 of 004: the inverted point is
    feasible for the whole program, its value is the whole program's optimum (HiGHS on
    30,605 columns, the path without truncation), and the duals, extended beyond the box, bound the whole program at
    that value. The box programs have 1,325 and 3,009 columns."""
    lp, reference = whole[name]
    small, _, full = _on_box(lp, box, extend)
    assert small.n_cols < lp.n_cols / 9
    assert max_violation(lp, full.x) <= 1e-9
    assert reference.extra["dual_certified"]
    assert full.objective == pytest.approx(reference.value, abs=1e-9)
    assert _bound(lp, full) == pytest.approx(reference.value, abs=1e-9)


def test_ub_p_structure_on_the_box_is_the_simplex_structure(whole):
    """UB-P-10's σ found on the box x <= 3 is the whole grid's (its simplex vertex, 496
    signal profiles: test_default_path), which puts no mass beyond the box either (004
    Figure 1: ρ drops to zero past a threshold of Σx)."""
    lp, reference = whole["potential"]
    _, _, full = _on_box(lp, 30, "dual")
    K = 101
    sigma = np.moveaxis(lp.block(full.x, "sigma").reshape(2, K, K), 0, -1)
    ref = reference.information.joint
    assert int((ref.sum(axis=-1) > 1e-9).sum()) == 496
    assert ref[31:].max() <= 1e-12 and ref[:, 31:].max() <= 1e-12
    assert np.abs(sigma - ref).max() <= 1e-9


def test_a_box_must_lie_inside_the_grid(whole):
    """X(10) has 101 points an agent (indices 0..100): a box keeps 0..b with b below the
    last index (b + 1 = 101 would be the whole grid, b + 2 columns kept on the dual side
    would pass it); anything else is refused with the range, never an index error."""
    lp, _ = whole["potential"]
    for box, extend in ((100, "dual"), (250, "primal"), (-1, "dual")):
        with pytest.raises(ValueError, match=r"0 <= b < 100"):
            GridTruncation(box, extend).apply(lp)


def test_a_box_too_small_is_caught(whole):
    """On x <= 2, UB-P-10 is a relaxation (rows beyond the box added to the edge): its
    value 1.66339 is below the whole program's 1.68146, and its point, extended by zero,
    breaks the whole program's rows (the merged columns that stand for the profiles
    beyond the box carry mass). On x <= 1, LB-G-10 is a restriction (the mechanism
    constant beyond the box): its point is feasible, worth 1.46043 < 1.53615, and its
    duals bound the whole program only far above. Either way the certificate of the
    default path (``api.certify_solution``) refuses: the first point is no bound at all,
    the second is a bound but not certified optimal."""
    lp, reference = whole["potential"]
    small, small_solution, full = _on_box(lp, 20, "dual")
    assert small_solution.objective < reference.value - 0.01
    assert max_violation(lp, full.x) > 0.1
    full.dual_objective = _bound(lp, full)
    with pytest.raises(SolverError, match="violates the program"):
        certify_solution(lp, full.x, full)
    lp, reference = whole["guarantee"]
    _, small_solution, full = _on_box(lp, 10, "primal")
    assert max_violation(lp, full.x) <= 1e-9
    assert small_solution.objective < reference.value - 0.05
    full.dual_objective = _bound(lp, full)
    assert full.dual_objective > reference.value + 1.0
    assert certify_solution(lp, full.x, full)["dual_certified"] is False


@pytest.mark.parametrize("box", [10, 20, 40])
def test_each_box_bounds_from_its_side(whole, box):
    """Linear programming, whatever the box: extending the duals (rows summed) relaxes the
    minimisation UB-P-10, so its value is at most the whole optimum; extending the point
    (columns tied) restricts the maximisation LB-G-10, so its value is at most the whole
    optimum too."""
    for name, extend in (("potential", "dual"), ("guarantee", "primal")):
        lp, reference = whole[name]
        _, small_solution, _ = _on_box(lp, box, extend)
        assert small_solution.objective <= reference.value + 1e-9


def test_default_path_tries_boxes_and_keeps_the_first_certified(public_good, monkeypatch, whole):
    """Through ``rm.solve`` (the threshold lowered to this size): both programs are
    certified on the first box (x <= 3) at the whole programs' values; started at x <= 2,
    UB-P-10 is refused there (its σ reaches x = 3) and certified on the next box (x <= 3),
    LB-G-10 certified at once; ``truncate=False`` solves the whole grid."""
    monkeypatch.setattr(truncation, "TRUNCATE_FROM_COLUMNS", 1_000)
    for first, lb_boxes, ub_boxes in ((3.0, [(30, True)], [(30, True)]),
                                      (2.0, [(20, True)], [(20, False), (30, True)])):
        monkeypatch.setattr(truncation, "FIRST_BOX_VALUE", first)
        lb = rm.solve(public_good, "guarantee", 10)
        ub = rm.solve(public_good, "potential", 10)
        assert [(a["box"], a["certified"]) for a in lb.extra["truncation"]["attempts"]] == lb_boxes
        assert [(a["box"], a["certified"]) for a in ub.extra["truncation"]["attempts"]] == ub_boxes
        for result, name in ((lb, "guarantee"), (ub, "potential")):
            assert result.extra["dual_certified"] and result.extra["max_violation"] <= 1e-9
            assert result.value == pytest.approx(whole[name][1].value, abs=1e-9)
        assert ub.information.joint.shape == (101, 101, 2)
    plain = rm.solve(public_good, "potential", 10, truncate=False)
    assert "truncation" not in plain.extra


def test_no_box_certified_means_the_whole_grid(public_good, monkeypatch, whole):
    """With x <= 1 the only box (UB-P-10's σ reaches x = 3), the default path solves the
    whole grid after it, reports the box it tried, and gives the whole program's value."""
    monkeypatch.setattr(truncation, "TRUNCATE_FROM_COLUMNS", 1_000)
    monkeypatch.setattr(truncation, "boxes", lambda points, k: [10])
    lines: list[str] = []
    result = rm.solve(public_good, "potential", 10, progress=lines.append)
    assert result.extra["truncation"]["certified"] is False
    assert [a["box"] for a in result.extra["truncation"]["attempts"]] == [10]
    assert "symmetry" in result.extra and result.extra["dual_certified"]
    assert result.value == pytest.approx(whole["potential"][1].value, abs=1e-9)
    assert any("no box was certified" in line for line in lines)


def test_three_agents_on_symmetric_boxes(monkeypatch):
    """N = 3, vbar = 4 (004 Section 4.2 with three agents), the threshold lowered to this
    size: LB-G-4 on the box x <= 3, solved over symmetric solutions (the agents'
    permutations, order 6), is certified at the value the whole symmetric program gives
    without the boxes; UB-P-4's σ reaches x = vbar = 4, past the only box, which the
    whole grid's rows refuse, and the whole grid gives its value."""
    low = rm.validate(rm.load_model(MODELS / "public_good.mech", params={"N": 3, "vbar": 4}))
    monkeypatch.setattr(truncation, "TRUNCATE_FROM_COLUMNS", 1_000)
    for name, certified in (("guarantee", [(12, True)]), ("potential", [(12, False)])):
        on_boxes = rm.solve(low, name, 4)
        whole = rm.solve(low, name, 4, truncate=False)
        attempts = on_boxes.extra["truncation"]["attempts"]
        assert [(a["box"], a["certified"]) for a in attempts] == certified
        assert on_boxes.extra["symmetry"]["group_order"] == 6
        assert on_boxes.extra["dual_certified"] and on_boxes.value == pytest.approx(whole.value, abs=1e-7)


def test_a_non_finite_point_or_dual_certifies_nothing():
    """min x s.t. x >= 1, x >= -10 (optimum 1): a NaN in the point is refused, and a NaN
    or infinite row dual gives no weak-duality bound (with y = (5, NaN) the finite part
    alone would 'bound' the optimum at 5)."""
    import scipy.sparse as sp

    from robustmech.programs.lp import LinearProgram
    from robustmech.solve import LPSolution

    lp = LinearProgram("tiny", "min", np.array([1.0, 0.0]), sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0]])),
                       np.array([1.0, -10.0]), np.array([np.inf, np.inf]), np.array([-np.inf, 0.0]),
                       np.array([np.inf, 0.0]), {}, {})
    x = np.array([5.0, 0.0])
    for y in (np.array([5.0, np.nan]), np.array([5.0, -np.inf])):
        assert dual_objective(lp, y, lp.cost - lp.A.T @ np.nan_to_num(y), lp.A @ x, x) == -np.inf
    point = np.array([1.0, np.nan])
    solution = LPSolution("optimal", 1.0, 1.0, point, np.zeros(2), np.zeros(2), lp.A @ point, 0.0, "test")
    with pytest.raises(SolverError, match="not a bound"):
        certify_solution(lp, solution.x, solution)


def test_memory_for_the_whole_grids_vectors_is_enough(public_good, monkeypatch, whole):
    """With memory between what the boxes need and what the assembled UB-P-10 would need,
    the default path solves it on a box, certified at the whole program's value; with
    less than the first box needs (besides the vectors) it stops the boxes, and the whole
    grid, which does not fit either, is refused."""
    from robustmech.lower import size

    est = size.estimate(public_good, "potential", 10)
    monkeypatch.setattr(truncation, "TRUNCATE_FROM_COLUMNS", 1_000)
    monkeypatch.setattr(size, "available_memory", lambda: est.bytes // 2)
    result = rm.solve(public_good, "potential", 10)
    assert result.extra["truncation"]["attempts"][-1]["certified"]
    assert result.value == pytest.approx(whole["potential"][1].value, abs=1e-9)
    monkeypatch.setattr(size, "available_memory", lambda: est.bytes_on_boxes + 1)
    lines: list[str] = []
    with pytest.raises(rm.ParameterError, match="no box of low profiles was certified"):
        rm.solve(public_good, "potential", 10, progress=lines.append)
    assert any("would not fit in memory" in line for line in lines)


def test_a_merged_value_is_shared_within_the_members_bounds():
    """Inverting the extended duals' program (extend="dual") puts each merged column's
    value on its members: the chosen member first, then the others, each within its own
    bounds, and the sum kept (columns in [0, 1], in [0, inf) and free)."""
    from robustmech.programs.truncation import _spread

    group = np.array([0, 0, 1, 1, 1, 2])
    first = np.array([1, 3, 5])
    lower = np.array([0, 0, 0, 0, 0, -np.inf])
    upper = np.array([1, 1, np.inf, np.inf, np.inf, np.inf])
    x = _spread(np.array([1.5, 2.0, -3.0]), group, first, lower, upper)
    assert x.tolist() == [0.5, 1.0, 0.0, 2.0, 0.0, -3.0]
    assert np.all(x >= lower) and np.all(x <= upper)


def test_not_offered_where_the_grid_is_not_the_whole_story():
    """`restrict` statements couple profiles across the grid (LB-G-k keeps the whole
    grid); a baseline signal's profiles are pairs (s_i, x_i) (UB-P-k keeps it)."""
    restricted = rm.validate(rm.load_model(MODELS / "public_good_restricted.mech"))
    assert program("guarantee").truncation(restricted) is None
    baseline = rm.validate(rm.load_model(MODELS / "common_value_public_signal.mech"))
    assert program("potential").truncation(baseline) is None
    plain = rm.validate(rm.load_model(MODELS / "public_good.mech"))
    assert program("guarantee").truncation(plain) == "primal"
    assert program("potential").truncation(plain) == "dual"


def test_boxes_grow_from_the_value_three_and_stop_below_the_grid():
    """At k = 30 (901 points an agent): x <= 3, 4.5, 6.75, ... while smaller than X(30)."""
    got = boxes(901, 30)
    assert got[:3] == [90, 135, 203] and got[-1] < 900
    assert all(b2 > b1 for b1, b2 in zip(got, got[1:]))
    assert boxes(17, 4) == [12]  # X(4) = {0, 1/4, ..., 4}: x <= 3, and x <= 4.5 passes the grid
    assert boxes(10, 3) == []  # X(3) = {0, 1/3, ..., 3}: the first box would be the grid


def test_figure_1_at_k_30_through_the_boxes(public_good):
    """004 Figure 1 (N = 2, vbar = 3, k = 30: 2.4 million columns a program; a few seconds
    on symmetric boxes, so on every change): the default
    path solves both programs on boxes, each certified on the whole grid, and the bracket
    contains the closed form (15)-(17) of 004; UB-P-30's structure has no mass beyond
    x_i = 3 (Figure 1, ρ past its threshold), LB-G-30's mechanism is a lottery at every
    profile of the whole grid."""
    b = rm.bounds(public_good, 30)
    for result in (b.lower, b.upper):
        assert result.extra["dual_certified"] and "truncation" in result.extra
        assert result.n_variables > 2_400_000
    assert b.lower.value <= CLOSED_FORM_N2 <= b.upper.value
    assert b.upper.value - b.lower.value < 0.09
    rho = b.upper.information.joint.sum(axis=-1)
    assert rho.shape == (901, 901) and rho[91:, :].max() <= 1e-9 and rho[:, 91:].max() <= 1e-9
    rule = np.asarray(b.lower.mechanism.rule)
    assert np.abs(rule.sum(axis=-1) - 1).max() <= 1e-9 and rule.min() >= 0
    # the default figure is drawn where Figure 1's features lie (004 Section 4.2): past
    # the boundary y where Ê of (15) reaches 1, and past σ's support, near the origin of
    # a grid that reaches x_i = 30
    from robustmech.results import plots
    from robustmech.symbolic.public_good import public_good_solution

    fig = plots.public_good_figure(b.lower, b.upper)
    view = fig.robustmech_panels["expenditure_contour"].data["view"]
    support = (np.add.outer(*b.upper.information.signals[:2]))[rho > 1e-9]
    assert public_good_solution(2, 3).boundary < view and support.max() < view <= 30 / 6
    for name in ("expenditure_contour", "log_density_contour"):
        assert plots.panel_axes(fig, name).get_xlim() == (0.0, view)


def _record_folds(monkeypatch) -> list[bool]:
    """The folds done from now on, as whether each merged the rows it made identical."""
    merging: list[bool] = []
    original = GridTruncation.apply

    def recording(self, lp):
        merging.append(self.merge_rows)
        return original(self, lp)

    monkeypatch.setattr(GridTruncation, "apply", recording)
    return merging


def test_the_rows_a_fold_makes_identical_are_merged_once(public_good, whole, monkeypatch):
    """LB-G-10 (N = 2) on the box x <= 2, structured. Folded without merging, every folded
    row is kept in place with its family's index sets cut to the box (the strategic rows
    over (Θ, X), X now 21 points an agent), so the agents' swap finds their images by the
    declared sets; the symmetry reduction then merges the rows the fold made identical (the
    participation rows at others' profiles beyond the box, copies of the edge's once the
    columns beyond are added to it) with its orbits: the symmetric program is the same size
    as from the merged fold, and both give the whole program's value (HiGHS on the whole
    grid, the path without truncation). Without a symmetry on the box, the default path
    folds again with the merge."""
    from robustmech.api import find_symmetries, solve_built, solve_truncated
    from robustmech.programs.reductions import Applied, symmetry_reduction

    structured, _ = bounding.build("guarantee", public_good, 10, structured=True)
    merged, _ = GridTruncation(20, "primal").apply(structured)
    kept, _ = GridTruncation(20, "primal", merge_rows=False).apply(structured)
    assert kept.n_rows > merged.n_rows and kept.n_cols == merged.n_cols
    strategic = kept.families["strategic"]
    assert [(s.name, s.size) for s in strategic.index] == [("Theta", 2), ("X", 21 * 21)]
    # the merge drops participation rows only (those at others' profiles beyond the box)
    assert [(s.name, s.size) for s in merged.families["strategic"].index] == [("Theta", 2), ("X", 21 * 21)]
    assert merged.families["participation"].count < kept.families["participation"].count
    assert kept.n_rows - merged.n_rows == kept.families["participation"].count - merged.families["participation"].count
    symmetries = find_symmetries(public_good)
    env = public_good.env
    sizes, values = [], []
    for fold in (GridTruncation(20, "primal"), GridTruncation(20, "primal", merge_rows=False)):
        small, data = fold.apply(structured)
        on_box, _ = symmetry_reduction(small, symmetries, env.agents, env.states.labels, public_good.outcome_names)
        reduced, _ = on_box.apply(small)
        sizes.append((reduced.n_rows, reduced.n_cols))
        solution, certificate, _ = solve_built(structured, SolverOptions(solver="highs"),
                                               [Applied(fold, structured, small, data), on_box])
        assert certificate["dual_certified"]
        values.append(solution.objective)
    assert sizes[0] == sizes[1]
    assert values == pytest.approx([whole["guarantee"][1].value] * 2, abs=1e-9)
    # no symmetry on the box: the rows are merged by the fold
    monkeypatch.setattr(truncation, "TRUNCATE_FROM_COLUMNS", 1_000)
    monkeypatch.setattr(truncation, "boxes", lambda points, k: [20])
    merging = _record_folds(monkeypatch)
    answer = solve_truncated(structured, SolverOptions(solver="highs"), "primal", symmetry=lambda small: None)
    assert merging == [False, True]
    assert answer.answer is not None and answer.answer[1]["truncation"]["rows"] == merged.n_rows
    assert answer.answer[0].objective == pytest.approx(whole["guarantee"][1].value, abs=1e-9)


def test_a_box_is_folded_once_where_no_symmetry_follows(monkeypatch):
    """Without a symmetry to merge them, the rows a fold makes identical are merged by the
    fold itself, and each box is folded once: the correlated-values environment (no
    symmetry between its agents) on the boxes of LB-G-4 and UB-P-4 through the default
    path (the threshold lowered to this size), each answer the whole program's value (the
    path without truncation, whether a box was certified or the whole grid solved after
    them); and UB-P-k's fold, whose rows are never merged, is not done again when its box
    has no symmetry either."""
    low = rm.validate(rm.load_model(MODELS / "correlated_values.mech"))
    monkeypatch.setattr(truncation, "TRUNCATE_FROM_COLUMNS", 1_000)
    merging = _record_folds(monkeypatch)
    for name in ("guarantee", "potential"):
        merging.clear()
        result = rm.solve(low, name, 4)
        attempts = result.extra["truncation"]["attempts"]
        assert attempts and merging == [True] * len(attempts)
        assert result.value == pytest.approx(rm.solve(low, name, 4, truncate=False).value, abs=1e-7)
    from robustmech.api import solve_truncated

    structured, _ = bounding.build("potential", low, 4, structured=True)
    merging.clear()
    tried = solve_truncated(structured, SolverOptions(solver="highs"), "dual", symmetry=lambda small: None)
    assert tried.attempts and merging == [True] * len(tried.attempts)
