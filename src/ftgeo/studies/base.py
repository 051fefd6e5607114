"""What every study shares: its typed spec and a context that fine-tunes and extracts once.

A study chains the public functions of ftgeo (``finetune`` -> ``extract`` -> ``analyses`` ->
``report``) for one paper's set of analyses. :class:`StudyContext` remembers what it already
made in the run folder, so the three studies of one run share one fine-tuned model and one set
of extracted representations, and rerunning a study after an interruption resumes: fine-tuning
resumes from its last checkpoint, extraction from its last chunk, and finished steps are cache hits.
"""
from __future__ import annotations

import dataclasses
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from ftgeo import _atomic
from ftgeo.config import Spec, param
from ftgeo.errors import ValidationError
from ftgeo.run import RunDir


@dataclass(frozen=True)
class StudySpec(Spec):
    """Settings of a study run (every field is a CLI flag of ``ftgeo study`` / ``ftgeo demo``)."""

    model: str = param("minilm-l6", "packaged name (ftgeo list models), model folder or hub id")
    task: str = param("sst2", "task name (ftgeo list tasks)")
    data_root: str | None = param(None, "folder with the local datasets (default: $FTGEO_DATA_ROOT)", metavar="DIR")
    pooling: str | None = param(None, "pooling of the extracted vectors (default: last for decoders, cls for "
                                      "encoders, word/pair for token tasks)")
    train_split: str = param("train", "training split")
    eval_split: str = param("dev", "evaluation split")
    max_train_examples: int = param(2000, "fine-tuning subsample (and train-split representations)")
    max_train_reps: int | None = param(None, "train-split representations: the first N examples of the split "
                                             "(default: max_train_examples)")
    max_eval_examples: int | None = param(None, "first N examples of the eval split (default: all)", none=("all",))
    finetune_eval_examples: int | None = param(None, "first N examples of the eval split that fine-tuning scores at "
                                                     "each checkpoint (default: all; IMDB's 25,000 test reviews at "
                                                     "length 256 take ~45 min per checkpoint on one core)",
                                               none=("all",))
    recipe: str = param("closer-look", "fine-tuning recipe (ftgeo list recipes)")
    epochs: float = param(2.0, "fine-tuning epochs")
    learning_rate: float | None = param(None, "peak learning rate (default: the recipe's)", aliases=("lr",))
    batch_size: int | None = param(None, "fine-tuning batch size (default: the recipe's)")
    gradient_accumulation_steps: int | None = param(None, "gradient accumulation steps (default: the recipe's)")
    warmup_ratio: float | None = param(None, "fraction of the fine-tuning steps warming up (default: the recipe's)")
    max_length: int = param(64, "truncate inputs to this many tokens")
    checkpoint_every: float | None = param(0.5, "checkpoint every fraction of an epoch (< 1) or every N steps "
                                                "(>= 1); none = only the final model", none=("none", "0"))
    general_corpus: str = param("brown", "out-of-domain corpus for the general PCA (Emergent properties)")
    max_general_examples: int = param(2000, "sentences of the general corpus")
    general_sizes: list[int] | None = param(None, "Emergent properties: numbers of general-corpus sentences for the "
                                                  "'32k sentences suffice' curve (e.g. 1000,8000,32000; every "
                                                  "sentence is added); none skips it", none=("none",))
    general_corpora: list[str] | None = param(None, "corpora of that curve, comma-separated (default: "
                                                    "general_corpus), e.g. brown,wikitext2")
    probe_layers: str = param("0,2,4,6", "layers of the MLP-probe grid: a list, 'all' or 'last' (every layer is "
                                         "slow on CPU; layers beyond the model are dropped)")
    probe_points: int = param(4000, "stratified subsample of the probes' training rows (token tasks: words)")
    directprobe_points: int = param(600, "stratified subsample of DirectProbe's rows per set")
    directprobe_layers: str = param("all", "A Closer Look: layers of DirectProbe (clusters, distances, train/test "
                                           "divergence, similarity to the pretrained space): 'all', a list, or a "
                                           "range such as 1-last (every layer but the embeddings, where repeated "
                                           "words share one vector and the fit is slowest)")
    seed: int = param(0, "fine-tuning and analysis seed")
    seeds: list[int] | None = param(None, "several fine-tuning seeds (e.g. 0,1,2): the studies run once per seed, in "
                                          "RUN/seeds/s<seed>/, and RUN gets per-seed rows, aggregates and the claims "
                                          "over the seeds")
    skip_finetune: bool = param(False, "analyse the pretrained model only")
    controls: bool = param(True, "A Closer Look: probing controls -- control tasks and selectivity, MDL probes and "
                                 "DirectProbe on the control labels, on the pretrained, fine-tuned and a random-init "
                                 "model (Hewitt & Liang 2019; Voita & Titov 2020)")
    measures: Literal["auto", "intervals", "points", "off"] = param(
        "auto", "GPTology's measures panel (Procrustes, shape, SVCCA, PWCCA, RSA, mutual kNN, CKNNA, sensitivity, "
                "intrinsic dimension): with jackknife intervals, points only, or off; auto = intervals up to 13 "
                "layers (their cost grows with layers^2), points beyond")
    massive_activations: bool = param(True, "GPTology: massive activations (Sun et al. 2024) of a decoder (the "
                                            "study's model if it is one, else SmolLM2-135M)")

    def validate(self) -> None:
        for name in ("max_train_examples", "max_length", "max_general_examples", "directprobe_points",
                     "probe_points", "finetune_eval_examples"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValidationError(f"{name} must be >= 1; got {getattr(self, name)}")
        if self.epochs <= 0:
            raise ValidationError(f"epochs must be > 0; got {self.epochs}")
        if self.seeds is not None and (not self.seeds or len(set(self.seeds)) != len(self.seeds)):
            raise ValidationError(f"seeds must be distinct integers, e.g. 0,1,2; got {self.seeds}")

    def seed_list(self) -> list[int]:
        """The fine-tuning seeds of this study: ``seeds`` if given, else ``[seed]``."""
        return list(self.seeds) if self.seeds else [self.seed]


@dataclass
class StepRecord:
    study: str
    step: str
    status: Literal["ok", "failed", "skipped"]
    seconds: float
    error: str = ""


class StudyContext:
    """Run-folder state shared by the studies of one run: the fine-tuned model and extracted sets."""

    def __init__(self, spec: StudySpec, run: RunDir | str | Path, *, progress: bool = True,
                 shared: RunDir | None = None):
        self.spec = spec
        self.run = (run if isinstance(run, RunDir) else RunDir(run)).ensure()
        self.shared = shared or self.run      # where the pretrained model's sets go (shared by the seeds of a run)
        self.progress = progress
        self.steps: list[StepRecord] = []
        self._finetuned = None
        self._reps: dict[tuple, Any] = {}
        self._task = None
        self._decoder: bool | None = None
        self.claims = None                    # the ClaimsResult once checked
        _atomic.write_text(self.run.config, _yaml(spec.to_dict()))

    # ------------------------------------------------------------------ data and models
    @property
    def task(self):
        if self._task is None:
            from ftgeo.data import load_task
            self._task = load_task(self.spec.task, data_root=self.spec.data_root)
        return self._task

    @property
    def pooling(self) -> str:
        if self.spec.pooling:
            return self.spec.pooling
        if self.task.kind == "token":  # word-level targets: one vector per word, or per (head, dependent)
            first = next((ex.targets[0] for ex in self.task.examples(self.spec.eval_split) if ex.targets), None)
            return "pair" if first is not None and len(first.word_indices) == 2 else "word"
        if self._decoder is None:
            from ftgeo.models import load_model
            self._decoder = load_model(self.spec.model).is_decoder
        return "last" if self._decoder else "cls"

    def finetuned(self):
        """The fine-tuning result (fine-tunes on first call; resumes or reuses what is on disk)."""
        if self._finetuned is None:
            from ftgeo.finetune import finetune
            s = self.spec
            overrides = {k: getattr(s, k) for k in ("learning_rate", "batch_size", "gradient_accumulation_steps",
                                                     "warmup_ratio") if getattr(s, k) is not None}
            if s.finetune_eval_examples is not None:   # (absent otherwise: the fine-tune's identity stays as it was)
                overrides["max_eval_examples"] = s.finetune_eval_examples
            self._finetuned = finetune(
                s.model, self.task, recipe=s.recipe, out=self.run, data_root=s.data_root,
                train_split=s.train_split, eval_split=s.eval_split, max_train_examples=s.max_train_examples,
                epochs=s.epochs, seed=s.seed, checkpoint_every=s.checkpoint_every, max_length=s.max_length,
                group_by_length=True,  # batches of similar length: ~3x less padding on SST-2 (docs/finetuning.md)
                progress=self.progress, **overrides)
        return self._finetuned

    def reps(self, which: str = "pretrained", split: str | None = None, *, task=None, model=None,
             checkpoint: str | None = None, max_examples: int | None = None, pooling: str | None = None):
        """Extract (or reuse) the representations of ``split`` from the pretrained or fine-tuned model."""
        from ftgeo.extract import extract
        split = split or self.spec.eval_split
        task = task if task is not None else self.task
        if max_examples is None:
            max_examples = ((self.spec.max_train_reps or self.spec.max_train_examples) if split == self.spec.train_split
                            else self.spec.max_eval_examples)
        if model is None:
            model = self.spec.model if which == "pretrained" else str(self.finetuned().model_dir)
            checkpoint = checkpoint if which == "pretrained" else (checkpoint or "final")
        key = (str(model), checkpoint, getattr(task, "name", task), split, pooling, max_examples)
        if key not in self._reps:
            out = self.shared if which == "pretrained" else self.run
            self._reps[key] = extract(model, task, split, pooling=pooling or self.pooling, out=out,
                                      max_length=self.spec.max_length, checkpoint=checkpoint,
                                      max_examples=max_examples, data_root=self.spec.data_root,
                                      progress=self.progress)
        return self._reps[key]

    # ------------------------------------------------------------------ steps
    def analyze(self, analysis: str, *inputs, save_as: str | None = None, **params):
        """Run the registered ``analysis`` on ``inputs`` and save it into this run (as ``save_as``, default
        its own name), with the context's progress setting. A result this run saved before from the same stores
        (their checksums), parameters and analysis source is reused instead (:func:`reuse_key`): a rerun of a
        killed or extended study redoes only what changed."""
        from ftgeo.analyses import ANALYSES
        a = ANALYSES.get(analysis)
        name = save_as or a.default_name
        key = reuse_key(a, inputs, params)
        if key is not None:
            old = self._saved(name, key)
            if old is not None:
                print(f"[{analysis}] reused {self.run.result_dir(name)} (same stores, parameters and code)")
                return old
        return a(*inputs, run=self.run, name=save_as, progress=self.progress,
                 meta={"reuse_key": key} if key else None, **params)

    def _saved(self, name: str, key: str):
        """The result saved as ``name`` if it carries ``key``, else None."""
        from ftgeo.errors import FtgeoError
        from ftgeo.results import load_result
        folder = self.run.result_dir(name)
        if not (folder / "result.json").is_file():
            return None
        try:
            res = load_result(folder)
        except (FtgeoError, OSError, ValueError):
            return None
        return res if res.meta.get("reuse_key") == key else None

    def step(self, study: str, name: str, fn: Callable[[], Any]) -> Any:
        """Run one analysis step; a failure is recorded (and printed) and the study goes on."""
        import time

        from ftgeo.progress import step as _step_bar
        from ftgeo.progress import verbose
        t0 = time.perf_counter()
        shown = False
        try:
            # one bar for the step, named after it (the inner bars hidden behind it unless --verbose)
            with _step_bar(f"[{study}] {name}", enabled=self.progress) as bar:
                shown = not bar.disable
                out = fn()
        except Exception as exc:  # noqa: BLE001 - reported in steps.csv, the report and the exit code
            self.steps.append(StepRecord(study, name, "failed", time.perf_counter() - t0,
                                         f"{type(exc).__name__}: {exc}"))
            print(f"[{study}] {name} FAILED: {type(exc).__name__}: {exc}")
            if verbose():
                traceback.print_exc()
            else:
                print(f"[{study}] {name}: rerun with --verbose for the traceback")
            return None
        self.steps.append(StepRecord(study, name, "ok", time.perf_counter() - t0))
        if not shown:                       # no bar showed it: one line instead
            print(f"[{study}] {name}: done in {self.steps[-1].seconds:.1f} s")
        return out

    def skip(self, study: str, name: str, why: str) -> None:
        """Record a step that does not apply to this run (and say why) instead of failing it."""
        self.steps.append(StepRecord(study, name, "skipped", 0.0, why))
        print(f"[{study}] {name}: skipped ({why})")

    def save_steps(self) -> Path:
        import pandas as pd

        table = pd.DataFrame([dataclasses.asdict(s) for s in self.steps])
        res = StudyStepsResult(tables={"steps": table}, meta={"failed": int((table.status == "failed").sum()) if len(table) else 0})
        return res.save(self.run.result_dir("study_steps"))

    @property
    def failed(self) -> list[StepRecord]:
        return [s for s in self.steps if s.status == "failed"]


from ftgeo.results import Result  # noqa: E402


def reuse_key(analysis, inputs, params: dict) -> str | None:
    """A digest of what an analysis result depends on: its name and parameters, every input store's path and
    per-file checksums (``manifest.json``'s ``files``), ftgeo's version and the analysis module's source. None
    when an input is not a store on disk (nothing to compare with)."""
    import hashlib
    import json

    from ftgeo import __version__
    from ftgeo.analyses._registry import module_path
    stores = []
    for x in inputs:
        for r in (x if isinstance(x, (list, tuple)) else [x]):
            files = getattr(getattr(r, "manifest", None), "files", None)
            if getattr(r, "path", None) is None or not files:
                return None
            stores.append([str(Path(r.path).resolve()), {k: v.to_dict() for k, v in sorted(files.items())}])
    source = hashlib.sha256(module_path(analysis).read_bytes()).hexdigest()
    blob = json.dumps({"analysis": analysis.name, "params": params, "inputs": stores, "version": __version__,
                       "source": source}, sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()


class StudyStepsResult(Result):
    """What each study step did, how long it took and why it failed (if it did)."""

    kind = "study_steps"

    def summary(self):
        return self.table("steps")


def _yaml(d: dict) -> str:
    import yaml
    return yaml.safe_dump(d, sort_keys=False)
