"""From task examples to padded training batches (the same tokenisation as extraction).

Tokenisation reuses :func:`ftgeo.extract.tokenize.tokenize`, so a fine-tuned model sees its
inputs exactly as extraction later feeds them (pairs as ``tok(text, text_pair)``, words joined
by single spaces, a word's sub-tokens found from character offsets, targets whose word was cut
by ``max_length`` dropped and counted).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ftgeo.errors import ValidationError


def subsample(examples: Sequence, n: int | None, seed: int) -> list:
    """``n`` examples drawn without replacement with ``np.random.default_rng(seed)``, in their original order."""
    examples = list(examples)
    if n is None or n >= len(examples):
        return examples
    if n < 1:
        raise ValidationError(f"max_train_samples={n} must be >= 1")
    idx = np.sort(np.random.default_rng(seed).choice(len(examples), size=n, replace=False))
    return [examples[i] for i in idx]


def split_heldout(examples: Sequence, fraction: float, seed: int) -> tuple[list, list]:
    """(train, heldout): a seeded ``fraction`` of ``examples`` (at least one) held out, both in original order."""
    examples = list(examples)
    if fraction <= 0:
        return examples, []
    n_out = max(1, int(round(fraction * len(examples))))
    if n_out >= len(examples):
        raise ValidationError(f"holding out {fraction:.0%} of {len(examples)} training examples leaves none to "
                              "train on; use more data or heldout_fraction=0")
    rng = np.random.default_rng([seed, 7919])
    held = set(rng.choice(len(examples), size=n_out, replace=False).tolist())
    return ([e for i, e in enumerate(examples) if i not in held], [e for i, e in enumerate(examples) if i in held])


def encode(lm, task, examples: Sequence, *, kind: str, max_length: int) -> tuple[list[dict[str, Any]], int]:
    """Features for :class:`Collator`: one dict per sentence; returns (features, dropped word targets)."""
    from ftgeo.extract.tokenize import tokenize
    pooling = {"sequence": "last", "word": "word", "pair": "pair"}[kind]
    items, dropped = tokenize(lm, task, examples, pooling, max_length)
    feats = []
    for it in items:
        if kind == "sequence":
            feats.append({"input_ids": it.input_ids, "token_type_ids": it.token_type_ids, "label": it.row_labels[0]})
        elif it.n_rows:
            feats.append({"input_ids": it.input_ids, "token_type_ids": it.token_type_ids,
                          "spans": [tuple(list(w) for w in sp) for sp in it.spans], "labels": list(it.row_labels)})
    return feats, dropped


def n_targets(features: Sequence[dict]) -> int:
    return sum(len(f["labels"]) if "labels" in f else 1 for f in features)


def check_labels(features: Sequence[dict], num_labels: int, where: str) -> None:
    labels = [lab for f in features for lab in (f["labels"] if "labels" in f else [f["label"]])]
    bad = [lab for lab in labels if not 0 <= int(lab) < num_labels]
    if bad:
        if any(int(b) < 0 for b in bad):
            raise ValidationError(f"{where} has unlabelled examples (label {bad[0]}); fine-tuning needs labels "
                                  "for every example")
        raise ValidationError(f"{where} has label index {max(bad)} but the task has {num_labels} label names")


@dataclass
class Collator:
    """Right-pads a list of features into tensors (``labels`` and, for word heads, the span tensors)."""

    pad_id: int
    kind: str = "sequence"

    def __call__(self, feats: list[dict[str, Any]]) -> dict[str, Any]:
        import torch
        B = len(feats)
        T = max(len(f["input_ids"]) for f in feats)
        ids = torch.full((B, T), int(self.pad_id), dtype=torch.long)
        mask = torch.zeros((B, T), dtype=torch.long)
        use_tt = feats[0].get("token_type_ids") is not None
        tt = torch.zeros((B, T), dtype=torch.long) if use_tt else None
        for r, f in enumerate(feats):
            n = len(f["input_ids"])
            ids[r, :n] = torch.tensor(f["input_ids"], dtype=torch.long)
            mask[r, :n] = 1
            if tt is not None:
                tt[r, :n] = torch.tensor(f["token_type_ids"], dtype=torch.long)
        out: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if tt is not None:
            out["token_type_ids"] = tt
        if self.kind == "sequence":
            out["labels"] = torch.tensor([int(f["label"]) for f in feats], dtype=torch.long)
            return out
        arity = 1 if self.kind == "word" else 2
        spans = [(b, sp) for b, f in enumerate(feats) for sp in f["spans"]]
        S = max(len(w) for _, sp in spans for w in sp)
        R = len(spans)
        pos = torch.zeros((R, arity, S), dtype=torch.long)
        smask = torch.zeros((R, arity, S), dtype=torch.long)
        batch = torch.zeros((R,), dtype=torch.long)
        for r, (b, sp) in enumerate(spans):
            batch[r] = b
            for a, w in enumerate(sp):
                pos[r, a, :len(w)] = torch.tensor(w, dtype=torch.long)
                smask[r, a, :len(w)] = 1
        out.update(span_batch=batch, span_pos=pos, span_mask=smask,
                   labels=torch.tensor([int(lab) for f in feats for lab in f["labels"]], dtype=torch.long))
        return out
