"""The figure class of :mod:`robustmech.results.plots` (imports matplotlib, which is
optional: ``plots`` imports this module only when it draws)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

if TYPE_CHECKING:
    from .plots import Panel


class PanelFigure(Figure):
    """A :class:`matplotlib.figure.Figure` that keeps, by panel name, the arrays each
    panel shows (``robustmech_panels[name]``, a :class:`~robustmech.results.plots.Panel`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.robustmech_panels: dict[str, Panel] = {}
