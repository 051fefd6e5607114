"""A replication: several study runs from one config file, the steps that compare them, and one table of verdicts.

``ftgeo study --config configs/gptology-cpu.yaml`` reads a file like::

    studies: [gptology]                 # the studies every run goes through
    run: runs/replication/gptology-cpu  # the replication's folder; run k goes to RUN/runs/<name>
    defaults: {recipe: gptology, max_length: 64}      # StudySpec fields shared by the runs
    runs:
      - {name: smollm2-sst2, model: smollm2-135m, task: sst2, learning_rate: 5.0e-5}
      - {name: smollm2-qnli, model: smollm2-135m, task: "qnli[derive_splits=true]"}
    across:                             # steps over several runs (ACROSS below)
      - {step: rogue-across-tasks, runs: [smollm2-sst2, smollm2-qnli]}

Flags given on the command line override every run's settings (``--max-train-examples 200`` for a quick try).
A file without ``runs`` is one study run (its keys are StudySpec fields, plus ``studies`` and ``run``).
The replication's own folder gets the cross-run results, the claims that read them, and ``replication``:
every run's verdicts in one table.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ftgeo.config import load_config_file
from ftgeo.errors import ValidationError
from ftgeo.run import check_name
from ftgeo.studies.base import StudyContext, StudySpec



@dataclass
class Plan:
    """What a config file asks for: the studies, the folder, each run's spec, the cross-run steps."""

    studies: list[str]
    run: str | None
    specs: dict[str, StudySpec]            # run name -> its spec (one run: {"": spec})
    across: list[dict] = field(default_factory=list)

    @property
    def is_replication(self) -> bool:
        return "" not in self.specs


def read_plan(file: str | Path | None, flags: dict[str, Any], studies: list[str] | None = None,
              run: str | None = None) -> Plan:
    """The plan of ``file`` with ``flags`` (StudySpec fields from the command line) over every run."""
    raw = dict(load_config_file(file)) if file is not None else {}
    src = str(file) if file is not None else "arguments"
    names = list(studies or raw.pop("studies", None) or [])
    raw.pop("studies", None)
    folder = run or raw.pop("run", None)
    raw.pop("run", None)
    runs, defaults, across = raw.pop("runs", None), raw.pop("defaults", None) or {}, raw.pop("across", None) or []
    if not names:
        raise ValidationError(f"{src}: name the studies to run (ftgeo study gptology ..., or 'studies:' in the config)")
    if runs is None:
        return Plan(names, folder, {"": StudySpec.from_mapping({**raw, **flags}, source=src)})
    if raw:
        raise ValidationError(f"{src}: with 'runs:', shared settings go under 'defaults:' (found {sorted(raw)} at the "
                              "top level)")
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) and r.get("name") for r in runs):
        raise ValidationError(f"{src}: 'runs:' must be a list of mappings, each with a 'name'")
    specs = {}
    for r in runs:
        r = dict(r)
        name = check_name(str(r.pop("name")), "run name")
        specs[name] = StudySpec.from_mapping({**defaults, **r, **flags}, source=f"{src}: run {name!r}")
    for step in across:
        if not isinstance(step, dict) or step.get("step") not in ACROSS:
            raise ValidationError(f"{src}: each 'across:' entry needs a 'step' of {sorted(ACROSS)}; got {step!r}")
    return Plan(names, folder, specs, list(across))


def run_plan(plan: Plan, *, progress: bool = True, only: list[str] | None = None):
    """Run every study run of ``plan`` (resuming what is on disk), then the cross-run steps and the verdicts.
    ``only``: run just these runs (e.g. one process per run on a machine with more cores); the steps across runs
    and the verdict table are left to a later call without ``only``, which reuses every finished run.
    Returns the replication's context (its ``failed`` steps include every run's)."""
    from ftgeo.report import write_report
    from ftgeo.studies import run_study
    if only is not None:
        unknown = [n for n in only if n not in plan.specs]
        if unknown or not only:
            raise ValidationError(f"--only {','.join(only)}: the config's runs are {', '.join(plan.specs)}")
    top = StudyContext(next(iter(plan.specs.values())), plan.run or "runs/replication", progress=progress)
    ctxs = {}
    for name, spec in plan.specs.items():
        if only is not None and name not in only:
            continue
        t0 = time.perf_counter()
        ctxs[name] = ctx = run_study(plan.studies, spec, top.run.root / "runs" / name, progress=progress)
        top.steps += [_tagged(s, name) for s in ctx.steps]
        print(f"[replication] run {name}: {time.perf_counter() - t0:.0f} s, report {ctx.run.report}")
    if only is not None:
        print(f"[replication] ran {', '.join(only)} only: rerun without --only for the steps across runs and the "
              "verdict table (finished runs are reused)")
        return top
    for step in plan.across:
        top.step("across", step["step"], lambda step=step: ACROSS[step["step"]](top, ctxs, step))
    from ftgeo.studies.claims import check_claims, combine_runs, print_verdicts
    cross = check_claims(plan.studies, {None: top.run})
    verdicts = combine_runs({name: c.claims for name, c in ctxs.items() if c.claims is not None}, cross)
    verdicts.save(top.run.result_dir("replication"))
    print_verdicts(verdicts)
    top.claims = verdicts
    top.save_steps()
    write_report(top.run, title=f"ftgeo replication: {', '.join(plan.studies)} ({len(ctxs)} runs)")
    return top


def _tagged(step, run_name: str):
    import dataclasses
    return dataclasses.replace(step, study=f"{run_name}: {step.study}")


# ----------------------------------------------------------------------------- steps over several runs
def _rogue_across_tasks(top: StudyContext, ctxs: dict, step: dict):
    """GPTology: the top-k rogue dimensions of the same model fine-tuned on two tasks, and their overlap
    (each on its own task's eval split; the paper: 8 of 10 shared for GPT-2 on SST-2 and QNLI)."""
    a, b = _runs(ctxs, step, 2)
    sets = [ctxs[n].reps("finetuned", ctxs[n].spec.eval_split) for n in (a, b)]
    return top.analyze("rogue", *sets, names=[a, b], save_as=step.get("name", "rogue_tasks"), layers="last",
                       k=int(step.get("k", 10)))


def _cross_task(top: StudyContext, ctxs: dict, step: dict):
    """A Closer Look, Sec. 6: task B's space from the pretrained model and from models fine-tuned on a similar and
    on an opposing task A (``similar:`` / ``opposing:`` name runs; ``task:`` is task B; ``layers:`` and
    ``max_points:`` as in ``ftgeo analyze cross-task``)."""
    task = step.get("task")
    if not task:
        raise ValidationError("cross-task needs 'task:' (task B, e.g. ps_fxn)")
    from ftgeo.data import load_task
    for role in ("similar", "opposing"):
        name = step.get(role)
        if name is None:
            continue
        ctx = ctxs[_check_run(ctxs, name)]
        b = load_task(task, data_root=ctx.spec.data_root)
        kw = dict(task=b, pooling=step.get("pooling"), max_examples=step.get("max_examples"))
        pre_tr = ctx.reps("pretrained", ctx.spec.train_split, **kw)
        ft_tr = ctx.reps("finetuned", ctx.spec.train_split, **kw)
        pre_ev = ctx.reps("pretrained", ctx.spec.eval_split, **kw)
        ft_ev = ctx.reps("finetuned", ctx.spec.eval_split, **kw)
        top.analyze("cross-task", pre_tr, ft_tr, pretrained_eval=pre_ev, finetuned_eval=ft_ev,
                    save_as=f"cross_task_{role}", max_points=step.get("max_points", 1000),
                    layers=step.get("layers", "all"))


def _runs(ctxs: dict, step: dict, n: int) -> list[str]:
    names = step.get("runs") or []
    if len(names) != n:
        raise ValidationError(f"{step['step']} needs 'runs:' naming {n} runs; got {names}")
    return [_check_run(ctxs, r) for r in names]


def _check_run(ctxs: dict, name: str) -> str:
    if name not in ctxs:
        raise ValidationError(f"no run named {name!r}; the runs are {sorted(ctxs)}")
    return name


ACROSS: dict[str, Callable] = {"rogue-across-tasks": _rogue_across_tasks, "cross-task": _cross_task}
