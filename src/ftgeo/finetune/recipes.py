"""The three papers' fine-tuning recipes as data (``ftgeo list recipes``).

A :class:`Recipe` is a named set of hyper-parameters; every value can be overridden per run
(``finetune(..., learning_rate=1e-4)``, ``ftgeo finetune --lr 1e-4``). Values that a paper
does not state are the Hugging Face ``Trainer`` defaults and are marked as such below.

``gptology`` -- Rudman, Chen & Eickhoff (2023), "Outlier Dimensions Encode Task-Specific
    Knowledge" (EMNLP; the GPTology analyses): batch 32 per step with 4 gradient-accumulation
    steps (effective batch 128), 10 epochs. Not stated there, HF defaults kept: AdamW
    (0.9, 0.999, eps 1e-8), learning rate 5e-5, linear decay without warm-up, no weight decay.

``emergent`` -- Matton & de Oliveira (2020), "Emergent Properties of Finetuned Language
    Representation Models": AdamW (beta1 0.9, beta2 0.999); the slanted triangular learning
    rate of Howard & Ruder (2018, ULMFiT, Eq. 3) with 10% of the steps rising
    (``cut_frac = 0.1``, ``ratio = 32``); peak learning rate 2e-5 on the top layer and
    discriminative fine-tuning below it, each lower layer's rate multiplied by 0.95 (layer-wise
    decay, ``lr_l = lr * 0.95 ** (L - l)``, Howard & Ruder 2018 Section 3.2 / Sun et al. 2019);
    dropout 0.1 on the pooled vector before the classifier; early stopping on a held-out 10% of
    the training set (patience 2 evaluations, the best evaluation's weights are kept). Batch 32
    and at most 10 epochs are ftgeo's choices (the early stopping usually ends training first).

``closer-look`` -- Zhou & Srikumar (2022), "A Closer Look at How Fine-tuning Changes BERT"
    (ACL): learning rate 3e-4, linear schedule with 10% warm-up, batch 32, 10 epochs, or 3
    epochs for base-size models (ftgeo counts a model as base-size from 100M parameters:
    BERT-base has 110M; their smaller BERTs (tiny ... medium) have 4M-41M). 3e-4 suits their
    small BERTs; lower it (``learning_rate``) for larger models.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from ftgeo.errors import ValidationError
from ftgeo.registry import Registry

Scheduler = Literal["linear", "slanted_triangular", "constant"]

#: parameter count from which the ``closer-look`` recipe uses ``epochs_base`` epochs
BASE_SIZE_PARAMS = 100_000_000


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of one fine-tuning recipe (every field overridable per run).

    ``batch_size`` is per process (per device), as in ``TrainingArguments``; the effective
    batch is ``batch_size * gradient_accumulation_steps * processes``. ``layer_decay``
    (``None``: off) multiplies the learning rate by ``layer_decay ** (L - l)`` for block ``l``
    (embeddings: ``l = 0``; head, pooler and final norm share the top rate). ``head_dropout``
    (``None``: the model's own) is the dropout on the pooled vector before the classifier.
    ``epochs_base`` (``None``: same as ``epochs``) replaces ``epochs`` for models with at least
    :data:`BASE_SIZE_PARAMS` parameters. ``heldout_fraction`` > 0 carves a seeded held-out part
    of the training set, evaluated with the eval split; ``early_stopping_patience`` stops when
    the held-out accuracy has not improved for that many evaluations and keeps the best weights.
    """

    name: str
    paper: str
    learning_rate: float = 5e-5
    batch_size: int = 32
    gradient_accumulation_steps: int = 1
    epochs: float = 3.0
    epochs_base: float | None = None
    scheduler: Scheduler = "linear"
    warmup_ratio: float = 0.0
    stlr_ratio: float = 32.0
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    layer_decay: float | None = None
    head_dropout: float | None = None
    heldout_fraction: float = 0.0
    early_stopping_patience: int | None = None
    max_length: int = 128
    eval_batch_size: int = 64

    def replace(self, **overrides: Any) -> "Recipe":
        """A copy with ``overrides`` applied (unknown names get a did-you-mean error)."""
        fields = {f.name for f in dataclasses.fields(self)} - {"name", "paper"}
        for k in overrides:
            if k not in fields:
                import difflib
                close = difflib.get_close_matches(k, sorted(fields), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValidationError(f"unknown recipe setting {k!r}{hint} Settings: {', '.join(sorted(fields))}")
        new = dataclasses.replace(self, **overrides)
        new.validate()
        return new

    def validate(self) -> None:
        def pos(name, v, allow_zero=False):
            if v is None:
                return
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 or (v == 0 and not allow_zero):
                raise ValidationError(f"recipe {self.name!r}: {name}={v!r} must be a {'non-negative' if allow_zero else 'positive'} number")
        for n in ("learning_rate", "epochs", "epochs_base", "stlr_ratio", "adam_epsilon"):
            pos(n, getattr(self, n))
        for n in ("batch_size", "gradient_accumulation_steps", "max_length", "eval_batch_size"):
            v = getattr(self, n)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValidationError(f"recipe {self.name!r}: {n}={v!r} must be a positive integer")
        for n in ("weight_decay", "max_grad_norm"):
            pos(n, getattr(self, n), allow_zero=True)
        for n in ("warmup_ratio", "head_dropout", "adam_beta1", "adam_beta2"):
            v = getattr(self, n)
            if v is not None and not 0 <= v < 1:
                raise ValidationError(f"recipe {self.name!r}: {n}={v!r} must be in [0, 1)")
        if not 0 <= self.heldout_fraction < 0.5:
            raise ValidationError(f"recipe {self.name!r}: heldout_fraction={self.heldout_fraction!r} must be in [0, 0.5)")
        if self.layer_decay is not None and not 0 < self.layer_decay <= 1:
            raise ValidationError(f"recipe {self.name!r}: layer_decay={self.layer_decay!r} must be in (0, 1] or None")
        if self.scheduler not in ("linear", "slanted_triangular", "constant"):
            raise ValidationError(f"recipe {self.name!r}: scheduler={self.scheduler!r} must be 'linear', "
                                  "'slanted_triangular' or 'constant'")
        if self.early_stopping_patience is not None:
            if self.early_stopping_patience < 1:
                raise ValidationError(f"recipe {self.name!r}: early_stopping_patience must be >= 1 or None")
            if self.heldout_fraction <= 0:
                raise ValidationError(f"recipe {self.name!r}: early stopping needs heldout_fraction > 0 "
                                      "(the held-out part of train it watches)")

    def epochs_for(self, n_params: int) -> float:
        """``epochs_base`` for base-size models (>= :data:`BASE_SIZE_PARAMS` parameters), else ``epochs``."""
        if self.epochs_base is not None and n_params >= BASE_SIZE_PARAMS:
            return float(self.epochs_base)
        return float(self.epochs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


RECIPES: Registry[Recipe] = Registry("recipe")

RECIPES.register("gptology", Recipe(
    name="gptology", paper="Rudman, Chen & Eickhoff (2023), Outlier Dimensions Encode Task-Specific Knowledge",
    learning_rate=5e-5, batch_size=32, gradient_accumulation_steps=4, epochs=10.0, scheduler="linear",
    warmup_ratio=0.0),
    help="Rudman et al. 2023 (GPTology): batch 32 x 4 accumulation (effective 128), 10 epochs; HF defaults "
         "otherwise (AdamW, lr 5e-5, linear decay)")
RECIPES.register("emergent", Recipe(
    name="emergent", paper="Matton & de Oliveira (2020), Emergent Properties of Finetuned Language Representation Models",
    learning_rate=2e-5, batch_size=32, epochs=10.0, scheduler="slanted_triangular", warmup_ratio=0.1,
    stlr_ratio=32.0, layer_decay=0.95, head_dropout=0.1, heldout_fraction=0.1, early_stopping_patience=2),
    help="Matton & de Oliveira 2020: AdamW, slanted triangular LR (10% up), 2e-5 top layer x0.95 per layer "
         "below, dropout 0.1 on the pooled vector, early stopping on 10% of train")
RECIPES.register("closer-look", Recipe(
    name="closer-look", paper="Zhou & Srikumar (2022), A Closer Look at How Fine-tuning Changes BERT",
    learning_rate=3e-4, batch_size=32, epochs=10.0, epochs_base=3.0, scheduler="linear", warmup_ratio=0.1),
    help="Zhou & Srikumar 2022: lr 3e-4, linear schedule with 10% warm-up, batch 32, 10 epochs "
         "(3 for base-size models)")


def get_recipe(recipe: "str | Recipe", **overrides: Any) -> Recipe:
    """The registered recipe ``recipe`` (or a :class:`Recipe`) with ``overrides`` applied."""
    base = recipe if isinstance(recipe, Recipe) else RECIPES.get(str(recipe))
    base.validate()
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return base.replace(**overrides) if overrides else base


def slanted_triangular(step: int, total_steps: int, cut_frac: float = 0.1, ratio: float = 32.0) -> float:
    """Learning-rate multiplier of the slanted triangular schedule (Howard & Ruder 2018, Eq. 3).

    ``cut = floor(T * cut_frac)``; ``p = t / cut`` for ``t < cut``, else
    ``1 - (t - cut) / (cut * (1 / cut_frac - 1))``; multiplier ``(1 + p (ratio - 1)) / ratio``,
    so it rises linearly from ``1/ratio`` to 1 over the first ``cut_frac`` of the steps and falls
    back to ``1/ratio`` at the last step.
    """
    T = max(int(total_steps), 1)
    cut = max(int(T * cut_frac), 1)
    t = min(max(int(step), 0), T)
    if t < cut:
        p = t / cut
    else:
        p = 1.0 - (t - cut) / max(cut * (1.0 / cut_frac - 1.0), 1e-12) if cut_frac > 0 else 1.0
        p = max(p, 0.0)
    return (1.0 + p * (ratio - 1.0)) / ratio
