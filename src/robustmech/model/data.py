"""How the elaborator reads data files (``mechanism M from "file"``, ``information I
from "file"``) without knowing a later stage's file format.

The elaborator is given a :class:`DataLoader`; the one that reads robustmech's saved
results and plain ``.npz`` files lives in :mod:`robustmech.results.io`, and
:func:`robustmech.load_model` passes it in. A loader returns the canonical arrays; the
elaborator checks them against the model (agents, outcomes, states, the prior).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class DataLoader(Protocol):
    """Reads the arrays of a mechanism or an information structure from a file.

    Both methods take a path that exists and raise :class:`~robustmech.errors.DataError`
    (with the file named) when it cannot be read or lacks the arrays.
    """

    def mechanism_arrays(self, path: str) -> dict[str, np.ndarray]:
        """``rule`` (shape |A_1| × ... × |A_N| × |Ω|) and, optionally, each agent's
        action labels ``actions_0``, ``actions_1``, ..."""
        ...

    def information_arrays(self, path: str) -> dict[str, np.ndarray]:
        """``joint`` (shape |S_1| × ... × |S_N| × |Θ|) and, optionally, each agent's
        signal labels ``signals_0``, ``signals_1``, ..."""
        ...
