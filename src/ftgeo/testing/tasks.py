"""Toy tasks built in code (a dozen sentences, word targets), for tests and examples."""
from __future__ import annotations


from ftgeo.data.base import Example, Target
from ftgeo.data.memory import ListTask


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
