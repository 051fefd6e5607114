"""Runners of the layer-geometry analyses (GPTology): the Python API behind
``ftgeo analyze cka|rogue|threshold|ablation|projection|isotropy``.

Each ``run_<name>(...)`` reads :class:`~ftgeo.reps.Representations`, calls the pure functions
of ``ftgeo.analysis``, and, when ``run`` is given, saves the result to ``run.result_dir(name)``
and PNG+SVG figures to ``run.figures`` (recorded in ``result.meta["figures"]``).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ftgeo.errors import ValidationError
from ftgeo.results.geometry import (
    AblationResult, CKAResult, ProjectionResult, RogueResult, ThresholdResult,
)
from ftgeo.run import RunDir
from ftgeo.runners._common import check_aligned as _check_aligned, finish_result as _finish, save_display as _save
from ftgeo.runners._common import layer_indices as _layers

__all__ = ["run_cka", "run_rogue", "run_threshold", "run_ablation", "run_projection", "run_isotropy",
           "resolve_head", "set_names"]


# ----------------------------------------------------------------------------- helpers
def set_names(reps_list: Sequence, names: Sequence[str] | None = None) -> list[str]:
    """Readable, unique names: ``model[@checkpoint]`` from each manifest (then task/split, then #i)."""
    if names is not None:
        names = [str(n) for n in names]
        if len(names) != len(reps_list) or len(set(names)) != len(names):
            raise ValidationError(f"names must be {len(reps_list)} distinct strings; got {names}")
        return names
    out = []
    for i, r in enumerate(reps_list):
        m = getattr(r, "manifest", {}) or {}
        base = str(m.get("model") or f"set{i}")
        if m.get("checkpoint"):
            base += f"@{m['checkpoint']}"
        out.append(base)
    if len(set(out)) != len(out):
        out = [n + (f":{(r.manifest or {}).get('task', '')}/{(r.manifest or {}).get('split', '')}"
                    if (getattr(r, "manifest", None) or {}).get("task") else "") for n, r in zip(out, reps_list)]
    if len(set(out)) != len(out):
        out = [f"{n}#{i}" for i, n in enumerate(out)]
    return out



def _labelled(reps, layer: int):
    y = np.asarray(reps.labels)
    keep = y >= 0
    if not keep.any():
        raise ValidationError("these representations have no labels (all -1); extract a labelled split")
    X = reps.layer(layer, dtype=np.float64)
    return X[keep], y[keep]




# ----------------------------------------------------------------------------- CKA
def run_cka(reps_a, reps_b=None, *, run: RunDir | str | None = None, layers=None, kernel: str = "linear",
            debiased: bool = False, standardize: bool = False, threshold: float = 1.0,
            batch_size: int | None = None, device: str | None = "auto", pairs: str = "bowtie",
            names: Sequence[str] | None = None, name: str = "cka", figures: bool = True,
            progress: bool = True) -> CKAResult:
    """Layer x layer CKA within ``reps_a``, or between ``reps_a`` and ``reps_b``.

    With two sets, ``pairs='bowtie'`` computes a x a, b x b and a x b from per-layer statistics
    prepared once (the pretrained vs fine-tuned "bow-tie" figure); ``pairs='cross'`` only a x b.
    See :func:`ftgeo.analysis.similarity.layer_cka_matrices` for the numerics.
    """
    from ftgeo.analysis.similarity import layer_cka_matrices

    sets = [reps_a] + ([reps_b] if reps_b is not None else [])
    nm = set_names(sets, names)
    if reps_b is not None:
        _check_aligned(reps_a, reps_b, "the first and second representation sets",
                       "CKA compares the same examples in the same order")
    if pairs not in ("bowtie", "cross"):
        raise ValidationError(f"pairs={pairs!r} must be 'bowtie' or 'cross'")
    lay = {n: _layers(r, layers) for n, r in zip(nm, sets)}
    # dtype=None: the layer in its stored dtype (a store gives its memmap; minibatch CKA then reads
    # it batch by batch, the exact route converts one layer at a time to float64)
    loaders = {n: [(lambda r=r, i=i: r.layer(i, dtype=None)) for i in lay[n]] for n, r in zip(nm, sets)}
    if reps_b is None:
        todo = [(nm[0], nm[0])]
    elif pairs == "cross":
        todo = [(nm[0], nm[1])]
    else:
        todo = [(nm[0], nm[0]), (nm[1], nm[1]), (nm[0], nm[1])]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mats = layer_cka_matrices(loaders, todo, kernel=kernel, debiased=debiased, standardize=standardize,
                                  threshold=threshold, batch_size=batch_size, device=device, progress=progress)
    notes = [str(w.message) for w in caught]
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    meta = {"kernel": kernel, "debiased": debiased, "standardize": standardize, "batch_size": batch_size,
            "estimator": ("minibatch HSIC_1 (Nguyen et al. 2021)" if batch_size else
                          "HSIC_1 (Song et al. 2012)" if debiased else "biased HSIC"),
            "threshold": threshold if kernel == "rbf" else None, "n": int(np.asarray(reps_a.ids).size),
            "notes": notes + (["debiased/minibatch CKA is not clipped: values slightly below 0 mean no similarity"]
                              if (debiased or batch_size) else [])}
    result = CKAResult.from_matrices(mats, lay, meta)

    def draw(run, name):
        from ftgeo.plot.geometry import CKAHeatmapDisplay
        return [_save(CKAHeatmapDisplay.from_result(result).plot(), run, f"{name}_heatmaps")]

    return _finish(result, run, name, figures, draw)


# ----------------------------------------------------------------------------- rogue dimensions
def run_rogue(*reps, run: RunDir | str | None = None, layers=None, k: int = 10, names: Sequence[str] | None = None,
              name: str = "rogue", figures: bool = True) -> RogueResult:
    """Per-dimension mean/variance/cosine contribution per layer of each set, top-k by variance,
    the principal rogue dimension, and top-k overlaps between every two sets at each shared layer
    (Timkey & van Schijndel 2021)."""
    from ftgeo.analysis.rogue import RogueDimensions, rogue_overlap

    if not reps:
        raise ValidationError("run_rogue needs at least one representation set")
    nm = set_names(reps, names)
    dims, tops, summ, fitted = [], [], [], {}
    for n, r in zip(nm, reps):
        for l in _layers(r, layers):
            rd = RogueDimensions(k=k).fit(r.layer(l, dtype=np.float64))
            fitted[(n, l)] = rd
            d = rd.var_.size
            dims.append(pd.DataFrame({"set": n, "layer": l, "dim": np.arange(d), "mean": rd.mean_, "var": rd.var_,
                                      "var_share": rd.var_share_, "cos_contribution": rd.cos_contribution_,
                                      "cos_share": rd.cos_share_}))
            tops.append(pd.DataFrame({"set": n, "layer": l, "rank": np.arange(1, rd.top_.size + 1), "dim": rd.top_,
                                      "var": rd.var_[rd.top_], "var_share": rd.var_share_[rd.top_],
                                      "cos_share": rd.cos_share_[rd.top_]}))
            summ.append({"set": n, "layer": l, "principal": rd.principal_,
                         "principal_var_share": float(rd.var_share_[rd.principal_]),
                         "principal_cos_share": float(rd.cos_share_[rd.principal_]),
                         "topk_var_share": float(rd.var_share_[rd.top_].sum()),
                         "expected_cosine": rd.expected_cosine_})
    ov = []
    for i, a in enumerate(nm):
        for b in nm[i + 1:]:
            for (s, l), rd in fitted.items():
                if s == a and (b, l) in fitted:
                    other = fitted[(b, l)]
                    if other.var_.size != rd.var_.size:
                        continue
                    shared = np.intersect1d(rd.top_, other.top_)
                    ov.append({"set_a": a, "set_b": b, "layer": l, "k": int(rd.top_.size),
                               "overlap": rogue_overlap(rd.top_, other.top_), "shared": " ".join(map(str, shared))})
    result = RogueResult(tables={"dims": pd.concat(dims, ignore_index=True), "top": pd.concat(tops, ignore_index=True),
                                 "layers": pd.DataFrame(summ),
                                 "overlap": pd.DataFrame(ov, columns=["set_a", "set_b", "layer", "k", "overlap", "shared"])},
                         meta={"k": k, "sets": nm, "rank_by": "variance"})

    def draw(run, name):
        from ftgeo.plot.geometry import RogueSpikeDisplay
        return [_save(RogueSpikeDisplay.from_result(result, set_name=n).plot(), run, f"{name}_spikes_{i}")
                for i, n in enumerate(nm)]

    return _finish(result, run, name, figures, draw)


# ----------------------------------------------------------------------------- heads
def _model_folder(manifest: dict) -> Path:
    for key in ("model_source", "checkpoint_path", "model_path", "model"):
        v = (manifest or {}).get(key)
        if isinstance(v, str) and Path(v).is_dir():
            return Path(v)
    raise ValidationError("cannot find the fine-tuned model's folder in the representations' manifest "
                          f"(model_source={(manifest or {}).get('model_source')!r}); pass it with --model DIR "
                          "(or head=callable in Python)")


def resolve_head(reps=None, model: str | Path | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """The classification head ``head(X (n, d)) -> logits (n, C)`` of the model that produced ``reps``
    (or of the explicit ``model`` folder), via ``ftgeo.finetune.classification_head``."""
    folder = Path(model) if model is not None else _model_folder(getattr(reps, "manifest", {}))
    try:
        from ftgeo.finetune import classification_head
    except ImportError:
        raise ValidationError("ftgeo.finetune.classification_head is not available in this version; "
                              "pass head=callable (logits from an (n, d) array)") from None
    return classification_head(folder)


# ----------------------------------------------------------------------------- threshold
def run_threshold(train_reps, eval_reps, *, run: RunDir | str | None = None, layers=None,
                  methods: Sequence[str] = ("svm", "best"), C: float = 1.0, full_accuracy: float | None = None,
                  head: Callable | None = None, model: str | Path | None = None, name: str = "threshold",
                  figures: bool = True) -> ThresholdResult:
    """1-D threshold classifiers on the principal rogue dimension (highest train variance) of each
    layer (default: the last), fitted on train, scored on eval (Rudman et al. 2023), next to the
    full model's eval accuracy: ``full_accuracy`` if given, else computed through ``head`` (or the
    head resolved from ``model`` / the manifest) on the last layer, else NaN (noted in meta)."""
    from ftgeo.analysis.ablation import head_accuracy
    from ftgeo.analysis.threshold import PrincipalDimensionClassifier

    layers = [-1] if layers is None else layers
    lay = _layers(train_reps, layers)
    notes = []
    if full_accuracy is None:
        try:
            if head is None:
                head = resolve_head(eval_reps, model)
            Xl, yl = _labelled(eval_reps, -1)
            full_accuracy = head_accuracy(head, Xl, yl)
        except ValidationError as exc:
            notes.append(f"full-model accuracy not computed: {exc}")
    rows, arrays = [], {}
    for l in lay:
        Xtr, ytr = _labelled(train_reps, l)
        Xev, yev = _labelled(eval_reps, l)
        for m in methods:
            clf = PrincipalDimensionClassifier(method=m, C=C).fit(Xtr, ytr)
            rows.append({"layer": l, "method": m, "dimension": clf.dimension_, "threshold": clf.threshold_,
                         "polarity": clf.polarity_, "variance_share": clf.variance_share_,
                         "train_accuracy": clf.train_accuracy_, "eval_accuracy": clf.score(Xev, yev),
                         "full_accuracy": np.nan if full_accuracy is None else float(full_accuracy)})
            arrays[f"x_eval_{l}"] = Xev[:, clf.dimension_]
        arrays["y_eval"] = yev
    result = ThresholdResult(tables={"threshold": pd.DataFrame(rows)}, arrays=arrays,
                             meta={"methods": list(methods), "C": C, "layers": lay, "notes": notes,
                                   "full_accuracy": full_accuracy})

    def draw(run, name):
        from ftgeo.plot.geometry import ThresholdDisplay
        return [_save(ThresholdDisplay.from_result(result).plot(), run, f"{name}_accuracy")]

    return _finish(result, run, name, figures, draw)


# ----------------------------------------------------------------------------- ablation
def run_ablation(train_reps, eval_reps, *, head: Callable | None = None, model: str | Path | None = None,
                 run: RunDir | str | None = None, layer: int = -1, ks: Sequence[int] | None = None,
                 modes: Sequence[str] = ("highest", "lowest", "random"), n_random: int = 5, random_state=0,
                 name: str = "ablation", figures: bool = True) -> AblationResult:
    """Zero the k highest/lowest-variance dimensions (variance from ``train_reps``) of ``layer``
    (default last) of ``eval_reps`` and score through the fine-tuned model's classification head;
    seeded random-k control with ``n_random`` draws. ``head`` defaults to the head of ``model`` or of
    the model recorded in the eval manifest (``model_source``)."""
    from ftgeo.analysis.ablation import ablation_curve, head_accuracy

    if head is None:
        head = resolve_head(eval_reps, model)
    l_tr = _layers(train_reps, [layer])[0]
    l_ev = _layers(eval_reps, [layer])[0]
    var = train_reps.layer(l_tr, dtype=np.float64).var(axis=0)
    Xev, yev = _labelled(eval_reps, l_ev)
    curve = ablation_curve(Xev, yev, head, var, ks, modes=modes, n_random=n_random, random_state=random_state)
    result = AblationResult(tables={"curve": curve},
                            meta={"layer": l_ev, "full_accuracy": head_accuracy(head, Xev, yev),
                                  "variance_from": "train", "n_random": n_random,
                                  "random_state": random_state if isinstance(random_state, int) else None,
                                  "modes": list(modes)})

    def draw(run, name):
        from ftgeo.plot.geometry import AblationCurveDisplay
        return [_save(AblationCurveDisplay.from_result(result).plot(), run, f"{name}_curve")]

    return _finish(result, run, name, figures, draw)


# ----------------------------------------------------------------------------- projections
def run_projection(reps, *, run: RunDir | str | None = None, layers=None, method: str | Sequence[str] = "tsne",
                   max_samples: int | None = 2000, random_state: int = 0, perplexity: float = 30.0,
                   name: str = "projection", figures: bool = True, progress: bool = True) -> ProjectionResult:
    """2-D t-SNE / PCA / UMAP coordinates of each layer for the same (stratified, seeded)
    subsample of at most ``max_samples`` examples, as a tidy table coloured by label."""
    from ftgeo.analysis.projection import project, subsample_indices
    from ftgeo.progress import progress as _progress

    methods = [method] if isinstance(method, str) else list(method)
    lay = _layers(reps, layers)
    labels = np.asarray(reps.labels)
    idx = subsample_indices(labels.size, max_samples, random_state, labels=labels)
    names = list(reps.label_names)
    ids = np.asarray(reps.ids)
    frames = []
    for m in methods:
        for l in _progress(lay, enabled=progress, desc=f"{m} per layer", leave=False):
            P = project(reps.layer(l, dtype=np.float64)[idx], m, random_state=random_state, perplexity=perplexity)
            lab = labels[idx]
            frames.append(pd.DataFrame({"layer": l, "method": m, "index": idx, "id": ids[idx], "label": lab,
                                        "label_name": [names[v] if 0 <= v < len(names) else "unlabelled" for v in lab],
                                        "x": P[:, 0], "y": P[:, 1]}))
    result = ProjectionResult(tables={"coords": pd.concat(frames, ignore_index=True)},
                              meta={"methods": methods, "layers": lay, "max_samples": max_samples,
                                    "random_state": random_state, "perplexity": perplexity})

    def draw(run, name):
        from ftgeo.plot.geometry import ProjectionGridDisplay
        return [_save(ProjectionGridDisplay.from_result(result, method=m).plot(), run, f"{name}_{m}") for m in methods]

    return _finish(result, run, name, figures, draw)


from ftgeo.analyses.isotropy import run_isotropy  # noqa: E402 - moved; this module goes next
