"""An advisory lock per output folder (a representation store, a fine-tuning model folder).

``FolderLock(folder)`` owns ``<folder>/.ftgeo.lock`` while a writer works in ``folder``:

* the lock is an exclusive ``flock`` on that file, so the kernel releases it when its owner dies
  (``kill -9`` included) -- nothing has to guess whether a process is still alive;
* the file holds the owner's pid, host, start time and purpose (JSON), for the message a second
  writer gets: ``... is locked by pid 4711 on host h since 2026-11-29T20:01:02+00:00 (extract);
  wait for it to finish, or pass lock_timeout=SECONDS (CLI --lock-timeout) to wait for it``;
* a lock file left by a dead owner is taken over, with a note (a ``RuntimeWarning``) naming it;
* on release the file is deleted (then unlocked); an acquirer checks that the file it locked is
  still the one at the path, so the deletion cannot let two owners in;
* where ``flock`` is not supported (some network file systems), the file is created with
  ``O_EXCL`` instead and a lock of a dead process on the same host is taken over.

A second writer fails at once (``timeout=0``, the default) or polls until ``timeout`` seconds
have passed. Readers never lock: a complete store or run is read without it.
"""
from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import socket
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from ftgeo.errors import FtgeoError

LOCK_NAME = ".ftgeo.lock"
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


class LockHeldError(FtgeoError, RuntimeError):
    """Another process is writing to the same folder."""

    def __init__(self, message: str, holder: dict[str, Any] | None = None):
        super().__init__(message)
        self.holder = holder or {}


def describe_holder(info: dict[str, Any]) -> str:
    if not info:
        return "another process (it has not written its name yet)"
    what = f" ({info['purpose']})" if info.get("purpose") else ""
    return f"pid {info.get('pid')} on host {info.get('host')} since {info.get('since')}{what}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_info(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError:
        return {}
    try:
        info = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


class FolderLock:
    """Exclusive advisory lock of ``folder`` (see the module docstring). Use as a context manager."""

    def __init__(self, folder: str | os.PathLike, *, purpose: str = "", timeout: float = 0.0,
                 poll: float = 0.2):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.purpose = purpose
        self.timeout = float(timeout or 0.0)
        self.poll = poll
        self.took_over: dict[str, Any] | None = None
        self._fd: int | None = None
        self._made_folder = False

    # ------------------------------------------------------------------ public
    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "FolderLock":
        if self._fd is not None:
            return self
        if not self.folder.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            self._made_folder = True
        deadline = time.monotonic() + self.timeout
        while True:
            holder = self._try()
            if holder is None:
                return self
            if time.monotonic() >= deadline:
                self._cleanup_folder()
                raise LockHeldError(
                    f"{self.folder} is locked by {describe_holder(holder)}: another ftgeo process is writing "
                    + ("there" if not self.timeout else f"there (waited {self.timeout:g} s)")
                    + "; wait for it to finish, or pass lock_timeout=SECONDS (CLI --lock-timeout) to wait for it",
                    holder)
            time.sleep(min(self.poll, max(deadline - time.monotonic(), 0.01)))

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            self.path.unlink(missing_ok=True)  # delete first, then unlock (see _try's inode check)
        except OSError:  # a folder that became read-only: leave an empty lock file (no owner to take over)
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
        finally:
            os.close(fd)  # closing releases the flock
        self._cleanup_folder()

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    # ------------------------------------------------------------------ internals
    def _cleanup_folder(self) -> None:
        """Remove the folder again if this lock created it and nothing else was written there."""
        if self._made_folder:
            try:
                self.folder.rmdir()
            except OSError:
                pass

    def _info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "host": socket.gethostname(), "purpose": self.purpose,
                "since": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "argv": " ".join(sys.argv[:4])[:200]}

    def _try(self) -> dict[str, Any] | None:
        """Take the lock: None on success, else the holder's info."""
        if fcntl is None:
            return self._try_exclusive()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # the folder was removed meanwhile (a releasing owner that had made it)
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return _read_info(self.path)
            if exc.errno in _NO_FLOCK:
                return self._try_exclusive()
            raise
        # the file we locked must still be the one at the path (a releasing owner deletes it)
        try:
            same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            return self._try()
        old = _read_info(self.path)
        if old:  # a lock file whose owner died without releasing it
            self._note_takeover(old)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(self._info()).encode(), 0)
        self._fd = fd
        return None

    def _try_exclusive(self) -> dict[str, Any] | None:
        """Fallback without flock: create the file with O_EXCL; take over a dead local owner's file."""
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                old = _read_info(self.path)
                if old.get("host") == socket.gethostname() and isinstance(old.get("pid"), int) \
                        and not _pid_alive(old["pid"]):
                    self._note_takeover(old)
                    self.path.unlink(missing_ok=True)
                    continue
                return old
            os.write(fd, json.dumps(self._info()).encode())
            self._fd = fd
            return None
        return _read_info(self.path)

    def _note_takeover(self, old: dict[str, Any]) -> None:
        self.took_over = old
        warnings.warn(f"ftgeo: took over the lock of {self.folder} left by {describe_holder(old)}, "
                      "which is no longer running", RuntimeWarning, stacklevel=4)


def lock_folder(folder: str | os.PathLike, *, purpose: str = "", timeout: float = 0.0) -> FolderLock:
    """An acquired :class:`FolderLock` of ``folder`` (release it, or use ``with lock_folder(...):``)."""
    return FolderLock(folder, purpose=purpose, timeout=timeout).acquire()
