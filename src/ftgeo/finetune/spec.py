"""``FinetuneSpec``: the validated settings of one ``ftgeo finetune`` call (config file or CLI).

Recipe values (``learning_rate``, ``batch_size``, ``epochs``, ...) left ``None`` come from the
named recipe (:mod:`ftgeo.finetune.recipes`); a value given here overrides the recipe's.
Precedence: CLI flags > config file > recipe > defaults (``Spec.resolve``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftgeo.config import Spec
from ftgeo.errors import ValidationError

#: recipe fields a spec may override (None = keep the recipe's value)
RECIPE_FIELDS = ("learning_rate", "batch_size", "gradient_accumulation_steps", "epochs", "scheduler",
                 "warmup_ratio", "weight_decay", "layer_decay", "head_dropout", "heldout_fraction",
                 "early_stopping_patience", "max_length", "eval_batch_size", "max_grad_norm")


@dataclass(frozen=True)
class FinetuneSpec(Spec):
    """What to fine-tune, how and where.

    ``model``: packaged name, HF folder or hub id; ``task``: a registered task name; ``recipe``:
    ``gptology``, ``emergent`` or ``closer-look``; ``run`` (models go to ``run/models/<name>``)
    or ``out`` (the model folder itself), exactly one. ``checkpoint_every``: steps (>= 1) or a
    fraction of an epoch (< 1, e.g. 0.25); ``None`` = once per epoch.
    """

    model: str = ""
    task: str = ""
    recipe: str = "closer-look"
    run: str | None = None
    out: str | None = None
    name: str | None = None
    data_root: str | None = None
    train_split: str = "train"
    eval_split: str | None = None
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    seed: int = 0
    checkpoint_every: float | None = None
    group_by_length: bool = False
    lock_timeout: float = 0.0
    # recipe overrides
    learning_rate: float | None = None
    batch_size: int | None = None
    gradient_accumulation_steps: int | None = None
    epochs: float | None = None
    scheduler: str | None = None
    warmup_ratio: float | None = None
    weight_decay: float | None = None
    layer_decay: float | None = None
    head_dropout: float | None = None
    heldout_fraction: float | None = None
    early_stopping_patience: int | None = None
    max_length: int | None = None
    eval_batch_size: int | None = None
    max_grad_norm: float | None = None

    def validate(self) -> None:
        if not self.model:
            raise ValidationError("FinetuneSpec.model is required (a packaged name, a model folder or a hub id)")
        if not self.task:
            raise ValidationError("FinetuneSpec.task is required (see `ftgeo list tasks`)")
        if (self.run is None) == (self.out is None):
            raise ValidationError("give exactly one of run (a run folder) or out (the model folder)")
        from ftgeo.finetune.recipes import RECIPES
        RECIPES.get(self.recipe)  # unknown recipe -> did-you-mean
        if self.max_train_samples is not None and self.max_train_samples < 1:
            raise ValidationError(f"FinetuneSpec.max_train_samples must be >= 1; got {self.max_train_samples}")
        if self.name is not None:
            from ftgeo.run import check_name
            check_name(self.name, "FinetuneSpec.name (the model folder's name in the run)")
        if self.lock_timeout < 0:
            raise ValidationError(f"FinetuneSpec.lock_timeout must be >= 0 seconds; got {self.lock_timeout}")
        if self.checkpoint_every is not None and self.checkpoint_every <= 0:
            raise ValidationError(f"FinetuneSpec.checkpoint_every must be > 0; got {self.checkpoint_every}")
        self.recipe_obj()  # validates the overrides

    def overrides(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in RECIPE_FIELDS if getattr(self, k) is not None}

    def recipe_obj(self):
        from ftgeo.finetune.recipes import get_recipe
        return get_recipe(self.recipe, **self.overrides())

    def finetune_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`ftgeo.finetune.finetune` (model and task positional)."""
        from ftgeo.run import RunDir
        out = RunDir(self.run) if self.run is not None else self.out
        return dict(recipe=self.recipe, out=out, name=self.name, data_root=self.data_root,
                    train_split=self.train_split, eval_split=self.eval_split,
                    max_train_samples=self.max_train_samples, max_eval_samples=self.max_eval_samples,
                    seed=self.seed, checkpoint_every=self.checkpoint_every,
                    group_by_length=self.group_by_length, lock_timeout=self.lock_timeout, **self.overrides())

    def run_finetune(self, *, progress: bool = True):
        from ftgeo.finetune.core import finetune
        return finetune(self.model, self.task, progress=progress, **self.finetune_kwargs())
