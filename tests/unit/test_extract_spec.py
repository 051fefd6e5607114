"""ExtractSpec: defaults < file < flags, and the cross-field rules."""
from __future__ import annotations

import pytest

from ftgeo.errors import ValidationError
from ftgeo.extract.spec import ExtractSpec
from ftgeo.run import RunDir


def test_resolve_layers_flags_over_file_over_defaults(tmp_path):
    f = tmp_path / "x.toml"
    f.write_text('model = "minilm-l6"\ntask = "sst2"\npooling = "cls"\nbatch_size = 8\nout = "o"\n')
    spec = ExtractSpec.resolve(f, batch_size=None, max_length=64)
    assert (spec.pooling, spec.batch_size, spec.max_length, spec.dtype, spec.split) == ("cls", 8, 64, "float16", "dev")
    kw = spec.extract_kwargs()
    assert kw["out"] == "o" and kw["max_length"] == 64 and kw["overwrite"] is False
    run = ExtractSpec.resolve(None, model="m", task="t", run=str(tmp_path / "r")).extract_kwargs()["out"]
    assert isinstance(run, RunDir) and run.root == tmp_path / "r"


@pytest.mark.parametrize("fields,message", [
    ({"task": "t", "out": "o"}, "ExtractSpec.model is required"),
    ({"model": "m", "out": "o"}, "ExtractSpec.task is required"),
    ({"model": "m", "task": "t"}, "give exactly one of run (a run folder) or out (a store folder)"),
    ({"model": "m", "task": "t", "run": "r", "out": "o"}, "give exactly one of run"),
    ({"model": "m", "task": "t", "out": "o", "batch_size": 0}, "ExtractSpec.batch_size must be >= 1; got 0"),
    ({"model": "m", "task": "t", "out": "o", "pooling": "max"}, "pooling must be one of"),
    ({"model": "m", "task": "t", "out": "o", "dtype": "bfloat16"}, "dtype must be one of"),
])
def test_spec_errors(fields, message):
    with pytest.raises(ValidationError) as e:
        ExtractSpec.from_mapping(fields)
    assert message in str(e.value)
