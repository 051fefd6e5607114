"""Nothing lost, nothing silently wrong: locks, overwrite, full disk, stale temporaries, edited manifests,
damaged files, names, max_length -- for representation stores."""
from __future__ import annotations

import errno
import json
import os
import threading
import time

import numpy as np
import pytest

from ftgeo._atomic import StorageError
from ftgeo._lock import LOCK_NAME, FolderLock, LockHeldError
from ftgeo.errors import DataNotFoundError, ManifestMismatchError, ValidationError
from ftgeo.extract import StoreManifest, discover_checkpoint_reps, extract, list_reps, open_reps
from ftgeo.extract import store as store_mod
from ftgeo.testing.tasks import sentence_task
from ftgeo.testing.models import tiny_model
from ftgeo.run import RunDir, check_name


@pytest.fixture(scope="module")
def bert():
    return tiny_model("bert", seed=2)


def _kw(**kw):
    return dict(dict(pooling="mean", batch_size=3, chunk_size=4, dtype="float16", progress=False), **kw)


def _bytes(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


# ----------------------------------------------------------------------------- the lock
def test_lock_names_its_holder_and_is_released(tmp_path):
    with FolderLock(tmp_path / "s", purpose="extract x") as held:
        info = json.loads((tmp_path / "s" / LOCK_NAME).read_text())
        assert info["pid"] == os.getpid() and info["purpose"] == "extract x"
        with pytest.raises(LockHeldError) as e:
            FolderLock(tmp_path / "s").acquire()
        msg = str(e.value)
        assert f"pid {os.getpid()} on host" in msg and "(extract x)" in msg and "--lock-timeout" in msg
        assert "\n" not in msg and held.held
    assert not (tmp_path / "s" / LOCK_NAME).exists()
    assert not (tmp_path / "s").exists()  # the lock made the folder and nothing else was written
    with FolderLock(tmp_path / "s"):
        pass


def test_releasing_in_a_folder_that_became_read_only_does_not_raise(tmp_path, monkeypatch):
    import pathlib
    lock = FolderLock(tmp_path).acquire()

    def ro(self, missing_ok=False):
        raise PermissionError(13, "Permission denied", str(self))
    monkeypatch.setattr(pathlib.Path, "unlink", ro)
    lock.release()  # the file stays, emptied: the next owner finds no dead owner to take over
    monkeypatch.undo()
    assert (tmp_path / LOCK_NAME).read_text() == ""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FolderLock(tmp_path).acquire().release()


def test_lock_waits_for_the_holder_with_a_timeout(tmp_path):
    first = FolderLock(tmp_path).acquire()
    threading.Timer(0.4, first.release).start()
    t0 = time.monotonic()
    with FolderLock(tmp_path, timeout=20):
        assert time.monotonic() - t0 >= 0.3
    with FolderLock(tmp_path):
        with pytest.raises(LockHeldError, match=r"waited 0.3 s"):
            FolderLock(tmp_path, timeout=0.3).acquire()


def test_stale_lock_of_a_dead_process_is_taken_over_with_a_note(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 999999, "host": "elsewhere", "since": "then",
                                                  "purpose": "extract"}))
    with pytest.warns(RuntimeWarning, match="took over the lock .* pid 999999 on host elsewhere"):
        lock = FolderLock(tmp_path).acquire()
    assert lock.took_over["pid"] == 999999
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock.release()


def test_a_second_writer_fails_with_one_line_naming_the_holder(bert, tmp_path):
    task = sentence_task(9)
    with FolderLock(tmp_path / "s", purpose="extract other"):
        with pytest.raises(LockHeldError, match=r"is locked by pid \d+ on host .* \(extract other\)"):
            extract(bert, task, "dev", out=tmp_path / "s", **_kw())
    done = extract(bert, task, "dev", out=tmp_path / "s", **_kw())
    # a complete store is read without the lock (also by a process that could not take it)
    with FolderLock(tmp_path / "s"):
        again = extract(bert, task, "dev", out=tmp_path / "s", **_kw())
        with pytest.raises(ManifestMismatchError):  # known without the lock
            extract(bert, task, "dev", out=tmp_path / "s", **_kw(pooling="cls"))
        with pytest.raises(LockHeldError):
            extract(bert, task, "dev", out=tmp_path / "s", overwrite=True, **_kw(pooling="cls"))
    np.testing.assert_array_equal(done.layer(-1), again.layer(-1))


def test_a_waiting_writer_gets_the_finished_store(bert, tmp_path):
    task = sentence_task(9)
    lock = FolderLock(tmp_path / "s").acquire()
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("s", extract(bert, task, "dev", out=tmp_path / "s",
                                                                    lock_timeout=60, **_kw())))
    t.start()
    time.sleep(0.5)
    assert t.is_alive()  # waiting
    lock.release()
    t.join(120)
    assert out["s"].n == 9 and not (tmp_path / "s" / LOCK_NAME).exists()


# ----------------------------------------------------------------------------- overwrite
def test_overwrite_removes_only_ftgeo_files_and_refuses_foreign_ones(bert, tmp_path):
    task = sentence_task(9)
    extract(bert, task, "dev", out=tmp_path / "s", **_kw(pooling="cls"))
    before = _bytes(tmp_path / "s")
    (tmp_path / "s" / "thesis.tex").write_text("my thesis")
    with pytest.raises(ValidationError, match=r"refusing to overwrite .*'thesis.tex', which ftgeo did not write"):
        extract(bert, task, "dev", out=tmp_path / "s", overwrite=True, **_kw())
    assert (tmp_path / "s" / "thesis.tex").read_text() == "my thesis"
    after = _bytes(tmp_path / "s")
    after.pop("thesis.tex")
    assert after == before and open_reps(tmp_path / "s").manifest.pooling == "cls"  # untouched
    (tmp_path / "s" / "thesis.tex").unlink()
    store = extract(bert, task, "dev", out=tmp_path / "s", overwrite=True, **_kw())
    assert store.manifest.pooling == "mean"
    # a folder that is not a store and holds a user's file: refused with or without overwrite
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "notes.txt").write_text("x")
    with pytest.raises(ValidationError, match="'notes.txt'"):
        extract(bert, task, "dev", out=tmp_path / "u", overwrite=True, **_kw())
    assert (tmp_path / "u" / "notes.txt").read_text() == "x"


def test_same_identity_overwrite_recomputes(bert, tmp_path):
    task = sentence_task(5)
    a = extract(bert, task, "dev", out=tmp_path / "s", **_kw())
    b = extract(bert, task, "dev", out=tmp_path / "s", overwrite=True, **_kw())
    np.testing.assert_array_equal(a.layer(1), b.layer(1))


# ----------------------------------------------------------------------------- full disk, stale temporaries
class _Crash(RuntimeError):
    pass


def _crash_after(monkeypatch, n):
    from ftgeo.extract import core
    done = []

    def hook(k):
        done.append(k)
        if len(done) == n:
            raise _Crash("killed")
    monkeypatch.setattr(core, "_after_chunk", hook)


def test_full_disk_at_consolidation_is_a_clear_error_and_the_rerun_finishes(bert, tmp_path, monkeypatch):
    task = sentence_task(10)
    ref = extract(bert, task, "dev", out=tmp_path / "ref", **_kw())
    import ftgeo._atomic as at
    from ftgeo.extract import core as _core
    real = at.shutil.disk_usage

    def fill_disk_after_last_chunk(k):  # the disk fills up between the forward passes and consolidation
        if k == 2:                      # (the up-front estimate saw enough room)
            monkeypatch.setattr(at.shutil, "disk_usage", lambda p: real(p)._replace(free=100))
    monkeypatch.setattr(_core, "_after_chunk", fill_disk_after_last_chunk)
    with pytest.raises(StorageError) as e:
        extract(bert, task, "dev", out=tmp_path / "s", **_kw())
    assert "not enough disk space to consolidate the store" in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, OSError) and e.value.errno == errno.ENOSPC
    s = tmp_path / "s"
    assert sorted(p.name for p in (s / "chunks").iterdir()) == ["00000.npz", "00001.npz", "00002.npz"]
    assert not [p for p in s.rglob("*.tmp")] and not (s / LOCK_NAME).exists()
    with pytest.raises(ValidationError, match=r"incomplete \(3 of 3 chunks\)"):
        open_reps(s)
    monkeypatch.undo()
    from ftgeo.extract import core
    redone = []
    monkeypatch.setattr(core, "_after_chunk", redone.append)
    extract(bert, task, "dev", out=s, **_kw())
    assert redone == [] and _bytes(s) == _bytes(tmp_path / "ref")
    del ref


class _FullFile:
    """A file whose writes fail with ENOSPC once ``room`` bytes have been written."""

    def __init__(self, fh, room):
        self.fh, self.room = fh, room

    def write(self, b):
        n = len(memoryview(b).cast("B"))
        if n > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= n
        return self.fh.write(b)

    def __getattr__(self, k):
        return getattr(self.fh, k)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.fh.close()


def test_enospc_while_writing_a_layer_is_a_clear_error(bert, tmp_path, monkeypatch):
    task = sentence_task(10)
    ref = extract(bert, task, "dev", out=tmp_path / "ref", **_kw())
    calls = []

    def full_open(f, mode="r", *a, **k):
        fh = open(f, mode, *a, **k)
        calls.append(f)
        return _FullFile(fh, 300) if len(calls) == 2 else fh  # the second layer file hits the full disk

    monkeypatch.setattr(store_mod, "open", full_open, raising=False)
    with pytest.raises(StorageError, match=r"the disk is full: cannot consolidate the store"):
        extract(bert, task, "dev", out=tmp_path / "s", **_kw())
    assert not [p for p in (tmp_path / "s").rglob("*.tmp")]
    monkeypatch.undo()
    extract(bert, task, "dev", out=tmp_path / "s", **_kw())
    assert _bytes(tmp_path / "s") == _bytes(ref.path)


def test_stale_tmp_from_a_killed_consolidation_is_removed(bert, tmp_path, monkeypatch):
    task = sentence_task(10)
    ref = extract(bert, task, "dev", out=tmp_path / "ref", **_kw())
    _crash_after(monkeypatch, 3)
    with pytest.raises(_Crash):
        extract(bert, task, "dev", out=tmp_path / "s", **_kw())
    monkeypatch.undo()
    s = tmp_path / "s"
    (s / "layers").mkdir()
    stale = s / "layers" / ".layer_00.npy.k1ll3d.tmp"
    stale.write_bytes(b"\0" * 10_000)  # what a SIGKILL during consolidation leaves
    (s / ".ids.npy.x.tmp").write_bytes(b"x")
    extract(bert, task, "dev", out=s, **_kw())
    assert not stale.exists() and not (s / ".ids.npy.x.tmp").exists()
    assert _bytes(s) == _bytes(ref.path)


def test_unwritable_folder_is_a_clear_error_and_complete_stores_still_read(bert, tmp_path, monkeypatch):
    task = sentence_task(5)
    extract(bert, task, "dev", out=tmp_path / "done", **_kw())
    import ftgeo._lock as lk
    real_open = os.open

    def ro_open(path, flags, *a):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *a)
    monkeypatch.setattr(lk.os, "open", ro_open)
    assert extract(bert, task, "dev", out=tmp_path / "done", **_kw()).n == 5  # cache hit: no lock needed
    (tmp_path / "new").mkdir()
    with pytest.raises(StorageError, match=r"cannot write the store: .* is not writable \(Read-only file system"):
        extract(bert, task, "dev", out=tmp_path / "new", **_kw())


# ----------------------------------------------------------------------------- edited manifests, damaged files
def _edit(folder, **changes):
    f = folder / "manifest.json"
    m = json.loads(f.read_text())
    m.update(changes)
    f.write_text(json.dumps(m))


def test_manifest_records_row_count_vocabulary_and_checksums(bert, tmp_path):
    store = extract(bert, sentence_task(6), "dev", out=tmp_path / "s", **_kw())
    m = store.manifest
    assert isinstance(m, StoreManifest) and m.complete and m.n == 6 and m.format == "ftgeo-reps/2"
    assert set(m.files) == {"ids.npy", "labels.npy"} | {f"layers/layer_0{i}.npy" for i in range(3)}
    assert all(len(s.crc32) == 8 and s.bytes == (tmp_path / "s" / k).stat().st_size for k, s in m.files.items())
    assert m.label_names_crc32 and store.verify() is store
    # the mapping view older callers use
    assert m["pooling"] == "mean" and m.get("checkpoint") is None and dict(m)["n"] == 6 and "files" in m


def test_hand_edited_n_or_label_names_are_refused(bert, tmp_path):
    extract(bert, sentence_task(6), "dev", out=tmp_path / "s", **_kw())
    good = (tmp_path / "s" / "manifest.json").read_text()
    _edit(tmp_path / "s", n=7)
    with pytest.raises(ValidationError, match=r"n=7, dim=32, dtype=float16 make layers/layer_00.npy .* bytes"):
        open_reps(tmp_path / "s")
    (tmp_path / "s" / "manifest.json").write_text(good)
    _edit(tmp_path / "s", label_names=["pos", "neg"])
    with pytest.raises(ValidationError, match=r"label_names .* do not match the label vocabulary recorded"):
        open_reps(tmp_path / "s")
    assert "damaged" in list_reps(tmp_path / "s")[0]
    (tmp_path / "s" / "manifest.json").write_text(good)
    _edit(tmp_path / "s", label_names=["neg"])  # fewer names than the labels use
    with pytest.raises(ValidationError):
        open_reps(tmp_path / "s")
    (tmp_path / "s" / "manifest.json").write_text(good)
    _edit(tmp_path / "s", dtype="int8")
    with pytest.raises(ValidationError, match=r"dtype='int8' must be one of"):
        open_reps(tmp_path / "s")


def test_truncated_or_changed_layer_files_are_named(bert, tmp_path):
    store = extract(bert, sentence_task(6), "dev", out=tmp_path / "s", **_kw())
    f = tmp_path / "s" / "layers" / "layer_02.npy"
    data = f.read_bytes()
    f.write_bytes(data[:-10])
    with pytest.raises(ValidationError) as e:
        open_reps(tmp_path / "s")
    msg = str(e.value)
    assert "layers/layer_02.npy is truncated" in msg and "overwrite" in msg and "\n" not in msg
    f.write_bytes(data[:-2] + bytes([data[-2] ^ 0xFF, data[-1]]))  # same size, one byte changed
    s = open_reps(tmp_path / "s")
    s.layer(0)
    with pytest.raises(ValidationError, match=r"layers/layer_02.npy does not match the CRC-32"):
        s.layer(2)
    with pytest.raises(ValidationError, match="CRC-32"):
        open_reps(tmp_path / "s").verify()
    assert open_reps(tmp_path / "s", verify=False).layer(2).shape == (6, 32)  # verify=False: size+header only
    f.write_bytes(data)
    assert np.array_equal(open_reps(tmp_path / "s").layer(2), store.layer(2))


def test_a_format_1_store_without_checksums_still_reads_and_truncation_is_caught(tmp_path):
    """Stores written before checksums: sizes come from n, dim and dtype."""
    s = tmp_path / "old"
    (s / "layers").mkdir(parents=True)
    X = np.arange(12, dtype=np.float16).reshape(4, 3)
    for i in range(2):
        np.save(s / "layers" / f"layer_{i:02d}.npy", X + i)
    np.save(s / "ids.npy", np.array(["a", "b", "c", "d"]))
    np.save(s / "labels.npy", np.array([0, 1, 0, 1]))
    (s / "manifest.json").write_text(json.dumps({"format": "ftgeo-reps/1", "n": 4, "dim": 3, "n_layers": 2,
                                                 "dtype": "float16", "n_chunks": 1, "complete": True,
                                                 "label_names": ["a", "b"]}))
    np.testing.assert_array_equal(open_reps(s).layer(1), (X + 1).astype(np.float32))
    f = s / "layers" / "layer_01.npy"
    f.write_bytes(f.read_bytes()[:-4])
    with pytest.raises(ValidationError, match=r"layers/layer_01.npy is truncated"):
        open_reps(s)


def test_manifest_dataclass_validates_and_keeps_unknown_keys():
    m = StoreManifest.from_dict({"n": 3, "dim": 2, "n_layers": 2, "dtype": "float32", "future": 1})
    assert m.extra == {"future": 1} and m.to_dict()["future"] == 1 and m["future"] == 1
    assert m.replace(pooling="cls").pooling == "cls"
    for bad, match in (({"n": -1}, "n=-1"), ({"n": "3"}, "n='3'"), ({"pooling": "max"}, "pooling='max'"),
                       ({"layer_names": ["a"]}, "1 layer_names for n_layers=2"), ({"complete": "yes"}, "complete")):
        with pytest.raises(ValidationError, match=match):
            StoreManifest.from_dict({"n": 3, "dim": 2, "n_layers": 2, **bad})
    with pytest.raises(ValidationError, match="has no n_layers"):
        StoreManifest.from_dict({"n": 3, "dim": 2})


# ----------------------------------------------------------------------------- max_length, names
def test_max_length_beyond_the_model_is_refused_before_anything_is_written(bert, tmp_path):
    with pytest.raises(ValidationError) as e:
        extract(bert, sentence_task(4), "dev", out=tmp_path / "s", max_length=300, **_kw())
    assert "max_length=300 is more than tiny-bert takes (256 token positions" in str(e.value)
    assert not (tmp_path / "s").exists()
    assert extract(bert, sentence_task(4), "dev", out=tmp_path / "s", max_length=256, **_kw()).n == 4


def test_names_cannot_escape_the_run_folder(tmp_path):
    run = RunDir(tmp_path / "run")
    for bad in ("..", ".", "", "../../x", "a/b", "a\\b"):
        with pytest.raises(ValidationError, match="plain name|non-empty"):
            run.result_dir(bad)
        with pytest.raises(ValidationError):
            run.figure_stem(bad)
        with pytest.raises(ValidationError):
            run.model_dir(bad)
    assert run.result_dir("cka") == run.results / "cka" and check_name("a..b") == "a..b"


# ----------------------------------------------------------------------------- discovery beside list_reps
def _fake_store(folder, **manifest):
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_discover_checkpoint_reps_orders_by_step(tmp_path):
    reps = tmp_path / "reps"
    pre = _fake_store(reps / "bert__pos", model="bert", checkpoint=None, task="pos", split="train")
    c10 = _fake_store(reps / "ft@checkpoint-1000", model="ft", checkpoint="checkpoint-1000", task="pos", split="train")
    c2 = _fake_store(reps / "ft@checkpoint-200", model="ft", checkpoint="checkpoint-200", task="pos", split="train")
    _fake_store(reps / "ft@checkpoint-200_dev", model="ft", checkpoint="checkpoint-200", task="pos", split="dev")
    assert discover_checkpoint_reps(tmp_path, "ft", pretrained="bert", split="train") == [pre, c2, c10]
    assert discover_checkpoint_reps(tmp_path, "ft", pretrained="bert", split="train", with_steps=True) == \
        [(pre, 0), (c2, 200), (c10, 1000)]
    with pytest.raises(DataNotFoundError, match="no checkpoint stores of model 'nope'"):
        discover_checkpoint_reps(tmp_path, "nope")
    with pytest.raises(DataNotFoundError, match="exactly one pretrained store"):
        discover_checkpoint_reps(tmp_path, "ft", split="train")
    with pytest.raises(ValidationError, match="say which run to follow"):
        discover_checkpoint_reps(tmp_path)


def test_discover_checkpoint_reps_from_model_folder(tmp_path):
    mf = tmp_path / "models" / "ft"
    for step in (30, 300, 1200):
        d = mf / "checkpoints" / f"checkpoint-{step}"
        d.mkdir(parents=True)
        (d / "config.json").write_text("{}")
    reps = tmp_path / "reps"
    pre = _fake_store(reps / "bert", model="bert", model_id="bert", checkpoint=None)
    s1200 = _fake_store(reps / "x1", model="ck", model_id=str(mf / "checkpoints" / "checkpoint-1200"), checkpoint="b")
    s30 = _fake_store(reps / "x2", model="ck", model_id=str(mf / "checkpoints" / "checkpoint-30"), checkpoint="a")
    _fake_store(reps / "other", model="ck", model_id=str(tmp_path / "elsewhere"), checkpoint="c")
    got = discover_checkpoint_reps(tmp_path, pretrained="bert", model_folder=mf, with_steps=True)
    assert got == [(pre, 0), (s30, 30), (s1200, 1200)]
    assert discover_checkpoint_reps(tmp_path, pretrained="bert", model_folder=mf) == [pre, s30, s1200]
