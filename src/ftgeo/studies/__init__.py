"""Each paper as a study that chains fine-tuning, extraction, the analyses and the report.

``run_study(names, spec, run)`` is the public entry point (``ftgeo study`` and ``ftgeo demo`` call it)::

    from ftgeo.studies import StudySpec, run_study
    run_study(["gptology", "emergent", "closer-look"], StudySpec(model="minilm-l6", task="sst2"), "runs/x")
"""
from __future__ import annotations

from typing import Sequence

from ftgeo.registry import Registry
from ftgeo.studies.base import StudyContext, StudySpec

STUDIES: Registry = Registry("study")
STUDIES.register("gptology", lazy="ftgeo.studies.gptology:run_gptology",
                 help="GPTology: CKA bow-tie, rogue dimensions, threshold, ablation, projections, isotropy")
STUDIES.register("emergent", lazy="ftgeo.studies.emergent:run_emergent",
                 help="Emergent properties: frozen vs fine-tuned, PCA compression, variance ratios, salient neurons")
STUDIES.register("closer-look", lazy="ftgeo.studies.closer_look:run_closer_look",
                 help="A Closer Look: MLP probes, DirectProbe, train/test divergence, dynamics over checkpoints")
STUDIES.register("lora-vs-full", lazy="ftgeo.studies.lora:run_lora_vs_full",
                 help="LoRA vs full fine-tuning: CKA to the pretrained model, rogue dimensions, threshold, probes, "
                      "DirectProbe and the claims per method")

__all__ = ["STUDIES", "StudySpec", "StudyContext", "run_study"]


def run_study(names: Sequence[str] | str, spec: StudySpec, run, *, report: bool = True,
              progress: bool = True) -> StudyContext:
    """Run the named studies in one run folder (sharing one fine-tuned model and its extracted
    sets), save a table of the steps, and write ``report.html``. Returns the context (``.failed``
    lists the steps that failed)."""
    names = [names] if isinstance(names, str) else list(names)
    fns = [STUDIES.get(n) for n in names]  # unknown names fail before any work
    ctx = StudyContext(spec, run, progress=progress)
    if not spec.skip_finetune:
        ctx.step("finetune", "fine-tune", ctx.finetuned)  # saves run/results/finetune__<name> itself
    for fn in fns:
        fn(ctx)
    ctx.save_steps()
    if report:
        from ftgeo.report import write_report
        write_report(ctx.run, title=f"ftgeo: {spec.model} on {spec.task} ({', '.join(names)})")
    return ctx
