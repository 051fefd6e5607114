"""Input validation shared by every analysis: arrays in, clear errors out."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ftgeo.errors import ValidationError


def check_features(X, name: str = "X", *, min_samples: int = 1, min_features: int = 1,
                   dtype=np.float64, allow_nan: bool = False) -> np.ndarray:
    """Return ``X`` as a 2-D C-contiguous array of ``dtype`` after checking shape and values."""
    try:
        arr = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be a numeric array of shape (n_samples, n_features): {exc}") from None
    if arr.ndim != 2:
        raise ValidationError(f"{name} must be 2-D (n_samples, n_features); got shape {arr.shape}. "
                              "Reshape a single layer with X.reshape(n, -1).")
    n, d = arr.shape
    if n < min_samples:
        raise ValidationError(f"{name} has {n} samples; this needs at least {min_samples}.")
    if d < min_features:
        raise ValidationError(f"{name} has {d} features; this needs at least {min_features}.")
    if not allow_nan and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValidationError(f"{name} contains {bad} NaN or infinite values; clean or drop them first.")
    return np.ascontiguousarray(arr)


def check_labels(y, n_samples: int | None = None, name: str = "y", *, min_classes: int = 1,
                 min_per_class: int = 0) -> np.ndarray:
    """Return ``y`` as a 1-D array, checking its length and class counts."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be 1-D; got shape {arr.shape}.")
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValidationError(f"{name} has {arr.shape[0]} entries but the features have {n_samples} rows.")
    classes, counts = np.unique(arr, return_counts=True)
    if classes.size < min_classes:
        raise ValidationError(f"{name} has {classes.size} distinct label(s) ({classes.tolist()[:5]}); "
                              f"this needs at least {min_classes}.")
    if min_per_class and counts.min() < min_per_class:
        worst = classes[counts.argmin()]
        worst = worst.item() if hasattr(worst, "item") else worst
        raise ValidationError(f"label {worst!r} in {name} has {counts.min()} example(s); "
                              f"this needs at least {min_per_class} per label (e.g. for {min_per_class}-fold CV).")
    return arr


def check_same_rows(X: np.ndarray, Y: np.ndarray, names: Sequence[str] = ("X", "Y")) -> None:
    if X.shape[0] != Y.shape[0]:
        raise ValidationError(f"{names[0]} has {X.shape[0]} rows and {names[1]} has {Y.shape[0]}; "
                              "they must describe the same examples in the same order.")


def check_in(value, allowed: Sequence, name: str):
    if value not in allowed:
        raise ValidationError(f"{name}={value!r} is not one of {list(allowed)}.")
    return value


def check_random_state(seed) -> np.random.Generator:
    """A NumPy Generator from an int seed or an existing Generator (never global state)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise ValidationError(f"random_state must be an int, None or a numpy Generator; got {type(seed).__name__}")
