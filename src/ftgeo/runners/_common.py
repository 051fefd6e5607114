"""Plumbing shared by every runner: saving a result with its figures, list arguments, layer choice."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ftgeo.errors import ValidationError
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


def check_aligned(a, b, what: str, why: str = "") -> None:
    """Raise unless representation sets ``a`` and ``b`` hold the same examples in the same order
    (``what`` names them in the message, ``why`` says which analysis needs it)."""
    ia, ib = np.asarray(a.ids), np.asarray(b.ids)
    if ia.shape != ib.shape or not np.array_equal(ia, ib):
        raise ValidationError(f"{what} hold different examples ({ia.size} vs {ib.size} ids, or another order)"
                              f"{'; ' + why if why else ''}: extract every set from the same task split")
