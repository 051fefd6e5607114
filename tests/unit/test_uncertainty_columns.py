"""The shared uncertainty helpers of the analyses: accuracy intervals by resampling unit, null summaries,
the interval/null spec mixins."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from ftgeo.analyses._uncertainty import (IntervalSpec, LabelNullSpec, NullSpec, accuracy_with_interval,
                                         label_permutation_null, null_summary)
from ftgeo.analysis.resampling import wilson_interval
from ftgeo.errors import ValidationError


@dataclass(frozen=True)
class _Spec(IntervalSpec, NullSpec, LabelNullSpec):
    seed: int = 0


def test_accuracy_interval_wilson_for_examples_cluster_bootstrap_for_words():
    spec = _Spec()
    correct = np.array([1] * 70 + [0] * 30, bool)
    out = accuracy_with_interval(correct, np.arange(100), spec)
    assert out["accuracy"] == 0.7 and out["method"] == "wilson"
    assert (out["accuracy_low"], out["accuracy_high"]) == wilson_interval(70, 100, 0.9)
    words = accuracy_with_interval(correct, np.repeat(np.arange(20), 5), spec)
    assert words["method"].startswith("cluster bootstrap") and words["accuracy_low"] < 0.7 < words["accuracy_high"]
    off = accuracy_with_interval(correct, None, _Spec(intervals=False))
    assert np.isnan(off["accuracy_low"]) and off["accuracy"] == 0.7


def test_null_summary_and_label_permutation_null():
    s = null_summary(0.9, np.linspace(0.4, 0.6, 99), "acc")
    assert s["acc_p"] == pytest.approx(1 / 100) and s["acc_null_q50"] == pytest.approx(0.5)
    y = np.array([0, 1] * 50)
    null = label_permutation_null(lambda yy: float(np.mean(yy == y)), y, 200, seed=0)
    assert null.shape == (200,) and abs(null.mean() - 0.5) < 0.02                  # chance agreement
    assert np.isnan(null_summary(0.9, [], "acc")["acc_p"])


def test_bad_uncertainty_parameters_are_one_line():
    with pytest.raises(ValidationError, match="ci_level must be in"):
        _Spec.from_mapping({"ci_level": 90})
    with pytest.raises(ValidationError, match="n_blocks must be >= 2"):
        _Spec.from_mapping({"n_blocks": 1})
    with pytest.raises(ValidationError, match="n_permutations must be >= 0"):
        _Spec.from_mapping({"n_permutations": -1})
