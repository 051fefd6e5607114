"""bench/peers.py feeds each peer the same inputs as ftgeo: on small planted data the peers' numbers equal
ftgeo's (the peers are optional: each test skips when its library is not installed)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "peers.py"


@pytest.fixture(scope="module")
def peers():
    spec = importlib.util.spec_from_file_location("ftgeo_bench_peers", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _layers(seed, n=300, d=24, L=3):
    base = np.random.default_rng(0).standard_normal((n, d))        # shared by both sets
    rng = np.random.default_rng(seed)
    out, h = [], base
    for _ in range(L):
        h = h @ (np.eye(d) + 0.3 * rng.standard_normal((d, d)) / np.sqrt(d)) + 0.5 * rng.standard_normal((n, d))
        out.append(h.astype(np.float32))
    return out


def test_minibatch_loader_reproduces_ftgeo_batches(peers):
    pytest.importorskip("torch")
    batches = peers._minibatch_order(1000, 128)
    got = [b.numpy() for b, _ in peers._index_loader(batches)]
    assert len(got) == len(batches)
    for g, b in zip(got, batches):
        np.testing.assert_array_equal(np.sort(g), b)


@pytest.mark.parametrize("peer, module, ref", [("torch-cka", "torch_cka", "ftgeo-minibatch"),
                                               ("cka-pytorch", "cka_pytorch", "ftgeo-minibatch"),
                                               ("pytorch-cka", "cka", "ftgeo-debiased")])
def test_cka_peer_equals_ftgeo(peers, peer, module, ref, monkeypatch):
    # bench/ holds cka.py; the peer's top-level module of that name must win
    monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p or ".").resolve() != BENCH.parent])
    sys.modules.pop("cka", None)
    pytest.importorskip(module)
    A, B = _layers(1), _layers(2)
    M_ref = peers._cka_fn(ref, 3, 64)(A, B, 300)
    M_peer = peers._cka_fn(peer, 3, 64)(A, B, 300)
    assert M_ref.shape == (3, 3)
    assert np.abs(np.asarray(M_peer, dtype=np.float64) - M_ref).max() < 1e-4
    assert M_ref.min() > 0.2           # planted shared structure: the comparison is not between zeros


def test_isoscore_package_equals_ftgeo_in_float64():
    pytest.importorskip("torch")
    iso = pytest.importorskip("IsoScore.IsoScore")
    from ftgeo.analysis.isotropy import isoscore
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 20)) * np.linspace(0.2, 3.0, 20)     # anisotropic: IsoScore well inside (0, 1)
    v = isoscore(X)
    assert 0.1 < v < 0.95
    # not 1e-12: the package takes sqrt(d) of an integer tensor, which torch computes in float32
    assert abs(float(iso.IsoScore(X)) - v) < 1e-7
