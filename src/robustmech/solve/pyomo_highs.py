"""The ``pyomo-highs`` backend: HiGHS on the Pyomo model of the program.

The program's Pyomo model (``LinearProgram.to_pyomo``) is written to MPS by Pyomo's
writer and read into HiGHS, so tests can check that the Pyomo model and the arrays give
the same optimum. :func:`solve` is the whole route: replacing this module replaces it.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from ..errors import SolverError
from ..programs.lp import LinearProgram
from .core import Backend, LPSolution, SolverOptions
from .highs import _highs, _run


class PyomoHighsBackend(Backend):
    name = "pyomo-highs"
    description = "HiGHS on the Pyomo model"
    label = "HiGHS"
    install_hint = "pip install pyomo highspy"

    def available(self) -> bool:
        try:
            import highspy  # noqa: F401
            import pyomo  # noqa: F401
        except ImportError:
            return False
        return True

    def solve(self, lp: LinearProgram, options: SolverOptions) -> LPSolution:
        return solve(lp, options)


def solve(lp: LinearProgram, options: SolverOptions) -> LPSolution:
    """Write the Pyomo model to MPS with Pyomo, read it into HiGHS, solve, and map the
    columns back by their Pyomo names."""
    block = lp.to_pyomo()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.mps")
        symbol_map = block.write(path, format="mps")
        h = _highs(SolverOptions(solver="highs", tolerance=options.tolerance, time_limit=options.time_limit, verbose=options.verbose))
        h.readModel(path)
    # map HiGHS's column order to ours through the writer's symbol map
    names = list(h.getLp().col_names_)
    by_name = {symbol_map.getSymbol(v): j for j, v in enumerate(block.columns)}
    order_highs = np.array([by_name.get(n, -1) for n in names])
    if (order_highs < 0).any() or len(order_highs) != lp.n_cols:
        # Pyomo drops columns that appear nowhere; solve the arrays instead of guessing
        raise SolverError("pyomo-highs: the written model does not map back onto the program's columns", "error")
    column_order = np.argsort(order_highs)
    row_names = list(h.getLp().row_names_)
    rows_by_name = {}
    for r, con in enumerate(block.row_list):
        rows_by_name[symbol_map.getSymbol(con)] = r
    row_order = None
    if len(row_names) == lp.n_rows and all(n in rows_by_name for n in row_names):
        row_order = np.argsort(np.array([rows_by_name[n] for n in row_names]))
    sol = _run(h, lp, options, column_order=column_order, row_order=row_order, rows_match=row_order is not None)
    sol.solver = "pyomo-highs"
    return sol
