"""The LoRA-vs-full study: how much does a low-rank adapter reshape the geometry, next to full fine-tuning?

For one model and one classification task, the same data, recipe and seed are fine-tuned three ways
(or more): every weight (``full``), and LoRA at each of ``lora_ranks`` (``lora-r8``, ``lora-r64``; the
classification head trains in full beside the adapter, :mod:`ftgeo.models.adapters`). Each fine-tuned
model and the pretrained one are extracted on the eval split and on part of the train split, and the
same analyses run on each method side by side:

* layer x layer CKA of the pretrained model against each method (saved as ``cka__<method>``); its
  diagonal, the same-layer CKA to the pretrained model, is drawn for every method in one figure;
* rogue dimensions of all sets at once (``rogue``: top-k, principal dimension, overlaps);
* the 1-D threshold on the principal rogue dimension through each method's own head (``threshold__<method>``);
* linear (and MLP) probes and DirectProbe on ``probe_layers`` of all sets (``probe``, ``directprobe``);
* the claims below, checked for each method (a verdict per claim and method, with its numbers);
* ``lora_vs_full``: one table with everything per method (trainable parameters, training time,
  accuracy, CKA to the pretrained model, rogue dimension, threshold, probes, DirectProbe clusters).

Run it with ``ftgeo study lora-vs-full --config FILE`` (StudySpec fields; the LoRA settings at their
defaults) or, with the LoRA settings in the file too, ``python -m ftgeo.studies.lora --config
configs/lora-cpu.yaml --run runs/lora-cpu``. (A per-study spec for ``ftgeo study`` comes with the
multi-run configs.)
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ftgeo.config import param
from ftgeo.errors import ValidationError
from ftgeo.plot.base import Display
from ftgeo.results.base import Result
from ftgeo.studies.base import StudyContext, StudySpec
from ftgeo.studies.claims import Claim, Measurement, MissingResult, decide

STUDY = "lora-vs-full"
PRE = "pretrained"


@dataclass(frozen=True)
class LoraStudySpec(StudySpec):
    """:class:`StudySpec` plus the LoRA settings of the study."""

    lora_ranks: tuple[int, ...] = param((8, 64), "LoRA ranks compared with full fine-tuning")
    lora_alpha_ratio: float = param(2.0, "LoRA alpha = this x rank (2: the common alpha = 2r)")
    lora_learning_rate: float | None = param(None, "LoRA's peak learning rate (default: 10x the full fine-tuning "
                                                   "one)")
    lora_dropout: float | None = param(None, "LoRA input dropout (default 0.05)")
    max_train_reps: int | None = param(1000, "train-split examples extracted for the threshold and the probes "
                                             "(default 1000; none = the fine-tuning subsample)", none=("none", "all"))
    probe_kinds: tuple[str, ...] = param(("linear",), "probe kinds: linear and/or mlp")

    def validate(self) -> None:
        super().validate()
        if not self.lora_ranks or min(self.lora_ranks) < 1:
            raise ValidationError(f"lora_ranks must be positive integers; got {list(self.lora_ranks)}")
        if self.lora_alpha_ratio <= 0:
            raise ValidationError(f"lora_alpha_ratio must be > 0; got {self.lora_alpha_ratio}")
        bad = [k for k in self.probe_kinds if k not in ("linear", "mlp")]
        if bad or not self.probe_kinds:
            raise ValidationError(f"probe_kinds must be linear and/or mlp; got {list(self.probe_kinds)}")


@dataclass(frozen=True)
class Method:
    name: str
    rank: int | None = None   # None: full fine-tuning


def _settings(spec: StudySpec) -> LoraStudySpec:
    if isinstance(spec, LoraStudySpec):
        return spec
    return LoraStudySpec.from_mapping(spec.to_dict())


def methods_of(spec: StudySpec) -> list[Method]:
    s = _settings(spec)
    return [Method("full")] + [Method(f"lora-r{r}", int(r)) for r in s.lora_ranks]


def _lora_lr(ctx: StudyContext) -> float:
    s = _settings(ctx.spec)
    if s.lora_learning_rate is not None:
        return float(s.lora_learning_rate)
    from ftgeo.finetune.recipes import get_recipe
    return 10.0 * float(s.learning_rate if s.learning_rate is not None else get_recipe(s.recipe).learning_rate)


def finetune_method(ctx: StudyContext, m: Method):
    """The fine-tuning result of method ``m`` (full: the context's own run; LoRA: the same settings with
    the adapter, alpha = ratio x rank, the LoRA learning rate)."""
    if m.rank is None:
        return ctx.finetuned()
    from ftgeo.finetune import finetune
    s = _settings(ctx.spec)
    overrides = {"batch_size": s.batch_size} if s.batch_size is not None else {}
    kw = {"lora_dropout": s.lora_dropout} if s.lora_dropout is not None else {}
    return finetune(s.model, ctx.task, recipe=s.recipe, out=ctx.run, data_root=s.data_root,
                    train_split=s.train_split, eval_split=s.eval_split, max_train_examples=s.max_train_examples,
                    epochs=s.epochs, seed=s.seed, checkpoint_every=s.checkpoint_every, max_length=s.max_length,
                    group_by_length=True, progress=ctx.progress, peft="lora", lora_rank=m.rank,
                    lora_alpha=s.lora_alpha_ratio * m.rank, learning_rate=_lora_lr(ctx), **kw, **overrides)


def run_lora_vs_full(ctx: StudyContext) -> StudyContext:
    s = _settings(ctx.spec)
    if s.skip_finetune:
        raise ValidationError("the lora-vs-full study compares fine-tuning methods; drop skip_finetune")
    methods = methods_of(s)
    n_train = s.max_train_reps if s.max_train_reps is not None else s.max_train_examples
    pre_ev = ctx.step(STUDY, "extract pretrained eval", lambda: ctx.reps(PRE, s.eval_split))
    pre_tr = ctx.step(STUDY, "extract pretrained train", lambda: ctx.reps(PRE, s.train_split, max_examples=n_train))
    sets_ev, sets_tr, names, runs = {}, {}, [], {}
    for m in methods:
        ft = ctx.step(STUDY, f"fine-tune {m.name}", lambda m=m: finetune_method(ctx, m))
        if ft is None:
            continue
        runs[m.name] = ft
        folder = str(ft.model_dir)
        ev = ctx.step(STUDY, f"extract {m.name} eval",
                      lambda f=folder: ctx.reps("finetuned", s.eval_split, model=f, checkpoint="final"))
        tr = ctx.step(STUDY, f"extract {m.name} train",
                      lambda f=folder: ctx.reps("finetuned", s.train_split, model=f, checkpoint="final",
                                                max_examples=n_train))
        if ev is None or tr is None:
            continue
        sets_ev[m.name], sets_tr[m.name] = ev, tr
        names.append(m.name)
        if pre_ev is not None:
            ctx.step(STUDY, f"cka {m.name}", lambda ev=ev, m=m: ctx.analyze(
                "cka", pre_ev, ev, names=[PRE, m.name], save_as=f"cka__{m.name}"))
        ctx.step(STUDY, f"threshold {m.name}", lambda tr=tr, ev=ev, f=folder, m=m: ctx.analyze(
            "threshold", tr, ev, model=f, save_as=f"threshold__{m.name}"))
    if pre_ev is None or pre_tr is None or not names:
        return ctx
    all_ev = [pre_ev] + [sets_ev[n] for n in names]
    all_tr = [pre_tr] + [sets_tr[n] for n in names]
    all_names = [PRE] + names
    ctx.step(STUDY, "rogue", lambda: ctx.analyze("rogue", *all_ev, names=all_names))
    layers = _probe_layers(s, pre_ev)
    ctx.step(STUDY, "probe", lambda: ctx.analyze("probe", all_tr, all_ev, layers=layers, names=all_names,
                                                 kinds=list(s.probe_kinds), seed=s.seed,
                                                 max_train_points=s.probe_points))
    ctx.step(STUDY, "directprobe", lambda: ctx.analyze(
        "directprobe", all_tr, all_ev, names=all_names, layers=layers, max_points=s.directprobe_points,
        max_eval_points=max(100, s.directprobe_points // 2), seed=s.seed))
    ctx.step(STUDY, "lora vs full", lambda: compare(ctx, [m for m in methods if m.name in names], runs))
    return ctx


def _probe_layers(s: StudySpec, reps) -> list[int]:
    from ftgeo.reps import parse_layer_spec
    text = s.probe_layers
    have = list(reps.layers)
    wanted = parse_layer_spec(text, list(range(max(have) + 1))) if text not in ("all", "last") else \
        parse_layer_spec(text, have)
    return [l for l in wanted if l in have] or have[-1:]


# ----------------------------------------------------------------------------- the comparison
class LoraComparisonResult(Result):
    """The LoRA-vs-full study side by side.

    Tables: ``summary`` (one row per method: peft, rank, trainable_params, trainable_share,
    train_seconds, steps, eval_accuracy, cka_last, cka_mean_blocks, cka_min, principal_dim,
    principal_var_share, pretrained_principal_var_share, threshold_accuracy, probe columns per kind,
    dp_clusters, n_labels); ``same_layer_cka`` (method, layer, cka: CKA between the pretrained and the
    fine-tuned model at the same layer); ``claims`` (claim, method, statement, statistic, value,
    threshold, direction, verdict, evidence).
    """

    kind = "lora_comparison"
    family = "gptology"

    def summary(self):
        return self.table("summary")

    def displays(self):
        return [("cka_to_pretrained", SameLayerCKADisplay.from_result(self))]


class SameLayerCKADisplay(Display):
    """Same-layer CKA to the pretrained model, one line per fine-tuning method."""

    def __init__(self, table, title: str = ""):
        self.table = table.copy()
        self.title = title

    @classmethod
    def from_result(cls, result) -> "SameLayerCKADisplay":
        m = result.meta
        return cls(result.table("same_layer_cka"), f"{m.get('model', '')} on {m.get('task', '')}")

    def plot(self, ax=None, **kw) -> "SameLayerCKADisplay":
        fig, ax = self._new_axes(ax, figsize=(6.0, 3.8))
        for i, (method, g) in enumerate(self.table.groupby("method", sort=False)):
            g = g.sort_values("layer")
            ax.plot(g["layer"], g["cka"], marker="o", ms=3, label=method, color=f"C{i}",
                    ls="-" if method == "full" else "--")
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel("CKA(pretrained, fine-tuned), same layer")
        ax.set_ylim(min(0.0, float(np.nanmin(self.table["cka"])) - 0.05) if len(self.table) else 0.0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title="method")
        if self.title:
            ax.set_title(self.title, fontsize=10)
        self.figure_, self.ax_ = fig, ax
        return self


class MethodResults:
    """The run's results as one method sees them: ``get("cka")`` is ``cka__<method>`` when that exists,
    else the shared result (``rogue``, ``probe``, ``directprobe``, filtered by set name in the claims)."""

    def __init__(self, run, method: str):
        from ftgeo.studies.claims import RunResults
        self.base = RunResults(run)
        self.method = method

    def get(self, name: str) -> Result:
        own = f"{name}__{self.method}"
        return self.base.get(own) if self.base.has(own) else self.base.get(name)

    def has(self, name: str) -> bool:
        try:
            self.get(name)
            return True
        except MissingResult:
            return False


def same_layer_cka(res, method: str) -> dict[int, float]:
    """{layer: CKA(pretrained at layer, ``method`` at the same layer)} from a ``cka__<method>`` result."""
    M = res.matrix(PRE, method)
    la, lb = res.meta["layers"][PRE], res.meta["layers"][method]
    return {int(l): float(M[i, lb.index(l)]) for i, l in enumerate(la) if l in lb}


def _blocks(d: dict[int, float]) -> list[int]:
    return sorted(l for l in d if l >= 1)


def _last_layer_row(table, set_name: str):
    t = table[table["set"] == set_name]
    if t.empty:
        raise MissingResult(f"no rows for set {set_name!r}")
    return t[t["layer"] == t["layer"].max()].iloc[0]


# -- claims, each a function of (results viewed for one method) -> Measurement
def _c_changes(r: MethodResults) -> Measurement:
    d = same_layer_cka(r.get("cka"), r.method)
    last = max(d)
    v = 1.0 - d[last]
    return Measurement(v, evidence=f"{r.method}: same-layer CKA to the pretrained model at layer {last} = {d[last]:.3f}")


def _c_late(r: MethodResults) -> Measurement:
    d = same_layer_cka(r.get("cka"), r.method)
    blocks = _blocks(d)
    if len(blocks) < 2 or blocks != list(range(1, max(blocks) + 1)):
        raise MissingResult(f"needs every block (it compares the first and the last half); the CKA result holds "
                            f"layers {sorted(d)}: extract without --layers")
    half = len(blocks) // 2
    first, last = np.mean([d[l] for l in blocks[:half]]), np.mean([d[l] for l in blocks[half:]])
    return Measurement(float(first - last), evidence=f"{r.method}: mean same-layer CKA {first:.3f} over blocks "
                                                     f"1-{blocks[half - 1]}, {last:.3f} over {blocks[half]}-{blocks[-1]}")


def _c_early(r: MethodResults) -> Measurement:
    d = same_layer_cka(r.get("cka"), r.method)
    early = [l for l in (1, 2, 3) if l in d]
    if not early:
        raise MissingResult("no block 1-3 in the CKA result")
    v = min(d[l] for l in early)
    return Measurement(v, evidence=f"{r.method}: min same-layer CKA over blocks {early[0]}-{early[-1]} = {v:.3f}")


def _c_variance(r: MethodResults) -> Measurement:
    t = r.get("rogue").table("layers")
    ft, pre = _last_layer_row(t, r.method), _last_layer_row(t, PRE)
    v = float(ft.principal_var_share) / max(float(pre.principal_var_share), 1e-12)
    return Measurement(v, evidence=f"{r.method}: principal dimension {int(ft.principal)} holds "
                                   f"{ft.principal_var_share:.1%} of the last layer's variance "
                                   f"(pretrained: dimension {int(pre.principal)}, {pre.principal_var_share:.1%})")


def _c_threshold(r: MethodResults) -> Measurement:
    t = r.get("threshold").table("threshold")
    t = t[t["layer"] == t["layer"].max()]
    best = t.sort_values("eval_accuracy").iloc[-1]
    v = float(best.full_accuracy - best.eval_accuracy)
    return Measurement(v, evidence=f"{r.method}: 1-D threshold on dimension {int(best.dimension)} "
                                   f"{best.eval_accuracy:.3f} vs the full model's {best.full_accuracy:.3f}")


def _probe_last(r: MethodResults, set_name: str, kind: str = "linear") -> tuple[float, float, int, int]:
    t = r.get("probe").table("best")
    t = t[(t["set"] == set_name) & (t["kind"] == kind)]
    if t.empty:
        raise MissingResult(f"no {kind} probe of {set_name!r}")
    row = t[t["layer"] == t["layer"].max()].iloc[0]
    return float(row["mean"]), float(row["std"]) if math.isfinite(row["std"]) else float("nan"), \
        int(row["n_seeds"]), int(row["layer"])


def _c_probe(r: MethodResults) -> Measurement:
    ft, sd_f, n_f, layer = _probe_last(r, r.method)
    pre, sd_p, n_p, _ = _probe_last(r, PRE)
    v = ft - pre
    se = math.sqrt((sd_f ** 2 / max(n_f, 1)) + (sd_p ** 2 / max(n_p, 1))) if math.isfinite(sd_f + sd_p) else float("nan")
    lo, hi = (v - 2 * se, v + 2 * se) if math.isfinite(se) else (float("nan"), float("nan"))
    return Measurement(v, lo, hi, evidence=f"{r.method}: linear probe at layer {layer} {ft:.3f} vs pretrained "
                                           f"{pre:.3f} (over seeds: +-2 standard errors)")


def _c_clusters(r: MethodResults) -> Measurement:
    t = r.get("directprobe").table("layers")
    row = _last_layer_row(t, r.method)
    v = float(row.n_clusters - row.n_labels)
    return Measurement(v, evidence=f"{r.method}: DirectProbe finds {int(row.n_clusters)} clusters for "
                                   f"{int(row.n_labels)} labels at layer {int(row.layer)}")


def _c_closer(r: MethodResults) -> Measurement:
    if not r.method.startswith("lora"):
        raise MissingResult("a LoRA method only")
    d = same_layer_cka(r.get("cka"), r.method)
    full = same_layer_cka(r.base.get("cka__full"), "full")
    last = max(set(d) & set(full))
    v = d[last] - full[last]
    return Measurement(v, evidence=f"{r.method}: same-layer CKA to the pretrained model at layer {last} "
                                   f"{d[last]:.3f} vs full fine-tuning {full[last]:.3f}")


def _claim(id, statement, statistic, threshold, direction, fn, paper=""):
    return Claim(id=id, study=STUDY, statement=statement, statistic=statistic, threshold=float(threshold),
                 direction=direction, paper=paper, fn=fn)


CLAIMS = [
    _claim("changes-top-layer", "fine-tuning moves the last layer away from the pretrained representation",
           "1 - same-layer CKA(pretrained, fine-tuned) at the last layer", 0.1, ">", _c_changes),
    _claim("late-layers-change-most", "fine-tuning changes the last half of the blocks more than the first",
           "mean same-layer CKA over the first half of the blocks minus over the last half", 0.05, ">", _c_late,
           "GPTology / Merchant et al. 2020: the top layers change most"),
    _claim("early-blocks-unchanged", "the first blocks keep their geometry",
           "min same-layer CKA over blocks 1-3", 0.9, ">", _c_early),
    _claim("principal-variance-rises", "fine-tuning raises the variance share of the principal (rogue) dimension",
           "principal dimension's variance share, fine-tuned over pretrained (last layer)", 1.0, ">", _c_variance,
           "GPTology (Rudman et al. 2023)"),
    _claim("rogue-dimension-classifies", "the principal rogue dimension alone classifies within 5 points of the model",
           "model accuracy minus the best 1-D threshold's (last layer)", 0.05, "<", _c_threshold,
           "GPTology (Rudman et al. 2023)"),
    _claim("probe-gains", "a linear probe on the last probed layer gains from fine-tuning",
           "linear-probe accuracy, fine-tuned minus pretrained", 0.0, ">", _c_probe,
           "A Closer Look (Zhou & Srikumar 2022)"),
    _claim("one-cluster-per-label", "DirectProbe finds one cluster per label on the last probed layer",
           "clusters minus labels (last probed layer)", 0.5, "<", _c_clusters,
           "A Closer Look (Zhou & Srikumar 2022)"),
    _claim("lora-stays-closer", "LoRA keeps the last layer closer to the pretrained one than full fine-tuning",
           "same-layer CKA to the pretrained model at the last layer, LoRA minus full", 0.0, ">", _c_closer),
]


def check_method_claims(run, methods: Sequence[str]):
    """One row per (claim, method): the verdict with its numbers."""
    import pandas as pd
    rows = []
    for c in CLAIMS:
        for m in methods:
            v = c.check(MethodResults(run, m))
            rows.append({"claim": c.id, "method": m, "statement": c.statement, "statistic": c.statistic,
                         "value": v.value, "low": v.low, "high": v.high, "threshold": c.threshold,
                         "direction": c.direction, "verdict": v.verdict, "paper": c.paper, "evidence": v.evidence})
    return pd.DataFrame(rows)


def compare(ctx: StudyContext, methods: Sequence[Method], runs: dict) -> LoraComparisonResult:
    """Gather every method's numbers into one table, check the claims per method, draw the CKA figure."""
    import pandas as pd
    from ftgeo.results.base import save_result
    from ftgeo.studies.claims import RunResults
    res = RunResults(ctx.run)
    rows, curves = [], []
    for m in methods:
        ft = runs[m.name]
        meta = ft.meta
        fin = (meta.get("final") or {}).get("metrics") or {}
        row: dict[str, Any] = {"method": m.name, "peft": "lora" if m.rank else "none", "rank": m.rank,
                               "eval_accuracy": fin.get("eval_accuracy"), "train_seconds": meta.get("train_seconds"),
                               "steps": meta.get("global_step")}
        row.update(_params(ft))
        if res.has(f"cka__{m.name}"):
            d = same_layer_cka(res.get(f"cka__{m.name}"), m.name)
            curves += [{"method": m.name, "layer": l, "cka": v} for l, v in sorted(d.items())]
            blocks = _blocks(d)
            row.update(cka_last=d[max(d)], cka_min=min(d[l] for l in blocks) if blocks else float("nan"),
                       cka_mean_blocks=float(np.mean([d[l] for l in blocks])) if blocks else float("nan"))
        if res.has("rogue"):
            t = res.get("rogue").table("layers")
            try:
                r_ft, r_pre = _last_layer_row(t, m.name), _last_layer_row(t, PRE)
                row.update(principal_dim=int(r_ft.principal), principal_var_share=float(r_ft.principal_var_share),
                           pretrained_principal_dim=int(r_pre.principal),
                           pretrained_principal_var_share=float(r_pre.principal_var_share))
            except MissingResult:
                pass
        if res.has(f"threshold__{m.name}"):
            t = res.get(f"threshold__{m.name}").table("threshold")
            t = t[t["layer"] == t["layer"].max()]
            best = t.sort_values("eval_accuracy").iloc[-1]
            row.update(threshold_dim=int(best.dimension), threshold_accuracy=float(best.eval_accuracy),
                       threshold_full_accuracy=float(best.full_accuracy))
        if res.has("probe"):
            t = res.get("probe").table("best")
            for kind in sorted(set(t["kind"])):
                for who, col in ((m.name, f"probe_{kind}"), (PRE, f"pretrained_probe_{kind}")):
                    g = t[(t["set"] == who) & (t["kind"] == kind)]
                    if not g.empty:
                        last = g[g["layer"] == g["layer"].max()].iloc[0]
                        row[col] = float(last["mean"])
                        row["probe_layer"] = int(last["layer"])
        if res.has("directprobe"):
            t = res.get("directprobe").table("layers")
            try:
                r = _last_layer_row(t, m.name)
                row.update(dp_clusters=int(r.n_clusters), n_labels=int(r.n_labels), dp_layer=int(r.layer),
                           dp_pretrained_clusters=int(_last_layer_row(t, PRE).n_clusters))
            except MissingResult:
                pass
        rows.append(row)
    s = ctx.spec
    claims = check_method_claims(ctx.run, [m.name for m in methods])
    out = LoraComparisonResult(tables={"summary": pd.DataFrame(rows), "same_layer_cka": pd.DataFrame(
        curves, columns=["method", "layer", "cka"]), "claims": claims},
        meta={"model": s.model, "task": s.task, "methods": [m.name for m in methods], "recipe": s.recipe,
              "epochs": s.epochs, "max_train_examples": s.max_train_examples, "seed": s.seed,
              "lora_learning_rate": _lora_lr(ctx), "lora_alpha_ratio": _settings(s).lora_alpha_ratio})
    save_result(out, ctx.run, "lora_vs_full")
    _print(out)
    return out


def _params(ft) -> dict[str, Any]:
    import json
    from pathlib import Path
    meta = ft.meta
    head = Path(meta["model_dir"]) / "ftgeo_head.json"
    total = trainable = None
    if head.is_file():
        p = (json.loads(head.read_text()).get("peft") or {})
        total, trainable = p.get("total_params"), p.get("trainable_params")
    from ftgeo.finetune.checkpoints import read_meta
    m = read_meta(meta["model_dir"]) or {}
    total = total or m.get("n_params")
    trainable = trainable or m.get("trainable_params") or m.get("n_params")
    share = trainable / total if total and trainable else float("nan")
    return {"trainable_params": trainable, "total_params": total, "trainable_share": share}


def _print(out: LoraComparisonResult) -> None:
    t = out.table("summary")
    cols = [c for c in ("method", "trainable_share", "train_seconds", "eval_accuracy", "cka_last", "cka_min",
                        "principal_var_share", "threshold_accuracy", "probe_linear", "dp_clusters") if c in t]
    print(t[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    c = out.table("claims")
    for _, r in c.iterrows():
        print(f"[{STUDY}] {r.method:>10}  {r.claim:<28} {r.verdict:<14} {r.evidence}")


def discover_result_kinds() -> None:
    """Nothing to import: importing this module registers ``lora_comparison``."""


# ----------------------------------------------------------------------------- python -m ftgeo.studies.lora
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ftgeo.studies.lora --config FILE [--run DIR]``: the study with its LoRA settings from FILE."""
    from ftgeo.errors import FtgeoError
    p = argparse.ArgumentParser(prog="python -m ftgeo.studies.lora", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="YAML/TOML/JSON with LoraStudySpec fields")
    p.add_argument("--run", default=None, help="run folder (default runs/<model>-<task>-lora)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-report", action="store_true")
    args = p.parse_args(argv)
    try:
        spec = LoraStudySpec.resolve(args.config)
        from ftgeo.studies import run_study
        ctx = run_study([STUDY], spec, args.run or f"runs/{spec.model}-{spec.task}-lora".replace("/", "_"),
                        progress=not args.no_progress, report=not args.no_report)
    except FtgeoError as exc:
        print(f"error: {exc}")
        return 2
    print(f"report: {ctx.run.report}")
    return 1 if ctx.failed else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
