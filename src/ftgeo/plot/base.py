"""Base class of every plot, after scikit-learn's ``*Display`` objects.

``SomeDisplay.from_result(result)`` copies what it needs out of a :class:`~ftgeo.results.Result`,
``.plot(ax=None)`` draws and returns ``self`` with ``figure_`` / ``ax_`` set, and
``.save(stem)`` writes ``stem.png`` and ``stem.svg``. Re-drawing never recomputes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ftgeo import _atomic


def _pyplot():
    import matplotlib
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg")
        except Exception:  # pragma: no cover - backend already fixed by the user
            pass
    import matplotlib.pyplot as plt
    return plt


class Display:
    """Subclasses implement ``from_result`` (classmethod) and ``plot(ax=None, **kw)``."""

    figure_: Any = None
    ax_: Any = None

    @classmethod
    def from_result(cls, result, **kwargs) -> "Display":  # pragma: no cover - abstract
        raise NotImplementedError

    def plot(self, ax=None, **kwargs) -> "Display":  # pragma: no cover - abstract
        raise NotImplementedError

    def empty_reason(self) -> str | None:
        """Why this figure would be empty (one line for the report, e.g. "spatial similarity needs >= 3
        labels"), or None when there is something to draw. ``save_result`` and the report draw no
        figure whose display gives a reason. Subclasses with data that can be all-NaN override."""
        return None

    @staticmethod
    def _new_axes(ax=None, *, nrows: int = 1, ncols: int = 1, figsize=None):
        plt = _pyplot()
        if ax is not None:
            return ax.figure, ax
        fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, layout="constrained")
        return fig, (axes[0, 0] if nrows == ncols == 1 else axes)

    def save(self, stem: str | Path, *, dpi: int = 150) -> list[Path]:
        """Write ``<stem>.png`` and ``<stem>.svg`` (drawing first if needed); returns both paths."""
        if self.figure_ is None:
            self.plot()
        return save_figure(self.figure_, stem, dpi=dpi)

    def close(self) -> None:
        if self.figure_ is not None:
            _pyplot().close(self.figure_)
            self.figure_ = None


def save_figure(fig, stem: str | Path, *, dpi: int = 150) -> list[Path]:
    """Save ``fig`` as PNG and SVG next to each other, atomically."""
    stem = Path(stem)
    out = []
    for ext in ("png", "svg"):
        path = stem.with_suffix(f".{ext}")
        with _atomic.atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight")
        out.append(path)
    return out
