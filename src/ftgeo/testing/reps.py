"""Representation sets for tests: planted structure in memory, or a store on disk written from arrays."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ftgeo.reps import InMemoryRepresentations


def planted_reps(n: int = 300, d: int = 12, n_layers: int = 4, *, seed: int = 0, rogue: Sequence[int] = (3,),
                 scale: float = 8.0, model: str = "pre", task: str = "toy", split: str = "train") -> InMemoryRepresentations:
    """Binary-labelled layers of a random walk in R^d, where each dimension in ``rogue`` carries the label
    (``scale * (2y - 1 + noise)``): a known principal dimension, a known Bayes rate (Phi(1) = 0.841 on it)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    h = rng.standard_normal((n, d))
    layers = []
    for _ in range(n_layers):
        h = h + 0.5 * rng.standard_normal((n, d))
        X = h.copy()
        for j in rogue:
            X[:, j] = scale * ((2 * y - 1) + rng.standard_normal(n))
        layers.append(X)
    return InMemoryRepresentations(layers, labels=y, label_names=["neg", "pos"],
                                   manifest={"model": model, "task": task, "split": split})


def write_store(path: str | Path, layers: Sequence[np.ndarray], labels: Sequence[int], *, model: str = "toy",
                label_names: Sequence[str] = ("neg", "pos"), split: str = "dev", task: str = "toy",
                pooling: str = "cls", checkpoint: str | None = None, ids: Sequence[str] | None = None) -> Path:
    """A complete representation store at ``path`` holding ``layers`` (each (n, d)), as ``ftgeo extract``
    would write it (one chunk, consolidated, checksummed), so CLI verbs and ``open_reps`` read it."""
    from ftgeo.extract.store import consolidate, write_chunk
    path = Path(path)
    path.mkdir(parents=True)
    n, d = np.shape(layers[0])
    manifest = {"format": "ftgeo-reps/1", "model": model, "checkpoint": checkpoint, "task": task, "split": split,
                "pooling": pooling, "n": n, "dim": d, "n_layers": len(layers), "dtype": "float32", "n_chunks": 1,
                "layer_names": [f"layer{i}" for i in range(len(layers))], "label_names": list(label_names)}
    ids = np.array([f"ex{i}" for i in range(n)] if ids is None else list(ids))
    write_chunk(path, 0, np.stack(layers).astype(np.float32), ids, np.asarray(labels))
    consolidate(path, manifest)
    return path
