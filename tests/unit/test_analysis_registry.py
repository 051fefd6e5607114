"""The analysis registry: one registration makes an analysis appear in `ftgeo list analyses`, in
`ftgeo analyze`, in the report's sections; parameters are validated by the spec; results are saved
crash-consistently."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from ftgeo.analyses import ANALYSES, AnalysisSpec, Input, param, register_analysis
from ftgeo.cli.main import main
from ftgeo.errors import ValidationError
from ftgeo.reps import InMemoryRepresentations
from ftgeo.results import IncompleteResultError, Result, load_result
from ftgeo.testing import write_store


@dataclass(frozen=True)
class _DummySpec(AnalysisSpec):
    scale: float = param(2.0, "multiply the layer means by this")
    layers: str = param("all", "layers")


class _DummyResult(Result):
    kind = "dummy_test_kind"


@pytest.fixture()
def dummy():
    @register_analysis("dummy-test", family="gptology", order=999, spec=_DummySpec, result=_DummyResult,
                       inputs=[Input("reps", n=(1, 1))], help="a throw-away analysis registered by a test")
    def run_dummy(reps, *, spec):
        from ftgeo.analyses._inputs import select_layers
        rows = [{"layer": l, "value": spec.scale * float(reps.layer(l).mean())} for l in select_layers(reps, spec.layers)]
        return _DummyResult(tables={"dummy": pd.DataFrame(rows)}, meta={"scale": spec.scale})
    yield run_dummy
    ANALYSES.unregister("dummy-test")


def _store(tmp_path, n=20):
    layers = [np.full((n, 3), float(l)) for l in range(3)]
    return write_store(tmp_path / "run" / "reps" / "toy", layers, np.arange(n) % 2, label_names=["a", "b"])


def test_a_registered_analysis_appears_in_list_cli_and_report(dummy, tmp_path, capsys):
    assert main(["list", "analyses"]) == 0
    assert "dummy-test" in capsys.readouterr().out
    store = _store(tmp_path)
    assert main(["analyze", "dummy-test", "--reps", str(store), "--scale", "3", "--layers", "1,2"]) == 0
    res = load_result(tmp_path / "run" / "results" / "dummy_test")
    assert res.table("dummy").value.tolist() == [3.0, 6.0]
    assert res.meta["params"] == {"scale": 3.0, "layers": "1,2"} and res.meta["analysis"] == "dummy-test"
    from ftgeo.report import write_report
    page = write_report(tmp_path / "run").read_text()
    sect = page.index("Layer geometry (GPTology)")
    assert page.index("dummy_test", sect) > sect


def test_analysis_help_lists_generated_flags(dummy, capsys):
    with pytest.raises(SystemExit) as e:
        main(["analyze", "dummy-test", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--scale" in out and "(default 2)" in out and "--reps" in out and "--no-progress" in out


def test_parameters_are_validated_by_the_spec(dummy):
    reps = InMemoryRepresentations([np.ones((4, 2))], labels=[0, 1, 0, 1])
    with pytest.raises(ValidationError, match="did you mean 'scale'"):
        dummy(reps, scael=1.0)
    with pytest.raises(ValidationError, match="must be a number"):
        dummy(reps, scale="big")
    with pytest.raises(ValidationError, match="must be representation sets"):
        dummy([reps])
    assert dummy(reps, scale=0.5).table("dummy").value.tolist() == [0.5]


def test_unknown_analysis_gets_did_you_mean(capsys):
    assert main(["analyze", "isotropi"]) == 2
    assert "did you mean 'isotropy'" in capsys.readouterr().err


def test_result_json_is_written_last_and_checked(dummy, tmp_path):
    reps = InMemoryRepresentations([np.ones((4, 2))], labels=[0, 1, 0, 1])
    dummy(reps, run=tmp_path)
    folder = tmp_path / "results" / "dummy_test"
    assert load_result(folder).table("dummy").value.tolist() == [2.0]
    (folder / "dummy.csv").write_text("layer,value\n0,99\n")          # changed behind ftgeo's back
    with pytest.raises(ValidationError, match="changed after the result was written"):
        load_result(folder)
    (folder / "result.json").unlink()                                   # a save that died before its header
    with pytest.raises(IncompleteResultError, match="incomplete result"):
        load_result(folder)
    from ftgeo.report import write_report
    page = write_report(tmp_path).read_text()
    assert "could not be read" in page and "dummy_test" in page


def test_a_crash_while_saving_leaves_no_stale_header(dummy, tmp_path, monkeypatch):
    reps = InMemoryRepresentations([np.ones((4, 2))], labels=[0, 1, 0, 1])
    dummy(reps, run=tmp_path)
    import ftgeo.results.base as base

    def boom(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(base, "_write", boom)
    with pytest.raises(OSError):
        dummy(reps, run=tmp_path, scale=5.0)
    with pytest.raises(IncompleteResultError):            # never the old result.json over new or missing tables
        load_result(tmp_path / "results" / "dummy_test")


def test_a_second_writer_of_the_same_result_gets_one_line(dummy, tmp_path):
    from ftgeo._lock import FolderLock, LockHeldError
    reps = InMemoryRepresentations([np.ones((4, 2))], labels=[0, 1, 0, 1])
    folder = tmp_path / "results" / "dummy_test"
    with FolderLock(folder, purpose="another analysis"):
        with pytest.raises(LockHeldError, match="another analysis") as e:
            dummy(reps, run=tmp_path)
    assert "\n" not in str(e.value)
    assert dummy(reps, run=tmp_path).table("dummy").value.tolist() == [2.0]   # free again: it completes


def test_a_list_of_sets_is_one_clear_line():
    from ftgeo.analyses.rogue import run_rogue
    reps = InMemoryRepresentations([np.random.default_rng(0).normal(size=(6, 3))], labels=[0, 1] * 3)
    with pytest.raises(ValidationError, match="rogue: reps must be representation sets.*not one list"):
        run_rogue([reps])
