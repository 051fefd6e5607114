"""Tasks: the task registry and :func:`load_task`.

>>> from ftgeo.data import load_task
>>> task = load_task("sst2", data_root="../shared/data")      # doctest: +SKIP
>>> task.splits(), task.label_names                            # doctest: +SKIP
(['train', 'dev'], ['negative', 'positive'])

Names (``ftgeo list tasks``): the registered tasks below; ``file:PATH`` (a csv/tsv/jsonl file,
with ``text_column=``/``text_pair_column=``/``label_column=``); ``conllu:PATH`` (a CoNLL-U file,
POS or, with ``target="dep"``, dependency relations); ``hub:ID`` or any id with a ``/``
(``glue/sst2``) for a Hugging Face hub dataset. Options can also ride in the name,
``ud_dep[treebank=pud,relations=full]`` (handy on the command line); every loaded task is named
that way (non-default options only), so ``load_task(task.name, data_root=...)`` rebuilds it. ``source="hub"`` loads a registered task from
the hub instead of the local data root; ``source="auto"`` (default) prefers the local copy and
falls back to the hub only when the local files are missing and the hub is reachable.

See docs/data.md for every task's splits, label vocabulary and counts.
"""
from __future__ import annotations

import difflib
import inspect
import os
import re
from pathlib import Path

from ftgeo.data.base import UNLABELLED, Example, Target, Task, TaskKind
from ftgeo.errors import DataNotFoundError, ValidationError
from ftgeo.registry import Registry

__all__ = ["TASKS", "load_task", "resolve_data_root", "parse_task_spec", "canonical_name", "Task", "Example", "Target", "TaskKind", "UNLABELLED"]

TASKS: Registry = Registry("task")

_ENTRIES = [
    ("sst2", "ftgeo.data.glue:sst2", "GLUE SST-2 sentiment (sentence; negative/positive); train 67,349, dev 872"),
    ("qnli", "ftgeo.data.glue:qnli", "GLUE QNLI question/sentence entailment (pair); dev 5,463 locally (derive_splits=True)"),
    ("imdb", "ftgeo.data.text_classification:imdb", "IMDB movie-review sentiment (sentence; neg/pos); train/test 25,000"),
    ("ag_news", "ftgeo.data.text_classification:ag_news",
     "AG News topics (sentence; World/Sports/Business/Sci/Tech); test 7,600 locally (derive_splits=True)"),
    ("dbpedia", "ftgeo.data.text_classification:dbpedia",
     "DBpedia-14 ontology classes (sentence; 14); data_root/dbpedia/{train,test}.csv or the hub"),
    ("trec6", "ftgeo.data.trec:trec6", "TREC question classification, 6 coarse classes; train 5,452, test 500"),
    ("trec50", "ftgeo.data.trec:trec50", "TREC question classification, 50 fine classes COARSE:fine; train 5,452, test 500"),
    ("ud_pos", "ftgeo.data.ud:ud_pos", "UD English UPOS tagging (token; 17 tags); treebank='ewt' (train/dev/test) or 'pud'"),
    ("ud_dep", "ftgeo.data.ud:ud_dep",
     "UD English dependency relations of (head, dependent) word pairs (token); relations='base'|'full'"),
    ("ps_role", "ftgeo.data.streusle:ps_role", "STREUSLE 4.7 SNACS scene role of single-token adpositions (token; SS column)"),
    ("ps_fxn", "ftgeo.data.streusle:ps_fxn", "STREUSLE 4.7 SNACS function of single-token adpositions (token; SS2 column)"),
    ("wikitext2", "ftgeo.data.corpora:wikitext2", "WikiText-2 raw test split into sentences (unlabelled); max_sentences="),
    ("brown", "ftgeo.data.corpora:brown", "Brown corpus sentences, 57,340 (unlabelled); max_sentences="),
    ("local_file", "ftgeo.data.local:local_file",
     "your csv/tsv/jsonl file(s): path=..., text_column=, text_pair_column=, label_column= (also 'file:PATH')"),
    ("conllu_file", "ftgeo.data.local:conllu_file",
     "your CoNLL-U file(s): path=..., target='pos'|'dep' (also 'conllu:PATH')"),
    ("hub", "ftgeo.data.hub:hub_task",
     "a Hugging Face hub dataset: id='glue/sst2' (also 'hub:ID' or any name with '/'); needs `datasets` + network"),
]
for _name, _target, _help in _ENTRIES:
    TASKS.register(_name, lazy=_target, help=_help)

_SOURCES = ("auto", "local", "hub")
_HUB_ONLY_IDS = ("dbpedia_14", "trec")  # plain hub ids that are not task names (see ftgeo.data.hub.KNOWN)


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path:
    """The local data folder: ``data_root`` if given, else ``$FTGEO_DATA_ROOT``.

    Raises :class:`~ftgeo.errors.DataNotFoundError` when neither is set or the folder does not exist.
    """
    if data_root is None:
        env = os.environ.get("FTGEO_DATA_ROOT", "").strip()
        if not env:
            raise DataNotFoundError(
                "no data root: pass data_root=... (CLI: --data-root DIR) or set the environment variable "
                "FTGEO_DATA_ROOT to the folder that holds the datasets (the repository's tests use "
                "../shared/data beside the checkout).")
        root, origin = Path(env).expanduser(), "FTGEO_DATA_ROOT"
    else:
        root, origin = Path(data_root).expanduser(), "data_root"
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise DataNotFoundError(f"data root {root} (from {origin}) {what}; pass data_root=... (CLI: --data-root DIR) "
                                "or set FTGEO_DATA_ROOT to the folder that holds the datasets.")
    return root


def _split_name(name: str) -> tuple[str, dict]:
    """Map the prefixed forms (``file:``, ``conllu:``, ``hub:``, ``a/b``) to a registered task + options."""
    for prefix, task, key in (("file:", "local_file", "path"), ("conllu:", "conllu_file", "path"),
                              ("hub:", "hub", "id")):
        if name.startswith(prefix):
            value = name[len(prefix):]
            if not value:
                raise ValidationError(f"task name {name!r} needs something after {prefix!r}, e.g. {prefix}path/x")
            return task, {key: value}
    if name not in TASKS and ("/" in name or name in _HUB_ONLY_IDS):
        return "hub", {"id": name}
    return name, {}


def task_options(name: str) -> list[str]:
    """The keyword options task ``name`` accepts (besides ``data_root`` and ``source``)."""
    factory = TASKS.get(name)
    return [p for p in inspect.signature(factory).parameters if p not in ("data_root", "source")]


def load_task(name: str, *, data_root: str | os.PathLike | None = None, source: str = "auto", **options) -> Task:
    """Load a task by name.

    Parameters
    ----------
    name : a registered task (``ftgeo list tasks``), ``file:PATH``, ``conllu:PATH``, ``hub:ID`` or a hub
        id containing ``/`` (``glue/sst2``).
    data_root : the local data folder (else ``$FTGEO_DATA_ROOT``); see :func:`resolve_data_root`.
    source : ``"local"`` (the data root only), ``"hub"`` (Hugging Face ``datasets``), or ``"auto"``:
        local when its files exist, else the hub when ``datasets`` is installed and online.
    **options : task options, e.g. ``treebank="pud"``, ``relations="full"``, ``derive_splits=True``,
        ``holdout=0.2``, ``seed=0``, ``max_sentences=1000``; an unknown option is an error that lists
        the valid ones.
    """
    if not isinstance(name, str) or not name:
        raise ValidationError(f"task name must be a non-empty string; got {name!r}")
    if source not in _SOURCES:
        raise ValidationError(f"source={source!r} is not one of {list(_SOURCES)}.")
    name, inline = parse_task_spec(name)
    clash = [k for k in inline if k in options]
    if clash:
        raise ValidationError(f"option {clash[0]!r} is given both in the task name and as an argument; give it once")
    options = {**inline, **options}
    task_name, implied = _split_name(name)
    factory = TASKS.get(task_name)  # unknown name -> UnknownNameError with "did you mean"
    valid = task_options(task_name)
    unknown = [k for k in options if k not in valid]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, valid, n=1, cutoff=0.5)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValidationError(f"unknown option(s) {', '.join(hints)} for task {task_name!r}; valid options: "
                              f"{', '.join(valid) if valid else '(none)'}")
    clash = [k for k in implied if k in options]
    if clash:
        raise ValidationError(f"task name {name!r} already gives {clash[0]}=...; do not pass it again")
    task = factory(data_root=data_root, source=source, **implied, **options)
    if task_name == name and isinstance(task, Task):
        task.name = canonical_name(task_name, options)
    return task


_SPEC = re.compile(r"([^\[\]]+)\[([^\[\]]*)\]")


def _parse_value(text: str):
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for conv in (int, float):
        try:
            return conv(text.strip())
        except ValueError:
            pass
    return text.strip()


def _format_value(v) -> str:
    if isinstance(v, bool) or v is None:
        return str(v).lower() if v is not None else "none"
    if isinstance(v, (list, tuple)):
        return "|".join(str(x) for x in v)
    return str(v)


def parse_task_spec(spec: str) -> tuple[str, dict]:
    """Split ``"ud_dep[treebank=pud,relations=full]"`` into ``("ud_dep", {"treebank": "pud", ...})``.

    Values are read as bool (``true``/``false``), ``none``, int, float, else str; ``a|b`` is a tuple
    (e.g. ``lexcats=P|PRON.POSS``). A name without brackets comes back unchanged with no options.
    """
    if not spec.endswith("]") or "[" not in spec:
        return spec, {}
    m = _SPEC.fullmatch(spec)
    if m is None:
        raise ValidationError(f"cannot read the task spec {spec!r}; write NAME[key=value,key=value]")
    out: dict = {}
    for part in filter(None, (p.strip() for p in m.group(2).split(","))):
        if "=" not in part:
            raise ValidationError(f"task spec {spec!r}: {part!r} is not key=value")
        k, v = part.split("=", 1)
        out[k.strip()] = tuple(_parse_value(x) for x in v.split("|")) if "|" in v else _parse_value(v)
    return m.group(1), out


def canonical_name(name: str, options: dict) -> str:
    """``name`` plus the options that differ from the task's defaults, as ``name[k=v,...]`` (sorted keys).

    :func:`load_task` names every task this way, so two tasks with different options get different
    names (and different representation stores), and ``load_task(task.name)`` rebuilds the task.
    """
    params = inspect.signature(TASKS.get(name)).parameters
    diff = {k: v for k, v in options.items()
            if k in params and params[k].default is not inspect.Parameter.empty and v != params[k].default}
    if not diff:
        return name
    return f"{name}[{','.join(f'{k}={_format_value(diff[k])}' for k in sorted(diff))}]"
