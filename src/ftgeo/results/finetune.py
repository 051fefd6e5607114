"""``FinetuneResult`` (kind ``finetune``): what one fine-tuning run produced.

Tables: ``metrics`` (tidy: step, epoch, split, metric, value: training loss, learning rate and
gradient norm on split ``train``; loss, accuracy, macro-F1 on the eval split and the held-out
part of train) and ``checkpoints`` (step, epoch, path, and the eval metrics at that step).
Meta: the model folder, the settings, the final metrics.

Defined here, with the other result types; :func:`ftgeo.finetune.checkpoints.read_result` reads one
from a model folder, and :class:`Checkpoint` (one saved checkpoint) is the record both share.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ftgeo.results.base import Result

METRIC_COLUMNS = ["step", "epoch", "split", "metric", "value"]


@dataclass(frozen=True)
class Checkpoint:
    """One saved checkpoint: optimizer step, (fractional) epoch, folder, eval metrics at that step."""

    step: int
    epoch: float
    path: Path
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """A short label for stores and plots: ``step-<step>``."""
        return f"step-{self.step}"

    def to_dict(self, root: Path | None = None) -> dict[str, Any]:
        p = self.path
        if root is not None:
            try:
                p = self.path.relative_to(root)
            except ValueError:
                pass
        return {"step": self.step, "epoch": self.epoch, "path": str(p), "metrics": dict(self.metrics)}


class FinetuneResult(Result):
    """The final model folder, its checkpoints in order, and the metrics of the run."""

    kind = "finetune"
    family = "finetune"

    # ------------------------------------------------------------------ convenience
    @property
    def model_dir(self) -> Path:
        """The final model's folder (loads with ``load_model`` and ``load_finetuned``)."""
        return Path(self.meta["model_dir"])

    @property
    def checkpoints(self) -> list:
        """The run's checkpoints (:class:`ftgeo.finetune.Checkpoint`) in step order."""
        return [Checkpoint(int(c["step"]), float(c["epoch"]), Path(c["path"]), dict(c.get("metrics") or {}))
                for c in self.meta.get("checkpoints") or []]

    @property
    def metrics(self) -> pd.DataFrame:
        return self.tables["metrics"]

    @property
    def final_metrics(self) -> dict[str, float]:
        return dict((self.meta.get("final") or {}).get("metrics") or {})

    @property
    def accuracy(self) -> float:
        """Final accuracy on the eval split."""
        return float(self.final_metrics.get("eval_accuracy", float("nan")))

    def summary(self) -> pd.DataFrame:
        fin = self.final_metrics
        splits = sorted({k.split("_", 1)[0] for k in fin})
        rows = []
        for s in splits:
            rows.append({"split": self.meta.get("eval_split") if s == "eval" else s,
                         "accuracy": fin.get(f"{s}_accuracy"), "macro_f1": fin.get(f"{s}_macro_f1"),
                         "loss": fin.get(f"{s}_loss"), "n": fin.get(f"{s}_n")})
        df = pd.DataFrame(rows)
        df.insert(0, "model", self.meta.get("model"))
        df.insert(1, "task", self.meta.get("task"))
        df.insert(2, "recipe", self.meta.get("recipe"))
        df["steps"] = self.meta.get("global_step")
        df["checkpoints"] = len(self.meta.get("checkpoints") or [])
        return df

    # ------------------------------------------------------------------ report
    def best_vs_final(self) -> dict | None:
        """``{best_step, best_accuracy, final_step, final_accuracy, kept}``: the checkpoint with the best
        eval accuracy against the final model (``kept`` = the step of the model the analyses read:
        ``final.best_checkpoint`` where the recipe loads the best one at the end, else the final step)."""
        cks = [c for c in self.checkpoints if "eval_accuracy" in c.metrics]
        if not cks:
            return None
        best = max(cks, key=lambda c: float(c.metrics["eval_accuracy"]))
        final = self.meta.get("final") or {}
        kept = final.get("best_checkpoint")
        kept_step = _step_in(kept) if kept else final.get("step", self.meta.get("global_step"))
        return {"best_step": best.step, "best_accuracy": float(best.metrics["eval_accuracy"]),
                "final_step": final.get("step", self.meta.get("global_step")), "final_accuracy": self.accuracy,
                "kept": kept_step}

    def findings(self):
        """The final eval accuracy, and the best checkpoint against the final model the analyses use."""
        from ftgeo.results.findings import num
        out = [(f"Fine-tuning {self.meta.get('model')} on {self.meta.get('task')} ({self.meta.get('recipe')}): final "
                f"{self.meta.get('eval_split', 'eval')} accuracy {num(self.accuracy)} after "
                f"{num(self.meta.get('global_step'))} steps.", "curves")]
        bvf = self.best_vs_final()
        if bvf and bvf["best_step"] != bvf["final_step"]:
            out.append((f"The best checkpoint was step {bvf['best_step']} ({num(bvf['best_accuracy'])}), the final "
                        f"model step {num(bvf['final_step'])} ({num(bvf['final_accuracy'])}); the analyses use the "
                        f"model of step {num(bvf['kept'])}.", "curves"))
        return out

    def displays(self):
        return [("curves", FinetuneCurveDisplay.from_result(self))]

    def __repr__(self) -> str:
        return (f"<FinetuneResult {self.meta.get('model')} on {self.meta.get('task')} ({self.meta.get('recipe')}): "
                f"{len(self.meta.get('checkpoints') or [])} checkpoints, eval accuracy {self.accuracy:.4f}, "
                f"folder {self.model_dir}>")


def _step_in(text) -> int | None:
    import re
    m = re.search(r"(\d+)(?!.*\d)", str(text))
    return int(m.group(1)) if m else None


from ftgeo.plot.base import Display  # noqa: E402 - after the result, which the plot layer does not need


class FinetuneCurveDisplay(Display):
    """Training loss and eval loss over steps (left), eval accuracy over steps (right), with the best
    checkpoint and the final model marked."""

    def __init__(self, metrics: pd.DataFrame, bvf: dict | None, eval_split: str = "eval"):
        self.metrics, self.bvf, self.eval_split = metrics.copy(), bvf, eval_split

    @classmethod
    def from_result(cls, result) -> "FinetuneCurveDisplay":
        m = result.tables.get("metrics")
        return cls(m if m is not None else pd.DataFrame(columns=METRIC_COLUMNS), result.best_vs_final(),
                   str(result.meta.get("eval_split") or "eval"))

    def empty_reason(self) -> str | None:
        return "the run logged no metrics" if self.metrics.empty else None

    def plot(self, ax=None) -> "FinetuneCurveDisplay":
        import numpy as np
        fig, axes = self._new_axes(ncols=2, figsize=(8.5, 3.3)) if ax is None else (ax[0].figure, ax)
        axes = list(np.ravel(axes))
        m = self.metrics
        for split, style in (("train", "-"), (self.eval_split, "-o")):
            g = m[(m["split"] == split) & (m["metric"] == "loss")].sort_values("step")
            if len(g):
                axes[0].plot(g["step"], g["value"], style, ms=3, label=f"{split} loss")
        acc = m[(m["split"] != "train") & (m["metric"] == "accuracy")]
        for split, g in acc.groupby("split", sort=False):
            g = g.sort_values("step")
            axes[1].plot(g["step"], g["value"], "-o", ms=3, label=f"{split} accuracy")
        if self.bvf:
            axes[1].plot([self.bvf["best_step"]], [self.bvf["best_accuracy"]], "*", ms=11, color="tab:red",
                         label=f"best: step {self.bvf['best_step']} ({self.bvf['best_accuracy']:.3f})")
            if self.bvf["final_step"] is not None:
                axes[1].axvline(float(self.bvf["final_step"]), color="k", ls="--", lw=0.8,
                                label=f"final model: step {self.bvf['final_step']} ({self.bvf['final_accuracy']:.3f})")
        for a, ylab in zip(axes, ("loss", "accuracy")):
            a.set_xlabel("training step")
            a.set_ylabel(ylab)
            a.grid(alpha=0.3)
            if a.get_legend_handles_labels()[0]:
                a.legend(fontsize=7)
        axes[0].set_title("loss", fontsize=9)
        axes[1].set_title("eval accuracy", fontsize=9)
        self.figure_, self.ax_ = fig, axes
        return self
