"""State points read back from state labels, for results saved before the points were
saved beside the labels (the model builder labels a state with its coordinates)."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np

_NUMBER_TEXT = re.compile(r"\s*[-+]?(\d+\s*/\s*[1-9]\d*|(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*")


def points_from_labels(labels) -> np.ndarray | None:
    """The state points written in labels such as ``3``, ``(3, 0)`` or ``(1/2, 1)``
    (how the model builder labels a state), or None when a label is not such a tuple."""
    rows = []
    for label in labels:
        body = str(label).strip()
        if body.startswith("(") and body.endswith(")"):
            body = body[1:-1]
        parts = body.split(",")
        if parts and not parts[-1].strip() and len(parts) > 1:
            parts = parts[:-1]  # "(3,)"
        if not parts or not all(_NUMBER_TEXT.fullmatch(p) for p in parts):
            return None
        rows.append([float(Fraction(p.replace(" ", ""))) for p in parts])
    if not rows or len({len(r) for r in rows}) > 1:
        return None
    return np.array(rows, dtype=float)
