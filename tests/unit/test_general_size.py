"""The "32k sentences suffice" curve: general-corpus PCA refitted on n sentences (Matton & de Oliveira 2020)."""
from __future__ import annotations

import numpy as np
import pytest

from ftgeo.analysis.compression import general_size_correct, pca_correct, pca_fit
from ftgeo.errors import ValidationError
from ftgeo.reps import InMemoryRepresentations


def _planted(n_train=300, n_eval=200, n_general=4000, d=20, seed=0):
    """Two classes apart along dimension 0; the general corpus has its largest variance on 0 too, but
    only slightly above 9 noise dimensions -- a PCA fitted on few sentences picks the wrong axis."""
    rng = np.random.default_rng(seed)

    def task(n):
        y = rng.integers(0, 2, n)
        X = rng.standard_normal((n, d)) * 0.5
        X[:, 0] += 2.0 * (2 * y - 1)
        return X, y
    Xtr, ytr = task(n_train)
    Xev, yev = task(n_eval)
    scale = np.ones(d)
    scale[0], scale[1:10] = 1.15, 1.0
    scale[10:] = 0.1
    Xg = rng.standard_normal((n_general, d)) * scale
    return Xtr, ytr, Xev, yev, Xg


def test_the_whole_corpus_point_is_the_literal_pca_classifier():
    Xtr, ytr, Xev, yev, Xg = _planted()
    out = general_size_correct(Xtr, ytr, Xev, yev, Xg, sizes=[100, 500, 10 ** 6], ks=[1], n_draws=2)
    assert sorted(n for n, _ in out) == [100, 500, 4000]           # above N dropped, N added
    assert out[(100, 1)].shape == (2, len(yev)) and out[(4000, 1)].shape == (1, len(yev))
    ref = pca_correct(pca_fit(Xg), Xtr, ytr, Xev, yev, 1)
    np.testing.assert_array_equal(out[(4000, 1)][0], ref)


def test_more_sentences_find_the_planted_axis():
    Xtr, ytr, Xev, yev, Xg = _planted()
    out = general_size_correct(Xtr, ytr, Xev, yev, Xg, sizes=[20, 4000], ks=[1], n_draws=5, random_state=3)
    small, full = out[(20, 1)].mean(), out[(4000, 1)].mean()
    assert full > 0.95 and small < full - 0.1


def test_draws_are_seeded_and_differ():
    Xtr, ytr, Xev, yev, Xg = _planted()
    a = general_size_correct(Xtr, ytr, Xev, yev, Xg, sizes=[30], ks=[1], n_draws=4, random_state=7)
    b = general_size_correct(Xtr, ytr, Xev, yev, Xg, sizes=[30], ks=[1], n_draws=4, random_state=7)
    np.testing.assert_array_equal(a[(30, 1)], b[(30, 1)])
    assert len({row.tobytes() for row in a[(30, 1)]}) > 1


@pytest.mark.parametrize("kwargs, msg", [({"sizes": [1]}, "sizes must be"), ({"ks": [50]}, "between 1 and"),
                                         ({"Xg": np.zeros((5, 3))}, "dimensions")])
def test_bad_input_says_what_is_wrong(kwargs, msg):
    Xtr, ytr, Xev, yev, Xg = _planted()
    Xg = kwargs.pop("Xg", Xg)
    args = {"sizes": [100], "ks": [1], **kwargs}
    with pytest.raises(ValidationError, match=msg):
        general_size_correct(Xtr, ytr, Xev, yev, Xg, **args)


def _sets():
    Xtr, ytr, Xev, yev, Xg = _planted(n_general=1500)
    tr = InMemoryRepresentations([Xtr, Xtr], labels=ytr, label_names=["a", "b"], ids=np.arange(len(ytr)))
    ev = InMemoryRepresentations([Xev, Xev], labels=yev, label_names=["a", "b"], ids=np.arange(len(yev)))
    g1 = InMemoryRepresentations([Xg, Xg], labels=np.full(len(Xg), -1), ids=np.arange(len(Xg)))
    g2 = InMemoryRepresentations([Xg[:600], Xg[:600]], labels=np.full(600, -1), ids=np.arange(600))
    return tr, ev, g1, g2


def test_runner_tables_intervals_and_claim(tmp_path):
    from ftgeo.analyses import ANALYSES
    from ftgeo.results import load_result
    from ftgeo.studies.claims import CLAIMS, CLAIMS_LOADED, RunResults

    tr, ev, g1, g2 = _sets()
    res = ANALYSES.get("general-size")(tr, ev, [g1, g2], run=tmp_path, names=["big", "small"], ks=(1, 2),
                                       sizes=(50, 500, 32000), n_resamples=200, progress=False)
    cur = load_result(tmp_path / "results" / "general_size").curve
    assert set(cur.corpus) == {"big", "small"} and set(cur.k) == {1, 2}
    big = cur[(cur.corpus == "big") & (cur.k == 1)].sort_values("n_sentences")
    assert big.n_sentences.tolist() == [50, 500, 1500] and (big.n_available == 1500).all()
    last = big.iloc[-1]
    assert last.diff_all == 0 and last.n_draws == 1
    assert ((cur.accuracy_low <= cur.accuracy + 1e-12) & (cur.accuracy <= cur.accuracy_high + 1e-12)).all()
    assert res.meta["corpora"] == ["big", "small"] and len(res.table("reference")) == 2
    assert res.findings()
    CLAIMS_LOADED.load()            # no 32,000-sentence point in a 1,500-sentence corpus: not run, not a verdict
    assert CLAIMS.get("emergent/general-pca-32k-suffices").check(RunResults(tmp_path)).verdict == "not run"


def test_runner_rejects_bad_sizes(tmp_path):
    from ftgeo.analyses import ANALYSES
    tr, ev, g1, _ = _sets()
    with pytest.raises(ValidationError, match="sizes"):
        ANALYSES.get("general-size")(tr, ev, [g1], run=tmp_path, sizes=(0,), progress=False)


def test_cli_names_corpora_from_their_stores(tmp_path, capsys):
    from ftgeo.cli.main import main
    from ftgeo.results import load_result
    from ftgeo.testing import write_store

    Xtr, ytr, Xev, yev, Xg = _planted(n_general=800)
    tr = write_store(tmp_path / "tr", [Xtr, Xtr], ytr, split="train")
    ev = write_store(tmp_path / "ev", [Xev, Xev], yev)
    b = write_store(tmp_path / "b", [Xg, Xg], np.full(len(Xg), -1), task="brown", split="all")
    w = write_store(tmp_path / "w", [Xg[:300], Xg[:300]], np.full(300, -1), task="wikitext2", split="test")
    assert main(["analyze", "general-size", "--train-reps", str(tr), "--eval-reps", str(ev), "--general-reps", str(b),
                 str(w), "--sizes", "100,200", "--ks", "1", "--n-draws", "2", "--n-resamples", "100",
                 "--run", str(tmp_path / "run"), "--no-progress"]) == 0
    cur = load_result(tmp_path / "run" / "results" / "general_size").curve
    assert sorted(set(cur.corpus)) == ["brown", "wikitext2"]
    assert cur[cur.corpus == "wikitext2"].n_sentences.tolist() == [100, 200, 300]
    assert main(["analyze", "general-size", "--train-reps", str(tr), "--eval-reps", str(ev), "--general-reps", str(b),
                 "--ks", "0", "--run", str(tmp_path / "run2")]) != 0
    assert "ks must be" in capsys.readouterr().err
