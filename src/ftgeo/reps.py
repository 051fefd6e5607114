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
    """Representations held as a list of arrays, one per layer (all the same shape)."""

    arrays: Sequence[np.ndarray]
    labels: np.ndarray
    label_names: list[str] = field(default_factory=list)
    ids: np.ndarray | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

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

    @property
    def n_layers(self) -> int:
        return len(self.arrays)

    @property
    def layers(self) -> list[int]:
        return list(range(len(self.arrays)))

    def layer(self, index: int, dtype=np.float32) -> np.ndarray:
        return np.asarray(self.arrays[resolve_layer(index, self.n_layers)], dtype=dtype)


def resolve_layer(index: int, n_layers: int) -> int:
    """Map ``index`` (negative counts from the end, -1 = last block) to a stored layer index."""
    if not isinstance(index, (int, np.integer)):
        raise ValidationError(f"layer index must be an int; got {index!r}")
    i = int(index) + n_layers if index < 0 else int(index)
    if not 0 <= i < n_layers:
        raise ValidationError(f"layer {index} does not exist; this set has layers 0..{n_layers - 1} "
                              "(0 = embeddings, -1 = last block)")
    return i
