"""The fine-tuned model's classification head, for the analyses that score through it
(``threshold``'s full-model accuracy, ``ablation``).

``head`` stays a runtime keyword of those runners (a callable is no parameter to save); ``model``
(a folder) is a spec field; without either, the folder comes from the representations' manifest.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ftgeo.analyses._spec import Input
from ftgeo.errors import ValidationError

__all__ = ["resolve_head", "SPLIT_INPUTS"]

#: the inputs of the analyses that fit on a training split and score on an evaluation split through the
#: head; without ``--run`` the result goes to the run that holds the evaluation set
SPLIT_INPUTS = (Input("train_reps", help="representations of the training split"),
                Input("eval_reps", help="representations of the evaluation split", run_from=True))


def _model_folder(manifest: dict) -> Path:
    for key in ("model_source", "checkpoint_path", "model_path", "model"):
        v = (manifest or {}).get(key)
        if isinstance(v, str) and Path(v).is_dir():
            return Path(v)
    raise ValidationError("cannot find the fine-tuned model's folder in the representations' manifest "
                          f"(model_source={(manifest or {}).get('model_source')!r}); pass it with --model DIR "
                          "(or head=callable in Python)")


def resolve_head(reps=None, model: str | Path | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """The classification head ``head(X (n, d)) -> logits (n, C)`` of the model that produced ``reps``
    (or of the explicit ``model`` folder), via ``ftgeo.finetune.classification_head``."""
    folder = Path(model) if model is not None else _model_folder(getattr(reps, "manifest", {}))
    try:
        from ftgeo.finetune import classification_head
    except ImportError:
        raise ValidationError("ftgeo.finetune.classification_head is not available in this version; "
                              "pass head=callable (logits from an (n, d) array)") from None
    return classification_head(folder)
