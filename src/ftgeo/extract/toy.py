"""Small in-memory tasks (examples given in code), for tests, examples and your own sentences."""
from __future__ import annotations

from typing import Mapping, Sequence

from ftgeo.data.base import Example, Target, Task, TaskKind
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


SENTENCES = (
    "the quick brown fox jumps over the lazy dog",
    "a wonderful , moving film",
    "bad",
    "is this the real life ? is this just fantasy ?",
    "sea shells by the sea shore",
    "an unbelievably charming and funny story with a great cast",
    "it was the worst of times",
    "colorless green ideas sleep furiously",
    "we went to the market",
    "the committee rejected the proposal after a long and tiring debate about money",
    "fresh bread",
    "she sells sea shells",
)


def sentence_task(n: int = 12, *, name: str = "toy_sentences", pair: bool = False) -> ListTask:
    """``n`` labelled sentences (or sentence pairs) of varied length, labels alternate 0/1."""
    exs = []
    for i in range(n):
        text = SENTENCES[i % len(SENTENCES)]
        exs.append(Example(id=f"ex{i}", text=text, label=i % 2,
                           text_pair=SENTENCES[(i + 5) % len(SENTENCES)] if pair else None))
    return ListTask(name, "pair" if pair else "sentence", ["neg", "pos"], {"dev": exs})


def word_task(n: int = 8, *, name: str = "toy_words", relations: bool = False) -> ListTask:
    """``n`` word-tokenised sentences; one target per word (``relations``: (head, dependent) pairs, head = previous word)."""
    exs = []
    for i in range(n):
        words = tuple(SENTENCES[i % len(SENTENCES)].split())
        if relations:
            targets = tuple(Target((j - 1, j), j % 3) for j in range(1, len(words)))
        else:
            targets = tuple(Target((j,), (len(w) + j) % 3) for j, w in enumerate(words))
        exs.append(Example(id=f"s{i}", words=words, targets=targets))
    return ListTask(name, "token", ["A", "B", "C"], {"dev": exs})
