"""Exact evaluation of given objects, and the certificate chain of Theorem 1 of 004.

* :func:`guarantee`: the exact guarantee G(M) of a finite mechanism, the minimum of the
  designer's objective over all Bayes correlated equilibria (``programs/bce.py``), with
  the best BCE and the participation security of every action;
* :func:`potential`: the exact potential P(I) of a finite information structure, the
  value of the best direct mechanism under interim IC and IR (``programs/direct.py``);
* :func:`certify`: solve LB-G-k and UB-P-k, evaluate the LB mechanism exactly and the
  UB information structure exactly, and check

      LB(k) <= G(M_LB) <= P(I_UB) <= UB(k)

  (Theorem 1 of 004; G(M) <= P(I) for participation-secure M, 003 Section 2).

These functions are the Python API that ``robustmech evaluate`` and ``robustmech
certify`` are thin layers over::

    import robustmech as rm
    from robustmech.model.generators import first_price_auction
    g = rm.guarantee(env, first_price_auction(env, bids=21))
    c = rm.certify(env, k=4); c.check()
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import api
from .errors import ModelError, SolverError
from .lower.arrays import LoweredEnvironment
from .model.environment import Environment
from .model.objects import InformationStructure, Mechanism
from .programs import bce
from .programs.lp import VariableBlock
from .solve import SolverOptions, dual_objective


def _lowered(env: Environment | LoweredEnvironment) -> LoweredEnvironment:
    return env if isinstance(env, LoweredEnvironment) else api.validate(env)


@dataclass
class GuaranteeResult:
    """G(M) = min over BCE, with the worst and the best BCE (003 (2), (5)-(6))."""

    mechanism: Mechanism
    value: float  # the guarantee: the worst BCE's value
    best_value: float  # the best BCE's value
    worst: bce.CorrelatedEquilibrium
    best: bce.CorrelatedEquilibrium
    dual_value: float
    best_dual_value: float
    secure_actions: list  # per agent: labels of the participation-secure actions
    agents: tuple
    status: str
    build_seconds: float
    solve_seconds: float
    n_variables: int
    n_constraints: int
    model: str = ""
    generation_rounds: int = 1  # solves of the worst-BCE program (more than one with row generation)

    @property
    def participation_secure(self) -> bool:
        """Every agent has a participation-secure action: M ∈ 𝓜⁰ (003 Section 2)."""
        return all(len(s) > 0 for s in self.secure_actions)

    def summary(self) -> dict:
        return {
            "model": self.model,
            "evaluation": "guarantee",
            "mechanism": self.mechanism.name,
            "actions": [int(len(a)) for a in self.mechanism.actions],
            "guarantee": self.value,
            "best_bce": self.best_value,
            "dual_value": self.dual_value,
            "duality_gap": abs(self.value - self.dual_value),
            "status": self.status,
            "participation_secure": self.participation_secure,
            "secure_actions": {a: [_label(x) for x in s] for a, s in zip(self.agents, self.secure_actions)},
            "variables": self.n_variables,
            "constraints": self.n_constraints,
            "generation_rounds": self.generation_rounds,
            "build_seconds": round(self.build_seconds, 6),
            "solve_seconds": round(self.solve_seconds, 6),
        }

    def __str__(self) -> str:
        lines = [f"guarantee of {self.mechanism.name} ({' x '.join(str(len(a)) for a in self.mechanism.actions)} "
                 "actions): "
                 f"{self.value:.6f}  [{self.status}, {_dual_text(self.dual_value)}]",
                 f"  best BCE: {self.best_value:.6f}"]
        if self.worst.baseline is not None:
            lines.append("  over the BCE with the baseline signal (every information structure refines it)")
        for a, s in zip(self.agents, self.secure_actions):
            shown = ", ".join(str(_label(x)) for x in s[:8]) + (", ..." if len(s) > 8 else "")
            lines.append(f"  agent {a}: {len(s)} participation-secure action(s)" + (f": {shown}" if len(s) else ""))
        if not self.participation_secure:
            lines.append("  warning: the mechanism is not participation secure (some agent has no secure action)")
        lines.append(f"  {self.n_variables} variables, {self.n_constraints} rows; build {self.build_seconds:.2f} s, "
                     f"solve {self.solve_seconds:.2f} s")
        return "\n".join(lines)


@dataclass
class PotentialResult:
    """P(I) = the best direct mechanism's value under interim IC and IR (003 (1), (3)-(4))."""

    information: InformationStructure
    value: float
    dual_value: float
    mechanism: Mechanism  # the optimal direct mechanism
    binding: dict  # constraint family -> number of rows with a non-zero dual
    status: str
    build_seconds: float
    solve_seconds: float
    n_variables: int
    n_constraints: int
    model: str = ""
    note: str = ""  # how the solver got there, when not the plain way (a numerical recovery)

    def summary(self) -> dict:
        return {
            "model": self.model,
            "evaluation": "potential",
            "note": self.note,
            "information": self.information.name,
            "signals": [int(len(s)) for s in self.information.signals],
            "potential": self.value,
            "dual_value": self.dual_value,
            "duality_gap": abs(self.value - self.dual_value),
            "status": self.status,
            "binding_constraints": self.binding,
            "variables": self.n_variables,
            "constraints": self.n_constraints,
            "build_seconds": round(self.build_seconds, 6),
            "solve_seconds": round(self.solve_seconds, 6),
        }

    def __str__(self) -> str:
        bind = ", ".join(f"{k} {v}" for k, v in self.binding.items() if v)
        return (f"potential of {self.information.name} "
                f"({' x '.join(str(len(s)) for s in self.information.signals)} signals): {self.value:.6f}  "
                f"[{self.status}, {_dual_text(self.dual_value)}]\n"
                + (f"  note: {self.note}\n" if self.note else "")
                + f"  binding constraints: {bind or 'none'}\n"
                f"  {self.n_variables} variables, {self.n_constraints} rows; build {self.build_seconds:.2f} s, "
                f"solve {self.solve_seconds:.2f} s")


# Row generation pays from this many obedience nonzeros: every obedience row of agent i
# touches all |A_-i| |Θ| columns of its recommendation, so the full program of a
# first-price auction with 150 bids and 21 values has 141 million nonzeros.
GENERATE_FROM_NONZEROS = 2_000_000
MAX_GENERATION_ROUNDS = 50
# the solvers the warm row generation stands for (it runs HiGHS's dual simplex)
WARM_SOLVERS = ("auto", "highs", "highs-simplex")


def guarantee(env: Environment | LoweredEnvironment, mechanism: Mechanism, solver: str = "auto",
              time_limit: float | None = None, verbose: bool = False, best: bool = True,
              symmetry: bool = True, deviations: str = "auto") -> GuaranteeResult:
    """The exact guarantee of a finite mechanism: min (and max) of the designer's
    objective over all Bayes correlated equilibria with the prior as state marginal
    (the ``bce-worst`` and ``bce-best`` programs, through the same chain as every
    program: over symmetric equilibria where the mechanism and environment are symmetric).

    ``deviations``: ``"all"`` writes every obedience row; ``"warm"`` starts from the
    deviations to adjacent and extreme actions and adds the rows the solution breaks to one HiGHS
    model, solved on from its basis, until it breaks none (:func:`bce_with_warm_rows`);
    ``"generate"`` does the same with a fresh build and solve through ``api.run`` each
    round (:func:`bce_with_row_generation`; any solver); ``"auto"`` is ``"warm"`` from
    ``GENERATE_FROM_NONZEROS`` obedience nonzeros when HiGHS may be used (``solver``
    ``auto``, ``highs`` or ``highs-simplex``), ``"generate"`` there for other solvers,
    ``"all"`` below. Every way, the answer is checked against every deviation and
    certified by a weak-duality bound on the full program. With a baseline signal
    (:mod:`robustmech.programs.baseline`) the BCE conditions on it and every row is
    written (``"auto"`` is ``"all"``; ``"warm"`` and ``"generate"`` are refused)."""
    low = _lowered(env)
    if not isinstance(mechanism, Mechanism):
        raise ModelError(f"expected a Mechanism, got {type(mechanism).__name__}")
    if deviations not in ("auto", "all", "generate", "warm"):
        raise ModelError(f"deviations must be auto, all, generate or warm, got {deviations!r}")
    options = SolverOptions(solver=solver, time_limit=time_limit, verbose=verbose)
    if low.baseline is not None:  # the row generation works on the rows without a baseline signal
        if deviations in ("warm", "generate"):
            raise ModelError(f"deviations={deviations!r}: the obedience rows are generated only without a baseline "
                             "signal; with one, every row is written (deviations='all' or 'auto')",
                             low.env.location("baseline"))
        deviations = "all"
    if deviations == "auto":
        large = obedience_nonzeros(low, mechanism) >= GENERATE_FROM_NONZEROS
        deviations = ("warm" if solver in WARM_SOLVERS else "generate") if large else "all"

    def one(program: str):
        if deviations == "warm":
            return bce_with_warm_rows(low, mechanism, program, options, symmetry)
        return bce_with_row_generation(low, mechanism, program, options, symmetry, deviations == "generate")

    worst_run, rounds = one("bce-worst")
    worst, low_sol = worst_run.readback.equilibrium, worst_run.solution
    solve_seconds, build_seconds = low_sol.solve_seconds, worst_run.build_seconds
    if best:
        best_run, _ = one("bce-best")
        best_bce, best_dual = best_run.readback.equilibrium, best_run.solution.dual_objective
        solve_seconds += best_run.solution.solve_seconds
        build_seconds += best_run.build_seconds
    else:
        best_bce, best_dual = worst, low_sol.dual_objective
    secure = bce.participation_security(low, mechanism)
    labels = [np.asarray(a)[s].tolist() for a, s in zip(mechanism.actions, secure)]
    return GuaranteeResult(
        mechanism=mechanism, value=float(low_sol.objective), best_value=float(best_bce.value), worst=worst,
        best=best_bce, dual_value=float(low_sol.dual_objective), best_dual_value=float(best_dual),
        secure_actions=labels, agents=low.env.agents, status=low_sol.status, build_seconds=build_seconds,
        solve_seconds=solve_seconds, n_variables=worst_run.lp.n_cols, n_constraints=worst_run.lp.n_rows,
        model=low.env.name, generation_rounds=rounds)


def obedience_nonzeros(low: LoweredEnvironment, mechanism: Mechanism) -> int:
    """The nonzeros of all obedience rows: Σ_i |A_i| (|A_i| - 1) |A_-i| |Θ|."""
    n_a = int(np.prod(mechanism.shape))
    return int(sum((n - 1) * n_a for n in mechanism.shape) * low.n_states)


def bce_with_row_generation(low: LoweredEnvironment, mechanism: Mechanism, program: str, options: SolverOptions,
                            symmetry: bool, generate: bool):
    """The worst (best) BCE through ``api.run``; with ``generate``, by row generation:
    solve with the deviations to adjacent and extreme actions
    (:func:`bce.starting_deviations`), add every omitted obedience row the
    solution breaks (more than 1e-9 of the payoffs' scale), and solve again, until none
    is broken. The last program is a relaxation whose optimum satisfies every row of the
    full one, hence is its optimum; its duals, zero on the rows left out, are a dual
    solution of the full program, so the weak-duality bound still certifies it.
    Returns the run and the number of solves."""
    if not generate:
        return api.run(low, program, {"mechanism": mechanism}, options, symmetry=symmetry), 1
    U, _ = bce.payoff_arrays(low, mechanism)
    tol = 1e-9 * max(1.0, float(np.abs(U).max(initial=0.0)))
    masks = list(bce.starting_deviations(mechanism))
    same_actions = len(set(mechanism.shape)) == 1
    for rounds in range(1, MAX_GENERATION_ROUNDS + 1):
        if same_actions:  # the same rows for every agent keep a symmetric program symmetric
            union = np.logical_or.reduce(masks)
            masks = [union.copy() for _ in masks]
        run = api.run(low, program, {"mechanism": mechanism, "deviations": tuple(masks)}, options,
                      symmetry=symmetry)
        broken = bce.violated_deviations(U, run.readback.equilibrium.joint, tol)
        new = [b & ~m for b, m in zip(broken, masks)]
        if not any(n.any() for n in new):
            return run, rounds
        masks = [m | n for m, n in zip(masks, new)]
    raise SolverError(f"{mechanism.name}: row generation for the BCE program did not settle in "
                      f"{MAX_GENERATION_ROUNDS} rounds; rerun with deviations='all'", "error")


# rows added per (agent, recommendation) and round by the warm row generation: the
# deviations that gain most (None: every broken one), and with a reach the omitted ones
# up to that many times as far as the farthest broken one (None: none ahead). Measured
# on the first-price auction, 11 values, 60 bids (CPU seconds, worst / best BCE): every
# broken one 2.1 / 15; the 4 that gain most 2.3 / 37; 16: 1.9 / 31; every broken one
# with reach 2: 1.9 / 25, reach 3: 1.7 / 19; the 4 with reach 2: 2.2 / 17
WARM_PER_RECOMMENDATION: int | None = None
WARM_REACH: float | None = None


def bce_with_warm_rows(low: LoweredEnvironment, mechanism: Mechanism, program: str, options: SolverOptions,
                       symmetry: bool = True, per_recommendation: int | None = WARM_PER_RECOMMENDATION,
                       max_rounds: int = 200, reach: float | None = WARM_REACH) -> tuple[api.Solved, int]:
    """The worst (best) BCE by row generation on one HiGHS model
    (:func:`robustmech.solve.lazy.solve_with_lazy_rows`): the program with the
    deviations to adjacent and extreme actions (:func:`bce.starting_deviations`) is
    built once; each round adds, for every agent and
    recommendation, the ``per_recommendation`` omitted deviations that gain most at the
    current solution (built only for those pairs) and the dual simplex method goes on
    from its basis. With two exchangeable agents (:func:`bce.agent_swap_orbits`) the
    program is over the orbit-constant σ = P z with agent 1's rows only.

    The answer is certified on the full program: its point is checked against every
    obedience row (all deviations) and the marginal rows, and the last relaxation's
    duals, zero on the rows left out (and, with the exchange, each of agent 1's row
    duals shared half and half with agent 2's image row), are dual feasible for the
    full program, so their weak-duality value (``dual_objective``, recomputed on the
    relaxation over every column) bounds it. Returns the run, over the last relaxation
    with its rows written for both agents, and the number of solves."""
    from .programs.base import program as get_program
    from .solve.lazy import RowBlock, solve_with_lazy_rows

    start = time.perf_counter()
    sense = "max" if program == "bce-best" else "min"
    U, W = bce.payoff_arrays(low, mechanism)
    tol = 1e-9 * max(1.0, float(np.abs(U).max(initial=0.0)))
    P = bce.agent_swap_orbits(U, W) if symmetry else None
    masks = [m.copy() for m in bce.starting_deviations(mechanism)]
    if P is not None:
        masks = [masks[0] | masks[1]] * 2
    first, _ = bce.build(low, mechanism, sense, tuple(masks))
    agents = [0] if P is not None else list(range(low.n_agents))
    names = [f"obedience[{a}]" for a in low.env.agents]
    # where each (agent, recommendation, deviation) row sits in the solved program
    position = [np.full(m.shape, -1, dtype=np.intp) for m in masks]
    for i in agents:
        fam = first.families[names[i]]
        rec, dev = np.nonzero(masks[i] & ~np.eye(len(masks[i]), dtype=bool))
        position[i][rec, dev] = fam.start + np.arange(fam.count)
    if P is not None:
        first = first.without_families({names[1]})
        first = replace(first, A=(first.A @ P).tocsr(), cost=P.T @ first.cost, col_lower=np.zeros(P.shape[1]),
                        col_upper=np.full(P.shape[1], np.inf), name=first.name + " over agent-exchange orbits",
                        variables={"z": VariableBlock("z", 0, (P.shape[1],), "σ on the orbits of the exchange")})
    marginal = first.families["marginal"].slice
    n_rows = [first.n_rows]
    shape = tuple(mechanism.shape) + (low.n_states,)
    separate_seconds = [0.0]

    def separate(x: np.ndarray) -> RowBlock | None:
        t0 = time.perf_counter()
        joint = np.clip(P @ x if P is not None else x, 0.0, None).reshape(shape)
        gains = bce.deviation_gains(U, joint)
        new = bce.most_violated(gains, masks, tol, per_recommendation, reach)
        if P is not None:  # at an orbit-constant point both agents break the same pairs
            both = np.zeros_like(masks[0])
            for rec, dev in new:
                both[rec, dev] = True
            rec, dev = np.nonzero(both)
            new = [(rec, dev)]
        if not any(len(rec) for rec, _ in new):
            separate_seconds[0] += time.perf_counter() - t0
            return None
        parts = []
        for i, (rec, dev) in zip(agents, new):
            if not len(rec):
                continue
            rows = bce.obedience_rows(U[i], i, rec, dev)
            parts.append((rows @ P).tocsr() if P is not None else rows)
            position[i][rec, dev] = n_rows[0] + np.arange(len(rec))
            n_rows[0] += len(rec)
            masks[i] = masks[i].copy()
            masks[i][rec, dev] = True
        if P is not None:
            masks[1] = masks[0]
        A = sp.vstack(parts, format="csr")
        separate_seconds[0] += time.perf_counter() - t0
        return RowBlock(A, np.full(A.shape[0], -np.inf), np.zeros(A.shape[0]))

    build_first = time.perf_counter() - start
    lazy = solve_with_lazy_rows(first, separate, options, max_rounds=max_rounds, family="obedience (added)",
                                description="obedience rows the previous solutions broke")
    t0 = time.perf_counter()
    # the last relaxation over every column, each agent's rows written, and its solution
    full, inverse = bce.build(low, mechanism, sense, tuple(masks))
    sol = lazy.solution
    x = P @ sol.x if P is not None else sol.x
    y = np.zeros(full.n_rows)
    for i in range(low.n_agents):
        fam = full.families[names[i]]
        rec, dev = np.nonzero(masks[i] & ~np.eye(len(masks[i]), dtype=bool))
        src = position[0] if P is not None else position[i]
        y[fam.slice] = sol.row_dual[src[rec, dev]] * (0.5 if P is not None else 1.0)
    y[full.families["marginal"].slice] = sol.row_dual[marginal]
    activity = full.A @ x
    col_dual = full.cost - full.A.T @ y
    solution = replace(sol, x=x, row_dual=y, col_dual=col_dual, row_activity=activity,
                       objective=float(full.cost @ x + full.offset),
                       dual_objective=dual_objective(full, y, col_dual, activity, x),
                       solver="highs-simplex (rows added warm)")
    certificate = api.certify_solution(full, x, solution)
    joint = np.clip(x, 0.0, None).reshape(shape)
    worst_gain = max(float(g.max()) for g in bce.deviation_gains(U, joint))
    if worst_gain > tol:
        raise SolverError(f"{mechanism.name}: the warm row generation's point breaks an obedience row by "
                          f"{worst_gain:.2e}", "uncertified")
    certificate.update(max_obedience_gain=worst_gain, rows_added=lazy.added, rounds=lazy.rounds,
                       reduced_columns=int(first.n_cols), separate_seconds=separate_seconds[0],
                       round_log=lazy.log, deviations=tuple(masks))
    prog = get_program(program)
    build_seconds = build_first + (time.perf_counter() - t0) + separate_seconds[0]
    return api.Solved(prog, full, solution, prog.read(full, solution, inverse), certificate, build_seconds), lazy.rounds


def potential(env: Environment | LoweredEnvironment, information: InformationStructure, solver: str = "auto",
              time_limit: float | None = None, verbose: bool = False, symmetry: bool = True) -> PotentialResult:
    """The exact potential of a finite information structure: the best direct mechanism
    under every interim incentive and participation constraint (the ``direct`` program,
    through the same chain as every program)."""
    low = _lowered(env)
    if not isinstance(information, InformationStructure):
        raise ModelError(f"expected an InformationStructure, got {type(information).__name__}")
    run = api.run(low, "direct", {"information": information},
                  SolverOptions(solver=solver, time_limit=time_limit, verbose=verbose), symmetry=symmetry)
    lp, sol = run.lp, run.solution
    binding = {}
    for name, fam in lp.families.items():
        if name.startswith(("ic[", "ir[")):
            binding[name] = int(np.sum(np.abs(sol.row_dual[fam.slice]) > 1e-9))
    return PotentialResult(information=information, value=float(sol.objective), dual_value=float(sol.dual_objective),
                           mechanism=run.readback.mechanism, binding=binding, status=sol.status,
                           build_seconds=run.build_seconds, solve_seconds=sol.solve_seconds, n_variables=lp.n_cols,
                           n_constraints=lp.n_rows, model=low.env.name, note=sol.recovery)


@dataclass
class Certificate:
    """LB(k) <= G(M_LB) <= P(I_UB) <= UB(k) (Theorem 1 of 004), each link checked."""

    k: int
    lower: float
    mechanism_guarantee: float
    information_potential: float
    upper: float
    tolerance: float
    model: str = ""
    params: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    seconds: float = 0.0

    LINKS = (("lower", "mechanism_guarantee", "LB(k) <= G(M_LB)"),
             ("mechanism_guarantee", "information_potential", "G(M_LB) <= P(I_UB)"),
             ("information_potential", "upper", "P(I_UB) <= UB(k)"))

    def slack(self, a: float, b: float) -> float:
        """How far a <= b is violated beyond the tolerance, relative to the values' size."""
        return (a - b) - self.tolerance * max(1.0, abs(a), abs(b))

    @property
    def broken(self) -> list[str]:
        links = [text for a, b, text in self.LINKS if self.slack(getattr(self, a), getattr(self, b)) > 0]
        # G(M) <= P(I) needs M participation secure (004 Section 2): a link of its own
        if self.details.get("mechanism_participation_secure") is False:
            links.append("M_LB participation secure")
        return links

    @property
    def holds(self) -> bool:
        return not self.broken

    def check(self) -> "Certificate":
        """Raise SolverError (exit 3) naming the broken links, if any."""
        if self.broken:
            parts = []
            for a, b, text in self.LINKS:
                if self.slack(getattr(self, a), getattr(self, b)) > 0:
                    parts.append(f"{text} fails: {getattr(self, a):.9g} > {getattr(self, b):.9g}")
            if "M_LB participation secure" in self.broken:
                parts.append("the LB mechanism's action 0 is not participation secure")
            raise SolverError(f"certificate chain broken on {self.model} at k={self.k}: " + "; ".join(parts)
                              + f" (tolerance {self.tolerance:g})", "certificate")
        return self

    def summary(self) -> dict:
        return {"model": self.model, "params": dict(self.params), "k": self.k, "lower": self.lower,
                "mechanism_guarantee": self.mechanism_guarantee, "information_potential": self.information_potential,
                "upper": self.upper, "holds": self.holds, "tolerance": self.tolerance,
                "seconds": round(self.seconds, 6),
                **self.details}

    def __str__(self) -> str:
        mark = "holds" if self.holds else "BROKEN: " + "; ".join(self.broken)
        return (f"{self.model} k={self.k}: certificate chain of Theorem 1 (004)\n"
                f"  LB(k)                            {self.lower:.9f}\n"
                f"  <= guarantee of the LB mechanism {self.mechanism_guarantee:.9f}\n"
                f"  <= potential of the UB structure {self.information_potential:.9f}\n"
                f"  <= UB(k)                         {self.upper:.9f}\n"
                f"  {mark} (tolerance {self.tolerance:g})")


def certify(env: Environment | LoweredEnvironment, k: int, tolerance: float = 1e-6, solver: str = "auto",
            time_limit: float | None = None, verbose: bool = False, symmetry: bool = True) -> Certificate:
    """Solve LB-G-k and UB-P-k, evaluate both solutions exactly, and return the chain
    (call :meth:`Certificate.check` to fail loudly when a link breaks)."""
    start = time.perf_counter()
    low = _lowered(env)
    # The potential of an information structure depends on its support: an interior point
    # solution of UB-P-k puts ~1e-10 on signals a vertex leaves at zero, and with free
    # transfers such signals are worth a lot (independent_values_auction, k=4: P(I_UB)
    # 0.5525 against UB(k) 0.3307 from Clarabel's σ). The chain needs vertex solutions,
    # so ``auto`` means HiGHS's own choice here, whatever the size.
    bounding_solver = "highs" if solver == "auto" else solver
    lb = api.solve(low, "guarantee", k, solver=bounding_solver, time_limit=time_limit, verbose=verbose,
                   symmetry=symmetry)
    ub = api.solve(low, "potential", k, solver=bounding_solver, time_limit=time_limit, verbose=verbose,
                   symmetry=symmetry)
    # LB mechanisms make the BCE program highly degenerate for the simplex method
    # (measured on the public good, k=6: 16 s dual simplex, 2.7 s interior point with
    # crossover); when HiGHS is left to choose, the BCE step uses the interior point method
    bce_solver = "highs-ipm" if solver in ("auto", "highs") else solver
    if lb.mechanism is None or ub.information is None:  # the programs' read-back gives both when optimal
        raise SolverError("the bounding programs gave no "
                          f"{'mechanism' if lb.mechanism is None else 'information structure'}"
                          f" to certify (status {lb.status}, {ub.status})")
    g = guarantee(low, lb.mechanism, solver=bce_solver, time_limit=time_limit, verbose=verbose, best=False,
                  symmetry=symmetry)
    information = ub.information
    if low.baseline is not None:
        # signals (s_i, x_i): most pairs carry no probability (a baseline signal s_i and the
        # x_i Nature leaves unused); the potential is that of the structure without them
        information = without_unused_signals(information)
    p = potential(low, information, solver=solver, time_limit=time_limit, verbose=verbose, symmetry=symmetry)
    details = {
        "mechanism_participation_secure": g.participation_secure,
        "seconds_by_step": {"lower": round(lb.build_seconds + lb.solve_seconds, 6),
                            "upper": round(ub.build_seconds + ub.solve_seconds, 6),
                            "bce": round(g.build_seconds + g.solve_seconds, 6),
                            "direct": round(p.build_seconds + p.solve_seconds, 6)},
        "sizes": {"bce": [g.n_variables, g.n_constraints], "direct": [p.n_variables, p.n_constraints]},
    }
    return Certificate(k=k, lower=lb.value, mechanism_guarantee=g.value, information_potential=p.value, upper=ub.value,
                       tolerance=tolerance, model=low.env.name,
                       params={k_: _plain(v) for k_, v in low.env.params.items()},
                       details=details, seconds=time.perf_counter() - start)


def without_unused_signals(info: InformationStructure, tol: float = 0.0) -> InformationStructure:
    """The structure with every signal of probability at most ``tol`` removed. Its potential
    is the same: such a signal carries no interim constraint, and as a report it is worth no
    more than a signal kept, since the designer may give it the outcomes of one (a
    deviation to it is then a deviation already ruled out)."""
    joint = info.joint
    keep = []
    for i in range(info.n_agents):
        mass = np.moveaxis(joint, i, 0).reshape(joint.shape[i], -1).sum(1)
        kept = np.flatnonzero(mass > tol)
        keep.append(kept if len(kept) else np.arange(1))
    pruned = joint[np.ix_(*keep, np.arange(joint.shape[-1]))]
    return InformationStructure(tuple(np.asarray(s)[k] for s, k in zip(info.signals, keep)), info.state_labels,
                                pruned, name=info.name, metadata=dict(info.metadata, pruned_from=joint.shape[:-1]))


def _dual_text(value: float) -> str:
    if np.isfinite(value):
        return f"dual {value:.6f}"
    # free columns (transfers) whose recomputed reduced costs are not zero to 1e-9
    return "no dual bound within 1e-9"


def _label(x: Any):
    x = x.item() if hasattr(x, "item") else x
    if isinstance(x, float):
        return round(x, 12)
    return x


def _plain(v: Any):
    try:
        f = float(v)
        return int(f) if f.is_integer() else f
    except (TypeError, ValueError):
        return str(v)
