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
    """Return ``y`` as a 1-D array of class labels, checking its length, its values and class counts.

    Class labels are integers (or integer-valued floats) or strings; a missing label (NaN, None,
    pandas NA), a non-integer float (a regression target) or a mix of strings and numbers is
    rejected with one line that says which row. The array is returned unconverted.
    """
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be 1-D; got shape {arr.shape}.")
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValidationError(f"{name} has {arr.shape[0]} entries but the features have {n_samples} rows.")
    _check_label_values(arr, name)
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


def _check_label_values(arr: np.ndarray, name: str) -> None:
    kind = arr.dtype.kind
    if kind in "biuUS":
        return
    if kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ValidationError(f"{name} has {int(bad.sum())} missing (NaN or infinite) label(s), the first at row "
                                  f"{int(np.flatnonzero(bad)[0])}; drop those rows or give every example a label.")
        frac = arr != np.round(arr)
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise ValidationError(f"{name} has non-integer value {arr[i].item()!r} at row {i}; class labels must be "
                                  "integers or strings (this is a classifier, not a regression).")
        return
    if kind != "O":
        raise ValidationError(f"{name} has dtype {arr.dtype}; class labels must be integers or strings.")
    kinds = set()
    for i, v in enumerate(arr):
        if v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v)) or _is_na(v):
            raise ValidationError(f"{name} has a missing label ({v!r}) at row {i}; drop those rows or give every "
                                  "example a label.")
        if isinstance(v, (str, np.str_, bytes)):
            kinds.add("string")
        elif isinstance(v, (bool, np.bool_, int, np.integer)):
            kinds.add("number")
        elif isinstance(v, (float, np.floating)) and float(v).is_integer():
            kinds.add("number")
        else:
            raise ValidationError(f"{name} has label {v!r} ({type(v).__name__}) at row {i}; class labels must be "
                                  "integers or strings.")
    if len(kinds) > 1:
        raise ValidationError(f"{name} mixes strings and numbers; use one type for every class label "
                              "(e.g. y.astype(str)).")


def _is_na(v) -> bool:
    """pandas.NA / NaT without importing pandas."""
    return type(v).__name__ in ("NAType", "NaTType")


def check_X_y(X, y, *, x_name: str = "X", y_name: str = "y", min_samples: int = 1, min_features: int = 1,
              min_classes: int = 1, min_per_class: int = 0, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """The checked ``(X, y)`` pair every estimator's ``fit`` takes: ``X`` by :func:`check_features`
    (2-D, finite, ``dtype``) and ``y`` by :func:`check_labels` (1-D class labels, no missing
    value, one per row of ``X``)."""
    X = check_features(X, x_name, min_samples=min_samples, min_features=min_features, dtype=dtype)
    y = check_labels(y, X.shape[0], y_name, min_classes=min_classes, min_per_class=min_per_class)
    return X, y


def check_same_rows(X: np.ndarray, Y: np.ndarray, names: Sequence[str] = ("X", "Y")) -> None:
    if X.shape[0] != Y.shape[0]:
        raise ValidationError(f"{names[0]} has {X.shape[0]} rows and {names[1]} has {Y.shape[0]}; "
                              "they must describe the same examples in the same order.")


def check_in(value, allowed: Sequence, name: str):
    if value not in allowed:
        raise ValidationError(f"{name}={value!r} is not one of {list(allowed)}.")
    return value


def check_seed(random_state) -> int:
    """An int seed from ``random_state`` for code seeded by integers (torch generators, LinearSVC):
    an int is returned as is, a Generator draws one (and advances), None draws fresh entropy."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, (bool, np.bool_)):
        return int(random_state)
    return int(check_random_state(random_state).integers(0, 2 ** 31 - 1))


def check_random_state(seed) -> np.random.Generator:
    """A NumPy Generator from an int seed or an existing Generator (never global state)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise ValidationError(f"random_state must be an int, None or a numpy Generator; got {type(seed).__name__}")
