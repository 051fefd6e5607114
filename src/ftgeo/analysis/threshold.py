"""A 1-D classifier on the principal rogue dimension.

Rudman, Chen & Eickhoff (2023), "Outlier Dimensions Encode Task-Specific Knowledge" (EMNLP),
Section 5: after fine-tuning, a linear threshold on the single highest-variance ("principal
outlier") dimension of the last layer classifies nearly as well as the full model. We fit

* ``method='svm'``: a 1-D linear SVM (scikit-learn ``LinearSVC``, hinge loss, L2 penalty C) on the
  z-scored train values; the decision rule is ``polarity * (x - threshold) > 0 -> positive class``
  with threshold = -b / w mapped back to raw units;
* ``method='best'``: the exact training-accuracy-maximising threshold found by sort-and-scan in
  O(n log n) (:func:`best_threshold`).

Binary tasks only: a multi-class task raises :class:`~ftgeo.errors.ValidationError` (pick two
classes, or analyse one-vs-rest yourself by relabelling).
"""
from __future__ import annotations

import numpy as np

from sklearn.base import ClassifierMixin

from ftgeo._checks import check_features, check_labels, check_seed, check_X_y
from ftgeo.analysis._base import (RANDOM_STATE, FtgeoEstimator, Integral, Interval, Real, StrOptions, check_fitted,
                                  fit_context)
from ftgeo.errors import ValidationError

__all__ = ["best_threshold", "svm_threshold", "threshold_predict", "PrincipalDimensionClassifier"]


def _binary(y, n, name="y"):
    y = check_labels(y, n, name, min_classes=2)
    classes = np.unique(y)
    if classes.size != 2:
        raise ValidationError(f"{name} has {classes.size} classes {classes.tolist()[:6]}; the principal-dimension "
                              "threshold classifier is binary. Select two classes, or relabel one-vs-rest.")
    return y, classes


def threshold_predict(x, threshold: float, polarity: int, classes) -> np.ndarray:
    """``classes[1]`` where ``polarity * (x - threshold) > 0``, else ``classes[0]``."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(polarity * (x - threshold) > 0, classes[1], classes[0])


def best_threshold(x, y) -> tuple[float, int, float]:
    """Exact best-training-accuracy threshold on one feature: (threshold, polarity, accuracy).

    Sort once, then scan every cut between consecutive *distinct* values (plus the two
    all-one-class cuts), counting with cumulative sums: O(n log n). Thresholds sit at midpoints.
    Ties between cuts: the first in (polarity +1 before -1, ascending x) order wins.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y, classes = _binary(y, x.size)
    pos = (y == classes[1]).astype(np.int64)
    order = np.argsort(x, kind="stable")
    xs, ps = x[order], pos[order]
    n = x.size
    # cut after position c (c = 0..n): left = xs[:c]
    last = np.r_[np.flatnonzero(np.diff(xs) > 0) + 1, n]        # valid cuts: end of each run of equal values
    cuts = np.r_[0, last]
    cum_pos = np.r_[0, np.cumsum(ps)]
    P = cum_pos[-1]
    left_pos = cum_pos[cuts]
    left_n = cuts
    # polarity +1: right side positive -> correct = (left negatives) + (right positives)
    acc_plus = ((left_n - left_pos) + (P - left_pos)) / n
    acc_minus = (left_pos + ((n - left_n) - (P - left_pos))) / n
    i_p, i_m = int(np.argmax(acc_plus)), int(np.argmax(acc_minus))
    if acc_plus[i_p] >= acc_minus[i_m]:
        c, pol, acc = cuts[i_p], 1, acc_plus[i_p]
    else:
        c, pol, acc = cuts[i_m], -1, acc_minus[i_m]
    if c == 0:
        thr = xs[0] - 1.0
    elif c == n:
        thr = xs[-1] + 1.0
    else:
        thr = 0.5 * (xs[c - 1] + xs[c])
    return float(thr), pol, float(acc)


def svm_threshold(x, y, *, C: float = 1.0, random_state=0) -> tuple[float, int]:
    """1-D linear SVM (LinearSVC on the z-scored feature): (threshold, polarity) in raw units."""
    from sklearn.svm import LinearSVC

    x = np.asarray(x, dtype=np.float64).ravel()
    y, classes = _binary(y, x.size)
    mu, sd = x.mean(), x.std()
    if sd == 0:
        raise ValidationError("the chosen dimension is constant on the training set; no threshold can separate classes")
    z = ((x - mu) / sd)[:, None]
    svm = LinearSVC(C=C, dual=False, random_state=random_state, max_iter=10000)
    svm.fit(z, (y == classes[1]).astype(int))
    w, b = float(svm.coef_[0, 0]), float(svm.intercept_[0])
    if w == 0:
        return float(mu), 1   # degenerate: no direction learned
    return float(mu + sd * (-b / w)), (1 if w > 0 else -1)


class PrincipalDimensionClassifier(ClassifierMixin, FtgeoEstimator):
    """Threshold classifier on one dimension (default: the principal = highest train variance).

    Parameters: ``method`` ('svm' or 'best'), ``dimension`` (None -> principal; negative counts
    from the end), ``C`` (of the SVM), ``random_state`` (the SVM's seed; an int, or a Generator /
    None that draws one).
    Fitted: ``dimension_``, ``threshold_``, ``polarity_``, ``classes_``, ``train_accuracy_``,
    ``variance_share_`` (the dimension's share of total train variance), ``n_features_in_``.
    """

    _parameter_constraints = {
        "method": [StrOptions({"svm", "best"})],
        "dimension": [Integral, None],
        "C": [Interval(Real, 0, None, closed="neither")],
        "random_state": RANDOM_STATE,
    }

    def __init__(self, method: str = "svm", *, dimension: int | None = None, C: float = 1.0, random_state=0):
        self.method = method
        self.dimension = dimension
        self.C = C
        self.random_state = random_state

    @fit_context
    def fit(self, X, y) -> "PrincipalDimensionClassifier":
        X, y = check_X_y(X, y, x_name="X_train", y_name="y_train", min_samples=2)
        y, self.classes_ = _binary(y, X.shape[0], "y_train")
        self.n_features_in_ = X.shape[1]
        var = X.var(axis=0)
        if self.dimension is None:
            self.dimension_ = int(np.argmax(var))
        else:
            if not -X.shape[1] <= self.dimension < X.shape[1]:
                raise ValidationError(f"dimension {self.dimension} is out of range for {X.shape[1]} features")
            self.dimension_ = int(self.dimension) % X.shape[1]
        self.variance_share_ = float(var[self.dimension_] / var.sum()) if var.sum() > 0 else float("nan")
        x = X[:, self.dimension_]
        if self.method == "best":
            self.threshold_, self.polarity_, _ = best_threshold(x, y)
        else:
            self.threshold_, self.polarity_ = svm_threshold(x, y, C=self.C, random_state=check_seed(self.random_state))
        self.train_accuracy_ = float((self.predict(X) == y).mean())
        return self

    def predict(self, X) -> np.ndarray:
        check_fitted(self)
        X = check_features(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValidationError(f"X has {X.shape[1]} features; the classifier was fitted on {self.n_features_in_}.")
        return threshold_predict(X[:, self.dimension_], self.threshold_, self.polarity_, self.classes_)

    def score(self, X, y) -> float:
        """Accuracy of :meth:`predict` on (X, y)."""
        check_fitted(self)
        X, y = check_X_y(X, y)
        return float((self.predict(X) == y).mean())
