"""Each paper's claims as checks over a run's results: a verdict with its numbers.

A claim is a small function registered with :func:`claim` next to its study. It reads the saved results
of a run (:class:`RunResults`), computes one statistic with its interval, and returns a
:class:`Verdict`: ``holds`` when the whole interval lies on the claimed side of the threshold,
``does not hold`` when the whole interval lies on the other side, ``inconclusive`` when the interval
straddles the threshold. Without an interval (resampling switched off) the point estimate decides and
the verdict says so. A claim whose results are missing is ``not run``.

With several fine-tuning seeds the claim is checked per seed; the overall verdict holds (does not hold)
when it holds (does not hold) for every seed, and is inconclusive otherwise.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Literal

import numpy as np

from ftgeo.errors import DataNotFoundError, ValidationError
from ftgeo.registry import Registry
from ftgeo.results.base import Result

Direction = Literal[">", "<"]
VERDICTS = ("holds", "does not hold", "inconclusive", "not run")


@dataclass(frozen=True)
class Verdict:
    """The outcome of one claim on one run (one seed)."""

    claim: str
    study: str
    statement: str
    statistic: str
    value: float
    low: float
    high: float
    threshold: float
    direction: Direction
    verdict: str
    paper: str = ""          # the paper's own number, in words
    evidence: str = ""       # one sentence with the numbers, for the report
    seed: int | None = None

    def to_row(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Claim:
    """A registered claim: its id, study, statement, statistic, threshold and the paper's number."""

    id: str
    study: str
    statement: str
    statistic: str
    threshold: float
    direction: Direction
    paper: str
    fn: Callable[["RunResults"], "Measurement | None"] = field(repr=False, compare=False)

    def check(self, results: "RunResults", seed: int | None = None) -> Verdict:
        """Evaluate on ``results``: ``not run`` if a result it needs is missing."""
        try:
            m = self.fn(results)
        except MissingResult as exc:
            return self._verdict(float("nan"), float("nan"), float("nan"), "not run", f"not run: {exc}", seed)
        except (LookupError, ValueError) as exc:   # the result lacks the rows this claim reads
            return self._verdict(float("nan"), float("nan"), float("nan"), "not run",
                                 f"not run: the results lack what it reads ({type(exc).__name__}: {exc})", seed)
        if m is None:
            return self._verdict(float("nan"), float("nan"), float("nan"), "not run", "not run", seed)
        if not math.isfinite(m.value):
            return self._verdict(m.value, m.low, m.high, "not run",
                                 f"not run: the statistic is undefined here{' (' + m.evidence + ')' if m.evidence else ''}",
                                 seed)
        word = decide(m.value, m.low, m.high, self.threshold, self.direction)
        return self._verdict(m.value, m.low, m.high, word, m.evidence, seed)

    def _verdict(self, value, low, high, word, evidence, seed) -> Verdict:
        return Verdict(self.id, self.study, self.statement, self.statistic, float(value), float(low), float(high),
                       float(self.threshold), self.direction, word, self.paper, evidence, seed)


@dataclass(frozen=True)
class Measurement:
    """What a claim function returns: the statistic, its interval (NaN when none) and a sentence."""

    value: float
    low: float = float("nan")
    high: float = float("nan")
    evidence: str = ""


class MissingResult(LookupError):
    """A claim needs a result the run does not have."""


CLAIMS: Registry = Registry("claim")


def claim(id: str, *, study: str, statement: str, statistic: str, threshold: float, direction: Direction,
          paper: str = "") -> Callable[[Callable], Claim]:
    """Register the decorated function ``fn(results) -> Measurement`` as claim ``study/id``."""
    if direction not in (">", "<"):
        raise ValidationError(f"claim {id!r}: direction must be '>' or '<'; got {direction!r}")

    def deco(fn: Callable) -> Claim:
        c = Claim(id=id, study=study, statement=statement, statistic=statistic, threshold=float(threshold),
                  direction=direction, paper=paper, fn=fn)
        CLAIMS.register(f"{study}/{id}", c, help=statement)
        return c
    return deco


def decide(value: float, low: float, high: float, threshold: float, direction: Direction) -> str:
    """``holds`` / ``does not hold`` / ``inconclusive`` for "statistic ``direction`` threshold".

    With an interval [low, high]: holds when all of it is on the claimed side, does not hold when all of
    it is on the other side (the threshold itself counts as the other side), inconclusive otherwise.
    Without one (NaN bounds): the point value decides."""
    if not math.isfinite(value):
        return "inconclusive"
    if not (math.isfinite(low) and math.isfinite(high)):
        low = high = value
    if direction == ">":
        return "holds" if low > threshold else "does not hold" if high <= threshold else "inconclusive"
    return "holds" if high < threshold else "does not hold" if low >= threshold else "inconclusive"


def combine(verdicts: list[Verdict]) -> str:
    """One verdict over seeds: unanimous holds / does not hold, else inconclusive; ``not run`` if none ran."""
    words = [v.verdict for v in verdicts if v.verdict != "not run"]
    if not words:
        return "not run"
    if all(w == "holds" for w in words):
        return "holds"
    if all(w == "does not hold" for w in words):
        return "does not hold"
    return "inconclusive"


class RunResults:
    """The saved results of one run folder, looked up by name (loaded on first use)."""

    def __init__(self, run):
        from ftgeo.run import RunDir
        self.run = run if isinstance(run, RunDir) else RunDir(run)
        self._cache: dict[str, Result] = {}

    def get(self, name: str) -> Result:
        """The result saved as ``name``; :class:`MissingResult` if the run has none."""
        if name not in self._cache:
            from ftgeo.results import load_result
            try:
                self._cache[name] = load_result(self.run.result_dir(name))
            except DataNotFoundError:
                raise MissingResult(f"no result {name!r} in {self.run.root}") from None
        return self._cache[name]

    def has(self, name: str) -> bool:
        try:
            self.get(name)
            return True
        except MissingResult:
            return False


class ClaimsResult(Result):
    """Table ``claims``: one row per claim (and seed): study, claim, statement, statistic, value, low,
    high, threshold, direction, verdict, paper, evidence, seed; table ``overall``: one verdict per claim
    over the seeds."""

    kind = "claims"
    family = "claims"

    def summary(self):
        t = self.table("overall") if "overall" in self.tables else self.table("claims")
        cols = [c for c in ("study", "claim", "verdict", "value", "low", "high", "threshold", "direction", "seeds",
                            "paper") if c in t.columns]
        return t[cols]


def check_claims(studies: Iterable[str], runs: dict[int | None, "str | Path"]) -> ClaimsResult:
    """Check every claim of ``studies`` on each seed's run folder (``{seed: run}``; ``{None: run}`` for one)."""
    import pandas as pd

    CLAIMS_LOADED.load()
    wanted = set(studies)
    claims = [CLAIMS.get(n) for n in CLAIMS.names() if CLAIMS.get(n).study in wanted]
    rows, overall = [], []
    for c in claims:
        per_seed = [c.check(RunResults(r), seed) for seed, r in runs.items()]
        rows += [v.to_row() for v in per_seed]
        ran = [v for v in per_seed if v.verdict != "not run"]
        vals = [v.value for v in ran]
        overall.append({"study": c.study, "claim": c.id, "statement": c.statement, "statistic": c.statistic,
                        "verdict": combine(per_seed),
                        "value": float(sum(vals) / len(vals)) if vals else float("nan"),
                        "low": min((v.low for v in ran), default=float("nan")),
                        "high": max((v.high for v in ran), default=float("nan")),
                        "threshold": c.threshold, "direction": c.direction, "paper": c.paper,
                        "seeds": f"{sum(v.verdict == 'holds' for v in ran)}/{len(ran)} hold" if ran else "0 run",
                        "evidence": "; ".join(v.evidence for v in per_seed if v.evidence)})
    cols = list(Verdict.__dataclass_fields__)
    return ClaimsResult(tables={"claims": pd.DataFrame(rows, columns=cols).rename(columns={"claim": "claim"}),
                                "overall": pd.DataFrame(overall)},
                        meta={"studies": sorted(wanted), "seeds": [s for s in runs if s is not None],
                              "rule": "holds: the whole interval on the claimed side of the threshold; does not hold: "
                                      "the whole interval on the other side; inconclusive: it straddles the threshold"})


class _Loader:
    """Import the study modules (each declares its paper's claims) once."""

    def __init__(self):
        self.done = False

    def load(self) -> None:
        if not self.done:
            self.done = True
            from ftgeo.studies import STUDIES
            for name in STUDIES.names():
                STUDIES.get(name)


CLAIMS_LOADED = _Loader()


def runs_of(run) -> dict[int | None, Path]:
    """``{seed: folder}`` of a study run: its ``seeds/s<k>/`` folders when it has them, else ``{None: run}``."""
    from ftgeo.run import RunDir
    root = (run if isinstance(run, RunDir) else RunDir(run)).root
    seeds = sorted((int(p.name[1:]), p) for p in (root / "seeds").glob("s*") if p.name[1:].isdigit())
    return dict(seeds) if seeds else {None: root}


def verdict_lines(res: ClaimsResult, *, include_not_run: bool = False) -> list[str]:
    """One line per claim: verdict, statistic with its interval against the threshold, the paper's number."""
    t = res.table("overall")
    lines = []
    for _, r in t.iterrows():
        if r["verdict"] == "not run" and not include_not_run:
            continue
        iv = (f" [{r['low']:.3g}, {r['high']:.3g}]" if np.isfinite(r["low"]) and np.isfinite(r["high"]) else "")
        val = f"{r['value']:.3g}{iv}" if np.isfinite(r["value"]) else "-"
        paper = f"; paper: {r['paper']}" if r.get("paper") else ""
        lines.append(f"{r['verdict']:<14} {r['study']}/{r['claim']}: {r['statistic']} = {val} "
                     f"(claim: {r['direction']} {r['threshold']:g}; {r['seeds']}){paper}")
    return lines


def print_verdicts(res: ClaimsResult) -> None:
    lines = verdict_lines(res)
    if lines:
        print("claims of the papers (holds / does not hold / inconclusive: the interval straddles the threshold):")
        for line in lines:
            print("  " + line)


def combine_runs(per_run: dict[str, ClaimsResult], cross: ClaimsResult | None = None) -> ClaimsResult:
    """One table of verdicts over the runs of a replication: each run's ``overall`` rows with a ``run``
    column, plus the cross-run claims that could be checked (``run`` = ``across``); a claim checked across runs
    loses its per-run "not run" rows (a single run cannot check it)."""
    import pandas as pd
    across = None
    if cross is not None:
        t = cross.table("overall")
        across = t[t["verdict"] != "not run"].copy()
        across.insert(0, "run", "across")
    checked_across = set(across["claim"]) if across is not None and "claim" in across else set()
    parts = []
    for name, res in per_run.items():
        t = res.table("overall").copy()
        t = t[~((t["verdict"] == "not run") & t["claim"].isin(checked_across))] if checked_across else t
        t.insert(0, "run", name)
        parts.append(t)
    if across is not None:
        parts.append(across)
    overall = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return ClaimsResult(tables={"overall": overall},
                        meta={"runs": list(per_run), "rule": "see each run's claims; 'across' = claims over runs"})
