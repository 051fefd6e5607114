"""The GPTology study's measures panel (issue 16), kept out of ``gptology.py`` so the study adds it with two lines::

    from ftgeo.studies._measures import decoder_massive_activations, measures_panel
    measures_panel(ctx, pre_ev, ft_ev)            # after the CKA steps, when both eval sets exist
    decoder_massive_activations(ctx)              # anywhere: SmolLM2 (or the study's own decoder)

``measures_panel`` runs, on the pretrained and fine-tuned eval sets, every layer x layer measure
(Procrustes, shape metric, SVCCA, PWCCA, RSA, mutual kNN, CKNNA: the bow-tie, with jackknife
intervals), the rogue-dimension sensitivity (each measure raw / standardized / clipped on the
same-layer pairs, with the layers where the choice flips a conclusion) and the intrinsic dimension
of both sets. ``decoder_massive_activations`` runs ``massive-activations`` (Sun et al. 2024) on a
decoder: the study's model if it is one, else the packaged SmolLM2-135M, on the study's task.
Each is one ``ctx.step``: a failure is recorded and the study goes on.
"""
from __future__ import annotations

STUDY = "gptology"

#: (analysis, result name, parameters) of the panel, in report order
PANEL = (
    ("procrustes", None, {}),
    ("shape", None, {}),
    ("svcca", None, {}),
    ("pwcca", None, {}),
    ("rsa", None, {}),
    ("mutual-knn", None, {}),
    ("cknna", None, {}),
    ("measure-sensitivity", None, {}),
)

DECODER_SHOWCASE = "smollm2-135m"


#: layers up to which ``measures="auto"`` computes the jackknife intervals (their cost grows with layers^2:
#: about 60 s for 7 layers x 872 rows x 384 dims on 2 cores, 20 min for SmolLM2's 31 layers)
AUTO_INTERVAL_LAYERS = 13


def panel_intervals(mode: str, n_layers: int) -> bool:
    """Whether the panel computes intervals for ``mode`` (auto / intervals / points) and ``n_layers`` layers."""
    return mode == "intervals" or (mode == "auto" and n_layers <= AUTO_INTERVAL_LAYERS)


def measures_panel(ctx, pre, ft, *, names=("pretrained", "fine-tuned"), mode: str = "auto") -> dict:
    """Run the measures panel on ``pre`` and ``ft`` (same task split) through ``ctx.analyze``; returns
    ``{analysis: result or None}`` (None where the step failed; the failure is in ``ctx.steps``).

    The layer x layer measures compare pretrained with fine-tuned (``pairs="cross"``: the bow-tie's
    off-diagonal block, the one the GPTology claims read); ``mode`` is the study's ``measures``."""
    out = {}
    names = list(names)
    if mode == "off":
        return out
    intervals = panel_intervals(mode, pre.n_layers)
    for analysis, save_as, params in PANEL:
        if analysis != "measure-sensitivity":  # its intervals stay off (every measure x 3 preprocessings x blocks)
            params = {**params, "intervals": intervals, "pairs": "cross"}
        out[analysis] = ctx.step(STUDY, analysis, lambda a=analysis, s=save_as, p=params:
                                 ctx.analyze(a, pre, ft, names=names, save_as=s, **p))
    out["intrinsic-dimension"] = ctx.step(STUDY, "intrinsic-dimension",
                                          lambda: ctx.analyze("intrinsic-dimension", pre, ft, names=names))
    return out


def _study_model_is_decoder(ctx) -> bool:
    try:
        from ftgeo.models import load_model
        return bool(load_model(ctx.spec.model).is_decoder)
    except Exception:  # noqa: BLE001 - the showcase model is used instead
        return False


def decoder_massive_activations(ctx, model: str | None = None, *, max_examples: int = 64):
    """``massive-activations`` on ``model`` (default: the study's model if it is a decoder, else SmolLM2-135M)
    over the first ``max_examples`` sentences of the study's task and eval split."""
    s = ctx.spec
    if model is None:
        model = s.model if _study_model_is_decoder(ctx) else DECODER_SHOWCASE
    return ctx.step(STUDY, f"massive activations ({model})", lambda: ctx.analyze(
        "massive-activations", model=str(model), task=s.task, split=s.eval_split, data_root=s.data_root,
        max_examples=max_examples, max_length=s.max_length))
