"""Shared fixtures: environments of the papers built with the Python builder API."""

from __future__ import annotations

import pathlib

import pytest

import robustmech as rm

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def public_good(n_agents: int = 2, vbar=3) -> rm.Environment:
    """004 Section 4.1: one agent values the good at vbar, the others at 0, uniform prior;
    outcome 0 is no expenditure, outcome j is full expenditure paid by agent j."""
    b = rm.ModelBuilder("public_good", "Public expenditure with a known social value")
    b.param("N", n_agents)
    b.param("vbar", vbar)
    b.agents(n_agents)
    theta = b.states(
        [f"theta[{i}]" for i in range(1, n_agents + 1)],
        [tuple(vbar if i == j else 0 for i in range(n_agents)) for j in range(n_agents)],
    )
    b.prior_uniform()
    b.finite_outcomes(["none"] + [f"paid_by[{j}]" for j in range(1, n_agents + 1)])
    for i in range(n_agents):
        b.utility(i, lambda o, i=i: 0 if o == "none" else theta[i] - (1 if o == f"paid_by[{i + 1}]" else 0))
    b.designer(lambda o: 0 if o == "none" else sum(theta) - 1)
    return b.build()


def common_value_auction(n_agents: int = 2, values=(0, 0.5, 1)) -> rm.Environment:
    """A pure common value v uniform on ``values``; q[i] >= 0, sum(q) <= 1, free
    transfers t[i]; u_i = v q_i - t_i, w = sum(t) (004 Section 2, 001 Section 2)."""
    b = rm.ModelBuilder("common_value_auction")
    b.agents(n_agents)
    (v,) = b.states(["v"], list(values))
    b.prior_uniform()
    q = b.allocation("q")
    t = b.transfer("t")
    for i in range(n_agents):
        b.utility(i, v * q[i] - t[i])
    b.designer(sum(t))
    return b.build()


@pytest.fixture(scope="session")
def public_good_env() -> rm.Environment:
    return public_good(2, 3)


@pytest.fixture(scope="session")
def public_good_lowered(public_good_env) -> rm.LoweredEnvironment:
    return rm.validate(public_good_env)
