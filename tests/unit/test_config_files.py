"""Config files: every syntax error, bad byte or wrong shape is one ValidationError naming the file (and line:column)."""
from __future__ import annotations

import dataclasses

import pytest

from ftgeo.config import Spec, load_config_file
from ftgeo.errors import DataNotFoundError, ValidationError


@dataclasses.dataclass(frozen=True)
class _S(Spec):
    batch_size: int = 1


@pytest.mark.parametrize("name, content, message", [
    ("c.yaml", "a: 1\nb: 2\n  c: 3\n", r"c\.yaml:3:4: YAML syntax error: mapping values are not allowed here$"),
    ("c.yml", "a: [1, 2\n", r"c\.yml:2:1: YAML syntax error: expected ',' or ']', but got '<stream end>' "
                            r"\(while parsing a flow sequence\)$"),
    ("c.toml", "a = 1\nb = \n", r"c\.toml:2:5: TOML syntax error: Invalid value$"),
    ("c.json", '{"a": 1,\n "b": }', r"c\.json:2:7: JSON syntax error: Expecting value$"),
    ("c.json", "", r"c\.json:1:1: JSON syntax error: Expecting value \(the file is empty\)$"),
    ("c.yaml", b"a: 1\nb: \xff\xfe\n", r"c\.yaml:2:4: byte 0xff is not valid UTF-8 \(invalid start byte\); re-encode "
                                       r"the file as UTF-8"),
    ("c.yaml", "- a\n- b\n", r"c\.yaml must hold a mapping of settings \(key: value\) at the top level; it holds a list$"),
    ("c.json", '"text"', r"c\.json must hold a mapping .* it holds a text$"),
    ("c.yaml", "1: a\n", r"c\.yaml: setting names must be text; got 1$"),
    ("c.ini", "a=1\n", r"c\.ini must end in \.yaml, \.yml, \.toml or \.json$"),
])
def test_bad_config_files(tmp_path, name, content, message):
    f = tmp_path / name
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ValidationError, match=message):
        load_config_file(f)


def test_empty_yaml_and_bom_and_missing_or_folder(tmp_path):
    (tmp_path / "e.yaml").write_text("# only a comment\n")
    assert load_config_file(tmp_path / "e.yaml") == {}
    (tmp_path / "b.yaml").write_bytes(b"\xef\xbb\xbfbatch_size: 4\n")
    assert _S.resolve(tmp_path / "b.yaml").batch_size == 4
    with pytest.raises(DataNotFoundError, match=r"config file .*nope\.yaml does not exist"):
        load_config_file(tmp_path / "nope.yaml")
    (tmp_path / "d.yaml").mkdir()
    with pytest.raises(ValidationError, match=r"d\.yaml is a folder; pass a \.yaml, \.yml, \.toml or \.json file"):
        load_config_file(tmp_path / "d.yaml")


def test_spec_shapes(tmp_path):
    with pytest.raises(ValidationError, match=r"^arguments: _S settings must be a mapping \(key: value\); got a list$"):
        _S.from_mapping([("batch_size", 1)], source="arguments")
    with pytest.raises(ValidationError, match=r"unknown _S field 3\b"):
        _S.from_mapping({3: 1})
    (tmp_path / "s.yaml").write_text("extract: [1, 2]\n")
    with pytest.raises(ValidationError, match=r"s\.yaml: section 'extract' must be a mapping \(key: value\); it holds "
                                              r"a list"):
        _S.resolve(tmp_path / "s.yaml", section="extract")
