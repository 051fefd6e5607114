"""``rsa``: representational similarity analysis (GPTology family).

Pearson or Spearman correlation of the layers' RDMs (cosine, correlation or Euclidean distances of
every two examples; Kriegeskorte et al. 2008). Quadratic in n: ``max_points`` (2000) subsamples rows.

The numbers come from :mod:`ftgeo.analysis.rsa`; the grid from :func:`ftgeo.analysis.layerwise.layer_grid`
(shared runner: :mod:`ftgeo.analyses._layerwise`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ftgeo.analyses._layerwise import LayerMeasureResult, LayerMeasureSpec, run_layer_measure
from ftgeo.analyses._registry import register_analysis
from ftgeo.analyses._spec import Input, param


@dataclass(frozen=True)
class RSASpec(LayerMeasureSpec):
    """Parameters of :func:`run_rsa`."""
    metric: Literal["cosine", "correlation", "euclidean", "sqeuclidean"] = param("cosine", "RDM distance")
    method: Literal["pearson", "spearman"] = param("spearman", "correlation of the two RDMs")

    max_points: int | None = param(2000, "rows used, a seeded subsample (RDMs are quadratic in n; all = every row)",
                                   none=("all",))


class RSAResult(LayerMeasureResult):
    """representational similarity analysis, layer x layer. Table ``rsa``: pair, set_a, set_b, layer_a, layer_b, rsa, rsa_low,
    rsa_high; arrays ``matrix_<i>``, ``jack_<i>`` (see :mod:`ftgeo.analyses._layerwise`)."""

    kind = "rsa"


@register_analysis("rsa", family="gptology", order=15, spec=RSASpec, result=RSAResult,
                   inputs=[Input("reps", n=(1, 2), spread=True, param="reps_a",
                                 help="one representation folder (within-model) or two (e.g. pretrained and "
                                      "fine-tuned, same task split)")],
                   help="RSA (Kriegeskorte et al. 2008): correlation of representational dissimilarity matrices, layer x layer")
def run_rsa(reps_a, reps_b=None, *, spec: RSASpec, progress: bool = True) -> RSAResult:
    """representational similarity analysis between every two layers of ``reps_a``, or within and between ``reps_a`` and ``reps_b``
    (the bow-tie), each layer prepared once; jackknife intervals unless ``intervals=False``."""
    from ftgeo.analysis.rsa import RSAMeasure

    measure = RSAMeasure(spec.metric, spec.method)
    return run_layer_measure(measure, "rsa", "RSA: correlation of RDMs (Kriegeskorte et al. 2008)", RSAResult, reps_a, reps_b, spec, progress)
