"""``projection``: 2-D t-SNE / PCA / UMAP coordinates per layer, coloured by label (GPTology family).

Every layer is projected from the same stratified, seeded subsample of examples. The numbers come
from :mod:`ftgeo.analysis.projection` (openTSNE with PCA initialisation, PCA with fixed signs,
UMAP if ``umap-learn`` is installed).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ftgeo.analyses._inputs import select_layers
from ftgeo.analysis.projection import METHODS
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import AnalysisSpec, Input, Layers, param
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.plot.helpers import grid_shape
from ftgeo.results.base import Result


@dataclass(frozen=True)
class ProjectionSpec(AnalysisSpec):
    """Parameters of :func:`run_projection`."""

    layers: Layers = param("all", "layers: all, last, a list 0,3,6 or a range 0-6")
    method: tuple[str, ...] = param(("tsne",), "tsne, pca or umap (comma-separated for several)")
    max_points: int | None = param(2000, "stratified subsample size (the same examples for every layer)",
                                   aliases=("max_samples",), none=("0", "all"))
    perplexity: float = param(30.0, "t-SNE perplexity")
    seed: int = param(0, "seed of the subsample and of t-SNE / UMAP", aliases=("random_state",))

    def validate(self) -> None:
        bad = [m for m in self.method if m not in METHODS]
        if bad or not self.method:
            raise ValidationError(f"method must be one or more of {', '.join(METHODS)}; got {list(self.method)}")
        if self.max_points is not None and self.max_points < 1:
            raise ValidationError(f"max_points must be >= 1, or none for every example (on the command line: "
                                  f"0 or all); got {self.max_points}")


class ProjectionResult(Result):
    """2-D coordinates. Table ``coords``: layer, method, index, id, label, label_name, x, y, and where
    they were given (see :func:`run_projection`) ``text`` (the example's sentence) and ``prediction`` /
    ``prediction_name`` (the model's predicted label; -1 / "" where unknown). Results saved before
    these columns existed have none of them and still load and draw. Meta ``set``: the projected set's
    name (``model[@checkpoint]`` or the ``set_name`` given), so the report can pair a CKA cell with it."""

    kind = "projection"

    def summary(self):
        c = self.table("coords")
        return c.groupby(["layer", "method"]).size().rename("points").reset_index()

    def displays(self):
        methods = self.meta.get("methods") or list(dict.fromkeys(self.table("coords")["method"]))
        return [(m, ProjectionGridDisplay.from_result(self, method=m)) for m in methods]


class ProjectionGridDisplay(Display):
    """One scatter panel per layer, points coloured by label."""

    def __init__(self, coords, method: str):
        self.coords, self.method = coords, method

    @classmethod
    def from_result(cls, result, method: str | None = None) -> "ProjectionGridDisplay":
        c = result.table("coords")
        method = method or str(c["method"].iloc[0])
        return cls(c[c["method"] == method], method)

    def plot(self, ax=None, *, ncols: int | None = None, s: float = 4) -> "ProjectionGridDisplay":
        layers = sorted(self.coords["layer"].unique())
        nr, nc = grid_shape(len(layers), ncols)
        fig, axes = self._new_axes(nrows=nr, ncols=nc, figsize=(2.8 * nc, 2.8 * nr)) if ax is None else (ax.figure, ax)
        axes = np.ravel(axes) if not hasattr(axes, "plot") else np.array([axes])
        names = self.coords.drop_duplicates("label").sort_values("label")
        cmap = _pyplot_cm()
        for a, l in zip(axes, layers):
            g = self.coords[self.coords["layer"] == l]
            for i, (_, r) in enumerate(names.iterrows()):
                sel = g[g["label"] == r["label"]]
                a.scatter(sel["x"], sel["y"], s=s, color=cmap(i % 10), label=str(r["label_name"]), linewidths=0)
            a.set_title(f"layer {l}", fontsize=8)
            a.set_xticks([])
            a.set_yticks([])
        for a in axes[len(layers):]:
            a.set_visible(False)
        if len(names) <= 12:
            axes[0].legend(fontsize=6, markerscale=2, loc="best")
        fig.suptitle(f"{self.method} projection per layer", fontsize=10)
        self.figure_, self.ax_ = fig, axes
        return self


def _pyplot_cm():
    import matplotlib
    return matplotlib.colormaps["tab10"]


@register_analysis("projection", family="gptology", order=50, spec=ProjectionSpec, result=ProjectionResult,
                   inputs=[Input("reps", help="one representation folder")],
                   help="2-D t-SNE / PCA / UMAP per layer, coloured by label")
def run_projection(reps, *, spec: ProjectionSpec, progress: bool = True, texts=None, predictions=None,
                   set_name: str | None = None) -> ProjectionResult:
    """2-D t-SNE / PCA / UMAP coordinates of each layer for the same (stratified, seeded)
    subsample of at most ``max_points`` examples, as a tidy table coloured by label.

    ``texts`` (default: ``reps.texts`` where the set has it): each example's sentence, as a mapping
    from example id to text or a sequence aligned with the set's rows; a word-level row ``id:j`` takes
    the text of ``id``. ``predictions`` (default: ``reps.predictions``): the model's predicted label
    index per example, the same two ways. Both are saved in the table for the report's hover labels
    only. ``set_name``: the name the report pairs with CKA's sets (default ``model[@checkpoint]``)."""
    import pandas as pd

    from ftgeo.analyses._inputs import set_names
    from ftgeo.analysis.projection import project, subsample_indices
    from ftgeo.progress import progress as _progress

    methods = list(spec.method)
    lay = select_layers(reps, spec.layers)
    labels = np.asarray(reps.labels)
    idx = subsample_indices(labels.size, spec.max_points, spec.seed, labels=labels)
    names = list(reps.label_names)
    ids = np.asarray(reps.ids)
    text = _per_row(texts if texts is not None else getattr(reps, "texts", None), ids, "texts", str)
    pred = _per_row(predictions if predictions is not None else getattr(reps, "predictions", None), ids,
                    "predictions", int)
    extra = {}
    if text is not None:
        extra["text"] = [("" if t is None else str(t)) for t in text[idx]]
    if pred is not None:
        p = np.asarray([-1 if v is None else int(v) for v in pred[idx]], dtype=np.int64)
        extra["prediction"] = p
        extra["prediction_name"] = [names[v] if 0 <= v < len(names) else "" for v in p]
    frames = []
    for m in methods:
        for l in _progress(lay, enabled=progress, desc=f"{m} per layer", leave=False):
            P = project(reps.layer(l, dtype=np.float64)[idx], m, random_state=spec.seed, perplexity=spec.perplexity)
            lab = labels[idx]
            frames.append(pd.DataFrame({"layer": l, "method": m, "index": idx, "id": ids[idx], "label": lab,
                                        "label_name": [names[v] if 0 <= v < len(names) else "unlabelled" for v in lab],
                                        "x": P[:, 0], "y": P[:, 1], **extra}))
    return ProjectionResult(tables={"coords": pd.concat(frames, ignore_index=True)},
                            meta={"set": set_name or set_names([reps])[0],
                                  "methods": methods, "layers": lay, "max_samples": spec.max_points,
                                  "random_state": spec.seed, "perplexity": spec.perplexity})


def _per_row(values, ids: np.ndarray, what: str, cast) -> np.ndarray | None:
    """``values`` (a mapping id -> value, or a sequence with one value per row) as an object array
    aligned with ``ids``; a word-level row ``id:j`` missing from a mapping takes the value of ``id``;
    rows the mapping does not name get None. None stays None."""
    if values is None:
        return None
    if hasattr(values, "get") and not isinstance(values, (str, bytes)):
        out = np.empty(ids.size, dtype=object)
        for i, k in enumerate(ids):
            k = str(k)
            v = values.get(k)
            if v is None and ":" in k:
                v = values.get(k.rsplit(":", 1)[0])
            out[i] = None if v is None else cast(v)
        return out
    vals = list(values)
    if len(vals) != ids.size:
        raise ValidationError(f"projection: {what} must be a mapping from example id or one value per row "
                              f"({ids.size}); got {len(vals)} values")
    out = np.empty(ids.size, dtype=object)
    out[:] = [None if v is None else cast(v) for v in vals]
    return out


def example_texts(task, split: str) -> dict[str, str]:
    """``{example id: text}`` of a task's split, for :func:`run_projection`'s ``texts`` (a sentence
    pair as ``text [SEP] text_pair``; a word-level example as its words joined by spaces)."""
    out = {}
    for ex in task.examples(split):
        if ex.text is not None:
            out[str(ex.id)] = ex.text + (f" [SEP] {ex.text_pair}" if ex.text_pair else "")
        elif ex.words:
            out[str(ex.id)] = " ".join(ex.words)
    return out
