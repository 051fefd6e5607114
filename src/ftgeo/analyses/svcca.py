"""``svcca``: SVCCA (GPTology family).

CCA between the top singular directions (99% of the variance) of each layer; the mean canonical
correlation (Raghu et al. 2017). Rank-aware; pairs whose CCA is degenerate (r_x + r_y > n - 1) are noted.

The numbers come from :mod:`ftgeo.analysis.cca`; the grid from :func:`ftgeo.analysis.layerwise.layer_grid`
(shared runner: :mod:`ftgeo.analyses._layerwise`).
"""
from __future__ import annotations

from dataclasses import dataclass

from ftgeo.analyses._layerwise import LayerMeasureResult, LayerMeasureSpec, run_layer_measure
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, param


@dataclass(frozen=True)
class SVCCASpec(LayerMeasureSpec):
    """Parameters of :func:`run_svcca`."""
    variance: float | None = param(0.99, "fraction of each layer's variance its kept SVD directions explain",
                                   none=("none", "all"))
    n_components: int | None = param(None, "keep this many SVD directions instead (default: by variance)")


class SVCCAResult(LayerMeasureResult):
    """SVCCA, layer x layer. Table ``svcca``: pair, set_a, set_b, layer_a, layer_b, svcca, svcca_low,
    svcca_high; arrays ``matrix_<i>``, ``jack_<i>`` (see :mod:`ftgeo.analyses._layerwise`)."""

    kind = "svcca"


@register_analysis("svcca", family="gptology", order=13, spec=SVCCASpec, result=SVCCAResult,
                   inputs=[Input("reps", n=(1, 2), spread=True, param="reps_a",
                                 help="one representation folder (within-model) or two (e.g. pretrained and "
                                      "fine-tuned, same task split)")],
                   help="SVCCA (Raghu et al. 2017): mean canonical correlation after SVD reduction, layer x layer")
def run_svcca(reps_a, reps_b=None, *, spec: SVCCASpec, progress: bool = True) -> SVCCAResult:
    """SVCCA between every two layers of ``reps_a``, or within and between ``reps_a`` and ``reps_b``
    (the bow-tie), each layer prepared once; jackknife intervals unless ``intervals=False``."""
    from ftgeo.analysis.cca import SVCCAMeasure

    measure = SVCCAMeasure(spec.variance, spec.n_components)
    return run_layer_measure(measure, "svcca", "SVCCA: mean canonical correlation of the SVD-reduced layers (Raghu et al. 2017)", SVCCAResult, reps_a, reps_b, spec, progress)
