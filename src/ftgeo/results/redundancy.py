"""Typed results of the redundancy analyses (Matton & de Oliveira 2019, "Emergent Properties of
Finetuned Language Representation Models"): PCA compression curves, explained-variance ratios and
salient neurons. Tidy tables, JSON meta; ``summary()`` gives the paper's tables.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ftgeo.results.base import Result

__all__ = ["CompressionResult", "VarianceResult", "NeuronsResult"]


class CompressionResult(Result):
    """Accuracy of the linear softmax classifier on the top-k PCA components (or k random dims).

    Table ``curve``: model, layer, source (in_domain | general | random), k, accuracy (eval),
    accuracy_std (over random draws; 0 for PCA), n_draws.
    Table ``full``: model, layer, accuracy (all dimensions, frozen representation + linear
    classifier), finetuned_accuracy, finetuned_accuracy_source ("given" = a number passed in, e.g.
    the fine-tuned model's own accuracy; "linear probe" = the same classifier on the fine-tuned
    representations; "" when unknown).
    """

    kind = "compression"

    @property
    def curve(self) -> pd.DataFrame:
        return self.table("curve")

    @property
    def full(self) -> pd.DataFrame:
        return self.table("full")

    def summary(self) -> pd.DataFrame:
        """Per model, layer and source: accuracy at k = 1, the smallest k reaching 95% of the
        all-dimension accuracy, and the all-dimension and fine-tuned accuracies."""
        cur, full = self.curve, self.full
        rows = []
        for (model, layer, source), g in cur.groupby(["model", "layer", "source"], sort=False):
            f = full[(full.model == model) & (full.layer == layer)].iloc[0]
            g = g.sort_values("k")
            ok = g[g.accuracy >= 0.95 * f.accuracy]
            rows.append({"model": model, "layer": int(layer), "source": source,
                         "acc_k1": float(g.accuracy.iloc[0]) if int(g.k.iloc[0]) == 1 else np.nan,
                         "k_95pct": int(ok.k.iloc[0]) if len(ok) else np.nan,
                         "all_dims": float(f.accuracy), "finetuned": float(f.finetuned_accuracy)})
        return pd.DataFrame(rows)


class VarianceResult(Result):
    """Explained-variance ratios (Eq. 3 of :mod:`ftgeo.analysis.compression`) pretrained vs fine-tuned.

    Table ``variance``: layer, component (1-based), ratio_pre, ratio_ft, ratio (= ft / pre).
    Table ``drop``: layer, first_below_one (1-based component where the ratio first drops below 1),
    n_above_before_drop, n_classes, n_classes_minus_1 (the paper's prediction).
    """

    kind = "variance"

    @property
    def variance(self) -> pd.DataFrame:
        return self.table("variance")

    def summary(self) -> pd.DataFrame:
        return self.table("drop")


class NeuronsResult(Result):
    """Salient neurons (single-dimension classifiers and greedy selection), pretrained and fine-tuned.

    Table ``single``: model, layer, dim, cv_accuracy (stratified k-fold CV on train), eval_accuracy
    (trained on all of train). Table ``selection``: model, layer, step (1-based), dim, cv_accuracy,
    eval_accuracy (first ``step`` selected dims). Table ``paper``: model, layer, method
    (random_guess | all_dims | best_1 | best_5 | natural), n_dims, eval_accuracy. Table
    ``activation``: model, layer, label, value (the best neuron's eval-split activations).
    meta: ``random_guess`` ("majority": the most frequent training label), ``threshold`` and
    ``fraction_above`` (per "model|layer": share of neurons with CV accuracy above the threshold).
    """

    kind = "neurons"

    @property
    def single(self) -> pd.DataFrame:
        return self.table("single")

    @property
    def selection(self) -> pd.DataFrame:
        return self.table("selection")

    def summary(self) -> pd.DataFrame:
        """The paper's table: rows = method, columns = model (one block per layer)."""
        t = self.table("paper")
        out = t.pivot_table(index=["layer", "method", "n_dims"], columns="model", values="eval_accuracy",
                            sort=False).reset_index()
        out.columns.name = None
        return out
