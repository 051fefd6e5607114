"""PEFT fine-tuning (LoRA, IA3; QLoRA's message here) on tiny random models, and extraction of the adapter.

The known pitfall: an adapter loaded onto the wrong model class (or not loaded at all) leaves the hidden
states equal to the base model's. Every test here checks both sides: the extracted representations of a
PEFT checkpoint differ from the base model's and equal those of the merged model, and those of the
unmerged adapter applied by ``peft`` itself (to float32 rounding).
"""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from ftgeo.data.memory import ListTask
from ftgeo.errors import ValidationError
from ftgeo.extract import extract
from ftgeo.finetune import classification_head, finetune, list_checkpoints, load_finetuned
from ftgeo.testing.faults import FailAfter
from ftgeo.testing.models import save_tiny
from ftgeo.testing.tasks import sentence_task, word_task

peft = pytest.importorskip("peft")
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing")

POOLING = {"llama": "last", "gpt2": "last", "bert": "cls"}
TOL = 2e-5  # merged vs unmerged adapter: float32 rounding of W + (alpha/r) B A against W x + (alpha/r) B (A x)


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    root = tmp_path_factory.mktemp("bases")
    return {arch: save_tiny(root / arch, arch, n_layers=2, seed=3) for arch in POOLING}


def _task(n_train=16, n_dev=8):
    ex = sentence_task(n_train + n_dev).examples("dev")
    return ListTask("toy", "sentence", ["neg", "pos"], {"train": ex[:n_train], "dev": ex[n_train:]})


KW = dict(recipe="closer-look", epochs=1, batch_size=4, learning_rate=5e-2, checkpoint_every=2, seed=1,
          progress=False)


def _reference_hidden(model, tok, texts, pooling):
    """Pooled hidden states of ``model`` (one text at a time: no padding at all), (layers, n, d)."""
    import torch
    out = []
    with torch.no_grad():
        for t in texts:
            enc = tok(t, return_tensors="pt")
            hs = model(**enc, output_hidden_states=True).hidden_states
            pos = 0 if pooling == "cls" else enc["input_ids"].shape[1] - 1
            out.append(np.stack([h[0, pos].double().numpy() for h in hs]))
    return np.stack(out, axis=1)


def _peft_model(base_folder, adapter_folder, num_labels=2):
    """The adapter applied (unmerged) by peft itself onto the sequence-classification base."""
    from transformers import AutoConfig, AutoModelForSequenceClassification
    config = AutoConfig.from_pretrained(adapter_folder)
    base = AutoModelForSequenceClassification.from_pretrained(base_folder, config=config)
    return peft.PeftModel.from_pretrained(base, adapter_folder).eval()


@pytest.mark.parametrize("arch", ["llama", "gpt2", "bert"])
def test_lora_checkpoint_extracts_as_the_merged_model_not_the_base(bases, tmp_path, arch):
    task = _task()
    res = finetune(bases[arch], task, out=tmp_path / "ft", peft="lora", lora_rank=4, **KW)
    folder = res.model_dir
    files = {p.name for p in folder.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "config.json"} <= files
    assert "model.safetensors" not in files and "README.md" not in files
    meta = json.loads((folder / "ftgeo_head.json").read_text())["peft"]
    assert meta["method"] == "lora" and meta["rank"] == 4 and meta["trainable_params"] < meta["total_params"] / 2
    assert set(meta["modules_to_save"]) >= {"classifier", "score"}
    cks = list_checkpoints(folder)
    assert [c.step for c in cks] == [2, 4] and all((c.path / "adapter_model.safetensors").is_file() for c in cks)
    pooling = POOLING[arch]
    texts = [ex.text for ex in task.examples("dev")]
    ft = extract(folder, task, "dev", pooling=pooling, out=tmp_path / "s_ft", dtype="float32", progress=False)
    base = extract(bases[arch], task, "dev", pooling=pooling, out=tmp_path / "s_base", dtype="float32",
                   progress=False)
    got = np.stack([ft.layer(l, dtype=np.float64) for l in ft.layers])
    # 1. not the base model: the top layers moved
    assert np.abs(got[-1] - base.layer(-1, dtype=np.float64)).max() > 1e-3
    # 2. the unmerged adapter applied by peft itself
    pm = _peft_model(bases[arch], str(folder))
    applied = _reference_hidden(pm, load_finetuned(folder).tokenizer, texts, pooling)
    np.testing.assert_allclose(got, applied, atol=TOL, rtol=0)
    # 3. the merged model
    merged = _reference_hidden(pm.merge_and_unload(), load_finetuned(folder).tokenizer, texts, pooling)
    np.testing.assert_allclose(got, merged, atol=TOL, rtol=0)
    # the head (trained beside the adapter) on the extracted vectors equals the PEFT model's own logits
    import torch
    tok = load_finetuned(folder).tokenizer
    pm2 = _peft_model(bases[arch], str(folder))
    with torch.no_grad():
        want = np.concatenate([pm2(**tok(t, return_tensors="pt")).logits.double().numpy() for t in texts])
    np.testing.assert_allclose(classification_head(folder)(ft.layer(-1)), want, atol=1e-4, rtol=0)
    # a checkpoint extracts too, and differs from the final model
    ck = extract(cks[0].path, task, "dev", pooling=pooling, out=tmp_path / "s_ck", dtype="float32", progress=False)
    assert np.abs(ck.layer(-1) - ft.layer(-1)).max() > 1e-4


def test_ia3_extracts_as_the_merged_model(bases, tmp_path):
    task = _task()
    res = finetune(bases["llama"], task, out=tmp_path / "ft", peft="ia3", **KW)
    meta = json.loads((res.model_dir / "ftgeo_head.json").read_text())["peft"]
    assert meta["method"] == "ia3" and meta["resolved_target_modules"] == ["down_proj", "k_proj", "v_proj"]
    ft = extract(res.model_dir, task, "dev", pooling="last", out=tmp_path / "s", dtype="float32", progress=False)
    base = extract(bases["llama"], task, "dev", pooling="last", out=tmp_path / "b", dtype="float32", progress=False)
    assert np.abs(ft.layer(-1) - base.layer(-1)).max() > 1e-4
    pm = _peft_model(bases["llama"], str(res.model_dir))
    texts = [ex.text for ex in task.examples("dev")]
    ref = _reference_hidden(pm.merge_and_unload(), load_finetuned(res.model_dir).tokenizer, texts, "last")
    np.testing.assert_allclose(np.stack([ft.layer(l, dtype=np.float64) for l in ft.layers]), ref, atol=TOL, rtol=0)


def test_an_interrupted_lora_run_resumes_to_the_same_adapter(bases, tmp_path):
    from safetensors.torch import load_file
    task = _task()
    kw = dict(KW, epochs=2)
    ref = finetune(bases["gpt2"], task, out=tmp_path / "ref", peft="lora", lora_rank=2, **kw)
    with pytest.raises(KeyboardInterrupt):
        finetune(bases["gpt2"], task, out=tmp_path / "cut", peft="lora", lora_rank=2, callbacks=[FailAfter(2)], **kw)
    res = finetune(bases["gpt2"], task, out=tmp_path / "cut", peft="lora", lora_rank=2, **kw)
    assert json.loads((res.model_dir / "ftgeo_finetune.json").read_text())["resumed_from"] == "checkpoint-2"
    a = load_file(str(ref.model_dir / "adapter_model.safetensors"))
    b = load_file(str(res.model_dir / "adapter_model.safetensors"))
    assert sorted(a) == sorted(b) and max(float((a[k] - b[k]).abs().max()) for k in a) == 0.0
    # settings are the identity: another rank is another run
    from ftgeo.errors import ManifestMismatchError
    with pytest.raises(ManifestMismatchError, match="differs in peft"):
        finetune(bases["gpt2"], task, out=tmp_path / "ref", peft="lora", lora_rank=8, **kw)
    # a run folder names the method and rank
    named = finetune(bases["gpt2"], task, out=__import__("ftgeo.run", fromlist=["RunDir"]).RunDir(tmp_path / "run"),
                     peft="lora", lora_rank=2, **kw)
    assert named.model_dir.name.endswith("__lora-r2")


def test_bfloat16_base_trains_float32_adapters(bases, tmp_path):
    import torch
    task = _task(8, 4)
    res = finetune(bases["llama"], task, out=tmp_path / "ft", peft="lora", lora_rank=2, model_dtype="bfloat16",
                   **dict(KW, checkpoint_every=None))
    meta = json.loads((res.model_dir / "ftgeo_finetune.json").read_text())
    assert meta["identity"]["model_dtype"] == "bfloat16"
    from safetensors.torch import load_file
    w = load_file(str(res.model_dir / "adapter_model.safetensors"))
    assert {v.dtype for k, v in w.items() if "lora_" in k} == {torch.float32}
    store = extract(res.model_dir, task, "dev", pooling="last", out=tmp_path / "s", model_dtype="bfloat16",
                    dtype="float32", progress=False)
    assert store.manifest.model_dtype == "bfloat16" and np.isfinite(store.layer(-1)).all()


def test_a_wrongly_loaded_adapter_is_caught(bases, tmp_path):
    """The pitfall itself: the adapter of a sequence-classification model loaded onto AutoModel finds none of
    its key names, so peft would silently leave the base model's hidden states."""
    from transformers import AutoModel
    from ftgeo.models.adapters import check_loaded
    res = finetune(bases["llama"], _task(8, 4), out=tmp_path / "ft", peft="lora", lora_rank=2,
                   **dict(KW, checkpoint_every=None))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrong = peft.PeftModel.from_pretrained(AutoModel.from_pretrained(bases["llama"]), str(res.model_dir))
    with pytest.raises(ValidationError, match="tensors have no place"):
        check_loaded(wrong, res.model_dir)


def test_clear_errors(bases, tmp_path, monkeypatch):
    import torch
    task = _task(8, 4)
    with pytest.raises(ValidationError, match="lora_rank applies to parameter-efficient fine-tuning"):
        finetune(bases["llama"], task, out=tmp_path / "x", lora_rank=4, **KW)
    with pytest.raises(ValidationError, match="lora_rank applies to lora and qlora, not ia3"):
        finetune(bases["llama"], task, out=tmp_path / "x", peft="ia3", lora_rank=4, **KW)
    with pytest.raises(ValidationError, match=r"lora_rank=0 must be an integer >= 1"):
        finetune(bases["llama"], task, out=tmp_path / "x", peft="lora", lora_rank=0, **KW)
    with pytest.raises(ValidationError, match="peft='dora' must be one of none, lora, qlora, ia3"):
        finetune(bases["llama"], task, out=tmp_path / "x", peft="dora", **KW)
    with pytest.raises(ValidationError, match="check --target-modules"):
        finetune(bases["llama"], task, out=tmp_path / "x", peft="lora", target_modules=["nope_proj"], **KW)
    words = word_task(8)
    wt = ListTask("w", "token", words.label_names, {"train": words.examples("dev"), "dev": words.examples("dev")})
    with pytest.raises(ValidationError, match="--peft lora trains sentence and sentence-pair heads"):
        finetune(bases["bert"], wt, out=tmp_path / "x", peft="lora", **KW)
    if not torch.cuda.is_available():
        with pytest.raises(ValidationError) as e:
            finetune(bases["llama"], task, out=tmp_path / "x", peft="qlora", **KW)
        assert str(e.value).startswith("--peft qlora (a 4-bit base model) needs a CUDA GPU") and "\n" not in str(e.value)
        with pytest.raises(ValidationError, match="model_dtype='float16' trains only on a CUDA GPU"):
            finetune(bases["llama"], task, out=tmp_path / "x", model_dtype="float16", **KW)
    monkeypatch.setitem(sys.modules, "peft", None)  # peft not installed
    with pytest.raises(ValidationError) as e:
        finetune(bases["llama"], task, out=tmp_path / "x", peft="lora", **KW)
    assert str(e.value) == ("--peft lora needs the peft package, which is not installed; install it with "
                            "`pip install 'ftgeo[peft]'` (or `pip install 'peft>=0.13'`)")
    assert not (tmp_path / "x").exists()


def test_cli_flags(bases, tmp_path, capsys):
    from ftgeo.cli.main import main
    rc = main(["finetune", "--model", bases["llama"], "--task", "sst2", "--out", str(tmp_path / "o"),
               "--lora-rank", "4"])
    assert rc != 0 and "lora_rank applies to parameter-efficient fine-tuning" in capsys.readouterr().err
    rc = main(["finetune", "--model", bases["llama"], "--task", "sst2", "--out", str(tmp_path / "o"),
               "--peft", "lora", "--lora-rank", "0"])
    assert rc != 0 and "lora_rank=0 must be an integer >= 1" in capsys.readouterr().err
    rc = main(["finetune", "--model", bases["llama"], "--task", "sst2", "--out", str(tmp_path / "o"),
               "--peft", "lorra"])
    assert rc != 0 and "--peft" in capsys.readouterr().err
