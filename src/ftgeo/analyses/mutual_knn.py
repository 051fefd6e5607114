"""``mutual-knn``: mutual k-nearest-neighbour alignment (GPTology family).

the mean fraction of every example's k nearest neighbours that both layers share (Huh et al. 2024,
the Platonic Representation Hypothesis).

The numbers come from :mod:`ftgeo.analysis.knn_alignment`; the grid from :func:`ftgeo.analysis.layerwise.layer_grid`
(shared runner: :mod:`ftgeo.analyses._layerwise`).
"""
from __future__ import annotations

from dataclasses import dataclass

from ftgeo.analyses._layerwise import LayerMeasureResult, LayerMeasureSpec, run_layer_measure
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, param


@dataclass(frozen=True)
class MutualKNNSpec(LayerMeasureSpec):
    """Parameters of :func:`run_mutual_knn`."""
    topk: int = param(10, "neighbours per example (platonic-rep: 10)")
    normalize: bool = param(True, "L2-normalise rows first (cosine neighbours, as platonic-rep)")


class MutualKNNResult(LayerMeasureResult):
    """mutual k-nearest-neighbour alignment, layer x layer. Table ``mutual_knn``: pair, set_a, set_b, layer_a, layer_b, mutual_knn, mutual_knn_low,
    mutual_knn_high; arrays ``matrix_<i>``, ``jack_<i>`` (see :mod:`ftgeo.analyses._layerwise`)."""

    kind = "mutual_knn"


@register_analysis("mutual-knn", family="gptology", order=16, spec=MutualKNNSpec, result=MutualKNNResult,
                   inputs=[Input("reps", n=(1, 2), spread=True, param="reps_a",
                                 help="one representation folder (within-model) or two (e.g. pretrained and "
                                      "fine-tuned, same task split)")],
                   help="mutual k-nearest-neighbour alignment (Huh et al. 2024), layer x layer")
def run_mutual_knn(reps_a, reps_b=None, *, spec: MutualKNNSpec, progress: bool = True) -> MutualKNNResult:
    """mutual k-nearest-neighbour alignment between every two layers of ``reps_a``, or within and between ``reps_a`` and ``reps_b``
    (the bow-tie), each layer prepared once; jackknife intervals unless ``intervals=False``."""
    from ftgeo.analysis.knn_alignment import MutualKNNMeasure

    measure = MutualKNNMeasure(spec.topk, spec.normalize)
    return run_layer_measure(measure, "mutual_knn", "mutual kNN alignment (Huh et al. 2024)", MutualKNNResult, reps_a, reps_b, spec, progress)
