"""``ExtractSpec``: the validated settings of one ``ftgeo extract`` call (config file or CLI)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Union

from ftgeo.config import Spec, param
from ftgeo.errors import ValidationError

Pooling = Literal["last", "cls", "mean", "word", "pair"]
#: a layer selection, as in the analyses' ``--layers`` (plus ``every:K``): None/all, an index, a list, a string
Layers = Union[int, list[int], str, None]


@dataclass(frozen=True)
class ExtractSpec(Spec):
    """What to extract and where.

    ``model`` is a packaged name, a HF folder or a hub id; ``task`` a registered task name;
    ``out`` a store folder or ``run`` a run folder (store in ``run/reps/<key>``); exactly one.
    """

    model: str = param("", "packaged name (ftgeo list models), model folder or hub id")
    task: str = param("", "task name (ftgeo list tasks)")
    split: str = param("dev", "split to extract")
    pooling: str = param("mean", "last (decoders), cls (encoders), mean, word (token tasks), pair (head+dependent); "
                                 "a comma list (last,mean) makes one store per pooling from one pass (needs --run)",
                         metavar="NAME[,NAME]")
    data_root: str | None = param(None, "folder with the local datasets (default: $FTGEO_DATA_ROOT)", metavar="DIR")
    run: str | None = param(None, "run folder: the store goes to RUN/reps/<key> (or give --out)", metavar="DIR")
    out: str | None = param(None, "the store folder itself (or give --run)", metavar="DIR")
    checkpoint: str | None = param(None, "label of the model checkpoint (recorded in the manifest)")
    random_init: int | None = param(None, "the random-init baseline: the same architecture with weights re-initialised "
                                          "from this seed (the model becomes NAME[random_init=SEED])",
                                    metavar="SEED", none=("none",))
    max_length: int = param(128, "truncate inputs to this many tokens")
    batch_size: int = param(32, "examples per forward pass")
    dtype: Literal["float16", "float32"] = param("float16", "storage dtype")
    max_examples: int | None = param(None, "keep only the first N examples (default: all)")
    chunk_size: int = param(1024, "rows per resumable chunk")
    overwrite: bool = param(False, "replace a store written with other settings (only the files ftgeo wrote)")
    lock_timeout: float = param(0.0, "wait up to this many seconds for another ftgeo process writing the same "
                                     "folder (0: fail at once)", metavar="SECONDS")
    layers: Layers = param("all", "layers to keep, in the model's numbering (0 = embeddings): all, 0,8,16,24,32, a "
                                  "range 0-4, every:4 (0, 4, 8, ... and the last), last, -1")
    model_dtype: Literal["auto", "float32", "bfloat16", "float16"] = param(
        "auto", "dtype the model runs in: auto = bfloat16 on a GPU, float32 on the CPU")
    device_map: Literal["auto"] | None = param(None, "auto: spread a model too large for one device over the GPUs "
                                                     "(and the CPU) with Accelerate; one process", none=("none",))

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
        if self.random_init is not None and self.random_init < 0:
            raise ValidationError(f"ExtractSpec.random_init must be a seed >= 0; got {self.random_init}")
        if self.lock_timeout < 0:
            raise ValidationError(f"ExtractSpec.lock_timeout must be >= 0 seconds; got {self.lock_timeout}")
        from ftgeo.extract.pooling import POOLINGS
        names = self.poolings()
        bad = [p for p in names if p not in POOLINGS]
        if bad or not names:
            raise ValidationError(f"ExtractSpec.pooling must be one of {list(POOLINGS)} (or a comma list of them); "
                                  f"got {self.pooling!r}")
        if len(names) > 1 and self.out is not None:
            raise ValidationError(f"ExtractSpec.pooling={self.pooling!r} makes one store per pooling: give a run "
                                  "folder (run, CLI --run) instead of out")

    def poolings(self) -> list[str]:
        return [p.strip() for p in str(self.pooling).split(",") if p.strip()]

    def extract_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`ftgeo.extract.extract` (model, task, split positional)."""
        from ftgeo.run import RunDir
        names = self.poolings()
        return dict(pooling=names[0] if len(names) == 1 else names,
                    out=RunDir(self.run) if self.run is not None else self.out, layers=self.layers,
                    model_dtype=self.model_dtype, device_map=self.device_map,
                    max_length=self.max_length, batch_size=self.batch_size, dtype=self.dtype,
                    checkpoint=self.checkpoint, max_examples=self.max_examples, data_root=self.data_root,
                    overwrite=self.overwrite, chunk_size=self.chunk_size, lock_timeout=self.lock_timeout)

    def model_name(self) -> str:
        """``model``, with the ``[random_init=SEED]`` suffix when ``random_init`` is set."""
        from ftgeo.models import random_init_name
        return random_init_name(self.model, self.random_init)

    def run_extract(self, *, progress: bool = True):
        from ftgeo.extract.core import extract
        return extract(self.model_name(), self.task, self.split, progress=progress, **self.extract_kwargs())
