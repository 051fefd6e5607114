"""The registry of ``ftgeo analyze`` verbs. Entries are lazy: a module is imported only when used."""
from __future__ import annotations

from ftgeo.registry import Registry

ANALYSES: Registry = Registry("analysis")

_G = "ftgeo.cli.an_geometry"      # GPTology (issue: layer geometry)
_R = "ftgeo.cli.an_redundancy"    # Emergent properties (issue: redundancy)
_P = "ftgeo.cli.an_probing"       # A Closer Look (issue: probing)

for _name, _target, _help in [
    ("cka", f"{_G}:CKA", "layer x layer CKA within and between models (the bow-tie)"),
    ("rogue", f"{_G}:ROGUE", "rogue dimensions: per-dimension variance spikes, top-k, overlap"),
    ("threshold", f"{_G}:THRESHOLD", "1-D linear-SVM threshold on the principal rogue dimension"),
    ("ablation", f"{_G}:ABLATION", "zero the k highest/lowest-variance dimensions, re-score through the head"),
    ("projection", f"{_G}:PROJECTION", "2-D t-SNE / PCA / UMAP per layer, coloured by label"),
    ("isotropy", f"{_G}:ISOTROPY", "IsoScore and average cosine similarity per layer"),
    ("compression", f"{_R}:COMPRESSION", "accuracy vs number of PCA components (in-domain, general corpus, random)"),
    ("variance", f"{_R}:VARIANCE", "explained-variance ratios fine-tuned / pretrained"),
    ("neurons", f"{_R}:NEURONS", "salient neurons: single-dimension accuracy, greedy selection"),
    ("probe", f"{_P}:PROBE", "linear and MLP probes with grid search and repeated seeds"),
    ("directprobe", f"{_P}:DIRECTPROBE", "DirectProbe clusters, inter-cluster distances, spatial similarity"),
    ("dynamics", f"{_P}:DYNAMICS", "DirectProbe measures over fine-tuning checkpoints and layers"),
    ("cross-task", f"{_P}:CROSS_TASK", "fine-tune on task A, probe task B"),
]:
    ANALYSES.register(_name, lazy=_target, help=_help)
