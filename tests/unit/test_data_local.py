"""User files: csv / tsv / jsonl tables and CoNLL-U, and every validation error with its line number."""
from __future__ import annotations

import gzip
import json

import pytest

from ftgeo.data import load_task
from ftgeo.errors import DataNotFoundError, ValidationError

CONLLU = """# sent_id = s1
# text = Dogs bark loudly.
1	Dogs	dog	NOUN	NNS	_	2	nsubj	_	_
2	bark	bark	VERB	VBP	_	0	root	_	_
3-4	loudly.	_	_	_	_	_	_	_	_
3	loudly	loudly	ADV	RB	_	2	advmod	_	_
3.1	x	x	X	_	_	_	_	_	_
4	.	.	PUNCT	.	_	2	punct	_	_

# sent_id = s2
1	I	I	PRON	PRP	_	2	nsubj	_	_
2	ran	run	VERB	VBD	_	0	root	_	_
3	home	home	ADV	RB	_	2	advmod:lmod	_	_

"""


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_sentence_task(tmp_path):
    p = write(tmp_path / "x.csv", 'sentence,label\n"a, b",pos\nc,neg\nd,pos\n')
    t = load_task(f"file:{p}", text_column="sentence", label_column="label")
    assert t.kind == "sentence" and t.splits() == ["train"] and t.label_names == ["neg", "pos"]
    assert [(e.id, e.text, e.label) for e in t.examples("train")] == [("train-0", "a, b", 1), ("train-1", "c", 0),
                                                                        ("train-2", "d", 1)]
    assert t.name == f"file:{p}"


def test_tsv_pair_task_with_files_and_numeric_labels(tmp_path):
    a = write(tmp_path / "a.tsv", "q\ts\ty\nq1\ts1\t10\nq2\ts2\t2\n")
    b = write(tmp_path / "b.tsv", "q\ts\ty\nq3\ts3\t2\nq4\ts4\t1\n")
    t = load_task("local_file", files={"train": str(a), "test": str(b)}, text_column="q", text_pair_column="s",
                  label_column="y")
    assert t.kind == "pair" and t.splits() == ["train", "test"]
    assert t.label_names == ["1", "2", "10"]  # integers sorted numerically, over every split
    e = t.examples("test")[1]
    assert (e.text, e.text_pair, t.label_names[e.label]) == ("q4", "s4", "1")


def test_jsonl_gz_with_ids_and_fixed_label_names(tmp_path):
    rows = [{"id": "r1", "text": "good", "label": 1}, {"id": "r2", "text": "bad", "label": 0}]
    p = tmp_path / "x.jsonl.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("\n".join(json.dumps(r) for r in rows) + "\n")
    t = load_task(f"file:{p}", id_column="id", label_names=["0", "1"])
    assert [(e.id, e.text, e.label) for e in t.examples("train")] == [("r1", "good", 1), ("r2", "bad", 0)]
    bad = tmp_path / "y.jsonl"
    write(bad, json.dumps({"text": "x", "label": 2}) + "\n" + json.dumps({"text": "y", "label": 0}) + "\n")
    with pytest.raises(ValidationError, match=r"label '2' is not one of the task's labels \['0', '1'\]"):
        load_task(f"file:{bad}", label_names=["0", "1"]).examples("train")


def test_unlabelled_file(tmp_path):
    p = write(tmp_path / "u.csv", "text\nhello\nworld\n")
    t = load_task(f"file:{p}", label_column=None)
    assert t.kind == "unlabelled" and [e.label for e in t.examples("train")] == [-1, -1]


def test_local_derived_split(tmp_path):
    p = write(tmp_path / "d.csv", "text,label\n" + "".join(f"t{i},{'ab'[i % 2]}\n" for i in range(20)))
    t = load_task(f"file:{p}", derive_splits=True, holdout=0.3, seed=0)
    assert t.splits() == ["train", "test"]
    tr, te = t.examples("train"), t.examples("test")
    assert (len(tr), len(te)) == (14, 6) and sorted(e.label for e in te) == [0, 0, 0, 1, 1, 1]
    assert {e.text for e in tr}.isdisjoint(e.text for e in te)


def test_unknown_column_did_you_mean(tmp_path):
    p = write(tmp_path / "x.csv", "sentence,label\na,0\nb,1\n")
    with pytest.raises(ValidationError, match=r"x\.csv:1: text_column='sentense' is not a column of the file; did you "
                                              r"mean 'sentence'\? Columns: sentence, label"):
        load_task(f"file:{p}", text_column="sentense").examples("train")
    j = write(tmp_path / "x.jsonl", '{"text": "a", "lbl": 0}\n{"text": "b"}\n')
    with pytest.raises(ValidationError, match=r"x\.jsonl:1: label_column='label' is not a column of the file; did you "
                                              r"mean 'lbl'\? Columns: text, lbl"):
        load_task(f"file:{j}").examples("train")
    with pytest.raises(ValidationError, match=r"x\.jsonl:2: label_column='lbl' is not a column of the file\. "
                                              r"Columns: text"):
        load_task(f"file:{j}", label_column="lbl").examples("train")
    with pytest.raises(ValidationError, match=r"x\.jsonl:1: label_column='category' is not a column of the file\. "
                                              r"Columns: text, lbl"):
        load_task(f"file:{j}", label_column="category").examples("train")


def test_wrong_format_reports_line_numbers(tmp_path):
    p = write(tmp_path / "x.tsv", "text\tlabel\na\t0\nb\t1\textra\n")
    with pytest.raises(ValidationError, match=r"x\.tsv:3: expected 2 fields \(text, label\), got 3"):
        load_task(f"file:{p}").examples("train")
    j = write(tmp_path / "x.jsonl", '{"text": "a", "label": 0}\n{"text": "b", "label": 1\n')
    with pytest.raises(ValidationError, match=r"x\.jsonl:2: not valid JSON"):
        load_task(f"file:{j}").examples("train")
    c = write(tmp_path / "bad.conllu", "# sent_id = a\n1\tDogs\tdog\tNOUN\tNNS\t_\t0\troot\t_\t_\n2\tbark\tbark\tVERB\n")
    with pytest.raises(ValidationError, match=r"bad\.conllu:3: expected 10 tab-separated CoNLL-U columns, got 4"):
        load_task(f"conllu:{c}").examples("train")
    o = write(tmp_path / "order.conllu", "1\ta\ta\tX\t_\t_\t0\troot\t_\t_\n3\tb\tb\tX\t_\t_\t1\tdep\t_\t_\n")
    with pytest.raises(ValidationError, match=r"order\.conllu:2: word ID 3 out of order \(expected 2\)"):
        load_task(f"conllu:{o}").examples("train")
    u = write(tmp_path / "upos.conllu", "1\ta\ta\tNOUN\t_\t_\t0\troot\t_\t_\n\n1\tb\tb\tFOO\t_\t_\t0\troot\t_\t_\n")
    with pytest.raises(ValidationError, match=r"upos\.conllu:3: sentence upos\.conllu:3, word 1 has UPOS 'FOO'"):
        load_task(f"conllu:{u}").examples("train")
    x = write(tmp_path / "x.txt", "a\n")
    with pytest.raises(ValidationError, match=r"cannot tell the format of .*x\.txt from its extension"):
        load_task(f"file:{x}")


def test_trec_bad_line_number(tmp_path):
    (tmp_path / "trec").mkdir()
    write(tmp_path / "trec" / "train_5500.label", "HUM:ind Who is it ?\nno label here\n")
    with pytest.raises(ValidationError, match=r"train_5500\.label:2: expected 'COARSE:fine question'"):
        load_task("trec6", data_root=tmp_path).examples("train")


def test_empty_and_single_class_splits(tmp_path):
    e = write(tmp_path / "empty.csv", "text,label\n")
    with pytest.raises(ValidationError, match=r"split 'train' is empty \(read from .*empty\.csv\); check the file"):
        load_task(f"file:{e}").examples("train")
    s = write(tmp_path / "one.csv", "text,label\na,pos\nb,pos\n")
    with pytest.raises(ValidationError, match=r"split 'train' has a single class \('pos'\); a labelled split needs "
                                              r"at least two classes"):
        load_task(f"file:{s}").examples("train")


def test_missing_local_file(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"the file .*nope\.csv \(split 'train'\) does not exist; paths are "
                                                r"relative to the working directory"):
        load_task(f"file:{tmp_path / 'nope.csv'}")
    with pytest.raises(ValidationError, match=r"needs either path=\.\.\. \(one file\) or files=\{split: path\}, not neither"):
        load_task("local_file")


def test_conllu_pos_and_dep(tmp_path):
    p = write(tmp_path / "my-dev.conllu", CONLLU)
    pos = load_task(f"conllu:{p}")
    assert pos.splits() == ["dev"]  # split name from the file name
    s1, s2 = pos.examples("dev")
    assert s1.id == "s1" and s1.words == ("Dogs", "bark", "loudly", ".")  # range line and empty node skipped
    assert [(t.word_indices, pos.label_names[t.label]) for t in s1.targets] == [
        ((0,), "NOUN"), ((1,), "VERB"), ((2,), "ADV"), ((3,), "PUNCT")]
    dep = load_task(f"conllu:{p}", target="dep")
    d1, d2 = dep.examples("dev")
    assert [(t.word_indices, dep.label_names[t.label]) for t in d1.targets] == [
        ((1, 0), "nsubj"), ((1, 2), "advmod"), ((1, 3), "punct")]
    assert [(t.word_indices, dep.label_names[t.label]) for t in d2.targets] == [((1, 0), "nsubj"), ((1, 2), "advmod")]
    full = load_task(f"conllu:{p}", target="dep", relations="full")
    assert full.label_names == ["advmod", "advmod:lmod", "nsubj", "punct"]
    with pytest.raises(ValidationError, match=r"target='ner' is not one of \['pos', 'dep'\]"):
        load_task(f"conllu:{p}", target="ner")


def test_dbpedia_local_csv(tmp_path):
    (tmp_path / "dbpedia").mkdir()
    write(tmp_path / "dbpedia" / "test.csv", '1,"E. D. Abbott Ltd"," Abbott of Farnham"\n14,"Book","A novel."\n')
    t = load_task("dbpedia", data_root=tmp_path)
    assert t.splits() == ["test"] and len(t.label_names) == 14
    ex = t.examples("test")
    assert [(e.text, t.label_names[e.label]) for e in ex] == [("E. D. Abbott Ltd  Abbott of Farnham", "Company"),
                                                             ("Book A novel.", "WrittenWork")]
    write(tmp_path / "dbpedia" / "test.csv", '1,"a","b"\n15,"c","d"\n')
    with pytest.raises(ValidationError, match=r"test\.csv:2: class must be an integer 1\.\.14; got '15'"):
        load_task("dbpedia", data_root=tmp_path).examples("test")
