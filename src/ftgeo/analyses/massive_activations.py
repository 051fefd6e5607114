"""``massive-activations``: the largest hidden-state entries per layer, where they sit, and what pooling
does with them (GPTology family; Sun, Chen, Kolter & Liu 2024).

The input is a model and a task, not stored representations: massive activations live at single
token positions (the first token, delimiters) that pooled stores no longer hold. The analysis runs
the model over the first ``max_examples`` sentences of the split with ``output_hidden_states`` and
reduces the token-level states per layer (:mod:`ftgeo.analysis.massive`): the top entries with their
dimension, position and token; the dimensions with massive entries (|h| >= ``min_magnitude`` and
>= ``min_ratio`` times the layer's median |h|); and, for ``last`` and ``mean`` pooling of the same
pass, how much of the pooled vectors the massive dimensions carry.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import AnalysisSpec, param
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result


@dataclass(frozen=True)
class MassiveActivationsSpec(AnalysisSpec):
    """Parameters of :func:`run_massive_activations`."""

    model: str = param("smollm2-135m", "packaged name (ftgeo list models), model folder or hub id")
    task: str = param("sst2", "task whose sentences are fed to the model (ftgeo list tasks)")
    split: str = param("dev", "split of the task")
    data_root: str | None = param(None, "folder with the local datasets (default: $FTGEO_DATA_ROOT)", metavar="DIR")
    max_examples: int = param(64, "sentences (the first N of the split)")
    max_length: int = param(64, "truncate sentences to this many tokens")
    batch_size: int = param(16, "sentences per forward pass")
    top_k: int = param(5, "largest entries reported per layer")
    min_ratio: float = param(1000.0, "massive: at least this many times the layer's median |h| (Sun et al.: ~1000)")
    min_magnitude: float = param(100.0, "massive: at least this magnitude (Sun et al.: 100)")

    def validate(self) -> None:
        for f in ("max_examples", "max_length", "batch_size", "top_k"):
            if getattr(self, f) < 1:
                raise ValidationError(f"{f} must be >= 1; got {getattr(self, f)}")
        if self.min_ratio <= 0 or self.min_magnitude < 0:
            raise ValidationError("min_ratio must be > 0 and min_magnitude >= 0")


class MassiveActivationsResult(Result):
    """Tables ``top`` (layer, rank, value, magnitude, median, ratio, dim, sentence, position, token, first_token,
    delimiter), ``dims`` (layer, dim, count, max_magnitude, max_ratio, share_first_token, share_delimiter,
    positions) and ``pooling`` (layer, pooling, top_dim, top_dim_ratio, massive_dims, massive_norm_share,
    top_var_dim, top_var_share). Meta ``headline``: the largest activation's dimension, layers, position."""

    kind = "massive_activations"

    def summary(self):
        t = self.table("top")
        return t[t["rank"] == 1].reset_index(drop=True)

    def displays(self):
        return [("layers", MassiveActivationsDisplay.from_result(self))]


class MassiveActivationsDisplay(Display):
    """Left: the top |h| and the median |h| per layer (log scale), first-token maxima marked. Right: the share of
    the pooled vectors' squared norm on the massive dimensions, ``last`` vs ``mean`` pooling."""

    def __init__(self, top, pooling, model: str):
        self.top, self.pooling, self.model = top.copy(), pooling.copy(), model

    @classmethod
    def from_result(cls, result) -> "MassiveActivationsDisplay":
        return cls(result.table("top"), result.table("pooling"), result.meta.get("model", ""))

    def plot(self, ax=None) -> "MassiveActivationsDisplay":
        fig, axes = self._new_axes(ncols=2, figsize=(9, 3.4))
        axes = list(np.ravel(axes))
        t1 = self.top[self.top["rank"] == 1].sort_values("layer")
        axes[0].semilogy(t1["layer"], t1["magnitude"], marker="o", ms=3, label="largest |h|")
        axes[0].semilogy(t1["layer"], t1["median"], marker=".", ms=3, label="median |h|")
        f = t1[t1["first_token"]]
        axes[0].scatter(f["layer"], f["magnitude"], s=50, facecolors="none", edgecolors="r", label="at token 0")
        for _, r in t1.iloc[::max(1, len(t1) // 6)].iterrows():
            axes[0].annotate(f"d{int(r['dim'])}", (r["layer"], r["magnitude"]), fontsize=6)
        axes[0].set_xlabel("layer")
        axes[0].set_ylabel("activation magnitude")
        axes[0].legend(fontsize=6)
        for how, g in self.pooling.groupby("pooling", sort=False):
            g = g.sort_values("layer")
            axes[1].plot(g["layer"], g["massive_norm_share"], marker="o", ms=3, label=f"{how} pooling")
        axes[1].set_ylim(-0.02, 1.02)
        axes[1].set_xlabel("layer")
        axes[1].set_ylabel("share of pooled norm^2 on massive dims")
        axes[1].legend(fontsize=6)
        fig.suptitle(f"massive activations: {self.model}", fontsize=10)
        self.figure_, self.ax_ = fig, axes
        return self


def _headline(top, dims) -> dict:
    if not len(top):
        return {}
    r = top.loc[top["magnitude"].idxmax()]
    out = {"dim": int(r["dim"]), "layer": int(r["layer"]), "magnitude": float(r["magnitude"]),
           "ratio": float(r["ratio"]), "position": int(r["position"]), "token": str(r["token"]),
           "first_token": bool(r["first_token"])}
    if len(dims):
        d = dims[dims["dim"] == out["dim"]]
        if len(d):
            out["massive_layers"] = [int(v) for v in d["layer"]]
            out["share_first_token"] = float(np.average(d["share_first_token"], weights=d["count"]))
            out["share_delimiter"] = float(np.average(d["share_delimiter"], weights=d["count"]))
    return out


@register_analysis("massive-activations", family="gptology", order=66, spec=MassiveActivationsSpec,
                   result=MassiveActivationsResult, inputs=[],
                   help="massive activations (Sun et al. 2024) of a model on a task's sentences: dimensions, layers, "
                        "positions; last vs mean pooling")
def run_massive_activations(*, spec: MassiveActivationsSpec, progress: bool = True, lm=None,
                            texts=None) -> MassiveActivationsResult:
    """Run ``spec.model`` (or the already loaded ``lm``) over the first ``max_examples`` sentences of
    ``task``/``split`` (or of ``texts``, a Python-only list of sentences) and report its massive
    activations (module docstring)."""
    import pandas as pd

    from ftgeo.analysis.massive import massive_activation_tables, token_states
    from ftgeo.data import load_task

    given = texts is not None
    if not given:
        task = load_task(spec.task, data_root=spec.data_root)
        if task.kind == "token":
            texts = [" ".join(ex.words or ()) for ex in task.examples(spec.split)]
        else:
            texts = [(ex.text or "") + ((" " + ex.text_pair) if getattr(ex, "text_pair", None) else "")
                     for ex in task.examples(spec.split)]
    texts = [t for t in texts if t.strip()][:spec.max_examples]
    if not texts:
        raise ValidationError(f"{spec.task}/{spec.split} has no sentences")
    ts = token_states(lm if lm is not None else spec.model, texts, max_length=spec.max_length,
                      batch_size=spec.batch_size)
    tabs = massive_activation_tables(ts, top_k=spec.top_k, min_ratio=spec.min_ratio, min_magnitude=spec.min_magnitude)
    cols = {"top": ["layer", "rank", "value", "magnitude", "median", "ratio", "dim", "sentence", "position", "token",
                    "first_token", "delimiter"],
            "dims": ["layer", "dim", "count", "max_magnitude", "max_ratio", "share_first_token", "share_delimiter",
                     "positions"],
            "pooling": ["layer", "pooling", "top_dim", "top_dim_ratio", "massive_dims", "massive_norm_share",
                        "top_var_dim", "top_var_share"]}
    tables = {k: pd.DataFrame(v, columns=cols[k]) for k, v in tabs.items()}
    notes = [] if len(tables["dims"]) else [f"no massive activation (|h| >= {spec.min_magnitude} and >= "
                                            f"{spec.min_ratio} x median) in any layer"]
    meta = {"model": ts.model, "task": "(texts)" if given else spec.task, "split": spec.split, "n_sentences": len(texts),
            "n_tokens": int(sum(s.shape[1] for s in ts.states)), "headline": _headline(tables["top"], tables["dims"]),
            "notes": notes}
    return MassiveActivationsResult(tables=tables, meta=meta)
