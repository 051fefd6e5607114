"""What tests and examples build in code: tiny random models, toy tasks, planted representations, stores
written from arrays, and fault injectors. Runtime code never imports this package.

    from ftgeo.testing import tiny_model, save_tiny, sentence_task, word_task, planted_reps, write_store
"""
from __future__ import annotations

from ftgeo.testing.models import save_tiny, tiny_model
from ftgeo.testing.reps import planted_reps, write_store
from ftgeo.testing.tasks import SENTENCES, sentence_task, word_task

__all__ = ["tiny_model", "save_tiny", "sentence_task", "word_task", "SENTENCES", "planted_reps", "write_store",
           "FailAfter"]


def __getattr__(name: str):
    if name == "FailAfter":  # imports transformers: only when asked for
        from ftgeo.testing.faults import FailAfter
        return FailAfter
    raise AttributeError(f"module 'ftgeo.testing' has no attribute {name!r}")
