"""The Hugging Face ``Trainer`` subclass and callbacks behind :func:`ftgeo.finetune.finetune`.

* :class:`FtgeoTrainer` -- cross-entropy loss on the head's logits, AdamW with optional
  layer-wise learning-rate decay (optimizer parameter groups), the slanted triangular schedule,
  an evaluation of the eval split (and the held-out part of train) that works for word heads
  and under several processes (confusion matrices summed across processes), and checkpoints
  that stay Hugging Face folders with the head.
* :class:`ScheduleCallback` -- when to evaluate and save: every N steps, at fractions of an
  epoch, or at every epoch end; always at the last step; every epoch end is evaluated.
* :class:`EarlyStopping` -- stop when the held-out accuracy has not improved for ``patience``
  evaluations (Matton & de Oliveira 2020); remembers the best step.
* :class:`MetadataCallback` -- after each save, record the checkpoint (step, epoch, metrics)
  in the checkpoint folder and in the model folder's ``ftgeo_finetune.json`` and ``metrics.csv``.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from transformers import Trainer, TrainerCallback

from ftgeo.finetune.heads import is_word_classifier, write_head_meta
from ftgeo.finetune.metrics import scores

_LAYER_RE = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)\.")
_EMBED_RE = re.compile(r"(?:^|\.)(?:embeddings|embed_tokens|embed_positions|wte|wpe|word_embeddings)(?:\.|$)")


def layer_depth(name: str, n_layers: int) -> int:
    """Depth of a parameter: 0 = embeddings, ``i + 1`` = block ``i``, ``n_layers`` = head/pooler/final norm."""
    m = _LAYER_RE.search(name)
    if m:
        return min(int(m.group(1)) + 1, n_layers)
    if _EMBED_RE.search(name):
        return 0
    return n_layers


def layer_lr_groups(named_params: Sequence[tuple[str, Any]], *, lr: float, n_layers: int,
                    layer_decay: float | None, weight_decay: float, decay_names: set[str]) -> list[dict]:
    """AdamW parameter groups with layer-wise learning-rate decay.

    Parameter at depth ``l`` (:func:`layer_depth`) gets ``lr * layer_decay ** (n_layers - l)``
    (discriminative fine-tuning, Howard & Ruder 2018 Section 3.2; decay 0.95 as in Matton &
    de Oliveira 2020 and Sun et al. 2019): the top block and the head get ``lr``, the embeddings
    ``lr * layer_decay ** n_layers``. Weight decay applies to ``decay_names`` only. Each group
    carries ``names`` (its parameter names) and ``depth``.
    """
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in named_params:
        if not p.requires_grad:
            continue
        depth = layer_depth(name, n_layers) if layer_decay is not None else n_layers
        wd = name in decay_names
        g = groups.setdefault((depth, wd), {
            "params": [], "names": [], "depth": depth, "weight_decay": weight_decay if wd else 0.0,
            "lr": lr * (layer_decay ** (n_layers - depth) if layer_decay is not None else 1.0)})
        g["params"].append(p)
        g["names"].append(name)
    return [groups[k] for k in sorted(groups)]


class FtgeoTrainer(Trainer):
    """``Trainer`` with ftgeo's loss, optimizer groups, schedule, evaluation and checkpoint format."""

    def __init__(self, *args, ftgeo: dict[str, Any], **kwargs):
        self.ftgeo = ftgeo
        super().__init__(*args, **kwargs)
        # our loss is a per-batch mean: let the Trainer divide it by the accumulation steps
        self.model_accepts_loss_kwargs = False
        self.loss_is_scaled_for_ga = False

    # ------------------------------------------------------------------ loss
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        return (loss, outputs) if return_outputs else loss

    # ------------------------------------------------------------------ optimizer and schedule
    def create_optimizer(self, model=None):
        if self.optimizer is not None:
            return self.optimizer
        opt_model = self.model if model is None else model
        rec = self.ftgeo["recipe"]
        groups = layer_lr_groups(list(opt_model.named_parameters()), lr=rec.learning_rate,
                                 n_layers=self.ftgeo["n_layers"], layer_decay=rec.layer_decay,
                                 weight_decay=rec.weight_decay,
                                 decay_names=set(self.get_decay_parameter_names(opt_model)))
        self.ftgeo["param_groups"] = [{"depth": g["depth"], "lr": g["lr"], "n": len(g["names"])} for g in groups]
        for g in groups:
            g.pop("names")
        self.optimizer = torch.optim.AdamW(groups, lr=rec.learning_rate, betas=(rec.adam_beta1, rec.adam_beta2),
                                           eps=rec.adam_epsilon)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        rec = self.ftgeo["recipe"]
        if self.lr_scheduler is None and rec.scheduler == "slanted_triangular":
            from ftgeo.finetune.recipes import slanted_triangular
            opt = optimizer or self.optimizer
            cut, ratio, T = rec.warmup_ratio or 0.1, rec.stlr_ratio, num_training_steps
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda t: slanted_triangular(t, T, cut, ratio))
            self._created_lr_scheduler = True
            return self.lr_scheduler
        return super().create_scheduler(num_training_steps, optimizer)

    # ------------------------------------------------------------------ evaluation
    def _eval_one(self, features: list[dict], batch_size: int) -> dict[str, float]:
        """Loss, accuracy and macro-F1 of ``features``; each process takes every world_size-th example."""
        model = self.accelerator.unwrap_model(self.model)
        num_labels = self.ftgeo["num_labels"]
        rank, world = self.args.process_index, self.args.world_size
        mine = features[rank::world]
        order = sorted(range(len(mine)), key=lambda i: len(mine[i]["input_ids"]))
        C = np.zeros((num_labels, num_labels), dtype=np.int64)
        loss_sum = 0.0
        was_training = model.training
        model.eval()
        device = self.args.device
        with torch.no_grad():
            for b in range(0, len(order), batch_size):
                batch = self.data_collator([mine[i] for i in order[b:b + batch_size]])
                batch = {k: v.to(device) for k, v in batch.items()}
                labels = batch.pop("labels")
                out = model(**batch)
                logits = (out["logits"] if isinstance(out, dict) else out[0]).float()
                loss_sum += float(torch.nn.functional.cross_entropy(logits, labels, reduction="sum"))
                pred = logits.argmax(-1).cpu().numpy()
                np.add.at(C, (labels.cpu().numpy(), pred), 1)
        if was_training:
            model.train()
        packed = torch.tensor(np.concatenate([C.ravel().astype(np.float64), [loss_sum]]), dtype=torch.float64,
                              device=device)
        if world > 1:
            packed = self.accelerator.reduce(packed, reduction="sum")
        packed = packed.cpu().numpy()
        C = packed[:-1].reshape(num_labels, num_labels)
        res = scores(C)
        res["loss"] = float(packed[-1] / max(res["n"], 1))
        return res

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        """Evaluate every eval set (``eval``: the eval split; ``heldout``: the held-out part of train),
        log ``<set>_{loss,accuracy,macro_f1,n}`` and run the callbacks' ``on_evaluate``."""
        metrics = self.evaluate_sets()
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    def evaluate_sets(self) -> dict[str, float]:
        """The metrics of every eval set, without logging them."""
        metrics: dict[str, float] = {}
        bs = self.ftgeo["recipe"].eval_batch_size
        for prefix, feats in self.ftgeo["eval_sets"].items():
            if not feats:
                continue
            for k, v in self._eval_one(feats, bs).items():
                metrics[f"{prefix}_{k}"] = v
        return metrics

    # ------------------------------------------------------------------ saving and loading
    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if not self.args.should_save:
            return
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        model = self.accelerator.unwrap_model(self.model)
        from ftgeo.models.adapters import is_peft_model, save_adapter_folder
        if is_peft_model(model):  # the adapter and the head, plus the base's config.json
            save_adapter_folder(model, output_dir)
        else:
            model.save_pretrained(output_dir)
        self.ftgeo["tokenizer"].save_pretrained(output_dir)
        write_head_meta(output_dir, self.ftgeo["head_meta"])
        torch.save(self.args, Path(output_dir) / "training_args.bin")

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        target = self.model if model is None else model
        target = self.accelerator.unwrap_model(target)
        if is_word_classifier(target):
            target.load_folder(resume_from_checkpoint)
            return
        super()._load_from_checkpoint(resume_from_checkpoint, model)


class ScheduleCallback(TrainerCallback):
    """Evaluate and save on a step schedule; evaluate at every epoch end; save at the last step.

    ``every``: ``None`` (save at each epoch end), an int ``N >= 1`` (every N optimizer steps) or
    a float in (0, 1) (every that fraction of an epoch: steps ``floor(k * every * steps_per_epoch + 0.5)``).
    """

    def __init__(self, every: float | int | None):
        self.every = every
        self.save_steps: set[int] = set()
        self.last_eval = -1
        self.last_save = -1
        self.steps_per_epoch = 1

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        n_batches = len(train_dataloader) if train_dataloader is not None else state.max_steps
        spe = max(math.ceil(n_batches / args.gradient_accumulation_steps), 1)
        self.steps_per_epoch = spe
        self.save_steps = schedule_steps(self.every, spe, state.max_steps)
        # resuming: the checkpoint we resume from is already saved and evaluated
        self.last_eval = self.last_save = state.global_step if state.global_step else -1

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step in self.save_steps:
            control.should_save = True
            control.should_evaluate = True
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.last_eval != state.global_step:
            control.should_evaluate = True
        if control.should_training_stop and self.last_save != state.global_step:
            control.should_save = True  # early stop mid-schedule: keep the state we stop in
        return control

    def on_evaluate(self, args, state, control, **kwargs):
        self.last_eval = state.global_step

    def on_save(self, args, state, control, **kwargs):
        self.last_save = state.global_step


def schedule_steps(every: float | int | None, steps_per_epoch: int, max_steps: int) -> set[int]:
    """Optimizer steps at which to save: see :class:`ScheduleCallback`; always includes ``max_steps``."""
    steps: set[int] = {max_steps}
    if every is None:
        steps |= {e * steps_per_epoch for e in range(1, max_steps // steps_per_epoch + 1)}
    elif every >= 1:
        n = int(round(every))
        steps |= set(range(n, max_steps + 1, n))
    else:
        k = 1
        while True:
            s = math.floor(k * every * steps_per_epoch + 0.5)  # round half up
            if s > max_steps:
                break
            if s >= 1:
                steps.add(s)
            k += 1
    return {s for s in steps if 1 <= s <= max_steps}


class EarlyStopping(TrainerCallback):
    """Stop when ``metric`` (default ``heldout_accuracy``) has not improved for ``patience`` evaluations."""

    def __init__(self, patience: int, metric: str = "heldout_accuracy"):
        self.patience = patience
        self.metric = metric
        self.best = -math.inf
        self.best_step: int | None = None
        self.bad = 0

    def on_train_begin(self, args, state, control, **kwargs):
        # on resume, rebuild the state from the restored log history
        self.best, self.best_step, self.bad = -math.inf, None, 0
        for entry in state.log_history:
            if self.metric in entry:
                self._update(entry[self.metric], entry.get("step"))

    def _update(self, value: float, step: int | None) -> None:
        if value > self.best:
            self.best, self.best_step, self.bad = value, step, 0
        else:
            self.bad += 1

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics and self.metric in metrics:
            self._update(metrics[self.metric], state.global_step)
            if self.bad >= self.patience:
                control.should_training_stop = True
        return control


class MetadataCallback(TrainerCallback):
    """Record each checkpoint (metrics at its step) in its folder and in the model folder's metadata."""

    def __init__(self, on_checkpoint: Callable[[int, float, Path, dict], None]):
        self.on_checkpoint = on_checkpoint
        self.last_metrics: dict[int, dict] = {}

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics:
            self.last_metrics[state.global_step] = dict(metrics)

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            self.on_checkpoint(state.global_step, float(state.epoch or 0.0), path,
                               self.last_metrics.get(state.global_step, {}))
