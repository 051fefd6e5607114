"""Hugging Face hub datasets through the `datasets` package, as ordinary :class:`Task` objects.

>>> load_task("glue/sst2")                      # doctest: +SKIP  (needs `datasets` and the network)
>>> load_task("sst2", source="hub")             # doctest: +SKIP  the registered task, hub copy
>>> load_task("hub:some/dataset", text_column="review", label_column="stars")   # doctest: +SKIP

* Known ids: ``glue/<config>`` (``nyu-mll/glue``), ``imdb`` (``stanfordnlp/imdb``), ``ag_news``
  (``fancyzhx/ag_news``), ``dbpedia_14`` (``fancyzhx/dbpedia_14``; text = title + " " + content),
  ``trec`` (``CogComp/trec``); any other id is passed to ``datasets.load_dataset`` as it is.
* Text columns are found automatically (``sentence1``/``sentence2``, ``premise``/``hypothesis``,
  ``question``/``sentence``, ``question1``/``question2``, else ``text``, ``sentence``, ``content``,
  ``review``) or given with ``text_column``/``text_pair_column`` (a tuple joins several columns
  with a space). The label is the first ``ClassLabel`` column, or ``label_column``; the vocabulary
  is the ``ClassLabel`` names (else the sorted distinct values).
* The split ``validation`` is renamed ``dev``; splits whose labels are all -1 (GLUE test, IMDB
  ``unsupervised``) are left out.
* Without the `datasets` package, or offline (``HF_HUB_OFFLINE=1`` / ``HF_DATASETS_OFFLINE=1``)
  with nothing cached, loading raises :class:`~ftgeo.errors.OfflineError` with one line.
"""
from __future__ import annotations

import importlib.util
from typing import Sequence

from ftgeo.data._common import FileTask, RawExample, env_flag
from ftgeo.errors import DataNotFoundError, OfflineError, ValidationError

KNOWN = {
    "imdb": ("stanfordnlp/imdb", None, {}),
    "ag_news": ("fancyzhx/ag_news", None, {}),
    "dbpedia_14": ("fancyzhx/dbpedia_14", None, {"text_column": ("title", "content")}),
    "trec": ("CogComp/trec", None, {"label_column": "coarse_label"}),
}
_PAIRS = (("sentence1", "sentence2"), ("premise", "hypothesis"), ("question", "sentence"), ("question1", "question2"))
_SINGLES = ("text", "sentence", "content", "review", "question", "document")
_RENAME = {"validation": "dev"}


def _offline() -> bool:
    return env_flag("HF_HUB_OFFLINE") or env_flag("HF_DATASETS_OFFLINE")


def _has_datasets() -> bool:
    return importlib.util.find_spec("datasets") is not None


def hub_available() -> bool:
    """True when `datasets` is installed, no offline flag is set and the hub answers one quick request
    (:func:`ftgeo._hub.unreachable_reason`; used by ``source="auto"``)."""
    if not _has_datasets() or _offline():
        return False
    from ftgeo._hub import unreachable_reason
    return unreachable_reason() is None


def resolve_id(hub_id: str) -> tuple[str, str | None, dict]:
    """(path, config, default options) for a hub id such as ``glue/sst2`` or ``imdb``."""
    if hub_id in KNOWN:
        return KNOWN[hub_id]
    if hub_id.startswith("glue/") and hub_id.count("/") == 1:
        return "nyu-mll/glue", hub_id.split("/", 1)[1], {}
    return hub_id, None, {}


def _is_network_error(exc: BaseException) -> bool:
    names = " ".join(c.__name__ for c in type(exc).__mro__).lower()
    text = str(exc).lower()
    return (isinstance(exc, (ConnectionError, TimeoutError)) or "connection" in names or "timeout" in names
            or "offline" in names or "offline" in text or "couldn't reach" in text or "connection" in text)


def _pick_columns(columns: Sequence[str], text_column, text_pair_column, hub_id: str):
    if text_column is None:
        for a, b in _PAIRS:
            if a in columns and b in columns:
                text_column, text_pair_column = a, (text_pair_column or b)
                break
        else:
            text_column = next((c for c in _SINGLES if c in columns), None)
            if text_column is None:
                raise ValidationError(f"hub dataset {hub_id!r}: cannot tell which column is the text; pass "
                                      f"text_column=... (columns: {', '.join(columns)})")
    for what, col in (("text_column", text_column), ("text_pair_column", text_pair_column)):
        for c in ((col,) if isinstance(col, str) else (col or ())):
            if c not in columns:
                raise ValidationError(f"hub dataset {hub_id!r}: {what}={c!r} is not a column "
                                      f"(columns: {', '.join(columns)})")
    return text_column, text_pair_column


def _join(row: dict, col) -> str | None:
    if col is None:
        return None
    if isinstance(col, str):
        return str(row[col])
    return " ".join(str(row[c]) for c in col).strip()


def load_hub(hub_id: str, *, task_name: str | None = None, config: str | None = None,
             text_column: str | Sequence[str] | None = None, text_pair_column: str | Sequence[str] | None = None,
             label_column: str | None = None, revision: str | None = None) -> FileTask:
    """Download (or read from the `datasets` cache) ``hub_id`` and wrap it as a task."""
    path, default_config, defaults = resolve_id(hub_id)
    config = config if config is not None else default_config
    text_column = text_column if text_column is not None else defaults.get("text_column")
    label_column = label_column if label_column is not None else defaults.get("label_column")
    where = f"{path}" + (f" ({config})" if config else "")
    local_hint = "or use the local copy (source='local', data_root=...)" if task_name and task_name != hub_id \
        else "or use a local file (load_task('file:PATH', ...))"
    if not _has_datasets():
        raise OfflineError(f"loading {hub_id!r} from the Hugging Face hub needs the `datasets` package "
                           f"(pip install datasets), {local_hint}.")
    import datasets

    offline = _offline()
    try:
        dd = datasets.load_dataset(path, config, revision=revision)
    except Exception as exc:  # noqa: BLE001 - mapped to one clear error below
        if offline or _is_network_error(exc):
            why = "offline mode (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set)" if offline else "the hub is unreachable"
            raise OfflineError(f"cannot load {hub_id!r} ({where}) from the Hugging Face hub: {why} and it is not in "
                               f"the local `datasets` cache; go online, {local_hint}.") from None
        if type(exc).__name__ in ("DatasetNotFoundError", "FileNotFoundError"):
            raise DataNotFoundError(f"hub dataset {where} was not found: {str(exc).splitlines()[0]}") from None
        raise
    if not isinstance(dd, datasets.DatasetDict):
        dd = datasets.DatasetDict({"train": dd})
    return task_from_datasetdict(dd, name=task_name or hub_id, hub_id=hub_id, text_column=text_column,
                                 text_pair_column=text_pair_column, label_column=label_column)


def task_from_datasetdict(dd, *, name: str, hub_id: str, text_column=None, text_pair_column=None,
                          label_column: str | None = None) -> FileTask:
    """Wrap a ``datasets.DatasetDict`` as a :class:`FileTask` (see the module docstring for the rules)."""
    from datasets import ClassLabel

    first = next(iter(dd.values()))
    columns = list(first.column_names)
    features = first.features
    text_column, text_pair_column = _pick_columns(columns, text_column, text_pair_column, hub_id)
    if label_column is None:
        label_column = next((c for c in columns if isinstance(features[c], ClassLabel)), None)
        if label_column is None and "label" in columns:
            label_column = "label"
    elif label_column not in columns:
        raise ValidationError(f"hub dataset {hub_id!r}: label_column={label_column!r} is not a column "
                              f"(columns: {', '.join(columns)})")
    if label_column is None:
        kind, names = "unlabelled", None
    else:
        kind = "pair" if text_pair_column else "sentence"
        feat = features[label_column]
        names = list(feat.names) if isinstance(feat, ClassLabel) else None

    readers = {}
    for split, ds in dd.items():
        if label_column is not None:
            labels = ds[label_column]
            if all(y == -1 for y in labels):
                continue  # unlabelled split (GLUE test, IMDB unsupervised)
        public = _RENAME.get(split, split)

        def read(ds=ds, public=public) -> list[RawExample]:
            out = []
            for i, row in enumerate(ds):
                lab = None
                if label_column is not None:
                    y = row[label_column]
                    if y == -1 or y is None:
                        continue
                    lab = names[y] if names is not None else str(y)
                out.append(RawExample(id=f"{public}-{i}", text=_join(row, text_column),
                                      text_pair=_join(row, text_pair_column), label=lab))
            return out
        readers[public] = read
    if not readers:
        raise ValidationError(f"hub dataset {hub_id!r} has no labelled split")
    task = FileTask(name, kind, readers, label_names=names, label_sort="numeric",
                    info={"source": "hub", "hub_id": hub_id})
    return task


def hub_task(*, data_root=None, source: str = "auto", id: str | None = None, config: str | None = None,
             text_column: str | Sequence[str] | None = None, text_pair_column: str | Sequence[str] | None = None,
             label_column: str | None = None, revision: str | None = None) -> FileTask:
    """The ``hub`` task (also ``hub:ID`` and any name with a ``/``): a hub dataset as a task."""
    if not id:
        raise ValidationError("task 'hub' needs id=... (e.g. 'glue/sst2'), or write the name as 'hub:ID'")
    if source == "local":
        raise ValidationError(f"{id!r} is a hub dataset; source='local' cannot load it (use a registered task or "
                              "'file:PATH' for local data)")
    return load_hub(id, task_name=id, config=config, text_column=text_column, text_pair_column=text_pair_column,
                    label_column=label_column, revision=revision)
