"""Shared input handling of the probing controls (``control``, ``mdl``, ``directprobe --labels control``).

* :func:`types_of`: the *type* of every row of a set -- the word form of a word-level row (the words of a
  pair row, joined by a space), the text of a sentence-level row. A set may carry them (an attribute
  ``types``, e.g. an :class:`~ftgeo.reps.InMemoryRepresentations` built by hand); otherwise they are read
  from the dataset the store was extracted from (its manifest's task and split, matched through the row
  ids ``<example id>[:<target index>]``), so stores extracted before this existed work unchanged.
* :func:`control_views`: the same sets with the labels replaced by Hewitt & Liang's control labels
  (:func:`ftgeo.analysis.controls.control_labels`), drawn from the label distribution of the *training* set
  of each group, so a type has one control label in every split.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from ftgeo.errors import ValidationError

__all__ = ["types_of", "RelabelledRepresentations", "control_views", "label_strings"]


def label_strings(reps) -> np.ndarray:
    """Label names (str) of every row; ``""`` for unlabelled rows (-1)."""
    y = np.asarray(reps.labels)
    names = np.asarray(list(reps.label_names) or [str(i) for i in range(int(y.max(initial=-1)) + 1)], dtype=object)
    out = np.full(y.shape, "", dtype=object)
    out[y >= 0] = names[y[y >= 0]]
    return out.astype(str)


def types_of(reps, data_root=None) -> np.ndarray:
    """The type (str) of every row of ``reps`` (see the module doc)."""
    own = getattr(reps, "types", None)
    if own is not None:
        t = np.asarray(own).astype(str)
        if t.shape != (len(reps.ids),):
            raise ValidationError(f"the set's types must have one entry per row ({len(reps.ids)}); got {t.shape}")
        return t
    from ftgeo.analyses._inputs import manifest_of
    m = manifest_of(reps)
    task, split, pooling = m.get("task"), m.get("split"), m.get("pooling")
    if not task or not split:
        raise ValidationError("control labels need each row's word type: this set has no types and its manifest "
                              "names no task/split to read them from (build InMemoryRepresentations with .types)")
    by_id = _examples_by_id(str(task), str(split), None if data_root is None else str(data_root))
    out = []
    word_level = pooling in ("word", "pair")
    for rid in np.asarray(reps.ids).astype(str):
        ex_id, j = rid.rsplit(":", 1) if word_level else (rid, None)
        ex = by_id.get(ex_id)
        if ex is None:
            raise ValidationError(f"row {rid!r}: example {ex_id!r} is not in {task}/{split} of this data root; "
                                  "give the --data-root the set was extracted from")
        if word_level:
            tg = ex.targets[int(j)]
            out.append(" ".join(ex.words[w] for w in tg.word_indices))
        else:
            out.append(ex.text if ex.text_pair is None else f"{ex.text}\x1f{ex.text_pair}")
    return np.asarray(out, dtype=str)


@functools.lru_cache(maxsize=8)
def _examples_by_id(task: str, split: str, data_root: str | None) -> dict:
    from ftgeo.data import load_task
    kw = {"data_root": data_root} if data_root is not None else {}
    return {str(ex.id): ex for ex in load_task(task, **kw).examples(split)}


class RelabelledRepresentations:
    """A view of ``reps`` with other labels (int codes into ``label_names``); everything else is the set's."""

    def __init__(self, reps, labels: np.ndarray, label_names: Sequence[str], *, note: str = "control"):
        self._reps = reps
        self._labels = np.asarray(labels, dtype=np.int64)
        self._names = [str(x) for x in label_names]
        m = dict(getattr(reps, "manifest", None) or {}) if not hasattr(reps.manifest, "to_dict") else \
            dict(reps.manifest.to_dict())
        m["labels"] = note
        self._manifest = m

    def __getattr__(self, name):
        return getattr(self._reps, name)

    @property
    def labels(self) -> np.ndarray:
        return self._labels

    @property
    def label_names(self) -> list[str]:
        return list(self._names)

    @property
    def manifest(self) -> dict[str, Any]:
        return self._manifest

    @property
    def n_layers(self) -> int:
        return self._reps.n_layers

    @property
    def layers(self) -> list[int]:
        return self._reps.layers

    @property
    def ids(self):
        return self._reps.ids

    def layer(self, index: int, dtype=np.float32) -> np.ndarray:
        return self._reps.layer(index, dtype=dtype)


def control_views(train, others: Sequence = (), *, seed: int = 0, data_root=None) -> list:
    """``[train, *others]`` relabelled with control labels (Hewitt & Liang 2019): every row gets the control
    label of its type, drawn from the label distribution of ``train``'s labelled rows; unlabelled rows stay
    unlabelled. The label names are the task's."""
    from ftgeo.analysis.controls import control_labels, empirical_distribution
    ytr = label_strings(train)
    lab = ytr != ""
    if not lab.any():
        raise ValidationError("the training set has no labels: control labels follow its label distribution")
    classes, probs = empirical_distribution(ytr[lab])
    names = list(train.label_names) or [str(c) for c in classes]
    code = {n: i for i, n in enumerate(names)}
    out = []
    for reps in [train, *others]:
        y = np.asarray(reps.labels)
        keep = y >= 0
        new = np.full(y.shape, -1, dtype=np.int64)
        if keep.any():
            t = types_of(reps, data_root)[keep]
            new[keep] = [code[c] for c in control_labels(t, classes, probs, seed)]
        out.append(RelabelledRepresentations(reps, new, names, note=f"control (seed {seed})"))
    return out
