"""Every local reader: a byte that is not UTF-8 is one ValidationError naming the file, line and column, with the fix;
a corrupt or truncated .gz is one line too; a UTF-8 byte-order mark is dropped."""
from __future__ import annotations

import gzip

import pytest

from ftgeo.data import load_task
from ftgeo.errors import ValidationError

CONLLU = "# sent_id = s1\n1\tDogs\tdog\tNOUN\t_\t_\t2\tnsubj\t_\t_\n2\tb{X}rk\tbark\tVERB\t_\t_\t0\troot\t_\t_\n\n"
LEX = "\t_" * 9  # the 9 CoNLL-U-Lex columns after the 10 CoNLL-U ones
BAD = "\udcff"   # stands for the byte 0xff in the templates below

# task, file under the data root (or a file: / conllu: path), its text with {X} where the bad byte goes, the split
CASES = [
    ("sst2", "sst2/train.tsv", "sentence\tlabel\ngood\t1\nb{X}d\t0\n", "train"),
    ("qnli", "qnli/dev.tsv", "index\tquestion\tsentence\tlabel\n0\tq?\ts{X}\tentailment\n", "dev"),
    ("imdb", "imdb/train.csv", "id,rating,label,text\n1,9,1,great\n2,1,0,aw{X}ful\n", "train"),
    ("ag_news", "ag_news/test.csv", '"1","t","x"\n"2","t{X}","y"\n', "test"),
    ("dbpedia", "dbpedia/train.csv", '"1","t","x"\n"2","t","y{X}"\n', "train"),
    ("ud_pos", "ud_english_ewt/en_ewt-ud-train.conllu", CONLLU, "train"),
    ("ps_role", "streusle/streusle.ud_train.conllulex",
     "# sent_id = s1\n1\tin\tin\tADP\t_\t_\t0\troot\t_\t_" + LEX + "\n2\tb{X}\tb\tX\t_\t_\t1\tdep\t_\t_" + LEX + "\n\n",
     "train"),
    ("wikitext2", "wikitext2/wiki.test.raw", " = T = \n\n A b . C{X} d .\n", "test"),
    ("brown", "brown/brown_sentences.tsv.gz", "fileid\tcategory\tsentence\nca01\tnews\tA b{X}c .\n", "all"),
    ("file:{root}/x.jsonl", "x.jsonl", '{"text": "a", "label": "p"}\n{"text": "{X}", "label": "n"}\n', "train"),
    ("file:{root}/x.tsv", "x.tsv", "text\tlabel\na\tp\nb\tn{X}\n", "train"),
    ("conllu:{root}/x.conllu", "x.conllu", CONLLU, "train"),
]


def _write(path, text):
    data = text.replace("{X}", BAD).encode("utf-8", "surrogateescape")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def _where(text):
    """1-based (line, column) of {X} in ``text``."""
    before = text[:text.index("{X}")]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


@pytest.mark.parametrize("task, rel, text, split", CASES, ids=[c[1] for c in CASES])
def test_non_utf8_byte_names_file_line_and_column(tmp_path, task, rel, text, split):
    path = _write(tmp_path / rel, text)
    with pytest.raises(ValidationError) as e:
        load_task(task.format(root=tmp_path), data_root=tmp_path).examples(split)
    line, col = _where(text)
    assert str(e.value) == (f"{path}:{line}:{col}: byte 0xff is not valid UTF-8 (invalid start byte); re-encode the "
                            "file as UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT`")
    assert isinstance(e.value.__cause__, UnicodeDecodeError)  # kept for --debug


@pytest.mark.parametrize("task, rel, text, split", CASES[:1] + CASES[-3:-1], ids=["sst2", "jsonl", "tsv"])
def test_the_same_files_read_fine_when_valid(tmp_path, task, rel, text, split):
    _write(tmp_path / rel, text.replace("{X}", "x"))
    assert len(load_task(task.format(root=tmp_path), data_root=tmp_path).examples(split)) == 2


def test_bad_gzip_files(tmp_path):
    (tmp_path / "brown").mkdir()
    p = tmp_path / "brown" / "brown_sentences.tsv.gz"
    p.write_bytes(b"fileid\tcategory\tsentence\n")
    with pytest.raises(ValidationError, match=r"brown_sentences\.tsv\.gz: not a gzip file \(.*\); if it is plain text, "
                                              r"drop the \.gz from its name$"):
        load_task("brown", data_root=tmp_path).examples("all")
    p.write_bytes(gzip.compress(b"fileid\tcategory\tsentence\n" + b"ca01\tnews\tA b c .\n" * 500)[:60])
    with pytest.raises(ValidationError, match=r"brown_sentences\.tsv\.gz: the gzip file is truncated or corrupt "
                                              r"\(Compressed file ended before the end-of-stream marker was reached\)"):
        load_task("brown", data_root=tmp_path).examples("all")


def test_byte_order_mark_is_dropped(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(b"\xef\xbb\xbftext,label\na,p\nb,n\n")
    t = load_task(f"file:{p}")
    assert [e.text for e in t.examples("train")] == ["a", "b"]


def test_folder_given_as_data_file(tmp_path):
    (tmp_path / "x.csv").mkdir()
    with pytest.raises(ValidationError, match=r"x\.csv \(split 'train'\) is a folder; give the path of a data file"):
        load_task(f"file:{tmp_path / 'x.csv'}")
