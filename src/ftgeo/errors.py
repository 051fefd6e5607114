"""Exceptions raised by ftgeo.

Every error says what was wrong and how to fix it. They subclass the built-in
exception a user would expect (``ValueError``, ``KeyError``, ``FileNotFoundError``)
so ``except ValueError`` keeps working.
"""
from __future__ import annotations


class FtgeoError(Exception):
    """Base class of every ftgeo error."""


class ValidationError(FtgeoError, ValueError):
    """Bad input at a boundary: a config value, an array, a file's content."""


class UnknownNameError(FtgeoError, KeyError):
    """A registry lookup failed (unknown task, model, analysis, recipe...)."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that
        return str(self.args[0]) if self.args else ""


class DataNotFoundError(FtgeoError, FileNotFoundError):
    """A data file or split that should exist does not."""


class OfflineError(FtgeoError, OSError):
    """Something needed the network (a hub download) and the network is not there."""


class ManifestMismatchError(FtgeoError, ValueError):
    """An on-disk store was written with different settings than those requested."""


# The estimators' two errors subclass scikit-learn's exceptions as well as ValidationError, so they
# live next to the estimator base class (ftgeo.analysis._base) and are imported from there on first
# use: importing this module must not import scikit-learn (``ftgeo --help`` stays instant).
#   InvalidParameterError(ValidationError, sklearn InvalidParameterError): a parameter outside its
#       constraints, raised by ``fit``.
#   NotFittedError(ValidationError, sklearn NotFittedError): a method that needs ``fit`` first.
_LAZY = {"InvalidParameterError", "NotFittedError"}


def __getattr__(name: str):
    if name in _LAZY:
        from ftgeo.analysis import _base
        return getattr(_base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------- exit codes
EXIT_OK = 0
EXIT_FAILURE = 1        # the command could not finish: disk full, I/O error, out of memory, or a bug
EXIT_BAD_INPUT = 2      # the input is wrong (arguments, names, files, configs, paths); fix it and rerun
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away, e.g. `ftgeo list tasks | head -1` (128 + SIGPIPE)


# ----------------------------------------------------------------------------- decode errors
def locate_decode_error(data: bytes, exc: UnicodeDecodeError) -> tuple[int, int]:
    """(line, column), both 1-based, of the first undecodable byte of ``data`` (``exc.start``).

    The column counts characters, so a bad byte after ``"café "`` is column 6.
    """
    start = min(max(exc.start, 0), len(data))
    line_start = data.rfind(b"\n", 0, start) + 1
    column = len(data[line_start:start].decode(exc.encoding, errors="replace")) + 1
    return data.count(b"\n", 0, start) + 1, column


def decode_error_message(where: str, exc: UnicodeDecodeError) -> str:
    """``"<where>: byte 0xe9 is not valid UTF-8 (...); re-encode the file as UTF-8 ..."``; ``where`` is
    ``path:line`` or ``path:line:column``."""
    bad = exc.object[exc.start:exc.start + 1] if isinstance(exc.object, (bytes, bytearray)) else b""
    enc = "UTF-8" if exc.encoding.replace("_", "-").lower().startswith("utf-8") else exc.encoding
    byte = f"byte 0x{bad[0]:02x}" if bad else "a byte"
    return (f"{where}: {byte} is not valid {enc} ({exc.reason}); re-encode the file as UTF-8, "
            "e.g. `iconv -f latin1 -t utf-8 IN > OUT`")


# ----------------------------------------------------------------------------- the CLI's view
def explain(exc: BaseException) -> tuple[str, int, bool]:
    """What the ``ftgeo`` command prints for an exception that reached it: (one line, exit code, expected).

    ``expected`` is False for exceptions that point at a bug (or an input nobody checks yet);
    the CLI then adds a request to rerun with ``--debug`` and report it.

    * :class:`FtgeoError`: its message; exit 2 (bad input).
    * ``UnicodeDecodeError``, YAML/TOML/JSON syntax errors that no loader turned into a
      ``ValidationError``: what and where; exit 2.
    * ``OSError`` by ``errno``: a missing path, a folder where a file was expected, permission denied,
      a read-only file system: exit 2 (choose another path); a full disk or quota: exit 1 with where
      to free space; any other OS error: exit 1.
    * ``MemoryError`` and torch's out-of-memory errors: exit 1 with what to reduce.
    * anything else: ``internal error (Type: its message)``; exit 1, not expected.
    """
    if isinstance(exc, FtgeoError):
        return _one_line(str(exc)) or type(exc).__name__, EXIT_BAD_INPUT, True
    if isinstance(exc, UnicodeDecodeError):
        bad = exc.object[exc.start:exc.start + 1] if isinstance(exc.object, (bytes, bytearray)) else b""
        byte = f"byte 0x{bad[0]:02x}" if bad else "a byte"
        return (f"a file is not valid {exc.encoding} text ({byte} at offset {exc.start}: {exc.reason}); re-encode it "
                "as UTF-8 (rerun with --debug to see which file)", EXIT_BAD_INPUT, True)
    syntax = _syntax_error(exc)
    if syntax is not None:
        return syntax, EXIT_BAD_INPUT, True
    if isinstance(exc, OSError):
        return _os_error(exc)
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return ("out of memory; use a smaller --batch-size, --max-length or --max-examples, or a machine with "
                "more memory", EXIT_FAILURE, True)
    first = _one_line(str(exc))
    what = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return (f"internal error ({what}); a bug in ftgeo or an input it does not check yet", EXIT_FAILURE, False)


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " ".join(lines) if len(lines) <= 3 and sum(map(len, lines)) < 400 else (lines[0] if lines else "")


def _syntax_error(exc: BaseException) -> str | None:
    """YAML/TOML/JSON parse errors raised outside :func:`ftgeo.config.load_config_file` (no file name)."""
    module = type(exc).__module__ or ""
    if module.startswith("yaml"):
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or _one_line(str(exc))
        return f"YAML syntax error{where}: {problem}"
    name = type(exc).__name__
    if name == "TOMLDecodeError":
        return f"TOML syntax error: {_one_line(str(exc))}"
    if name == "JSONDecodeError":
        return f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}"  # type: ignore[attr-defined]
    return None


def _file_on_path(path: str) -> str | None:
    """The first ancestor of ``path`` (or ``path`` itself) that exists and is not a folder."""
    import os
    parts = []
    p = os.path.abspath(path)
    while True:
        parts.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    return next((q for q in reversed(parts) if os.path.exists(q) and not os.path.isdir(q)), None)


def _os_error(exc: OSError) -> tuple[str, int, bool]:
    import errno
    import os
    path = exc.filename if exc.filename is not None else None
    path = os.fsdecode(path) if isinstance(path, (bytes, str)) else (str(path) if path is not None else None)
    folder = os.path.dirname(os.path.abspath(path)) if path else None
    reason = exc.strerror or _one_line(str(exc)) or type(exc).__name__
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        what = "disk full" if code == errno.ENOSPC else "disk quota exceeded"
        where = f" while writing {path}: free space under {folder} (`df -h {folder}`)" if path else \
            ": free space on the disk of the output folder"
        return f"{what}{where}, or choose an output folder on another disk (--run/--out)", EXIT_FAILURE, True
    if code == errno.EROFS:
        return (f"cannot write {path or 'the output'}: read-only file system; choose another output folder "
                "(--run/--out)", EXIT_BAD_INPUT, True)
    if code in (errno.EACCES, errno.EPERM):
        return (f"permission denied: {path or reason}; choose another path (e.g. another --run/--out folder) or "
                "fix its permissions", EXIT_BAD_INPUT, True)
    if code == errno.ENOENT:
        return f"no such file or folder: {path or reason}", EXIT_BAD_INPUT, True
    if code == errno.ENOTDIR:
        blocker = _file_on_path(path) if path else None
        if blocker is not None:
            return (f"{blocker} is a file, but {path} needs it to be a folder; choose another path "
                    "(e.g. another --run/--out folder)", EXIT_BAD_INPUT, True)
        return f"not a folder: {path or reason} (a part of this path is a file)", EXIT_BAD_INPUT, True
    if code == errno.EEXIST:
        return f"{path or 'the path'} already exists and is in the way; remove it or choose another path", \
            EXIT_BAD_INPUT, True
    if code == errno.EISDIR:
        return f"{path or 'the path'} is a folder; expected a file", EXIT_BAD_INPUT, True
    if code == errno.ENAMETOOLONG:
        return f"file name too long: {path or reason}", EXIT_BAD_INPUT, True
    if code == errno.EMFILE:
        return "too many open files; raise the limit (`ulimit -n 4096`) and rerun", EXIT_FAILURE, True
    return (f"{reason}: {path}" if path else reason), EXIT_FAILURE, True
