"""Fine-tuning with the three papers' recipes, and checkpoints for training dynamics.

Public API::

    finetune(model, task, *, recipe, out, ...) -> FinetuneResult     # HF Trainer under the hood
    RECIPES, Recipe, get_recipe                                       # gptology / emergent / closer-look
    list_checkpoints(model_folder) -> list[Checkpoint]                # in step order, for dynamics
    load_finetuned(folder) -> FinetunedModel                          # model + classification head
    classification_head(folder_or_model) -> head(X (n, d)) -> logits  # the head on pooled vectors
    FinetuneSpec                                                      # config files / CLI

See docs/finetuning.md. Importing this package is light (no torch) until a function is used.
"""
from __future__ import annotations

import importlib
from typing import Any

from ftgeo.finetune.recipes import RECIPES, Recipe, get_recipe

_LAZY = {
    "finetune": "ftgeo.finetune.core:finetune",
    "FinetuneResult": "ftgeo.results.finetune:FinetuneResult",
    "FinetuneSpec": "ftgeo.finetune.spec:FinetuneSpec",
    "Checkpoint": "ftgeo.finetune.checkpoints:Checkpoint",
    "list_checkpoints": "ftgeo.finetune.checkpoints:list_checkpoints",
    "load_finetuned": "ftgeo.finetune.heads:load_finetuned",
    "FinetunedModel": "ftgeo.finetune.heads:FinetunedModel",
    "classification_head": "ftgeo.finetune.heads:classification_head",
}

__all__ = ["RECIPES", "Recipe", "get_recipe", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name].split(":")
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ftgeo.finetune' has no attribute {name!r}")
