"""Nothing lost, nothing silently wrong in fine-tuning folders: overwrite, names, max_length, the lock,
torn checkpoints, a full disk, a result killed while being saved."""
from __future__ import annotations

import errno
import json
import shutil

import pytest

from ftgeo._atomic import StorageError
from ftgeo._lock import LOCK_NAME, FolderLock, LockHeldError
from ftgeo.errors import ValidationError
from ftgeo.data.memory import ListTask
from ftgeo.testing.tasks import sentence_task
from ftgeo.finetune import finetune, list_checkpoints
from ftgeo.finetune.spec import FinetuneSpec
from ftgeo.testing.faults import FailAfter
from ftgeo.testing.models import save_tiny
from ftgeo.run import RunDir


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("m") / "bert", "bert")


def _task():
    ex = sentence_task(18).examples("dev")
    return ListTask("toy", "sentence", ["neg", "pos"], {"train": ex[:12], "dev": ex[12:]})


KW = dict(recipe="closer-look", epochs=2, batch_size=4, learning_rate=1e-3, checkpoint_every=2, seed=5,
          progress=False)


def _weights(folder):
    from safetensors.torch import load_file
    return load_file(str(folder / "model.safetensors"))


def _same_weights(a, b) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(bool((wa[k] == wb[k]).all()) for k in wa)


@pytest.fixture(scope="module")
def ref(bert, tmp_path_factory):
    return finetune(bert, _task(), out=tmp_path_factory.mktemp("ref") / "m", **KW)


def test_overwrite_refuses_a_folder_with_a_users_file(bert, ref, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(ref.model_dir, folder)
    meta = json.loads((folder / "ftgeo_finetune.json").read_text())
    assert {"ftgeo_finetune.json", "metrics.csv", "checkpoints", "model.safetensors", "config.json"} <= \
        set(meta["files"])
    (folder / "thesis.tex").write_text("chapter 1")
    with pytest.raises(ValidationError) as e:
        finetune(bert, _task(), out=folder, overwrite=True, **dict(KW, learning_rate=2e-3))
    assert "'thesis.tex', which ftgeo did not write" in str(e.value) and "\n" not in str(e.value)
    assert (folder / "thesis.tex").read_text() == "chapter 1" and _same_weights(folder, ref.model_dir)
    (folder / "thesis.tex").unlink()
    res = finetune(bert, _task(), out=folder, overwrite=True, **dict(KW, epochs=1, learning_rate=2e-3))
    assert res.meta["global_step"] == 3 and [c.step for c in res.checkpoints] == [2, 3]
    assert not (folder / "checkpoints" / "checkpoint-6").exists() and not (folder / LOCK_NAME).exists()


def test_overwrite_of_a_folder_without_metadata_refuses_foreign_files(bert, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "thesis.tex").write_text("x")
    with pytest.raises(ValidationError, match="'thesis.tex'"):
        finetune(bert, _task(), out=tmp_path / "m", overwrite=True, **dict(KW, epochs=1))
    assert (tmp_path / "m" / "thesis.tex").read_text() == "x"


def test_name_cannot_escape_the_run(bert, tmp_path):
    run = RunDir(tmp_path / "run").ensure()
    (run.reps / "keep.txt").write_text("reps")
    (run.results / "keep.txt").write_text("results")
    for bad in ("..", "../../x", "a/b", "."):
        with pytest.raises(ValidationError, match="plain name"):
            finetune(bert, _task(), out=run, name=bad, overwrite=True, **KW)
        with pytest.raises(ValidationError, match="plain name"):
            FinetuneSpec(model="m", task="t", run=str(run.root), name=bad).validate()
    assert (run.reps / "keep.txt").read_text() == "reps" and (run.results / "keep.txt").read_text() == "results"
    assert not (tmp_path / "x").exists()


def test_max_length_beyond_the_model_is_refused(bert, tmp_path):
    with pytest.raises(ValidationError, match=r"max_length=1000 is more than bert takes \(256 token positions"):
        finetune(bert, _task(), out=tmp_path / "m", max_length=1000, **KW)
    assert not (tmp_path / "m").exists()


def test_a_second_writer_is_refused_while_the_folder_is_locked(bert, ref, tmp_path):
    with FolderLock(tmp_path / "m", purpose="finetune other"):
        with pytest.raises(LockHeldError, match=r"locked by pid \d+ .*\(finetune other\)"):
            finetune(bert, _task(), out=tmp_path / "m", **KW)
    # a finished run is returned without the lock
    with FolderLock(ref.model_dir):
        assert finetune(bert, _task(), out=ref.model_dir, **KW).meta["global_step"] == 6


def test_torn_checkpoints_and_temporaries_are_removed_and_the_run_resumes_identically(bert, ref, tmp_path):
    folder = tmp_path / "m"
    with pytest.raises(KeyboardInterrupt):
        finetune(bert, _task(), out=folder, callbacks=[FailAfter(2)], **KW)
    # what a kill -9 in the middle of the next checkpoint's save and of the final save leaves
    torn = folder / "checkpoints" / "checkpoint-4"
    torn.mkdir()
    (torn / "config.json").write_text("{}")
    (torn / "model.safetensors").write_bytes(b"\0" * 100)
    (torn / "trainer_state.json").write_text('{"global_step": 4')
    (folder / ".final.tmp").mkdir()
    (folder / ".final.tmp" / "model.safetensors").write_bytes(b"\0")
    (folder / ".metrics.csv.abc.tmp").write_text("x")
    assert [c.step for c in list_checkpoints(folder)] == [2]
    res = finetune(bert, _task(), out=folder, **KW)
    meta = json.loads((folder / "ftgeo_finetune.json").read_text())
    assert meta["resumed_from"] == "checkpoint-2" and [c.step for c in res.checkpoints] == [2, 4, 6]
    assert _same_weights(folder, ref.model_dir) and _same_weights(torn, ref.model_dir / "checkpoints" / "checkpoint-4")
    assert not list(folder.glob(".*.tmp")) and res.final_metrics == ref.final_metrics


def test_a_checkpoint_saved_but_not_yet_recorded_is_kept(bert, ref, tmp_path):
    """Killed between the checkpoint's ftgeo_checkpoint.json and the metadata update."""
    folder = tmp_path / "m"
    with pytest.raises(KeyboardInterrupt):
        finetune(bert, _task(), out=folder, callbacks=[FailAfter(4)], **KW)
    f = folder / "ftgeo_finetune.json"
    meta = json.loads(f.read_text())
    meta["checkpoints"] = [c for c in meta["checkpoints"] if c["step"] != 4]
    f.write_text(json.dumps(meta))
    res = finetune(bert, _task(), out=folder, **KW)
    assert [c.step for c in res.checkpoints] == [2, 4, 6] and _same_weights(folder, ref.model_dir)


def test_full_disk_while_saving_a_checkpoint_is_a_clear_error_and_the_rerun_finishes(bert, ref, tmp_path,
                                                                                     monkeypatch):
    from ftgeo.finetune import trainer as tr
    real = tr.FtgeoTrainer._save
    calls = []

    def full(self, output_dir=None, state_dict=None):
        calls.append(output_dir)
        if len(calls) == 2:  # the second checkpoint
            real(self, output_dir, state_dict)
            raise RuntimeError("[enforce fail at inline_container.cc:626] . PytorchStreamWriter failed writing file "
                               "data/0: file write failed (No space left on device)")
        return real(self, output_dir, state_dict)

    monkeypatch.setattr(tr.FtgeoTrainer, "_save", full)
    folder = tmp_path / "m"
    with pytest.raises(StorageError) as e:
        finetune(bert, _task(), out=folder, **KW)
    assert e.value.errno == errno.ENOSPC and "the disk is full" in str(e.value) and "resumes" in str(e.value)
    monkeypatch.undo()
    assert [c.step for c in list_checkpoints(folder)] == [2]
    res = finetune(bert, _task(), out=folder, **KW)
    assert [c.step for c in res.checkpoints] == [2, 4, 6] and _same_weights(folder, ref.model_dir)


def test_a_result_killed_while_saving_is_saved_again(bert, tmp_path):
    run = RunDir(tmp_path / "run").ensure()
    res = finetune(bert, _task(), out=run, name="m", **dict(KW, epochs=1))
    target = run.result_dir("finetune__m")
    (target / "result.json").unlink()
    again = finetune(bert, _task(), out=run, name="m", **dict(KW, epochs=1))
    assert (target / "result.json").is_file() and again.final_metrics == res.final_metrics
