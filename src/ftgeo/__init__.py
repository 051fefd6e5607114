"""ftgeo: how fine-tuning reshapes the geometry of transformer language-model representations.

The public API is imported lazily so that ``import ftgeo`` and ``ftgeo --help`` stay instant.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> "module:attribute"
_LAZY = {
    "load_task": "ftgeo.data:load_task",
    "load_model": "ftgeo.models:load_model",
    "extract": "ftgeo.extract:extract",
    "open_reps": "ftgeo.extract:open_reps",
    "finetune": "ftgeo.finetune:finetune",
    "InMemoryRepresentations": "ftgeo.reps:InMemoryRepresentations",
    "RunDir": "ftgeo.run:RunDir",
    "load_result": "ftgeo.results:load_result",
    "save_result": "ftgeo.results:save_result",
    "analyze": "ftgeo.analyses:analyze",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name].split(":")
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ftgeo' has no attribute {name!r}")
