"""One generic name -> object registry with lazy entries and "did you mean" errors.

Modelled on lm-evaluation-harness: every task, model alias, analysis and recipe is
looked up through a :class:`Registry`, so an unknown name always fails the same way::

    >>> r = Registry("task")
    >>> r.register("sst2", object())
    >>> r.get("sts2")
    Traceback (most recent call last):
    ...
    ftgeo.errors.UnknownNameError: unknown task 'sts2'; did you mean 'sst2'? Known: sst2
"""
from __future__ import annotations

import difflib
import importlib
from typing import Any, Generic, Iterator, TypeVar

from ftgeo.errors import UnknownNameError, ValidationError

T = TypeVar("T")


class _Lazy:
    __slots__ = ("target",)

    def __init__(self, target: str):
        if ":" not in target:
            raise ValidationError(f"lazy registry target {target!r} must look like 'package.module:attribute'")
        self.target = target

    def resolve(self) -> Any:
        module, attr = self.target.split(":", 1)
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj


class Registry(Generic[T]):
    """Map names to objects; entries may be ``"module:attr"`` strings resolved on first use."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Any] = {}
        self._help: dict[str, str] = {}

    def register(self, name: str, obj: T | None = None, *, lazy: str | None = None, help: str = "") -> Any:
        """Register ``obj`` (or a lazy ``"module:attr"``) under ``name``; usable as a decorator."""
        if (obj is None) == (lazy is None):
            if obj is None:  # decorator form
                def deco(o: T) -> T:
                    self.register(name, o, help=help)
                    return o
                return deco
            raise ValidationError("register() takes either an object or lazy='module:attr', not both")
        if name in self._entries:
            raise ValidationError(f"{self.kind} {name!r} is already registered; pick another name")
        self._entries[name] = _Lazy(lazy) if lazy is not None else obj
        self._help[name] = help
        return obj

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise UnknownNameError(self.unknown_message(name))
        entry = self._entries[name]
        if isinstance(entry, _Lazy):
            entry = entry.resolve()
            self._entries[name] = entry
        return entry

    def unknown_message(self, name: str) -> str:
        known = sorted(self._entries)
        close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else "."
        return f"unknown {self.kind} {name!r}{hint} Known: {', '.join(known)}"

    def help(self, name: str) -> str:
        self.get(name)
        return self._help.get(name, "")

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
