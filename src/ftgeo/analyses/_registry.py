"""The registry of analyses: one decorator, one record per analysis, discovery on first use.

Modelled on lm-evaluation-harness's ``register_model`` and SAELens's ``register_sae_class``: an
analysis module registers its runner next to its definition::

    @register_analysis("isotropy", family="gptology", order=60, spec=IsotropySpec, result=IsotropyResult,
                       inputs=[Input("reps", n=(1, None), spread=True)],
                       help="IsoScore and average cosine similarity per layer")
    def run_isotropy(*reps, spec: IsotropySpec) -> IsotropyResult: ...

The decorator returns an :class:`Analysis`: calling it validates the parameters through the spec,
runs the function and, given ``run=``, saves the result with its figures. ``ftgeo analyze``,
``ftgeo list analyses``, the report's sections and the studies all read :data:`ANALYSES`.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ftgeo.analyses._spec import AnalysisSpec, Input
from ftgeo.errors import ValidationError
from ftgeo.registry import Registry


@dataclass(frozen=True)
class Family:
    """A group of analyses (a paper, or a kind of measure): one section of the report."""

    key: str
    title: str
    order: int
    paper: str = ""


#: The report's sections, in order. Results of kinds no analysis owns (fine-tuning, study steps)
#: name their family with the class attribute ``Result.family``.
FAMILIES: dict[str, Family] = {f.key: f for f in [
    Family("claims", "The papers' claims: verdicts", 0),
    Family("gptology", "Layer geometry (GPTology)", 10,
           "Rudman, Chen & Eickhoff (2023), Outlier Dimensions Encode Task-Specific Knowledge; "
           "Timkey & van Schijndel (2021); Kornblith et al. (2019)"),
    Family("emergent", "Redundancy of sentence embeddings (Emergent properties)", 20,
           "Matton & de Oliveira (2020), Emergent Properties of Finetuned Language Representation Models"),
    Family("closer-look", "Probing the fine-tuned space (A Closer Look)", 30,
           "Zhou & Srikumar (2022), A Closer Look at How Fine-tuning Changes BERT; Zhou & Srikumar (2021), DirectProbe"),
    Family("finetune", "Fine-tuning", 90),
    Family("other", "Other results", 100),
]}


@dataclass
class Analysis:
    """One registered analysis: what it is called, where it belongs, what it takes and returns.

    Call it like the function it wraps, with the parameters of its spec as keywords::

        run_cka(pre, post, kernel="rbf", run="runs/x")      # -> CKAResult, saved with its figures

    Keywords that the wrapped function itself declares (``head=``, ``progress=``) go to it; every
    other keyword is a spec parameter (unknown names get a did-you-mean). ``run``, ``name`` and
    ``figures`` say where and whether to save (:func:`ftgeo.results.save_result`).
    """

    name: str
    fn: Callable[..., Any]
    spec: type[AnalysisSpec]
    result: type
    inputs: tuple[Input, ...]
    family: str
    order: int
    help: str
    cli: Any = None                       # optional object with add_arguments(p) / resolve(args) for custom inputs
    _sig: inspect.Signature = field(init=False, repr=False)

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValidationError(f"analysis {self.name!r}: unknown family {self.family!r}; one of {sorted(FAMILIES)}")
        self._sig = inspect.signature(self.fn)
        if "spec" not in self._sig.parameters:
            raise ValidationError(f"analysis {self.name!r}: its function must take a keyword argument 'spec'")
        self.__doc__ = self.fn.__doc__
        self.__name__ = self.fn.__name__
        self.__wrapped__ = self.fn

    # ------------------------------------------------------------------ calling
    def __call__(self, *args, run=None, name: str | None = None, figures: bool = True, spec=None,
                 meta: dict | None = None, **kwargs):
        direct = {k: kwargs.pop(k) for k in list(kwargs) if k in self._sig.parameters and k != "spec"}
        kwargs.pop("progress", None)  # a runtime switch, not a parameter: dropped where the runner has no bar
        spec = self.spec.build(spec, kwargs, source=self.name)
        self.check_inputs(args, direct)
        try:
            self._sig.bind(*args, spec=spec, **direct)
        except TypeError as exc:
            raise ValidationError(f"{self.name}: {exc} (inputs: "
                                  + ", ".join(f"{i.arg}: {i.describe_count()}" for i in self.inputs) + ")") from None
        result = self.fn(*args, spec=spec, **direct)
        result.meta.setdefault("analysis", self.name)
        result.meta.setdefault("params", spec.to_dict())
        result.meta.update(meta or {})
        if run is not None:
            from ftgeo.results import save_result
            save_result(result, run, name or self.default_name, figures=figures)
        return result

    @property
    def default_name(self) -> str:
        """The result folder's default name (``cross-task`` -> ``cross_task``)."""
        return self.name.replace("-", "_")

    def check_inputs(self, args: Sequence, kwargs: dict) -> None:
        """Each given representation set must implement the Representations protocol (one clear line
        instead of an AttributeError deep inside: ``run_rogue([store])`` passes a list)."""
        for inp in self.inputs:
            for v in self._input_values(inp, args, kwargs):
                if v is not None and not _is_reps(v):
                    raise ValidationError(
                        f"{self.name}: {inp.name} must be representation sets (ftgeo.open_reps(path) or "
                        f"InMemoryRepresentations); got {type(v).__name__}"
                        + (" -- pass the sets as separate arguments, not one list" if isinstance(v, (list, tuple))
                           else ""))

    def _input_values(self, inp: Input, args: Sequence, kwargs: dict) -> list:
        """What the caller passed for ``inp``: the sets it spreads over, or its one value (a set or a list)."""
        params = list(self._sig.parameters.values())
        names = [p.name for p in params]
        bound = self._sig.bind_partial(*args, **kwargs).arguments
        if inp.arg not in names:
            return []
        start = names.index(inp.arg)
        if params[start].kind is inspect.Parameter.VAR_POSITIONAL:
            return list(bound.get(inp.arg, ()))
        if inp.spread:
            span = names[start:start + (inp.n[1] or 1)]
            return [bound[n] for n in span if n in bound]
        value = bound.get(inp.arg)
        if isinstance(value, (list, tuple)) and inp.n[1] != 1:
            return list(value)
        return [value]

    def call_from_inputs(self, given: dict[str, list], **kwargs):
        """Call with the sets of each input as lists (the CLI's route): spread inputs become positional
        arguments, single-set inputs one set, the others lists."""
        args, kw = [], {}
        for inp in self.inputs:
            sets = given.get(inp.name)
            if not sets:
                continue
            if inp.spread:
                args.extend(sets)
            else:
                kw[inp.arg] = sets[0] if inp.n[1] == 1 else list(sets)
        return self(*args, **kw, **kwargs)


def _is_reps(v) -> bool:
    from ftgeo.reps import Representations
    return isinstance(v, Representations)


class _AnalysisRegistry(Registry):
    """The analyses' registry: importing ``ftgeo.analyses.*`` (and ``ftgeo.analyses`` entry points)
    on first use, so each module's decorator has registered it before any lookup."""

    def __init__(self):
        super().__init__("analysis")
        self._discovered = False

    def discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        import ftgeo.analyses as pkg
        for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            if not m.name.startswith("_"):
                importlib.import_module(f"{pkg.__name__}.{m.name}")
        _load_entry_points()

    def get(self, name: str) -> Analysis:
        self.discover()
        return super().get(name)

    def names(self) -> list[str]:
        self.discover()
        return super().names()

    def __contains__(self, name: object) -> bool:
        self.discover()
        return super().__contains__(name)

    def __len__(self) -> int:
        self.discover()
        return super().__len__()

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests that register a throw-away analysis clean up with this)."""
        self._entries.pop(name, None)
        self._help.pop(name, None)

    def in_order(self) -> list[Analysis]:
        """Every analysis, by family order, then its own order, then name."""
        items = [self.get(n) for n in self.names()]
        return sorted(items, key=lambda a: (FAMILIES[a.family].order, a.order, a.name))

    def for_kind(self, kind: str) -> Analysis | None:
        """The analysis whose Result class has this ``kind`` (None for fine-tuning, study steps, ...)."""
        for a in self.in_order():
            if getattr(a.result, "kind", None) == kind:
                return a
        return None


def _load_entry_points() -> None:
    """Third-party analyses: ``[project.entry-points."ftgeo.analyses"] name = "pkg.module"``."""
    from importlib.metadata import entry_points
    for ep in entry_points(group="ftgeo.analyses"):
        ep.load()


ANALYSES = _AnalysisRegistry()


def register_analysis(name: str, *, family: str, order: int, spec: type[AnalysisSpec], result: type,
                      inputs: Sequence[Input], help: str, cli: Any = None) -> Callable[[Callable], Analysis]:
    """Register the decorated runner as analysis ``name``; returns its :class:`Analysis` record.

    ``family``: a key of :data:`FAMILIES` (its report section); ``order``: position inside it;
    ``spec``: its parameters; ``result``: its Result class; ``inputs``: its representation sets;
    ``help``: one line for ``ftgeo list analyses`` and ``ftgeo analyze NAME --help``; ``cli``: an
    object replacing the generated input flags (``add_arguments(parser)``, ``resolve(args)``).
    """
    def deco(fn: Callable) -> Analysis:
        analysis = Analysis(name=name, fn=fn, spec=spec, result=result, inputs=tuple(inputs), family=family,
                            order=order, help=help, cli=cli)
        ANALYSES.register(name, analysis, help=help)
        return analysis
    return deco


def analyze(name: str, *inputs, **kwargs):
    """Run the registered analysis ``name``: ``analyze("cka", pre, post, run="runs/x", kernel="rbf")``."""
    return ANALYSES.get(name)(*inputs, **kwargs)


def module_path(analysis: Analysis) -> Path:
    """The source file that defines ``analysis`` (for ``ftgeo list analyses --verbose`` and the docs)."""
    return Path(inspect.getfile(analysis.fn))
