"""Massive activations (Sun, Chen, Kolter & Liu 2024, "Massive Activations in Large Language Models", COLM).

A few hidden-state entries -- at fixed feature dimensions, and at the first token or at delimiter
tokens ("." "\\n" "<s>") -- are orders of magnitude larger than the rest; Sun et al. (Sec. 2) call an
activation massive when its magnitude exceeds 100 and is about 1,000 times the median magnitude of
its layer's hidden states. They act as fixed biases (attention sinks), and in pooled sentence
vectors they become rogue dimensions: a ``mean`` pooled vector carries the first token's massive
value divided by the length, a ``last`` pooled vector only what the last token carries.

This needs token-level hidden states, not pooled stores: :func:`token_states` runs the model over
sentences (``output_hidden_states``) and :func:`massive_activation_tables` reduces them, per layer, to

* ``top``: the ``top_k`` largest |h| entries of the layer: value, ratio to the layer's median |h|,
  dimension, sentence, position, token, whether the position is 0 and whether the token is a
  delimiter (punctuation / whitespace / a special token);
* ``dims``: per (layer, dimension) with at least one massive entry (``|h| >= min_magnitude`` and
  ``|h| / median >= min_ratio``): how many, the largest, and which share sit at position 0 / at
  delimiters;
* ``pooling``: for ``last`` and ``mean`` pooled vectors of the same pass: the dimension with the
  largest mean |value| and its ratio to the median dimension's, the share of the pooled vectors'
  squared norm on the layer's massive dimensions, and the variance share of the top-variance dimension.
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ftgeo.errors import ValidationError

__all__ = ["TokenStates", "token_states", "massive_activation_tables", "is_delimiter"]

_PUNCT = set(string.punctuation) | {"Ġ", "Ċ", "▁", "##"}


def is_delimiter(token: str, special: bool = False) -> bool:
    """A special token, or one made only of punctuation, whitespace and BPE space markers."""
    if special:
        return True
    t = token.replace("Ġ", " ").replace("Ċ", "\n").replace("▁", " ").replace("##", "")
    return t.strip() == "" or all(c in _PUNCT or c.isspace() for c in t)


@dataclass
class TokenStates:
    """Token-level hidden states of several sentences: ``states[s]`` is (L+1, T_s, d) float32."""

    states: list[np.ndarray]
    tokens: list[list[str]]
    special: list[list[bool]]
    model: str

    @property
    def n_layers(self) -> int:
        return self.states[0].shape[0]


def token_states(model, texts: Sequence[str], *, max_length: int = 64, batch_size: int = 16,
                 device: str | None = None) -> TokenStates:
    """Run ``model`` (a :func:`ftgeo.models.load_model` name, folder or LoadedModel) over ``texts`` and
    keep every token's hidden state at every layer (float32), with the token strings."""
    import torch

    from ftgeo.models import load_model
    lm = load_model(model)
    if not texts:
        raise ValidationError("massive activations need at least one sentence")
    tok = lm.tokenizer
    enc = tok(list(texts), truncation=True, max_length=max_length, return_special_tokens_mask=True)
    dev = torch.device(device) if device else next(lm.model.parameters()).device
    lm.model.to(dev).eval()
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    extra = {"use_cache": False} if lm.is_decoder else {}
    states, tokens, special = [], [], []
    for b0 in range(0, len(texts), batch_size):
        ids_list = enc["input_ids"][b0:b0 + batch_size]
        T = max(len(x) for x in ids_list)
        ids = torch.full((len(ids_list), T), pad, dtype=torch.long)
        mask = torch.zeros((len(ids_list), T), dtype=torch.long)
        for r, x in enumerate(ids_list):
            ids[r, :len(x)] = torch.tensor(x)
            mask[r, :len(x)] = 1
        with torch.inference_mode():
            res = lm.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), output_hidden_states=True,
                           return_dict=True, **extra)
        hs = torch.stack(res.hidden_states).float().cpu().numpy()     # (L+1, B, T, d)
        for r, x in enumerate(ids_list):
            states.append(np.ascontiguousarray(hs[:, r, :len(x)]))
            tokens.append(tok.convert_ids_to_tokens(list(x)))
            special.append([bool(v) for v in enc["special_tokens_mask"][b0 + r]])
    return TokenStates(states, tokens, special, lm.name)


def massive_activation_tables(ts: TokenStates, *, top_k: int = 5, min_ratio: float = 1000.0,
                              min_magnitude: float = 100.0, layers: Sequence[int] | None = None) -> dict:
    """The ``top``, ``dims`` and ``pooling`` tables (module docstring) as lists of row dicts."""
    if top_k < 1:
        raise ValidationError(f"top_k must be >= 1; got {top_k}")
    L1 = ts.n_layers
    layers = list(range(L1)) if layers is None else list(layers)
    pos = np.concatenate([np.arange(s.shape[1]) for s in ts.states])
    sent = np.concatenate([np.full(s.shape[1], i) for i, s in enumerate(ts.states)])
    toks = [t for ts_ in ts.tokens for t in ts_]
    spec = np.concatenate([np.asarray(sp, dtype=bool) for sp in ts.special])
    delim = np.array([is_delimiter(t, s) for t, s in zip(toks, spec)])
    last_rows = np.cumsum([s.shape[1] for s in ts.states]) - 1
    top, dims, pooling = [], [], []
    for l in layers:
        H = np.concatenate([s[l] for s in ts.states], axis=0).astype(np.float64)   # (tokens, d)
        A = np.abs(H)
        med = float(np.median(A))
        flat = np.argpartition(A.ravel(), -min(top_k, A.size))[-min(top_k, A.size):]
        flat = flat[np.argsort(-A.ravel()[flat])]
        for rank, f in enumerate(flat):
            r, j = divmod(int(f), A.shape[1])
            top.append({"layer": l, "rank": rank + 1, "value": float(H[r, j]), "magnitude": float(A[r, j]),
                        "median": med, "ratio": float(A[r, j] / med) if med > 0 else float("inf"),
                        "dim": j, "sentence": int(sent[r]), "position": int(pos[r]), "token": toks[r],
                        "first_token": bool(pos[r] == 0), "delimiter": bool(delim[r])})
        massive = (A >= min_magnitude) & ((A / med >= min_ratio) if med > 0 else (A > 0))
        mdims = np.flatnonzero(massive.any(axis=0))
        for j in mdims:
            rows = np.flatnonzero(massive[:, j])
            dims.append({"layer": l, "dim": int(j), "count": int(rows.size), "max_magnitude": float(A[rows, j].max()),
                         "max_ratio": float(A[rows, j].max() / med) if med > 0 else float("inf"),
                         "share_first_token": float(np.mean(pos[rows] == 0)),
                         "share_delimiter": float(np.mean(delim[rows])),
                         "positions": ",".join(str(int(p)) for p in sorted(set(pos[rows].tolist()))[:10])})
        for how in ("last", "mean"):
            if how == "last":
                P = H[last_rows]
            else:
                P = np.stack([s[l].astype(np.float64).mean(axis=0) for s in ts.states])
            m = np.abs(P).mean(axis=0)
            jtop = int(np.argmax(m))
            medm = float(np.median(m))
            var = P.var(axis=0)
            tot = float((P * P).sum())
            pooling.append({"layer": l, "pooling": how, "top_dim": jtop,
                            "top_dim_ratio": float(m[jtop] / medm) if medm > 0 else float("inf"),
                            "massive_dims": ",".join(str(int(j)) for j in mdims),
                            "massive_norm_share": float((P[:, mdims] ** 2).sum() / tot) if tot > 0 and mdims.size else 0.0,
                            "top_var_dim": int(np.argmax(var)),
                            "top_var_share": float(var.max() / var.sum()) if var.sum() > 0 else float("nan")})
    return {"top": top, "dims": dims, "pooling": pooling}
