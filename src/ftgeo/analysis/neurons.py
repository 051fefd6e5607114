"""Salient neurons (Matton & de Oliveira 2019, "Emergent Properties of Finetuned Language
Representation Models", Sec. "Salient neurons"): how much of a task a single dimension, or a
handful of dimensions, of a sentence embedding decides.

* single-neuron accuracy: for every dimension j, the accuracy of the linear softmax classifier
  (:mod:`ftgeo.analysis.linear`, objective (1) there) on that one standardised feature, by
  stratified, seeded k-fold cross-validation on the training split (mean of fold accuracies);
* greedy forward selection: starting from the empty set S, add the dimension j maximising the
  CV accuracy of the classifier on S + {j}; repeat n times (the "best n" neurons);
* the "natural" n is the number of classes.

Every (candidate x fold) fit is an independent few-parameter problem, so each greedy step solves
all of them at once with the batched exact Newton solver :func:`ftgeo.analysis.linear.fit_logreg_batch`
(warm-started from the previous step's model). Per-fold standardisation (a StandardScaler fitted on
each fold's training part, as scikit-learn's pipeline would) is applied on the fly column by column.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ftgeo._checks import check_features, check_labels, check_random_state, check_X_y
from ftgeo.analysis._base import RANDOM_STATE, FtgeoEstimator, Integral, Interval, Real, check_fitted, fit_context
from ftgeo.analysis.linear import encode_labels, fit_candidates, predict_batch, standardize_stats
from ftgeo.sampling import stratified_folds as _folds
from ftgeo.errors import ValidationError

__all__ = ["stratified_folds", "candidate_accuracy", "single_neuron_accuracy", "single_neuron_null", "greedy_selection",
           "SalientNeurons", "majority_accuracy", "uniform_accuracy", "fraction_above",
           "weight_mass_ordering"]


#: Newton stopping tolerance of the candidate fits (half the squared Newton decrement relative to the
#: objective; a last full Newton step follows). Coefficients land within ~1e-6 of the exact optimum,
#: far inside scikit-learn's default lbfgs tolerance (1e-4), and one Newton iteration cheaper than 1e-10.
CANDIDATE_TOL = 1e-6


def stratified_folds(y, n_splits: int = 5, random_state=0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, seeded k-fold split ``[(train_idx, test_idx), ...]`` (:func:`ftgeo.sampling.stratified_folds`):
    every fold holds the floor or ceiling of ``n_c / n_splits`` examples of every class and fold sizes
    differ by at most one."""
    if not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise ValidationError(f"cv={n_splits!r} must be an int >= 2 (the number of folds)")
    y = check_labels(np.asarray(y), None, "y", min_classes=2)
    _check_per_class(y, int(n_splits))
    return _folds(y, int(n_splits), check_random_state(random_state))


def _check_per_class(y: np.ndarray, cv: int) -> None:
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < cv:
        worst = classes[counts.argmin()]
        worst = worst.item() if hasattr(worst, "item") else worst
        raise ValidationError(f"label {worst!r} has {counts.min()} example(s); {cv}-fold stratified CV needs at "
                              f"least {cv} per label: lower cv or drop/merge rare labels")


def majority_accuracy(y_train, y_eval) -> float:
    """Accuracy on ``y_eval`` of always predicting the most frequent training label."""
    classes, counts = np.unique(np.asarray(y_train), return_counts=True)
    return float(np.mean(np.asarray(y_eval) == classes[counts.argmax()]))


def uniform_accuracy(y) -> float:
    """Expected accuracy of a uniform random guess: 1 / number of classes."""
    return 1.0 / np.unique(np.asarray(y)).size


def fraction_above(accuracy, threshold: float) -> float:
    """Fraction of neurons whose accuracy is strictly above ``threshold``."""
    a = np.asarray(accuracy, dtype=np.float64)
    return float(np.mean(a > threshold)) if a.size else float("nan")


def _chunk(n_rows: int, q: int, kp: int, budget: float = 6e6) -> int:
    return int(max(1, min(4096, budget // max(1, n_rows * q * kp))))


def candidate_accuracy(X: np.ndarray, codes: np.ndarray, n_classes: int,
                       splits: Sequence[tuple[np.ndarray, np.ndarray]], base: Sequence[int],
                       candidates: Sequence[int], *, C: float = 1.0, X_test: np.ndarray | None = None,
                       codes_test: np.ndarray | None = None, W_base: Sequence[np.ndarray] | None = None,
                       chunk_size: int | None = None, return_models: bool = False, blas_threads: int | None = 1):
    """Accuracy of the classifier on features ``base + [j]`` for every ``j`` in ``candidates``.

    ``splits`` are (train_idx, test_idx) pairs over the rows of ``X``; with ``X_test`` given the
    test indices refer to ``X_test``/``codes_test`` instead (train on X, score on an eval split).
    Each split's training rows define the standardisation (mean, population std). ``W_base``
    (one (1 + len(base), K') array per split) warm-starts the solver. Returns (n_candidates,
    n_splits) accuracies (and the fitted models (n_candidates, n_splits, q, K') with
    ``return_models``).
    """
    base = [int(b) for b in base]
    cand = np.asarray(list(candidates), dtype=np.int64)
    K = int(n_classes)
    kp = 1 if K == 2 else K
    q = len(base) + 2
    Xt = X if X_test is None else X_test
    ct = codes if codes_test is None else codes_test
    acc = np.empty((cand.size, len(splits)))
    models = np.empty((cand.size, len(splits), q, kp)) if return_models else None
    with _blas_limit(blas_threads):
        _candidate_loop(X, Xt, codes, ct, K, kp, q, splits, base, cand, C, W_base, chunk_size, acc, models)
    return (acc, models) if return_models else acc


def _blas_limit(n):
    """Limit BLAS threads (the products here are skinny; on few, shared cores threading costs more than
    it gains); a no-op without threadpoolctl or with ``n=None``."""
    import contextlib
    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(n), user_api="blas")


def _candidate_loop(X, Xt, codes, ct, K, kp, q, splits, base, cand, C, W_base, chunk_size, acc, models):
    return_models = models is not None
    for f, (tr, te) in enumerate(splits):
        mu, sd = standardize_stats(X, tr)
        ytr, yte = codes[tr], ct[te]
        ntr, nte = tr.size, te.size
        Str = np.empty((ntr, q - 1))
        Str[:, 0] = 1.0
        Str[:, 1:] = (X[np.ix_(tr, base)] - mu[base]) / sd[base]
        Ste = np.empty((nte, q - 1))
        Ste[:, 0] = 1.0
        Ste[:, 1:] = (Xt[np.ix_(te, base)] - mu[base]) / sd[base]
        step = chunk_size or _chunk(ntr, 1, kp * (kp + 1) // 2 + kp)
        for s in range(0, cand.size, step):
            cc = cand[s:s + step]
            b = cc.size
            Ctr = (X[np.ix_(tr, cc)] - mu[cc]) / sd[cc]
            W = fit_candidates(Str, Ctr, ytr, K, C=C, W0_base=None if W_base is None else W_base[f], tol=CANDIDATE_TOL)
            del Ctr
            Cte = (Xt[np.ix_(te, cc)] - mu[cc]) / sd[cc]
            Zte = np.einsum("na,jak->jnk", Ste, W[:, :q - 1], optimize=True) + Cte.T[:, :, None] * W[:, q - 1][:, None, :]
            pred = (Zte[:, :, 0] > 0).astype(np.int64) if kp == 1 else Zte.argmax(axis=2)
            acc[s:s + b, f] = (pred == yte[None]).mean(axis=1)
            if return_models:
                models[s:s + b, f] = W


def single_neuron_accuracy(X, y, *, cv: int = 5, C: float = 1.0, random_state=0,
                           chunk_size: int | None = None) -> np.ndarray:
    """Mean stratified k-fold CV accuracy of the classifier on each single dimension, shape (d,)."""
    X = check_features(X, "X")
    y = check_labels(y, X.shape[0], "y", min_classes=2)
    _check_per_class(y, cv)
    classes, codes = encode_labels(y)
    splits = stratified_folds(y, cv, random_state)
    return candidate_accuracy(X, codes, classes.size, splits, [], range(X.shape[1]), C=C,
                              chunk_size=chunk_size).mean(axis=1)


def single_neuron_null(X, y, splits: Sequence[tuple[np.ndarray, np.ndarray]], n_permutations: int = 20, *,
                       C: float = 1.0, random_state=0, chunk_size: int | None = None,
                       memory: float = 1e6) -> np.ndarray:
    """Single-neuron CV accuracies with labels and representations paired at random: ``(n_permutations, d)``.

    Each permutation ``pi`` (seeded) re-pairs the rows: the features of example ``pi(i)`` go with the
    label of example ``i``. The labels, the folds ``splits`` (stratified on those labels, as in the
    real run) and the solver stay the same, so this equals shuffling the training labels and
    stratifying the folds on the shuffled labels -- the real run's design under "no relation between
    label and representation". (Shuffling the labels while keeping folds stratified on the *real*
    labels would unbalance the folds' classes and lower the null's CV accuracy: an anti-conservative
    baseline.) A row's maximum is what the best of d neurons reaches by chance -- the baseline of the
    best-neuron selection, which accounts for choosing the best of d; a row's share above a threshold
    is the null of the fraction of salient neurons.

    The permuted copies of X are extra candidate columns of :func:`candidate_accuracy`: several
    permutations (as many as fit in ``memory`` float64 entries) go through one batched Newton solve.
    """
    X = check_features(X, "X")
    y = check_labels(y, X.shape[0], "y", min_classes=2)
    classes, codes = encode_labels(y)
    n, d = X.shape
    rng = check_random_state(random_state)
    perms = [rng.permutation(n) for _ in range(int(n_permutations))]
    out = np.empty((len(perms), d))
    per_call = int(max(1, memory // max(1, n * d)))
    for s in range(0, len(perms), per_call):
        block = perms[s:s + per_call]
        Xp = np.concatenate([X[p] for p in block], axis=1)          # (n, d * len(block))
        acc = candidate_accuracy(Xp, codes, classes.size, splits, [], range(Xp.shape[1]), C=C,
                                 chunk_size=chunk_size).mean(axis=1)
        out[s:s + len(block)] = acc.reshape(len(block), d)
    return out


def greedy_selection(X, y, n_select: int = 5, *, cv: int = 5, C: float = 1.0, random_state=0,
                     candidates: Sequence[int] | None = None, chunk_size: int | None = None,
                     progress: bool = False) -> dict:
    """Greedy forward selection of ``n_select`` dimensions by mean CV accuracy (ties: lowest index).

    Returns a dict with ``selected`` (list of ints, in the order chosen), ``curve`` (CV accuracy
    after each addition), ``scores`` (list of (d,) arrays: each candidate's CV accuracy at each
    step, NaN for dimensions already chosen or not candidates), ``fold_scores`` of the first step
    ((d, cv): the single-neuron fold accuracies) and ``splits``.
    """
    X = check_features(X, "X")
    y = check_labels(y, X.shape[0], "y", min_classes=2)
    _check_per_class(y, cv)
    d = X.shape[1]
    pool = np.arange(d) if candidates is None else np.unique(np.asarray(candidates, dtype=np.int64))
    if pool.size and (pool.min() < 0 or pool.max() >= d):
        raise ValidationError(f"candidates must be dimension indices in 0..{d - 1}")
    if not 1 <= n_select <= pool.size:
        raise ValidationError(f"n_select={n_select} must be between 1 and the number of candidate dimensions "
                              f"({pool.size})")
    classes, codes = encode_labels(y)
    K = classes.size
    splits = stratified_folds(y, cv, random_state)
    selected: list[int] = []
    curve, scores = [], []
    W_base = None
    first_folds = None
    from ftgeo.progress import progress as _progress
    for _ in _progress(range(n_select), enabled=progress, desc="greedy selection", leave=False):
        left = np.setdiff1d(pool, selected)
        acc, models = candidate_accuracy(X, codes, K, splits, selected, left, C=C, W_base=W_base,
                                         chunk_size=chunk_size, return_models=True)
        mean = acc.mean(axis=1)
        full = np.full(d, np.nan)
        full[left] = mean
        if first_folds is None:
            first_folds = np.full((d, len(splits)), np.nan)
            first_folds[left] = acc
        # ties broken by the lowest dimension index (left is sorted); a 1e-12 guard against fp noise
        i = int(np.flatnonzero(mean >= mean.max() - 1e-12)[0])
        selected.append(int(left[i]))
        curve.append(float(mean[i]))
        scores.append(full)
        W_base = [models[i, f] for f in range(len(splits))]
    return {"selected": selected, "curve": np.asarray(curve), "scores": scores, "fold_scores": first_folds,
            "splits": splits}


def weight_mass_ordering(coef, search_stride: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """A global ordering of neurons by a linear probe's weight mass (Dalvi et al. 2019, "What Is One Grain
    of Sand in the Desert?", AAAI, Sec. 3.2; NeuroX's ``get_neuron_ordering``).

    ``coef``: the probe's (n_classes, d) weights (their absolute values are used). For a share
    p = k / ``search_stride`` (k = 0..S) of the weight mass, class c selects its largest-|w| neurons
    up to and including the first whose cumulative |w| reaches p times the class total; a neuron's
    level is the smallest k at which some class selects it. Neurons are ordered by level; within a
    level (the paper: arbitrarily ordered) by their largest share of a class's mass, then by index.
    Returns ``(ordering, cutoffs)``: all d neurons, and for each k the number of neurons with level <= k
    (NeuroX's cutoffs). Neurons that no share selects (zero weight for every class after the mass is
    reached) come last, after ``cutoffs[-1]``.
    """
    W = np.abs(np.asarray(coef, dtype=np.float64))
    if W.ndim != 2 or W.size == 0 or not np.isfinite(W).all():
        raise ValidationError(f"coef must be a finite (n_classes, d) array; got shape {W.shape}")
    if not isinstance(search_stride, (int, np.integer)) or search_stride < 1:
        raise ValidationError(f"search_stride must be a positive int; got {search_stride!r}")
    S, (C, d) = int(search_stride), W.shape
    order = np.argsort(-W, axis=1, kind="stable")
    sorted_w = np.take_along_axis(W, order, axis=1)
    cum = np.cumsum(sorted_w, axis=1)
    before = np.concatenate([np.full((C, 1), -np.inf), cum[:, :-1]], axis=1)     # mass before each position
    totals = W.sum(axis=1, keepdims=True)
    level = np.full(d, S + 1)
    for k in range(S + 1):                         # same comparison as the paper's cut: cum >= total * p
        sel = before < totals * (k / S)
        for c in range(C):
            idx = order[c, sel[c]]
            level[idx] = np.minimum(level[idx], k)
    share = (W / np.where(totals > 0, totals, 1.0)).max(axis=0)
    ordering = np.lexsort((np.arange(d), -share, level))
    cutoffs = np.searchsorted(level[ordering], np.arange(S + 1), side="right")
    return ordering, cutoffs


class SalientNeurons(FtgeoEstimator):
    """Single-neuron accuracies and greedy "best n" neurons (Matton & de Oliveira 2019).

    ``fit(X, y)`` on the training split computes, by stratified seeded ``cv``-fold CV:
    ``single_accuracy_`` (d,) mean CV accuracy of each dimension alone, ``single_accuracy_folds_``
    (d, cv), ``best_`` (argmax; ties to the lowest index), ``selected_`` (greedy forward selection
    of ``n_select`` dimensions), ``selection_curve_`` (CV accuracy after each addition),
    ``selection_scores_`` (every candidate's CV accuracy at every step) and ``folds_``. It also
    fits, on all of the training split, one classifier per single dimension and one per prefix of
    ``selected_``, so that :meth:`single_eval_accuracy` and :meth:`score` need only the eval split.
    ``n_select`` larger than the number of dimensions selects them all.
    """

    _parameter_constraints = {
        "cv": [Interval(Integral, 2, None, closed="left")],
        "n_select": [Interval(Integral, 1, None, closed="left")],
        "C": [Interval(Real, 0, None, closed="neither")],
        "random_state": RANDOM_STATE,
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
        "progress": ["boolean"],
    }

    def __init__(self, cv: int = 5, n_select: int = 5, *, C: float = 1.0, random_state=0,
                 chunk_size: int | None = None, progress: bool = False):
        self.cv = cv
        self.n_select = n_select
        self.C = C
        self.random_state = random_state
        self.chunk_size = chunk_size
        self.progress = progress

    @fit_context
    def fit(self, X, y) -> "SalientNeurons":
        X, y = check_X_y(X, y, min_classes=2)
        _check_per_class(y, self.cv)
        n_select = min(int(self.n_select), X.shape[1])
        out = greedy_selection(X, y, n_select, cv=self.cv, C=self.C, random_state=self.random_state,
                               chunk_size=self.chunk_size, progress=self.progress)
        self.classes_, codes = encode_labels(y)
        self.n_features_in_ = X.shape[1]
        self.folds_ = out["splits"]
        self.single_accuracy_folds_ = out["fold_scores"]
        self.single_accuracy_ = out["scores"][0]
        self.best_ = int(out["selected"][0])
        self.selected_ = list(out["selected"])
        self.selection_curve_ = out["curve"]
        self.selection_scores_ = np.vstack(out["scores"])
        # classifiers on all of train: one per dimension, one per prefix of the selection
        everything = [(np.arange(X.shape[0]), np.arange(X.shape[0]))]
        self.train_mean_, self.train_scale_ = standardize_stats(X)
        K = self.classes_.size
        _, self.single_models_ = candidate_accuracy(X, codes, K, everything, [], range(X.shape[1]), C=self.C,
                                                    chunk_size=self.chunk_size, return_models=True)
        self.single_models_ = self.single_models_[:, 0]
        self.prefix_models_ = []
        for n in range(1, len(self.selected_) + 1):
            _, m = candidate_accuracy(X, codes, K, everything, self.selected_[:n - 1], [self.selected_[n - 1]],
                                      C=self.C, return_models=True)
            self.prefix_models_.append(m[0, 0])
        self.train_majority_ = self.classes_[np.bincount(codes, minlength=K).argmax()]
        return self

    def _eval_codes(self, X, y):
        check_fitted(self)
        X = check_features(X, "X_eval")
        if X.shape[1] != self.n_features_in_:
            raise ValidationError(f"X_eval has {X.shape[1]} dimensions; the neurons were fitted on "
                                  f"{self.n_features_in_}")
        y = check_labels(y, X.shape[0], "y_eval")
        known = np.isin(y, self.classes_)
        codes = np.full(y.shape[0], -1, dtype=np.int64)
        codes[known] = np.searchsorted(self.classes_, y[known])
        return (X - self.train_mean_) / self.train_scale_, codes

    def single_eval_accuracy(self, X_eval, y_eval) -> np.ndarray:
        """Eval accuracy (d,) of each dimension's classifier trained on all of the training split."""
        return self._single_eval(X_eval, y_eval, None)[0]

    def single_eval_counts(self, X_eval, y_eval, groups=None) -> tuple[np.ndarray, np.ndarray]:
        """``(accuracy (d,), counts (d, G))``: each dimension's eval accuracy and its number of correct
        eval rows per group (``groups``: 0..G-1 per eval row, e.g. sentences; default: every row its
        own group), for intervals over groups without keeping the (d, n) correctness."""
        if groups is None:
            groups = np.arange(np.shape(X_eval)[0])
        return self._single_eval(X_eval, y_eval, np.asarray(groups, dtype=np.int64))

    def _single_eval(self, X_eval, y_eval, groups):
        Z, codes = self._eval_codes(X_eval, y_eval)
        out = np.empty(self.n_features_in_)
        counts = None
        if groups is not None:
            if groups.shape != (Z.shape[0],):
                raise ValidationError(f"groups must give one group per eval row ({Z.shape[0]}); got {groups.shape}")
            from scipy.sparse import csr_matrix
            G = int(groups.max()) + 1 if groups.size else 0
            member = csr_matrix((np.ones(groups.size), (np.arange(groups.size), groups)), shape=(groups.size, G))
            counts = np.zeros((self.n_features_in_, G))
        step = 256
        for s in range(0, self.n_features_in_, step):
            cc = np.arange(s, min(s + step, self.n_features_in_))
            A = np.empty((cc.size, Z.shape[0], 2))
            A[:, :, 0] = 1.0
            A[:, :, 1] = Z[:, cc].T
            ok = predict_batch(A, self.single_models_[cc]) == codes[None]
            out[cc] = ok.mean(axis=1)
            if counts is not None:
                counts[cc] = (member.T @ ok.T.astype(np.float64)).T
        return out, counts

    def eval_correct(self, X_eval, y_eval) -> np.ndarray:
        """Per-row eval correctness (len(selected_), n_eval) of the classifiers on the first n selected
        dimensions, n = 1..len(selected_) (row n - 1: the "best n"); :meth:`eval_curve` is its row mean."""
        Z, codes = self._eval_codes(X_eval, y_eval)
        out = np.empty((len(self.prefix_models_), Z.shape[0]), dtype=bool)
        for n, W in enumerate(self.prefix_models_, start=1):
            A = np.column_stack([np.ones(Z.shape[0]), Z[:, self.selected_[:n]]])[None]
            out[n - 1] = predict_batch(A, W[None])[0] == codes
        return out

    def eval_curve(self, X_eval, y_eval) -> np.ndarray:
        """Eval accuracy of the first n selected dimensions, n = 1..len(selected_)."""
        return np.asarray([float(row.mean()) for row in self.eval_correct(X_eval, y_eval)])

    def score(self, X_eval, y_eval, n: int | None = None) -> float:
        """Eval accuracy of the classifier on the first ``n`` selected dimensions (default all)."""
        check_fitted(self)
        n = len(self.selected_) if n is None else int(n)
        if not 1 <= n <= len(self.selected_):
            raise ValidationError(f"n={n} must be between 1 and {len(self.selected_)} (the number selected)")
        return float(self.eval_curve(X_eval, y_eval)[n - 1])
