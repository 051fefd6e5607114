"""Known-answer tests of the skeleton: registry, specs, atomic writes, checks, results, displays, report, CLI."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from typing import Literal

import numpy as np
import pandas as pd
import pytest

from ftgeo import _atomic
from ftgeo._checks import check_features, check_labels
from ftgeo.config import Spec
from ftgeo.errors import DataNotFoundError, UnknownNameError, ValidationError
from ftgeo.registry import Registry
from ftgeo.reps import InMemoryRepresentations, resolve_layer
from ftgeo.results import Result, load_result
from ftgeo.run import RunDir


# ---------------------------------------------------------------- registry
def test_registry_did_you_mean_and_lazy():
    r = Registry("task")
    r.register("sst2", 1, help="sentiment")
    r.register("path_join", lazy="os.path:join")
    assert r.get("sst2") == 1
    import os.path
    assert r.get("path_join") is os.path.join
    with pytest.raises(UnknownNameError, match=r"unknown task 'sts2'; did you mean 'sst2'\?"):
        r.get("sts2")
    with pytest.raises(ValidationError, match="already registered"):
        r.register("sst2", 2)
    assert r.names() == ["path_join", "sst2"] and "sst2" in r and len(r) == 2


def test_registry_unknown_without_close_match_lists_known():
    r = Registry("model")
    r.register("minilm-l6", 0)
    with pytest.raises(KeyError, match=r"unknown model 'zzz'\. Known: minilm-l6"):
        r.get("zzz")


# ---------------------------------------------------------------- specs
@dataclasses.dataclass(frozen=True)
class _DemoSpec(Spec):
    model: str = "minilm-l6"
    batch_size: int = 32
    lr: float = 1e-3
    pooling: Literal["cls", "last"] = "cls"
    layers: tuple[int, ...] = ()
    fp16: bool = False

    def validate(self):
        if self.batch_size < 1:
            raise ValidationError("batch_size must be >= 1")


def test_spec_cli_beats_file_beats_defaults(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("batch_size: 8\nlr: 0.5\npooling: last\n")
    s = _DemoSpec.resolve(f, batch_size=16, lr=None)
    assert (s.model, s.batch_size, s.lr, s.pooling) == ("minilm-l6", 16, 0.5, "last")
    t = tmp_path / "c.toml"
    t.write_text('layers = [1, 2]\nfp16 = true\n')
    assert _DemoSpec.resolve(t).layers == (1, 2) and _DemoSpec.resolve(t).fp16 is True
    assert _DemoSpec.from_mapping({"layers": "0,3"}).layers == (0, 3)


def test_spec_errors_name_the_field(tmp_path):
    with pytest.raises(ValidationError, match="unknown _DemoSpec field 'batchsize'; did you mean 'batch_size'"):
        _DemoSpec.from_mapping({"batchsize": 3})
    with pytest.raises(ValidationError, match=r"_DemoSpec.batch_size must be an integer; got 'x'"):
        _DemoSpec.from_mapping({"batch_size": "x"})
    with pytest.raises(ValidationError, match=r"pooling must be one of \['cls', 'last'\]"):
        _DemoSpec.from_mapping({"pooling": "mean"})
    with pytest.raises(ValidationError, match="batch_size must be >= 1"):
        _DemoSpec.from_mapping({"batch_size": 0})
    with pytest.raises(DataNotFoundError, match="does not exist"):
        _DemoSpec.resolve(tmp_path / "nope.yaml")


# ---------------------------------------------------------------- atomic writes
def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    p = tmp_path / "a.txt"
    _atomic.write_text(p, "old")
    with pytest.raises(RuntimeError):
        with _atomic.atomic_path(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert p.read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["a.txt"]  # no temp file left behind


# ---------------------------------------------------------------- checks
def test_check_features_messages():
    with pytest.raises(ValidationError, match=r"must be 2-D .* got shape \(3,\)"):
        check_features([1, 2, 3])
    with pytest.raises(ValidationError, match="contains 1 NaN"):
        check_features([[1.0, np.nan]])
    with pytest.raises(ValidationError, match="has 1 samples; this needs at least 4"):
        check_features([[1.0]], min_samples=4)
    assert check_features([[1, 2]]).dtype == np.float64
    with pytest.raises(ValidationError, match="has 1 example"):
        check_labels([0, 0, 1], min_per_class=2)
    with pytest.raises(ValidationError, match="has 3 entries but the features have 2 rows"):
        check_labels([0, 1, 1], n_samples=2)


def test_resolve_layer_negative_and_bounds():
    assert resolve_layer(-1, 7) == 6 and resolve_layer(0, 7) == 0
    with pytest.raises(ValidationError, match=r"layers 0\.\.6"):
        resolve_layer(7, 7)


def test_in_memory_reps():
    reps = InMemoryRepresentations([np.zeros((3, 2)), np.ones((3, 2))], labels=[0, 1, 1])
    assert reps.n_layers == 2 and reps.label_names == ["0", "1"] and list(reps.ids) == ["0", "1", "2"]
    assert reps.layer(-1).sum() == 6
    with pytest.raises(ValidationError, match="same shape"):
        InMemoryRepresentations([np.zeros((3, 2)), np.zeros((4, 2))], labels=[0, 1, 1])


# ---------------------------------------------------------------- results + report
class _ToyResult(Result):
    kind = "toy_test"


def test_result_roundtrip_keeps_class_tables_arrays(tmp_path):
    res = _ToyResult(tables={"scores": pd.DataFrame({"layer": [0, 1], "acc": [0.5, 0.75]})},
                     arrays={"m": np.eye(3)}, meta={"model": "x", "n": 3})
    res.save(tmp_path / "toy")
    back = load_result(tmp_path / "toy")
    assert type(back) is _ToyResult
    pd.testing.assert_frame_equal(back.table("scores"), res.table("scores"))
    np.testing.assert_array_equal(back.array("m"), np.eye(3))
    assert back.meta == {"model": "x", "n": 3}
    with pytest.raises(ValidationError, match="has no table 'nope'"):
        back.table("nope")
    with pytest.raises(DataNotFoundError, match="not a result folder"):
        load_result(tmp_path)


def test_report_embeds_tables_and_figures_offline(tmp_path):
    from ftgeo.plot.base import _pyplot, save_figure
    from ftgeo.report import write_report

    run = RunDir(tmp_path / "r").ensure()
    plt = _pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    save_figure(fig, run.figure_stem("toy_plot"))
    plt.close(fig)
    _ToyResult(tables={"t": pd.DataFrame({"layer": [3], "value": [0.123456]})},
               meta={"figures": ["toy_plot"], "model": "m1"}).save(run.result_dir("toy"))
    page = write_report(run).read_text()
    assert "0.1235" in page and "model: m1" in page
    assert "data:image/png;base64," in page and "figures/toy_plot.svg" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from the network


def test_cli_help_is_fast_and_lists_verbs():
    out = subprocess.run([sys.executable, "-m", "ftgeo.cli.main", "--help"], capture_output=True, text=True, check=True)
    assert "analyze" in out.stdout and "list" in out.stdout
    out = subprocess.run([sys.executable, "-c",
                          "import sys, ftgeo.cli.main as m; m.build_parser(); print('torch' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # --help never imports torch


def test_cli_number_list_and_layer_spec():
    """List flags are coerced by the analysis' spec; layer specs by one parser for every verb."""
    from ftgeo.analyses._inputs import parse_layers, select_layers
    from ftgeo.analyses.ablation import AblationSpec
    assert list(AblationSpec.build(None, {"ks": "1,2, 4"}).ks) == [1, 2, 4] and AblationSpec().ks is None
    with pytest.raises(ValidationError, match="ks must be an integer; got 'x'"):
        AblationSpec.build(None, {"ks": "1,x"})
    assert parse_layers("0,2-4,-1", 7) == [0, 2, 3, 4, 6]
    assert parse_layers("last", 7) == [6] and select_layers(3, None) == [0, 1, 2]
    with pytest.raises(ValidationError, match="layer 9 does not exist"):
        parse_layers("9", 7)


def test_atomic_write_gives_usual_permissions(tmp_path):
    import os
    p = tmp_path / "r.html"
    _atomic.write_text(p, "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (p.stat().st_mode & 0o777) == (0o666 & ~mask)


def test_cli_no_progress_silences_transformers_bars_and_restores(monkeypatch):
    """`--no-progress` sets FTGEO_NO_PROGRESS only while the verb runs; transformers' own bars follow it."""
    from transformers.utils import logging as hf_logging

    from ftgeo.cli.main import _progress_env
    from ftgeo.models import hf_progress_off

    monkeypatch.delenv("FTGEO_NO_PROGRESS", raising=False)
    with _progress_env(True):
        assert os.environ["FTGEO_NO_PROGRESS"] == "1"
        with hf_progress_off():
            assert not hf_logging.is_progress_bar_enabled()
        assert hf_logging.is_progress_bar_enabled()
    assert "FTGEO_NO_PROGRESS" not in os.environ
    monkeypatch.setenv("FTGEO_NO_PROGRESS", "0")
    with _progress_env(True):
        assert os.environ["FTGEO_NO_PROGRESS"] == "1"
    assert os.environ["FTGEO_NO_PROGRESS"] == "0"
    with _progress_env(False), hf_progress_off():    # a quiet console: hidden unless --verbose
        assert not hf_logging.is_progress_bar_enabled()
    monkeypatch.setenv("FTGEO_VERBOSE", "1")
    with _progress_env(False), hf_progress_off():
        assert hf_logging.is_progress_bar_enabled()
    monkeypatch.delenv("FTGEO_VERBOSE")
    with hf_progress_off(True):          # explicit, as fine-tuning calls it with progress=False
        assert not hf_logging.is_progress_bar_enabled()
    with hf_progress_off(False):
        assert hf_logging.is_progress_bar_enabled()
