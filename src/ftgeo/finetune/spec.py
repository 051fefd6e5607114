"""``FinetuneSpec``: the validated settings of one ``ftgeo finetune`` call (config file or CLI).

Recipe values (``learning_rate``, ``batch_size``, ``epochs``, ...) left ``None`` come from the
named recipe (:mod:`ftgeo.finetune.recipes`); a value given here overrides the recipe's.
Precedence: CLI flags > config file > recipe > defaults (``Spec.resolve``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ftgeo.config import Spec, param
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

    model: str = param("", "packaged name (ftgeo list models), model folder or hub id")
    task: str = param("", "task name (ftgeo list tasks)")
    recipe: str = param("closer-look", "gptology, emergent or closer-look (ftgeo list recipes)")
    run: str | None = param(None, "run folder: the model goes to RUN/models/<name> (or give --out)", metavar="DIR")
    out: str | None = param(None, "the model folder itself (or give --run)", metavar="DIR")
    name: str | None = param(None, "model folder name inside --run (default: model__task__recipe__sSEED)")
    data_root: str | None = param(None, "folder with the local datasets (default: $FTGEO_DATA_ROOT)", metavar="DIR")
    train_split: str = param("train", "training split")
    eval_split: str | None = param(None, "evaluation split (default: dev, validation or test)")
    max_train_examples: int | None = param(None, "seeded subsample of the training split (default: all)",
                                           aliases=("max_train_samples",))
    max_eval_examples: int | None = param(None, "first N examples of the eval split (default: all)",
                                          aliases=("max_eval_samples",))
    seed: int = param(0, "seed of the subsample, the head and the data order")
    seeds: list[int] | None = param(None, "several seeds (e.g. 0,1,2): one fine-tuning run per seed, each in its "
                                          "own model folder")
    checkpoint_every: float | None = param(None, "checkpoint every N steps (N >= 1) or every fraction F of an epoch "
                                                 "(F < 1); default: once per epoch", metavar="N|F")
    group_by_length: bool = param(False, "batch texts of similar length together (about 3x less padding on SST-2)")
    lock_timeout: float = param(0.0, "wait up to this many seconds for another ftgeo process writing the same "
                                     "folder (0: fail at once)", metavar="SECONDS")
    # parameter-efficient fine-tuning (peft) and the model's dtype
    peft: Literal["none", "lora", "qlora", "ia3"] = param(
        "none", "train an adapter instead of every weight: lora, qlora (4-bit base; needs CUDA and bitsandbytes) "
                "or ia3 (pip install 'ftgeo[peft]'); the classification head trains in full beside it")
    lora_rank: int | None = param(None, "LoRA rank r (lora, qlora; default 8)")
    lora_alpha: float | None = param(None, "LoRA scale alpha: the update is (alpha / r) B A (default 16)")
    lora_dropout: float | None = param(None, "dropout on the LoRA input (default 0.05)")
    target_modules: tuple[str, ...] | None = param(
        None, "modules that get the adapter (default per architecture: every linear map of the blocks for LoRA, "
              "keys, values and the MLP output for IA3)")
    model_dtype: Literal["auto", "float32", "bfloat16", "float16"] = param(
        "auto", "weights' dtype: auto = float32 on CPU, bfloat16 on a GPU. With --peft the frozen base is loaded "
                "in it; full fine-tuning keeps float32 weights and trains in mixed precision")
    # recipe overrides (None: the recipe's value)
    learning_rate: float | None = param(None, "peak learning rate (default: the recipe's)", aliases=("lr",))
    batch_size: int | None = param(None, "batch size per process (default: the recipe's)")
    gradient_accumulation_steps: int | None = param(None, "gradient accumulation steps (default: the recipe's)",
                                                    aliases=("grad_accum",))
    epochs: float | None = param(None, "epochs (default: the recipe's)")
    scheduler: Literal["linear", "slanted_triangular", "constant"] | None = param(
        None, "learning-rate schedule (default: the recipe's)")
    warmup_ratio: float | None = param(None, "fraction of the steps warming up (default: the recipe's)")
    weight_decay: float | None = param(None, "AdamW weight decay (default: the recipe's)")
    layer_decay: float | None = param(None, "layer-wise learning-rate decay factor (default: the recipe's)")
    head_dropout: float | None = param(None, "dropout on the pooled vector (default: the recipe's)")
    heldout_fraction: float | None = param(None, "held-out part of train for early stopping (default: the recipe's)")
    early_stopping_patience: int | None = param(None, "evaluations without improvement before stopping "
                                                      "(default: the recipe's)")
    max_length: int | None = param(None, "truncate inputs to this many tokens (default: the recipe's)")
    eval_batch_size: int | None = param(None, "evaluation batch size (default: the recipe's)")
    max_grad_norm: float | None = param(None, "gradient clipping norm (default: the recipe's)")

    def validate(self) -> None:
        if not self.model:
            raise ValidationError("FinetuneSpec.model is required (a packaged name, a model folder or a hub id)")
        if not self.task:
            raise ValidationError("FinetuneSpec.task is required (see `ftgeo list tasks`)")
        if (self.run is None) == (self.out is None):
            raise ValidationError("give exactly one of run (a run folder) or out (the model folder)")
        from ftgeo.finetune.recipes import RECIPES
        RECIPES.get(self.recipe)  # unknown recipe -> did-you-mean
        if self.max_train_examples is not None and self.max_train_examples < 1:
            raise ValidationError(f"FinetuneSpec.max_train_examples must be >= 1; got {self.max_train_examples}")
        if self.name is not None:
            from ftgeo.run import check_name
            check_name(self.name, "FinetuneSpec.name (the model folder's name in the run)")
        if self.lock_timeout < 0:
            raise ValidationError(f"FinetuneSpec.lock_timeout must be >= 0 seconds; got {self.lock_timeout}")
        if self.checkpoint_every is not None and self.checkpoint_every <= 0:
            raise ValidationError(f"FinetuneSpec.checkpoint_every must be > 0; got {self.checkpoint_every}")
        self.recipe_obj()  # validates the overrides
        self.peft_settings()  # validates the adapter settings

    def peft_settings(self):
        """The :class:`~ftgeo.models.adapters.PeftSettings` of ``peft`` (None for full fine-tuning)."""
        from ftgeo.finetune.core import peft_settings
        return peft_settings(self.peft, lora_rank=self.lora_rank, lora_alpha=self.lora_alpha,
                             lora_dropout=self.lora_dropout, target_modules=self.target_modules)

    def overrides(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in RECIPE_FIELDS if getattr(self, k) is not None}

    def recipe_obj(self):
        from ftgeo.finetune.recipes import get_recipe
        return get_recipe(self.recipe, **self.overrides())

    def seed_list(self) -> list[int]:
        """``seeds`` if given, else ``[seed]``."""
        return list(self.seeds) if self.seeds else [self.seed]

    def finetune_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`ftgeo.finetune.finetune` (model and task positional)."""
        from ftgeo.run import RunDir
        out = RunDir(self.run) if self.run is not None else self.out
        return dict(recipe=self.recipe, out=out, name=self.name, data_root=self.data_root,
                    train_split=self.train_split, eval_split=self.eval_split,
                    max_train_examples=self.max_train_examples, max_eval_examples=self.max_eval_examples,
                    seed=self.seed, checkpoint_every=self.checkpoint_every,
                    group_by_length=self.group_by_length, lock_timeout=self.lock_timeout,
                    peft=None if self.peft == "none" else self.peft, lora_rank=self.lora_rank,
                    lora_alpha=self.lora_alpha, lora_dropout=self.lora_dropout, target_modules=self.target_modules,
                    model_dtype=self.model_dtype, **self.overrides())

    def run_finetune(self, *, progress: bool = True):
        from ftgeo.finetune.core import finetune
        return finetune(self.model, self.task, progress=progress, **self.finetune_kwargs())
