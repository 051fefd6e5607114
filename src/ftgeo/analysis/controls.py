"""Probing controls: control tasks (Hewitt & Liang 2019) and the online code of MDL probes
(Voita & Titov 2020). Arrays in, numbers out.

Control tasks
-------------
Hewitt & Liang (2019), "Designing and Interpreting Probes with Control Tasks" (EMNLP), section "Control tasks": a
control task gives every word *type* v a label C(v) drawn once, at random, from the empirical
distribution of the task's labels; every token of v gets C(v), in every split. A probe can only reach
high control accuracy by memorising types, so

    selectivity = accuracy(task) - accuracy(control)                                   (HL, "selectivity")

is the part of a probe's accuracy the representation, not the probe, supplies. Here C(v) is a
deterministic function of (v, seed): ``u(v) = blake2b(seed, v) / 2^64`` is uniform on [0, 1) and
``C(v) = F^{-1}(u(v))`` with F the cumulative label distribution (labels in sorted order), so the same
type gets the same control label in every split and every run, and over types the labels follow the
distribution (:func:`control_labels`).

Online code
-----------
Voita & Titov (2020), "Information-Theoretic Probing with Minimum Description Length" (EMNLP), section "Online code":
sort the n examples at random, cut them at 1 <= t_1 < t_2 < ... < t_S = n (fractions 0.1, 0.2, 0.4, 0.8,
1.6, 3.2, 6.25, 12.5, 25, 50, 100 % in the paper); send the first block with the uniform code and every
later block with a probe trained on all the examples before it:

    L_online = t_1 log2 K + sum_{i=1}^{S-1} -log2 p_{theta_i}(y_{t_i+1 : t_{i+1}} | x_{t_i+1 : t_{i+1}})   (VT online code)

with K the number of labels; the uniform code is L_unif = n log2 K (VT uniform code) and the compression is
L_unif / L_online. A representation that makes the labels easy to learn from few examples has a short
online code (:func:`online_codelength`). The variational code (VT, "Variational code") is not implemented.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from ftgeo.errors import ValidationError

__all__ = ["type_uniforms", "empirical_distribution", "control_labels", "block_ends", "uniform_codelength",
           "online_codelength", "paired_difference_interval", "DEFAULT_FRACTIONS"]

#: block ends of the online code, in percent of the examples (Voita & Titov 2020, "Online code")
DEFAULT_FRACTIONS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.25, 12.5, 25.0, 50.0, 100.0)


# ----------------------------------------------------------------------------- control tasks
def type_uniforms(types: Sequence[str], seed: int = 0) -> np.ndarray:
    """u(v) in [0, 1) for every entry of ``types``: ``blake2b(f"{seed}\\x1f{v}")`` (8 bytes) / 2^64.

    A fixed hash, not Python's ``hash``: the value of a type does not depend on the process, the split or
    the other types."""
    t = np.asarray(types).astype(str)
    uniq, inv = np.unique(t, return_inverse=True)
    u = np.empty(uniq.size, dtype=np.float64)
    prefix = f"{int(seed)}\x1f"
    for i, v in enumerate(uniq):
        h = hashlib.blake2b((prefix + v).encode("utf-8"), digest_size=8).digest()
        u[i] = int.from_bytes(h, "big") / 2.0 ** 64
    return u[inv.reshape(-1)]


def empirical_distribution(y) -> tuple[np.ndarray, np.ndarray]:
    """(sorted labels, their relative frequencies) of ``y`` (the token distribution, as Hewitt & Liang)."""
    y = np.asarray(y)
    if y.size == 0:
        raise ValidationError("the label distribution of an empty label vector is undefined")
    classes, counts = np.unique(y, return_counts=True)
    return classes, counts / counts.sum()


def control_labels(types: Sequence[str], classes, probs, seed: int = 0) -> np.ndarray:
    """Control label of every row: ``classes[F^{-1}(u(type))]`` (Hewitt & Liang 2019, "Control tasks").

    ``classes`` / ``probs``: the label distribution (:func:`empirical_distribution` of the training labels);
    give the same distribution for every split so that a type keeps its control label across splits."""
    classes = np.asarray(classes)
    p = np.asarray(probs, dtype=np.float64)
    if classes.ndim != 1 or p.shape != classes.shape or p.size == 0 or (p < 0).any() or not p.sum() > 0:
        raise ValidationError("control_labels needs one non-negative probability per class (and one class at least)")
    cdf = np.cumsum(p / p.sum())
    cdf[-1] = 1.0
    u = type_uniforms(types, seed)
    idx = np.searchsorted(cdf, u, side="right")
    return classes[np.minimum(idx, classes.size - 1)]


# ----------------------------------------------------------------------------- online code
def block_ends(n: int, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> np.ndarray:
    """Block ends t_1 < ... < t_S = n: ``max(1, floor(f / 100 * n))`` for each fraction (percent), duplicates
    dropped, n appended when the last fraction is below 100."""
    f = np.asarray(fractions, dtype=np.float64)
    if n < 2 or f.size == 0 or (f <= 0).any() or (f > 100).any():
        raise ValidationError(f"block fractions must be percentages in (0, 100] and n >= 2; got {list(fractions)}, "
                              f"n={n}")
    t = np.maximum(1, np.floor(np.sort(f) / 100.0 * n + 1e-9).astype(np.int64))
    t = np.unique(np.minimum(t, n))
    if t[-1] != n:
        t = np.append(t, n)
    if t.size < 2:
        raise ValidationError(f"n={n} gives a single block; the online code needs at least two")
    return t


def uniform_codelength(n: int, n_classes: int) -> float:
    """n log2 K bits (Voita & Titov 2020, uniform code)."""
    return float(n) * float(np.log2(n_classes))


def online_codelength(X, y, *, classes=None, fractions: Sequence[float] = DEFAULT_FRACTIONS, kind: str = "linear",
                      hidden: int = 128, l2: float = 1e-4, lr: float = 5e-3, max_epochs: int = 200, patience: int = 10,
                      batch_size=None, holdout: float = 0.1, seed: int = 0) -> dict:
    """Online codelength of labels ``y`` given ``X`` (Voita & Titov 2020, online code), in bits.

    The rows are put in a seeded random order; block i (rows t_i .. t_{i+1}-1 of that order) is coded with
    a probe (:mod:`ftgeo.analysis.probes`, Eq. P1-P3; ``kind``, ``hidden``, ``l2``) trained on rows
    0 .. t_i-1 only: their last ``holdout`` share (at least one row) is its early-stopping split and the
    features are standardised with the mean/std of its training rows, so block i's code depends on the
    earlier rows alone (a valid prefix code). The first block is sent with the uniform code.

    ``classes``: the label set (default: the labels of ``y``); K = len(classes). Returns ``{"codelength",
    "uniform", "compression", "block_ends", "block_bits" (bits of each block, the first uniform),
    "block_epochs", "order"}``. Cost: the probes see sum_i t_i ~ 2n rows in all, trained one after another
    (batching them would make every member pay for the largest block).
    """
    import torch

    from ftgeo._checks import check_X_y
    from ftgeo.analysis.probes import _encode, _torch, _train_batched, standardize_fit

    X, y = check_X_y(X, y, min_classes=1)
    classes = np.unique(y) if classes is None else np.unique(np.asarray(classes))
    codes = _encode(y, classes)
    if (codes < 0).any():
        raise ValidationError("y holds labels that are not in classes")
    n, K = len(codes), len(classes)
    if K < 2:
        raise ValidationError("the online code needs at least two classes")
    if not 0 < holdout < 1:
        raise ValidationError(f"holdout must be in (0, 1); got {holdout}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    Xo, yo = np.asarray(X, dtype=np.float64)[order], codes[order]
    t = block_ends(n, fractions)
    bits = np.empty(t.size, dtype=np.float64)
    epochs = np.zeros(t.size, dtype=np.int64)
    bits[0] = uniform_codelength(int(t[0]), K)
    for i in range(t.size - 1):
        ti, tj = int(t[i]), int(t[i + 1])
        n_val = max(1, int(round(holdout * ti))) if ti >= 2 else 0
        tr, va = slice(0, ti - n_val), slice(ti - n_val, ti)
        mu, sd = standardize_fit(Xo[tr])
        Z = lambda rows: _torch((Xo[rows] - mu) / sd)   # noqa: E731
        batch = _train_batched(Z(tr), torch.from_numpy(yo[tr]), Z(va) if n_val else None,
                               torch.from_numpy(yo[va]) if n_val else None, n_classes=K, kind=kind,
                               hidden=None if kind == "linear" else int(hidden), l2s=[float(l2)], seeds=[int(seed) + i],
                               lr=float(lr), max_epochs=int(max_epochs), patience=int(patience), batch_size=batch_size)
        with torch.no_grad():
            logp = torch.log_softmax(batch.logits(Z(slice(ti, tj)))[0].double(), dim=-1).numpy()
        bits[i + 1] = float(-logp[np.arange(tj - ti), yo[ti:tj]].sum() / np.log(2.0))
        epochs[i + 1] = int(batch.n_epochs[0])
    total = float(bits.sum())
    unif = uniform_codelength(n, K)
    return {"codelength": total, "uniform": unif, "compression": unif / total if total > 0 else float("inf"),
            "block_ends": t, "block_bits": bits, "block_epochs": epochs, "order": order}


# ----------------------------------------------------------------------------- paired intervals
def paired_difference_interval(a, b, groups=None, level: float = 0.9, *, n_resamples: int = 1000,
                               random_state=0) -> dict:
    """Interval of mean(a) - mean(b) for per-row scores ``a``, ``b`` (S seeds x n rows each, or n rows) measured
    on the same rows: a percentile bootstrap of the resampling units (``groups``: sentences; rows when None),
    both terms on the same resample (paired). Returns ``{"difference", "low", "high", "se"}``."""
    from ftgeo._checks import check_random_state
    from ftgeo.analysis.resampling import percentile_interval
    a = np.atleast_2d(np.asarray(a, dtype=np.float64)).mean(axis=0)
    b = np.atleast_2d(np.asarray(b, dtype=np.float64)).mean(axis=0)
    if a.shape != b.shape:
        raise ValidationError(f"paired scores need the same rows; got {a.size} and {b.size}")
    d = a - b
    n = d.size
    nan = float("nan")
    if n == 0:
        return {"difference": nan, "low": nan, "high": nan, "se": nan}
    g = np.arange(n) if groups is None else np.asarray(groups)
    _, inv = np.unique(g, return_inverse=True)
    gsum = np.bincount(inv, weights=d)
    gcnt = np.bincount(inv).astype(np.float64)
    G = gsum.size
    rng = check_random_state(random_state)
    boot = np.empty(int(n_resamples))
    step = max(1, 2_000_000 // max(G, 1))
    for s0 in range(0, boot.size, step):
        idx = rng.integers(0, G, (min(step, boot.size - s0), G))
        boot[s0:s0 + idx.shape[0]] = gsum[idx].sum(axis=1) / gcnt[idx].sum(axis=1)
    lo, hi = percentile_interval(boot, level)
    return {"difference": float(d.mean()), "low": lo, "high": hi,
            "se": float(boot.std(ddof=1)) if boot.size > 1 else nan}
