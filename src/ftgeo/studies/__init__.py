"""Each paper as a study that chains fine-tuning, extraction, the analyses and the report.

``run_study(names, spec, run)`` is the public entry point (``ftgeo study`` and ``ftgeo demo`` call it)::

    from ftgeo.studies import StudySpec, run_study
    run_study(["gptology", "emergent", "closer-look"], StudySpec(model="minilm-l6", task="sst2"), "runs/x")
"""
from __future__ import annotations

import dataclasses
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
    """Run the named studies in one run folder (sharing one fine-tuned model and its extracted sets),
    check their papers' claims, save a table of the steps, and write ``report.html``. Returns the
    context (``.failed`` lists the steps that failed; ``.claims`` the verdicts).

    With several ``spec.seeds`` each seed runs in ``RUN/seeds/s<seed>/`` (its own fine-tuned model; the
    pretrained model's sets are extracted once into RUN), RUN gets the aggregates over the seeds
    (:mod:`ftgeo.studies.seeds`) and the claims checked on every seed; the returned context is RUN's."""
    names = [names] if isinstance(names, str) else list(names)
    fns = [STUDIES.get(n) for n in names]  # unknown names fail before any work
    if not spec.seeds:
        ctx = _one_seed(fns, spec, run, progress=progress)
        ctx.claims = _claims(names, {None: ctx.run}, ctx.run)
    else:
        ctx = _many_seeds(names, fns, spec, run, progress=progress)
    ctx.save_steps()
    if report:
        from ftgeo.report import write_report
        write_report(ctx.run, title=f"ftgeo: {spec.model} on {spec.task} ({', '.join(names)})")
    return ctx


def _one_seed(fns, spec: StudySpec, run, *, progress: bool, shared=None) -> StudyContext:
    ctx = StudyContext(spec, run, progress=progress, shared=shared)
    if not spec.skip_finetune:
        ctx.step("finetune", "fine-tune", ctx.finetuned)  # saves run/results/finetune__<name> itself
    for fn in fns:
        fn(ctx)
    return ctx


def _many_seeds(names, fns, spec: StudySpec, run, *, progress: bool) -> StudyContext:
    from ftgeo.report import write_report
    from ftgeo.studies.seeds import aggregate_seeds
    top = StudyContext(spec, run, progress=progress)
    runs = {}
    for seed in spec.seed_list():
        sub = spec.replace(seed=seed, seeds=None)
        ctx = _one_seed(fns, sub, top.run.root / "seeds" / f"s{seed}", progress=progress, shared=top.run)
        ctx.save_steps()
        write_report(ctx.run, title=f"ftgeo: {spec.model} on {spec.task}, seed {seed}")
        top.steps += [dataclasses.replace(s, study=f"{s.study} (seed {seed})") for s in ctx.steps]
        runs[seed] = ctx.run
    top.step("seeds", "aggregate over seeds", lambda: aggregate_seeds(runs, top.run))
    top.claims = _claims(names, runs, top.run)
    return top


def _claims(names, runs, run):
    """Check the papers' claims on ``runs`` ({seed: run}), save them into ``run`` and print the verdicts."""
    from ftgeo.studies.claims import check_claims, print_verdicts
    res = check_claims(names, runs)
    res.save(run.result_dir("claims"))
    print_verdicts(res)
    return res
