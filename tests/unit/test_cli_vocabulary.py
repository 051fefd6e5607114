"""One CLI vocabulary: every verb takes --config, --no-progress and --help; the same flag means the same
spec field everywhere; old spellings still work for one release, with one deprecation line."""
from __future__ import annotations

import pytest

from ftgeo.cli.main import build_parser

VERBS = ["finetune", "extract", "study", "demo"]


def _flags(verb):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "verb").choices[verb]
    return {o for a in sub._actions for o in a.option_strings}


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_takes_config_no_progress_and_help(verb):
    assert {"--config", "--no-progress", "-h"} <= _flags(verb)


def test_every_analysis_verb_takes_the_shared_flags():
    from ftgeo.analyses import ANALYSES
    from ftgeo.cli.analyze_cmd import build_analysis_parser
    for name in ANALYSES.names():
        flags = {o for a in build_analysis_parser(ANALYSES.get(name))._actions for o in a.option_strings}
        assert {"--config", "--run", "--name", "--no-figures", "--no-progress", "-h"} <= flags, name


def test_the_same_names_across_verbs():
    ft, st = _flags("finetune"), _flags("study")
    for flag in ("--max-train-examples", "--max-eval-examples", "--learning-rate", "--batch-size", "--seed",
                 "--max-length", "--epochs", "--checkpoint-every", "--data-root", "--model", "--task"):
        assert flag in ft and flag in st, flag
    assert "--max-examples" in _flags("extract")


def test_old_spellings_still_work_with_one_deprecation_line(capsys):
    from ftgeo.cli.finetune_cmd import spec_from_args
    args = build_parser().parse_args(["finetune", "--model", "m", "--task", "sst2", "--run", "r", "--lr", "1e-4",
                                      "--max-train-samples", "40", "--grad-accum", "2"])
    spec = spec_from_args(args)
    assert (spec.learning_rate, spec.max_train_examples, spec.gradient_accumulation_steps) == (1e-4, 40, 2)
    err = capsys.readouterr().err
    assert "--lr is deprecated" in err and "use --learning-rate" in err and "--max-train-samples is deprecated" in err
    args = build_parser().parse_args(["study", "gptology", "--lr", "3e-4"])
    from ftgeo.cli.study_cmd import spec_from_args as study_spec
    assert study_spec(args).learning_rate == 3e-4


def test_a_bad_value_names_its_flag(capsys):
    from ftgeo.cli.main import main
    assert main(["finetune", "--model", "m", "--task", "sst2", "--run", "r", "--epochs", "abc"]) == 2
    assert "argument --epochs: invalid float value: 'abc'" in capsys.readouterr().err
