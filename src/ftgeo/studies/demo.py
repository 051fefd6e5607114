"""The main job: all three studies on the packaged MiniLM encoder and SST-2, plus the packaged
SmolLM2 decoder's rogue dimension, in one run folder with one HTML report.

Sized for a 2-core CPU machine (its wall-clock time on 2 idle cores is the README's, measured with
``scripts/time_demo.sh``, which prints it with the machine's load): MiniLM fine-tuned on 2,000 SST-2 training
sentences for 2 epochs with checkpoints every half epoch; representations of those 2,000
sentences and of all 872 dev sentences; SmolLM2 (30 x 576) on 300 dev sentences.
"""
from __future__ import annotations

from ftgeo.studies import run_study
from ftgeo.studies.base import StudyContext, StudySpec

DEMO_DEFAULTS = dict(model="minilm-l6", task="sst2", max_train_examples=2000, epochs=2.0,
                     checkpoint_every=0.5, max_length=64, learning_rate=1e-4)
DECODER = "smollm2-135m"
DECODER_EXAMPLES = 300


def run_demo(spec: StudySpec, run, *, decoder: bool = True, progress: bool = True) -> StudyContext:
    """Run the demo; returns the study context (``.failed`` lists failed steps).

    The demo reads local data only: a missing data folder is one line before anything starts (not a failed
    step per study)."""
    from ftgeo.data import resolve_data_root
    resolve_data_root(spec.data_root)
    ctx = run_study(["gptology", "emergent", "closer-look"], spec, run, report=False, progress=progress)
    if decoder:
        decoder_showcase(ctx)
    ctx.save_steps()
    from ftgeo.report import write_report
    write_report(ctx.run, title=f"ftgeo demo: {spec.model} and {DECODER} on {spec.task}")
    return ctx


def decoder_showcase(ctx: StudyContext) -> None:
    """Pretrained SmolLM2 last-token representations of SST-2 dev: rogue dimensions, isotropy, CKA."""
    reps = ctx.step("decoder", f"extract {DECODER}", lambda: ctx.reps(
        "pretrained", ctx.spec.eval_split, model=DECODER, max_examples=DECODER_EXAMPLES, pooling="last"))
    if reps is None:
        return
    ctx.step("decoder", "rogue", lambda: ctx.analyze("rogue", reps, names=[DECODER], save_as="rogue_decoder"))
    ctx.step("decoder", "isotropy", lambda: ctx.analyze("isotropy", reps, names=[DECODER], save_as="isotropy_decoder"))
    ctx.step("decoder", "cka", lambda: ctx.analyze("cka", reps, names=[DECODER], save_as="cka_decoder"))
