"""2-D projections of one layer for plotting: t-SNE (openTSNE), PCA, UMAP (if ``umap`` is installed).

* t-SNE: van der Maaten & Hinton (2008); openTSNE (Policar, Strazar & Zupan 2024) with PCA
  initialisation and a fixed ``random_state``, single-threaded so results repeat exactly.
* PCA: the top two principal components, signs fixed so the largest-|loading| entry of each
  component is positive (deterministic across runs and platforms).
* UMAP: McInnes, Healy & Melville (2018); needs ``pip install umap-learn``.
"""
from __future__ import annotations

import numpy as np

from ftgeo._checks import check_features, check_in, check_random_state
from ftgeo.sampling import proportional_subsample
from ftgeo.errors import ValidationError

__all__ = ["METHODS", "subsample_indices", "project"]

METHODS = ("tsne", "pca", "umap")


def subsample_indices(n: int, max_samples: int | None, random_state=0, labels=None) -> np.ndarray:
    """Sorted indices of at most ``max_samples`` rows (all when None or >= n), in proportion to ``labels``
    if given (:func:`ftgeo.sampling.proportional_subsample`)."""
    if max_samples is not None and max_samples < 1:
        raise ValidationError(f"max_samples must be >= 1; got {max_samples}")
    return proportional_subsample(n, max_samples, check_random_state(random_state), labels)


def project(X, method: str = "tsne", *, random_state: int = 0, perplexity: float = 30.0,
            n_neighbors: int = 15) -> np.ndarray:
    """(n, 2) coordinates of the rows of ``X``."""
    check_in(method, METHODS, "method")
    X = check_features(X, "X", min_samples=3)
    if method == "pca":
        Xc = X - X.mean(axis=0)
        _, _, Vt = np.linalg.svd(Xc, full_matrices=False)
        V = Vt[:2].T
        if V.shape[1] < 2:
            V = np.pad(V, ((0, 0), (0, 2 - V.shape[1])))
        signs = np.sign(V[np.abs(V).argmax(axis=0), range(V.shape[1])])
        signs[signs == 0] = 1
        return Xc @ (V * signs)
    if method == "tsne":
        from openTSNE import TSNE
        perp = min(perplexity, max(1.0, (X.shape[0] - 1) / 3.0))
        emb = TSNE(n_components=2, perplexity=perp, initialization="pca", random_state=int(random_state),
                   n_jobs=1, verbose=False).fit(X)
        return np.asarray(emb, dtype=np.float64)
    try:
        import umap  # type: ignore
    except ImportError:
        raise ValidationError("method='umap' needs the umap package: pip install umap-learn "
                              "(or use method='tsne' or 'pca')") from None
    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, X.shape[0] - 1),
                        random_state=int(random_state))
    return np.asarray(reducer.fit_transform(X), dtype=np.float64)
