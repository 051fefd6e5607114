"""Tokenisation shared by extraction and fine-tuning, and the model's input-length limit.

:func:`tokenize` turns examples into :class:`TokenizedItem` s exactly as extraction feeds them
(pairs as ``tok(text, text_pair)``; words joined by single spaces, a word's sub-tokens found from
character offsets; word targets cut by ``max_length`` dropped and counted), so a fine-tuned model
sees its inputs as extraction later does.

:func:`max_positions` is the number of token positions a model takes (the smaller of the
config's ``max_position_embeddings``/``n_positions`` and the tokenizer's ``model_max_length``,
ignoring the tokenizer's "no limit" sentinel); :func:`check_max_length` refuses a ``max_length``
beyond it with one line, before anything is written.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Sequence

from ftgeo.errors import ValidationError

#: tokenizers without a known limit report a huge ``model_max_length`` (transformers' VERY_LARGE_INTEGER)
_NO_LIMIT = 10**9


@dataclass
class TokenizedItem:
    """One example after tokenisation; ``spans`` lists, per output row, the token positions of its words."""

    input_ids: list[int]
    token_type_ids: list[int] | None
    row_ids: list[str] = field(default_factory=list)
    row_labels: list[int] = field(default_factory=list)
    spans: list[tuple[list[int], ...]] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.row_ids)


def tokenize(lm, task, examples, pooling: str, max_length: int) -> tuple[list[TokenizedItem], int]:
    tok = lm.tokenizer
    use_tt = (not lm.is_decoder) and "token_type_ids" in getattr(tok, "model_input_names", [])
    items: list[TokenizedItem] = []
    if task.kind != "token":
        texts = [ex.text or "" for ex in examples]
        if task.kind == "pair":
            enc = tok(texts, [ex.text_pair or "" for ex in examples], truncation=True, max_length=max_length)
        else:
            enc = tok(texts, truncation=True, max_length=max_length)
        for i, ex in enumerate(examples):
            tt = enc["token_type_ids"][i] if use_tt and "token_type_ids" in enc else None
            items.append(TokenizedItem(enc["input_ids"][i], tt, [str(ex.id)], [int(ex.label)], [()]))
        return items, 0

    if not getattr(tok, "is_fast", False):
        raise ValidationError("word and pair pooling need a fast tokenizer (character offsets); "
                              f"{type(tok).__name__} is not one")
    texts, starts_all = [], []
    for ex in examples:
        words = list(ex.words or ())
        starts, pos = [], 0
        for w in words:
            starts.append(pos)
            pos += len(w) + 1
        starts_all.append(starts)
        texts.append(" ".join(words))
    kw = dict(return_offsets_mapping=True, return_special_tokens_mask=True)
    enc = tok(texts, truncation=True, max_length=max_length, **kw)
    dropped = 0
    need = 1 if pooling == "word" else 2
    for i, ex in enumerate(examples):
        words = list(ex.words or ())
        wtoks = word_tokens(texts[i], starts_all[i], words, enc["offset_mapping"][i],
                                   enc["special_tokens_mask"][i])
        if len(enc["input_ids"][i]) >= max_length:  # maybe truncated: compare with the full tokenisation
            full = tok(texts[i], truncation=False, **kw)
            full_tokens = word_tokens(texts[i], starts_all[i], words, full["offset_mapping"], full["special_tokens_mask"])
            cut = {w for w in range(len(words)) if len(wtoks[w]) != len(full_tokens[w])}
        else:
            cut = set()
        item = TokenizedItem(enc["input_ids"][i], enc["token_type_ids"][i] if use_tt and "token_type_ids" in enc else None)
        for j, t in enumerate(ex.targets):
            idx = tuple(int(w) for w in t.word_indices)
            if len(idx) != need:
                raise ValidationError(
                    f"example {ex.id!r} target {j} names {len(idx)} word(s) {idx}; pooling={pooling!r} needs {need} "
                    + ("(use pooling='pair' for head-dependent targets)" if need == 1 else
                       "(use pooling='word' for single-word targets)"))
            bad = [w for w in idx if not 0 <= w < len(words)]
            if bad:
                raise ValidationError(f"example {ex.id!r} target {j}: word index {bad[0]} is outside 0..{len(words) - 1}")
            if any(w in cut or not wtoks[w] for w in idx):
                dropped += 1
                continue
            item.row_ids.append(f"{ex.id}:{j}")
            item.row_labels.append(int(t.label))
            item.spans.append(tuple(wtoks[w] for w in idx))
        items.append(item)
    return items, dropped


def word_tokens(text: str, starts: Sequence[int], words: Sequence[str], offsets, special) -> list[list[int]]:
    """Token positions of every word, from the tokens' character offsets in ``" ".join(words)``.

    A token belongs to the word holding its first non-space character (byte-level BPE puts
    the preceding space into the token, e.g. ``"Ġdog"``); special tokens belong to no word.
    """
    out: list[list[int]] = [[] for _ in words]
    if not words:
        return out
    for t, ((s, e), sp) in enumerate(zip(offsets, special)):
        if sp or e <= s:
            continue
        c = s
        while c < e and text[c] == " ":
            c += 1
        w = bisect.bisect_right(starts, c) - 1
        if 0 <= w < len(words) and c < starts[w] + max(len(words[w]), 1):
            out[w].append(t)  # (a bare-space token ends at the next word's start and lands there)
    return out


def max_positions(lm) -> int | None:
    """Token positions ``lm`` can take, or None if neither its config nor its tokenizer says."""
    limits = []
    cfg = getattr(lm.model, "config", None)
    cfgs = [cfg] if cfg is not None else []
    if cfg is not None and hasattr(cfg, "get_text_config"):
        text = cfg.get_text_config()
        if text is not None and text is not cfg:
            cfgs.append(text)
    for c in cfgs:
        for name in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
            v = getattr(c, name, None)
            if isinstance(v, int) and not isinstance(v, bool) and v > 0:
                limits.append(v)
                break
    t = getattr(lm.tokenizer, "model_max_length", None)
    if isinstance(t, int) and 0 < t < _NO_LIMIT:
        limits.append(t)
    return min(limits) if limits else None


def check_max_length(lm, max_length: int) -> None:
    """Refuse a ``max_length`` beyond the model's positions (one line, before any work is written)."""
    limit = max_positions(lm)
    if limit is not None and max_length > limit:
        raise ValidationError(f"max_length={max_length} is more than {lm.name} takes ({limit} token positions, "
                              f"from its config/tokenizer); pass max_length={limit} or less (CLI --max-length)")
