"""A tiny run folder with one result of each kind that has an interactive figure, from planted data,
for the report's tests (the browser test included): ``tiny_report_run(tmp_path)``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ftgeo.reps import InMemoryRepresentations

#: the sentence of example ``ex{i}`` (short and unique, so a hover label shows it on one line)
def sentence(i: int) -> str:
    return f"planted sentence number {i} <b>"


def _sets(n: int, d: int, n_layers: int, seed: int):
    """Three labels in ``d`` dimensions whose clusters move apart over three checkpoints (pretrained, two
    fine-tuning steps); dimension 0 of the fine-tuned sets has a planted large variance (a rogue dimension)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = rng.standard_normal((3, d))
    noise = [rng.standard_normal((n, d)) for _ in range(n_layers)]
    out = []
    for k, (spread, ckpt) in enumerate([(0.5, None), (1.5, "checkpoint-10"), (3.0, "checkpoint-20")]):
        layers = []
        for layer in range(n_layers):
            X = noise[layer] + spread * (layer + 1) / n_layers * centres[y]
            if k:
                X[:, 0] *= 6.0
            layers.append(X)
        out.append(InMemoryRepresentations(layers, labels=y, label_names=["red", "green", "blue"],
                                           ids=[f"ex{i}" for i in range(n)],
                                           manifest={"model": "toy" if k == 0 else "toy-ft", "checkpoint": ckpt,
                                                     "task": "toy", "split": "dev"}))
    return y, out


def tiny_report_run(path: str | Path, *, n: int = 90, d: int = 8, n_layers: int = 4, seed: int = 0,
                    report: bool = True) -> Path:
    """Write projection (pretrained and fine-tuned, PCA, with texts and predictions), CKA, rogue and
    dynamics results from planted sets into the run folder ``path`` (and its report); return ``path``."""
    from ftgeo.analyses import ANALYSES

    path = Path(path)
    y, (pre, mid, ft) = _sets(n, d, n_layers, seed)
    texts = {f"ex{i}": sentence(i) for i in range(n)}
    pred = np.where(np.arange(n) % 7 == 0, (y + 1) % 3, y)             # every 7th example wrong
    kw = dict(run=path, progress=False)
    ANALYSES.get("projection")(pre, method=["pca"], texts=texts, set_name="pretrained", name="projection_pre", **kw)
    ANALYSES.get("projection")(ft, method=["pca"], texts=texts, predictions=pred, set_name="fine-tuned",
                               name="projection_ft", **kw)
    ANALYSES.get("cka")(pre, ft, names=["pretrained", "fine-tuned"], n_blocks=10, n_permutations=0, device="numpy",
                        **kw)
    ANALYSES.get("rogue")(pre, ft, names=["pretrained", "fine-tuned"], n_resamples=100, **kw)
    ANALYSES.get("dynamics")([pre, mid, ft], max_points=None, layers=[1, n_layers - 1], n_permutations=0, **kw)
    if report:
        from ftgeo.report import write_report
        write_report(path)
    return path
