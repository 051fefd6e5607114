"""A task held in memory: your own examples, given as Python lists (no files)."""
from __future__ import annotations

from typing import Mapping, Sequence

from ftgeo.data.base import Example, Task, TaskKind
from ftgeo.errors import ValidationError


class ListTask(Task):
    """A :class:`~ftgeo.data.base.Task` over examples held in memory: ``{split: [Example, ...]}``."""

    def __init__(self, name: str, kind: TaskKind, label_names: Sequence[str], splits: Mapping[str, Sequence[Example]]):
        super().__init__()
        self.name, self.kind, self.label_names = name, kind, list(label_names)
        self._splits = {k: list(v) for k, v in splits.items()}
        if not self._splits:
            raise ValidationError("ListTask needs at least one split")

    def splits(self) -> list[str]:
        return list(self._splits)

    def _load_split(self, split: str) -> list[Example]:
        return self._splits[split]
