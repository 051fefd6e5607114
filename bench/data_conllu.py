"""Benchmark: reading a CoNLL-U treebank into words, UPOS, heads and relations.

ftgeo (``ftgeo.data.ud.read_conllu``: whole file read once, split into sentence blocks, columns
taken with list comprehensions, validation on the fast path by whole-sentence checks) against the
`conllu` package (``conllu.parse_incr``, the usual way to read CoNLL-U in Python), in the same
process, on the same file. Both skip multiword-token ranges and empty nodes.

``same_result`` is true when both give the same sentences (ids, words, UPOS, heads, relations).

    python bench/data_conllu.py                          # UD English EWT train (12,544 sentences)
    python bench/data_conllu.py --file path/to/x.conllu --repeats 3
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import time
from pathlib import Path


def default_file() -> Path:
    root = Path(os.environ.get("FTGEO_DATA_ROOT") or Path(__file__).resolve().parents[2] / "shared" / "data")
    return root / "ud_english_ewt" / "en_ewt-ud-train.conllu.gz"


def ftgeo_read(path: Path):
    from ftgeo.data.ud import read_conllu
    return [(s.sent_id, s.words, s.upos, s.heads, s.deprels) for s in read_conllu(path)]


def baseline_read(path: Path):
    import conllu
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for tl in conllu.parse_incr(fh):
            words = [t for t in tl if isinstance(t["id"], int)]
            out.append((tl.metadata.get("sent_id"), [t["form"] for t in words], [t["upos"] for t in words],
                        [t["head"] for t in words], [t["deprel"] for t in words]))
    return out


def timed(fn, path, repeats):
    times, res = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fn(path)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), res


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--file", type=Path, default=None, help="a .conllu or .conllu.gz file (default: EWT train)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    path = args.file or default_file()
    ftgeo_s, ours = timed(ftgeo_read, path, args.repeats)
    baseline_s, theirs = timed(baseline_read, path, args.repeats)
    out = {"name": "data_conllu", "params": {"file": path.name, "sentences": len(ours),
                                              "words": sum(len(s[1]) for s in ours), "repeats": args.repeats},
           "ftgeo_s": round(ftgeo_s, 4), "baseline_s": round(baseline_s, 4),
           "speedup": round(baseline_s / ftgeo_s, 2), "same_result": ours == theirs}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
