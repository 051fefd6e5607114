"""Typed, validated run specifications: CLI flags beat a config file, which beats defaults.

Each spec is a frozen dataclass deriving from :class:`Spec`. ``Spec.resolve(file, **flags)``
reads a YAML/TOML/JSON file, lays the non-``None`` CLI flags over it and validates every
field: an unknown key gets a "did you mean", a wrong type says which field and what it wants.
Concrete specs live next to the code that uses them (``ftgeo.extract.spec.ExtractSpec``,
``ftgeo.finetune.spec.FinetuneSpec``) and are re-exported here.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import re
import types
import typing
import warnings
from pathlib import Path
from typing import Any, Mapping

from ftgeo.errors import DataNotFoundError, ValidationError, decode_error_message, locate_decode_error


def param(default: Any = None, help: str = "", *, aliases: tuple[str, ...] = (), none: tuple[str, ...] = (),
          cli: bool = True, metavar: str | None = None) -> Any:
    """A spec field: its ``default``, one ``help`` line, deprecated ``aliases`` (old names that still
    work for one release, with a warning), and ``none`` words that mean ``None`` on the command line
    or in a config file (``--max-points all``). ``cli=False`` keeps a field out of the command line;
    ``metavar`` names the flag's value in ``--help`` (default: from the type)."""
    meta = {"help": help, "aliases": tuple(aliases), "none": tuple(w.lower() for w in none), "cli": cli,
            "metavar": metavar}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple (or None) as a spec default, not a mutable container")
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class Spec:
    """Base class: subclasses are frozen dataclasses; override :meth:`validate` for cross-field rules."""

    @classmethod
    def aliases(cls) -> dict[str, str]:
        """Deprecated name -> current field name (the fields' ``aliases``, see :func:`param`)."""
        return {a: f.name for f in dataclasses.fields(cls) for a in f.metadata.get("aliases", ())}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "config") -> "Spec":
        """Validate ``data`` into a spec: deprecated keys renamed (with a warning), ``none`` words mapped to
        None, unknown keys refused with a did-you-mean, every value coerced to its field's type."""
        if not isinstance(data, Mapping):
            raise ValidationError(f"{source}: {cls.__name__} settings must be a mapping (key: value); "
                                  f"got a {_kind(data)}")
        data = cls._renamed(dict(data), source)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = [k for k in data if k not in fields]
        if unknown:
            k = unknown[0]
            close = difflib.get_close_matches(str(k), list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValidationError(f"{source}: unknown {cls.__name__} field {k!r}{hint} "
                                  f"Fields: {', '.join(fields)}")
        hints = typing.get_type_hints(cls)
        kwargs = {k: _coerce(v, hints[k], f"{source}: {cls.__name__}.{k}") for k, v in data.items()}
        try:
            spec = cls(**kwargs)
        except TypeError as exc:
            raise ValidationError(f"{source}: {cls.__name__}: {exc}") from None
        spec.validate()
        return spec

    @classmethod
    def _renamed(cls, data: dict[str, Any], source: str) -> dict[str, Any]:
        for old, new in cls.aliases().items():
            if old in data:
                warnings.warn(f"{source}: {old!r} is deprecated; use {new!r}", FutureWarning, stacklevel=5)
                value = data.pop(old)
                data.setdefault(new, value)
        for f in dataclasses.fields(cls):
            v = data.get(f.name)
            if v is not None and not isinstance(v, bool) and str(v).strip().lower() in f.metadata.get("none", ()):
                data[f.name] = None
        return data

    @classmethod
    def resolve(cls, file: str | Path | None = None, *, section: str | None = None, **flags: Any) -> "Spec":
        """Defaults, then ``file`` (optionally one ``section`` of it), then non-``None`` ``flags``."""
        data: dict[str, Any] = {}
        if file is not None:
            loaded = load_config_file(file)
            if section is not None:
                loaded = loaded.get(section, {})
                if not isinstance(loaded, Mapping):
                    raise ValidationError(f"config file {file}: section {section!r} must be a mapping (key: value); "
                                          f"it holds a {_kind(loaded)}")
            data.update(loaded)
        data.update({k: v for k, v in flags.items() if v is not None})
        return cls.from_mapping(data, source=str(file) if file else "arguments")

    def validate(self) -> None:
        """Cross-field checks; raise :class:`ValidationError` with the fix."""

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()}

    def replace(self, **changes: Any) -> "Spec":
        return type(self).from_mapping({**self.to_dict(), **changes})


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (.yaml/.yml), TOML (.toml) or JSON (.json) mapping.

    Every problem is a one-line :class:`ValidationError` (:class:`DataNotFoundError` for a missing
    file) that names the file: a syntax error or a byte that is not UTF-8 as ``FILE:LINE:COLUMN: ...``,
    a top level that is not a mapping (a list, a scalar) or a non-text key with what was found.
    An empty file (or one holding only comments) is an empty mapping.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValidationError(f"config file {path} is a folder; pass a .yaml, .yml, .toml or .json file")
    if not path.is_file():
        raise DataNotFoundError(f"config file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml", ".json"):
        raise ValidationError(f"config file {path} must end in .yaml, .yml, .toml or .json")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = locate_decode_error(raw, exc)
        raise ValidationError(decode_error_message(f"{path}:{line}:{col}", exc)) from None
    data = _parse_config_text(text, suffix, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError(f"config file {path} must hold a mapping of settings (key: value) at the top level; "
                              f"it holds a {_kind(data)}")
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ValidationError(f"config file {path}: setting names must be text; got {bad[0]!r}")
    return data


def _parse_config_text(text: str, suffix: str, path: Path) -> Any:
    """Parse ``text`` by format; a syntax error becomes ``ValidationError("FILE:LINE:COLUMN: ...")``."""
    if suffix in (".yaml", ".yml"):
        import yaml
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
            problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
            context = getattr(exc, "context", None)
            raise ValidationError(f"{where}: YAML syntax error: {problem}"
                                  + (f" ({context})" if context else "")) from None
    if suffix == ".toml":
        import tomllib
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            msg, line, col = str(exc), getattr(exc, "lineno", None), getattr(exc, "colno", None)
            m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", msg)
            if m:
                msg, line, col = msg[:m.start()], line or int(m.group(1)), col or int(m.group(2))
            msg = getattr(exc, "msg", None) or msg
            where = f"{path}:{line}:{col}" if line else str(path)
            raise ValidationError(f"{where}: TOML syntax error: {msg}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (the file is empty)" if not text.strip() else ""
        raise ValidationError(f"{path}:{exc.lineno}:{exc.colno}: JSON syntax error: {exc.msg}{hint}") from None


def _kind(value: Any) -> str:
    return {list: "list", str: "text", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ValidationError as e:
                errors.append(str(e))
        raise ValidationError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ValidationError(f"{where} must be one of {list(args)}; got {value!r}")
        return value
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValidationError(f"{where} must be a list; got {value!r}")
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner, where) for v in value) if origin is tuple else [
            _coerce(v, inner, where) for v in value]
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise ValidationError(f"{where} must be a mapping; got {value!r}")
        return dict(value)
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ValidationError(f"{where} must be true or false; got {value!r}")
    if hint is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit())):
            raise ValidationError(f"{where} must be an integer; got {value!r}")
        return int(value)
    if hint is float:
        try:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        except (TypeError, ValueError):
            raise ValidationError(f"{where} must be a number; got {value!r}") from None
    if hint is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ValidationError(f"{where} must be a string; got {value!r}")
        return str(value)
    if hint is Path:
        if not isinstance(value, (str, Path)):
            raise ValidationError(f"{where} must be a path; got {value!r}")
        return Path(value)
    return value
