"""PEFT adapters (LoRA, QLoRA, IA3) through Hugging Face ``peft``: building them for fine-tuning and
loading an adapter folder back onto its base model for extraction.

A PEFT model folder written by ``ftgeo finetune --peft ...`` (the final model and every checkpoint)
holds the adapter, not a copy of the base weights::

    adapter_config.json, adapter_model.safetensors   peft's save_pretrained (adapter + the trained head)
    config.json                                      the base model's *ForSequenceClassification config
    tokenizer*, ftgeo_head.json                      as for full fine-tuning; ftgeo_head.json["peft"] names
                                                     the method and the base model (packaged name and folder)

:func:`load_adapted` puts the adapter back: the base is loaded with the same sequence head, the
adapter and the head weights are loaded with :class:`peft.PeftModel` and checked (every tensor of
``adapter_model.safetensors`` must land in the model: the well-known failure is an adapter trained
on ``*ForSequenceClassification`` loaded onto ``AutoModel``, whose key names differ, which leaves the
hidden states equal to the base model's), then merged into the weights (``merge_and_unload``) so the
forward pass costs what the base model's does. A QLoRA adapter is applied to its 4-bit base
without merging (merging into 4-bit weights would round the update away).

``peft`` is an optional dependency (``pip install 'ftgeo[peft]'``); without it every PEFT request
is one line saying how to install it.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from ftgeo.errors import DataNotFoundError, ValidationError

PEFT_METHODS = ("lora", "qlora", "ia3")
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
INSTALL_HINT = "install it with `pip install 'ftgeo[peft]'` (or `pip install 'peft>=0.13'`)"

#: LoRA targets per ``model_type``: every linear map inside the blocks (attention and MLP), the
#: QLoRA paper's recommendation (Dettmers et al. 2023); the classifier is trained in full beside it
_LLAMA_LIKE = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_BERT_BLOCK = r".*\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)"
LORA_TARGETS: dict[str, Any] = {
    **{t: list(_LLAMA_LIKE) for t in ("llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2",
                                      "gemma3_text", "olmo", "olmo2", "smollm3", "granite", "stablelm")},
    "gpt2": ["c_attn", "c_proj", "c_fc"],            # Conv1D layers (peft sets fan_in_fan_out)
    "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
    **{t: _BERT_BLOCK for t in ("bert", "roberta", "xlm-roberta", "electra")},
}
#: the pooler of BERT-style encoders feeds the classifier: train it with the head
_POOLER_TYPES = ("bert", "roberta", "xlm-roberta", "electra")


def require_peft(method: str = "lora"):
    """The ``peft`` module, or one line saying how to install it."""
    try:
        import peft
    except ImportError:
        raise ValidationError(f"--peft {method} needs the peft package, which is not installed; {INSTALL_HINT}") from None
    return peft


def check_qlora() -> None:
    """QLoRA needs a CUDA GPU and bitsandbytes; anything else is one line (use LoRA instead)."""
    import importlib.util

    import torch
    missing = []
    if not torch.cuda.is_available():
        missing.append("a CUDA GPU (this machine has none)")
    if importlib.util.find_spec("bitsandbytes") is None:
        missing.append("the bitsandbytes package (pip install bitsandbytes)")
    if missing:
        raise ValidationError(f"--peft qlora (a 4-bit base model) needs {' and '.join(missing)}; use --peft lora "
                              "for the same adapter on an unquantised base")


@dataclass(frozen=True)
class PeftSettings:
    """One PEFT method and its settings (recorded in the fine-tuning identity).

    ``rank``/``alpha``/``dropout`` apply to LoRA and QLoRA (update ``B A`` scaled by ``alpha / rank``);
    ``target_modules`` ``None`` = the per-architecture default (:func:`default_targets`).
    """

    method: str
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    target_modules: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.method not in PEFT_METHODS:
            raise ValidationError(f"peft={self.method!r} must be one of {list(PEFT_METHODS)} (or none)")
        if not isinstance(self.rank, int) or isinstance(self.rank, bool) or self.rank < 1:
            raise ValidationError(f"lora_rank={self.rank!r} must be an integer >= 1")
        if not self.alpha > 0:
            raise ValidationError(f"lora_alpha={self.alpha!r} must be > 0")
        if not 0 <= self.dropout < 1:
            raise ValidationError(f"lora_dropout={self.dropout!r} must be in [0, 1)")
        if self.target_modules is not None:
            object.__setattr__(self, "target_modules", tuple(str(t) for t in self.target_modules))
            if not self.target_modules:
                raise ValidationError("target_modules is empty; give module names (q_proj,v_proj) or leave it "
                                      "unset for the per-architecture default")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["target_modules"] = list(self.target_modules) if self.target_modules is not None else None
        if self.method == "ia3":  # rank, alpha and dropout mean nothing for IA3
            for k in ("rank", "alpha", "dropout"):
                d.pop(k)
        return d


def default_targets(model_type: str, method: str) -> tuple[Any, Any]:
    """``(target_modules, feedforward_modules)`` for ``method`` on a ``model_type``.

    LoRA/QLoRA: every linear map inside the blocks (:data:`LORA_TARGETS`), else peft's
    ``"all-linear"``. IA3: peft's own table (keys, values and the MLP output, the IA3 paper's
    choice); feed-forward modules scale their input.
    """
    if method in ("lora", "qlora"):
        return LORA_TARGETS.get(model_type, "all-linear"), None
    from peft.utils.constants import (TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING as FF,
                                      TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING as TM)
    if model_type not in TM:
        raise ValidationError(f"--peft ia3 has no default target modules for model type {model_type!r}; pass "
                              "--target-modules (the IA3 layers) explicitly")
    return list(TM[model_type]), list(FF.get(model_type, []))


def peft_config(settings: PeftSettings, model) -> Any:
    """The ``peft`` config (task type sequence classification: the head is trained in full beside it)."""
    peft = require_peft(settings.method)
    model_type = getattr(model.config, "model_type", "")
    targets, ff = default_targets(model_type, settings.method)
    if settings.target_modules is not None:
        targets = list(settings.target_modules)
        ff = [t for t in (ff or []) if t in targets] if settings.method == "ia3" else None
    extra = ["pooler"] if model_type in _POOLER_TYPES and getattr(model.base_model, "pooler", None) is not None else None
    if settings.method == "ia3":  # (peft 0.21 cannot merge IA3 next to a trained pooler: it stays frozen)
        return peft.IA3Config(task_type=peft.TaskType.SEQ_CLS, target_modules=targets, feedforward_modules=ff or [],
                              modules_to_save=None)
    return peft.LoraConfig(task_type=peft.TaskType.SEQ_CLS, r=settings.rank, lora_alpha=settings.alpha,
                           lora_dropout=settings.dropout, target_modules=targets, modules_to_save=extra,
                           fan_in_fan_out=model_type == "gpt2", bias="none")


def wrap_for_training(net, settings: PeftSettings, *, base_name: str, base_source: str):
    """``net`` (a ``*ForSequenceClassification`` model) with a fresh adapter; only the adapter and the head
    (``score``/``classifier``, and BERT's pooler) train. Trainable parameters are kept in float32 whatever
    the base's dtype."""
    import torch
    peft = require_peft(settings.method)
    if settings.method == "qlora":
        net = peft.prepare_model_for_kbit_training(net, use_gradient_checkpointing=False)
    config = peft_config(settings, net)
    try:
        with _quiet():
            pm = peft.get_peft_model(net, config)
    except ValueError as exc:  # e.g. "Target modules {...} not found in the base model"
        raise ValidationError(f"--peft {settings.method}: {_first_line(exc)}; check --target-modules against the "
                              "model's module names") from None
    pm.peft_config["default"].base_model_name_or_path = base_source
    for p in pm.parameters():
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()
    return pm


def adapter_meta(settings: PeftSettings, pm, *, base_name: str, base_source: str) -> dict[str, Any]:
    """What ``ftgeo_head.json["peft"]`` records: method, settings, the resolved targets, the base model, and
    the trainable and total parameter counts."""
    trainable = sum(p.numel() for p in pm.parameters() if p.requires_grad)
    total = sum(p.numel() for p in pm.parameters())
    cfg = pm.peft_config["default"]
    targets = cfg.target_modules
    targets = sorted(targets) if isinstance(targets, (set, list, tuple)) else targets
    return {**settings.to_dict(), "resolved_target_modules": targets,
            "modules_to_save": sorted(cfg.modules_to_save or []), "base_model": base_name,
            "base_model_source": base_source, "trainable_params": int(trainable), "total_params": int(total),
            "peft_version": require_peft(settings.method).__version__}


# ----------------------------------------------------------------------------- loading an adapter folder
@contextlib.contextmanager
def _quiet():
    """Hide the warnings ftgeo's own use of peft causes (a deprecated transformers call inside peft, the new
    head's "newly initialized" note)."""
    import warnings
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        warnings.filterwarnings("ignore", message=".*newly initialized.*")
        yield


def is_adapter_folder(folder: str | Path) -> bool:
    return (Path(folder) / ADAPTER_CONFIG).is_file()


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def _read_json(f: Path) -> dict:
    try:
        data = json.loads(f.read_text())
    except (OSError, ValueError) as exc:
        raise ValidationError(f"{f} cannot be read ({exc}); the adapter folder is damaged") from None
    if not isinstance(data, dict):
        raise ValidationError(f"{f} must hold a JSON object")
    return data


def adapter_info(folder: str | Path) -> dict[str, Any]:
    """Method, base model and head of an adapter folder (from ``ftgeo_head.json`` and ``adapter_config.json``)."""
    folder = Path(folder)
    cfg = _read_json(folder / ADAPTER_CONFIG)
    head_file = folder / "ftgeo_head.json"
    head = _read_json(head_file) if head_file.is_file() else {}
    peft_meta = dict(head.get("peft") or {})
    method = peft_meta.get("method") or str(cfg.get("peft_type", "")).lower()
    return {"method": method, "base_model": peft_meta.get("base_model"),
            "base_model_source": peft_meta.get("base_model_source") or cfg.get("base_model_name_or_path"),
            "task_type": cfg.get("task_type"), "head": head, "quantized": method == "qlora"}


def base_model_path(info: dict[str, Any], folder: Path) -> str:
    """Where the base model of an adapter folder is: the packaged name if it is one, else the recorded
    folder (if it still exists) or hub id."""
    from ftgeo.models import MODELS, packaged_path
    name, src = info.get("base_model"), info.get("base_model_source")
    if name and name in MODELS:
        return str(packaged_path(name))
    if src and (Path(src).expanduser().is_dir() or not src.startswith(("/", ".", "~"))):
        return src
    raise DataNotFoundError(f"the adapter in {folder} was trained on the base model {name or src!r}, which is not "
                            f"found (recorded folder {src!r}); put the base model back or re-fine-tune")


def load_adapted(folder: str | Path, *, head: str | None, dtype, device_map=None, merge: bool = True,
                 num_labels: int | None = None, label_names: Sequence[str] | None = None, pad_token_id=None):
    """The model of an adapter folder with the adapter applied: the backbone (``head=None``) or the
    ``*ForSequenceClassification`` model with its trained head (``head="sequence"``).

    The adapter is merged into the weights unless ``merge=False`` or the base is 4-bit (QLoRA).
    Raises if any adapter tensor does not fit the base model (the silent "hidden states equal the
    base model's" failure).
    """
    folder = Path(folder).expanduser().resolve()
    info = adapter_info(folder)
    peft = require_peft(info["method"] or "lora")
    if info["task_type"] not in ("SEQ_CLS", None):
        raise ValidationError(f"{folder}: adapter task type {info['task_type']!r}; ftgeo loads sequence-"
                              "classification adapters (written by ftgeo finetune --peft)")
    if head not in (None, "sequence"):
        raise ValidationError(f"{folder} holds a sequence-classification adapter; load it with head=None or "
                              f"'sequence', not {head!r}")
    hmeta = info["head"]
    names = [str(x) for x in (label_names or hmeta.get("label_names") or [])]
    n = num_labels or len(names) or int(hmeta.get("num_labels") or 2)
    if names and len(names) != n:
        raise ValidationError(f"num_labels={n} but {len(names)} label names")
    base_path = base_model_path(info, folder)
    from transformers import AutoConfig, AutoModelForSequenceClassification
    kwargs: dict[str, Any] = {"dtype": dtype}
    if (folder / "config.json").is_file():  # the config the head was trained with (labels, pad token, dropout)
        config = AutoConfig.from_pretrained(str(folder))
        if config.num_labels != n:
            raise ValidationError(f"{folder} holds a {config.num_labels}-label head; {n} labels were asked for")
        if pad_token_id is not None and getattr(config, "pad_token_id", None) is None:
            config.pad_token_id = pad_token_id
        kwargs["config"] = config
    else:
        kwargs["num_labels"] = n
        if names:
            kwargs.update(id2label=dict(enumerate(names)), label2id={x: i for i, x in enumerate(names)})
        if pad_token_id is not None:
            kwargs["pad_token_id"] = pad_token_id
    if device_map is not None:
        kwargs["device_map"] = device_map
    if info["quantized"]:
        check_qlora()
        kwargs["quantization_config"] = bnb_config()
        merge = False
    from ftgeo.models import hf_progress_off, quiet_load_report
    with _quiet(), quiet_load_report(), hf_progress_off():
        try:
            base = AutoModelForSequenceClassification.from_pretrained(base_path, **kwargs)
        except OSError as exc:
            raise DataNotFoundError(f"cannot load the base model {base_path} of the adapter in {folder}: "
                                    f"{_first_line(exc)}") from None
        try:
            pm = peft.PeftModel.from_pretrained(base, str(folder), is_trainable=False)
        except (ValueError, RuntimeError, KeyError) as exc:
            raise ValidationError(f"the adapter in {folder} does not fit its base model {base_path}: "
                                  f"{_first_line(exc)}") from None
    check_loaded(pm, folder)
    model = pm.merge_and_unload() if merge else pm
    model.eval()
    if head is None:
        return model.base_model if merge else _unmerged_backbone(pm)
    return model


def _unmerged_backbone(pm):
    """The backbone of an unmerged PeftModel: the base model's own body, its adapter layers left in place."""
    return pm.get_base_model().base_model


def check_loaded(pm, folder: Path) -> None:
    """Every tensor of the adapter file must be in the model's adapter state, with the same values."""
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import load_file
    f = folder / ADAPTER_WEIGHTS
    if not f.is_file():
        raise DataNotFoundError(f"{folder} has {ADAPTER_CONFIG} but no {ADAPTER_WEIGHTS}; the adapter folder is "
                                "incomplete (re-run the same finetune command to finish it)")
    saved = load_file(str(f))
    have = get_peft_model_state_dict(pm)
    lost = [k for k in saved if k not in have]
    if lost:
        raise ValidationError(f"the adapter in {folder} does not fit the model it was loaded onto: {len(lost)} of "
                              f"{len(saved)} tensors have no place (e.g. {lost[0]!r}); load it with "
                              "ftgeo.models.load_model(folder), not onto another model class")
    for k, v in saved.items():
        w = have[k]
        if w.shape != v.shape or not torch.equal(w.detach().cpu(), v.to(w.dtype)):  # (in the model's dtype)
            raise ValidationError(f"the adapter in {folder}: tensor {k!r} was not loaded as saved; the adapter does "
                                  "not fit its base model")


def bnb_config():
    """4-bit NF4 with double quantisation and bfloat16 compute (the QLoRA paper's setting)."""
    import torch
    from transformers import BitsAndBytesConfig
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16)


def save_adapter_folder(model, folder: str | Path) -> None:
    """``peft``'s ``save_pretrained`` (adapter + head weights) plus the base's ``config.json`` (so the folder is
    recognisable as a model folder: architecture, layer count, label names)."""
    folder = Path(folder)
    model.save_pretrained(str(folder))
    model.get_base_model().config.save_pretrained(str(folder))
    readme = folder / "README.md"  # peft's model-card stub: not needed, and it would look like a user's file
    if readme.is_file():
        readme.unlink()


def is_peft_model(model) -> bool:
    try:
        from peft import PeftModel
    except ImportError:
        return False
    return isinstance(model, PeftModel)


_TORCH_DTYPES = ("float32", "bfloat16", "float16")


def resolve_dtype(name: str | None, *, cuda: bool | None = None) -> str:
    """``auto``/None -> ``bfloat16`` when CUDA is available, else ``float32``; other names are checked."""
    if name in (None, "auto"):
        if cuda is None:
            import torch
            cuda = torch.cuda.is_available()
        return "bfloat16" if cuda else "float32"
    if name not in _TORCH_DTYPES:
        raise ValidationError(f"model_dtype={name!r} must be one of auto, {', '.join(_TORCH_DTYPES)}")
    return name
