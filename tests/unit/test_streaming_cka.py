"""Streamed linear CKA (float32 chunk products, float64 accumulation) against the exact engine, on the CPU
through the same torch code path CUDA runs."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from ftgeo.analysis.similarity import cka, layer_cka_matrices
from ftgeo.analysis.streaming import LinearCKAAccumulator, grid_bytes, linear_cka_grid, linear_cka_streaming
from ftgeo.errors import ValidationError
from ftgeo.reps import InMemoryRepresentations


def _pair(n=600, d=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = np.tanh(X @ rng.normal(size=(d, d + 5)) * 0.5) + 0.3 * rng.normal(size=(n, d + 5))
    return X, Y


@pytest.mark.parametrize("debiased", [False, True])
def test_streamed_cka_equals_the_exact_one(debiased):
    X, Y = _pair()
    want = cka(X, Y, debiased=debiased)
    for chunk in (7, 64, 600, 10_000):
        got64 = linear_cka_streaming(X, Y, chunk_size=chunk, device="cpu", compute=torch.float64, debiased=debiased)
        assert abs(got64 - want) < 1e-11
    got32 = linear_cka_streaming(X, Y, chunk_size=64, device="cpu", debiased=debiased)  # float32 products
    assert abs(got32 - want) < 1e-5


def test_large_means_do_not_cancel_thanks_to_the_shift():
    """Rogue-like dimensions: means of 1e4 against a spread of 1. Centring by subtraction in float32 loses
    the signal; the first-chunk shift keeps float32 within 1e-5 of the float64 answer."""
    X, Y = _pair(n=2000, d=8, seed=1)
    X[:, 0] += 1e4
    Y[:, 3] -= 3e4
    want = cka(X, Y)
    shifted = linear_cka_streaming(X, Y, chunk_size=256, device="cpu")
    assert abs(shifted - want) < 1e-5
    acc = LinearCKAAccumulator([8], [13], device="cpu", shift=False)
    for r0 in range(0, 2000, 256):
        acc.update([X[r0:r0 + 256]], [Y[r0:r0 + 256]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        naive = acc.result()[0, 0]
    assert not abs(naive - want) < 1e-3  # what the shift saves: unshifted, the centred statistics drown (NaN here)


def test_grid_of_a_representation_set_equals_the_engine():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(300, 10))
    arrays = [base @ rng.normal(size=(10, 16)) + 0.5 * k * rng.normal(size=(300, 16)) for k in range(4)]
    reps = InMemoryRepresentations(arrays, labels=np.arange(300) % 2, layer_numbers=[0, 8, 16, 24])
    want = layer_cka_matrices({"a": arrays}, [("a", "a")], device="numpy", progress=False)[("a", "a")]
    got = linear_cka_grid(reps, chunk_size=50, device="cpu")
    np.testing.assert_allclose(got, want, atol=1e-6)
    part = linear_cka_grid(reps, reps, layers_a=[8, 24], layers_b=[0, 16], chunk_size=33, device="cpu",
                           compute=torch.float64)
    np.testing.assert_allclose(part, want[np.ix_([1, 3], [0, 2])], atol=1e-12)
    deb = linear_cka_grid(arrays, chunk_size=64, device="cpu", compute=torch.float64, debiased=True)
    want_deb = layer_cka_matrices({"a": arrays}, [("a", "a")], debiased=True, device="numpy",
                                  progress=False)[("a", "a")]
    np.testing.assert_allclose(deb, want_deb, atol=1e-10)


def test_constant_layers_are_nan_and_bad_inputs_one_line():
    X, _ = _pair(n=50, d=4)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        M = linear_cka_grid([X, np.ones((50, 3))], device="cpu")
    assert np.isnan(M[1]).all() and np.isnan(M[:, 1]).all() and M[0, 0] == 1.0
    assert any("constant" in str(x.message) for x in w)
    with pytest.raises(ValidationError, match="same examples"):
        linear_cka_grid([X, X[:40]], device="cpu")
    with pytest.raises(ValidationError, match="needs 0.0 GiB of float64 accumulators"):
        LinearCKAAccumulator([4, 4], device="cpu", max_bytes=8)
    assert grid_bytes([576] * 31) == 8 * 576 * 576 * (31 * 32 // 2) + 8 * 576 * 31
    if not torch.cuda.is_available():
        with pytest.raises(ValidationError, match="CUDA is not available"):
            linear_cka_grid([X], device="cuda")
