"""What a fine-tuning model folder holds that ftgeo wrote, and how to clean or replace it safely.

``ftgeo_finetune.json`` lists the folder's top-level entries ftgeo wrote (``files``): the
metadata itself, ``metrics.csv``, ``checkpoints/`` (the ``Trainer``'s output folder, all of it
ftgeo's) and the final model's files. ``overwrite`` removes exactly those and refuses a folder
that holds anything else, naming the first foreign entry. (Folders written before ``files`` was
recorded fall back to the names a final save writes: config, weights, tokenizer, head files.)

Crash consistency of the folder:

* metadata, metrics and checkpoint records are written atomically (temp + rename);
* a checkpoint counts once ``ftgeo_checkpoint.json`` is in it, which is written after the
  ``Trainer`` saved everything else; a checkpoint folder without it is the remains of a killed
  save and is removed by the next run (under the folder's lock) before it resumes;
* the final model is saved into a temporary sibling (``.final.tmp``), its file names are
  recorded in the metadata, then each file is renamed into place; the run is marked complete last.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterable

from ftgeo._atomic import clean_stale_tmp, is_tmp_name
from ftgeo._lock import LOCK_NAME
from ftgeo.errors import ValidationError
from ftgeo.finetune.checkpoints import CHECKPOINT_DIR, CKPT_META, META_FILE

FINAL_TMP = ".final.tmp"
#: entries of every fine-tuning folder that are ftgeo's
ALWAYS_OWNED = (META_FILE, LOCK_NAME, "metrics.csv", CHECKPOINT_DIR)
#: what a final save writes (transformers' save_pretrained, the tokenizer, ftgeo's head files); used for
#: folders whose metadata predates the ``files`` list
KNOWN_FINAL = ("config.json", "generation_config.json", "model.safetensors", "model.safetensors.index.json",
               "pytorch_model.bin", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
               "vocab.txt", "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja",
               "tokenizer.model", "training_args.bin", "ftgeo_head.json", "ftgeo_head.safetensors",
               "adapter_config.json", "adapter_model.safetensors")
_CKPT_RE = re.compile(r"checkpoint-\d+")


def owned_entries(meta: dict[str, Any] | None) -> set[str]:
    out = set(ALWAYS_OWNED)
    files = (meta or {}).get("files")
    if isinstance(files, list):
        out |= {f for f in files if isinstance(f, str)}
    else:
        out |= set(KNOWN_FINAL)
    return out


def foreign_entries(folder: Path, meta: dict[str, Any] | None) -> list[str]:
    """Top-level entries of ``folder`` that ftgeo did not write (sorted)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    owned = owned_entries(meta)
    return [p.name for p in sorted(folder.iterdir()) if p.name not in owned and not is_tmp_name(p.name)]


def refuse_foreign(folder: Path, meta: dict[str, Any] | None, doing: str) -> None:
    foreign = foreign_entries(folder, meta)
    if foreign:
        raise ValidationError(f"refusing to {doing} {folder}: it holds {foreign[0]!r}, which ftgeo did not write "
                              f"({len(foreign)} such entr{'y' if len(foreign) == 1 else 'ies'}); move it away or "
                              "pick another out/name")


def remove_owned(folder: Path, meta: dict[str, Any] | None) -> None:
    """Delete what ftgeo wrote in ``folder`` (not the folder, not its lock); refuse if anything else is there."""
    folder = Path(folder)
    refuse_foreign(folder, meta, "overwrite")
    owned = owned_entries(meta) - {LOCK_NAME}
    for p in sorted(folder.iterdir()):
        if p.name in owned or is_tmp_name(p.name):
            _remove(p)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    else:
        p.unlink(missing_ok=True)


def clean_partial(folder: Path) -> list[Path]:
    """Remove what a killed run left half-written: temporary files and checkpoint folders whose
    save did not finish (no ``ftgeo_checkpoint.json``). Call it only while holding the folder's lock."""
    folder = Path(folder)
    removed = clean_stale_tmp([folder, folder / CHECKPOINT_DIR])
    base = folder / CHECKPOINT_DIR
    if base.is_dir():
        for d in sorted(base.iterdir()):
            if d.is_dir() and _CKPT_RE.fullmatch(d.name) and not (d / CKPT_META).is_file():
                shutil.rmtree(d)
                removed.append(d)
    return removed


def record_files(meta: dict[str, Any], names: Iterable[str]) -> None:
    """Add ``names`` to the metadata's list of entries ftgeo wrote."""
    have = meta.get("files") if isinstance(meta.get("files"), list) else list(ALWAYS_OWNED[:1] + ALWAYS_OWNED[2:])
    meta["files"] = sorted(set(have) | set(names))


def move_final(tmp: Path, folder: Path) -> list[str]:
    """Rename every file of the temporary final save ``tmp`` into ``folder``; remove ``tmp``."""
    names = []
    for p in sorted(tmp.iterdir()):
        os.replace(p, folder / p.name)
        names.append(p.name)
    tmp.rmdir()
    return names
