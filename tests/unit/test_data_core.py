"""load_task, the registry, data-root resolution, option validation and derived splits."""
from __future__ import annotations

import pytest

from ftgeo.data import TASKS, load_task, resolve_data_root
from ftgeo.data._common import stratified_holdout
from ftgeo.errors import DataNotFoundError, UnknownNameError, ValidationError


def test_unknown_task_did_you_mean():
    with pytest.raises(UnknownNameError, match=r"unknown task 'sts2'; did you mean 'sst2'"):
        load_task("sts2")


def test_unknown_option_lists_valid_ones(data_root):
    with pytest.raises(ValidationError, match=r"unknown option\(s\) 'treebnk' \(did you mean 'treebank'\?\) for task "
                                              r"'ud_pos'; valid options: treebank, derive_splits, holdout, seed"):
        load_task("ud_pos", data_root=data_root, treebnk="pud")


def test_bad_source():
    with pytest.raises(ValidationError, match=r"source='web' is not one of \['auto', 'local', 'hub'\]"):
        load_task("sst2", source="web")


def test_registry_lists_every_family_with_help():
    for name in ("sst2", "qnli", "imdb", "ag_news", "dbpedia", "trec6", "trec50", "ud_pos", "ud_dep", "ps_role",
                 "ps_fxn", "wikitext2", "brown", "local_file", "conllu_file", "hub"):
        assert name in TASKS
        assert TASKS._help[name]


def test_resolve_data_root(monkeypatch, tmp_path):
    monkeypatch.delenv("FTGEO_DATA_ROOT", raising=False)
    with pytest.raises(DataNotFoundError, match=r"no data root: pass data_root=.* FTGEO_DATA_ROOT .*\.\./shared/data"):
        resolve_data_root()
    monkeypatch.setenv("FTGEO_DATA_ROOT", str(tmp_path))
    assert resolve_data_root() == tmp_path
    (tmp_path / "x").mkdir()
    assert resolve_data_root(tmp_path / "x") == tmp_path / "x"  # the argument wins over the environment
    with pytest.raises(DataNotFoundError, match=r"data root .*nope \(from data_root\) does not exist"):
        resolve_data_root(tmp_path / "nope")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(DataNotFoundError, match=r"data root .*f.txt \(from data_root\) is a file, not a folder"):
        resolve_data_root(tmp_path / "f.txt")


def test_missing_file_names_expected_path(tmp_path):
    with pytest.raises(DataNotFoundError) as exc:
        load_task("sst2", data_root=tmp_path, source="local")
    msg = str(exc.value)
    assert str(tmp_path / "sst2" / "train.tsv") in msg and "data_root" in msg and "FTGEO_DATA_ROOT" in msg


def test_stratified_holdout_is_seeded_disjoint_and_stratified():
    strata = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    kept, held = stratified_holdout(strata, 0.2, seed=0)
    assert set(kept).isdisjoint(held) and sorted(kept + held) == list(range(100))
    assert [strata[i] for i in held].count("a") == 10
    assert [strata[i] for i in held].count("b") == 6
    assert [strata[i] for i in held].count("c") == 4
    assert stratified_holdout(strata, 0.2, seed=0) == (kept, held)
    assert stratified_holdout(strata, 0.2, seed=1) != (kept, held)
    with pytest.raises(ValidationError, match="holdout must be strictly between 0 and 1"):
        stratified_holdout(strata, 1.5, seed=0)


def test_task_spec_in_name_roundtrips(data_root):
    from ftgeo.data import parse_task_spec
    assert parse_task_spec("ud_dep[treebank=pud, relations=full]") == ("ud_dep", {"treebank": "pud",
                                                                                "relations": "full"})
    assert parse_task_spec("qnli[derive_splits=true,holdout=0.1,seed=3]") == (
        "qnli", {"derive_splits": True, "holdout": 0.1, "seed": 3})
    assert parse_task_spec("ps_role[lexcats=P|INF.P]") == ("ps_role", {"lexcats": ("P", "INF.P")})
    assert parse_task_spec("sst2") == ("sst2", {})
    t = load_task("ud_pos", data_root=data_root, treebank="pud", derive_splits=True, holdout=0.1)
    assert t.name == "ud_pos[derive_splits=true,holdout=0.1,treebank=pud]"
    again = load_task(t.name, data_root=data_root)
    assert again.name == t.name and again.fingerprint("test") == t.fingerprint("test")
    assert load_task("ud_pos", data_root=data_root, treebank="ewt").name == "ud_pos"  # defaults are left out
    with pytest.raises(ValidationError, match=r"option 'treebank' is given both in the task name and as an argument"):
        load_task("ud_pos[treebank=pud]", data_root=data_root, treebank="ewt")
    with pytest.raises(ValidationError, match=r"task spec 'ud_pos\[pud\]': 'pud' is not key=value"):
        load_task("ud_pos[pud]", data_root=data_root)
