"""Layout and colour helpers shared by the Display classes of every analysis (no computation)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ftgeo.errors import ValidationError

#: more labels than this: each line is named at its end instead of in a legend
LEGEND_MAX = 12


def grid_shape(n: int, ncols: int | None = None) -> tuple[int, int]:
    """(rows, columns) of a grid of ``n`` panels, at most 4 (or ``ncols``) per row."""
    ncols = ncols or min(n, 4)
    return math.ceil(n / ncols), ncols


def axes_grid(display, ax, k: int, size=(3.8, 3.2), ncols: int | None = None):
    """``(figure, [k axes])``: a new grid of ``k`` panels for ``display``, or the ``ax`` given (a list of
    at least ``k`` axes); panels past ``k`` are hidden."""
    ncols = ncols or min(k, 3)
    nrows = math.ceil(k / ncols)
    if ax is None:
        fig, axes = display._new_axes(nrows=nrows, ncols=ncols, figsize=(size[0] * ncols, size[1] * nrows))
        axes = list(np.ravel(axes)) if k > 1 or nrows * ncols > 1 else [axes]
    else:
        axes = list(np.ravel(ax)) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        fig = axes[0].figure
    if len(axes) < k:
        raise ValidationError(f"this figure needs {k} axes; got {len(axes)}")
    for a in axes[k:]:
        a.set_visible(False)
    return fig, axes[:k]


def label_colors(n: int) -> list:
    """Distinct colours for n labels: tab10, tab20, then evenly spaced turbo."""
    import matplotlib
    if n <= 10:
        return [f"C{i}" for i in range(n)]
    if n <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in range(n)]
    cmap = matplotlib.colormaps["turbo"]
    return [cmap(i / (n - 1)) for i in range(n)]


def name_line_end(a, x, y, text: str, color) -> None:
    """Write ``text`` just right of the point (x, y), in the line's colour (instead of a legend entry)."""
    a.annotate(text, (x, y), xytext=(3, 0), textcoords="offset points", fontsize=5, color=color, va="center")


def pick_layers(available: Sequence[int], layers) -> list[int]:
    """The layers to draw: ``None`` = the last available, ``"all"``, or the given indices (negative from
    the end of ``available``); a layer missing from the result is an error."""
    available = sorted(int(l) for l in available)
    if layers is None:
        return [available[-1]]
    if layers == "all":
        return available
    out = [int(l) if int(l) >= 0 else available[int(l)] for l in np.atleast_1d(layers)]
    missing = [l for l in out if l not in available]
    if missing:
        raise ValidationError(f"layers {missing} are not in this result; it has {available}")
    return out


def pick_layer(df, layer):
    """One layer of a table with a ``layer`` column: ``None`` = its last layer."""
    layers = sorted(df["layer"].unique())
    if not layers:
        raise ValidationError("the result has no rows to draw")
    if layer is None:
        return layers[-1]
    if layer not in layers:
        raise ValidationError(f"layer {layer} is not in the result; it has {layers}")
    return layer
