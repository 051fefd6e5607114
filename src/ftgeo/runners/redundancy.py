"""Runners of the redundancy analyses (Matton & de Oliveira 2019): the Python API behind
``ftgeo analyze compression|variance|neurons``.

Every runner takes representation sets as one :class:`~ftgeo.reps.Representations` or a
sequence of them (pretrained first, then fine-tuned; same task split, same width), analyses the
requested layers (default: the last), and, when ``run`` is given, saves the result to
``run.result_dir(name)`` and PNG+SVG figures to ``run.figures`` (``result.meta["figures"]``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ftgeo.errors import ValidationError
from ftgeo.results.redundancy import CompressionResult, NeuronsResult, VarianceResult
from ftgeo.run import RunDir
from ftgeo.runners._common import as_list as _as_list, finish_result as _finish, save_display as _save
from ftgeo.runners._common import layer_indices


def _layers(reps, layers) -> list[int]:
    return layer_indices(reps, layers, default="last")  # the sentence embedding of the paper

__all__ = ["run_compression", "run_variance", "run_neurons"]



def _names(sets: Sequence, names: Sequence[str] | None) -> list[str]:
    if names is not None:
        names = [str(n) for n in names]
        if len(names) != len(sets) or len(set(names)) != len(names):
            raise ValidationError(f"names must be {len(sets)} distinct strings; got {names}")
        return names
    default = ["pretrained", "finetuned"]
    if len(sets) <= 2:
        return default[:len(sets)]
    return [f"set{i}" for i in range(len(sets))]



def _labelled(reps, layer: int, what: str):
    y = np.asarray(reps.labels)
    keep = y >= 0
    if not keep.any():
        raise ValidationError(f"the {what} representations have no labels (all -1); extract a labelled split")
    return reps.layer(layer, dtype=np.float64)[keep], y[keep]


def _check_pair(sets: Sequence, what: str) -> None:
    if len(sets) > 2:
        raise ValidationError(f"{what}: pass one set (pretrained) or two (pretrained, fine-tuned); got {len(sets)}")
    if len(sets) == 2:
        a, b = sets
        if a.n_layers != b.n_layers:
            raise ValidationError(f"{what}: the pretrained set has {a.n_layers} layers and the fine-tuned one "
                                  f"{b.n_layers}; extract both from the same architecture")




# ----------------------------------------------------------------------------- compression
def run_compression(train, eval, *, general=None, run: RunDir | str | None = None, layers=None,
                    ks: Sequence[int] | None = None, sources: Sequence[str] | None = None, n_random: int = 5,
                    C: float = 1.0, finetuned_accuracy: float | None = None, max_general: int | None = 32000,
                    random_state=0, names: Sequence[str] | None = None, name: str = "compression",
                    figures: bool = True, progress: bool = True) -> CompressionResult:
    """PCA compression curves (in-domain, general-corpus, random dims) for pretrained and fine-tuned sets.

    ``train``/``eval``: one set or (pretrained, fine-tuned). ``general``: general-domain corpus
    representations (one, or one per model) for out-of-domain PCA. ``finetuned_accuracy``: the
    fine-tuned model's own eval accuracy (recorded as "given"); otherwise, with a fine-tuned set,
    the linear classifier's accuracy on the fine-tuned representations ("linear probe").
    """
    from ftgeo.analysis.compression import CompressionCurve

    tr, ev, gen = _as_list(train), _as_list(eval), _as_list(general)
    if not tr or len(tr) != len(ev):
        raise ValidationError(f"give as many eval sets as train sets (pretrained[, fine-tuned]); got {len(tr)} train "
                              f"and {len(ev)} eval")
    _check_pair(tr, "compression")
    if gen and len(gen) not in (1, len(tr)):
        raise ValidationError(f"give one general-corpus set or one per model ({len(tr)}); got {len(gen)}")
    if len(gen) == 1:
        gen = gen * len(tr)
    nm = _names(tr, names)
    lay = _layers(tr[0], layers)
    curves, full = [], []
    for layer in lay:
        accs = {}
        for i, (model, a, b) in enumerate(zip(nm, tr, ev)):
            Xtr, ytr = _labelled(a, layer, f"{model} train")
            Xev, yev = _labelled(b, layer, f"{model} eval")
            Xg = gen[i].layer(layer, dtype=np.float64) if gen else None
            cc = CompressionCurve(ks=ks, source=sources, n_random=n_random, C=C, random_state=random_state,
                                  max_general=max_general, progress=progress).fit(Xtr, ytr, Xev, yev, X_general=Xg)
            df = cc.curve_.copy()
            df.insert(0, "layer", layer)
            df.insert(0, "model", model)
            curves.append(df)
            accs[model] = cc.full_accuracy_
        if finetuned_accuracy is not None:
            ft, src = float(finetuned_accuracy), "given"
        elif len(nm) == 2:
            ft, src = accs[nm[1]], "linear probe"
        else:
            ft, src = np.nan, ""
        for model in nm:
            full.append({"model": model, "layer": layer, "accuracy": accs[model], "finetuned_accuracy": ft,
                         "finetuned_accuracy_source": src})
    res = CompressionResult(tables={"curve": pd.concat(curves, ignore_index=True), "full": pd.DataFrame(full)},
                            meta={"models": nm, "layers": lay, "C": C, "n_random": n_random,
                                  "random_state": random_state if isinstance(random_state, int) else None,
                                  "general": bool(gen), "max_general": max_general,
                                  "classifier": "L2 softmax regression on standardised features (C=%g)" % C,
                                  "finetuned_accuracy_source": full[0]["finetuned_accuracy_source"] if full else ""})

    def draw(run, name):
        from ftgeo.plot.redundancy import CompressionCurveDisplay
        return [_save(CompressionCurveDisplay.from_result(res, layer=l).plot(), run, f"{name}_layer{l}") for l in lay]

    return _finish(res, run, name, figures, draw)


# ----------------------------------------------------------------------------- variance
def run_variance(pretrained, finetuned, *, run: RunDir | str | None = None, layers=None,
                 n_components: int | None = None, name: str = "variance", figures: bool = True) -> VarianceResult:
    """Explained-variance ratios per component, fine-tuned / pretrained, with the first index
    where the ratio drops below 1 next to the number of classes (use the training split)."""
    from ftgeo.analysis.compression import variance_comparison

    _check_pair([pretrained, finetuned], "variance")
    lay = _layers(pretrained, layers)
    rows, drops = [], []
    for layer in lay:
        Xa, ya = _labelled(pretrained, layer, "pretrained")
        Xb, _ = _labelled(finetuned, layer, "fine-tuned")
        n_classes = int(np.unique(ya).size)
        v = variance_comparison(Xa, Xb, n_classes=n_classes, n_components=n_components)
        m = v["ratio"].size
        rows.append(pd.DataFrame({"layer": layer, "component": np.arange(1, m + 1), "ratio_pre": v["ratio_pre"],
                                  "ratio_ft": v["ratio_ft"], "ratio": v["ratio"]}))
        drops.append({"layer": layer, "first_below_one": v["first_below_one"],
                      "n_above_before_drop": v["n_above_before_drop"], "n_classes": n_classes,
                      "n_classes_minus_1": n_classes - 1})
    res = VarianceResult(tables={"variance": pd.concat(rows, ignore_index=True), "drop": pd.DataFrame(drops)},
                         meta={"layers": lay, "n_components": n_components})

    def draw(run, name):
        from ftgeo.plot.redundancy import VarianceRatioDisplay
        return [_save(VarianceRatioDisplay.from_result(res, layer=l).plot(), run, f"{name}_layer{l}") for l in lay]

    return _finish(res, run, name, figures, draw)


# ----------------------------------------------------------------------------- neurons
def run_neurons(train, eval, *, run: RunDir | str | None = None, layers=None, cv: int = 5, n_select: int = 5,
                C: float = 1.0, threshold: float | None = None, random_state: int = 0,
                names: Sequence[str] | None = None, name: str = "neurons", figures: bool = True,
                progress: bool = True) -> NeuronsResult:
    """Salient neurons for pretrained and fine-tuned sets: single-dimension CV and eval accuracy,
    greedy selection (``max(n_select, n_classes)`` dims), and the paper's table (random guess =
    majority class, all dims, best 1, best 5, natural = n_classes). ``threshold`` for the
    fraction of neurons above it defaults to the majority-class rate + 0.05."""
    from ftgeo.analysis.compression import linear_accuracy
    from ftgeo.analysis.neurons import SalientNeurons, fraction_above, majority_accuracy

    tr, ev = _as_list(train), _as_list(eval)
    if not tr or len(tr) != len(ev):
        raise ValidationError(f"give as many eval sets as train sets (pretrained[, fine-tuned]); got {len(tr)} train "
                              f"and {len(ev)} eval")
    _check_pair(tr, "neurons")
    nm = _names(tr, names)
    lay = _layers(tr[0], layers)
    single, selection, paper, act = [], [], [], []
    frac, thr_used = {}, {}
    for layer in lay:
        dims = set()
        for model, a, b in zip(nm, tr, ev):
            Xtr, ytr = _labelled(a, layer, f"{model} train")
            Xev, yev = _labelled(b, layer, f"{model} eval")
            dims.add(Xtr.shape[1])
            if len(dims) > 1:
                raise ValidationError(f"the sets have different widths {sorted(dims)} at layer {layer}; compare the "
                                      "same model before and after fine-tuning")
            n_classes = int(np.unique(ytr).size)
            sn = SalientNeurons(cv=cv, n_select=max(n_select, n_classes), C=C, random_state=random_state,
                                progress=progress).fit(Xtr, ytr)
            ev_single = sn.single_eval_accuracy(Xev, yev)
            ev_curve = sn.eval_curve(Xev, yev)
            single.append(pd.DataFrame({"model": model, "layer": layer, "dim": np.arange(Xtr.shape[1]),
                                        "cv_accuracy": sn.single_accuracy_, "eval_accuracy": ev_single}))
            selection.append(pd.DataFrame({"model": model, "layer": layer, "step": np.arange(1, len(sn.selected_) + 1),
                                           "dim": sn.selected_, "cv_accuracy": sn.selection_curve_,
                                           "eval_accuracy": ev_curve}))
            maj = majority_accuracy(ytr, yev)
            n5 = min(n_select, len(sn.selected_))
            for method, n, acc in [("random_guess", 0, maj),
                                   ("all_dims", Xtr.shape[1], linear_accuracy(Xtr, ytr, Xev, yev, C=C)),
                                   ("best_1", 1, ev_curve[0]), (f"best_{n5}", n5, ev_curve[n5 - 1]),
                                   ("natural", n_classes, ev_curve[n_classes - 1])]:
                paper.append({"model": model, "layer": layer, "method": method, "n_dims": n, "eval_accuracy": acc})
            act.append(pd.DataFrame({"model": model, "layer": layer, "label": yev, "value": Xev[:, sn.best_]}))
            t = (np.bincount(np.unique(ytr, return_inverse=True)[1]).max() / ytr.size + 0.05) \
                if threshold is None else float(threshold)
            key = f"{model}|{layer}"
            frac[key] = fraction_above(sn.single_accuracy_, t)
            thr_used[key] = float(t)
    label_names = list(getattr(tr[0], "label_names", []) or [])
    res = NeuronsResult(tables={"single": pd.concat(single, ignore_index=True),
                                "selection": pd.concat(selection, ignore_index=True),
                                "paper": pd.DataFrame(paper), "activation": pd.concat(act, ignore_index=True)},
                        meta={"models": nm, "layers": lay, "cv": cv, "n_select": n_select, "C": C,
                              "random_state": random_state, "random_guess": "majority",
                              "threshold": thr_used, "fraction_above": frac, "label_names": label_names,
                              "classifier": "L2 softmax regression on standardised features (C=%g)" % C})

    def draw(run, name):
        from ftgeo.plot.redundancy import BestNeuronDisplay, NeuronHistogramDisplay
        out = []
        for l in lay:
            out.append(_save(NeuronHistogramDisplay.from_result(res, layer=l).plot(), run, f"{name}_hist_layer{l}"))
            out.append(_save(BestNeuronDisplay.from_result(res, layer=l).plot(), run, f"{name}_best_layer{l}"))
        return out

    return _finish(res, run, name, figures, draw)
