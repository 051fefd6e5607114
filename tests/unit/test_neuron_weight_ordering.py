"""Weight-mass neuron ordering (Dalvi et al. 2019) and the linear probe's coef_."""
from __future__ import annotations

import numpy as np
import pytest

from ftgeo.analysis.neurons import weight_mass_ordering
from ftgeo.analysis.probes import ProbeClassifier
from ftgeo.errors import NotFittedError, ValidationError


def _literal(W, S):
    """The paper's procedure written out: the union of every class's top neurons at each share k / S,
    accumulated in order (NeuroX's get_neuron_ordering); returns the neuron sets added at each k."""
    W = np.abs(W)
    seen, blocks = set(), []
    for k in range(S + 1):
        chosen = set()
        for c in range(W.shape[0]):
            idx = np.argsort(W[c])[::-1]
            cum = np.cumsum(W[c, idx])
            hit = np.where(cum >= W[c].sum() * (k / S))[0]
            chosen |= set(idx[: (hit[0] + 1 if hit.size else idx.size)].tolist())
        blocks.append(chosen - seen)
        seen |= chosen
    return blocks


def _blocks(ordering, cutoffs):
    starts = np.concatenate([[0], cutoffs[:-1]])
    return [set(ordering[a:b].tolist()) for a, b in zip(starts, cutoffs)]


@pytest.mark.parametrize("shape,S", [((2, 30), 100), ((5, 64), 20), ((3, 7), 1)])
def test_matches_the_literal_procedure(shape, S):
    W = np.random.default_rng(sum(shape) + S).standard_normal(shape) ** 3      # heavy-tailed weights
    ordering, cutoffs = weight_mass_ordering(W, S)
    assert sorted(ordering.tolist()) == list(range(shape[1]))                 # a permutation of all neurons
    assert len(cutoffs) == S + 1
    assert _blocks(ordering, cutoffs) == _literal(W, S)


def test_planted_weights_come_first():
    W = np.full((2, 10), 0.01)
    W[0, 7] = 5.0                                 # class 0 leans on neuron 7
    W[1, 3] = -4.0                                # class 1 on neuron 3 (sign ignored)
    W[1, 5] = 2.0
    ordering, cutoffs = weight_mass_ordering(W, 100)
    assert set(ordering[:2].tolist()) == {7, 3}   # level 0: each class's largest
    assert ordering[2] == 5
    assert cutoffs[0] == 2


def test_within_a_level_larger_share_first_and_deterministic():
    W = np.array([[1.0, 3.0, 2.0]])
    o1, _ = weight_mass_ordering(W, 1)            # shares 0 and 1: level 0 = {1}, level 1 = {0, 2}
    assert o1.tolist() == [1, 2, 0]
    assert np.array_equal(o1, weight_mass_ordering(W.copy(), 1)[0])


def test_unselected_neurons_come_last():
    W = np.array([[1.0, 0.0, 0.0, 2.0]])         # zero-weight neurons are never needed for the mass
    ordering, cutoffs = weight_mass_ordering(W, 10)
    assert ordering[:cutoffs[-1]].tolist() == [3, 0]
    assert sorted(ordering[cutoffs[-1]:].tolist()) == [1, 2]


@pytest.mark.parametrize("bad,stride,msg", [(np.ones(3), 10, "n_classes, d"), (np.array([[np.nan, 1.0]]), 10, "finite"),
                                            (np.ones((2, 3)), 0, "search_stride")])
def test_errors(bad, stride, msg):
    with pytest.raises(ValidationError, match=msg):
        weight_mass_ordering(bad, stride)


def test_neurox_agrees_where_installed():
    torch = pytest.importorskip("torch")
    lp = pytest.importorskip("neurox.interpretation.linear_probe")
    W = np.random.default_rng(3).standard_normal((4, 50))
    probe = torch.nn.Linear(50, 4)
    with torch.no_grad():
        probe.weight.copy_(torch.from_numpy(W))
    classes = {f"c{i}": i for i in range(4)}
    theirs, their_cuts = lp.get_neuron_ordering(probe, classes, search_stride=100)
    ours, cuts = weight_mass_ordering(W, 100)
    assert list(cuts) == list(their_cuts)
    assert _blocks(ours, cuts) == _blocks(np.asarray(theirs), np.asarray(their_cuts))


def test_probe_coef_reproduces_predictions_and_finds_the_planted_dimension():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 12))
    y = (X[:, 4] > 0).astype(int)
    p = ProbeClassifier(kind="linear", random_state=0).fit(X, y)
    W = p.coef_
    assert W.shape == (2, 12)
    Z = (X - p.mean_) / p.scale_
    b = p._batch.params[1][0, 0].detach().numpy()
    assert np.array_equal(p.classes_[np.argmax(Z @ W.T + b, axis=1)], p.predict(X))
    assert weight_mass_ordering(W)[0][0] == 4


def test_coef_needs_a_fitted_linear_probe():
    with pytest.raises(NotFittedError):
        ProbeClassifier(kind="linear").coef_
    X = np.random.default_rng(1).standard_normal((80, 3))
    p = ProbeClassifier(kind="mlp", hidden=4, random_state=0, max_epochs=2).fit(X, (X[:, 0] > 0).astype(int))
    with pytest.raises(ValidationError, match="kind='linear'"):
        p.coef_
