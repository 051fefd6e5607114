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

    def __repr__(self) -> str:
        return (f"<FinetuneResult {self.meta.get('model')} on {self.meta.get('task')} ({self.meta.get('recipe')}): "
                f"{len(self.meta.get('checkpoints') or [])} checkpoints, eval accuracy {self.accuracy:.4f}, "
                f"folder {self.model_dir}>")
