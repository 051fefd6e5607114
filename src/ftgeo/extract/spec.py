"""``ExtractSpec``: the validated settings of one ``ftgeo extract`` call (config file or CLI)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ftgeo.config import Spec
from ftgeo.errors import ValidationError

Pooling = Literal["last", "cls", "mean", "word", "pair"]


@dataclass(frozen=True)
class ExtractSpec(Spec):
    """What to extract and where.

    ``model`` is a packaged name, a HF folder or a hub id; ``task`` a registered task name;
    ``out`` a store folder or ``run`` a run folder (store in ``run/reps/<key>``); exactly one.
    """

    model: str = ""
    task: str = ""
    split: str = "dev"
    pooling: Pooling = "mean"
    data_root: str | None = None
    run: str | None = None
    out: str | None = None
    checkpoint: str | None = None
    max_length: int = 128
    batch_size: int = 32
    dtype: Literal["float16", "float32"] = "float16"
    max_examples: int | None = None
    chunk_size: int = 1024
    overwrite: bool = False
    lock_timeout: float = 0.0

    def validate(self) -> None:
        if not self.model:
            raise ValidationError("ExtractSpec.model is required (a packaged name, a model folder or a hub id)")
        if not self.task:
            raise ValidationError("ExtractSpec.task is required (see `ftgeo list tasks`)")
        if (self.run is None) == (self.out is None):
            raise ValidationError("give exactly one of run (a run folder) or out (a store folder)")
        for name in ("max_length", "batch_size", "chunk_size"):
            if getattr(self, name) < 1:
                raise ValidationError(f"ExtractSpec.{name} must be >= 1; got {getattr(self, name)}")
        if self.max_examples is not None and self.max_examples < 1:
            raise ValidationError(f"ExtractSpec.max_examples must be >= 1; got {self.max_examples}")
        if self.lock_timeout < 0:
            raise ValidationError(f"ExtractSpec.lock_timeout must be >= 0 seconds; got {self.lock_timeout}")

    def extract_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`ftgeo.extract.extract` (model, task, split positional)."""
        from ftgeo.run import RunDir
        return dict(pooling=self.pooling, out=RunDir(self.run) if self.run is not None else self.out,
                    max_length=self.max_length, batch_size=self.batch_size, dtype=self.dtype,
                    checkpoint=self.checkpoint, max_examples=self.max_examples, data_root=self.data_root,
                    overwrite=self.overwrite, chunk_size=self.chunk_size, lock_timeout=self.lock_timeout)

    def run_extract(self, *, progress: bool = True):
        from ftgeo.extract.core import extract
        return extract(self.model, self.task, self.split, progress=progress, **self.extract_kwargs())
