"""The ``mechanism`` and ``information`` statements of a Bayesian model: a mechanism
(003 Section 2: M = (A, m)) or an information structure (I = (S, σ)) to evaluate,
read from a data file or (for information) written out in the model.

A data file is found relative to the model file and read by the injected
:class:`~robustmech.model.data.DataLoader` (this module does not know any file format);
the arrays it returns are checked against the model: one action axis per agent and the
model's outcomes for a rule, one signal axis per agent and the model's states for a
joint distribution, whose marginal on the states must be the prior.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence

import numpy as np
import sympy

from ..dsl import ast as A
from ..errors import DataError, Location, ModelError
from .data import DataLoader
from .objects import InformationStructure, Mechanism
from .scope import Context
from .statements import CommonStatements
from .values import Family, TableValue, point_label, state_point


class DeclaredObjects:
    """Elaborates the ``mechanism`` and ``information`` statements, once the agents,
    states, prior and outcomes are declared."""

    def __init__(self, common: CommonStatements, loader: DataLoader | None, outcomes: tuple[str, ...], finite: bool,
                 state_labels: Sequence[str], state_points: Sequence[tuple], probability):
        self.common = common
        self.loader = loader
        self.outcomes = outcomes
        self.finite = finite
        self.state_labels = tuple(state_labels)
        self.state_points = list(state_points)
        self.probability = probability  # (value, loc) -> a checked probability

    # ------------------------------------------------------------------ data files

    def _data_file(self, s: A.MechanismStmt | A.InformationStmt, read: str) -> tuple[str, dict]:
        """The full path of the statement's file and the arrays ``loader.<read>`` gives."""
        if s.path is None:  # pragma: no cover - only statements that name a file come here
            raise ModelError(f"'{s.name}' names no data file", s.loc)
        full = self._resolve_file(s.path, s.loc)
        if self.loader is None:
            raise ModelError(f"'{s.name}' is read from the data file '{s.path}': load the model with "
                             "robustmech.load_model (or pass a loader to elaborate)", s.loc)
        try:
            return full, getattr(self.loader, read)(full)
        except DataError as exc:
            if exc.location is not None:
                raise
            raise DataError(exc.message, s.loc) from None

    def _resolve_file(self, path: str, loc: Location) -> str:
        file = self.common.file
        base = os.path.dirname(os.path.abspath(file)) if file not in ("<model>", "") else os.getcwd()
        full = path if os.path.isabs(path) else os.path.join(base, path)
        if not os.path.exists(full):
            raise ModelError(f"file not found: '{path}' (looked for {full})", loc)
        return full

    # ------------------------------------------------------------------ mechanisms

    def mechanism(self, s: A.MechanismStmt) -> None:
        """``mechanism M from "file"``: arrays ``rule`` (shape |A_1| x ... x |A_N| x |Ω|)
        and optional ``actions_0``, ``actions_1``, ..."""
        full, arrays = self._data_file(s, "mechanism_arrays")
        rule = arrays.get("rule")
        if rule is None:
            raise ModelError(f"'{s.path}' has no array 'rule' (the outcome at each action profile)", s.loc)
        n = len(self.common.agent_numbers)
        if rule.ndim != n + 1:
            raise ModelError(f"the rule in '{s.path}' has {rule.ndim - 1} action dimensions for {n} agents", s.loc)
        if rule.shape[-1] != len(self.outcomes):
            raise ModelError(f"the rule in '{s.path}' gives {rule.shape[-1]} outcome coordinates; the model has "
                             f"{len(self.outcomes)}", s.loc)
        actions = [arrays.get(f"actions_{i}", np.arange(rule.shape[i])) for i in range(n)]
        try:
            mech = Mechanism(tuple(actions), self.outcomes, rule, finite=self.finite, name=s.name,
                             metadata={"file": full})
        except ValueError as exc:
            raise ModelError(f"'{s.path}': {exc}", s.loc) from None
        if mech.finite and not mech.is_lottery(1e-7):
            raise ModelError(f"the rule in '{s.path}' is not a lottery over outcomes at every action profile", s.loc)
        self.common.builder.mechanism(s.name, mech, location=s.loc)

    # ------------------------------------------------------------------ information structures

    def information(self, s: A.InformationStmt) -> None:
        """``information I from "file"`` (arrays ``joint`` and optional ``signals_i``) or
        ``information I { signals[i] = {...}  joint {...} }``."""
        b = self.common.builder
        n, labels = len(self.common.agent_numbers), self.state_labels
        prior = np.array([float(p) for p in (b._prior or ())])
        if s.path is not None:
            joint, signals = self._information_from_file(s, n)
        else:
            joint, signals = self._information_written(s, n)
        marginal = joint.reshape(-1, joint.shape[-1]).sum(0)
        if b._prior_set is not None:  # an ambiguous prior: the structure's marginal is the prior it is played under
            if not b._prior_set.contains(b._points, marginal):
                raise ModelError(f"information {s.name}: its marginal on the states is not a prior of the model's set "
                                 f"({b._prior_set.describe()})", s.loc)
        elif prior.size and np.abs(marginal - prior).max() > 1e-9:
            worst = int(np.abs(marginal - prior).argmax())
            raise ModelError(f"information {s.name}: its marginal on the states is not the prior (state "
                             f"{labels[worst]} has probability {marginal[worst]:.6g}, the prior {prior[worst]:.6g})",
                             s.loc)
        info = InformationStructure(tuple(np.asarray(x) for x in signals), labels, joint, name=s.name,
                                    metadata={"file": s.path} if s.path else {})
        b.information(s.name, info, location=s.loc)

    # ------------------------------------------------------------------ the baseline signal

    def baseline(self, s: A.BaselineStmt) -> None:
        """``baseline NAME`` (an information structure declared in the model) or ``baseline
        knows EXPR``: the deterministic signal s_i = EXPR(i, θ) of each agent i, EXPR
        evaluated with the agents' index bound to i at every state (signals are numbers)."""
        common, b = self.common, self.common.builder
        if b._prior_set is not None:
            raise ModelError("a baseline signal with an ambiguous prior (prior marginals, prior in {...}, "
                             "prior penalty) is not supported: declare a single prior", s.loc)
        if s.name is not None:
            if s.name not in b._informations:
                binding = common.scope.get(s.name)
                if binding is not None and binding.kind != "information structure":
                    raise ModelError(f"baseline names an information structure; '{s.name}' is a {binding.kind}",
                                     s.name_loc)
                known = sorted(b._informations)
                close = difflib.get_close_matches(s.name, known, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise ModelError(f"baseline: no information structure '{s.name}'; {hint}declare it with "
                                 f"`information {s.name} {{ ... }}` or `information {s.name} from \"file\"`",
                                 s.name_loc)
            info = b._informations[s.name]
            b.baseline(info, location=s.loc)
            return
        b.baseline(self._baseline_knows(s), location=s.loc)

    def _baseline_knows(self, s: A.BaselineStmt) -> InformationStructure:
        """The structure of ``baseline knows EXPR``: agent i's signal at θ is EXPR(i, θ), a
        number or a list of numbers (``baseline knows theta``: the whole state); π(s, θ) is
        μ(θ) at s = (EXPR(1, θ), ..., EXPR(N, θ)). Signals are listed in increasing order
        and labelled by their value (a list by its point label, ``(3, 0)``)."""
        common, b = self.common, self.common.builder
        assert s.knows is not None
        n = len(common.agent_numbers)
        symbols = b._state_symbols or ()
        values: list[list[tuple]] = []  # values[i][θ]: agent i's signal in state θ (exact)
        for pos in range(n):
            ctx = Context({common.agent_var: sympy.Integer(common.agent_numbers[pos])} if common.agent_var else {})
            value = common.evaluate(s.knows, ctx)
            parts = value.entries if isinstance(value, Family) else (value,)
            exprs = [common.number(v, s.knows.loc, "a baseline signal") for v in parts]
            row = []
            for point, label in zip(self.state_points, self.state_labels):
                signal = tuple(sympy.sympify(e).subs(dict(zip(symbols, point))) for e in exprs)
                if not all(c.is_number and c.is_real for c in signal):
                    raise ModelError(f"baseline knows: the signal of agent {b._agents[pos]} in state {label} is "
                                     f"{point_label(signal)}, not a number (write an expression of the state and "
                                     "the agents' index)", s.knows.loc)
                row.append(signal)
            values.append(row)
        signals = [sorted(set(row), key=lambda v: tuple(float(c) for c in v)) for row in values]
        shape = tuple(len(x) for x in signals) + (len(self.state_points),)
        joint = np.zeros(shape)
        prior = [float(p) for p in (b._prior or ())]
        for t, p in enumerate(prior):
            joint[tuple(signals[pos].index(values[pos][t]) for pos in range(n)) + (t,)] = p
        labels = tuple(np.array([float(v[0]) for v in sig]) if all(len(v) == 1 for v in sig)
                       else np.array([point_label(v) for v in sig]) for sig in signals)
        return InformationStructure(labels, self.state_labels, joint, name="baseline", metadata={"knows": True})

    def _information_from_file(self, s: A.InformationStmt, n: int):
        _, arrays = self._data_file(s, "information_arrays")
        joint = arrays.get("joint")
        if joint is None:
            raise ModelError(f"'{s.path}' has no array 'joint' (signal profiles and states)", s.loc)
        signals = [arrays.get(f"signals_{i}", np.arange(joint.shape[i]) if i < joint.ndim else None)
                   for i in range(n)]
        if joint.ndim != n + 1 or joint.shape[-1] != len(self.state_labels):
            raise ModelError(f"the joint distribution in '{s.path}' has shape {joint.shape}; expected one axis "
                             f"per agent ({n}) and one for the {len(self.state_labels)} states", s.loc)
        if np.any(joint < -1e-12) or abs(joint.sum() - 1) > 1e-9:
            raise ModelError(f"the joint distribution in '{s.path}' is not a probability distribution", s.loc)
        return joint, signals

    def _information_written(self, s: A.InformationStmt, n: int):
        common, b = self.common, self.common.builder
        signals = self._signals(s, n)
        exact = np.empty(tuple(len(x) for x in signals) + (len(self.state_labels),), dtype=object)
        exact.fill(sympy.Integer(0))
        if not s.joints:
            raise ModelError(f"information {s.name}: no joint distribution "
                             "(write `joint { (s1, ..., state): p, ... }`)", s.loc)
        for jexpr in s.joints:
            table = common.evaluate(jexpr)
            if not isinstance(table, TableValue):
                raise ModelError("a joint distribution is a table { (s1, ..., sN, state): probability, ... }",
                                 jexpr.loc)
            for key, p, ploc in zip(table.keys, table.values, table.locs):
                parts = key.entries if isinstance(key, Family) else (key,)
                if len(parts) != n + 1:
                    raise ModelError(f"a joint entry is keyed (signal of each of the {n} agents, state), "
                                     f"got {len(parts)} items", ploc)
                cell = []
                for pos in range(n):
                    sig = common.number(parts[pos], ploc, "a signal")
                    if sig not in signals[pos]:
                        raise ModelError(f"signal {sig} is not among agent {b._agents[pos]}'s signals "
                                         f"{{{', '.join(map(str, signals[pos]))}}}", ploc)
                    cell.append(signals[pos].index(sig))
                point = state_point(parts[n], ploc)
                if point not in self.state_points:
                    raise ModelError(f"the joint distribution names a state {point_label(point)} that is not in the "
                                     "state set", ploc)
                cell.append(self.state_points.index(point))
                exact[tuple(cell)] += self.probability(p, ploc)
        total = sum(exact.flat, sympy.Integer(0))
        if total != 1:
            raise ModelError(f"information {s.name}: the joint distribution sums to {total}, not 1", s.loc)
        joint = np.array([float(x) for x in exact.flat]).reshape(exact.shape)
        return joint, [np.array([float(v) for v in sig]) for sig in signals]

    def _signals(self, s: A.InformationStmt, n: int) -> list[list]:
        common, b = self.common, self.common.builder
        signals_by_agent: dict[int, list] = {}
        for decl in s.signals:
            targets = list(range(n)) if (isinstance(decl.agent, A.Name) and decl.agent.name == common.agent_var) \
                else [common.agent_position(common.evaluate(decl.agent), decl.agent.loc)]
            for pos in targets:
                if pos in signals_by_agent:
                    raise ModelError(f"the signals of agent {b._agents[pos]} are declared twice", decl.loc)
                ctx = Context({common.agent_var: sympy.Integer(common.agent_numbers[pos])} if common.agent_var else {})
                values = [common.number(v, decl.values.loc, "a signal")
                          for v in common.elements(common.evaluate(decl.values, ctx), decl.values.loc)]
                if not values:
                    raise ModelError("a signal set must not be empty", decl.values.loc)
                signals_by_agent[pos] = values
        missing = [b._agents[p] for p in range(n) if p not in signals_by_agent]
        if missing:
            raise ModelError(f"information {s.name}: no signals for agent {missing[0]} "
                             f"(write `signals[{common.agent_var or missing[0]}] = {{...}}`)", s.loc)
        return [signals_by_agent[p] for p in range(n)]
