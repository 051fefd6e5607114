"""What a model is called in stores and fine-tuning folders, without loading it.

:func:`model_identity` gives a :class:`ModelIdentity`: ``name`` (the display name used in store
keys and manifests: a packaged name, a folder's name -- ``minilm-sst2-checkpoint-500`` for a
checkpoint folder -- or a hub id), ``id`` (what must match for a cache hit: the packaged name,
the resolved folder path or the hub id) and ``source`` (the folder or hub id; None for a
packaged name that has not been loaded).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    id: str
    source: str | None

    def __iter__(self):  # (name, id, source) unpacking, as the old private helper returned
        return iter((self.name, self.id, self.source))


def model_identity(model) -> ModelIdentity:
    """Identity of a :class:`~ftgeo.models.LoadedModel`, a packaged name, a model folder or a hub id."""
    from ftgeo.models import MODELS, LoadedModel, folder_model_name
    if isinstance(model, LoadedModel):
        ident = model.name if model.name in MODELS else model.source
        return ModelIdentity(model.name, ident, model.source)
    from ftgeo.models import random_init_name, split_random_init
    base, seed = split_random_init(model)
    if seed is not None:       # the random-init baseline: the base model's identity with the suffix
        b = model_identity(base)
        return ModelIdentity(random_init_name(b.name, seed), random_init_name(b.id, seed), b.source)
    raw = str(model)
    if raw in MODELS:
        return ModelIdentity(raw, raw, None)
    p = Path(raw).expanduser()
    if p.is_dir():
        return ModelIdentity(folder_model_name(p.resolve()), str(p.resolve()), str(p.resolve()))
    return ModelIdentity(raw, raw, raw)
