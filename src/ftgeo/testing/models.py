"""Tiny random models built entirely offline, for tests and examples.

:func:`tiny_model` builds a GPT-2, BERT or Llama model of a few blocks from a config in
code and a tokenizer trained in code on a handful of texts (``tokenizers``): WordPiece with
``[CLS]``/``[SEP]``/``[PAD]``/``[UNK]``/``[MASK]`` for BERT, byte-level BPE for GPT-2
(``<|endoftext|>``, no pad token: :func:`~ftgeo.models.load_model` sets pad = eos) and
Llama (``<s>``/``</s>``/``<unk>``, BOS prepended). The small vocabulary splits most words
into several sub-tokens, which is what word-pooling tests need. Weights are drawn from a
private torch generator seeded with ``seed`` (the global RNG state is left untouched).

``tiny_model(...).save(folder)`` writes a HF folder that ``load_model(folder)`` reads back.
"""
from __future__ import annotations

from typing import Literal, Sequence

from ftgeo.errors import ValidationError
from ftgeo.models import LoadedModel, _wrap

DEFAULT_TEXTS = (
    "the quick brown fox jumps over the lazy dog",
    "a wonderful , moving film with a great cast",
    "the plot is thin and the acting is dreadful",
    "she sells sea shells by the sea shore",
    "an unbelievably charming and funny story",
    "it was the best of times , it was the worst of times",
    "colorless green ideas sleep furiously",
    "we went to the market to buy some fresh bread and cheese",
    "the committee rejected the proposal after a long debate",
    "is this the real life ? is this just fantasy ?",
)

Arch = Literal["gpt2", "bert", "llama"]


def _bert_tokenizer(texts: Sequence[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(list(texts), trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special,
                                                                   show_progress=False))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=256)


def _bpe_tokenizer(texts: Sequence[str], vocab_size: int, arch: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast
    special = ["<|endoftext|>"] if arch == "gpt2" else ["<unk>", "<s>", "</s>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(list(texts), trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    if arch == "gpt2":
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
        return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                       unk_token="<|endoftext|>", model_max_length=256,
                                       model_input_names=["input_ids", "attention_mask"])
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1",
                                                       special_tokens=[("<s>", bos)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=256, model_input_names=["input_ids", "attention_mask"])


def _config(arch: str, tokenizer, *, n_layers: int, hidden: int, heads: int, num_labels: int):
    from transformers import BertConfig, GPT2Config, LlamaConfig
    v = len(tokenizer)
    common = dict(num_labels=num_labels)
    if arch == "gpt2":
        eos = tokenizer.eos_token_id
        return GPT2Config(vocab_size=v, n_positions=256, n_embd=hidden, n_layer=n_layers, n_head=heads,
                          bos_token_id=eos, eos_token_id=eos, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                          **common)
    if arch == "bert":
        return BertConfig(vocab_size=v, hidden_size=hidden, num_hidden_layers=n_layers, num_attention_heads=heads,
                          intermediate_size=4 * hidden, max_position_embeddings=256,
                          pad_token_id=tokenizer.pad_token_id, hidden_dropout_prob=0.0,
                          attention_probs_dropout_prob=0.0, **common)
    return LlamaConfig(vocab_size=v, hidden_size=hidden, intermediate_size=4 * hidden, num_hidden_layers=n_layers,
                       num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=256,
                       bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                       tie_word_embeddings=False, **common)


def tiny_model(arch: Arch = "bert", *, n_layers: int = 2, hidden: int = 32, heads: int = 2,
               vocab_texts: Sequence[str] | None = None, vocab_size: int | None = None, seed: int = 0,
               head: Literal["sequence", "token"] | None = None, num_labels: int = 2) -> LoadedModel:
    """A random ``arch`` model with ``n_layers`` blocks of width ``hidden`` and its offline tokenizer.

    ``vocab_texts`` (default: ten built-in sentences) trains the tokenizer; ``vocab_size``
    defaults to 120 (WordPiece) or 300 (byte-level BPE: 256 bytes + a few merges), small
    enough that most words split into several sub-tokens. Same arguments, same model.
    """
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoModelForTokenClassification
    if arch not in ("gpt2", "bert", "llama"):
        raise ValidationError(f"arch={arch!r} must be 'gpt2', 'bert' or 'llama'")
    if hidden % heads:
        raise ValidationError(f"hidden={hidden} must be a multiple of heads={heads}")
    texts = list(vocab_texts) if vocab_texts is not None else list(DEFAULT_TEXTS)
    if arch == "bert":
        tokenizer = _bert_tokenizer(texts, vocab_size or 120)
    else:
        tokenizer = _bpe_tokenizer(texts, vocab_size or 300, arch)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    config = _config(arch, tokenizer, n_layers=n_layers, hidden=hidden, heads=heads, num_labels=num_labels)
    if config.pad_token_id is None:
        config.pad_token_id = tokenizer.pad_token_id
    cls = {None: AutoModel, "sequence": AutoModelForSequenceClassification,
           "token": AutoModelForTokenClassification}[head]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls.from_config(config, dtype=torch.float32)
    return _wrap(model, tokenizer, name=f"tiny-{arch}", source=f"tiny:{arch}", head=head,
                 decoder=arch != "bert")


def save_tiny(folder, arch: Arch = "bert", **kwargs) -> str:
    """Build :func:`tiny_model` ``(arch, **kwargs)`` and save it to ``folder``; returns the folder."""
    return str(tiny_model(arch, **kwargs).save(folder))
