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
import types
import typing
from pathlib import Path
from typing import Any, Mapping

from ftgeo.errors import DataNotFoundError, ValidationError


@dataclasses.dataclass(frozen=True)
class Spec:
    """Base class: subclasses are frozen dataclasses; override :meth:`validate` for cross-field rules."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "config") -> "Spec":
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = [k for k in data if k not in fields]
        if unknown:
            k = unknown[0]
            close = difflib.get_close_matches(k, list(fields), n=1)
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
    def resolve(cls, file: str | Path | None = None, *, section: str | None = None, **flags: Any) -> "Spec":
        """Defaults, then ``file`` (optionally one ``section`` of it), then non-``None`` ``flags``."""
        data: dict[str, Any] = {}
        if file is not None:
            loaded = load_config_file(file)
            if section is not None:
                loaded = loaded.get(section, {})
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
    """Read a YAML (.yaml/.yml), TOML (.toml) or JSON (.json) mapping."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"config file {path} does not exist")
    text = path.read_text()
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        import yaml
        data = yaml.safe_load(text) or {}
    elif suffix == ".toml":
        import tomllib
        data = tomllib.loads(text)
    elif suffix == ".json":
        data = json.loads(text)
    else:
        raise ValidationError(f"config file {path} must end in .yaml, .yml, .toml or .json")
    if not isinstance(data, dict):
        raise ValidationError(f"config file {path} must hold a mapping at the top level")
    return data


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
            value = [v for v in value.split(",") if v.strip()]
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
