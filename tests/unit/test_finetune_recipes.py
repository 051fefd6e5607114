"""Recipes, schedules, layer-wise learning rates, specs and the CLI parser (no training)."""
from __future__ import annotations

import argparse

import pytest

from ftgeo.errors import UnknownNameError, ValidationError
from ftgeo.finetune import RECIPES, get_recipe
from ftgeo.finetune.recipes import BASE_SIZE_PARAMS, slanted_triangular
from ftgeo.finetune.spec import FinetuneSpec
from ftgeo.finetune.trainer import layer_depth, layer_lr_groups, schedule_steps


def test_recipe_values_follow_the_papers():
    g, e, c = RECIPES.get("gptology"), RECIPES.get("emergent"), RECIPES.get("closer-look")
    assert (g.batch_size, g.gradient_accumulation_steps, g.epochs) == (32, 4, 10.0)
    assert (e.learning_rate, e.layer_decay, e.scheduler, e.warmup_ratio, e.head_dropout) == \
        (2e-5, 0.95, "slanted_triangular", 0.1, 0.1)
    assert (e.adam_beta1, e.adam_beta2) == (0.9, 0.999)
    assert 0.05 <= e.heldout_fraction <= 0.10 and e.early_stopping_patience >= 1
    assert (c.learning_rate, c.scheduler, c.warmup_ratio, c.batch_size, c.epochs, c.epochs_base) == \
        (3e-4, "linear", 0.1, 32, 10.0, 3.0)
    assert c.epochs_for(BASE_SIZE_PARAMS) == 3.0 and c.epochs_for(22_000_000) == 10.0
    assert sorted(RECIPES.names()) == ["closer-look", "emergent", "gptology"]


def test_overrides_and_errors():
    r = get_recipe("closer-look", learning_rate=5e-5, max_length=64, batch_size=None)
    assert (r.learning_rate, r.max_length, r.batch_size) == (5e-5, 64, 32)
    assert RECIPES.get("closer-look").learning_rate == 3e-4  # the registered recipe is untouched
    with pytest.raises(UnknownNameError, match=r"unknown recipe 'closer_look'; did you mean 'closer-look'"):
        get_recipe("closer_look")
    with pytest.raises(ValidationError, match=r"unknown recipe setting 'learning_rat'; did you mean 'learning_rate'"):
        get_recipe("emergent", learning_rat=1e-3)
    with pytest.raises(ValidationError, match="batch_size=0 must be a positive integer"):
        get_recipe("gptology", batch_size=0)
    with pytest.raises(ValidationError, match="early stopping needs heldout_fraction > 0"):
        get_recipe("emergent", heldout_fraction=0.0)


def test_slanted_triangular_matches_howard_ruder_eq3():
    T, cut_frac, ratio = 1000, 0.1, 32
    # starts at 1/ratio, peaks at 1 at t = cut = 100, back to 1/ratio at T
    assert slanted_triangular(0, T, cut_frac, ratio) == pytest.approx(1 / 32)
    assert slanted_triangular(100, T, cut_frac, ratio) == pytest.approx(1.0)
    assert slanted_triangular(T, T, cut_frac, ratio) == pytest.approx(1 / 32)
    # Eq. 3 by hand at t = 50 (p = 0.5) and t = 550 (p = 1 - 450/900 = 0.5)
    assert slanted_triangular(50, T, cut_frac, ratio) == pytest.approx((1 + 0.5 * 31) / 32)
    assert slanted_triangular(550, T, cut_frac, ratio) == pytest.approx((1 + 0.5 * 31) / 32)


@pytest.mark.parametrize("name,depth", [
    ("bert.embeddings.word_embeddings.weight", 0), ("bert.encoder.layer.0.attention.self.query.weight", 1),
    ("bert.encoder.layer.5.output.dense.bias", 6), ("bert.pooler.dense.weight", 6), ("classifier.weight", 6),
    ("transformer.wte.weight", 0), ("transformer.h.2.mlp.c_fc.weight", 3), ("transformer.ln_f.weight", 6),
    ("model.layers.0.self_attn.q_proj.weight", 1), ("model.embed_tokens.weight", 0), ("score.weight", 6),
    ("base.encoder.layer.1.output.dense.weight", 2)])
def test_layer_depth(name, depth):
    assert layer_depth(name, 6) == depth


def test_layer_lr_groups_decay_per_layer():
    from ftgeo.testing.models import tiny_model
    lm = tiny_model("bert", n_layers=3, head="sequence")
    named = list(lm.model.named_parameters())
    groups = layer_lr_groups(named, lr=1e-3, n_layers=3, layer_decay=0.5, weight_decay=0.01,
                             decay_names={n for n, _ in named if "bias" not in n and "LayerNorm" not in n})
    lr_of = {n: g["lr"] for g in groups for n in g["names"]}
    wd_of = {n: g["weight_decay"] for g in groups for n in g["names"]}
    assert lr_of["classifier.weight"] == pytest.approx(1e-3)
    assert lr_of["bert.encoder.layer.2.output.dense.weight"] == pytest.approx(1e-3)
    assert lr_of["bert.encoder.layer.1.output.dense.weight"] == pytest.approx(5e-4)
    assert lr_of["bert.encoder.layer.0.output.dense.weight"] == pytest.approx(2.5e-4)
    assert lr_of["bert.embeddings.word_embeddings.weight"] == pytest.approx(1.25e-4)
    assert wd_of["classifier.bias"] == 0.0 and wd_of["classifier.weight"] == 0.01
    assert sum(len(g["params"]) for g in groups) == len(named)
    flat = layer_lr_groups(named, lr=1e-3, n_layers=3, layer_decay=None, weight_decay=0.0, decay_names=set())
    assert {g["lr"] for g in flat} == {1e-3}


def test_schedule_steps():
    assert schedule_steps(None, 10, 30) == {10, 20, 30}
    assert schedule_steps(4, 10, 30) == {4, 8, 12, 16, 20, 24, 28, 30}
    assert schedule_steps(0.25, 8, 16) == {2, 4, 6, 8, 10, 12, 14, 16}
    assert schedule_steps(0.5, 5, 10) == {3, 5, 8, 10}  # halves round up: 2.5 -> 3, 7.5 -> 8
    assert schedule_steps(None, 10, 25) == {10, 20, 25}  # fractional epochs: the last step is always kept


def test_spec_flags_beat_file_beat_recipe(tmp_path):
    cfg = tmp_path / "ft.yaml"
    cfg.write_text("finetune:\n  model: minilm-l6\n  task: sst2\n  recipe: emergent\n  out: x\n"
                   "  learning_rate: 1.0e-4\n  epochs: 2\n")
    from ftgeo.cli.finetune_cmd import add_arguments, spec_from_args
    p = argparse.ArgumentParser()
    add_arguments(p)
    spec = spec_from_args(p.parse_args(["--config", str(cfg), "--lr", "3e-5", "--run", "r"]))
    assert isinstance(spec, FinetuneSpec)
    assert (spec.model, spec.recipe, spec.learning_rate, spec.epochs, spec.run, spec.out) == \
        ("minilm-l6", "emergent", 3e-5, 2.0, "r", None)
    rec = spec.recipe_obj()
    assert (rec.learning_rate, rec.layer_decay) == (3e-5, 0.95)  # flag over file, recipe for the rest
    with pytest.raises(ValidationError, match="did you mean 'learning_rate'"):
        FinetuneSpec.from_mapping({"model": "m", "task": "t", "out": "o", "learning_rat": 1})
    with pytest.raises(UnknownNameError, match="did you mean 'gptology'"):
        FinetuneSpec.from_mapping({"model": "m", "task": "t", "out": "o", "recipe": "gptolgy"})
    with pytest.raises(ValidationError, match="exactly one of run"):
        FinetuneSpec.from_mapping({"model": "m", "task": "t"})


def test_list_recipes_cli(capsys):
    from ftgeo.cli.main import main
    assert main(["list", "recipes"]) == 0
    out = capsys.readouterr().out
    assert all(n in out for n in ("gptology", "emergent", "closer-look")) and "Zhou & Srikumar" in out
