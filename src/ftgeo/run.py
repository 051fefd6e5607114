"""The folder layout of one ftgeo run (see DESIGN.md, "A run on disk"), and the names allowed in it.

Every name that becomes a folder or file inside a run (a result's name, a figure's stem, a
fine-tuned model's ``--name``) goes through :func:`check_name`: not empty, no path separator,
not ``.`` or ``..``, no NUL -- so no name can write outside the run folder.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftgeo.errors import ValidationError


def check_name(name: Any, what: str = "name") -> str:
    """``name`` if it is a single, non-empty path component; else a ``ValidationError`` saying why."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"{what} must be a non-empty name; got {name!r}")
    seps = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    bad = sorted(s for s in seps if s in name)
    if bad or name in (".", "..") or "\0" in name:
        why = f"contains {bad[0]!r}" if bad else ("is a NUL-containing name" if "\0" in name else f"is {name!r}")
        raise ValidationError(f"{what} {name!r} {why}: it must be a plain name (no path separators, not '.' or "
                              "'..'), so that nothing is written outside the run folder")
    return name


def slug(s: Any) -> str:
    """A file-name-safe version of ``s`` (runs of other characters become ``-``)."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "-", str(s)).strip("-") or "x"


def is_run_folder(out) -> bool:
    """True for a :class:`RunDir` or an existing folder with ``reps/``, ``models/`` or ``config.yaml``
    (and no ``manifest.json`` of its own, which would make it a store)."""
    if isinstance(out, RunDir):
        return True
    p = Path(out)
    if (p / "manifest.json").is_file():
        return False
    return (p / "reps").is_dir() or (p / "config.yaml").is_file() or (p / "models").is_dir()


@dataclass(frozen=True)
class RunDir:
    """``runs/<name>/`` with ``config.yaml``, ``models/``, ``reps/``, ``results/``, ``figures/``, ``report.html``."""

    root: Path

    def __init__(self, root: str | Path):
        object.__setattr__(self, "root", Path(root))

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def reps(self) -> Path:
        return self.root / "reps"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    def result_dir(self, name: str) -> Path:
        return self.results / check_name(name, "result name")

    def figure_stem(self, name: str) -> Path:
        check_name(name, "figure name")
        self.figures.mkdir(parents=True, exist_ok=True)
        return self.figures / name

    def model_dir(self, name: str) -> Path:
        """``models/<name>``: a fine-tuned model's folder."""
        return self.models / check_name(name, "model folder name")

    def ensure(self) -> "RunDir":
        for p in (self.models, self.reps, self.results, self.figures):
            p.mkdir(parents=True, exist_ok=True)
        return self
