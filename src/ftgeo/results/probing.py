"""Saved results of the probing analyses of Zhou & Srikumar (2022), "A Closer Look at How
Fine-tuning Changes BERT": classifier probes, DirectProbe per layer, dynamics over checkpoints,
label-centroid movement and cross-task change. All tables are tidy (one row per observation).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ftgeo.errors import ValidationError
from ftgeo.results.base import Result

__all__ = ["ProbeResult", "DirectProbeLayersResult", "DynamicsResult", "CentroidResult", "CrossTaskResult"]


def _concat(results: Sequence[Result], cls):
    if not results:
        raise ValidationError(f"{cls.__name__}.combine needs at least one result")
    names = sorted({t for r in results for t in r.tables})
    tables = {n: pd.concat([r.tables[n] for r in results if n in r.tables], ignore_index=True) for n in names}
    meta = dict(results[0].meta)
    meta["sets"] = [s for r in results for s in r.meta.get("sets", [])]
    return cls(tables=tables, meta=meta)


class ProbeResult(Result):
    """Classifier probes per layer.

    Tables: ``scores`` (set, layer, kind, hidden, l2, seed, epochs, split in {validation, eval},
    accuracy), ``grid`` (set, layer, kind, hidden, l2, val_accuracy, val_loss, epochs, rank),
    ``best`` (set, layer, kind, hidden, l2, mean, std, n_seeds, val_mean, n_train, n_eval):
    mean ± std eval accuracy of the best setting over seeds (std with ddof=1).
    """

    kind = "probe"

    @classmethod
    def combine(cls, results: Sequence["ProbeResult"]) -> "ProbeResult":
        """Stack results of several representation sets (e.g. pretrained and fine-tuned)."""
        return _concat(results, cls)

    @property
    def sets(self) -> list[str]:
        return list(dict.fromkeys(self.table("best")["set"]))

    def best(self, set: str | None = None, kind: str | None = None) -> pd.DataFrame:
        df = self.table("best")
        if set is not None:
            df = df[df["set"] == set]
        if kind is not None:
            df = df[df["kind"] == kind]
        return df.reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        return self.table("best")[["set", "layer", "kind", "hidden", "l2", "mean", "std"]]


class DirectProbeLayersResult(Result):
    """DirectProbe on every layer of one or more sets.

    Tables: ``layers`` (set, layer, n_clusters, n_labels, n_points, eval_accuracy, n_eval,
    train_eval_similarity, time_s), ``label_min_distance`` (set, layer, label, min_distance),
    ``label_distances`` (set, layer, label_a, label_b, distance), ``set_similarity`` (set_a,
    set_b, layer, similarity): spatial similarity between sets at the same layer.
    ``train_eval_similarity`` is the spatial similarity between the train and eval sets'
    DirectProbe distance vectors (train/test divergence; NaN with fewer than 3 labels).
    """

    kind = "directprobe_layers"

    def summary(self) -> pd.DataFrame:
        cols = ["set", "layer", "n_clusters", "n_labels", "eval_accuracy", "train_eval_similarity"]
        df = self.table("layers")
        return df[[c for c in cols if c in df.columns]]


class DynamicsResult(Result):
    """DirectProbe measures and label centroids over fine-tuning checkpoints, per layer.

    Tables: ``checkpoints`` (checkpoint, name, step), ``min_distance`` (checkpoint, step, layer,
    label, min_distance), ``clusters`` (checkpoint, step, layer, n_clusters, n_labels),
    ``similarity`` (checkpoint, step, layer, similarity: to the pretrained space),
    ``centroid_paths`` (layer, checkpoint, step, label, pc1, pc2), ``path_pca`` (layer, component,
    explained), ``movement`` (layer, label, norm), ``movement_pca`` (layer, component, explained,
    cumulative).
    """

    kind = "dynamics"

    def summary(self) -> pd.DataFrame:
        s = self.table("similarity")
        last = s[s["checkpoint"] == s["checkpoint"].max()][["layer", "similarity"]]
        mp = self.table("movement_pca")
        top = mp[mp["component"] == 1][["layer", "explained"]].rename(columns={"explained": "movement_pc1"})
        md = self.table("min_distance")
        first, lastc = md["checkpoint"].min(), md["checkpoint"].max()
        g = md.groupby(["layer", "checkpoint"])["min_distance"].mean().unstack()
        gm = pd.DataFrame({"layer": g.index, "mean_min_distance_first": g[first].to_numpy(),
                           "mean_min_distance_last": g[lastc].to_numpy()})
        return gm.merge(last.rename(columns={"similarity": "similarity_last"}), on="layer").merge(top, on="layer")


class CentroidResult(Result):
    """Label-centroid movement before -> after, per layer (tables ``movement`` and ``movement_pca``,
    same columns as in :class:`DynamicsResult`)."""

    kind = "centroids"

    def summary(self) -> pd.DataFrame:
        mp = self.table("movement_pca")
        return mp[mp["component"] <= 3].pivot(index="layer", columns="component", values="explained") \
            .rename(columns=lambda c: f"pc{c}").reset_index()


class CrossTaskResult(Result):
    """Task B before / after fine-tuning on task A, per layer.

    Tables: ``label_change`` (layer, label, before, after, change, direction), ``layer_summary``
    (layer, n_labels, n_grew, n_shrank, n_same, mean_change, n_clusters_before, n_clusters_after),
    and optionally ``probe`` (the :class:`ProbeResult` ``best`` table of both models, set in
    {pretrained, finetuned}).
    """

    kind = "cross_task"

    def summary(self) -> pd.DataFrame:
        s = self.table("layer_summary")
        if "probe" in self.tables:
            p = self.tables["probe"]
            wide = p.pivot_table(index="layer", columns=["set", "kind"], values="mean")
            wide.columns = [f"acc_{a}_{b}" for a, b in wide.columns]
            s = s.merge(wide.reset_index(), on="layer", how="left")
        return s
