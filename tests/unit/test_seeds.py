"""Seeds as an axis: the aggregate of per-seed rows equals their mean (sd, min, max beside it), keys are the
columns that name a row, measured integers count as values, and the within-seed interval width is kept apart."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ftgeo.studies.seeds import aggregate_table, key_columns, value_columns


def _per_seed():
    rows = []
    rng = np.random.default_rng(0)
    for seed in (0, 1, 2):
        for layer in (1, 2, 3):
            v = 0.5 + 0.1 * layer + 0.01 * rng.standard_normal()
            rows.append({"seed": seed, "set": "fine-tuned", "layer": layer, "n_clusters": 2 + (seed == 1),
                         "accuracy": v, "accuracy_low": v - 0.02, "accuracy_high": v + 0.04, "note": "x"})
    return pd.DataFrame(rows)


def test_aggregate_is_the_mean_of_the_rows():
    per = _per_seed()
    agg = aggregate_table(per)
    assert list(agg["layer"]) == [1, 2, 3] and set(agg["n_seeds"]) == {3}
    for layer, g in per.groupby("layer"):
        a = agg[agg["layer"] == layer].iloc[0]
        assert a["accuracy_mean"] == pytest.approx(g["accuracy"].mean())
        assert a["accuracy_sd"] == pytest.approx(g["accuracy"].std(ddof=1))
        assert (a["accuracy_min"], a["accuracy_max"]) == (g["accuracy"].min(), g["accuracy"].max())
        assert a["accuracy_within"] == pytest.approx(0.03)       # mean half-width of the seeds' intervals
        assert a["n_clusters_mean"] == pytest.approx(7 / 3)       # an integer that differs between seeds is measured


def test_keys_and_values():
    per = _per_seed()
    assert value_columns(per) == ["n_clusters", "accuracy"]
    assert key_columns(per) == ["set", "layer", "note"]


@pytest.mark.parametrize("layers", [(6,), (1, 2, 3)])
def test_spread_figure_shows_the_seed_range_even_for_one_layer(layers):
    import matplotlib
    matplotlib.use("Agg")
    from ftgeo.studies.seeds import SeedSpreadDisplay, SeedsResult

    per = _per_seed()
    per = per[per["layer"].isin(layers)] if len(layers) > 1 else per[per["layer"] == 1].assign(layer=6)
    res = SeedsResult(tables={"per_seed": per, "aggregate": aggregate_table(per)}, meta={"of": "toy"})
    disp = SeedSpreadDisplay.from_result(res).plot()
    ax = disp.ax_[list(disp.values).index("accuracy")]
    agg = aggregate_table(per)
    if len(layers) == 1:                                  # an error bar from the seeds' min to their max
        segs = [s for c in ax.collections for s in c.get_segments()]
        assert segs and np.allclose(sorted(segs[0][:, 1]), [agg["accuracy_min"].iloc[0], agg["accuracy_max"].iloc[0]])
    else:                                                 # a band over the layers
        assert ax.collections and not any(hasattr(c, "get_segments") and len(c.get_segments()) == 1
                                          for c in ax.collections[:1] if type(c).__name__ == "LineCollection")
    assert all(float(t).is_integer() for t in ax.get_xticks())
