"""``FinetuneResult`` (kind ``finetune``): what one fine-tuning run produced.

Tables: ``metrics`` (tidy: step, epoch, split, metric, value: training loss, learning rate and
gradient norm on split ``train``; loss, accuracy, macro-F1 on the eval split and the held-out
part of train) and ``checkpoints`` (step, epoch, path, and the eval metrics at that step).
Meta: the model folder, the settings, the final metrics.

Defined here, with the other result types; reading a model folder (:meth:`FinetuneResult.from_folder`)
uses :mod:`ftgeo.finetune.checkpoints` at call time, so importing this module imports no fine-tuning code.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ftgeo.errors import DataNotFoundError
from ftgeo.results.base import Result

METRIC_COLUMNS = ["step", "epoch", "split", "metric", "value"]


class FinetuneResult(Result):
    """The final model folder, its checkpoints in order, and the metrics of the run."""

    kind = "finetune"
    family = "finetune"

    @classmethod
    def from_folder(cls, folder: str | Path) -> "FinetuneResult":
        """Read the result of a (complete or partial) run from its model folder."""
        from ftgeo.finetune.checkpoints import META_FILE, list_checkpoints, read_meta
        folder = Path(folder).expanduser().resolve()
        meta = read_meta(folder)
        if meta is None:
            raise DataNotFoundError(f"{folder} holds no {META_FILE}; it is not a model folder written by finetune")
        f = folder / "metrics.csv"
        metrics = pd.read_csv(f) if f.is_file() and f.stat().st_size else pd.DataFrame(columns=METRIC_COLUMNS)
        cks = list_checkpoints(folder)
        rows = []
        for c in cks:
            row: dict[str, Any] = {"step": c.step, "epoch": c.epoch, "path": str(c.path)}
            row.update(c.metrics)
            rows.append(row)
        ck_df = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["step", "epoch", "path"])
        ident = meta.get("identity") or {}
        m = {"model_dir": str(folder), "model": ident.get("model"), "task": ident.get("task"),
             "recipe": (ident.get("recipe") or {}).get("name"), "head": ident.get("head"),
             "eval_split": ident.get("eval_split"), "seed": ident.get("seed"),
             "complete": bool(meta.get("complete")), "final": meta.get("final"),
             "train_seconds": meta.get("train_seconds"), "global_step": meta.get("global_step"),
             "settings": ident, "checkpoints": [c.to_dict() for c in cks]}
        return cls(tables={"metrics": metrics, "checkpoints": ck_df}, meta=m)

    # ------------------------------------------------------------------ convenience
    @property
    def model_dir(self) -> Path:
        """The final model's folder (loads with ``load_model`` and ``load_finetuned``)."""
        return Path(self.meta["model_dir"])

    @property
    def checkpoints(self) -> list:
        """The run's checkpoints (:class:`ftgeo.finetune.Checkpoint`) in step order."""
        from ftgeo.finetune.checkpoints import Checkpoint
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
