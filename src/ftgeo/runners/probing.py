"""Runners of the probing analyses (Zhou & Srikumar 2022, "A Closer Look at How Fine-tuning
Changes BERT"): the Python API behind ``ftgeo analyze probe|directprobe|dynamics|cross-task``.

Each ``run_<name>(...)`` reads :class:`~ftgeo.reps.Representations`, calls the pure functions of
``ftgeo.analysis``, and, when ``run`` is given, saves the result to ``run.result_dir(name)`` and
PNG+SVG figures to ``run.figures`` (file stems recorded in ``result.meta["figures"]``).
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ftgeo.errors import DataNotFoundError, ValidationError
from ftgeo.results.probing import (
    CentroidResult, CrossTaskResult, DirectProbeLayersResult, DynamicsResult, ProbeResult,
)
from ftgeo.run import RunDir
from ftgeo.runners._common import as_list as _as_list, check_aligned as _check_aligned, finish_result as _finish
from ftgeo.runners._common import save_display as _save
from ftgeo.runners._common import layer_indices as _layers

__all__ = ["run_probe", "run_directprobe", "run_dynamics", "run_centroids", "run_cross_task",
           "discover_checkpoint_reps"]


# ----------------------------------------------------------------------------- helpers

def _names(reps_list, names):
    from ftgeo.analyses._inputs import set_names
    return set_names(reps_list, names)



def _labelled(reps, layer: int, what: str = "the"):
    """(X float64 of labelled rows, label names (str), row indices)."""
    y = np.asarray(reps.labels)
    keep = np.flatnonzero(y >= 0)
    if keep.size == 0:
        raise ValidationError(f"{what} representations have no labels (all -1); extract a labelled split")
    X = reps.layer(layer, dtype=np.float64)[keep]
    names = np.asarray(list(reps.label_names) or [str(i) for i in range(int(y.max()) + 1)], dtype=object)
    return X, names[y[keep]].astype(str), keep




# ----------------------------------------------------------------------------- probes
def run_probe(train_reps, eval_reps, *, val_reps=None, run: RunDir | str | None = None, layers=None,
              kinds: Sequence[str] = ("linear", "mlp"), hidden_sizes: Sequence[int] = (32, 64, 128, 256),
              l2_grid: Sequence[float] | None = None, n_seeds: int = 5, validation_fraction: float = 0.2,
              lr: float = 5e-3, max_epochs: int = 200, patience: int = 10, batch_size=None, random_state: int = 0,
              names: Sequence[str] | None = None, name: str = "probe", figures: bool = True,
              max_train_points: int | None = None, progress: bool = True) -> ProbeResult:
    """Linear and MLP probes on every layer (Zhou & Srikumar 2022): grid search on a validation
    split, the best setting retrained with ``n_seeds`` seeds, mean ± std on the eval split.
    ``max_train_points``: seeded stratified subsample of each training set (None = all rows).

    ``train_reps`` / ``eval_reps`` (/ ``val_reps``) may each be one set or a list of sets (e.g.
    [pretrained, fine-tuned]) paired by position; the result stacks them with a ``set`` column.
    """
    from ftgeo.analysis.probes import DEFAULT_L2_GRID, probe_layers

    tr, ev, va = _as_list(train_reps), _as_list(eval_reps), _as_list(val_reps)
    if not tr or len(tr) != len(ev) or (va and len(va) != len(tr)):
        raise ValidationError(f"give as many eval sets as train sets (and validation sets, if any); got "
                              f"{len(tr)} train, {len(ev)} eval, {len(va)} validation")
    nm = _names(tr, names)
    parts = []
    for i, (t, e) in enumerate(zip(tr, ev)):
        parts.append(probe_layers(t, e, reps_val=va[i] if va else None, layers=_layers(t, layers), kinds=kinds,
                                  hidden_sizes=hidden_sizes, l2_grid=DEFAULT_L2_GRID if l2_grid is None else l2_grid,
                                  n_seeds=n_seeds, validation_fraction=validation_fraction, lr=lr,
                                  max_epochs=max_epochs, patience=patience, batch_size=batch_size,
                                  random_state=random_state, set_name=nm[i], max_train_points=max_train_points,
                                  progress=progress))
    result = ProbeResult.combine(parts)
    result.meta["manifests"] = {n: _manifest(r) for n, r in zip(nm, tr)}
    result.meta["max_train_points"] = max_train_points

    def draw(run, name):
        from ftgeo.plot.probing import ProbeAccuracyDisplay
        return [_save(ProbeAccuracyDisplay.from_result(result).plot(), run, f"{name}_accuracy")]

    return _finish(result, run, name, figures, draw)


def _manifest(reps) -> dict:
    m = dict(getattr(reps, "manifest", {}) or {})
    keep = ("model", "checkpoint", "task", "split", "pooling", "max_length")
    return {k: m[k] for k in keep if k in m and isinstance(m[k], (str, int, float, bool, type(None)))}


# ----------------------------------------------------------------------------- DirectProbe per layer
def run_directprobe(train_reps, eval_reps=None, *, run: RunDir | str | None = None, layers=None,
                    max_points: int | None = 1000, max_eval_points: int | None = 500, predict: bool = True,
                    random_state: int = 0, names: Sequence[str] | None = None, name: str = "directprobe",
                    figures: bool = True, progress: bool = True) -> DirectProbeLayersResult:
    """DirectProbe (Zhou & Srikumar 2021) on every layer of each set: cluster count vs label count,
    label-pair and per-label minimum distances, accuracy of nearest-hull prediction on the eval set,
    the train/eval spatial similarity (train/test divergence) and the spatial similarity between
    sets at the same layer (e.g. pretrained vs fine-tuned).

    ``max_points`` / ``max_eval_points``: seeded stratified subsamples (DirectProbe's cost grows
    fast with n); the same rows are used at every layer and, for aligned sets, in every set.
    """
    from ftgeo.analysis.dynamics import fit_directprobe, safe_spatial_similarity
    from ftgeo.analysis.probes import stratified_subsample
    from ftgeo.progress import progress as _progress

    tr, ev = _as_list(train_reps), _as_list(eval_reps)
    if ev and len(ev) != len(tr):
        raise ValidationError(f"give one eval set per train set or none; got {len(tr)} train and {len(ev)} eval")
    nm = _names(tr, names)
    lay = _layers(tr[0], layers)
    rows, mins, pairs, sims = [], [], [], []
    vectors: dict[tuple[str, int], object] = {}
    bar = _progress(total=len(tr) * len(lay), enabled=progress, desc="directprobe", unit="layer")
    for si, (s, t) in enumerate(zip(nm, tr)):
        e = ev[si] if ev else None
        sub = sub_e = None
        for layer in lay:
            X, y, _ = _labelled(t, layer, "the train")
            if sub is None:
                sub = stratified_subsample(y, max_points, random_state)
            X, y = X[sub], y[sub]
            t0 = time.perf_counter()
            dp = fit_directprobe(X, y)
            row = {"set": s, "layer": layer, "n_clusters": int(dp.n_clusters_), "n_labels": int(dp.n_labels_),
                   "n_points": int(y.size), "eval_accuracy": np.nan, "n_eval": 0,
                   "train_eval_similarity": np.nan, "n_common_labels": 0}
            if e is not None:
                Xe, ye, _ = _labelled(e, layer, "the eval")
                if sub_e is None:
                    sub_e = stratified_subsample(ye, max_eval_points, random_state)
                Xe, ye = Xe[sub_e], ye[sub_e]
                if predict:
                    row["eval_accuracy"] = float(np.mean(dp.predict(Xe) == ye))
                    row["n_eval"] = int(ye.size)
                dpe = fit_directprobe(Xe, ye)
                row["n_common_labels"] = int(np.intersect1d(dpe.classes_, dp.classes_).size)
                row["train_eval_similarity"] = safe_spatial_similarity(dp, dpe, labels="common")
            row["time_s"] = time.perf_counter() - t0
            rows.append(row)
            for lab, md in zip(dp.classes_, dp.label_min_distance_):
                mins.append({"set": s, "layer": layer, "label": str(lab), "min_distance": float(md)})
            for (a, b), d in zip(dp.distance_vector_pairs_, dp.distance_vector_):
                pairs.append({"set": s, "layer": layer, "label_a": str(a), "label_b": str(b), "distance": float(d)})
            vectors[(s, layer)] = dp
            bar.update(1)
    bar.close()
    for i in range(len(nm)):
        for j in range(i + 1, len(nm)):
            for layer in lay:
                a, b = vectors[(nm[i], layer)], vectors[(nm[j], layer)]
                sims.append({"set_a": nm[i], "set_b": nm[j], "layer": layer,
                             "similarity": safe_spatial_similarity(a, b, labels="common")})
    result = DirectProbeLayersResult(
        tables={"layers": pd.DataFrame(rows), "label_min_distance": pd.DataFrame(mins),
                "label_distances": pd.DataFrame(pairs),
                "set_similarity": pd.DataFrame(sims, columns=["set_a", "set_b", "layer", "similarity"])},
        meta={"sets": nm, "layers": lay, "max_points": max_points, "max_eval_points": max_eval_points,
              "random_state": random_state, "pairs": "label_min",
              "manifests": {n: _manifest(r) for n, r in zip(nm, tr)},
              "notes": ["spatial similarity is NaN with fewer than 3 labels (a correlation needs >= 2 label pairs)",
                        "train/eval and between-set similarities use the labels both sides have "
                        "(n_common_labels): rare labels can be missing from an eval subsample"]})

    def draw(run, name):
        from ftgeo.plot.probing import ClusterCountDisplay
        return [_save(ClusterCountDisplay.from_result(result).plot(), run, f"{name}_clusters")]

    return _finish(result, run, name, figures, draw)


# ----------------------------------------------------------------------------- dynamics
def _step_of(text) -> int | None:
    m = re.search(r"(\d+)(?!.*\d)", str(text or ""))
    return int(m.group(1)) if m else None


def discover_checkpoint_reps(run_folder: str | Path, model: str | None = None, *, pretrained: str | None = None,
                             task: str | None = None, split: str | None = None, pooling: str | None = None,
                             model_folder: str | Path | None = None, with_steps: bool = False) -> list:
    """Store folders under ``run_folder/reps`` for ``model``'s checkpoints in training order, the
    pretrained set first.

    A store belongs to the run if its manifest's ``model`` is ``model`` (and ``task``/``split``/
    ``pooling`` match when given). The pretrained set is the store of model ``pretrained`` (same
    task/split/pooling) or, without it, ``model``'s store with no checkpoint. Checkpoints are
    ordered by the last number in their name (``checkpoint-500``), then by name.

    With ``model_folder`` (the folder ``ftgeo finetune`` wrote), the checkpoints are those of
    :func:`ftgeo.finetune.list_checkpoints`: a store belongs to checkpoint c when its manifest's
    ``model_id`` is c's path, and the order and steps come from the fine-tuning run.
    ``with_steps=True`` returns (path, step) pairs (step 0 for the pretrained set).
    """
    root = Path(run_folder)
    base = root / "reps" if (root / "reps").is_dir() else root
    if not base.is_dir():
        raise DataNotFoundError(f"{base} is not a folder of representation stores")
    found = []
    for p in sorted(base.iterdir()):
        mf = p / "manifest.json"
        if not mf.is_file():
            continue
        m = json.loads(mf.read_text())
        if task and m.get("task") != task or split and m.get("split") != split or \
                pooling and m.get("pooling") != pooling:
            continue
        found.append((p, m))
    if model is None and model_folder is None:
        raise ValidationError("say which run to follow: a model name (manifest 'model') or its model folder")
    pre = [p for p, m in found if (m.get("model") == pretrained if pretrained else
                                   (m.get("model") == model and not m.get("checkpoint")))]
    if model_folder is not None:
        from ftgeo.finetune import list_checkpoints
        steps_of = {str(Path(c.path).resolve()): c.step for c in list_checkpoints(model_folder)}
        cks = []
        for p, m in found:
            mid = m.get("model_id")
            key = str(Path(mid).expanduser().resolve()) if mid else None
            if key in steps_of:
                cks.append((p, {**m, "_step": steps_of[key]}))
        if not cks:
            raise DataNotFoundError(f"no store under {base} was extracted from a checkpoint of {model_folder} "
                                    "(manifest model_id = checkpoint folder); extract the checkpoints first")
        if not pretrained and model is None:
            raise ValidationError("with model_folder, name the pretrained set's model (pretrained=...)")
        cks.sort(key=lambda pm: (pm[1]["_step"], str(pm[0])))
        if len(pre) != 1:
            raise DataNotFoundError(f"expected exactly one pretrained store under {base}, found {len(pre)}; "
                                    "pass --pretrained NAME and --task/--split/--pooling")
        out = [(pre[0], 0)] + [(p, int(m["_step"])) for p, m in cks]
        return out if with_steps else [p for p, _ in out]
    cks = [(p, m) for p, m in found if m.get("model") == model and m.get("checkpoint")]
    if not cks:
        have = sorted({str(m.get("model")) for _, m in found})
        raise DataNotFoundError(f"no checkpoint stores of model {model!r} under {base} (models there: {have}); "
                                "extract each checkpoint with `ftgeo extract --checkpoint ...` first")
    if len(pre) != 1:
        raise DataNotFoundError(f"expected exactly one pretrained store ({'model ' + repr(pretrained) if pretrained else 'no checkpoint'}) "
                                f"under {base}, found {len(pre)}; pass --pretrained NAME, --task/--split/--pooling, "
                                "or list the stores with --reps in order")
    cks.sort(key=lambda pm: (_step_of(pm[1].get("checkpoint")) is None, _step_of(pm[1].get("checkpoint")) or 0,
                             str(pm[1].get("checkpoint"))))
    out = [(pre[0], 0)] + [(p, _step_of(m.get("checkpoint"))) for p, m in cks]
    return out if with_steps else [p for p, _ in out]


def run_dynamics(reps_list: Sequence, *, steps: Sequence[int | None] | None = None, run: RunDir | str | None = None,
                 layers=None, max_points: int | None = 1000, random_state: int = 0, center_movement: bool = False,
                 names: Sequence[str] | None = None, name: str = "dynamics", plot_layers=None,
                 figures: bool = True, progress: bool = True) -> DynamicsResult:
    """DirectProbe and centroid measures over a fine-tuning run (Zhou & Srikumar 2022, Sec. 5).

    ``reps_list``: representation sets of the same examples in checkpoint order, the first from
    the pretrained model. ``steps``: training step of each (default: the last number of each
    manifest's ``checkpoint``, 0 for the pretrained set). The same seeded stratified subsample
    of ``max_points`` rows is used at every checkpoint and layer.
    """
    from ftgeo.analysis.dynamics import layer_dynamics
    from ftgeo.analysis.probes import stratified_subsample
    from ftgeo.progress import progress as _progress

    reps_list = list(reps_list)
    if len(reps_list) < 2:
        raise ValidationError(f"dynamics needs the pretrained set and at least one checkpoint; got {len(reps_list)} set(s)")
    for i, r in enumerate(reps_list[1:], 1):
        _check_aligned(reps_list[0], r, f"sets 0 and {i}", "dynamics follows the same examples over training")
    nm = _names(reps_list, names)
    if steps is None:
        steps = [0] + [_step_of((r.manifest or {}).get("checkpoint")) for r in reps_list[1:]]
    steps = list(steps)
    if len(steps) != len(reps_list):
        raise ValidationError(f"steps has {len(steps)} entries for {len(reps_list)} sets")
    lay = _layers(reps_list[0], layers)
    ckpt = pd.DataFrame({"checkpoint": np.arange(len(reps_list)), "name": nm,
                         "step": pd.array(steps, dtype="Int64")})
    md, cl, sim, paths, ppca, mov, mpca = [], [], [], [], [], [], []
    sub = None
    for layer in _progress(lay, enabled=progress, desc="dynamics", unit="layer"):
        Xs = []
        for r in reps_list:
            X, y, _ = _labelled(r, layer, "the")
            if sub is None:
                sub = stratified_subsample(y, max_points, random_state)
            Xs.append(X[sub])
        y = y[sub]
        d = layer_dynamics(Xs, y, center_movement=center_movement)
        for t in range(len(Xs)):
            base = {"checkpoint": t, "step": steps[t], "layer": layer}
            for lab, v in zip(d["classes"], d["min_distance"][t]):
                md.append({**base, "label": str(lab), "min_distance": float(v)})
            cl.append({**base, "n_clusters": int(d["n_clusters"][t]), "n_labels": int(d["classes"].size)})
            sim.append({**base, "similarity": float(d["similarity"][t])})
            for lab, (p1, p2) in zip(d["classes"], d["paths"][t]):
                paths.append({"layer": layer, "checkpoint": t, "step": steps[t], "label": str(lab),
                              "pc1": float(p1), "pc2": float(p2)})
        for k, v in enumerate(d["path_explained"], 1):
            ppca.append({"layer": layer, "component": k, "explained": float(v)})
        for lab, v in zip(d["classes"], np.linalg.norm(d["movement"], axis=1)):
            mov.append({"layer": layer, "label": str(lab), "norm": float(v)})
        cum = np.cumsum(d["movement_explained"])
        for k, (v, c) in enumerate(zip(d["movement_explained"], cum), 1):
            mpca.append({"layer": layer, "component": k, "explained": float(v), "cumulative": float(c)})
    tables = {"checkpoints": ckpt, "min_distance": pd.DataFrame(md), "clusters": pd.DataFrame(cl),
              "similarity": pd.DataFrame(sim), "centroid_paths": pd.DataFrame(paths),
              "path_pca": pd.DataFrame(ppca), "movement": pd.DataFrame(mov), "movement_pca": pd.DataFrame(mpca)}
    for k in ("min_distance", "clusters", "similarity", "centroid_paths"):
        tables[k]["step"] = pd.array(tables[k]["step"], dtype="Int64")
    result = DynamicsResult(tables=tables, meta={
        "sets": nm, "steps": [None if s is None else int(s) for s in steps], "layers": lay,
        "max_points": max_points, "n_points": int(sub.size), "random_state": random_state,
        "center_movement": center_movement, "manifests": {n: _manifest(r) for n, r in zip(nm, reps_list)},
        "notes": ["similarity: Pearson r of DirectProbe distance vectors vs checkpoint 0 (NaN with < 3 labels)",
                  "movement: last checkpoint minus pretrained label centroids; movement_pca uses the "
                  + ("centred" if center_movement else "uncentred") + " movement matrix"]})

    def draw(run, name):
        from ftgeo.plot.probing import (
            CentroidPathDisplay, MinDistanceTrajectoryDisplay, SimilarityOverTrainingDisplay,
        )
        return [_save(MinDistanceTrajectoryDisplay.from_result(result, layers=plot_layers).plot(), run,
                      f"{name}_min_distance"),
                _save(CentroidPathDisplay.from_result(result, layers=plot_layers).plot(), run, f"{name}_centroid_paths"),
                _save(SimilarityOverTrainingDisplay.from_result(result).plot(), run, f"{name}_similarity")]

    return _finish(result, run, name, figures, draw)


# ----------------------------------------------------------------------------- centroid movement
def run_centroids(before, after, *, run: RunDir | str | None = None, layers=None, center: bool = False,
                  name: str = "centroids", figures: bool = False) -> CentroidResult:
    """Label-centroid movement from ``before`` (pretrained) to ``after`` (fine-tuned) per layer and the
    explained-variance spectrum of the movements (Eq. C1-C3 of :mod:`ftgeo.analysis.centroids`).
    The two sets may hold different examples of the same labels (centroids are per label)."""
    from ftgeo.analysis.centroids import centroid_movement, movement_pca

    lay = _layers(before, layers)
    mov, mpca = [], []
    for layer in lay:
        Xb, yb, _ = _labelled(before, layer, "the 'before'")
        Xa, ya, _ = _labelled(after, layer, "the 'after'")
        classes, M = centroid_movement(Xb, yb, Xa, ya)
        for lab, v in zip(classes, np.linalg.norm(M, axis=1)):
            mov.append({"layer": layer, "label": str(lab), "norm": float(v)})
        ratio = movement_pca(M, center=center)[0]
        for k, (v, c) in enumerate(zip(ratio, np.cumsum(ratio)), 1):
            mpca.append({"layer": layer, "component": k, "explained": float(v), "cumulative": float(c)})
    result = CentroidResult(tables={"movement": pd.DataFrame(mov), "movement_pca": pd.DataFrame(mpca)},
                            meta={"layers": lay, "center": center})
    return _finish(result, run, name, False, None)


# ----------------------------------------------------------------------------- cross-task
def run_cross_task(pretrained_reps, finetuned_reps, *, pretrained_eval=None, finetuned_eval=None,
                   run: RunDir | str | None = None, layers=None, max_points: int | None = 1000,
                   random_state: int = 0, tol: float = 1e-9, probe_kinds: Sequence[str] = ("linear",),
                   probe_options: dict | None = None, name: str = "cross_task", figures: bool = True,
                   progress: bool = True) -> CrossTaskResult:
    """Task B's space before and after fine-tuning on task A (Zhou & Srikumar 2022, Sec. 6).

    ``pretrained_reps`` / ``finetuned_reps``: task B (training split) from the pretrained model and
    from the model fine-tuned on A. Per layer: each B label's DirectProbe minimum distance before
    and after, counts of labels whose distance grew / shrank and the mean change. With
    ``pretrained_eval`` and ``finetuned_eval`` (task B's eval split from each model) also probe
    accuracy before / after (``probe_kinds``, grid search + seeds as in :func:`run_probe`).
    """
    from ftgeo.analysis.crosstask import cross_task_change
    from ftgeo.analysis.probes import stratified_subsample
    from ftgeo.progress import progress as _progress

    if (pretrained_eval is None) != (finetuned_eval is None):
        raise ValidationError("give both pretrained_eval and finetuned_eval (task B's eval split from each model) "
                              "for probe accuracy, or neither")
    lay = _layers(pretrained_reps, layers)
    if finetuned_reps.n_layers != pretrained_reps.n_layers:
        raise ValidationError(f"the pretrained set has {pretrained_reps.n_layers} layers and the fine-tuned set "
                              f"{finetuned_reps.n_layers}; use the same architecture")
    changes, summ = [], []
    sub_p = sub_f = None
    for layer in _progress(lay, enabled=progress, desc="cross-task", unit="layer"):
        Xp, yp, _ = _labelled(pretrained_reps, layer, "the pretrained")
        Xf, yf, _ = _labelled(finetuned_reps, layer, "the fine-tuned")
        if sub_p is None:
            sub_p = stratified_subsample(yp, max_points, random_state)
            sub_f = stratified_subsample(yf, max_points, random_state)
        df, s = cross_task_change(Xp[sub_p], yp[sub_p], Xf[sub_f], yf[sub_f], tol=tol)
        df.insert(0, "layer", layer)
        changes.append(df)
        summ.append({"layer": layer, **s})
    tables = {"label_change": pd.concat(changes, ignore_index=True), "layer_summary": pd.DataFrame(summ)}
    if pretrained_eval is not None:
        opts = dict(probe_options or {})
        pr = run_probe([pretrained_reps, finetuned_reps], [pretrained_eval, finetuned_eval], layers=lay,
                       kinds=probe_kinds, names=["pretrained", "finetuned"], figures=False, progress=progress, **opts)
        tables["probe"] = pr.table("best")
    result = CrossTaskResult(tables=tables, meta={
        "layers": lay, "max_points": max_points, "random_state": random_state, "tol": tol,
        "probe_kinds": list(probe_kinds) if pretrained_eval is not None else [],
        "manifests": {"pretrained": _manifest(pretrained_reps), "finetuned": _manifest(finetuned_reps)}})

    def draw(run, name):
        from ftgeo.plot.probing import CrossTaskChangeDisplay, CrossTaskLayersDisplay, ProbeAccuracyDisplay
        out = [_save(CrossTaskChangeDisplay.from_result(result).plot(), run, f"{name}_change")]
        if len(lay) > 1:
            out.append(_save(CrossTaskLayersDisplay.from_result(result).plot(), run, f"{name}_layers"))
        if "probe" in result.tables:
            out.append(_save(ProbeAccuracyDisplay(result.tables["probe"], "task B probe accuracy").plot(), run,
                             f"{name}_probe"))
        return out

    return _finish(result, run, name, figures, draw)
