"""``finetune``: one model, one task, one recipe -> a model folder with ordered checkpoints.

Plan of one call:

1. resolve the recipe (overrides applied), the task and its splits (``eval_split`` defaults to
   ``dev``, then ``validation``, then ``test``), subsample train (``max_train_samples``, seeded)
   and carve the held-out part (``heldout_fraction``, seeded);
2. pick the model folder (``out``, or ``run/models/<name>``; ``name`` must be a plain name); a
   complete folder with the same settings is returned as is (no lock: works read-only);
3. take the folder's lock (:mod:`ftgeo._lock`), remove what a killed run left half-written
   (:mod:`ftgeo.finetune.folder`) and look again: a folder with other settings raises
   :class:`~ftgeo.errors.ManifestMismatchError` (``overwrite=True`` replaces it, removing only what
   ftgeo wrote), a partial one is resumed from its last complete checkpoint
   (``Trainer.train(resume_from_checkpoint=...)``);
4. load the model with its head (``sequence`` for sentence/pair tasks, ``word``/``pair`` for
   token tasks), check ``max_length`` against its positions, tokenise exactly as extraction
   does, and train with :class:`FtgeoTrainer`;
5. write the final model (with early stopping: the best held-out checkpoint's weights) through a
   temporary folder, the metadata (``ftgeo_finetune.json``), ``metrics.csv`` and, in a run folder,
   the result ``run/results/finetune__<name>``.

Seeding: ``seed`` seeds the head initialisation, the data order (``Trainer``'s ``seed`` and
``data_seed``), dropout, the subsample and the held-out split. Like ``Trainer`` itself,
fine-tuning sets torch's global seed (``transformers.set_seed``).
"""
from __future__ import annotations

import datetime as _dt
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ftgeo._atomic import StorageError, is_disk_full, is_tmp_name, storage_errors, write_json, write_text
from ftgeo._lock import LOCK_NAME, FolderLock, LockHeldError
from ftgeo.errors import ManifestMismatchError, ValidationError
from ftgeo.finetune.checkpoints import (CHECKPOINT_DIR, CKPT_META, FORMAT, META_FILE, Checkpoint, drop_resume_state,
                                        last_checkpoint, read_meta, read_result, scan_checkpoints)
from ftgeo.finetune.folder import (ALWAYS_OWNED, FINAL_TMP, clean_partial, move_final, record_files, refuse_foreign,
                                   remove_owned)
from ftgeo.finetune.recipes import Recipe, get_recipe
from ftgeo.run import RunDir, check_name, is_run_folder, slug

EVAL_SPLIT_ORDER = ("dev", "validation", "valid", "test")


def _resolve_task(task, data_root):
    if isinstance(task, str):
        from ftgeo.data import load_task
        return load_task(task, data_root=data_root) if data_root is not None else load_task(task)
    return task


def default_eval_split(task, train_split: str) -> str:
    splits = list(task.splits())
    for s in EVAL_SPLIT_ORDER:
        if s in splits and s != train_split:
            return s
    raise ValidationError(f"task {task.name!r} has no evaluation split (it has {splits}); pass eval_split= "
                          f"one of them (not the train split {train_split!r})")


def head_kind(task, train_examples: Sequence) -> str:
    """``sequence`` (sentence and pair tasks), ``word`` or ``pair`` (token tasks)."""
    if task.kind in ("sentence", "pair"):
        return "sequence"
    if task.kind == "token":
        from ftgeo.finetune.heads import head_arity
        return "word" if head_arity(train_examples) == 1 else "pair"
    raise ValidationError(f"task {task.name!r} is {task.kind!r}: it has no labels to fine-tune on; pick a "
                          "labelled task (sentence, pair or token kind)")


def _default_name(display: str, task_name: str, recipe: Recipe, seed: int, max_train_samples: int | None,
                  peft=None) -> str:
    parts = [slug(display), slug(task_name), recipe.name, f"s{seed}"]
    if max_train_samples is not None:
        parts.append(f"n{max_train_samples}")
    if peft is not None:
        parts.append(peft.method if peft.method == "ia3" else f"{peft.method}-r{peft.rank}")
    return "__".join(parts)


def peft_settings(peft: str | None, *, lora_rank: int | None = None, lora_alpha: float | None = None,
                  lora_dropout: float | None = None, target_modules=None):
    """The :class:`~ftgeo.models.adapters.PeftSettings` of ``peft`` (``None``/``"none"``: full fine-tuning,
    and then no adapter setting may be given); one line for every bad value."""
    lora = {"lora_rank": lora_rank, "lora_alpha": lora_alpha, "lora_dropout": lora_dropout}
    if peft in (None, "none"):
        given = [k for k, v in {**lora, "target_modules": target_modules}.items() if v is not None]
        if given:
            raise ValidationError(f"{given[0]} applies to parameter-efficient fine-tuning; pass peft='lora' (CLI "
                                  f"--peft lora) or drop {given[0]}")
        return None
    from ftgeo.models.adapters import PEFT_METHODS, PeftSettings
    if peft not in PEFT_METHODS:
        raise ValidationError(f"peft={peft!r} must be one of none, {', '.join(PEFT_METHODS)}")
    if peft == "ia3":
        given = [k for k, v in lora.items() if v is not None]
        if given:
            raise ValidationError(f"{given[0]} applies to lora and qlora, not ia3 (IA3 learns scaling vectors, "
                                  "with no rank)")
        return PeftSettings("ia3", target_modules=tuple(target_modules) if target_modules else None)
    kw = {k: v for k, v in (("rank", lora_rank), ("alpha", lora_alpha), ("dropout", lora_dropout)) if v is not None}
    if "alpha" in kw:
        kw["alpha"] = float(kw["alpha"])
    return PeftSettings(peft, target_modules=tuple(target_modules) if target_modules else None, **kw)


def _check_existing_head(model, task, kind: str) -> None:
    """A fine-tuned folder whose sequence head has another label count cannot be reused as is."""
    import json
    p = Path(str(model)).expanduser()
    if kind != "sequence" or not (p / "config.json").is_file():
        return
    cfg = json.loads((p / "config.json").read_text())
    if any(a.endswith("ForSequenceClassification") for a in cfg.get("architectures") or []):
        n = len(cfg.get("id2label") or {}) or cfg.get("num_labels")
        if n and n != task.num_labels:
            raise ValidationError(f"{p} already has a {n}-label classification head and task {task.name!r} has "
                                  f"{task.num_labels} labels; fine-tune from the pre-trained model instead")


def _world_size() -> int:
    return max(int(os.environ.get("WORLD_SIZE", "1") or 1), 1)


# ----------------------------------------------------------------------------- one run, step by step
@dataclass
class _Data:
    """The task and its example lists, validated."""

    task: Any
    kind: str
    train_split: str
    eval_split: str
    train_ex: list
    held_ex: list
    eval_ex: list


@dataclass
class _Where:
    """Where the run goes and what identifies it."""

    run: RunDir | None
    folder: Path
    name: str
    display: str
    identity: dict[str, Any]


@dataclass
class _Features:
    train: list
    held: list
    eval: list
    dropped: int
    dropped_eval: int
    seconds: float


def _renamed(kwargs: dict, old: str, new: str, value):
    """``kwargs.pop(old)`` with a deprecation warning when given (and ``new`` is not), else ``value``."""
    if old not in kwargs:
        return value
    import warnings
    warnings.warn(f"finetune({old}=...) is deprecated; use {new}=", FutureWarning, stacklevel=3)
    given = kwargs.pop(old)
    return value if value is not None else given


def _check_args(model, epochs, checkpoint_every, max_train_samples, name, lock_timeout):
    if isinstance(model, (str, Path)) and not str(model):
        raise ValidationError("model is empty; pass a packaged name, a model folder or a hub id")
    if epochs is not None and (not isinstance(epochs, (int, float)) or epochs <= 0):
        raise ValidationError(f"epochs={epochs!r} must be a positive number")
    if checkpoint_every is not None and (not isinstance(checkpoint_every, (int, float)) or checkpoint_every <= 0):
        raise ValidationError(f"checkpoint_every={checkpoint_every!r} must be a number of steps (>= 1) or a "
                              "fraction of an epoch (0 < f < 1)")
    if checkpoint_every is not None and checkpoint_every >= 1:
        checkpoint_every = int(round(checkpoint_every))
    if max_train_samples is not None and (not isinstance(max_train_samples, int) or max_train_samples < 1):
        raise ValidationError(f"max_train_samples={max_train_samples!r} must be a positive integer or None")
    if name is not None:
        check_name(name, "name (the model folder's name in the run)")
    if not isinstance(lock_timeout, (int, float)) or lock_timeout < 0:
        raise ValidationError(f"lock_timeout={lock_timeout!r} must be a number of seconds >= 0")
    return checkpoint_every


def _load_data(task, data_root, train_split, eval_split, rec: Recipe, seed, max_train_samples,
               max_eval_samples) -> _Data:
    from ftgeo.finetune.data import split_heldout, subsample
    task = _resolve_task(task, data_root)
    if task.kind == "unlabelled":
        raise ValidationError(f"task {task.name!r} is unlabelled (kind 'unlabelled'): there is nothing to "
                              "fine-tune a classifier on; pick a labelled task")
    splits = list(task.splits())
    if train_split not in splits:
        raise ValidationError(f"task {task.name!r} has no train split {train_split!r}; it has {splits}")
    if eval_split is None:
        eval_split = default_eval_split(task, train_split)
    elif eval_split not in splits:
        raise ValidationError(f"task {task.name!r} has no eval split {eval_split!r}; it has {splits} "
                              "(pass eval_split= one of them)")
    if task.num_labels < 2:
        raise ValidationError(f"task {task.name!r} has {task.num_labels} label(s) {list(task.label_names)}; a "
                              "classification head needs at least 2")
    train_all = task.examples(train_split)
    if not train_all:
        raise ValidationError(f"task {task.name!r} split {train_split!r} is empty")
    kind = head_kind(task, train_all)
    train_ex = subsample(train_all, max_train_samples, seed)
    train_ex, held_ex = split_heldout(train_ex, rec.heldout_fraction, seed)
    eval_ex = task.examples(eval_split)
    if max_eval_samples is not None:
        eval_ex = eval_ex[:max_eval_samples]
    return _Data(task, kind, train_split, eval_split, train_ex, held_ex, eval_ex)


def _locate(model, out, name, data: _Data, rec: Recipe, settings: dict[str, Any]) -> _Where:
    from ftgeo.data.base import fingerprint_examples
    from ftgeo.extract.identity import model_identity
    ident = model_identity(model)
    if is_run_folder(out):
        run = out if isinstance(out, RunDir) else RunDir(out)
        name = name or _default_name(ident.name, data.task.name, rec, settings["seed"], settings["max_train_samples"],
                                     _peft_of(settings))
        folder = run.model_dir(name)
    else:
        run, folder = None, Path(out)
        name = name or folder.name
    identity = {"format": FORMAT, "model": ident.name, "model_id": ident.id, "task": data.task.name,
                "head": data.kind, "train_split": data.train_split, "eval_split": data.eval_split,
                "recipe": rec.to_dict(), **settings,
                "train_fingerprint": fingerprint_examples(data.train_ex, data.task.label_names),
                "eval_fingerprint": fingerprint_examples(data.eval_ex, data.task.label_names)}
    return _Where(run, folder.expanduser().resolve(), name, ident.name, identity)


def _peft_of(settings: dict[str, Any]):
    p = settings.get("peft")
    if not p:
        return None
    from ftgeo.models.adapters import PeftSettings
    return PeftSettings(**{k: v for k, v in p.items() if k in ("method", "rank", "alpha", "dropout", "target_modules")})


def _result(where: _Where, rank: int, *, always_save: bool):
    """The run's :class:`FinetuneResult`; in a run folder also saved to ``results/finetune__<name>``."""
    result = read_result(where.folder)
    if where.run is not None and rank == 0:
        target = where.run.result_dir(f"finetune__{where.name}")
        if always_save or not (target / "result.json").is_file():  # (a run killed while saving it)
            with storage_errors(target, "save the fine-tuning result"):
                result.save(target)
    return result


def _decide(folder: Path, old: dict | None, identity: dict[str, Any], overwrite: bool) -> str:
    """``done`` (complete, same settings), ``resume``, ``fresh`` or ``replace``; raises on other settings
    (without ``overwrite``) and on a folder holding files ftgeo did not write."""
    if old is not None and old.get("identity") != identity:
        if not overwrite:
            diff = sorted(k for k in set(identity) | set(old.get("identity") or {})
                          if identity.get(k) != (old.get("identity") or {}).get(k))
            raise ManifestMismatchError(f"{folder} holds a fine-tuning run with other settings (differs in "
                                        f"{', '.join(diff)}); pick another out/name or pass overwrite=True")
        refuse_foreign(folder, old, "overwrite")
        return "replace"
    if old is not None:
        return "done" if old.get("complete") else "resume"
    if folder.is_dir() and any(p.name != LOCK_NAME and not is_tmp_name(p.name) for p in folder.iterdir()):
        if overwrite:
            refuse_foreign(folder, None, "overwrite")
            return "replace"
        if not (folder / CHECKPOINT_DIR).is_dir():
            raise ValidationError(f"{folder} exists, is not empty and holds no {META_FILE}; pick an empty or new "
                                  "folder, or pass overwrite=True")
        return "resume"
    return "fresh"


def _build_model(model, data: _Data, rec: Recipe, peft=None, model_dtype: str = "float32"):
    """(LoadedModel, the network with its head -- wrapped in its adapter with ``peft`` --, the head's
    metadata, the base model's parameter count)."""
    from ftgeo.extract.tokenize import check_max_length
    from ftgeo.finetune.heads import build_word_classifier
    from ftgeo.models import load_model
    task, kind = data.task, data.kind
    _check_existing_head(model, task, kind)
    load_kw: dict[str, Any] = {}
    if peft is not None:
        from ftgeo.models.adapters import bnb_config, check_qlora, require_peft
        require_peft(peft.method)
        if kind != "sequence":
            raise ValidationError(f"--peft {peft.method} trains sentence and sentence-pair heads; task {task.name!r} "
                                  f"has word-level targets ({kind} head): fine-tune it with --peft none")
        if peft.method == "qlora":
            check_qlora()
            load_kw.update(quantization_config=bnb_config(), device_map={"": 0})
        load_kw["dtype"] = model_dtype  # the frozen base in the requested dtype; adapters stay float32
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*newly initialized.*")
        if kind == "sequence":
            lm = load_model(model, head="sequence", label_names=task.label_names, **load_kw)
            net = lm.model
            if lm.is_decoder and getattr(net.config, "pad_token_id", None) is None:
                net.config.pad_token_id = lm.tokenizer.pad_token_id
        else:
            lm = load_model(model)
            if lm.head is not None:
                raise ValidationError(f"{lm.name} is loaded with a {lm.head!r} head; pass its folder or name so "
                                      "ftgeo can put a word head on the base model")
            net = build_word_classifier(lm.model, num_labels=task.num_labels, arity=1 if kind == "word" else 2,
                                        dropout=0.1 if rec.head_dropout is None else rec.head_dropout)
    if lm.head not in (None, "sequence") or (kind == "sequence" and lm.head != "sequence"):
        raise ValidationError(f"{lm.name} is loaded with head={lm.head!r}; a {task.kind} task needs a sequence "
                              "head: pass the model's name or folder instead of a loaded model")
    check_max_length(lm, rec.max_length)
    dropout = _apply_head_dropout(net, rec.head_dropout) if kind == "sequence" else rec.head_dropout
    head_meta = {"kind": kind, "num_labels": task.num_labels, "label_names": list(task.label_names),
                 "dropout": dropout, "is_decoder": lm.is_decoder, "pooling": _head_pooling(kind, lm.is_decoder),
                 "hidden_size": lm.hidden_size, "n_layers": lm.n_layers, "base_model": None,
                 "task": task.name, "recipe": rec.name}
    n_params = sum(p.numel() for p in net.parameters())
    if peft is not None:
        from ftgeo.extract.identity import model_identity
        from ftgeo.models.adapters import adapter_meta, wrap_for_training
        base_name = model_identity(model).name
        net = wrap_for_training(net, peft, base_name=base_name, base_source=lm.source)
        head_meta["peft"] = adapter_meta(peft, net, base_name=base_name, base_source=lm.source)
    return lm, net, head_meta, n_params


def _features(lm, data: _Data, rec: Recipe) -> _Features:
    from ftgeo.finetune.data import check_labels, encode
    task, kind = data.task, data.kind
    t0 = time.perf_counter()
    train_f, dropped = encode(lm, task, data.train_ex, kind=kind, max_length=rec.max_length)
    held_f, _ = encode(lm, task, data.held_ex, kind=kind, max_length=rec.max_length) if data.held_ex else ([], 0)
    eval_f, dropped_eval = encode(lm, task, data.eval_ex, kind=kind, max_length=rec.max_length)
    for feats, where in ((train_f, f"{task.name}/{data.train_split}"), (held_f, "held-out part of train"),
                         (eval_f, f"{task.name}/{data.eval_split}")):
        check_labels(feats, task.num_labels, where)
    if not train_f:
        raise ValidationError(f"{task.name}/{data.train_split} gives no training examples"
                              + (f" ({dropped} word targets were cut by max_length={rec.max_length})" if dropped else ""))
    if not eval_f:
        raise ValidationError(f"{task.name}/{data.eval_split} gives no evaluation examples")
    return _Features(train_f, held_f, eval_f, dropped, dropped_eval, time.perf_counter() - t0)


def _check_precision(model_dtype: str) -> None:
    import torch
    if model_dtype == "float16" and not torch.cuda.is_available():
        raise ValidationError("model_dtype='float16' trains only on a CUDA GPU (float16 mixed precision needs a "
                              "gradient scaler there); use model_dtype='bfloat16' or 'float32' on the CPU")


def _training_args(folder: Path, rec: Recipe, n_epochs: float, seed: int, logging_steps: int, no_bar: bool,
                   group_by_length: bool, precision: str = "float32"):
    import torch
    from transformers import TrainingArguments
    sched = {"linear": "linear", "constant": "constant_with_warmup", "slanted_triangular": "linear"}[rec.scheduler]
    return TrainingArguments(
        output_dir=str(folder / CHECKPOINT_DIR), per_device_train_batch_size=rec.batch_size,
        per_device_eval_batch_size=rec.eval_batch_size, gradient_accumulation_steps=rec.gradient_accumulation_steps,
        num_train_epochs=n_epochs, learning_rate=rec.learning_rate, weight_decay=rec.weight_decay,
        adam_beta1=rec.adam_beta1, adam_beta2=rec.adam_beta2, adam_epsilon=rec.adam_epsilon,
        max_grad_norm=rec.max_grad_norm, lr_scheduler_type=sched, warmup_steps=rec.warmup_ratio,
        seed=seed, data_seed=seed, eval_strategy="no", save_strategy="no", save_total_limit=None,
        logging_strategy="steps", logging_steps=logging_steps, report_to="none", disable_tqdm=no_bar,
        remove_unused_columns=False, dataloader_num_workers=0, optim="adamw_torch",
        use_cpu=not torch.cuda.is_available(), ddp_find_unused_parameters=False,
        train_sampling_strategy="group_by_length" if group_by_length else "random",
        bf16=precision == "bfloat16", fp16=precision == "float16",
    )


@dataclass
class _Session:
    """The trainer of one run and the metadata it keeps up to date."""

    folder: Path
    rank: int
    trainer: Any
    meta: dict[str, Any]
    checkpoints: list[Checkpoint]
    split_names: dict[str, str]
    meta_cb: Any
    early: Any
    no_bar: bool
    state: dict[str, Any] = field(default_factory=dict)


def _start_meta(where: _Where, old: dict | None, lm, head_meta, n_params, n_epochs, steps_per_epoch, world,
                data: _Data, feats: _Features, split_names) -> dict[str, Any]:
    from ftgeo import __version__
    from ftgeo.finetune.data import n_targets
    created = (old or {}).get("created") or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    meta = {"format": FORMAT, "identity": where.identity, "complete": False, "created": created,
            "ftgeo_version": __version__, "head": head_meta, "n_params": n_params,
            "epochs": n_epochs, "steps_per_epoch": steps_per_epoch, "world_size": world,
            "n_train_examples": len(data.train_ex), "n_heldout_examples": len(data.held_ex),
            "n_eval_examples": len(data.eval_ex), "n_train_targets": n_targets(feats.train),
            "n_eval_targets": n_targets(feats.eval), "dropped_targets": {"train": feats.dropped,
                                                                         "eval": feats.dropped_eval},
            "splits": split_names, "name": where.name, "model_source": lm.source, "checkpoints": []}
    record_files(meta, list((old or {}).get("files") or []) + [ALWAYS_OWNED[0], "metrics.csv", CHECKPOINT_DIR])
    return meta


def _make_session(where: _Where, old, lm, net, head_meta, rec: Recipe, data: _Data, feats: _Features, *, rank,
                  n_epochs, seed, checkpoint_every, logging_steps, progress, group_by_length, callbacks,
                  precision: str = "float32", n_params: int | None = None) -> _Session:
    from ftgeo.finetune.data import Collator
    from ftgeo.finetune.trainer import EarlyStopping, FtgeoTrainer, MetadataCallback, ScheduleCallback
    folder, world = where.folder, _world_size()
    batches = math.ceil(len(feats.train) / (rec.batch_size * world))
    steps_per_epoch = max(math.ceil(batches / rec.gradient_accumulation_steps), 1)
    if logging_steps is None:
        logging_steps = max(1, min(50, math.ceil(steps_per_epoch / 5)))
    from ftgeo.progress import bar_open, verbose
    # inside a study step its bar is the one shown (a quiet console); `ftgeo finetune` keeps the trainer's
    no_bar = (not progress) or os.environ.get("FTGEO_NO_PROGRESS", "") not in ("", "0") or (bar_open() and not verbose())
    args = _training_args(folder, rec, n_epochs, seed, logging_steps, no_bar, group_by_length, precision)
    split_names = {"eval": data.eval_split}
    eval_sets = {"eval": feats.eval}
    if feats.held:
        eval_sets["heldout"] = feats.held
        split_names["heldout"] = "heldout"
    ftgeo_state: dict[str, Any] = {"recipe": rec, "n_layers": lm.n_layers, "num_labels": data.task.num_labels,
                                   "eval_sets": eval_sets, "tokenizer": lm.tokenizer, "head_meta": head_meta}
    meta = _start_meta(where, old, lm, head_meta, n_params if n_params is not None else
                       sum(p.numel() for p in net.parameters()), n_epochs, steps_per_epoch, world, data, feats,
                       split_names)
    meta["trainable_params"] = int(sum(p.numel() for p in net.parameters() if p.requires_grad))
    # the checkpoints whose save finished (ftgeo_checkpoint.json written), whatever the metadata says
    checkpoints = [c for c in scan_checkpoints(folder) if (c.path / CKPT_META).is_file()] if old is not None else []
    meta["checkpoints"] = [c.to_dict(folder) for c in checkpoints]
    early = EarlyStopping(rec.early_stopping_patience) if rec.early_stopping_patience else None
    session = _Session(folder, rank, None, meta, checkpoints, split_names, None, early, no_bar,
                       {"ftgeo": ftgeo_state, "tokenize_seconds": feats.seconds})
    session.meta_cb = MetadataCallback(lambda *a: _on_checkpoint(session, *a))
    cbs = [ScheduleCallback(checkpoint_every), session.meta_cb] + ([early] if early else [])
    session.trainer = FtgeoTrainer(model=net, args=args, train_dataset=feats.train, data_collator=Collator(
        lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0, data.kind),
        callbacks=cbs + list(callbacks), ftgeo=ftgeo_state)
    if no_bar:
        from transformers.trainer_callback import PrinterCallback
        session.trainer.remove_callback(PrinterCallback)
    return session


def _on_checkpoint(s: _Session, step: int, epoch: float, path: Path, metrics: dict) -> None:
    """After the Trainer saved checkpoint ``step``: mark it complete, then record it (rank 0)."""
    info = {"step": step, "epoch": round(epoch, 6), "metrics": _clean_metrics(metrics)}
    write_json(path / CKPT_META, info)
    ck = Checkpoint(step, round(epoch, 6), path, info["metrics"])
    s.checkpoints[:] = [c for c in s.checkpoints if c.step != step] + [ck]
    s.checkpoints.sort(key=lambda c: c.step)
    s.meta["checkpoints"] = [c.to_dict(s.folder) for c in s.checkpoints]
    write_json(s.folder / META_FILE, s.meta)
    _write_metrics(s.folder, s.trainer.state.log_history, s.split_names)


def _train(s: _Session):
    """Write the starting metadata (rank 0), resume from the last complete checkpoint, train."""
    trainer = s.trainer
    if s.rank == 0:
        s.folder.mkdir(parents=True, exist_ok=True)
        write_json(s.folder / META_FILE, s.meta)
    trainer.accelerator.wait_for_everyone()
    last = last_checkpoint(s.folder) if (s.folder / CHECKPOINT_DIR).is_dir() else None
    resume = str(last) if last is not None else None
    if resume is not None:
        s.meta["resumed_from"] = Path(resume).name
    t0 = time.perf_counter()
    from ftgeo.models import hf_progress_off
    with hf_progress_off(True if s.no_bar else None):   # transformers' own bars: hidden unless --verbose
        out = trainer.train(resume_from_checkpoint=resume)
    s.state["train_seconds"] = time.perf_counter() - t0
    return out


def _save_final(s: _Session, out) -> None:
    """Restore the best checkpoint (early stopping), evaluate, save the final model, mark complete."""
    trainer, folder = s.trainer, s.folder
    best = None
    if s.early is not None and s.early.best_step is not None:
        best_ck = next((c for c in s.checkpoints if c.step == s.early.best_step), None)
        if best_ck is None:
            best_ck = next((c for c in list_on_disk(folder) if c.step == s.early.best_step), None)
        if best_ck is not None:
            best = best_ck
            if best_ck.step != trainer.state.global_step:
                trainer._load_from_checkpoint(str(best_ck.path))
    restored = best is not None and best.step != trainer.state.global_step
    final_metrics = s.meta_cb.last_metrics.get(trainer.state.global_step)
    if restored or not final_metrics:  # the final weights were not evaluated yet
        final_metrics = trainer.evaluate_sets()
    from ftgeo.models import hf_progress_off
    tmp = folder / FINAL_TMP
    with hf_progress_off(True if s.no_bar else None):   # transformers' own bars: hidden unless --verbose
        trainer.save_model(str(tmp))
    trainer.accelerator.wait_for_everyone()
    if s.rank == 0:
        record_files(s.meta, [p.name for p in tmp.iterdir()])
        write_json(folder / META_FILE, s.meta)  # the names are recorded before the files arrive
        move_final(tmp, folder)
        s.meta.update(complete=True, train_seconds=round(s.state["train_seconds"], 3),
                      tokenize_seconds=round(s.state["tokenize_seconds"], 3),
                      global_step=trainer.state.global_step, train_loss=float(out.training_loss),
                      param_groups=s.state["ftgeo"].get("param_groups"),
                      final={"step": trainer.state.global_step, "epoch": round(float(trainer.state.epoch or 0), 6),
                             "metrics": _clean_metrics(final_metrics),
                             "best_checkpoint": best.to_dict(folder) if best else None,
                             "stopped_early": bool(s.early is not None
                                                   and trainer.state.global_step < trainer.state.max_steps)},
                      max_steps=trainer.state.max_steps,
                      finished=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
        _write_metrics(folder, trainer.state.log_history, s.split_names)
        write_json(folder / META_FILE, s.meta)
    trainer.accelerator.wait_for_everyone()


def finetune(model, task, *, recipe: str | Recipe = "closer-look", out, name: str | None = None,
             data_root=None, train_split: str = "train", eval_split: str | None = None,
             max_train_examples: int | None = None, max_eval_examples: int | None = None,
             epochs: float | None = None, seed: int = 0, checkpoint_every: float | int | None = None,
             overwrite: bool = False, progress: bool = True, logging_steps: int | None = None,
             group_by_length: bool = False, callbacks: Sequence[Any] = (), lock_timeout: float = 0.0,
             peft: str | None = None, lora_rank: int | None = None, lora_alpha: float | None = None,
             lora_dropout: float | None = None, target_modules: Sequence[str] | None = None,
             model_dtype: str | None = "auto", **overrides: Any):
    """Fine-tune ``model`` on ``task`` with a named recipe; returns a :class:`FinetuneResult`.

    Parameters
    ----------
    model : packaged name (``minilm-l6``, ``smollm2-135m``), HF folder or hub id.
    task : a :class:`~ftgeo.data.base.Task` or a task name (loaded with ``data_root``).
    recipe : ``gptology``, ``emergent`` or ``closer-look`` (``ftgeo list recipes``) or a
        :class:`~ftgeo.finetune.recipes.Recipe`; ``**overrides`` replace any of its values
        (``learning_rate``, ``batch_size``, ``gradient_accumulation_steps``, ``scheduler``,
        ``warmup_ratio``, ``weight_decay``, ``layer_decay``, ``head_dropout``, ``heldout_fraction``,
        ``early_stopping_patience``, ``max_length``, ``eval_batch_size``, ...). ``max_length``
        beyond the model's positions raises.
    out : a run folder / :class:`~ftgeo.run.RunDir` (the model goes to ``run/models/<name>``)
        or the model folder itself.
    name : the model folder's name inside a run (default ``<model>__<task>__<recipe>__s<seed>``);
        a plain name (no path separators, not ``..``).
    max_train_examples : a seeded subsample of the training split (``max_train_samples`` still works, deprecated).
    max_eval_examples : the first N examples of the eval split (``max_eval_samples`` still works, deprecated).
    epochs : number of epochs (default: the recipe's; ``closer-look`` uses 3 for base-size models).
    checkpoint_every : optimizer steps (>= 1) or a fraction of an epoch (< 1); default once per epoch.
    overwrite : replace a model folder written with other settings (only what ftgeo wrote is
        removed; a folder holding anything else is refused, naming it).
    group_by_length : batch examples of similar token length together (``Trainer``'s
        ``LengthGroupedSampler``): much less padding, so much faster on CPU for short texts.
    callbacks : extra ``transformers.TrainerCallback`` objects.
    lock_timeout : seconds to wait for another process writing the same model folder (default 0:
        fail at once with a message naming it).
    peft : ``None`` (every weight trains), ``"lora"``, ``"qlora"`` (LoRA on a 4-bit base: CUDA and
        bitsandbytes) or ``"ia3"``, through the ``peft`` package (``pip install 'ftgeo[peft]'``). The
        classification head (and BERT's pooler) train in full beside the adapter; the model folder
        and every checkpoint hold the adapter (see :mod:`ftgeo.models.adapters`), which
        :func:`ftgeo.models.load_model` and :func:`ftgeo.extract.extract` merge back into the base.
    lora_rank, lora_alpha, lora_dropout : LoRA's ``r`` (default 8), ``alpha`` (16) and input dropout (0.05).
    target_modules : modules that get the adapter (default per architecture: every linear map of the
        blocks for LoRA; keys, values and the MLP output for IA3).
    model_dtype : ``auto`` (float32 on CPU, bfloat16 with CUDA), ``float32``, ``bfloat16`` or ``float16``.
        With ``peft`` the frozen base is loaded in it (adapters and head stay float32); full
        fine-tuning keeps float32 weights and trains in that mixed precision.
    """
    adapter = peft_settings(peft, lora_rank=lora_rank, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                            target_modules=target_modules)
    from ftgeo.models.adapters import resolve_dtype
    model_dtype = resolve_dtype(model_dtype)
    _check_precision(model_dtype)
    rec = get_recipe(recipe, **overrides)
    max_train_samples = _renamed(overrides, "max_train_samples", "max_train_examples", max_train_examples)
    max_eval_samples = _renamed(overrides, "max_eval_samples", "max_eval_examples", max_eval_examples)
    checkpoint_every = _check_args(model, epochs, checkpoint_every, max_train_samples, name, lock_timeout)
    data = _load_data(task, data_root, train_split, eval_split, rec, seed, max_train_samples, max_eval_samples)
    settings = {"epochs": epochs, "seed": seed, "max_train_samples": max_train_samples,
                "max_eval_samples": max_eval_samples, "checkpoint_every": checkpoint_every,
                "group_by_length": bool(group_by_length)}
    if adapter is not None:   # (keys absent for full float32 runs: their identity is what it always was)
        settings["peft"] = adapter.to_dict()
    if model_dtype != "float32":
        settings["model_dtype"] = model_dtype
    where = _locate(model, out, name, data, rec, settings)
    rank = int(os.environ.get("RANK", "0") or 0)
    old = read_meta(where.folder)
    if old is not None and old.get("complete") and old.get("identity") == where.identity:
        if rank == 0 and (where.folder / LOCK_NAME).exists():
            _tidy_if_abandoned(where.folder)
        return _result(where, rank, always_save=False)  # finished before: no lock needed
    lock = FolderLock(where.folder, purpose=f"finetune {where.display} {data.task.name}", timeout=lock_timeout)
    if rank == 0:
        with storage_errors(where.folder, "write the model folder"):
            lock.acquire()
    try:
        return _finetune_locked(model, where, data, rec, rank=rank, overwrite=overwrite, seed=seed, epochs=epochs,
                                checkpoint_every=checkpoint_every, logging_steps=logging_steps, progress=progress,
                                group_by_length=group_by_length, callbacks=callbacks, peft=adapter,
                                model_dtype=model_dtype)
    finally:
        lock.release()


def _tidy_if_abandoned(folder: Path) -> None:
    """A complete run whose lock outlived its writer (killed while it dropped the checkpoints' optimizer state):
    take the lock over, finish that and release it. A live holder is left alone (a complete run is read
    without the lock)."""
    lock = FolderLock(folder, purpose="finetune tidy-up", timeout=0)
    try:
        lock.acquire()
    except LockHeldError:
        return
    try:
        _tidy(folder)
    finally:
        lock.release()


def _tidy(folder: Path) -> None:
    """Drop the checkpoints' optimizer state of a complete run (a disk error is one line)."""
    with storage_errors(folder, "tidy the model folder"):
        drop_resume_state(folder)


def _finetune_locked(model, where: _Where, data: _Data, rec: Recipe, *, rank, overwrite, seed, epochs,
                     checkpoint_every, logging_steps, progress, group_by_length, callbacks, peft=None,
                     model_dtype="float32"):
    """The part of :func:`finetune` that runs while rank 0 holds the model folder's lock."""
    folder = where.folder
    old = read_meta(folder)
    action = _decide(folder, old, where.identity, overwrite)
    if action == "done":  # finished by the writer we waited for, or one killed while it tidied up
        if rank == 0:
            _tidy(folder)
        return _result(where, rank, always_save=False)
    import transformers
    transformers.set_seed(seed)
    lm, net, head_meta, n_params = _build_model(model, data, rec, peft, model_dtype)
    head_meta["base_model"] = where.display
    if rank == 0:
        with storage_errors(folder, "prepare the model folder"):
            if action == "replace":
                remove_owned(folder, old)
            else:
                clean_partial(folder)
    old = None if action == "replace" else old
    n_epochs = float(epochs) if epochs is not None else rec.epochs_for(n_params)
    feats = _features(lm, data, rec)
    s = _make_session(where, old, lm, net, head_meta, rec, data, feats, rank=rank, n_epochs=n_epochs, seed=seed,
                      checkpoint_every=checkpoint_every, logging_steps=logging_steps, progress=progress,
                      group_by_length=group_by_length, callbacks=callbacks, precision=model_dtype,
                      n_params=n_params)
    try:
        with storage_errors(folder, "write the model folder"):
            out = _train(s)
            _save_final(s, out)
            if rank == 0:            # complete: nothing resumes from the checkpoints, keep their weights only
                drop_resume_state(folder)
    except StorageError:
        raise
    except Exception as exc:  # torch.save / safetensors report a full disk in their own exception types
        _raise_if_disk_full(exc, folder)
        raise
    return _result(where, rank, always_save=True)


def _raise_if_disk_full(exc: Exception, folder: Path) -> None:
    """A save that failed on a (nearly) full file system becomes a one-line :class:`StorageError`.

    ``torch.save`` says only ``basic_ios::clear: iostream error`` or ``file write failed`` and
    safetensors wraps the OS error in its own type, so besides the message the free space left is
    looked at: under 16 MiB after a failed write means the disk filled up.
    """
    import shutil
    try:
        free = shutil.disk_usage(folder if folder.exists() else folder.parent).free
    except OSError:
        free = None
    if is_disk_full(exc) or (free is not None and free < 2**24 and isinstance(exc, (OSError, RuntimeError))) \
            or (free is not None and free < 2**24 and type(exc).__name__ == "SafetensorError"):
        left = f"; {free / 1e6:.1f} MB free" if free is not None else ""
        raise StorageError(28, f"the disk is full: cannot write the model folder {folder} ({type(exc).__name__}"
                               f"{left}); free some space and rerun the same command: it resumes from the last "
                               "complete checkpoint") from None


def list_on_disk(folder: Path) -> list[Checkpoint]:
    from ftgeo.finetune.checkpoints import scan_checkpoints
    return scan_checkpoints(folder)


def _clean_metrics(metrics: dict) -> dict:
    out = {}
    for k, v in (metrics or {}).items():
        if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool) \
                and not k.endswith(("runtime", "per_second")):
            out[k] = float(v)
    return out


def _write_metrics(folder: Path, log_history, split_names: dict[str, str]) -> None:
    from ftgeo.finetune.metrics import tidy_log
    df = tidy_log(log_history, split_names)
    import io
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    write_text(folder / "metrics.csv", buf.getvalue())


def _head_pooling(kind: str, is_decoder: bool) -> str:
    """The extraction pooling whose last-layer vectors the head reads."""
    if kind == "word":
        return "word"
    if kind == "pair":
        return "pair"
    return "last" if is_decoder else "cls"


def _apply_head_dropout(model, p: float | None) -> float | None:
    """Dropout ``p`` on the pooled vector before a sequence classifier; returns the dropout in effect.

    Encoders with a ``dropout`` module before ``classifier`` (BERT) get its rate changed (and
    ``config.classifier_dropout`` recorded); decoders' ``score`` layers get a forward pre-hook that
    applies dropout in training mode only (nothing is added to the saved weights).
    """
    import torch
    if p is None:
        d = getattr(model, "dropout", None)
        return float(d.p) if isinstance(d, torch.nn.Dropout) else None
    d = getattr(model, "dropout", None)
    if isinstance(d, torch.nn.Dropout) and hasattr(model, "classifier"):
        d.p = float(p)
        model.config.classifier_dropout = float(p)
        return float(p)
    score = getattr(model, "score", None) or getattr(model, "classifier", None)
    if score is None:
        raise ValidationError(f"{type(model).__name__}: cannot find the classifier layer to put dropout before")

    def hook(module, args):
        return (torch.nn.functional.dropout(args[0], float(p), module.training),) + tuple(args[1:])

    score.register_forward_pre_hook(hook)
    return float(p)
