"""Classifier probes on frozen representations (Zhou & Srikumar 2022, "A Closer Look at How
Fine-tuning Changes BERT", ACL, Sec. 3 and Appendix: probing classifiers).

The paper trains, on every layer's frozen representations, a linear probe and a two-layer MLP
probe with ReLU, selects the hidden size from {32, 64, 128, 256} and the L2 weight from 1e-7 .. 1
on a development set, then retrains the best setting with 5 seeds and reports mean ± std accuracy.

The probe for one example x (standardised) is

    linear:  logits = W x + b                                                        (P1)
    mlp:     logits = W2 relu(W1 x + b1) + b2                                        (P2)

trained with Adam on

    L(theta) = mean_i CE(logits_i, y_i) + l2 * sum ||W||_F^2   (weights only, not biases)  (P3)

and early stopping on the validation cross-entropy (the parameters of the epoch with the lowest
validation loss are kept).

Speed
-----
* features are standardised once per layer (mean/std of the training split);
* one *batched* model trains G settings at once (G L2 weights of the grid, or the n seeds of the
  final retraining): weights have a leading group axis and every step is one batched matmul;
  each member has its own initialisation generator, its own minibatch order and its own early
  stopping, so a member's result does not depend on the others in its batch;
* full-batch training when the training split is small (``batch_size=None``: up to 4096 rows).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from sklearn.base import ClassifierMixin

from ftgeo._checks import check_features, check_labels, check_seed, check_X_y
from ftgeo.analysis._base import (RANDOM_STATE, FtgeoEstimator, Integral, Interval, Real, StrOptions, check_fitted,
                                  fit_context)
from ftgeo.sampling import stratified_holdout, stratified_subsample as _subsample
from ftgeo.errors import ValidationError

__all__ = ["ProbeClassifier", "ProbeGridSearch", "stratified_split", "stratified_subsample",
           "standardize_fit", "seed_mean_interval",
           "DEFAULT_HIDDEN_SIZES", "DEFAULT_L2_GRID"]

DEFAULT_HIDDEN_SIZES = (32, 64, 128, 256)
DEFAULT_L2_GRID = tuple(float(v) for v in np.logspace(-7, 0, 8))   # 1e-7, 1e-6, ..., 1
_FULL_BATCH_MAX = 4096


# ---------------------------------------------------------------------------- pure helpers
def stratified_split(y, fraction: float = 0.2, random_state=0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of indices into (train, validation) (:func:`ftgeo.sampling.stratified_holdout`):
    each label with at least 2 examples gives ``round(fraction * count)`` (at least 1, at most
    count - 1) examples to validation; a label with one example stays in train."""
    if not 0 < fraction < 1:
        raise ValidationError(f"validation fraction must be in (0, 1); got {fraction!r}")
    return stratified_holdout(y, fraction, random_state)


def stratified_subsample(y, max_points: int | None, random_state=0) -> np.ndarray:
    """Sorted indices of a seeded stratified subsample of at most ``max_points`` rows, every label kept
    (:func:`ftgeo.sampling.stratified_subsample`); used before DirectProbe, whose cost grows fast with n."""
    return _subsample(y, max_points, random_state)


def standardize_fit(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation per feature (std 0 -> 1, so constant features stay 0)."""
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd[sd == 0] = 1.0
    return mu, sd


def seed_mean_interval(correct, groups=None, level: float = 0.9, *, n_resamples: int = 1000,
                       random_state=0) -> dict:
    """Intervals of the mean accuracy over seeds from per-row correctness ``correct`` (S seeds x n rows),
    with the two sources of variance kept apart.

    * **within** (``low``, ``high``, ``se_within``): eval-sampling variance of the seed mean for these S
      probes -- a percentile bootstrap over the resampling units (``groups``: sentences; rows when
      None), every seed scored on the same resample (paired), since the seeds' errors on one example
      are correlated. With one seed and independent rows: the Wilson interval (as for one accuracy).
      Target: E_x[mean_s correct_s(x)].
    * **between** (``se_between`` = sd over seeds / sqrt(S)): training-seed variance.
    * **total** (``total_low``, ``total_high``): mean ± t_df sqrt(se_within^2 + se_between^2), with
      Welch-Satterthwaite degrees of freedom df = (a + b)^2 (S - 1) / b^2 (a = se_within^2 from n rows,
      taken as exact; b = se_between^2 on S - 1 df). Target: the accuracy expected of the procedure
      over seeds and eval samples. The between-seed sd on one eval set also holds the seed x example
      interaction, so b is if anything too large (conservative). NaN for one seed.
    """
    from scipy.stats import t as student_t
    from ftgeo._checks import check_random_state
    from ftgeo.analysis.resampling import percentile_interval, proportion_interval
    c = np.atleast_2d(np.asarray(correct, dtype=np.float64))
    S, n = c.shape
    nan = float("nan")
    out = {"mean": float(c.mean()) if c.size else nan, "low": nan, "high": nan, "se_within": nan,
           "se_between": nan, "total_low": nan, "total_high": nan, "method": ""}
    if n == 0:
        return out
    per_row = c.mean(axis=0)
    g = None if groups is None else np.asarray(groups)
    # the group bootstrap through per-group sums: a resample of G groups (with replacement) has mean
    # sum(group sums) / sum(group sizes), as :func:`ftgeo.analysis.resampling.bootstrap_plan` would give
    _, inv = np.unique(np.arange(n) if g is None else g, return_inverse=True)
    gsum = np.bincount(inv, weights=per_row)
    gcnt = np.bincount(inv).astype(np.float64)
    G = gsum.size
    rng = check_random_state(random_state)
    boot = np.empty(int(n_resamples))
    step = max(1, 2_000_000 // max(G, 1))
    for s0 in range(0, boot.size, step):
        idx = rng.integers(0, G, (min(step, boot.size - s0), G))
        boot[s0:s0 + idx.shape[0]] = gsum[idx].sum(axis=1) / gcnt[idx].sum(axis=1)
    out["se_within"] = float(boot.std(ddof=1)) if boot.size > 1 else nan
    if S == 1 and (g is None or np.unique(g).size == n):
        out["low"], out["high"], out["method"] = proportion_interval(c[0] > 0.5, None, level)
    else:
        out["low"], out["high"] = percentile_interval(boot, level)
        out["method"] = "percentile bootstrap of the seed mean (seeds paired)" + (
            "" if g is None or np.unique(g).size == n else ", sentences resampled")
    if S >= 2:
        a = out["se_within"] ** 2 if np.isfinite(out["se_within"]) else 0.0
        b = float(c.mean(axis=1).std(ddof=1)) ** 2 / S
        out["se_between"] = float(np.sqrt(b))
        df = np.inf if b == 0 else (a + b) ** 2 * (S - 1) / b ** 2
        q = float(student_t.ppf(0.5 + level / 2, df)) if np.isfinite(df) else float(student_t.ppf(0.5 + level / 2, 1e9))
        half = q * np.sqrt(a + b)
        out["total_low"], out["total_high"] = max(0.0, out["mean"] - half), min(1.0, out["mean"] + half)
    return out


def _encode(y, classes: np.ndarray) -> np.ndarray:
    """Index of each y in classes; -1 for a label unseen in training (always counted wrong)."""
    pos = np.searchsorted(classes, y)
    pos = np.clip(pos, 0, len(classes) - 1)
    return np.where(classes[pos] == y, pos, -1).astype(np.int64)


def _auto_batch(n: int, batch_size):
    if batch_size is None:
        return None if n <= _FULL_BATCH_MAX else 256
    if batch_size == "full":
        return None
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValidationError(f"batch_size must be a positive int, 'full' or None (auto); got {batch_size!r}")
    return None if batch_size >= n else int(batch_size)


# ---------------------------------------------------------------------------- batched trainer
@dataclass
class _Batch:
    """G probes trained together; parameters have a leading group axis."""

    kind: str
    params: list          # torch tensors, (G, ...)
    n_epochs: np.ndarray  # (G,) epoch of the kept parameters
    best_val_loss: np.ndarray

    def logits(self, X):
        """(G, m, C) logits. X is (m, d), shared by all members, or (G, m, d), one per member.

        With a shared X the first layer of all members is ONE (m, d) x (d, G*width) GEMM (no
        G-fold copy of X, and its gradient is one GEMM as well)."""
        import torch
        W = self.params[0]
        G, d, w = W.shape
        if X.dim() == 2:
            Z = (X @ W.permute(1, 0, 2).reshape(d, G * w)).view(X.shape[0], G, w).permute(1, 0, 2)
        else:
            Z = torch.bmm(X, W)
        Z = Z + self.params[1]
        if self.kind == "linear":
            return Z
        W2, b2 = self.params[2], self.params[3]
        return torch.bmm(torch.relu(Z), W2) + b2

    def member(self, g: int) -> "_Batch":
        return _Batch(self.kind, [p[g:g + 1] for p in self.params], self.n_epochs[g:g + 1],
                      self.best_val_loss[g:g + 1])


def _init(kind, d, hidden, C, seeds):
    """nn.Linear's default init (uniform +-1/sqrt(fan_in)) from one generator per member."""
    import torch
    shapes = [(d, C), (1, C)] if kind == "linear" else [(d, hidden), (1, hidden), (hidden, C), (1, C)]
    fans = [d, d] if kind == "linear" else [d, d, hidden, hidden]
    out = [torch.empty((len(seeds),) + s) for s in shapes]
    for g, seed in enumerate(seeds):
        gen = torch.Generator().manual_seed(int(seed))
        for t, fan in zip(out, fans):
            bound = 1.0 / np.sqrt(fan)
            t[g].uniform_(-bound, bound, generator=gen)
    for t in out:
        t.requires_grad_(True)
    return out


def _train_batched(Xt, yt, Xv, yv, *, n_classes: int, kind: str, hidden: int | None, l2s: Sequence[float],
                   seeds: Sequence[int], lr: float, max_epochs: int, patience: int, batch_size, tol: float = 1e-4
                   ) -> _Batch:
    """Train len(l2s) probes at once (Eq. P1-P3); early stopping on (Xv, yv) if given.

    Xt, Xv: float32 torch tensors, already standardised; yt, yv: int64 tensors, (m,) shared by every
    member or (G, m), one labelling per member (the label-permutation baseline trains G shuffles at once).
    """

    G = len(l2s)
    n, d = Xt.shape
    width = n_classes if kind == "linear" else hidden
    with _torch_threads(G * n * d * width):
        return _train_loop(Xt, yt, Xv, yv, n_classes=n_classes, kind=kind, hidden=hidden, l2s=l2s, seeds=seeds,
                           lr=lr, max_epochs=max_epochs, patience=patience, batch_size=batch_size, tol=tol)


class _torch_threads:
    """One torch thread unless a step is big (G x n x d x width >= 1e9): on a shared machine,
    thread hand-offs cost more than these matmuls (measured with other load on 2 cores: a 400 x 2
    linear probe 30x faster, an 8-member 2000 x 128 x 64 MLP batch 10x faster on 1 thread)."""

    def __init__(self, work: int, small: int = 1_000_000_000):
        self.work, self.small = work, small

    def __enter__(self):
        import torch
        self.prev = torch.get_num_threads()
        if self.work < self.small:
            torch.set_num_threads(1)

    def __exit__(self, *exc):
        import torch
        torch.set_num_threads(self.prev)


def _train_loop(Xt, yt, Xv, yv, *, n_classes, kind, hidden, l2s, seeds, lr, max_epochs, patience, batch_size, tol):
    """The batched Adam loop. Members that have early-stopped leave the batch (their parameters and
    Adam moments are sliced out), so a batch costs about the sum of its members' epochs."""
    import torch
    import torch.nn.functional as F

    G = len(l2s)
    n, d = Xt.shape
    params = _init(kind, d, hidden, n_classes, seeds)
    lam_all = torch.tensor(np.asarray(l2s, dtype=np.float32))
    opt = torch.optim.Adam(params, lr=lr)
    bs = _auto_batch(n, batch_size)
    gens = [torch.Generator().manual_seed(int(s) + 7919) for s in seeds]
    use_val = Xv is not None and len(Xv) > 0
    best_loss = np.full(G, np.inf)
    best_epoch = np.zeros(G, dtype=np.int64)
    bad = np.zeros(G, dtype=np.int64)
    best = [p.detach().clone() for p in params]
    active = np.arange(G)                      # global ids of the members still training
    shared_order = len(set(int(v) for v in seeds)) == 1

    def loss_of(logits, y):  # logits (A, m, C), y (m,) or (A, m) -> mean cross-entropy per member (A,)
        A, m = logits.shape[0], logits.shape[1]
        yy = y.expand(A, m) if y.dim() == 1 else y
        return F.cross_entropy(logits.reshape(A * m, -1), yy.reshape(-1), reduction="none").view(A, m).mean(1)

    def labels(y, idx=None):  # y (m,) shared, or (G, m) one labelling per member (the label-permutation null)
        if y.dim() == 1:
            return y if idx is None else y[idx]
        y = y[torch.as_tensor(active)]
        if idx is None:
            return y
        return y[:, idx] if idx.dim() == 1 else torch.gather(y, 1, idx)

    epoch = 0
    for epoch in range(1, max_epochs + 1):
        batch = _Batch(kind, params, best_epoch, best_loss)
        weights = [params[0]] if kind == "linear" else [params[0], params[2]]
        lam = lam_all[torch.as_tensor(active)]
        if bs is None:
            steps = [None]
        elif shared_order:                      # same seed for every member: one order, drawn once
            perm = torch.randperm(n, generator=gens[0])   # gens[0] advances once per epoch, like each member's
            steps = [perm[s:s + bs] for s in range(0, n, bs)]
        else:
            perms = torch.stack([torch.randperm(n, generator=gens[g]) for g in active])  # (A, n)
            steps = [perms[:, s:s + bs] for s in range(0, n, bs)]
        for idx in steps:
            if idx is None:
                ce = loss_of(batch.logits(Xt), labels(yt))
            else:
                ce = loss_of(batch.logits(Xt[idx]), labels(yt, idx))   # shared (b, d) or per member (A, b, d)
            pen = sum((w * w).sum(dim=(1, 2)) for w in weights)
            loss = (ce + lam * pen).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if not use_val:
            continue
        with torch.no_grad():
            vl = loss_of(batch.logits(Xv), labels(yv)).numpy().astype(np.float64)
        bl = best_loss[active]
        finite = np.isfinite(bl)
        thr = np.where(finite, bl - tol * np.maximum(1.0, np.abs(np.where(finite, bl, 0.0))), np.inf)
        improved = vl < thr
        if improved.any():
            loc = np.flatnonzero(improved)
            gi, li = torch.as_tensor(active[loc]), torch.as_tensor(loc)
            with torch.no_grad():
                for b, p in zip(best, params):
                    b[gi] = p.detach()[li]
            best_loss[active[loc]] = vl[loc]
            best_epoch[active[loc]] = epoch
        bad[active[improved]] = 0
        bad[active[~improved]] += 1
        done = bad[active] >= patience
        if done.all():
            break
        if done.any():                          # drop finished members from the batch
            params, opt = _keep_members(params, opt, torch.as_tensor(np.flatnonzero(~done)), lr)
            active = active[~done]
    if not use_val:
        best = [p.detach().clone() for p in params]
        best_epoch[:] = epoch
    return _Batch(kind, best, best_epoch, best_loss)


def _keep_members(params, opt, keep, lr):
    """New leaf parameters and Adam optimiser holding only the members ``keep`` (their moments too)."""
    import torch
    new = [p.detach()[keep].clone().requires_grad_(True) for p in params]
    new_opt = torch.optim.Adam(new, lr=lr)
    for p_old, p_new in zip(params, new):
        st = opt.state.get(p_old)
        if st:
            new_opt.state[p_new] = {k: (v[keep].clone() if torch.is_tensor(v) and v.dim() > 0 else
                                        (v.clone() if torch.is_tensor(v) else v)) for k, v in st.items()}
    return new, new_opt


def _predict_batch(batch: _Batch, X) -> np.ndarray:
    import torch
    with torch.no_grad():
        return batch.logits(X).argmax(-1).numpy()     # (G, n)


def _val_stats(batch: _Batch, X, y) -> tuple[np.ndarray, np.ndarray]:
    """(accuracy (G,), cross-entropy (G,)) of every member on (X, y)."""
    import torch
    import torch.nn.functional as F
    with torch.no_grad():
        lg = batch.logits(X)
        G, m, C = lg.shape
        ce = F.cross_entropy(lg.reshape(G * m, C), y.expand(G, m).reshape(-1), reduction="none").view(G, m).mean(1)
        acc = (lg.argmax(-1) == y).float().mean(1)
    return acc.numpy().astype(np.float64), ce.numpy().astype(np.float64)


def _torch(X):
    import torch
    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))


#: Parameter constraints the two probe estimators share (checked at ``fit``).
_COMMON_CONSTRAINTS = {
    "kind": [StrOptions({"linear", "mlp"})],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "patience": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"full"}), None],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "standardize": ["boolean"],
    "random_state": RANDOM_STATE,
}


# ---------------------------------------------------------------------------- estimator: one probe
def _train_val(X, y, X_val, y_val, *, split: bool, fraction: float, seed, index: bool = False):
    """Checked probe inputs -> ``(classes, Xt, yt, Xv, yv)`` with labels encoded as class indices.

    Validation rows are the given ones (rows whose label never occurs in training are dropped),
    else a seeded stratified hold-out of ``fraction`` of train when ``split``, else ``None``.
    ``index=True`` appends the rows of the validation split: into ``X_val`` (the kept ones) or into
    ``X`` (the hold-out), ``None`` without validation.
    """
    X, y = check_X_y(X, y, min_classes=2)
    classes = np.unique(y)
    codes = _encode(y, classes)
    if X_val is not None:
        Xv = check_features(X_val, "X_val")
        if Xv.shape[1] != X.shape[1]:
            raise ValidationError(f"X_val has {Xv.shape[1]} features and X has {X.shape[1]}.")
        yv = _encode(check_labels(y_val, Xv.shape[0], "y_val"), classes)
        keep = yv >= 0
        out = (classes, X, codes, Xv[keep], yv[keep])
        return out + (np.flatnonzero(keep),) if index else out
    if split:
        tr, va = stratified_split(codes, fraction, seed)
        out = (classes, X[tr], codes[tr], X[va], codes[va])
        return out + (va,) if index else out
    out = (classes, X, codes, None, None)
    return out + (None,) if index else out


class ProbeClassifier(ClassifierMixin, FtgeoEstimator):
    """One linear or two-layer MLP probe (Zhou & Srikumar 2022, Eq. P1-P3 above).

    Parameters
    ----------
    kind : "linear" | "mlp"
    hidden : hidden width of the MLP (ignored for linear)
    l2 : weight-decay coefficient in Eq. P3
    lr, max_epochs, patience, batch_size : Adam learning rate, epoch cap, early-stopping patience
        (epochs without improvement of the validation loss), minibatch size (None = full batch
        up to 4096 rows, else 256; "full" = always full batch)
    early_stopping : hold out ``validation_fraction`` of the training data (seeded, stratified)
        for early stopping unless ``fit`` is given ``X_val, y_val``
    standardize : z-score every feature with the training mean/std first
    random_state : seed of the initialisation, the minibatch order and the validation split (an int;
        a numpy Generator or None draws one, see ``seed_``)

    Fitted attributes: ``classes_``, ``mean_``, ``scale_``, ``n_epochs_``, ``best_val_loss_``,
    ``seed_`` (the int seed used).
    """

    _parameter_constraints = {
        **_COMMON_CONSTRAINTS,
        "hidden": [Interval(Integral, 1, None, closed="left"), None],
        "l2": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
    }

    def __init__(self, kind: str = "linear", hidden: int = 64, l2: float = 1e-4, lr: float = 5e-3,
                 max_epochs: int = 200, patience: int = 10, batch_size=None, early_stopping: bool = True,
                 validation_fraction: float = 0.1, standardize: bool = True, random_state: int = 0):
        self.kind = kind
        self.hidden = hidden
        self.l2 = l2
        self.lr = lr
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.standardize = standardize
        self.random_state = random_state

    @fit_context
    def fit(self, X, y, X_val=None, y_val=None) -> "ProbeClassifier":
        import torch
        if self.kind == "mlp" and self.hidden is None:
            raise ValidationError("hidden=None: kind='mlp' needs a hidden size (a positive int)")
        seed = check_seed(self.random_state)
        classes, Xt, yt, Xv, yv = _train_val(X, y, X_val, y_val, split=self.early_stopping,
                                             fraction=self.validation_fraction, seed=seed)
        d = Xt.shape[1]
        self.mean_, self.scale_ = standardize_fit(Xt) if self.standardize else (np.zeros(d), np.ones(d))
        batch = _train_batched(
            _torch((Xt - self.mean_) / self.scale_), torch.from_numpy(yt),
            None if Xv is None else _torch((Xv - self.mean_) / self.scale_),
            None if yv is None else torch.from_numpy(yv),
            n_classes=len(classes), kind=self.kind, hidden=None if self.kind == "linear" else int(self.hidden),
            l2s=[float(self.l2)], seeds=[seed], lr=float(self.lr), max_epochs=int(self.max_epochs),
            patience=int(self.patience), batch_size=self.batch_size)
        self._batch = batch
        self.classes_ = classes
        self.seed_ = seed
        self.n_epochs_ = int(batch.n_epochs[0])
        self.best_val_loss_ = float(batch.best_val_loss[0])
        return self

    @property
    def coef_(self) -> np.ndarray:
        """A linear probe's (n_classes, d) weights on the standardised features (what weight-mass neuron
        rankings read: :func:`ftgeo.analysis.neurons.weight_mass_ordering`)."""
        check_fitted(self)
        if self.kind != "linear":
            raise ValidationError(f"coef_ exists for kind='linear' probes only; this probe is {self.kind!r}")
        return self._batch.params[0][0].detach().numpy().T.astype(np.float64)

    def _standardized(self, X):
        check_fitted(self)
        X = check_features(X, "X")
        if X.shape[1] != self.mean_.size:
            raise ValidationError(f"X has {X.shape[1]} features; the probe was fitted on {self.mean_.size}.")
        return _torch((X - self.mean_) / self.scale_)

    def predict(self, X) -> np.ndarray:
        Z = self._standardized(X)
        return self.classes_[_predict_batch(self._batch, Z)[0]]

    def predict_proba(self, X) -> np.ndarray:
        import torch
        Z = self._standardized(X)
        with torch.no_grad():
            return torch.softmax(self._batch.logits(Z)[0], -1).numpy()

    def score(self, X, y) -> float:
        """Accuracy."""
        check_fitted(self)
        y = check_labels(y, np.shape(X)[0])
        return float(np.mean(self.predict(X) == y))


# ---------------------------------------------------------------------------- estimator: grid + seeds
class ProbeGridSearch(ClassifierMixin, FtgeoEstimator):
    """Grid search over hidden size x L2 on a validation split, then the best setting retrained
    with ``n_seeds`` seeds (Zhou & Srikumar 2022, probing set-up).

    Every hidden size trains all L2 values of the grid at once as one batched model (same
    initialisation seed for all settings), with early stopping on the validation loss. The
    setting with the highest validation accuracy wins; ties go to the lower validation loss,
    then to the larger L2, then to the smaller hidden size. The winner is retrained with seeds
    ``random_state + 0 .. n_seeds - 1`` (again one batched model).

    Label-permutation baseline (``n_label_permutations`` = B > 0): B more probes of the selected
    setting, all with the first seed's initialisation and minibatch order (``seeds_[0]``), each trained
    on its own seeded shuffle of the training labels (and of the validation labels, within the split,
    for early stopping), as one batched model. They are what the procedure reaches when label and
    representation are unrelated; under that null the first seed's eval accuracy is exchangeable with
    theirs, so ``(1 + #{null >= observed}) / (B + 1)`` is an exact p-value (Phipson & Smyth 2010).

    Fitted attributes
    -----------------
    classes_, best_params_ ({"kind", "hidden", "l2"}), cv_results_ (DataFrame: kind, hidden, l2,
    val_accuracy, val_loss, epochs, rank), seeds_, seed_val_scores_ (n_seeds,),
    seed_val_correct_ (n_seeds, n_val) per-row correctness on the validation split,
    validation_index_ (rows of the validation split in ``X_val``, or in ``X`` for the hold-out),
    null_val_scores_ (B,) with the baseline, and after ``fit(..., X_eval=, y_eval=)`` or
    :meth:`evaluate`: seed_scores_ (n_seeds,), seed_correct_ (n_seeds, n_eval) per-row correctness,
    mean_score_, std_score_ (sample standard deviation, ddof=1), null_scores_ (B,) eval accuracies of
    the baseline's probes (empty when B = 0).

    ``random_state``: an int seed (a numpy Generator or None draws one; ``seeds_`` records it).
    """

    _parameter_constraints = {
        **_COMMON_CONSTRAINTS,
        "hidden_sizes": ["array-like", None],     # None only for kind='linear'; values checked at fit
        "l2_grid": ["array-like"],
        "n_seeds": [Interval(Integral, 1, None, closed="left")],
        "n_label_permutations": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, kind: str = "mlp", hidden_sizes: Sequence[int] = DEFAULT_HIDDEN_SIZES,
                 l2_grid: Sequence[float] = DEFAULT_L2_GRID, n_seeds: int = 5, validation_fraction: float = 0.2,
                 lr: float = 5e-3, max_epochs: int = 200, patience: int = 10, batch_size=None,
                 standardize: bool = True, random_state: int = 0, n_label_permutations: int = 0):
        self.kind = kind
        self.hidden_sizes = hidden_sizes
        self.l2_grid = l2_grid
        self.n_seeds = n_seeds
        self.validation_fraction = validation_fraction
        self.lr = lr
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.standardize = standardize
        self.random_state = random_state
        self.n_label_permutations = n_label_permutations

    @fit_context
    def fit(self, X, y, X_val=None, y_val=None, X_eval=None, y_eval=None) -> "ProbeGridSearch":
        import torch
        l2s = [float(v) for v in self.l2_grid]
        if not l2s or any(not np.isfinite(v) or v < 0 for v in l2s):
            raise ValidationError(f"l2_grid must be a non-empty list of non-negative numbers; got {self.l2_grid!r}")
        sizes = () if self.hidden_sizes is None else self.hidden_sizes
        hiddens = [None] if self.kind == "linear" else [int(h) for h in sizes]
        if self.kind == "mlp" and (not hiddens or min(hiddens) < 1):
            raise ValidationError(f"hidden_sizes must be positive ints; got {self.hidden_sizes!r}")
        seed = check_seed(self.random_state)
        classes, Xt, yt, Xv, yv, va_idx = _train_val(X, y, X_val, y_val, split=True,
                                                     fraction=self.validation_fraction, seed=seed, index=True)
        if len(yv) == 0:
            raise ValidationError("the validation split is empty; give X_val/y_val or more training examples.")
        self.classes_ = classes
        self.validation_ = ("given" if X_val is not None else
                            f"held out {self.validation_fraction:g} of train (stratified, seed {seed})")
        d = Xt.shape[1]
        self.mean_, self.scale_ = standardize_fit(Xt) if self.standardize else (np.zeros(d), np.ones(d))
        self._Xt = _torch((Xt - self.mean_) / self.scale_)
        self._yt = torch.from_numpy(yt)
        self._Xv = _torch((Xv - self.mean_) / self.scale_)
        self._yv = torch.from_numpy(yv)
        rows = []
        for h in hiddens:
            batch = self._train(h, l2s, [seed] * len(l2s))
            acc, ce = _val_stats(batch, self._Xv, self._yv)
            for g, l2 in enumerate(l2s):
                rows.append({"kind": self.kind, "hidden": 0 if h is None else h, "l2": l2,
                             "val_accuracy": acc[g], "val_loss": ce[g], "epochs": int(batch.n_epochs[g])})
        cv = pd.DataFrame(rows)
        order = np.lexsort((cv["hidden"].to_numpy(), -cv["l2"].to_numpy(), cv["val_loss"].to_numpy(),
                            -cv["val_accuracy"].to_numpy()))
        rank = np.empty(len(cv), dtype=np.int64)
        rank[order] = np.arange(1, len(cv) + 1)
        cv["rank"] = rank
        self.cv_results_ = cv
        top = cv.iloc[order[0]]
        self.best_params_ = {"kind": self.kind, "hidden": int(top["hidden"]) if self.kind == "mlp" else None,
                             "l2": float(top["l2"])}
        self.seeds_ = [seed + i for i in range(int(self.n_seeds))]
        self._seed_batch = self._train(self.best_params_["hidden"], [self.best_params_["l2"]] * len(self.seeds_),
                                       self.seeds_)
        self.seed_val_scores_ = _val_stats(self._seed_batch, self._Xv, self._yv)[0]
        self.seed_val_correct_ = _predict_batch(self._seed_batch, self._Xv) == yv[None, :]
        self.validation_index_ = va_idx
        self.seed_epochs_ = self._seed_batch.n_epochs.copy()
        self._null_batch = self._label_null(seed, yt, yv)
        self.null_val_scores_ = (np.zeros(0) if self._null_batch is None else
                                 (_predict_batch(self._null_batch, self._Xv) == yv[None, :]).mean(axis=1))
        del self._Xt, self._yt
        if X_eval is not None:
            self.evaluate(X_eval, y_eval)
        return self

    def _train(self, hidden, l2s, seeds) -> _Batch:
        return _train_batched(self._Xt, self._yt, self._Xv, self._yv, n_classes=len(self.classes_), kind=self.kind,
                              hidden=hidden, l2s=l2s, seeds=seeds, lr=float(self.lr),
                              max_epochs=int(self.max_epochs), patience=int(self.patience),
                              batch_size=self.batch_size)

    def _label_null(self, seed: int, yt: np.ndarray, yv: np.ndarray):
        """The label-permutation baseline (see the class doc): B probes of the selected setting, one per
        seeded shuffle of the training (and, within it, the validation) labels, as one batched model."""
        import torch
        B = int(self.n_label_permutations)
        if B == 0:
            return None
        rng = np.random.default_rng(seed)
        perm_t = np.stack([rng.permutation(yt) for _ in range(B)])
        perm_v = np.stack([rng.permutation(yv) for _ in range(B)])
        return _train_batched(self._Xt, torch.from_numpy(perm_t), self._Xv, torch.from_numpy(perm_v),
                              n_classes=len(self.classes_), kind=self.kind, hidden=self.best_params_["hidden"],
                              l2s=[self.best_params_["l2"]] * B, seeds=[self.seeds_[0]] * B, lr=float(self.lr),
                              max_epochs=int(self.max_epochs), patience=int(self.patience),
                              batch_size=self.batch_size)

    def _correct(self, batch, X, y) -> np.ndarray:
        X = check_features(X, "X_eval")
        if X.shape[1] != self.mean_.size:
            raise ValidationError(f"X_eval has {X.shape[1]} features; the probes were fitted on {self.mean_.size}.")
        y = _encode(check_labels(y, X.shape[0], "y_eval"), self.classes_)
        return _predict_batch(batch, _torch((X - self.mean_) / self.scale_)) == y[None, :]

    def seed_correct(self, X, y) -> np.ndarray:
        """(n_seeds, n) per-row correctness of each seed's probe on (X, y); unseen labels count as wrong."""
        check_fitted(self)
        return self._correct(self._seed_batch, X, y)

    def seed_scores(self, X, y) -> np.ndarray:
        """Accuracy of each seed's probe on (X, y); labels unseen in training count as wrong."""
        return self.seed_correct(X, y).mean(axis=1).astype(np.float64)

    def null_scores(self, X, y) -> np.ndarray:
        """Accuracy on (X, y) of each label-permutation probe (empty without ``n_label_permutations``)."""
        check_fitted(self)
        if self._null_batch is None:
            return np.zeros(0)
        return self._correct(self._null_batch, X, y).mean(axis=1).astype(np.float64)

    def evaluate(self, X, y) -> "ProbeGridSearch":
        """Set ``seed_scores_``, ``seed_correct_``, ``mean_score_``, ``std_score_`` (ddof=1; 0 for one seed)
        and ``null_scores_`` (the label-permutation baseline's accuracies) on (X, y)."""
        c = self.seed_correct(X, y)
        s = c.mean(axis=1).astype(np.float64)
        self.seed_correct_ = c
        self.seed_scores_ = s
        self.mean_score_ = float(s.mean())
        self.std_score_ = float(s.std(ddof=1)) if s.size > 1 else 0.0
        self.null_scores_ = self.null_scores(X, y)
        return self

    def predict(self, X, seed_index: int = 0) -> np.ndarray:
        """Labels predicted by the probe of seed ``seeds_[seed_index]``."""
        check_fitted(self)
        if not -len(self.seeds_) <= seed_index < len(self.seeds_):
            raise ValidationError(f"seed_index={seed_index} is out of range for {len(self.seeds_)} seed(s)")
        X = check_features(X, "X")
        if X.shape[1] != self.mean_.size:
            raise ValidationError(f"X has {X.shape[1]} features; the probes were fitted on {self.mean_.size}.")
        return self.classes_[_predict_batch(self._seed_batch, _torch((X - self.mean_) / self.scale_))[seed_index]]

    def score(self, X, y) -> float:
        """Mean accuracy over the seeds."""
        return float(self.seed_scores(X, y).mean())

