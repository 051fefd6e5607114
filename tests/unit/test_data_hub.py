"""The Hugging Face hub source: offline / missing-package errors, auto fallback, DatasetDict conversion.

The conftest sets HF_HUB_OFFLINE=1, so nothing here touches the network.
"""
from __future__ import annotations

import pytest

import ftgeo.data.hub as hub
from ftgeo.data import load_task
from ftgeo.errors import DataNotFoundError, OfflineError, ValidationError


def test_offline_hub_id_is_one_clear_line():
    with pytest.raises(OfflineError) as exc:
        load_task("glue/sst2")
    msg = str(exc.value)
    assert "\n" not in msg
    if hub._has_datasets():
        assert msg.startswith("cannot load 'glue/sst2' (nyu-mll/glue (sst2)) from the Hugging Face hub: offline mode")
    else:
        assert msg.startswith("loading 'glue/sst2' from the Hugging Face hub needs the `datasets` package")


def test_registered_task_from_hub_offline_points_to_local_copy():
    with pytest.raises(OfflineError, match=r"use the local copy \(source='local', data_root=\.\.\.\)"):
        load_task("sst2", source="hub")


def test_no_datasets_package(monkeypatch):
    monkeypatch.setattr(hub, "_has_datasets", lambda: False)
    with pytest.raises(OfflineError, match=r"^loading 'dbpedia_14' from the Hugging Face hub needs the `datasets` "
                                           r"package \(pip install datasets\)"):
        load_task("dbpedia_14")
    assert not hub.hub_available()


def test_auto_falls_back_to_hub_only_when_usable(monkeypatch, tmp_path):
    # offline: the local missing-file error comes through unchanged
    with pytest.raises(DataNotFoundError, match=r"dbpedia/train\.csv"):
        load_task("dbpedia", data_root=tmp_path)
    calls = []
    monkeypatch.setattr(hub, "hub_available", lambda: True)
    monkeypatch.setattr(hub, "load_hub", lambda hub_id, **kw: calls.append((hub_id, kw)) or "hub-task")
    assert load_task("dbpedia", data_root=tmp_path) == "hub-task"
    assert calls == [("fancyzhx/dbpedia_14", {"task_name": "dbpedia", "text_column": ("title", "content")})]
    with pytest.raises(DataNotFoundError):  # source='local' never falls back
        load_task("dbpedia", data_root=tmp_path, source="local")


def test_tasks_without_hub_source(data_root):
    with pytest.raises(ValidationError, match=r"task 'ud_pos' has no Hugging Face hub source; use source='local'"):
        load_task("ud_pos", data_root=data_root, source="hub")
    with pytest.raises(ValidationError, match=r"needs id=\.\.\."):
        load_task("hub")


def test_resolve_id():
    assert hub.resolve_id("glue/qnli") == ("nyu-mll/glue", "qnli", {})
    assert hub.resolve_id("imdb")[0] == "stanfordnlp/imdb"
    assert hub.resolve_id("someone/data") == ("someone/data", None, {})


@pytest.fixture
def fake_glue(monkeypatch):
    datasets = pytest.importorskip("datasets")
    feats = datasets.Features({"question": datasets.Value("string"), "sentence": datasets.Value("string"),
                               "label": datasets.ClassLabel(names=["entailment", "not_entailment"]),
                               "idx": datasets.Value("int32")})

    def make(qs, labels):
        return datasets.Dataset.from_dict({"question": qs, "sentence": [q + "!" for q in qs], "label": labels,
                                           "idx": list(range(len(qs)))}, features=feats)
    dd = datasets.DatasetDict({"train": make(["a", "b", "c"], [0, 1, 0]), "validation": make(["d", "e"], [1, 0]),
                               "test": make(["f"], [-1])})
    seen = []
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, **kw: seen.append((path, name)) or dd)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return seen


def test_hub_datasetdict_becomes_a_task(fake_glue):
    t = load_task("glue/qnli")
    assert fake_glue == [("nyu-mll/glue", "qnli")]
    assert t.kind == "pair" and t.splits() == ["train", "dev"]  # validation -> dev; unlabelled test dropped
    assert t.label_names == ["entailment", "not_entailment"]
    assert [(e.id, e.text, e.text_pair, e.label) for e in t.examples("dev")] == [("dev-0", "d", "d!", 1),
                                                                                ("dev-1", "e", "e!", 0)]
    t2 = load_task("qnli", source="hub")
    assert t2.name == "qnli" and t2.fingerprint("train") == t.fingerprint("train")
    with pytest.raises(ValidationError, match=r"text_column='body' is not a column"):
        load_task("hub:glue/qnli", text_column="body")


def test_auto_reports_the_local_error_when_the_hub_fallback_fails(monkeypatch, tmp_path):
    monkeypatch.setattr(hub, "hub_available", lambda: True)

    def offline(hub_id, **kw):
        raise OfflineError(f"cannot load {hub_id!r}: the hub is unreachable")
    monkeypatch.setattr(hub, "load_hub", offline)
    with pytest.raises(DataNotFoundError, match=r"sst2/train\.tsv.* The fallback to the Hugging Face hub failed too: "
                                                 r"cannot load 'glue/sst2': the hub is unreachable"):
        load_task("sst2", data_root=tmp_path)
