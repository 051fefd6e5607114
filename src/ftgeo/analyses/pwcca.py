"""``pwcca``: PWCCA (GPTology family).

canonical correlations weighted by how much of the first layer's neurons each canonical variate
accounts for (Morcos et al. 2018). Asymmetric: the matrix (a, b) weights by the row layer of a.

The numbers come from :mod:`ftgeo.analysis.cca`; the grid from :func:`ftgeo.analysis.layerwise.layer_grid`
(shared runner: :mod:`ftgeo.analyses._layerwise`).
"""
from __future__ import annotations

from dataclasses import dataclass

from ftgeo.analyses._layerwise import LayerMeasureResult, LayerMeasureSpec, run_layer_measure
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, param


@dataclass(frozen=True)
class PWCCASpec(LayerMeasureSpec):
    """Parameters of :func:`run_pwcca`."""
    variance: float | None = param(None, "keep the SVD directions explaining this fraction of the variance first "
                                         "(default: all, the rank)", none=("none", "all"))
    n_components: int | None = param(None, "keep this many SVD directions first")


class PWCCAResult(LayerMeasureResult):
    """PWCCA, layer x layer. Table ``pwcca``: pair, set_a, set_b, layer_a, layer_b, pwcca, pwcca_low,
    pwcca_high; arrays ``matrix_<i>``, ``jack_<i>`` (see :mod:`ftgeo.analyses._layerwise`)."""

    kind = "pwcca"


@register_analysis("pwcca", family="gptology", order=14, spec=PWCCASpec, result=PWCCAResult,
                   inputs=[Input("reps", n=(1, 2), spread=True, param="reps_a",
                                 help="one representation folder (within-model) or two (e.g. pretrained and "
                                      "fine-tuned, same task split)")],
                   help="PWCCA (Morcos et al. 2018): projection-weighted canonical correlation, layer x layer (asymmetric)")
def run_pwcca(reps_a, reps_b=None, *, spec: PWCCASpec, progress: bool = True) -> PWCCAResult:
    """PWCCA between every two layers of ``reps_a``, or within and between ``reps_a`` and ``reps_b``
    (the bow-tie), each layer prepared once; jackknife intervals unless ``intervals=False``."""
    from ftgeo.analysis.cca import PWCCAMeasure

    measure = PWCCAMeasure(spec.variance, spec.n_components)
    return run_layer_measure(measure, "pwcca", "PWCCA: projection-weighted CCA (Morcos et al. 2018), weights from the row layer", PWCCAResult, reps_a, reps_b, spec, progress)
