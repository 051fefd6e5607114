"""Plumbing shared by every runner: saving a result with its figures, list arguments, layer choice."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ftgeo.reps import resolve_layer
from ftgeo.run import RunDir


def finish_result(result, run, name: str, figures: bool, draw: Callable[[RunDir, str], list[str]]):
    """Without a run folder, return ``result``; with one, draw its figures (their stems go to
    ``result.meta["figures"]``) and save it to ``run.result_dir(name)``."""
    if run is None:
        return result
    run = run if isinstance(run, RunDir) else RunDir(run)
    if figures:
        result.meta["figures"] = draw(run, name)
    result.save(run.result_dir(name))
    return result


def save_display(display, run: RunDir, stem: str) -> str:
    """Write ``display`` as ``run/figures/<stem>.png|svg``, free its figure, return the stem."""
    display.save(run.figure_stem(stem))
    display.close()
    return stem


def as_list(x) -> list:
    """``None`` -> [], a list/tuple -> list, anything else -> [x]."""
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def layer_indices(reps, layers, *, default: str = "all") -> list[int]:
    """Sorted stored-layer indices for ``layers`` (int, list, negatives from the end);
    ``None`` means every layer (``default="all"``) or the last one (``default="last"``)."""
    if layers is None:
        return list(range(reps.n_layers)) if default == "all" else [reps.n_layers - 1]
    return sorted({resolve_layer(int(l), reps.n_layers) for l in np.atleast_1d(layers)})
