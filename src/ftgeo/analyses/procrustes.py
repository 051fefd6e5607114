"""``procrustes``: orthogonal Procrustes distance (GPTology family).

min_Q ||X~ - Y~ Q||_F over orthogonal Q, of the centred, unit-norm layers (Williams et al. 2021);
in [0, sqrt 2], 0 = identical up to translation, rotation and scale.

The numbers come from :mod:`ftgeo.analysis.shape`; the grid from :func:`ftgeo.analysis.layerwise.layer_grid`
(shared runner: :mod:`ftgeo.analyses._layerwise`).
"""
from __future__ import annotations

from dataclasses import dataclass

from ftgeo.analyses._layerwise import LayerMeasureResult, LayerMeasureSpec, run_layer_measure
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input


@dataclass(frozen=True)
class ProcrustesSpec(LayerMeasureSpec):
    """Parameters of :func:`run_procrustes`."""


class ProcrustesResult(LayerMeasureResult):
    """orthogonal Procrustes distance, layer x layer. Table ``procrustes``: pair, set_a, set_b, layer_a, layer_b, procrustes, procrustes_low,
    procrustes_high; arrays ``matrix_<i>``, ``jack_<i>`` (see :mod:`ftgeo.analyses._layerwise`)."""

    kind = "procrustes"


@register_analysis("procrustes", family="gptology", order=11, spec=ProcrustesSpec, result=ProcrustesResult,
                   inputs=[Input("reps", n=(1, 2), spread=True, param="reps_a",
                                 help="one representation folder (within-model) or two (e.g. pretrained and "
                                      "fine-tuned, same task split)")],
                   help="orthogonal Procrustes distance, layer x layer (0 = same up to rotation)")
def run_procrustes(reps_a, reps_b=None, *, spec: ProcrustesSpec, progress: bool = True) -> ProcrustesResult:
    """orthogonal Procrustes distance between every two layers of ``reps_a``, or within and between ``reps_a`` and ``reps_b``
    (the bow-tie), each layer prepared once; jackknife intervals unless ``intervals=False``."""
    from ftgeo.analysis.shape import ProcrustesMeasure

    measure = ProcrustesMeasure()
    return run_layer_measure(measure, "procrustes", "orthogonal Procrustes distance (Williams et al. 2021)", ProcrustesResult, reps_a, reps_b, spec, progress)
