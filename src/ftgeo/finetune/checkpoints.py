"""Checkpoints of a fine-tuning run, in training order, for dynamics analyses.

A model folder written by :func:`ftgeo.finetune.finetune` looks like::

    <model folder>/
      config.json, model.safetensors, tokenizer*, ftgeo_head.json[, ftgeo_head.safetensors]   final model
      ftgeo_finetune.json     metadata: settings, head, checkpoints in order, final metrics, complete flag
      metrics.csv             tidy table: step, epoch, split, metric, value
      checkpoints/checkpoint-<step>/   HF folders (model + head + trainer state; the optimizer, scheduler and RNG
                                       state only while the run is unfinished: resuming needs them)

Every checkpoint folder loads with :func:`ftgeo.models.load_model` (base model, for extraction)
and :func:`ftgeo.finetune.load_finetuned` (model + head), like the final model.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ftgeo.results.finetune import Checkpoint, FinetuneResult
from ftgeo.errors import DataNotFoundError, ValidationError

META_FILE = "ftgeo_finetune.json"
CKPT_META = "ftgeo_checkpoint.json"
CHECKPOINT_DIR = "checkpoints"
FORMAT = "ftgeo-finetune/1"


def read_meta(model_folder: str | Path) -> dict[str, Any] | None:
    """The folder's ``ftgeo_finetune.json``, or None if it has none."""
    f = Path(model_folder) / META_FILE
    if not f.is_file():
        return None
    try:
        meta = json.loads(f.read_text())
    except ValueError as exc:
        raise ValidationError(f"{f} is not valid JSON ({exc}); the folder was edited or damaged: fine-tune again "
                              "into a new folder, or pass overwrite=True") from None
    if not isinstance(meta, dict):
        raise ValidationError(f"{f} does not hold a JSON object; fine-tune again into a new folder, or pass "
                              "overwrite=True")
    return meta


def list_checkpoints(model_folder: str | Path, *, include_final: bool = False) -> list[Checkpoint]:
    """The checkpoints of a fine-tuning run, ordered by step.

    Reads ``ftgeo_finetune.json``; a run interrupted before writing it is read from the
    ``checkpoints/checkpoint-*`` folders themselves. ``include_final=True`` appends the final
    model folder as the last entry (its step is the last optimizer step; with early stopping its
    weights are those of the best checkpoint).
    """
    root = Path(model_folder).expanduser().resolve()
    if not root.is_dir():
        raise DataNotFoundError(f"model folder {root} does not exist")
    meta = read_meta(root)
    out: list[Checkpoint] = []
    if meta is not None and meta.get("checkpoints") is not None:
        for c in meta["checkpoints"]:
            p = Path(c["path"])
            out.append(Checkpoint(int(c["step"]), float(c["epoch"]), p if p.is_absolute() else root / p,
                                  dict(c.get("metrics") or {})))
        out = [c for c in out if c.path.is_dir()]
    else:
        out = scan_checkpoints(root)
    if not out and meta is None and not (root / CHECKPOINT_DIR).is_dir():
        raise DataNotFoundError(f"{root} is not a fine-tuning model folder (no {META_FILE} and no "
                                f"{CHECKPOINT_DIR}/); pass the folder `ftgeo finetune` wrote")
    out.sort(key=lambda c: c.step)
    if include_final and meta is not None and meta.get("complete"):
        fin = meta.get("final") or {}
        out.append(Checkpoint(int(fin.get("step", out[-1].step if out else 0)), float(fin.get("epoch", 0.0)), root,
                              dict(fin.get("metrics") or {})))
    return out


def scan_checkpoints(root: Path) -> list[Checkpoint]:
    """Checkpoints found on disk (``checkpoints/checkpoint-<step>`` with a trainer state)."""
    out = []
    base = Path(root) / CHECKPOINT_DIR
    if not base.is_dir():
        return out
    for d in base.iterdir():
        m = re.fullmatch(r"checkpoint-(\d+)", d.name)
        if not m or not (d / "config.json").is_file():
            continue
        step, epoch, metrics = int(m.group(1)), 0.0, {}
        if (d / CKPT_META).is_file():
            info = json.loads((d / CKPT_META).read_text())
            epoch, metrics = float(info.get("epoch", 0.0)), dict(info.get("metrics") or {})
        elif (d / "trainer_state.json").is_file():
            epoch = float(json.loads((d / "trainer_state.json").read_text()).get("epoch") or 0.0)
        out.append(Checkpoint(step, epoch, d.resolve(), metrics))
    out.sort(key=lambda c: c.step)
    return out


def last_checkpoint(root: Path) -> Path | None:
    """The resumable checkpoint with the highest step: its save finished (``ftgeo_checkpoint.json``,
    written after everything else) and it holds ``trainer_state.json``."""
    ok = [c for c in scan_checkpoints(root)
          if (c.path / "trainer_state.json").is_file() and (c.path / CKPT_META).is_file()]
    return ok[-1].path if ok else None


RESUME_STATE = ("optimizer.pt", "scheduler.pt", "scaler.pt")     # what only resuming reads (and rng_state*.pth)


def drop_resume_state(root: str | Path) -> int:
    """Delete the optimizer, scheduler, scaler and RNG state of every finished checkpoint under ``root`` (a model
    folder whose run is complete: nothing resumes from them; the weights stay for dynamics and extraction).
    Only those files of the Trainer's, in folders holding ftgeo's ``ftgeo_checkpoint.json``. Returns bytes freed."""
    freed = 0
    for c in scan_checkpoints(Path(root)):
        if not (c.path / CKPT_META).is_file():
            continue
        for f in [c.path / n for n in RESUME_STATE] + sorted(c.path.glob("rng_state*.pth")):
            if f.is_file():
                freed += f.stat().st_size
                f.unlink()
    return freed


def read_result(folder: str | Path) -> FinetuneResult:
    """The :class:`~ftgeo.results.finetune.FinetuneResult` of a (complete or partial) run, read from its
    model folder: metrics, checkpoints in step order, settings and final metrics."""
    import pandas as pd

    from ftgeo.finetune.metrics import METRIC_COLUMNS
    folder = Path(folder).expanduser().resolve()
    meta = read_meta(folder)
    if meta is None:
        raise DataNotFoundError(f"{folder} holds no {META_FILE}; it is not a model folder written by finetune")
    f = folder / "metrics.csv"
    metrics = pd.read_csv(f) if f.is_file() and f.stat().st_size else pd.DataFrame(columns=METRIC_COLUMNS)
    cks = list_checkpoints(folder)
    rows = [{"step": c.step, "epoch": c.epoch, "path": str(c.path), **c.metrics} for c in cks]
    ck_df = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["step", "epoch", "path"])
    ident = meta.get("identity") or {}
    m = {"model_dir": str(folder), "model": ident.get("model"), "task": ident.get("task"),
         "recipe": (ident.get("recipe") or {}).get("name"), "head": ident.get("head"),
         "eval_split": ident.get("eval_split"), "seed": ident.get("seed"),
         "complete": bool(meta.get("complete")), "final": meta.get("final"),
         "train_seconds": meta.get("train_seconds"), "global_step": meta.get("global_step"),
         "settings": ident, "checkpoints": [c.to_dict() for c in cks]}
    return FinetuneResult(tables={"metrics": metrics, "checkpoints": ck_df}, meta=m)

