"""Fault injection for extraction stores and fine-tuning folders (run by tests/integration/test_faults.py).

    python tests/integration/fault_driver.py --work DIR [--faults extract-kill,finetune-kill,...] [--trials N]

One process imports torch/transformers/ftgeo once (one torch thread) and forks a child per run, so
a run costs no interpreter start-up; runs are bitwise comparable because every child uses the same
thread count. Faults:

* ``extract-kill`` / ``finetune-kill``: ``SIGKILL`` at a seeded random point: half the trials at a
  random time, half at a random file-system event (the k-th ``os.replace``, ``fsync``, file write,
  ``torch.save``, safetensors save, trainer-state save, chunk, unlink, ...; killed before it, after
  it, or after truncating the file it wrote);
* ``concurrent``: two writers started together on one store or one model folder (same settings,
  other settings, one waiting with ``lock_timeout``, one overwriting);
* ``full-disk``: a small tmpfs (``mount`` in a user namespace when permitted) of random size, then
  remounted larger; else ENOSPC injected after a random number of bytes (``--disk inject``);
* ``read-only``: a run folder bind-mounted read-only (or made so by chmod for a non-root user, or
  EROFS injected): complete work is read, new work fails with one line, and after making it writable
  again the next run completes.

After every fault the state on disk is checked in a fresh child: a store that opens (and verifies)
must equal the reference; a fine-tuning folder marked complete, and every checkpoint its metadata
lists, must hold the reference weights. Then the same run is repeated without the fault and must
end byte-identical to the reference. Outcomes per trial: ``resumed-identical`` (killed or finished,
then identical), ``clean-error`` (a one-line ftgeo error, then identical after the cause is gone),
``corrupted`` (anything else: a silently wrong store, a traceback, a rerun that fails or differs).
Prints one JSON object: {"faults": {name: {"trials", "resumed_identical", "clean_error", "corrupted",
"modes", "seconds", "failures": [...]}}, "seed", "disk_mode", "ro_mode"}.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("FTGEO_NO_PROGRESS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.pop("WORLD_SIZE", None)

import torch  # noqa: E402
import transformers  # noqa: E402,F401
import transformers.modeling_utils  # noqa: E402,F401
import transformers.trainer  # noqa: E402,F401

torch.set_num_threads(1)

import ftgeo.extract.core  # noqa: E402,F401
import ftgeo.finetune.core  # noqa: E402,F401
import ftgeo.finetune.trainer  # noqa: E402,F401
from ftgeo.errors import FtgeoError  # noqa: E402

# ----------------------------------------------------------------------------- children
def child(fn, *args, kill_at: float | None = None, setup=None, log: Path | None = None, timeout: float = 600,
          **kw) -> dict:
    """Run ``fn(*args, **kw)`` in a forked child; ``kill_at`` seconds after the fork it gets SIGKILL.

    Returns {"status": "ok"|"clean"|"crash"|"killed", ...}; ``clean`` = an FtgeoError (its message and
    whether it is one line), ``crash`` = any other exception (traceback)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # ---- child
        os.close(r)
        if log is not None:
            fd = os.open(str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
        try:
            if setup is not None:
                setup()
            out = fn(*args, **kw) or {}
            res = {"status": "ok", **out}
        except FtgeoError as e:
            res = {"status": "clean", "error": type(e).__name__, "msg": str(e), "one_line": "\n" not in str(e)}
        except BaseException as e:  # noqa: BLE001
            res = {"status": "crash", "error": type(e).__name__, "msg": traceback.format_exc()[-3000:]}
        data = json.dumps(res, default=str).encode()
        while data:
            data = data[os.write(w, data):]
        os._exit(0)
    # ---- parent
    os.close(w)
    t0 = time.monotonic()
    chunks, killed = [], False
    while True:
        wait = None
        if kill_at is not None and not killed:
            wait = max(kill_at - (time.monotonic() - t0), 0)
        else:
            wait = max(timeout - (time.monotonic() - t0), 0.01)
        ready, _, _ = select.select([r], [], [], wait)
        if ready:
            b = os.read(r, 65536)
            if not b:
                break
            chunks.append(b)
            continue
        if kill_at is not None and not killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            killed = True
            continue
        os.kill(pid, signal.SIGKILL)  # timeout
        killed = True
    os.close(r)
    _, status = os.waitpid(pid, 0)
    elapsed = time.monotonic() - t0
    if os.WIFSIGNALED(status):
        return {"status": "killed", "signal": os.WTERMSIG(status), "seconds": elapsed}
    try:
        res = json.loads(b"".join(chunks).decode())
    except ValueError:
        res = {"status": "crash", "error": "no result", "msg": f"exit status {status}"}
    res["seconds"] = elapsed
    return res


def die():
    os.kill(os.getpid(), signal.SIGKILL)


class IOKiller:
    """Wraps file-system functions; counts their calls; at call ``k`` kills the process (before the
    call, after it, or after truncating the file it wrote to a random length)."""

    def __init__(self, k: int | None, mode: str = "after", seed: int = 0):
        self.k, self.mode, self.n, self.events = k, mode, 0, []
        self.rng = random.Random(seed)

    def _hit(self, name, path, call):
        self.n += 1
        self.events.append(name)
        if self.k is None or self.n != self.k:
            return call()
        if self.mode == "before":
            die()
        res = call()
        if self.mode == "torn" and path is not None:
            try:
                p = Path(path)
                if p.is_file() and p.stat().st_size > 1:
                    os.truncate(p, self.rng.randrange(1, p.stat().st_size))
            except OSError:
                pass
        die()
        return res

    def wrap(self, owner, attr, name=None, path_arg=None):
        orig = getattr(owner, attr)
        name = name or attr

        def w(*a, **kw):
            path = None
            if path_arg is not None:
                path = kw.get(path_arg[1]) if path_arg[1] in kw else (a[path_arg[0]] if len(a) > path_arg[0] else None)
                if not isinstance(path, (str, os.PathLike)):
                    path = None
            return self._hit(name, path, lambda: orig(*a, **kw))
        setattr(owner, attr, w)

    def install_common(self):
        import pathlib
        self.wrap(os, "replace")  # (a rename is atomic: "torn" kills after it, like "after")
        self.wrap(os, "fsync")
        self.wrap(pathlib.Path, "write_bytes", path_arg=(0, "self"))
        self.wrap(pathlib.Path, "unlink")
        self.wrap(shutil, "rmtree")

    def install_extract(self):
        self.install_common()
        from ftgeo.extract import core, store
        self.wrap(core, "_after_chunk")
        killer = self

        class _File:
            def __init__(self, fh, path):
                self.fh, self.path = fh, path

            def write(self, b):
                return killer._hit("layer-write", self.path, lambda: self.fh.write(b))

            def __getattr__(self, k):
                return getattr(self.fh, k)

            def __enter__(self):
                return self

            def __exit__(self, *a):
                self.fh.close()

        store.open = lambda f, mode="r", *a, **k: _File(open(f, mode, *a, **k), f) if "w" in mode else open(f, mode, *a, **k)

    def install_finetune(self):
        self.install_common()
        import safetensors.torch
        import transformers.modeling_utils as mu
        from transformers.trainer_callback import TrainerState
        self.wrap(torch, "save", path_arg=(1, "f"))
        self.wrap(mu, "safe_save_file", "safetensors", path_arg=(1, "filename"))
        self.wrap(safetensors.torch, "save_file", "safetensors-head", path_arg=(1, "filename"))
        self.wrap(TrainerState, "save_to_json", "trainer-state", path_arg=(1, "json_path"))


# ----------------------------------------------------------------------------- jobs
def toy_task(n=40):
    from ftgeo.testing.tasks import sentence_task
    return sentence_task(n)


def ft_task():
    from ftgeo.data.memory import ListTask
    from ftgeo.testing.tasks import sentence_task
    ex = sentence_task(22).examples("dev")
    return ListTask("toy", "sentence", ["neg", "pos"], {"train": ex[:16], "dev": ex[16:]})


EX_KW = dict(pooling="mean", chunk_size=6, batch_size=4, dtype="float16", progress=False)
FT_KW = dict(recipe="closer-look", epochs=2, batch_size=4, learning_rate=1e-3, checkpoint_every=2, seed=3,
             progress=False)


def job_extract(model, out, n=40, **kw):
    from ftgeo.extract import extract
    s = extract(model, toy_task(n), "dev", out=out, **dict(EX_KW, **kw))
    return {"n": s.n}


def job_finetune(model, out, **kw):
    from ftgeo.finetune import finetune
    res = finetune(model, ft_task(), out=out, **dict(FT_KW, **kw))
    return {"steps": res.meta["global_step"], "checkpoints": [c.step for c in res.checkpoints]}


def job_count(kind, model, out, n=40):
    k = IOKiller(None)
    k.install_extract() if kind == "extract" else k.install_finetune()
    (job_extract(model, out, n=n) if kind == "extract" else job_finetune(model, out))
    return {"events": k.events}


def leftovers(folder: Path) -> list[str]:
    """What a finished run must not leave behind: temporaries, its lock, chunks, unfinished checkpoints."""
    folder = Path(folder)
    out = [p.relative_to(folder).as_posix() for p in folder.rglob("*")
           if p.name.endswith(".tmp") or p.name == ".ftgeo.lock"]
    if (folder / "chunks").exists():
        out.append("chunks/")
    ck = folder / "checkpoints"
    if ck.is_dir():
        out += [d.name for d in ck.iterdir() if not (d / "ftgeo_checkpoint.json").is_file()]
    return out


def store_files(folder: Path) -> dict[str, bytes]:
    out = {}
    for rel in ["ids.npy", "labels.npy"] + sorted(p.relative_to(folder).as_posix()
                                                 for p in (folder / "layers").glob("*.npy")):
        out[rel] = (folder / rel).read_bytes()
    return out


def check_store(out, ref):
    """In a child: a store that opens must verify and equal the reference; a refusal must be one line."""
    from ftgeo.extract import open_reps
    try:
        s = open_reps(out)
        s.verify()
    except FtgeoError as e:
        return {"state": "refused", "one_line": "\n" not in str(e)}
    same = store_files(Path(out)) == store_files(Path(ref))
    return {"state": "open", "same": same}


def _weights(folder):
    from safetensors.torch import load_file
    return load_file(str(Path(folder) / "model.safetensors"))


def _same_weights(a, b) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(bool((wa[k] == wb[k]).all()) for k in wa)


def check_model(out, ref):
    """In a child: a folder marked complete, and every checkpoint its metadata lists, hold the reference weights."""
    from ftgeo.finetune.checkpoints import read_meta
    try:
        meta = read_meta(out)
    except FtgeoError as e:
        return {"state": "refused", "one_line": "\n" not in str(e)}
    if meta is None:
        return {"state": "none"}
    out, ref = Path(out), Path(ref)
    bad = []
    for c in meta.get("checkpoints") or []:
        p = out / c["path"]
        try:
            if not _same_weights(p, ref / c["path"]):
                bad.append(c["path"])
        except Exception as e:  # noqa: BLE001
            bad.append(f"{c['path']}: {type(e).__name__}")
    if meta.get("complete"):
        try:
            if not _same_weights(out, ref):
                bad.append("final")
        except Exception as e:  # noqa: BLE001
            bad.append(f"final: {type(e).__name__}")
    return {"state": "complete" if meta.get("complete") else "partial", "bad": bad}


def compare_model(out, ref):
    import json as _j
    a = _j.loads((Path(out) / "ftgeo_finetune.json").read_text())
    b = _j.loads((Path(ref) / "ftgeo_finetune.json").read_text())
    same = _same_weights(out, ref) and [c["step"] for c in a["checkpoints"]] == [c["step"] for c in b["checkpoints"]] \
        and a["final"]["metrics"] == b["final"]["metrics"] and a["complete"]
    for c in a["checkpoints"]:
        same = same and _same_weights(Path(out) / c["path"], Path(ref) / c["path"])
    return {"same": bool(same)}


# ----------------------------------------------------------------------------- bookkeeping
class Tally:
    def __init__(self, name):
        self.name, self.t0 = name, time.monotonic()
        self.counts = {"trials": 0, "resumed_identical": 0, "clean_error": 0, "corrupted": 0}
        self.modes: dict[str, int] = {}
        self.failures: list[str] = []

    def add(self, outcome: str, mode: str, why: str = ""):
        self.counts["trials"] += 1
        self.counts[outcome] += 1
        self.modes[mode] = self.modes.get(mode, 0) + 1
        if outcome == "corrupted":
            self.failures.append(f"{mode}: {why}"[:1500])

    def to_dict(self):
        return {**self.counts, "modes": self.modes, "seconds": round(time.monotonic() - self.t0, 1),
                "failures": self.failures}


def _outcome(faulted: dict, check: dict, rerun: dict, same: bool, *, model: bool = False) -> tuple[str, str]:
    """(outcome, reason) from the faulted run, the check of the state it left, the rerun, the comparison."""
    if faulted["status"] == "crash":
        return "corrupted", f"faulted run crashed: {faulted.get('msg')}"
    if faulted["status"] == "clean" and not faulted.get("one_line"):
        return "corrupted", f"multi-line error: {faulted.get('msg')}"
    if check.get("status") == "crash":
        return "corrupted", f"check crashed: {check.get('msg')}"
    if check.get("state") == "open" and not check.get("same"):
        return "corrupted", "a store that opens differs from the reference"
    if check.get("state") == "refused" and not check.get("one_line"):
        return "corrupted", "multi-line refusal"
    if model and check.get("bad"):
        return "corrupted", f"wrong weights in {check['bad']}"
    if rerun["status"] != "ok":
        return "corrupted", f"the next run failed: {rerun.get('error')}: {rerun.get('msg')}"
    if not same:
        return "corrupted", "the next run differs from the reference"
    return ("clean_error" if faulted["status"] == "clean" else "resumed_identical"), ""


def job_analyze(out, reps_folder):
    """Two analyses with tables, arrays and figures into run folder ``out`` (what ``ftgeo analyze`` does)."""
    from ftgeo.analyses import analyze
    from ftgeo.extract import open_reps
    a, b = open_reps(Path(reps_folder) / "a"), open_reps(Path(reps_folder) / "b")
    analyze("rogue", a, b, run=out, k=3)
    analyze("cka", a, b, run=out, device="numpy", progress=False)
    return {}


def result_tables(out) -> dict:
    """{result/file: bytes} of the tables and arrays of every complete result under ``out/results``."""
    files = {}
    for f in sorted((Path(out) / "results").glob("*/*")):
        if f.suffix in (".csv", ".npz"):
            files[f"{f.parent.name}/{f.name}"] = f.read_bytes()
    return files


def check_results(out, ref):
    """In a child: each result folder under ``out`` is refused as incomplete or equals the reference."""
    from ftgeo.results import IncompleteResultError, load_result
    from ftgeo.errors import DataNotFoundError
    ref_tables = result_tables(ref)
    for folder in sorted((Path(out) / "results").glob("*")):
        try:
            load_result(folder)
        except (IncompleteResultError, DataNotFoundError) as exc:
            if "\n" in str(exc):
                return {"state": "refused", "one_line": False}
            continue
        mine = {k: v for k, v in result_tables(out).items() if k.startswith(folder.name + "/")}
        theirs = {k: v for k, v in ref_tables.items() if k.startswith(folder.name + "/")}
        if mine != theirs:
            return {"state": "open", "same": False}
    return {"state": "checked", "same": True}


# ----------------------------------------------------------------------------- faults
def fault_kill(kind: str, trials: int, rng: random.Random, work: Path, model: str, ref: Path, t_ref: float,
               n_events: int, log: Path) -> Tally:
    tally = Tally(f"{kind}-kill")
    job = job_extract if kind == "extract" else job_finetune
    for t in range(trials):
        out = work / f"{kind}-kill-{t}"
        if t % 2 == 0:
            at = rng.uniform(0.02, t_ref)
            mode = "time"
            faulted = child(job, model, out, kill_at=at, log=log)
        else:
            k = rng.randrange(1, n_events + 1)
            how = rng.choice(["before", "after", "torn"])
            mode = f"io-{how}"
            killer = IOKiller(k, how, seed=rng.randrange(2**31))
            setup = killer.install_extract if kind == "extract" else killer.install_finetune
            faulted = child(job, model, out, setup=setup, log=log)
        if faulted["status"] == "ok":
            mode += "-missed"  # finished before the fault struck
        check = child(check_store if kind == "extract" else check_model, out, ref, log=log)
        rerun = child(job, model, out, log=log)
        if kind == "extract":
            same = rerun["status"] == "ok" and store_files(out) == store_files(ref)
        else:
            same = rerun["status"] == "ok" and child(compare_model, out, ref, log=log).get("same", False)
        outcome, why = _outcome(faulted, check, rerun, same, model=kind == "finetune")
        if outcome != "corrupted" and leftovers(out):
            outcome, why = "corrupted", f"left behind: {leftovers(out)}"
        tally.add(outcome, mode, why)
        shutil.rmtree(out, ignore_errors=True)
    return tally


def fault_analyze_kill(trials: int, rng: random.Random, work: Path, reps_folder: Path, ref: Path, t_ref: float,
                       n_events: int, log: Path) -> Tally:
    """SIGKILL while analyses save their results: a result is refused as incomplete, or equals the
    reference; never a new table under an old result.json, never a half-written file read as complete."""
    tally = Tally("analyze-kill")
    for t in range(trials):
        out = work / f"analyze-kill-{t}"
        if t % 3 == 1:  # some trials over a complete earlier result: a rerun must not leave old and new mixed
            assert child(job_analyze, out, reps_folder, log=log)["status"] == "ok"
        if t % 2 == 0:
            mode, faulted = "time", child(job_analyze, out, reps_folder, kill_at=rng.uniform(0.05, t_ref), log=log)
        else:
            how = rng.choice(["before", "after", "torn"])
            mode = f"io-{how}"
            killer = IOKiller(rng.randrange(1, n_events + 1), how, seed=rng.randrange(2**31))
            faulted = child(job_analyze, out, reps_folder, setup=killer.install_common, log=log)
        if faulted["status"] == "ok":
            mode += "-missed"
        check = child(check_results, out, ref, log=log)
        rerun = child(job_analyze, out, reps_folder, log=log)
        same = rerun["status"] == "ok" and result_tables(out) == result_tables(ref)
        outcome, why = _outcome(faulted, check, rerun, same)
        if outcome != "corrupted" and leftovers(out):
            outcome, why = "corrupted", f"left behind: {leftovers(out)}"
        tally.add(outcome, mode, why)
        shutil.rmtree(out, ignore_errors=True)
    return tally


def _analysis_inputs(work: Path, model: str, log: Path) -> Path:
    """Two small stores (the tiny model's mean and cls vectors of the toy task) for the analyze faults."""
    folder = work / "analyze-inputs"
    if not (folder / "b" / "manifest.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        assert child(job_extract, model, folder / "a", pooling="mean", log=log)["status"] == "ok"
        assert child(job_extract, model, folder / "b", pooling="cls", log=log)["status"] == "ok"
    return folder


def job_count_analyze(out, reps_folder):
    killer = IOKiller(None)
    killer.install_common()
    job_analyze(out, reps_folder)
    return {"events": killer.events}


def _compare_extract_ok(res_path, ref_for):
    """In a child: the store at res_path opens, verifies and equals the reference of its recorded pooling."""
    from ftgeo.extract import open_reps
    s = open_reps(res_path)
    s.verify()
    return {"same": store_files(Path(res_path)) == store_files(Path(ref_for[s.manifest.pooling])),
            "pooling": s.manifest.pooling}


def compare_model_any(out, refs):
    """In a child: compare with the reference of the learning rate the folder records."""
    from ftgeo.finetune.checkpoints import read_meta
    lr = read_meta(out)["identity"]["recipe"]["learning_rate"]
    return compare_model(out, refs[str(lr)])


def fault_concurrent(trials: int, rng: random.Random, work: Path, model: str, refs: dict, ft_refs: dict,
                     t_ex: float, t_ft: float, log: Path) -> Tally:
    tally = Tally("concurrent")
    variants = ["ex-same", "ex-other", "ex-wait", "ex-overwrite", "ft-same", "ft-other", "ft-wait"]
    for t in range(trials):
        v = variants[t % len(variants)]
        out = work / f"conc-{t}"
        delay = rng.uniform(0, (t_ex if v.startswith("ex") else t_ft) * 0.6)
        if v.startswith("ex"):
            kw_b = {"ex-same": {}, "ex-other": {"pooling": "cls"}, "ex-wait": {"lock_timeout": 120},
                    "ex-overwrite": {"pooling": "cls", "overwrite": True}}[v]
            jobs = [(job_extract, {}), (job_extract, kw_b)]
        else:
            kw_b = {"ft-same": {}, "ft-other": {"learning_rate": 2e-3}, "ft-wait": {"lock_timeout": 300}}[v]
            jobs = [(job_finetune, {}), (job_finetune, kw_b)]
        results = _run_pair(jobs, model, out, delay, log)
        bad = [r for r in results if r["status"] not in ("ok", "clean") or
               (r["status"] == "clean" and (not r.get("one_line") or
                                            r.get("error") not in ("LockHeldError", "ManifestMismatchError")))]
        why = "; ".join(f"{r.get('status')} {r.get('error')}: {r.get('msg')}" for r in bad)
        if v.startswith("ex"):
            fin = child(_compare_extract_ok, out, refs, log=log)
            pooling = fin.get("pooling", "mean")
            rerun = child(job_extract, model, out, pooling=pooling, log=log)  # a cache hit, identical
            ok = fin.get("status") == "ok" and fin.get("same") and rerun["status"] == "ok" and \
                store_files(out) == store_files(refs[pooling])
        else:
            fin = child(compare_model_any, out, ft_refs, log=log)
            rerun = child(job_finetune, model, out, log=log) if fin.get("same") else {"status": "skipped"}
            ok = fin.get("status") == "ok" and fin.get("same") and rerun["status"] in ("ok", "clean")
        if bad or not ok:
            tally.add("corrupted", v, why or f"final state: {fin}; rerun: {rerun.get('status')} {rerun.get('msg')}")
        elif any(r["status"] == "clean" for r in results):
            tally.add("clean_error", v)
        else:
            tally.add("resumed_identical", v)
        shutil.rmtree(out, ignore_errors=True)
    return tally


def _run_pair(jobs, model, out, delay, log):
    """Start two children, the second ``delay`` seconds after the first; return both results."""
    import threading
    results = [None, None]

    def go(i):
        fn, kw = jobs[i]
        results[i] = child(fn, model, out, log=log, **kw)
    th = [threading.Thread(target=go, args=(0,))]
    th[0].start()
    time.sleep(delay)
    th.append(threading.Thread(target=go, args=(1,)))
    th[1].start()
    for x in th:
        x.join()
    return results


# ---- full disk
def _mount_tmpfs(mnt: Path, size_kb: int, remount: bool = False) -> None:
    mnt.mkdir(parents=True, exist_ok=True)
    opts = f"{'remount,' if remount else ''}size={size_kb}k"
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(mnt)], check=True, capture_output=True)


def _umount(mnt: Path) -> None:
    subprocess.run(["umount", str(mnt)], check=False, capture_output=True)


def can_mount(work: Path) -> bool:
    mnt = work / "probe-mnt"
    try:
        _mount_tmpfs(mnt, 64)
        _umount(mnt)
        return True
    except (subprocess.CalledProcessError, FileNotFoundError, PermissionError):
        return False


def _inject_enospc(budget: int):
    """In a child: writes through pathlib and the store's layer files fail with ENOSPC after ``budget`` bytes."""
    import pathlib
    from ftgeo.extract import store
    left = [budget]

    def write(fh, b):
        view = memoryview(b).cast("B")
        if len(view) > left[0]:
            fh.write(view[:left[0]])
            left[0] = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        left[0] -= len(view)
        return fh.write(view)

    def wb(self, data):
        with open(self, "wb") as fh:
            return write(fh, data)

    class _F:
        def __init__(self, fh):
            self.fh = fh

        def write(self, b):
            return write(self.fh, b)

        def __getattr__(self, k):
            return getattr(self.fh, k)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.fh.close()
    pathlib.Path.write_bytes = wb
    store.open = lambda f, mode="r", *a, **k: _F(open(f, mode, *a, **k)) if "w" in mode else open(f, mode, *a, **k)


def fault_full_disk(trials: int, rng: random.Random, work: Path, model: str, big_ref: Path, ft_ref: Path,
                    mount: bool, log: Path) -> Tally:
    tally = Tally("full-disk")
    for t in range(trials):
        kind = "extract" if t % 3 != 2 else "finetune"
        no_check = kind == "extract" and t % 3 == 1  # skip the free-space check: a real ENOSPC mid-write
        mnt = work / f"disk-{t}"
        out = mnt / "out"
        if mount:
            size = rng.randrange(8, 400 if kind == "extract" else 3200, 4)
            _mount_tmpfs(mnt, size)
            mode = f"tmpfs-{kind}{'-nocheck' if no_check else ''}"
            setup = _no_free_space_check if no_check else None
        else:
            size = rng.randrange(2_000, 200_000 if kind == "extract" else 60_000)
            mode = f"inject-{kind}"
            setup = (lambda b=size: _inject_enospc(b))
        job = job_extract if kind == "extract" else job_finetune
        jkw = {"n": 300} if kind == "extract" else {}
        faulted = child(job, model, out, setup=setup, log=log, **jkw)
        check = child(check_store if kind == "extract" else check_model, out,
                      big_ref if kind == "extract" else ft_ref, log=log)
        if mount:
            _mount_tmpfs(mnt, 64 * 1024, remount=True)  # free space
        rerun = child(job, model, out, log=log, **jkw)
        if kind == "extract":
            same = rerun["status"] == "ok" and store_files(out) == store_files(big_ref)
        else:
            same = rerun["status"] == "ok" and child(compare_model, out, ft_ref, log=log).get("same", False)
        if faulted["status"] == "ok":
            mode += "-fit"
        outcome, why = _outcome(faulted, check, rerun, same, model=kind == "finetune")
        if faulted["status"] == "clean" and faulted.get("error") != "StorageError":
            outcome, why = "corrupted", f"not a StorageError: {faulted.get('error')}: {faulted.get('msg')}"
        if outcome != "corrupted" and leftovers(out):
            outcome, why = "corrupted", f"left behind: {leftovers(out)}"
        tally.add(outcome, mode, why)
        if mount:
            _umount(mnt)
        shutil.rmtree(mnt, ignore_errors=True)
    return tally


def _no_free_space_check():
    import ftgeo.extract.store as st
    st.check_free_space = lambda *a, **k: None


# ---- read-only
def _make_ro(folder: Path, how: str) -> None:
    if how == "mount":
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True, capture_output=True)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True, capture_output=True)
    elif how == "chmod":
        for p in [folder, *folder.rglob("*")]:
            if p.is_dir():
                p.chmod(0o555)


def _make_rw(folder: Path, how: str) -> None:
    if how == "mount":
        subprocess.run(["umount", str(folder)], check=False, capture_output=True)
    elif how == "chmod":
        for p in [folder, *folder.rglob("*")]:
            if p.is_dir():
                p.chmod(0o755)


def _inject_erofs(root: Path):
    """In a child: every write under ``root`` fails with EROFS (os.open, open, mkdir, mkstemp)."""
    import builtins
    import tempfile
    root = str(root.resolve())
    real_open, real_osopen, real_mkdir, real_mkstemp = builtins.open, os.open, os.mkdir, tempfile.mkstemp

    def under(p):
        try:
            return os.path.abspath(os.fspath(p)).startswith(root)
        except TypeError:
            return False

    def ro(p):
        raise OSError(errno.EROFS, "Read-only file system", os.fspath(p))

    builtins.open = lambda f, mode="r", *a, **k: ro(f) if (any(c in mode for c in "wax+") and under(f)) else \
        real_open(f, mode, *a, **k)
    os.open = lambda p, flags, *a, **k: ro(p) if (flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and under(p)) else \
        real_osopen(p, flags, *a, **k)
    os.mkdir = lambda p, *a, **k: ro(p) if under(p) else real_mkdir(p, *a, **k)
    tempfile.mkstemp = lambda *a, dir=None, **k: ro(dir) if dir is not None and under(dir) else \
        real_mkstemp(*a, dir=dir, **k)


def fault_read_only(trials: int, rng: random.Random, work: Path, model: str, ref: Path, ft_ref: Path, how: str,
                    log: Path) -> Tally:
    """A run folder with a complete store, an incomplete store and a complete fine-tuning run, made read-only."""
    tally = Tally("read-only")
    from ftgeo.run import RunDir
    for t in range(trials):
        run = RunDir(work / f"ro-{t}")
        run.ensure()
        done, part = run.reps / "done", run.reps / "part"
        assert child(job_extract, model, done, log=log)["status"] == "ok"
        child(job_extract, model, part, kill_at=rng.uniform(0.05, 0.6), setup=_kill_after_chunks(rng.randrange(1, 6)),
              log=log)
        ft = run.models / "ft"
        shutil.copytree(ft_ref, ft)
        _make_ro(run.root, how)
        setup = (lambda r=run.root: _inject_erofs(r)) if how == "inject" else None
        tries = [("read-complete-store", job_extract, done, {}), ("finish-partial-store", job_extract, part, {}),
                 ("new-store", job_extract, run.reps / "new", {}), ("read-complete-model", job_finetune, ft, {}),
                 ("new-model", job_finetune, run.models / "new", {})]
        for name, job, out, kw in tries:
            faulted = child(job, model, out, setup=setup, log=log, **kw)
            expect_ok = name.startswith("read")
            if faulted["status"] == "ok" and expect_ok:
                outcome, why = "resumed_identical", ""
            elif faulted["status"] == "clean" and faulted.get("one_line") and not expect_ok \
                    and faulted.get("error") == "StorageError":
                outcome, why = "clean_error", ""
            else:
                outcome, why = "corrupted", f"{name}: {faulted.get('status')} {faulted.get('error')}: {faulted.get('msg')}"
            tally.add(outcome, f"{how}-{name}", why)
        _make_rw(run.root, how)
        # writable again: everything completes and equals the references
        for out in (done, part, run.reps / "new"):
            r = child(job_extract, model, out, log=log)
            if r["status"] != "ok" or store_files(out) != store_files(ref):
                tally.failures.append(f"after making {out} writable: {r.get('status')} {r.get('msg')}")
                tally.counts["corrupted"] += 1
        for out in (ft, run.models / "new"):
            r = child(job_finetune, model, out, log=log)
            if r["status"] != "ok" or not child(compare_model, out, ft_ref, log=log).get("same"):
                tally.failures.append(f"after making {out} writable: {r.get('status')} {r.get('msg')}")
                tally.counts["corrupted"] += 1
        shutil.rmtree(run.root, ignore_errors=True)
    return tally


def _kill_after_chunks(n):
    def setup():
        from ftgeo.extract import core
        done = []

        def hook(k):
            done.append(k)
            if len(done) == n:
                die()
        core._after_chunk = hook
    return setup


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--faults", default="extract-kill,finetune-kill,analyze-kill,concurrent,full-disk,read-only")
    p.add_argument("--trials", default="extract-kill=30,finetune-kill=16,concurrent=14,full-disk=12,read-only=2",
                   help="trials per fault (name=N,...)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--disk", choices=["auto", "mount", "inject"], default="auto")
    p.add_argument("--ro", choices=["auto", "mount", "chmod", "inject"], default="auto")
    args = p.parse_args(argv)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "children.log"
    trials = {k: int(v) for k, v in (x.split("=") for x in args.trials.split(","))}
    faults = [f for f in args.faults.split(",") if f]
    rng = random.Random(args.seed)
    mount_ok = can_mount(work) if args.disk == "auto" or args.ro == "auto" else False
    disk_mode = {"auto": "mount" if mount_ok else "inject"}.get(args.disk, args.disk)
    ro_mode = {"auto": "mount" if mount_ok else ("chmod" if os.geteuid() != 0 else "inject")}.get(args.ro, args.ro)

    from ftgeo.testing.models import save_tiny
    model = str(work / "model")
    if not Path(model).exists():
        assert child(lambda: save_tiny(model, "bert", seed=4) and None, log=log)["status"] == "ok"
    refs = {}
    t0 = time.monotonic()
    for pooling in ("mean", "cls"):
        refs[pooling] = work / f"ref-{pooling}"
        shutil.rmtree(refs[pooling], ignore_errors=True)
        r = child(job_extract, model, refs[pooling], pooling=pooling, log=log)
        assert r["status"] == "ok", r
    t_ex = (time.monotonic() - t0) / 2
    big_ref = work / "ref-big"
    shutil.rmtree(big_ref, ignore_errors=True)
    assert child(job_extract, model, big_ref, n=300, log=log)["status"] == "ok"
    ft_ref = work / "ref-ft"
    ft_refs = {"0.001": ft_ref, "0.002": work / "ref-ft-lr2"}
    for lr, folder in ft_refs.items():
        shutil.rmtree(folder, ignore_errors=True)
        r = child(job_finetune, model, folder, learning_rate=float(lr), log=log)
        assert r["status"] == "ok", r
        t_ft = r["seconds"]
    ex_events = child(job_count, "extract", model, work / "count-ex", log=log)["events"]
    ft_events = child(job_count, "finetune", model, work / "count-ft", log=log)["events"]
    shutil.rmtree(work / "count-ex", ignore_errors=True)
    shutil.rmtree(work / "count-ft", ignore_errors=True)

    report = {"seed": args.seed, "disk_mode": disk_mode, "ro_mode": ro_mode,
              "reference_seconds": {"extract": round(t_ex, 2), "finetune": round(t_ft, 2)},
              "io_events": {"extract": len(ex_events), "finetune": len(ft_events)}, "faults": {}}
    for f in faults:
        n = trials.get(f, 0)
        if f == "extract-kill":
            tally = fault_kill("extract", n, rng, work, model, refs["mean"], t_ex, len(ex_events), log)
        elif f == "finetune-kill":
            tally = fault_kill("finetune", n, rng, work, model, ft_ref, t_ft, len(ft_events), log)
        elif f == "analyze-kill":
            inputs = _analysis_inputs(work, model, log)
            an_ref = work / "ref-analyze"
            shutil.rmtree(an_ref, ignore_errors=True)
            r = child(job_analyze, an_ref, inputs, log=log)
            assert r["status"] == "ok", r
            an_events = child(job_count_analyze, work / "count-an", inputs, log=log)["events"]
            shutil.rmtree(work / "count-an", ignore_errors=True)
            tally = fault_analyze_kill(n, rng, work, inputs, an_ref, r["seconds"], len(an_events), log)
        elif f == "concurrent":
            tally = fault_concurrent(n, rng, work, model, refs, ft_refs, t_ex, t_ft, log)
        elif f == "full-disk":
            tally = fault_full_disk(n, rng, work, model, big_ref, ft_ref, disk_mode == "mount", log)
        elif f == "read-only":
            tally = fault_read_only(n, rng, work, model, refs["mean"], ft_ref, ro_mode, log)
        else:
            raise SystemExit(f"unknown fault {f!r}")
        report["faults"][f] = tally.to_dict()
        print(json.dumps({f: tally.to_dict()}), file=sys.stderr, flush=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
