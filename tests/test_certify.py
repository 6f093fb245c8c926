"""The certificate chain of Theorem 1 of 004, by exact evaluation.

LB(k) <= G(M_LB) <= P(I_UB) <= UB(k): LB(k) is a lower bound on the guarantee of the
LB-G-k mechanism (weak duality with the local multipliers, 003 (17) / 004 (9)); G(M) <=
P(I) for a participation-secure M and any I (003 Section 2); P̄(σ) >= P(σ) for the
UB-P-k structure (003 (16) / 004 (10)). Each link is checked with the exact programs:
the BCE program for G and the direct-mechanism program for P.

The default run covers every bundled model at the k whose BCE program is small
(|X(k)| |Θ| <= 4000 columns), and 001's independent-values and two-goods models at k = 3
(and the former at k = 4, the vertex-solution test); the larger (model, k) pairs are
marked slow (``pytest -m slow``).
"""

from __future__ import annotations

import json
import pathlib

import pytest
import sympy

import robustmech as rm
from robustmech.certify import Certificate

from conftest import common_value_auction, public_good

ROOT = pathlib.Path(__file__).resolve().parents[1]
def _is_prior_free(path) -> bool:
    """Prior-free models of 000 have no prior, hence no LB/UB chain; `refine` serves them."""
    from robustmech.dsl import parse
    from robustmech.model.elaborate_prior_free import is_prior_free

    return is_prior_free(parse(path.read_text(), str(path)))


def _is_mixture(path) -> bool:
    """A model restricted to mixtures of fixed mechanisms has no LB-G-k (the program refuses
    it; robustmech.mixture evaluates the mixtures exactly instead, tests/test_restrict.py)."""
    return "restrict mixture" in path.read_text()


MODELS = [p for p in sorted((ROOT / "models").glob("*.mech")) if not _is_prior_free(p) and not _is_mixture(p)]
K_RANGE = range(2, 7)
DEFAULT_COLUMNS = 4000
# larger pairs kept in the default run: 001's independent values (Appendix B.1.2) and two
# goods (B.1.4) at k = 3 (10,000 columns each; about 5 s and 10 s)
DEFAULT_ALSO = {("independent_values_auction", 3), ("two_goods_common_values", 3)}
# models whose programs are those of another bundled model, array for array
# (tests/test_language_indices.py checks it at k = 2, 3, 4): the chain runs once at k = 2
SAME_PROGRAMS_AS = {"two_goods": "two_goods_common_values"}
# the largest k a model's chain runs at: unknown correlation's chain (100 states) took
# 161 s at k = 5 on a loaded two-core machine (over 16 minutes before its known-marginals
# programs got the symmetry reduction)
# programs got the symmetry reduction); the public-signal model's chain at k = 6 ran past
# 20 minutes (the direct program of the UB structure, 74 signals per agent; k = 2..5: 5 s)
MAX_K = {"unknown_correlation_auction": 5, "common_value_public_signal": 5}


@pytest.fixture(scope="module")
def public_good_low():
    return rm.validate(public_good(2, 3))


@pytest.mark.parametrize("k", K_RANGE)
def test_chain_on_the_public_good(public_good_low, k):
    """004 Section 4 (N = 2, vbar = 3): the chain holds at k = 2..6, and in particular
    the exact guarantee of the LB-G-k mechanism is at least LB(k)."""
    cert = rm.certify(public_good_low, k)
    assert cert.holds, str(cert)
    assert cert.mechanism_guarantee >= cert.lower - 1e-7
    assert cert.details["mechanism_participation_secure"]
    # G(M_LB) <= max guarantee = λ of (15)-(17) of 004 <= min potential <= P(I_UB)
    from robustmech.symbolic.public_good import public_good_solution

    lam = public_good_solution(2, 3).guarantee
    assert cert.mechanism_guarantee <= lam + 1e-7 and lam <= cert.information_potential + 1e-7
    cert.check()


def _small_common_value():
    return common_value_auction(2, [0, sympy.Rational(1, 2), 1])


@pytest.mark.parametrize("k", [2, 3, 4, 5, pytest.param(6, marks=pytest.mark.slow)])
def test_chain_with_free_transfers(k):
    """Quasilinear, free transfers (004 Section 5; UB-P-k's lineality rows): the chain
    holds on a common-value auction with v uniform on {0, 1/2, 1}."""
    cert = rm.certify(_small_common_value(), k)
    assert cert.holds, str(cert)


def _bundled_cases():
    """(model, k) pairs; those whose BCE program has more than DEFAULT_COLUMNS columns
    (|X(k)| |Θ|) are marked slow. A model that does not load stays in the default run,
    where it fails with its error."""
    cases = []
    for path in MODELS:
        try:
            env = rm.load_model(path)
            size = lambda k, env=env: (k * k + 1) ** env.n_agents * env.n_states  # noqa: E731
        except rm.RobustMechError:
            size = lambda k: 0  # noqa: E731
        for k in (K_RANGE if path.stem not in SAME_PROGRAMS_AS else range(2, 3)):
            if k > MAX_K.get(path.stem, k):
                continue
            marks = [pytest.mark.slow] if size(k) > DEFAULT_COLUMNS and (path.stem, k) not in DEFAULT_ALSO else []
            cases.append(pytest.param(path, k, id=f"{path.stem}-k{k}", marks=marks))
    return cases


@pytest.mark.parametrize("path,k", _bundled_cases())
def test_chain_on_every_bundled_model(path, k):
    """Theorem 1 of 004 on every model in models/, k = 2..6 (large BCE programs are
    run with -m slow)."""
    env = rm.load_model(path)
    cert = rm.certify(env, k)
    assert cert.holds, str(cert)


def test_broken_link_fails_loudly():
    """A chain whose links do not hold is reported by name and raises SolverError
    (exit code 3 on the command line)."""
    cert = Certificate(k=2, lower=1.0, mechanism_guarantee=0.9, information_potential=1.2, upper=1.1,
                       tolerance=1e-6, model="made_up")
    assert not cert.holds
    assert cert.broken == ["LB(k) <= G(M_LB)", "P(I_UB) <= UB(k)"]
    with pytest.raises(rm.SolverError, match="LB\\(k\\) <= G\\(M_LB\\) fails") as info:
        cert.check()
    assert info.value.exit_code == 3
    ok = Certificate(k=2, lower=1.0, mechanism_guarantee=1.0 - 1e-9, information_potential=1.2, upper=1.2,
                     tolerance=1e-6, model="made_up")
    assert ok.holds


class _Run:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def _cli(capsys, monkeypatch):
    """Run the command line in this process (as `robustmech ARGS` from the repo root)."""
    from robustmech.cli import main

    monkeypatch.chdir(ROOT)

    def run(*args):
        capsys.readouterr()
        code = main(list(args))
        out = capsys.readouterr()
        return _Run(code, out.out, out.err)

    return run


def test_certify_command_prints_the_chain_as_json(_cli):
    """`robustmech certify MODEL --k K --json`: lower, mechanism_guarantee,
    information_potential, upper, holds (Theorem 1 of 004 on 003 Section 1.1's model)."""
    out = _cli("certify", "models/myerson_two_by_two.mech", "--k", "3", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["holds"] is True
    assert data["lower"] <= data["mechanism_guarantee"] + 1e-6
    assert data["mechanism_guarantee"] <= data["information_potential"] + 1e-6
    assert data["information_potential"] <= data["upper"] + 1e-6


def test_evaluate_command_reproduces_myerson(_cli):
    """`robustmech evaluate MODEL --information NAME`: 003 Section 1.1, correlated values
    P(LL) = P(HH) = 0.4 give full surplus extraction, 1.6; a standard mechanism by name."""
    out = _cli("evaluate", "models/myerson_two_by_two.mech", "--information", "private_values", "--json",
               "-p", "p_LL=0.4", "-p", "p_LH=0.1", "-p", "p_HL=0.1", "-p", "p_HH=0.4")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["potential"] == pytest.approx(1.6, abs=1e-8)
    out = _cli("evaluate", "models/myerson_two_by_two.mech", "--mechanism", "posted_price(price=1)", "--json")
    assert out.returncode == 0, out.stderr
    # price 1 <= every value: every BCE sells for sure (obedience: buying gains v - 1 >= 0)
    # except that a buyer with value 1 is indifferent; the worst BCE sells only when someone has value 2
    data = json.loads(out.stdout)
    assert data["guarantee"] == pytest.approx(0.75, abs=1e-9) and data["best_bce"] == pytest.approx(1.0, abs=1e-9)


def test_evaluate_command_reads_saved_results(tmp_path, _cli):
    """`--mechanism FILE`: a result saved by `robustmech solve --out` is evaluated exactly,
    and its guarantee is at least LB(k) (Theorem 1 of 004)."""
    result = tmp_path / "lb.json"
    out = _cli("solve", "models/public_good.mech", "--k", "3", "--out", str(result), "--json")
    assert out.returncode == 0, out.stderr
    lower = json.loads(out.stdout)["value"]
    out = _cli("evaluate", "models/public_good.mech", "--mechanism", str(result), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["guarantee"] >= lower - 1e-7
    out = _cli("evaluate", "models/public_good.mech", "--information", str(result))
    assert out.returncode == 2 and "holds no information structure" in out.stderr
    assert "Traceback" not in out.stderr


def test_chain_uses_vertex_solutions_of_the_bounding_programs(monkeypatch):
    """The potential of an information structure depends on its support, which an
    interior point solution blurs (1e-10 on signals a vertex leaves at zero): with
    Clarabel's σ, independent_values_auction at k = 4 gave P(I_UB) = 0.5525 > UB(4) =
    0.3307. So `certify` with the default `auto` solves LB-G-k and UB-P-k with HiGHS at
    every size. This runs the chain on that very model and k (about 30 s): the potential of
    the UB-P-4 structure, evaluated exactly by the direct-mechanism program, is at most
    UB(4), and both bounding programs went to HiGHS."""
    from robustmech import api

    seen = []
    real = api.solve

    def recording(low, program, k, solver="auto", **kwargs):
        seen.append(solver)
        return real(low, program, k, solver=solver, **kwargs)

    monkeypatch.setattr(api, "solve", recording)
    cert = rm.certify(rm.load_model(ROOT / "models" / "independent_values_auction.mech"), 4)
    assert cert.holds, str(cert)
    assert cert.information_potential <= cert.upper + cert.tolerance
    assert seen == ["highs", "highs"]
