"""Extraction: every layer's pooled representations of a task split, into a resumable store.

Public API::

    extract(model, task, split, *, pooling, out, ...) -> RepresentationStore
    open_reps(path) -> RepresentationStore          # ftgeo.reps.Representations
    list_reps(run_folder) -> list[str]              # `ftgeo list reps`
    ExtractSpec                                     # config files / CLI (ftgeo.extract.spec)

See docs/extraction.md for the store layout, pooling names and resume/sharding rules.
"""
from __future__ import annotations

from ftgeo.extract.pooling import POOLINGS
from ftgeo.extract.store import RepresentationStore, list_reps, open_reps
from ftgeo.extract.core import extract, store_key

__all__ = ["extract", "open_reps", "list_reps", "store_key", "RepresentationStore", "POOLINGS", "ExtractSpec"]


def __getattr__(name: str):
    if name == "ExtractSpec":
        from ftgeo.extract.spec import ExtractSpec
        return ExtractSpec
    raise AttributeError(f"module 'ftgeo.extract' has no attribute {name!r}")
