"""``shape``: angular shape metric (GPTology family).

arccos of the nuclear norm of the partially whitened layers' cross-product over their norms
(Williams et al. 2021; netrep's ``LinearMetric(alpha)``), radians in [0, pi/2].

The numbers come from :mod:`ftgeo.analysis.shape`; the grid from :func:`ftgeo.analysis.layerwise.layer_grid`
(shared runner: :mod:`ftgeo.analyses._layerwise`).
"""
from __future__ import annotations

from dataclasses import dataclass

from ftgeo.analyses._layerwise import LayerMeasureResult, LayerMeasureSpec, run_layer_measure
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, param


@dataclass(frozen=True)
class ShapeSpec(LayerMeasureSpec):
    """Parameters of :func:`run_shape`."""
    alpha: float = param(1.0, "partial whitening: 1 = rotations only (Procrustes angle), 0 = any invertible "
                                  "linear map (CCA-like)")

    def validate(self) -> None:
        super().validate()
        from ftgeo.analysis.shape import ShapeMeasure
        ShapeMeasure(self.alpha)


class ShapeResult(LayerMeasureResult):
    """angular shape metric, layer x layer. Table ``shape``: pair, set_a, set_b, layer_a, layer_b, shape, shape_low,
    shape_high; arrays ``matrix_<i>``, ``jack_<i>`` (see :mod:`ftgeo.analyses._layerwise`)."""

    kind = "shape"


@register_analysis("shape", family="gptology", order=12, spec=ShapeSpec, result=ShapeResult,
                   inputs=[Input("reps", n=(1, 2), spread=True, param="reps_a",
                                 help="one representation folder (within-model) or two (e.g. pretrained and "
                                      "fine-tuned, same task split)")],
                   help="angular shape metric with partial whitening alpha (Williams et al. 2021), layer x layer")
def run_shape(reps_a, reps_b=None, *, spec: ShapeSpec, progress: bool = True) -> ShapeResult:
    """angular shape metric between every two layers of ``reps_a``, or within and between ``reps_a`` and ``reps_b``
    (the bow-tie), each layer prepared once; jackknife intervals unless ``intervals=False``."""
    from ftgeo.analysis.shape import ShapeMeasure

    measure = ShapeMeasure(spec.alpha)
    return run_layer_measure(measure, "shape", "angular shape metric (Williams et al. 2021; netrep LinearMetric)", ShapeResult, reps_a, reps_b, spec, progress)
