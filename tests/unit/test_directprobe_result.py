"""DirectProbeResult: tables, save/load round trip, summary (known answers from planted boxes)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from ftgeo.analysis.directprobe import DirectProbe
from ftgeo.results import load_result
from ftgeo.analyses.directprobe import DirectProbeResult


def _boxes():
    corners = np.array(list(itertools.product([0.0, 1.0], repeat=2)))
    X = np.vstack([corners, corners + [4.0, 0.0], corners + [0.0, 4.0], corners + [6.0, 6.0]])
    y = np.repeat(np.array(["DET", "NOUN", "VERB", "DET"]), 4)
    return X, y


def test_result_tables_and_round_trip(tmp_path):
    X, y = _boxes()
    dp = DirectProbe(progress=False).fit(X, y)
    res = DirectProbeResult.from_estimator(dp, layer=3)
    # DET's two boxes merge: the diagonal band from [0,1]^2 to [6,7]^2 passes sqrt(2) from NOUN and VERB
    assert res.n_labels == 3
    assert res.n_clusters == 3
    ld = res.table("label_distances")
    assert list(zip(ld.label_a, ld.label_b)) == [("DET", "NOUN"), ("DET", "VERB"), ("NOUN", "VERB")]
    np.testing.assert_allclose(ld.distance, [np.sqrt(2), np.sqrt(2), 3 * np.sqrt(2)], atol=1e-9)
    res.save(tmp_path / "dp")
    back = load_result(tmp_path / "dp")
    assert isinstance(back, DirectProbeResult)
    assert back.meta["layer"] == 3 and back.meta["n_points"] == 16
    np.testing.assert_array_equal(back.array("assignments"), dp.assignments_)
    np.testing.assert_allclose(back.distance_vector, dp.distance_vector_)
    s = back.summary()
    assert list(s.columns) == ["label", "n_clusters", "n_points", "min_distance"]
    assert s.set_index("label").loc["NOUN", "n_points"] == 4
    np.testing.assert_allclose(s.min_distance, [np.sqrt(2)] * 3, atol=1e-9)
    assert s.set_index("label").loc["DET", "n_points"] == 8
    assert s.n_clusters.sum() == dp.n_clusters_


def test_from_unfitted_raises():
    from ftgeo.errors import ValidationError
    with pytest.raises(ValidationError, match="needs a fitted DirectProbe"):
        DirectProbeResult.from_estimator(DirectProbe())
