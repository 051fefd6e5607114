"""What every analysis reads: a set of per-layer representations of one task split.

:class:`Representations` is the protocol. The on-disk store written by
``ftgeo.extract`` implements it (reading one layer at a time, memory-mapped), and so does
:class:`InMemoryRepresentations`, which tests and users with their own arrays can build
directly. Layer 0 is the embedding output and 1..L the transformer blocks (HF
``hidden_states`` order) for every architecture.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ftgeo.errors import ValidationError


@runtime_checkable
class Representations(Protocol):
    """Read-only view of one extracted set: ``n`` examples, ``n_layers`` layers of width ``dim``."""

    @property
    def n_layers(self) -> int: ...          # number of stored layers (embeddings + blocks)
    @property
    def layers(self) -> list[int]: ...      # stored layer indices, ascending
    @property
    def labels(self) -> np.ndarray: ...     # int64 (n,), index into label_names; -1 = unlabelled
    @property
    def label_names(self) -> list[str]: ...
    @property
    def ids(self) -> np.ndarray: ...        # str (n,), stable example ids
    @property
    def manifest(self) -> dict[str, Any]: ...  # model, checkpoint, task, split, pooling, max_length, ...

    def layer(self, index: int, dtype=np.float32) -> np.ndarray: ...  # (n, dim)


@dataclass
class InMemoryRepresentations:
    """Representations held as a list of arrays, one per layer (all the same shape).

    ``layer_numbers``: the model's layer number of each array (default ``0, 1, ...``), for a set that
    holds only some layers (as a store extracted with ``layers=``); ``layer(8)`` then means the
    model's layer 8.
    """

    arrays: Sequence[np.ndarray]
    labels: np.ndarray
    label_names: list[str] = field(default_factory=list)
    ids: np.ndarray | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    layer_numbers: Sequence[int] | None = None

    def __post_init__(self):
        if len(self.arrays) == 0:
            raise ValidationError("InMemoryRepresentations needs at least one layer array")
        shapes = {np.shape(a) for a in self.arrays}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise ValidationError(f"every layer must be a 2-D array of the same shape; got {sorted(shapes)}")
        n = np.shape(self.arrays[0])[0]
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.labels.shape != (n,):
            raise ValidationError(f"labels must have shape ({n},); got {self.labels.shape}")
        if not self.label_names:
            self.label_names = [str(i) for i in range(int(self.labels.max(initial=-1)) + 1)]
        self.ids = np.asarray([str(i) for i in range(n)] if self.ids is None else self.ids).astype(str)
        if self.layer_numbers is not None:
            nums = [int(x) for x in self.layer_numbers]
            if len(nums) != len(self.arrays) or nums != sorted(set(nums)) or (nums and nums[0] < 0):
                raise ValidationError(f"layer_numbers must be {len(self.arrays)} increasing layer numbers >= 0 (one "
                                      f"per array); got {list(self.layer_numbers)}")
            self.layer_numbers = nums

    @property
    def n_layers(self) -> int:
        return len(self.arrays)

    @property
    def layers(self) -> list[int]:
        return list(self.layer_numbers) if self.layer_numbers is not None else list(range(len(self.arrays)))

    def layer(self, index: int, dtype=np.float32) -> np.ndarray:
        return np.asarray(self.arrays[self.layers.index(resolve_layer(index, self.layers))], dtype=dtype)


def _show_layers(layers: Sequence[int]) -> str:
    layers = list(layers)
    if layers == list(range(len(layers))):
        return f"0..{len(layers) - 1}" if layers else "none"
    return ", ".join(str(x) for x in layers)


def stored_layer_numbers(reps) -> list[int]:
    """The model layer numbers a set holds: ``reps.layers`` (a selectively extracted set keeps the model's
    numbering), else ``0..n_layers-1``; an int ``n`` stands for a full set of ``n`` layers."""
    if isinstance(reps, (int, np.integer)):
        return list(range(int(reps)))
    layers = getattr(reps, "layers", None)
    if layers is not None and not callable(layers):
        return [int(x) for x in layers]
    return list(range(reps.n_layers))


def resolve_layer(index: int, layers: "int | Sequence[int]") -> int:
    """The model's layer number for ``index`` in a set holding ``layers``.

    ``layers``: the stored layer numbers (``reps.layers``; a store extracted with ``--layers 0,8,16``
    holds ``[0, 8, 16]``), or an int ``n`` for a set holding all of ``0..n-1``. A non-negative
    ``index`` is a model layer number and must be stored; a negative one counts from the end of the
    stored layers (-1 = the last stored layer, the last block for a full set).
    """
    if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
        raise ValidationError(f"layer index must be an int; got {index!r}")
    stored = list(range(int(layers))) if isinstance(layers, (int, np.integer)) else [int(x) for x in layers]
    full = stored == list(range(len(stored)))
    i = int(index)
    if i < 0:
        if -i > len(stored):
            raise ValidationError(f"layer {index} does not exist; this set has {len(stored)} layers "
                                  f"({_show_layers(stored)})")
        return stored[i]
    if i not in stored:
        if full:
            raise ValidationError(f"layer {index} does not exist; this set has layers 0..{len(stored) - 1} "
                                  "(0 = embeddings, -1 = last block)")
        raise ValidationError(f"layer {index} is not in this set: it holds layers {_show_layers(stored)} only (it was "
                              f"extracted with --layers); pick one of them, or extract again with layer {index}")
    return i


def parse_layer_spec(spec: "str | int | Sequence[int] | None", layers: "int | Sequence[int]", *,
                     what: str = "layers") -> list[int]:
    """Sorted model layer numbers that ``spec`` selects among the stored ``layers`` (see :func:`resolve_layer`).

    ``spec``: ``None``/``all``, ``last``, ``every:K`` (the layers ``0, K, 2K, ...`` that are stored, and
    always the last one), a comma list of indices ``0,8,-1`` (negative from the end) and ranges
    ``2-5`` (the stored layers from 2 to 5; ``1-last``: every layer but the embeddings), or an int / a
    list of ints.
    """
    stored = list(range(int(layers))) if isinstance(layers, (int, np.integer)) else [int(x) for x in layers]
    if spec is None:
        return list(stored)
    if not isinstance(spec, str):
        return sorted({resolve_layer(int(x), stored) for x in np.atleast_1d(spec)})
    text = spec.strip()
    if text in ("", "all"):
        return list(stored)
    if text == "last":
        return stored[-1:]
    if text.startswith("every:") or text.startswith("every-"):
        k = text[6:].strip()
        if not k.isdigit() or int(k) < 1:
            raise ValidationError(f"{what} {spec!r}: every:K needs a whole number K >= 1 (e.g. every:4)")
        return sorted({x for x in stored if x % int(k) == 0} | set(stored[-1:]))
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        a, sep, b = part[1:].partition("-")  # a leading '-' is a negative index, not a range
        bounds = (part[0] + a, "-1" if b.strip() == "last" else b) if sep else (part,)
        try:
            ints = [int(x) for x in bounds]
        except ValueError:
            raise ValidationError(f"{what} {spec!r}: {part!r} is not a layer index, a range like 2-5 or 1-last, "
                                  "all, last or every:K") from None
        if not sep:
            out.add(resolve_layer(ints[0], stored))
            continue
        lo, hi = (stored[i] if i < 0 and -i <= len(stored) else i for i in ints)
        if lo < 0 or hi < 0:
            raise ValidationError(f"{what} {spec!r}: {part!r} reaches beyond the {len(stored)} stored layers")
        inside = [x for x in stored if lo <= x <= hi]
        if not inside:
            raise ValidationError(f"{what} {spec!r}: no stored layer lies in {part} (this set holds layers "
                                  f"{_show_layers(stored)})")
        if stored == list(range(len(stored))) and hi > stored[-1]:
            resolve_layer(hi, stored)  # a full set: a range past the end is an error, as before
        out.update(inside)
    if not out:
        raise ValidationError(f"{what} {spec!r} selects no layer")
    return sorted(out)
