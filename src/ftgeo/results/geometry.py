"""Typed results of the layer-geometry analyses (GPTology): CKA, rogue dimensions, threshold,
ablation, projections, isotropy. Each is a :class:`~ftgeo.results.Result` (tidy tables +
arrays + JSON meta) with a ``from_...`` builder, convenience accessors and a ``summary()``.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ftgeo.errors import ValidationError
from ftgeo.results.base import Result

__all__ = ["CKAResult", "RogueResult", "ThresholdResult", "AblationResult", "ProjectionResult"]


class CKAResult(Result):
    """Layer x layer CKA matrices for one or more (set_a, set_b) pairs.

    Table ``cka``: pair, set_a, set_b, layer_a, layer_b, cka (NaN for constant layers).
    Arrays ``matrix_<i>`` for ``meta["pairs"][i]``; ``meta["layers"]`` maps each set to its
    stored layer indices; meta also records kernel, debiased, standardize, threshold, batch_size.
    """

    kind = "cka"

    @classmethod
    def from_matrices(cls, matrices: Mapping[tuple[str, str], np.ndarray], layers: Mapping[str, Sequence[int]],
                      meta: dict[str, Any] | None = None) -> "CKAResult":
        rows, arrays, pairs = [], {}, []
        for i, ((a, b), M) in enumerate(matrices.items()):
            M = np.asarray(M, dtype=np.float64)
            la, lb = list(layers[a]), list(layers[b])
            if M.shape != (len(la), len(lb)):
                raise ValidationError(f"matrix for {(a, b)} has shape {M.shape}; layers give {(len(la), len(lb))}")
            arrays[f"matrix_{i}"] = M
            pairs.append([a, b])
            A, B = np.meshgrid(la, lb, indexing="ij")
            rows.append(pd.DataFrame({"pair": f"{a} x {b}", "set_a": a, "set_b": b, "layer_a": A.ravel(),
                                      "layer_b": B.ravel(), "cka": M.ravel()}))
        m = dict(meta or {})
        m.update(pairs=pairs, layers={k: [int(v) for v in vs] for k, vs in layers.items()},
                 models=list(layers))
        return cls(tables={"cka": pd.concat(rows, ignore_index=True)}, arrays=arrays, meta=m)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [tuple(p) for p in self.meta["pairs"]]

    def matrix(self, set_a: str | None = None, set_b: str | None = None) -> np.ndarray:
        """The matrix of the pair (set_a, set_b); with no arguments, the first pair's."""
        if set_a is None:
            return self.array("matrix_0")
        set_b = set_a if set_b is None else set_b
        for i, (a, b) in enumerate(self.pairs):
            if (a, b) == (set_a, set_b):
                return self.array(f"matrix_{i}")
            if (b, a) == (set_a, set_b):
                return self.array(f"matrix_{i}").T
        raise ValidationError(f"no CKA matrix for {(set_a, set_b)}; pairs are {self.pairs}")

    @property
    def matrix_(self) -> np.ndarray:
        return self.matrix()

    def summary(self) -> pd.DataFrame:
        out = []
        for i, (a, b) in enumerate(self.pairs):
            M = self.array(f"matrix_{i}")
            la, lb = self.meta["layers"][a], self.meta["layers"][b]
            same = [(x, lb.index(l)) for x, l in enumerate(la) if l in lb]
            diag = np.array([M[x, y] for x, y in same]) if same else np.array([np.nan])
            out.append({"set_a": a, "set_b": b, "same_layer_mean": float(np.nanmean(diag)) if np.isfinite(diag).any() else np.nan,
                        "same_layer_min": float(np.nanmin(diag)) if np.isfinite(diag).any() else np.nan,
                        "last_layer": float(M[-1, -1]), "first_vs_last": float(M[0, -1]),
                        "mean": float(np.nanmean(M)) if np.isfinite(M).any() else np.nan})
        return pd.DataFrame(out)


class RogueResult(Result):
    """Rogue dimensions per set and layer.

    Tables: ``dims`` (set, layer, dim, mean, var, var_share, cos_contribution, cos_share),
    ``top`` (set, layer, rank, dim, var, var_share, cos_share), ``layers`` (set, layer, principal,
    principal_var_share, topk_var_share, expected_cosine, principal_cos_share) and ``overlap``
    (set_a, set_b, layer, k, overlap, shared).
    """

    kind = "rogue"

    def summary(self) -> pd.DataFrame:
        s = self.table("layers").copy()
        if "overlap" in self.tables and not self.table("overlap").empty:
            ov = self.table("overlap").drop_duplicates(["set_a", "layer"])   # first partner set
            s = s.merge(ov[["set_a", "layer", "overlap"]].rename(columns={"set_a": "set"}), how="left",
                        on=["set", "layer"])
        return s

    def top(self, set_name: str | None = None, layer: int | None = None) -> np.ndarray:
        t = self.table("top")
        set_name = set_name if set_name is not None else t["set"].iloc[0]
        layer = layer if layer is not None else int(t["layer"].max())
        return t[(t["set"] == set_name) & (t["layer"] == layer)].sort_values("rank")["dim"].to_numpy()


class ThresholdResult(Result):
    """Principal-dimension threshold classifiers per layer.

    Table ``threshold``: layer, method, dimension, threshold, polarity, variance_share,
    train_accuracy, eval_accuracy, full_accuracy. Arrays ``x_eval_<layer>`` (the eval values of
    the chosen dimension) and ``y_eval`` for the histogram plot.
    """

    kind = "threshold"

    def summary(self) -> pd.DataFrame:
        return self.table("threshold")


class AblationResult(Result):
    """Accuracy after zeroing k dimensions. Table ``curve``: mode, k, draw, accuracy, dims;
    meta: layer, full_accuracy, variance_from, n_random, random_state."""

    kind = "ablation"

    def mean_curve(self) -> pd.DataFrame:
        """mode, k, mean, min, max accuracy over draws."""
        c = self.table("curve")
        return (c.groupby(["mode", "k"])["accuracy"].agg(["mean", "min", "max"]).reset_index())

    def summary(self) -> pd.DataFrame:
        m = self.mean_curve().pivot(index="k", columns="mode", values="mean").reset_index()
        m.columns.name = None
        return m


class ProjectionResult(Result):
    """2-D coordinates. Table ``coords``: layer, method, index, id, label, label_name, x, y."""

    kind = "projection"

    def summary(self) -> pd.DataFrame:
        c = self.table("coords")
        return c.groupby(["layer", "method"]).size().rename("points").reset_index()
