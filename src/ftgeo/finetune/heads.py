"""Classification heads, the on-disk format of fine-tuned models, and the head as a function.

Three heads:

* ``sequence`` -- ``AutoModelForSequenceClassification`` (single sentences and sentence pairs),
  for encoders (BERT: pooler ``tanh(W h_[CLS] + b)``, dropout, linear) and decoders (GPT-2,
  Llama: a linear ``score`` on the last non-padding token's final hidden state);
* ``word`` -- token tasks with one word per target (``ud_pos``, ``ps_role``, ``ps_fxn``): the
  mean of the word's sub-token vectors of the last layer (the same definition as extraction's
  ``word`` pooling), dropout, linear;
* ``pair`` -- head-dependent targets (``ud_dep``): ``[word(head); word(dependent)]`` (extraction's
  ``pair`` pooling), dropout, linear (as the edge probes of Tenney et al. 2019 and Zhou &
  Srikumar 2021).

A fine-tuned model folder is always a Hugging Face folder whose base model loads with
``AutoModel.from_pretrained`` (so :func:`ftgeo.models.load_model` and :func:`ftgeo.extract.extract`
read it like any model), plus ``ftgeo_head.json`` describing the head:

* ``sequence``: the folder is the ``*ForSequenceClassification`` model itself (its head weights
  inside ``model.safetensors``; ``AutoModel`` drops them when loading the base);
* ``word``/``pair``: the folder is the base model's own ``save_pretrained`` output plus
  ``ftgeo_head.safetensors`` with ``classifier.weight`` and ``classifier.bias``.

:func:`load_finetuned` gives back model + head; :func:`classification_head` gives the head as a
NumPy function of pooled last-layer vectors, as :func:`ftgeo.extract.extract` stores them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ftgeo.errors import DataNotFoundError, ValidationError

HEAD_FILE = "ftgeo_head.json"
HEAD_WEIGHTS = "ftgeo_head.safetensors"
HEAD_KINDS = ("sequence", "word", "pair")


def _torch():
    import torch
    return torch


def build_word_classifier(base, *, num_labels: int, arity: int, dropout: float = 0.1):
    """A :class:`WordClassifier` on ``base`` (an ``AutoModel``) with a fresh linear head."""
    return _word_classifier_class()(base, num_labels=num_labels, arity=arity, dropout=dropout)


_WC = None


def _word_classifier_class():
    """The ``WordClassifier`` class (defined lazily so that importing this module needs no torch)."""
    global _WC
    if _WC is not None:
        return _WC
    torch = _torch()
    from torch import nn

    class WordClassifier(nn.Module):
        """Base model + mean of each word's sub-token vectors (last layer) + dropout + linear.

        ``arity = 1``: one word per target (``word`` head); ``arity = 2``: the concatenated
        head and dependent word vectors (``pair`` head). Inputs: the usual ``input_ids``,
        ``attention_mask`` (and ``token_type_ids``) of ``B`` sentences, plus for ``R`` targets
        ``span_batch (R,)`` (sentence of each target), ``span_pos (R, arity, S)`` (token
        positions of each word, padded) and ``span_mask (R, arity, S)``.
        """

        def __init__(self, base, *, num_labels: int, arity: int, dropout: float = 0.1):
            super().__init__()
            self.base = base
            self.config = base.config
            self.arity = int(arity)
            self.num_labels = int(num_labels)
            hidden = int(getattr(base.config, "hidden_size", None) or base.config.n_embd)
            self.dropout = nn.Dropout(float(dropout))
            self.classifier = nn.Linear(self.arity * hidden, self.num_labels)
            pooler = getattr(base, "pooler", None)
            if pooler is not None:  # unused by word heads: keep it frozen (and out of DDP's way)
                for p in pooler.parameters():
                    p.requires_grad_(False)

        @property
        def kind(self) -> str:
            return "word" if self.arity == 1 else "pair"

        def pooled(self, input_ids, attention_mask, span_batch, span_pos, span_mask, token_type_ids=None):
            kw = dict(input_ids=input_ids, attention_mask=attention_mask, return_dict=True)
            if token_type_ids is not None:
                kw["token_type_ids"] = token_type_ids
            if getattr(self.config, "use_cache", None) is not None:
                kw["use_cache"] = False
            last = self.base(**kw).last_hidden_state  # (B, T, H)
            h = last[span_batch[:, None, None], span_pos]  # (R, arity, S, H)
            m = span_mask.to(h.dtype)[..., None]
            words = (h * m).sum(2) / m.sum(2).clamp_min(1.0)  # (R, arity, H)
            return words.reshape(words.shape[0], -1)

        def forward(self, input_ids, attention_mask, span_batch, span_pos, span_mask, token_type_ids=None,
                    labels=None):
            from transformers.modeling_outputs import SequenceClassifierOutput
            x = self.pooled(input_ids, attention_mask, span_batch, span_pos, span_mask, token_type_ids)
            logits = self.classifier(self.dropout(x))
            loss = None
            if labels is not None:
                loss = torch.nn.functional.cross_entropy(logits.float(), labels)
            return SequenceClassifierOutput(loss=loss, logits=logits)

        def save_pretrained(self, folder, **kwargs):
            from safetensors.torch import save_file
            folder = Path(folder)
            folder.mkdir(parents=True, exist_ok=True)
            self.base.save_pretrained(folder, **{k: v for k, v in kwargs.items() if k == "is_main_process"})
            save_file({"classifier.weight": self.classifier.weight.detach().contiguous().cpu(),
                       "classifier.bias": self.classifier.bias.detach().contiguous().cpu()},
                      str(folder / HEAD_WEIGHTS), metadata={"format": "pt"})

        def load_folder(self, folder) -> None:
            """Load base and head weights saved by :meth:`save_pretrained` (for resuming)."""
            from safetensors.torch import load_file
            folder = Path(folder)
            state = {}
            for f in sorted(folder.glob("model*.safetensors")):
                state.update(load_file(str(f)))
            if not state:
                raise DataNotFoundError(f"{folder} holds no model*.safetensors to load")
            missing, unexpected = self.base.load_state_dict(state, strict=False)
            tied = set(getattr(self.base, "_tied_weights_keys", None) or [])
            missing = [k for k in missing if k not in tied]
            if missing:
                raise ValidationError(f"{folder}: the saved base model lacks {missing[:3]}...; is it a checkpoint "
                                      "of the same model?")
            head = load_file(str(folder / HEAD_WEIGHTS))
            self.classifier.load_state_dict({k.split(".", 1)[1]: v for k, v in head.items()})

    _WC = WordClassifier
    return _WC


def is_word_classifier(model) -> bool:
    return _WC is not None and isinstance(model, _WC)


# ----------------------------------------------------------------------------- metadata
def write_head_meta(folder: str | Path, meta: dict[str, Any]) -> None:
    from ftgeo._atomic import write_json
    write_json(Path(folder) / HEAD_FILE, meta)


def read_head_meta(folder: str | Path) -> dict[str, Any]:
    folder = Path(folder)
    f = folder / HEAD_FILE
    if not f.is_file():
        cfg = folder / "config.json"
        if cfg.is_file():  # a plain HF *ForSequenceClassification folder (not written by ftgeo)
            data = json.loads(cfg.read_text())
            if any(a.endswith("ForSequenceClassification") for a in data.get("architectures") or []):
                labels = data.get("id2label") or {}
                names = [labels[k] for k in sorted(labels, key=int)] if labels else []
                return {"kind": "sequence", "num_labels": len(names) or data.get("num_labels", 2),
                        "label_names": names}
        raise DataNotFoundError(f"{folder} is not a fine-tuned model folder (no {HEAD_FILE} and no "
                                "*ForSequenceClassification config.json); pass the folder `finetune` wrote")
    return json.loads(f.read_text())


@dataclass
class FinetunedModel:
    """A fine-tuned model with its head: ``model(**inputs).logits``; ``kind`` is sequence/word/pair."""

    model: Any
    tokenizer: Any
    kind: str
    label_names: list[str]
    is_decoder: bool
    source: str

    @property
    def num_labels(self) -> int:
        return len(self.label_names)


def load_finetuned(folder: str | Path, *, dtype: Any = None) -> FinetunedModel:
    """Load a fine-tuned model folder (final model or checkpoint) back with its classification head
    (a PEFT folder: its base model with the adapter merged in and the trained head)."""
    torch = _torch()
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer
    from ftgeo.models import is_decoder_config
    folder = Path(folder).expanduser().resolve()
    if not (folder / "config.json").is_file():
        raise DataNotFoundError(f"{folder} is not a model folder (no config.json)")
    meta = read_head_meta(folder)
    kind = meta.get("kind")
    if kind not in HEAD_KINDS:
        raise ValidationError(f"{folder / HEAD_FILE}: head kind {kind!r} is not one of {list(HEAD_KINDS)}")
    dtype = torch.float32 if dtype is None else dtype
    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = "right"
    from ftgeo.models import hf_progress_off
    from ftgeo.models.adapters import is_adapter_folder, load_adapted
    if kind == "sequence" and is_adapter_folder(folder):  # a PEFT run: base + adapter, merged
        model = load_adapted(folder, head="sequence", dtype=dtype, pad_token_id=tok.pad_token_id)
    elif kind == "sequence":
        with hf_progress_off():                    # transformers' "Loading weights" bar: only with --verbose
            model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=dtype)
    else:
        with hf_progress_off():
            base = AutoModel.from_pretrained(folder, dtype=dtype)
        model = build_word_classifier(base, num_labels=int(meta["num_labels"]), arity=1 if kind == "word" else 2,
                                      dropout=float(meta.get("dropout", 0.0) or 0.0))
        from safetensors.torch import load_file
        head = load_file(str(folder / HEAD_WEIGHTS))
        model.classifier.load_state_dict({k.split(".", 1)[1]: v.to(dtype) for k, v in head.items()})
    decoder = is_decoder_config(model.config)
    if decoder and tok.pad_token is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token
    model.eval()
    names = [str(x) for x in meta.get("label_names") or []] or [f"LABEL_{i}" for i in range(int(meta["num_labels"]))]
    return FinetunedModel(model=model, tokenizer=tok, kind=kind, label_names=names, is_decoder=decoder,
                          source=str(folder))


# ----------------------------------------------------------------------------- the head as a function
def _head_modules(model) -> Callable:
    """A torch function pooled-vectors -> logits for a sequence-classification model or a WordClassifier."""
    torch = _torch()
    if is_word_classifier(model):
        return lambda x: model.classifier(x)
    base = getattr(model, "base_model", None)
    if hasattr(model, "score") and isinstance(model.score, torch.nn.Module):  # GPT-2, Llama, ...: last token
        return lambda x: model.score(x)
    if hasattr(model, "pre_classifier") and hasattr(model, "classifier"):  # DistilBERT
        return lambda x: model.classifier(torch.relu(model.pre_classifier(x)))
    classifier = getattr(model, "classifier", None)
    if classifier is None:
        raise ValidationError(f"{type(model).__name__} has no 'classifier' or 'score' layer; ftgeo cannot apply "
                              "its head to pooled vectors")
    pooler = getattr(base, "pooler", None) if base is not None else None
    if isinstance(classifier, torch.nn.Linear):
        if pooler is not None:  # BERT: pooler dense + tanh on the [CLS] vector, then the classifier
            return lambda x: classifier(pooler(x[:, None, :]))
        return lambda x: classifier(x)
    # RoBERTa-style heads take the token sequence and read position 0 themselves
    return lambda x: classifier(x[:, None, :])


def classification_head(folder_or_model, *, batch_size: int = 4096) -> Callable[[np.ndarray], np.ndarray]:
    """The fine-tuned model's own head as ``head(X (n, hidden or 2*hidden)) -> logits (n, num_labels)``.

    ``X`` holds pooled last-layer vectors as :func:`ftgeo.extract.extract` stores them: ``cls``
    pooling for BERT-style encoders (the head applies the pooler's dense + tanh, then the
    classifier), ``last`` pooling for decoders (the ``score`` layer), ``word``/``pair`` pooling for
    word and pair heads (the linear classifier; dropout is off at inference). Computed in float32
    without gradients; returns float64 logits. ``folder_or_model``: a fine-tuned model folder (or
    checkpoint), a :class:`FinetunedModel`, or the torch model itself.
    """
    torch = _torch()
    if isinstance(folder_or_model, (str, Path)):
        fm = load_finetuned(folder_or_model)
        model = fm.model
    elif isinstance(folder_or_model, FinetunedModel):
        model = folder_or_model.model
    else:
        model = folder_or_model
    model.eval()
    fn = _head_modules(model)
    try:
        param = next(model.parameters())
        dtype, device = param.dtype, param.device
    except StopIteration:  # pragma: no cover
        dtype, device = torch.float32, torch.device("cpu")
    if dtype not in (torch.float32, torch.float64):
        dtype = torch.float32

    def head(X) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValidationError(f"head input must be 2-D (n, hidden); got shape {X.shape}")
        outs = []
        with torch.no_grad():
            for i in range(0, max(len(X), 1), batch_size):
                x = torch.as_tensor(np.ascontiguousarray(X[i:i + batch_size], dtype=np.float32)).to(device, dtype)
                if x.shape[0] == 0:
                    break
                outs.append(fn(x).float().cpu().numpy().astype(np.float64))
        if not outs:
            n_out = getattr(model, "num_labels", None) or model.config.num_labels
            return np.zeros((0, int(n_out)))
        return np.concatenate(outs, axis=0)

    head.model = model  # type: ignore[attr-defined]
    return head


def head_arity(examples: Sequence) -> int:
    """1 (one word per target) or 2 (head, dependent) for a token task; mixed arities raise."""
    arities = {len(t.word_indices) for ex in examples for t in ex.targets}
    if not arities:
        raise ValidationError("the token task has no word targets to train on")
    if len(arities) > 1 or not arities <= {1, 2}:
        raise ValidationError(f"word targets name {sorted(arities)} words; ftgeo trains heads on targets of one "
                              "word (word head) or two words (head-dependent pair head), not a mix")
    return arities.pop()
