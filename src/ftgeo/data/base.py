"""The data model every task loader produces and every consumer (fine-tuning, extraction) reads.

A :class:`Task` knows its kind, its splits and its label vocabulary, and yields
:class:`Example` objects:

* ``kind="sentence"``: ``text`` and ``label``;
* ``kind="pair"``: ``text``, ``text_pair`` and ``label``;
* ``kind="token"``: ``words`` and ``targets``; each :class:`Target` names one word
  (``word_indices=(i,)``: POS, preposition supersenses) or a (head, dependent) pair
  (``word_indices=(h, d)``: dependency relations) with its label;
* ``kind="unlabelled"``: ``text`` only (general-domain corpora), ``label = -1``.

Labels are integer indices into ``Task.label_names``, fixed across splits.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Literal, Sequence

TaskKind = Literal["sentence", "pair", "token", "unlabelled"]
UNLABELLED = -1


@dataclass(frozen=True)
class Target:
    """One word-level target: the word index (or head, dependent indices) and its label."""

    word_indices: tuple[int, ...]
    label: int


@dataclass(frozen=True)
class Example:
    """One input: a sentence, a sentence pair, or a tokenised sentence with word-level targets."""

    id: str
    text: str | None = None
    text_pair: str | None = None
    label: int = UNLABELLED
    words: tuple[str, ...] | None = None
    targets: tuple[Target, ...] = field(default_factory=tuple)


class Task:
    """Base class of every task. Subclasses set ``name``, ``kind``, ``label_names`` and implement
    :meth:`splits` and :meth:`_load_split`; :meth:`examples` caches and validates."""

    name: str = "task"
    kind: TaskKind = "sentence"
    label_names: list[str]

    def __init__(self) -> None:
        self._cache: dict[str, list[Example]] = {}
        if not hasattr(self, "label_names"):
            self.label_names = []

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def splits(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _load_split(self, split: str) -> list[Example]:  # pragma: no cover - abstract
        raise NotImplementedError

    def examples(self, split: str) -> list[Example]:
        """All examples of ``split`` (loaded once, then cached)."""
        if split not in self._cache:
            from ftgeo.errors import ValidationError
            if split not in self.splits():
                raise ValidationError(f"task {self.name!r} has no split {split!r}; it has {self.splits()}")
            self._cache[split] = list(self._load_split(split))
        return self._cache[split]

    def fingerprint(self, split: str) -> str:
        """A hash of the split's content: ids, texts, words and labels (for cache manifests)."""
        return fingerprint_examples(self.examples(split), self.label_names)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} kind={self.kind} labels={self.num_labels}>"


def fingerprint_examples(examples: Iterable[Example], label_names: Sequence[str] = ()) -> str:
    h = hashlib.sha256()
    h.update("\x1f".join(label_names).encode())
    for ex in examples:
        h.update(repr((ex.id, ex.text, ex.text_pair, ex.label, ex.words,
                       tuple((t.word_indices, t.label) for t in ex.targets))).encode())
    return h.hexdigest()[:16]
