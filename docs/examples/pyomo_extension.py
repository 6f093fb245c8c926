"""Extend LB-G-4 of the public good with a constraint of your own, in Pyomo.

Agent 1 may be made to pay for the good with probability at most one half at every
action profile. The guarantee of the best mechanism under that cap is read back with
the mechanism itself; it can be no larger than the unrestricted LB(4) = 1.485301.
"""

import pyomo.environ as pyo

import robustmech as rm
from robustmech.pyomo import from_pyomo, solve_model, to_pyomo

env = rm.load_model("models/public_good.mech", params={"N": 2, "vbar": 3})
model = to_pyomo(env, "guarantee", k=4)  # LB-G-4, the linear program (9) of 004

# m[x1, x2, ω] is the probability of outcome ω at the action profile (x1, x2)
model.cap = pyo.Constraint(model.X, rule=lambda m, x1, x2: m.m[x1, x2, "paid_by[1]"] <= 0.5)

solve_model(model, "appsi_highs")  # any Pyomo solver: "glpk", "cbc", "gurobi", ...
capped = from_pyomo(model)
print(f"LB-G-4 with the cap: {capped.value:.6f} (dual bound {capped.dual_value:.6f})")
print("largest probability that agent 1 pays:", capped.mechanism.outcome("paid_by[1]").max())
