"""What every analysis does with its representation sets before the numbers: choose layers, take
the labelled rows, name the sets, check that two sets hold the same examples.

One implementation of each, shared by every analysis module (they were written four or five
times, once per runner group, before).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ftgeo.errors import ValidationError
from ftgeo.reps import parse_layer_spec, resolve_layer, stored_layer_numbers  # noqa: F401 - resolve_layer re-exported


def stored_layers(reps) -> list[int]:
    """The model layer numbers a set holds (``reps.layers``; ``0..n-1`` for an int or a set without it)."""
    return stored_layer_numbers(reps)


def select_layers(reps, layers: Any = None, *, default: str = "all") -> list[int]:
    """Sorted model layer numbers of ``reps`` for ``layers`` (pass them to ``reps.layer``).

    ``layers``: ``None`` (``default``: ``"all"`` or ``"last"``), an index (negative counts from
    the end), a list of indices, or a string: ``all``, ``last``, ``every:4``, ``0,3,-1``, a range
    ``2-5``. A set extracted with only some layers (``--layers 0,8,16``) keeps the model's
    numbering: ``8`` is layer 8, ``last``/``-1`` its last stored layer, and a layer it does not
    hold is one line naming the ones it does.
    """
    if layers is None:
        layers = default
    return parse_layer_spec(layers, stored_layers(reps))


def parse_layers(spec: str, n_layers: "int | list[int]") -> list[int]:
    """Parse ``all`` / ``last`` / ``every:K`` / ``0,3,-1`` / ``2-5`` into sorted layer numbers among
    ``n_layers`` (a count, or the stored layer numbers)."""
    return parse_layer_spec(spec, n_layers)


def require_all_layers(reps, what: str, why: str = "") -> None:
    """Raise unless ``reps`` holds every layer of its model (``what`` names the analysis, ``why`` says why
    it needs them): a set extracted with ``--layers`` is refused with one line."""
    have = stored_layers(reps)
    m = manifest_of(reps)
    blocks = m.get("n_blocks")
    full = have == list(range(len(have))) and (blocks is None or len(have) == int(blocks) + 1)
    if not full:
        raise ValidationError(f"{what} needs every layer of the model{' (' + why + ')' if why else ''}; this set "
                              f"holds layers {', '.join(map(str, have))} only: extract it again without --layers")


def check_same_layers(sets: Sequence, what: str) -> None:
    """Raise unless every set holds the same layers (sets extracted with different ``--layers``)."""
    first = stored_layers(sets[0])
    for s in sets[1:]:
        other = stored_layers(s)
        if other != first:
            raise ValidationError(f"{what}: the sets hold different layers ({first} and {other}); extract them "
                                  "with the same --layers")


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
        check_same_layers(sets, what)
