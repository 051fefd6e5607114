"""Pooling: from every layer's token vectors to one vector per example (or per word target).

All functions take the stacked hidden states ``hs`` of shape ``(L+1, B, T, H)`` (layer 0 =
embeddings) of a right-padded batch and return ``(L+1, R, D)``:

* ``cls``  (R = B, D = H): the first token (``[CLS]`` for BERT-style encoders);
* ``last`` (R = B, D = H): the last non-padding token (decoders: the only token that saw
  the whole input, as in GPTology / Ethayarajh 2019 sentence vectors);
* ``mean`` (R = B, D = H): the mean over non-padding tokens, special tokens included;
* ``word`` (R = targets, D = H): the mean of the sub-tokens of one word;
* ``pair`` (R = targets, D = 2H): ``[word(head) ; word(dependent)]`` (dependency relations,
  as in the edge probes of Tenney et al. 2019 and Zhou & Srikumar 2021).

Right padding keeps every real token at the same position as in an unbatched pass, and the
attention mask keeps padding out of the real tokens (bidirectional and causal alike), so a
pooled vector does not depend on which other examples share its batch.
"""
from __future__ import annotations

from typing import Sequence

POOLINGS = ("last", "cls", "mean", "word", "pair")
SENTENCE_POOLINGS = ("last", "cls", "mean")
WORD_POOLINGS = ("word", "pair")


def pool_cls(hs, mask):
    return hs[:, :, 0, :]


def pool_last(hs, mask):
    import torch
    idx = mask.sum(dim=1).long() - 1
    return hs[:, torch.arange(hs.shape[1], device=hs.device), idx, :]


def pool_mean(hs, mask):
    m = mask.to(hs.dtype)[None, :, :, None]
    return (hs * m).sum(dim=2) / m.sum(dim=2)


def pool_spans(hs, spans: Sequence[tuple[int, Sequence[int]]]):
    """Mean over token positions: ``spans[r] = (batch_row, token_positions)`` -> ``(L+1, R, H)``."""
    import torch
    L1, B, T, H = hs.shape
    rows, flat, counts = [], [], []
    for r, (b, positions) in enumerate(spans):
        positions = list(positions)
        rows.extend([r] * len(positions))
        flat.extend(b * T + p for p in positions)
        counts.append(len(positions))
    flat_hs = hs.reshape(L1, B * T, H)
    out = torch.zeros((L1, len(spans), H), dtype=hs.dtype, device=hs.device)
    out.index_add_(1, torch.tensor(rows, dtype=torch.long, device=hs.device),
                   flat_hs[:, torch.tensor(flat, dtype=torch.long, device=hs.device)])
    return out / torch.tensor(counts, dtype=hs.dtype, device=hs.device)[None, :, None]
