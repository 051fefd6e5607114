"""The folder layout of one ftgeo run (see DESIGN.md, "A run on disk")."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
        return self.results / name

    def figure_stem(self, name: str) -> Path:
        self.figures.mkdir(parents=True, exist_ok=True)
        return self.figures / name

    def ensure(self) -> "RunDir":
        for p in (self.models, self.reps, self.results, self.figures):
            p.mkdir(parents=True, exist_ok=True)
        return self
