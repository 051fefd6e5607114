"""Extraction: every layer's pooled representations of a task split, into a resumable store.

Public API::

    extract(model, task, split, *, pooling, out, ...) -> RepresentationStore
    open_reps(path, *, verify=True) -> RepresentationStore   # ftgeo.reps.Representations
    list_reps(run_folder) -> list[str]              # `ftgeo list reps`
    discover_checkpoint_reps(run_folder, model, ...) -> list  # a fine-tuning run's stores, in step order
    StoreManifest, read_manifest                    # the typed, validated manifest
    model_identity(model) -> ModelIdentity          # name / id / source of a model, without loading it
    tokenize(lm, task, examples, pooling, max_length)  # the tokenisation shared with fine-tuning
    ExtractSpec                                     # config files / CLI (ftgeo.extract.spec)

See docs/extraction.md for the store layout, pooling names and resume/sharding rules.
"""
from __future__ import annotations

from ftgeo.extract.pooling import POOLINGS
from ftgeo.extract.manifest import StoreManifest, read_manifest
from ftgeo.extract.identity import ModelIdentity, model_identity
from ftgeo.extract.tokenize import TokenizedItem, check_max_length, max_positions, tokenize
from ftgeo.extract.store import RepresentationStore, discover_checkpoint_reps, list_reps, open_reps
from ftgeo.extract.core import extract, store_key

__all__ = ["extract", "open_reps", "list_reps", "discover_checkpoint_reps", "store_key", "RepresentationStore",
           "StoreManifest", "read_manifest", "ModelIdentity", "model_identity", "TokenizedItem", "tokenize",
           "max_positions", "check_max_length", "POOLINGS", "ExtractSpec"]


def __getattr__(name: str):
    if name == "ExtractSpec":
        from ftgeo.extract.spec import ExtractSpec
        return ExtractSpec
    raise AttributeError(f"module 'ftgeo.extract' has no attribute {name!r}")
