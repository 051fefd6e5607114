"""What every analysis does with its representation sets before the numbers: choose layers, take
the labelled rows, name the sets, check that two sets hold the same examples.

One implementation of each, shared by every analysis module (they were written four or five
times, once per runner group, before).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ftgeo.errors import ValidationError
from ftgeo.reps import resolve_layer


def select_layers(reps, layers: Any = None, *, default: str = "all") -> list[int]:
    """Sorted stored-layer indices of ``reps`` for ``layers``.

    ``layers``: ``None`` (``default``: ``"all"`` or ``"last"``), an index (negative counts from
    the end), a list of indices, or a string: ``all``, ``last``, ``0,3,-1``, a range ``2-5``.
    """
    n = reps.n_layers if hasattr(reps, "n_layers") else int(reps)
    if layers is None:
        layers = default
    if isinstance(layers, str):
        return parse_layers(layers, n)
    return sorted({resolve_layer(int(l), n) for l in np.atleast_1d(layers)})


def parse_layers(spec: str, n_layers: int) -> list[int]:
    """Parse ``all`` / ``last`` / ``0,3,-1`` / ``2-5`` into sorted stored layer indices."""
    spec = spec.strip()
    if spec in ("", "all"):
        return list(range(n_layers))
    if spec == "last":
        return [n_layers - 1]
    out: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        a, sep, b = part[1:].partition("-")  # a leading '-' is a negative index, not a range
        bounds = (part[0] + a, b) if sep else (part,)
        try:
            ints = [int(x) for x in bounds]
        except ValueError:
            raise ValidationError(f"layers {spec!r}: {part!r} is not a layer index or a range like 2-5") from None
        idx = [resolve_layer(i, n_layers) for i in ints]
        out.update(range(idx[0], idx[-1] + 1))
    if not out:
        raise ValidationError(f"layers {spec!r} selects no layer")
    return sorted(out)


def labelled_rows(reps, layer: int, what: str = "the", *, names: bool = False):
    """The labelled rows of one layer, as float64: ``(X, y, rows)``.

    ``y`` holds the integer labels, or with ``names=True`` the label names as strings (DirectProbe
    and the probes compare labels by name across sets). ``rows`` indexes the kept rows of the set.
    Rows labelled ``-1`` (unlabelled, e.g. a general corpus) are dropped; a set with no label fails.
    """
    y = np.asarray(reps.labels)
    rows = np.flatnonzero(y >= 0)
    if rows.size == 0:
        raise ValidationError(f"{what} representations have no labels (all -1); extract a labelled split")
    X = reps.layer(layer, dtype=np.float64)[rows]
    if not names:
        return X, y[rows], rows
    label_names = np.asarray(list(reps.label_names) or [str(i) for i in range(int(y.max()) + 1)], dtype=object)
    return X, label_names[y[rows]].astype(str), rows


def set_names(sets: Sequence, names: Sequence[str] | None = None, *, fallback: Sequence[str] | None = None) -> list[str]:
    """Readable, unique names for representation sets.

    ``names`` if given (one distinct string per set); else ``fallback`` when it has enough names
    (e.g. ``("pretrained", "finetuned")``); else ``model[@checkpoint]`` from each manifest, then
    ``:task/split`` where that is needed to tell them apart, then ``#i``.
    """
    if names is not None:
        names = [str(n) for n in names]
        if len(names) != len(sets) or len(set(names)) != len(names):
            raise ValidationError(f"names must be {len(sets)} distinct strings; got {names}")
        return names
    if fallback is not None and len(sets) <= len(fallback):
        return list(fallback[:len(sets)])
    manifests = [manifest_of(r) for r in sets]
    out = []
    for i, m in enumerate(manifests):
        base = str(m.get("model") or f"set{i}")
        out.append(base + (f"@{m['checkpoint']}" if m.get("checkpoint") else ""))
    if len(set(out)) != len(out):
        out = [n + (f":{m.get('task', '')}/{m.get('split', '')}" if m.get("task") else "")
               for n, m in zip(out, manifests)]
    if len(set(out)) != len(out):
        out = [f"{n}#{i}" for i, n in enumerate(out)]
    return out


def manifest_of(reps) -> dict:
    """The set's manifest as a plain mapping ({} for sets without one)."""
    m = getattr(reps, "manifest", None) or {}
    return dict(m.to_dict() if hasattr(m, "to_dict") else m)


def manifest_summary(reps) -> dict:
    """The identity fields of a set's manifest that a result records (model, checkpoint, task, ...)."""
    m = manifest_of(reps)
    keep = ("model", "checkpoint", "task", "split", "pooling", "max_length")
    return {k: m[k] for k in keep if k in m and isinstance(m[k], (str, int, float, bool, type(None)))}


def check_aligned(a, b, what: str, why: str = "") -> None:
    """Raise unless sets ``a`` and ``b`` hold the same examples in the same order (``what`` names them
    in the message, ``why`` says which analysis needs it)."""
    ia, ib = np.asarray(a.ids), np.asarray(b.ids)
    if ia.shape != ib.shape or not np.array_equal(ia, ib):
        raise ValidationError(f"{what} hold different examples ({ia.size} vs {ib.size} ids, or another order)"
                              f"{'; ' + why if why else ''}: extract every set from the same task split")


def check_count(sets: Sequence, least: int, most: int | None, what: str) -> None:
    """Raise unless ``least <= len(sets) <= most``."""
    if len(sets) < least or (most is not None and len(sets) > most):
        want = f"{least}" if least == most else (f"at least {least}" if most is None else f"{least} to {most}")
        raise ValidationError(f"{what}: pass {want} representation set(s); got {len(sets)}")


def as_list(x) -> list:
    """``None`` -> [], a list/tuple -> list, anything else -> [x]."""
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def check_pair(sets: Sequence, what: str) -> None:
    """Raise unless ``sets`` is one set (pretrained) or two (pretrained, fine-tuned) with as many
    layers (the redundancy analyses compare one model before and after fine-tuning)."""
    if len(sets) > 2:
        raise ValidationError(f"{what}: pass one set (pretrained) or two (pretrained, fine-tuned); got {len(sets)}")
    if len(sets) == 2:
        a, b = sets
        if a.n_layers != b.n_layers:
            raise ValidationError(f"{what}: the pretrained set has {a.n_layers} layers and the fine-tuned one "
                                  f"{b.n_layers}; extract both from the same architecture")
