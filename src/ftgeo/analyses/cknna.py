"""``cknna``: CKNNA (GPTology family).

unbiased HSIC of the linear kernels restricted to mutual k-nearest-neighbour pairs, normalised like
CKA (Huh et al. 2024, App. A); k = n - 1 gives debiased linear CKA.

The numbers come from :mod:`ftgeo.analysis.knn_alignment`; the grid from :func:`ftgeo.analysis.layerwise.layer_grid`
(shared runner: :mod:`ftgeo.analyses._layerwise`).
"""
from __future__ import annotations

from dataclasses import dataclass

from ftgeo.analyses._layerwise import LayerMeasureResult, LayerMeasureSpec, run_layer_measure
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, param


@dataclass(frozen=True)
class CKNNASpec(LayerMeasureSpec):
    """Parameters of :func:`run_cknna`."""
    topk: int | None = param(10, "neighbours per example (none: n - 1, which is debiased linear CKA)",
                              none=("none", "all"))
    normalize: bool = param(True, "L2-normalise rows first (as platonic-rep)")


class CKNNAResult(LayerMeasureResult):
    """CKNNA, layer x layer. Table ``cknna``: pair, set_a, set_b, layer_a, layer_b, cknna, cknna_low,
    cknna_high; arrays ``matrix_<i>``, ``jack_<i>`` (see :mod:`ftgeo.analyses._layerwise`)."""

    kind = "cknna"


@register_analysis("cknna", family="gptology", order=17, spec=CKNNASpec, result=CKNNAResult,
                   inputs=[Input("reps", n=(1, 2), spread=True, param="reps_a",
                                 help="one representation folder (within-model) or two (e.g. pretrained and "
                                      "fine-tuned, same task split)")],
                   help="CKNNA (Huh et al. 2024): CKA restricted to mutual k nearest neighbours, layer x layer")
def run_cknna(reps_a, reps_b=None, *, spec: CKNNASpec, progress: bool = True) -> CKNNAResult:
    """CKNNA between every two layers of ``reps_a``, or within and between ``reps_a`` and ``reps_b``
    (the bow-tie), each layer prepared once; jackknife intervals unless ``intervals=False``."""
    from ftgeo.analysis.knn_alignment import CKNNAMeasure

    measure = CKNNAMeasure(spec.topk, spec.normalize)
    return run_layer_measure(measure, "cknna", "CKNNA: CKA over mutual nearest neighbours (Huh et al. 2024)", CKNNAResult, reps_a, reps_b, spec, progress)
