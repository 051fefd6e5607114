"""DirectProbe (Zhou & Srikumar 2021, "DirectProbe: Studying Representations without
Classifiers", NAACL), implemented from the paper: exact, deterministic and fast.

The algorithm (the paper's clustering procedure, Sec. 3)
-------------------------------------------
Start with one cluster per point.  Repeatedly take the *closest* pair of clusters that share
a label, where the distance between clusters C_i and C_j is the Euclidean distance between
their means (the authors' code, ``DistanceQ``, uses this centroid distance)

    d(C_i, C_j) = || mean(C_i) - mean(C_j) ||_2 ,                                  (1)

and merge them unless the convex hull of the merged cluster overlaps the convex hull of a
cluster with a different label.  Stop when no pair can be merged.  A rejected pair is never
tried again (as in the paper's code).

Exact overlap test: conv(P) and conv(Q) intersect iff P and Q are not strictly linearly
separable, decided by an LP with HiGHS (see :mod:`ftgeo.analysis._hull`).  Both verdicts are
certified in float64: "separated" by a verified separating direction, "overlap" by an overlap
witness (convex combinations of P and Q within 1e-9 x the data scale of each other).

What it reports (as in the paper and its code, ``Analyzer``):

* the clusters (each with one label) and their number vs the number of labels;
* for every pair of clusters with different labels, the distance between their hulls,

      dist(C_i, C_j) = min_{p in conv C_i, q in conv C_j} ||p - q|| = 2 x margin of the
      hard-margin linear SVM between C_i and C_j                                   (2)

* per label pair, the minimum of (2) over the clusters of the two labels; per label, the
  minimum over the other labels; the *distance vector* = label-pair minima in canonical order
  (labels sorted, pairs (a, b) with a < b in row-major order) — the paper's representation of
  the space used for the spatial similarity (Pearson correlation of two distance vectors);
* prediction: a test point gets the label of the cluster whose hull is nearest to it
  (Euclidean point-to-hull distance, 0 inside; the authors' ``Analyzer.points2convex``, "predict the label of a test
  point by the closest cluster").  Ties (e.g. inside two same-label hulls) go to the lower
  cluster index.

Exactness and speed (what differs from the authors' code, not what it computes)
-----------------------------------------------------------------------------
Merge order is the exact global minimum of (1) over eligible same-label pairs, ties broken by
the (smaller, larger) cluster ids (a new cluster gets the next id, as in the paper's code); a
nearest-neighbour list per cluster plus a lazy heap replaces the all-pairs heap (no quadratic
storage).  A rejected merge (A, B) is recorded as a *cannot-link* between the clusters, which is
inherited by the clusters they later join: if conv(A u B) meets conv(C) for an other-label C,
then conv(A' u B') meets conv(C') for all A' >= A, B' >= B, C' >= C, so every such pair would be
rejected by the LP anyway; skipping it changes nothing.  Once, before merging, every label pair
gets a few Wolfe iterations (then a linear SVM) on its *whole* point sets: a verified separating hyperplane proves
every cluster of one label disjoint from every cluster of the other, so those pairs are never
tested again (on a well-separated layer this removes nearly all the work); an uncertified pair's
direction is kept as one more cheap candidate certificate.  Before any LP, two exact sufficient
conditions for *disjointness* are checked: disjoint bounding balls (centre = mean, radius = max
distance to it) and the difference of the means as a separating direction (evaluated on all
points).  Only the remaining pairs reach the LP, in order of how badly the mean direction
failed (a rejection usually needs one LP).
"""
from __future__ import annotations

import bisect
import heapq
import time
from typing import Sequence

import numpy as np
import pandas as pd

from sklearn.base import ClassifierMixin

from ftgeo._checks import check_features, check_in, check_labels, check_X_y
from ftgeo.analysis import _hull
from ftgeo.analysis._base import (RANDOM_STATE, FtgeoEstimator, Integral, Interval, Real, StrOptions, check_fitted,
                                  fit_context)
from ftgeo.errors import ValidationError
from ftgeo.progress import progress as _progress

__all__ = ["DirectProbe", "spatial_similarity", "hull_distance", "hulls_overlap", "directprobe_reference",
           "point_hull_distance"]


# ---------------------------------------------------------------------------- public pure functions
def hulls_overlap(A, B) -> bool:
    """True iff conv(A) and conv(B) intersect, decided exactly by an LP (Zhou & Srikumar 2021: overlap = not linearly separable).

    Identical points in A and B, or any point of one inside the other's hull, count as overlap.
    Both answers are certified (:func:`ftgeo.analysis._hull.separate`): False comes with a direction
    w verified in float64 to give min_A w.x > max_B w.y; True with an overlap witness, weights
    lam, mu >= 0 summing to 1 with ||A^T lam - B^T mu|| <= 1e-9 x max|entry| checked in float64
    (found by the dual simplex on the Farkas alternative LP, not by the interior point whose
    "infeasible" it confirms).  A solver's wrong "infeasible" cannot produce True: no convex
    combinations of two sets come closer than their hull distance (1.28e-3 on the repro in
    tests/data/directprobe_false_overlap.npz, which is now False).  Hulls closer than 1e-9 x scale
    may get either answer; if neither can be certified, HullSolverError is raised.
    """
    A = check_features(A, "A")
    B = check_features(B, "B")
    if A.shape[1] != B.shape[1]:
        raise ValidationError(f"A has {A.shape[1]} features and B has {B.shape[1]}; they must live in the same space.")
    return _hull.overlaps(A, B)


def hull_distance(A, B) -> float:
    """Distance between conv(A) and conv(B) = 2 x the hard-margin linear-SVM margin (paper Eq. 2); 0 if they
    meet (a certified overlap, see :func:`hulls_overlap`: then the distance is at most 1e-9 x max|entry|)."""
    A = check_features(A, "A")
    B = check_features(B, "B")
    if A.shape[1] != B.shape[1]:
        raise ValidationError(f"A has {A.shape[1]} features and B has {B.shape[1]}; they must live in the same space.")
    return _hull.hull_distance(A, B)


def point_hull_distance(p, A) -> float:
    """Euclidean distance from point ``p`` to conv(A) (0 inside), the prediction rule of the paper."""
    A = check_features(A, "A")
    p = np.asarray(p, dtype=np.float64).reshape(1, -1)
    if p.shape[1] != A.shape[1]:
        raise ValidationError(f"p has {p.shape[1]} features and A has {A.shape[1]}.")
    return _hull.min_norm_point(A, p)[0]


def spatial_similarity(a, b, *, labels: str = "same") -> float:
    """Pearson correlation of two distance vectors (Zhou & Srikumar 2021, spatial similarity).

    ``a`` and ``b`` are fitted :class:`DirectProbe` objects (or their ``distance_vector_`` arrays).
    Vectors are aligned by label pair: entry (a, b) is the minimum hull distance between any
    cluster of label a and any cluster of label b, labels in sorted order, so representations
    with different numbers of clusters are comparable.  ``labels="same"``: both fits must have the
    same labels; ``labels="common"`` (two fitted DirectProbes): compare the label pairs of the labels
    both have, e.g. a train split against a test split that lacks some rare labels.
    """
    check_in(labels, ("same", "common"), "labels")
    if labels == "common":
        a, b = _common_label_vectors(a, b)
    va, ca = _vector_of(a, "a")
    vb, cb = _vector_of(b, "b")
    if ca is not None and cb is not None and (len(ca) != len(cb) or np.any(np.asarray(ca) != np.asarray(cb))):
        raise ValidationError("the two DirectProbe fits have different label sets "
                              f"({list(ca)[:5]}... vs {list(cb)[:5]}...); spatial similarity compares "
                              "representations of the same labelled data.")
    if va.shape != vb.shape:
        raise ValidationError(f"distance vectors have different lengths ({va.size} vs {vb.size}).")
    if va.size < 2:
        raise ValidationError("spatial similarity needs at least 3 labels (2 label pairs) for a correlation.")
    if np.std(va) == 0 or np.std(vb) == 0:
        raise ValidationError("a distance vector is constant; the Pearson correlation is undefined.")
    return float(np.corrcoef(va, vb)[0, 1])


def _common_label_vectors(a, b):
    """Distance vectors of two fits restricted to their shared labels (canonical pair order)."""
    for obj, name in ((a, "a"), (b, "b")):
        if not (isinstance(obj, DirectProbe) and hasattr(obj, "label_pair_distance_")):
            raise ValidationError(f"labels='common' needs two fitted DirectProbe objects; {name} is not one.")
    common = np.intersect1d(a.classes_, b.classes_)
    i, j = np.triu_indices(common.size, 1)
    out = []
    for obj in (a, b):
        k = np.searchsorted(obj.classes_, common)
        out.append(obj.label_pair_distance_[np.ix_(k, k)][i, j])
    return out[0], out[1]


def _vector_of(obj, name):
    if isinstance(obj, DirectProbe):
        if not hasattr(obj, "distance_vector_"):
            raise ValidationError(f"{name} is an unfitted DirectProbe; call fit(X, y) first.")
        return np.asarray(obj.distance_vector_, dtype=np.float64), obj.classes_
    v = np.asarray(obj, dtype=np.float64)
    if v.ndim != 1:
        raise ValidationError(f"{name} must be a fitted DirectProbe or a 1-D distance vector.")
    return v, None


# ---------------------------------------------------------------------------- helpers shared with the reference
def _dist_rows(M: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Euclidean distance from every row of M to c (one formula everywhere, so ties are bitwise consistent)."""
    D = M - c
    return np.sqrt(np.einsum("ij,ij->i", D, D))


def _encode(y):
    classes, codes = np.unique(y, return_inverse=True)
    return classes, codes.astype(np.int64)


def _seed_rows(XM, XO, support, directions, k: int = 48):
    """Rows of M and O for the LP's first working set: the Wolfe support plus, for each cached
    direction that nearly separated earlier parts of the two clusters, the k points of M lowest and
    of O highest along it (last time's support vectors, so a hard pair restarts near its answer)."""
    rows_m, rows_o = [np.asarray(support[0])], [np.asarray(support[1])]
    for w in directions[:2]:
        rows_m.append(np.argsort(XM @ w, kind="stable")[:k])
        rows_o.append(np.argsort(-(XO @ w), kind="stable")[:k])
    return np.unique(np.concatenate(rows_m)), np.unique(np.concatenate(rows_o))


def _threshold_errors(pa: np.ndarray, pb: np.ndarray) -> int:
    """Fewest points on the wrong side of any threshold c (A above c, B at or below c) of the
    projections ``pa`` (set A) and ``pb`` (set B): 0 iff the direction separates them."""
    v = np.r_[pa, pb]
    from_a = np.r_[np.ones(pa.size, dtype=np.int64), np.zeros(pb.size, dtype=np.int64)][np.argsort(v, kind="stable")]
    # threshold just above the i-th smallest value: A-points at or below it + B-points above it
    below_a = np.cumsum(from_a)
    above_b = pb.size - np.cumsum(1 - from_a)
    return int(min(pb.size, (below_a + above_b).min()))


# ---------------------------------------------------------------------------- the fast merge loop
_KNN = 12          # candidate neighbours kept per cluster (a cache; the answer does not depend on it)
_QUICK_ITERS = 300  # Wolfe iterations tried for a separation certificate before an LP
_COLLAPSE = 1e-3   # ... stopped early once ||z|| < _COLLAPSE x (distance of the means): likely overlap
_LABEL_ITERS = 300  # Wolfe iterations tried per label pair for a whole-label separation certificate
_SVM_MIN_POINTS = 200  # pairs with more points try a linear-SVM certificate before the LP ...
_SVM_ITERS = 5000      # ... with this many liblinear iterations (1,000 missed nearly touching POS pairs)
_LABEL_LP_AFTER = 2     # LPs that separated large clusters of a label pair before the pair's own LP
_LABEL_LP_ERRORS = 0.05  # a label pair whose SVM plane misplaces at most this share of its points (or 5)
                         # gets the exact LP once: NOUN/PROPN on 8,000 words is separable but no SVM shows it


class _Merger:
    """State of the clustering: cluster ids 0..n-1 are the points, new clusters get the next id.

    Merge order: for each active cluster c, ``knn[c]`` holds (distance, id) of its nearest
    same-label clusters, sorted, with ``bound[c]`` such that every eligible cluster closer than
    ``bound[c]`` is in the list (stale entries are skipped lazily); the head is c's nearest
    eligible neighbour and sits in a heap keyed (distance, min id, max id).  The global heap
    minimum is then the exact minimum of Eq. (1) over all eligible pairs, ties broken by ids.
    """

    def __init__(self, X: np.ndarray, codes: np.ndarray, n_labels: int, show_progress: bool):
        self.X = X
        n, d = X.shape
        cap = 2 * n
        self.S = np.zeros((cap, d))
        self.C = np.zeros((cap, d))
        self.N2 = np.zeros(cap)
        self.R = np.zeros(cap)
        self.cnt = np.zeros(cap, dtype=np.int64)
        self.lab = np.full(cap, -1, dtype=np.int64)
        self.active = np.zeros(cap, dtype=bool)
        self.S[:n] = X
        self.C[:n] = X
        self.N2[:n] = np.einsum("ij,ij->i", X, X)
        self.cnt[:n] = 1
        self.lab[:n] = codes
        self.active[:n] = True
        self.members: list = [np.array([i]) for i in range(n)] + [None] * n
        self.parts: list = [()] * cap
        self.cl: dict[int, set] = {}
        self.hp: dict[tuple, np.ndarray] = {}       # cached separating unit directions per cluster pair
        self.hp_of: dict[int, set] = {}
        self.lp_separated: dict[tuple, int] = {}    # label pair -> LPs that separated large clusters of it
        self.label_lp_tried: set = set()            # label pairs whose whole-pair LP already ran
        self.nxt = n
        self.n_labels = n_labels
        self.by_label = [np.flatnonzero(codes == l) for l in range(n_labels)]   # cluster ids, grows
        self.label_points = [ids.copy() for ids in self.by_label]               # point rows, fixed
        self.knn: list = [None] * cap
        self.bound = np.full(cap, np.inf)
        self.nn = np.full(cap, -1, dtype=np.int64)
        self.nnd = np.full(cap, np.inf)
        self.ver = np.zeros(cap, dtype=np.int64)
        self.heap: list = []
        self.sep_label = np.zeros((n_labels, n_labels), dtype=bool)   # whole labels certified disjoint
        self.label_dir: dict[tuple, np.ndarray] = {}                    # (a, b), a < b: best direction a vs b
        self.stats = {"merges": 0, "rejected": 0, "label_pairs_certified": 0, "label_pair_lps": 0, "label_pruned": 0,
                      "candidates": 0, "ball_pruned": 0, "mean_dir_pruned": 0,
                      "cache_pruned": 0, "wolfe_pruned": 0, "svm_pruned": 0, "lp_pairs": 0, "lp": 0, "knn_rebuilds": 0,
                      "overlap_witness_dual": 0, "overlap_witness_lp": 0, "overlap_unconfirmed": 0}
        self.show_progress = show_progress

    # ------------------------------------------------------------------ neighbour lists
    def _build_knn(self, c: int):
        self.stats["knn_rebuilds"] += 1
        ids = self.by_label[self.lab[c]]
        bad = self.cl.get(c)
        mask = ids != c
        if bad:
            mask &= ~np.isin(ids, np.fromiter(bad, dtype=np.int64, count=len(bad)))
        ids = ids[mask]
        if ids.size == 0:
            self.knn[c] = []
            self.bound[c] = np.inf
            return
        d = _dist_rows(self.C[ids], self.C[c])
        if ids.size > _KNN:
            part = np.argpartition(d, _KNN)[: _KNN + 1]
            part = part[np.lexsort((ids[part], d[part]))]
            self.bound[c] = float(d[part[_KNN]])
            part = part[:_KNN]
        else:
            part = np.lexsort((ids, d))
            self.bound[c] = np.inf
        self.knn[c] = list(zip(d[part].tolist(), ids[part].tolist()))

    def _refresh_head(self, c: int):
        """Make nn[c] the first valid list entry (rebuilding the list if needed); push it if it changed."""
        lst = self.knn[c]
        bad = self.cl.get(c, ())
        while lst and (not self.active[lst[0][1]] or lst[0][1] in bad):
            lst.pop(0)
        if not lst or lst[0][0] >= self.bound[c]:
            self._build_knn(c)
            lst = self.knn[c]
        if not lst:
            if self.nn[c] != -1:
                self.ver[c] += 1
                self.nn[c] = -1
                self.nnd[c] = np.inf
            return
        dist, j = lst[0]
        if self.nn[c] != j or self.nnd[c] != dist:
            self.ver[c] += 1
            self.nn[c] = j
            self.nnd[c] = dist
            heapq.heappush(self.heap, (dist, min(c, j), max(c, j), c, int(self.ver[c])))

    def _pop(self):
        while self.heap:
            dist, i, j, c, v = heapq.heappop(self.heap)
            if self.active[c] and self.ver[c] == v:
                return i, j
        return None

    # ------------------------------------------------------------------ whole-label certificates
    def _certify_label_pairs(self):
        """Mark label pairs whose *whole* point sets are strictly separable.

        A hyperplane separating all points of label a from all points of label b separates every
        cluster of a from every cluster of b (subsets; the float64 guard of :meth:`_separated_by`
        only gets easier to pass on subsets), so merges never need to test those pairs.  The
        certificate is a direction from a few Wolfe iterations or, failing that, a near-hard-margin
        linear SVM, verified on all points like every other certificate; a pair not certified
        keeps the SVM direction as a hint and is tested per cluster, exactly, as before.
        """
        X, L = self.X, self.n_labels
        pts = self.label_points
        for a in range(L):
            for b in range(a + 1, L):
                A, B = X[pts[a]], X[pts[b]]
                _, lower, z = _hull.min_norm_point(A, B, max_iter=_LABEL_ITERS, stop_below=0.0)
                nz = float(np.linalg.norm(z))
                if lower > 0 and nz > 0 and self._separated_by(z / nz, A, B):
                    self._mark_separable(a, b)
                    continue
                w = _hull.svm_direction(A, B)      # nearly touching sets: an SVM finds the plane fast
                if w is None:
                    continue
                if self._separated_by(w, A, B):
                    self._mark_separable(a, b)
                    continue
                self.label_dir[(a, b)] = w
                # the plane *nearly* separates (at most _LABEL_LP_ERRORS = 5% of the points, or 5, on the
                # wrong side of its best threshold): one exact LP instead of one per merge between the
                # labels; pairs that overlap clearly are left to the per-cluster tests (it would say "overlap")
                if _threshold_errors(A @ w, B @ w) <= max(5, _LABEL_LP_ERRORS * (A.shape[0] + B.shape[0])):
                    self._label_pair_lp(a, b)

    def _mark_separable(self, a: int, b: int):
        self.sep_label[a, b] = self.sep_label[b, a] = True
        self.stats["label_pairs_certified"] += 1

    def _label_pair_lp(self, a: int, b: int):
        """The exact LP test on the whole label pair a < b (hint: its SVM direction), at most once per
        pair; separable labels are certified."""
        if (a, b) in self.label_lp_tried:
            return
        self.label_lp_tried.add((a, b))
        self.stats["label_pair_lps"] += 1
        res = _hull.separate(self.X[self.label_points[a]], self.X[self.label_points[b]],
                             self.label_dir.get((a, b)), stats=self.stats)
        if res is not None:
            self._mark_separable(a, b)

    def _label_hint(self, L: int, Lo: int):
        """The whole-label direction oriented so that label ``L`` is on the high side, or None."""
        w = self.label_dir.get((L, Lo) if L < Lo else (Lo, L))
        return None if w is None else (w if L < Lo else -w)

    # ------------------------------------------------------------------ exact merge test
    def _separated_by(self, w, XM, XO) -> bool:
        lo = float((XM @ w).min())
        hi = float((XO @ w).max())
        return (lo - hi) > _hull.SEP_RTOL * (abs(lo) + abs(hi) + float(np.linalg.norm(w)) * self._scale)

    def _may_merge(self, i: int, j: int, idx: np.ndarray, pending: dict) -> bool:
        X = self.X
        XM = X[idx]
        L = self.lab[i]
        cM = (self.S[i] + self.S[j]) / (self.cnt[i] + self.cnt[j])
        rM = float(_dist_rows(XM, cM).max())
        m = self.nxt
        # 1. disjoint balls => disjoint hulls.  ||c_O - c_M||^2 by the expansion (one GEMV over the
        #    contiguous centroid block, no copies), with a slack far above its rounding error so the
        #    test stays conservative.
        nM2 = float(cM @ cM)
        d2 = self.N2[:m] + nM2 - 2.0 * (self.C[:m] @ cM)
        slack = 1e-9 * (self.N2[:m] + nM2) + 1e-300
        labm = self.lab[:m]
        other = self.active[:m] & (labm != L)
        certified = other & self.sep_label[L, labm]
        self.stats["label_pruned"] += int(certified.sum())
        other &= ~certified
        near = other & (d2 - slack <= (rM + self.R[:m]) ** 2)
        cand = np.flatnonzero(near)
        self.stats["ball_pruned"] += int(other.sum()) - int(cand.size)
        if cand.size == 0:
            return True
        self.stats["candidates"] += int(cand.size)
        # 2. mean-difference direction w_O = c_M - c_O separates iff min_M w.x > max_O w.y
        W = cM - self.C[cand]
        nW = np.linalg.norm(W, axis=1)
        lo = np.empty(cand.size)
        chunk = max(1, int(4_000_000 // max(1, XM.shape[0])))
        for s in range(0, cand.size, chunk):
            lo[s:s + chunk] = (XM @ W[s:s + chunk].T).min(axis=0)
        sizes = self.cnt[cand]
        pts = np.concatenate([self.members[o] for o in cand])
        owner = np.repeat(np.arange(cand.size), sizes)
        proj = np.einsum("ij,ij->i", X[pts], W[owner])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        hi = np.maximum.reduceat(proj, starts)
        guard = _hull.SEP_RTOL * (np.abs(lo) + np.abs(hi) + nW * self._scale)
        sep = (lo - hi) > guard
        self.stats["mean_dir_pruned"] += int(sep.sum())
        rest = np.flatnonzero(~sep)
        if rest.size == 0:
            return True
        # worst (most negative normalised gap) first: a rejection usually needs one LP
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(nW[rest] > 0, (lo[rest] - hi[rest]) / nW[rest], -np.inf)
        order = rest[np.lexsort((cand[rest], score))]
        for t in order:
            o = int(cand[t])
            XO = X[self.members[o]]
            # 3. a separating direction cached for a part of M against O or a part of O
            hit = None
            near_miss = []                      # cached directions that almost separate: LP seeds
            for a in (i, j):
                for b in (o,) + tuple(self.parts[o]):
                    w = self.hp.get((a, b) if a < b else (b, a))
                    if w is not None:
                        if self._separated_by(w, XM, XO):
                            hit = w
                            break
                        near_miss.append(w)
                if hit is not None:
                    break
            if hit is None:                     # the whole-label direction often separates clusters
                w = self._label_hint(int(L), int(self.lab[o]))
                if w is not None and self._separated_by(w, XM, XO):
                    hit = w
            if hit is not None:
                self.stats["cache_pruned"] += 1
                pending[o] = hit
                continue
            # 4. a few Wolfe iterations: a positive certified lower bound is a separating direction
            _, lower, z, support = _hull.min_norm_point(XM, XO, max_iter=_QUICK_ITERS, stop_below=0.0,
                                                        collapse=_COLLAPSE * float(nW[t]), return_support=True)
            nz = float(np.linalg.norm(z))
            if lower > 0 and nz > 0 and self._separated_by(z / nz, XM, XO):
                self.stats["wolfe_pruned"] += 1
                pending[o] = z / nz
                continue
            # 5. large pairs: a near-hard-margin SVM (seconds) before the LP (often minutes when nearly touching)
            if XM.shape[0] + XO.shape[0] > _SVM_MIN_POINTS:
                w = _hull.svm_direction(XM, XO, max_iter=_SVM_ITERS)
                if w is not None and self._separated_by(w, XM, XO):
                    self.stats["svm_pruned"] += 1
                    pending[o] = w
                    continue
            # 6. the exact LP (constraint generation)
            self.stats["lp_pairs"] += 1
            st = {}
            seeds = _seed_rows(XM, XO, support, near_miss)
            res = _hull.separate(XM, XO, z if nz > 0 else W[t], stats=st, seed_rows=seeds)
            for key, cnt in st.items():           # LPs, overlap witnesses, unconfirmed "infeasible"s
                self.stats[key] = self.stats.get(key, 0) + cnt
            if res is None:
                return False
            pending[o] = res[0]
            self._after_lp_separated(int(L), int(self.lab[o]), XM.shape[0] + XO.shape[0])
        return True

    def _after_lp_separated(self, a: int, b: int, n_points: int):
        """After ``_LABEL_LP_AFTER`` LPs between large clusters (> ``_SVM_MIN_POINTS`` points) of
        labels a and b have all said "separated", the labels may be separable as wholes: one exact
        LP on the whole pair (unless it already ran) then settles every later merge between them.
        SST-2 [CLS] vectors, 599 points in 384-d: two separable labels no SVM certifies, and
        an LP of ~4 s for every merge of the large clusters, 75 s for one layer."""
        if n_points <= _SVM_MIN_POINTS:
            return
        key = (min(a, b), max(a, b))
        self.lp_separated[key] = self.lp_separated.get(key, 0) + 1
        if self.lp_separated[key] == _LABEL_LP_AFTER and not self.sep_label[a, b]:
            self._label_pair_lp(*key)

    def _forget_hp(self, c: int):
        for o in self.hp_of.pop(c, ()):
            self.hp.pop((c, o) if c < o else (o, c), None)
            s = self.hp_of.get(o)
            if s is not None:
                s.discard(c)

    def _merge(self, i: int, j: int, idx: np.ndarray, pending: dict):
        k = self.nxt
        self.nxt += 1
        L = int(self.lab[i])
        self.members[k] = idx
        self.parts[k] = (i, j)
        self.S[k] = self.S[i] + self.S[j]
        self.cnt[k] = self.cnt[i] + self.cnt[j]
        self.C[k] = self.S[k] / self.cnt[k]
        self.N2[k] = float(self.C[k] @ self.C[k])
        self.R[k] = float(_dist_rows(self.X[idx], self.C[k]).max())
        self.lab[k] = L
        self.active[i] = self.active[j] = False
        self.active[k] = True
        self.members[i] = self.members[j] = None
        # separating directions: keep those of k and of its parts, forget the grandchildren's
        for g in self.parts[i] + self.parts[j]:
            self._forget_hp(g)
        for o, w in pending.items():
            self.hp[(k, o) if k < o else (o, k)] = w
            self.hp_of.setdefault(k, set()).add(o)
            self.hp_of.setdefault(o, set()).add(k)
        ids = self.by_label[L]
        ids = ids[(ids != i) & (ids != j)]
        # cannot-links are inherited by the union
        cl = (self.cl.pop(i, set()) | self.cl.pop(j, set())) - {i, j}
        if cl:
            self.cl[k] = cl
            for c in cl:
                s = self.cl[c]
                s.discard(i)
                s.discard(j)
                s.add(k)
        self.by_label[L] = np.append(ids, k)
        self.knn[i] = self.knn[j] = None
        self.stats["merges"] += 1
        self._build_knn(k)
        self._refresh_head(k)
        if ids.size:
            dk = _dist_rows(self.C[ids], self.C[k])
            nnv = self.nn[ids]
            aff = np.flatnonzero((nnv == i) | (nnv == j) | (dk < self.bound[ids]))
            for c, dck in zip(ids[aff].tolist(), dk[aff].tolist()):
                if dck < self.bound[c] and c not in cl:
                    lst = self.knn[c]
                    bisect.insort(lst, (dck, k))
                    if len(lst) > _KNN:
                        self.bound[c] = lst.pop()[0]
                self._refresh_head(c)

    def run(self):
        n = self.X.shape[0]
        self._scale = max(float(np.abs(self.X).max(initial=0.0)), 1e-300)
        self._certify_label_pairs()
        for c in range(n):
            self._build_knn(c)
            self._refresh_head(c)
        bar = _progress(total=max(0, n - self.n_labels), enabled=self.show_progress, desc="DirectProbe merges",
                        leave=False)
        try:
            while True:
                pair = self._pop()
                if pair is None:
                    break
                i, j = pair
                idx = np.sort(np.concatenate([self.members[i], self.members[j]]))
                pending: dict = {}
                if self._may_merge(i, j, idx, pending):
                    self._merge(i, j, idx, pending)
                    bar.update(1)
                else:
                    self.stats["rejected"] += 1
                    self.cl.setdefault(i, set()).add(j)
                    self.cl.setdefault(j, set()).add(i)
                    self._refresh_head(i)
                    self._refresh_head(j)
        finally:
            bar.close()
        final = np.flatnonzero(self.active[: self.nxt])
        return [self.members[c] for c in final], [int(self.lab[c]) for c in final]


def _finalise(n: int, member_lists: Sequence[np.ndarray], codes_of: Sequence[int]):
    """Canonical cluster order: by label code, then smallest member index."""
    order = sorted(range(len(member_lists)), key=lambda t: (codes_of[t], int(np.min(member_lists[t]))))
    assign = np.empty(n, dtype=np.int64)
    labs = np.empty(len(order), dtype=np.int64)
    for new, old in enumerate(order):
        assign[member_lists[old]] = new
        labs[new] = codes_of[old]
    return assign, labs


# ---------------------------------------------------------------------------- slow reference (tests, bench)
def directprobe_reference(X, y):
    """The merge loop exactly as described, slowly: all same-label pairs every step, LP on every
    other-label cluster for every candidate merge, no caching, no pruning.  Returns
    ``(assignments, cluster_label_codes)`` in the canonical order of :class:`DirectProbe`.
    """
    X = check_features(X, "X")
    y = check_labels(y, X.shape[0])
    classes, codes = _encode(y)
    n = X.shape[0]
    members = {i: np.array([i]) for i in range(n)}
    S = {i: X[i].copy() for i in range(n)}
    lab = {i: int(codes[i]) for i in range(n)}
    failed: dict = {}                      # i -> {j > i}: pairs whose merge was rejected
    nxt = n
    while True:
        best = None
        ids = sorted(members)
        for L in range(len(classes)):
            li = np.array([c for c in ids if lab[c] == L], dtype=np.int64)
            if li.size < 2:
                continue
            cents = np.array([S[c] / len(members[c]) for c in li])
            for a in range(li.size - 1):
                d = _dist_rows(cents[a + 1:], cents[a])
                js = li[a + 1:]
                bad = failed.get(int(li[a]))
                if bad:
                    ok = ~np.isin(js, np.fromiter(bad, dtype=np.int64, count=len(bad)))
                    d, js = d[ok], js[ok]
                if d.size == 0:
                    continue
                dmin = d.min()
                key = (float(dmin), int(li[a]), int(js[d == dmin].min()))
                if best is None or key < best:
                    best = key
        if best is None:
            break
        _, i, j = best
        idx = np.sort(np.concatenate([members[i], members[j]]))
        ok = True
        for o in ids:
            if lab[o] != lab[i]:
                if not _hull.lp_separates(X[idx], X[members[o]]):
                    ok = False
                    break
        if not ok:
            failed.setdefault(i, set()).add(j)
            continue
        k = nxt
        nxt += 1
        members[k] = idx
        S[k] = S[i] + S[j]
        lab[k] = lab[i]
        for c in (i, j):
            del members[c], S[c], lab[c]
    keys = sorted(members)
    return _finalise(n, [members[c] for c in keys], [lab[c] for c in keys])


# ---------------------------------------------------------------------------- estimator
class DirectProbe(ClassifierMixin, FtgeoEstimator):
    """DirectProbe clustering of labelled points (Zhou & Srikumar 2021, Algorithm 1).

    Parameters
    ----------
    distance : {"centroid"}
        Cluster distance that orders the merges: Euclidean distance between cluster means (Eq. 1),
        the paper's choice.
    pairs : {"all", "label_min"}
        Which hull distances (Eq. 2) to compute after clustering: every pair of clusters with
        different labels, or only what the label-pair minima need (pairs whose certified lower
        bound exceeds the current minimum are skipped; their entries are NaN).
    tol : float in (0, 1)
        Relative accuracy of the hull distances (Wolfe's algorithm duality gap).
    random_state : None, int or numpy Generator
        Unused (the algorithm is deterministic); kept for the scikit-learn signature.
    progress : bool
        Show a progress bar over the merges.
    blas_threads : int or None
        BLAS threads during the fit (default 1: the loop issues many small matrix-vector
        products, for which extra threads only add contention; None leaves the setting alone).

    Fitted attributes
    -----------------
    classes_ (L,), n_labels_, n_clusters_, labels_ (K,) label of each cluster (values of y),
    cluster_label_codes_ (K,) index into classes_, assignments_ (n,) cluster of each point,
    cluster_sizes_ (K,), cluster_distance_matrix_ (K, K) hull distances (NaN within a label and
    for skipped pairs), cluster_distances_ (DataFrame: cluster_i, cluster_j, label_i, label_j,
    distance), label_pair_distance_ (L, L) minimum over clusters (NaN diagonal),
    label_min_distance_ (L,), distance_vector_ (L(L-1)/2,), distance_vector_pairs_ list of
    (label_a, label_b), stats_ (merge/LP counts), timings_ (seconds), X_fit_ (the fitted points).
    """

    _parameter_constraints = {
        "distance": [StrOptions({"centroid"})],
        "pairs": [StrOptions({"all", "label_min"})],
        "tol": [Interval(Real, 0, 1, closed="neither")],
        "random_state": RANDOM_STATE,
        "progress": ["boolean"],
        "blas_threads": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, distance: str = "centroid", pairs: str = "all", tol: float = 1e-9,
                 random_state=None, progress: bool = True, blas_threads: int | None = 1):
        self.distance = distance
        self.pairs = pairs
        self.tol = tol
        self.random_state = random_state   # unused: the algorithm is deterministic
        self.progress = progress
        self.blas_threads = blas_threads

    @fit_context
    def fit(self, X, y) -> "DirectProbe":
        """Cluster (X, y) by Algorithm 1 and compute the hull distances (Eq. 2)."""
        from threadpoolctl import threadpool_limits
        with threadpool_limits(limits=self.blas_threads, user_api="blas"):
            return self._fit(X, y)

    def _fit(self, X, y) -> "DirectProbe":
        X, y = check_X_y(X, y, min_samples=1, min_classes=1)
        t0 = time.perf_counter()
        classes, codes = _encode(y)
        merger = _Merger(X, codes, len(classes), self.progress)
        member_lists, codes_of = merger.run()
        assign, labs = _finalise(X.shape[0], member_lists, codes_of)
        t1 = time.perf_counter()
        self.X_fit_ = X
        self.classes_ = classes
        self.n_labels_ = int(len(classes))
        self.assignments_ = assign
        self.cluster_label_codes_ = labs
        self.labels_ = classes[labs]
        self.n_clusters_ = int(labs.size)
        self.cluster_sizes_ = np.bincount(assign, minlength=self.n_clusters_)
        self.stats_ = dict(merger.stats)
        self._cluster_geometry()
        self._distances()
        t2 = time.perf_counter()
        self.timings_ = {"clustering_s": t1 - t0, "distances_s": t2 - t1, "total_s": t2 - t0}
        return self

    # -- per-cluster members, means and ball radii
    def _cluster_geometry(self):
        X = self.X_fit_
        order = np.argsort(self.assignments_, kind="stable")
        bounds = np.cumsum(self.cluster_sizes_)[:-1]
        self._members = np.split(order, bounds)
        self._centroids = np.array([X[m].mean(axis=0) for m in self._members])
        self._radii = np.array([_dist_rows(X[m], c).max() for m, c in zip(self._members, self._centroids)])

    def _distances(self):
        K, L = self.n_clusters_, self.n_labels_
        X = self.X_fit_
        labs = self.cluster_label_codes_
        D = np.full((K, K), np.nan)
        LP = np.full((L, L), np.inf)
        cent, rad = self._centroids, self._radii
        pairs = [(i, j) for i in range(K) for j in range(i + 1, K) if labs[i] != labs[j]]
        if self.pairs == "label_min":
            # cheap certified lower bound: ball separation; process in increasing order of it
            lbs = [max(0.0, float(np.linalg.norm(cent[i] - cent[j])) - rad[i] - rad[j]) for i, j in pairs]
            order = np.argsort(np.asarray(lbs), kind="stable") if pairs else []
            for t in order:
                i, j = pairs[t]
                a, b = sorted((labs[i], labs[j]))
                if lbs[t] > LP[a, b]:
                    continue
                dist, lower, _ = _hull.min_norm_point(X[self._members[i]], X[self._members[j]],
                                                      rtol=self.tol, stop_below=LP[a, b] if np.isfinite(LP[a, b]) else None)
                if lower > LP[a, b]:
                    continue
                D[i, j] = D[j, i] = dist
                LP[a, b] = min(LP[a, b], dist)
        else:
            for i, j in pairs:
                dist = _hull.min_norm_point(X[self._members[i]], X[self._members[j]], rtol=self.tol)[0]
                D[i, j] = D[j, i] = dist
                a, b = sorted((labs[i], labs[j]))
                LP[a, b] = min(LP[a, b], dist)
        LP = np.minimum(LP, LP.T)
        np.fill_diagonal(LP, np.nan)
        LP[np.isinf(LP)] = np.nan
        self.cluster_distance_matrix_ = D
        ii, jj = np.triu_indices(K, 1)
        keep = ~np.isnan(D[ii, jj])
        ii, jj = ii[keep], jj[keep]
        self.cluster_distances_ = pd.DataFrame({
            "cluster_i": ii, "cluster_j": jj,
            "label_i": self.classes_[labs[ii]], "label_j": self.classes_[labs[jj]],
            "distance": D[ii, jj]})
        self.label_pair_distance_ = LP
        with np.errstate(all="ignore"):
            self.label_min_distance_ = np.array([np.nanmin(LP[a]) if L > 1 else np.nan for a in range(L)])
        ai, bi = np.triu_indices(L, 1)
        self.distance_vector_ = LP[ai, bi]
        self.distance_vector_pairs_ = [(self.classes_[a], self.classes_[b]) for a, b in zip(ai, bi)]

    # -- prediction by the nearest hull
    def predict(self, X) -> np.ndarray:
        """Label of the cluster whose convex hull is nearest to each row (the paper's prediction rule)."""
        check_fitted(self)
        cluster, _ = self.nearest_cluster(X)
        return self.labels_[cluster]

    def nearest_cluster(self, X):
        """(cluster index, point-to-hull distance) of the nearest hull for each row of X.

        Exact: clusters are visited in increasing order of a certified lower bound (ball bound
        max(0, ||x - mean|| - radius)); Wolfe's algorithm on a cluster stops early once its
        lower bound exceeds the best distance found, so only clusters that could win are solved.
        """
        check_fitted(self)
        from threadpoolctl import threadpool_limits
        with threadpool_limits(limits=self.blas_threads, user_api="blas"):
            return self._nearest_cluster(X)

    def _nearest_cluster(self, X):
        X = check_features(X, "X")
        if X.shape[1] != self.X_fit_.shape[1]:
            raise ValidationError(f"X has {X.shape[1]} features; the probe was fitted on {self.X_fit_.shape[1]}.")
        Xf = self.X_fit_
        out_c = np.empty(X.shape[0], dtype=np.int64)
        out_d = np.empty(X.shape[0])
        for r, p in enumerate(X):
            lb = np.maximum(0.0, _dist_rows(self._centroids, p) - self._radii)
            order = np.lexsort((np.arange(lb.size), lb))
            best, best_c = np.inf, -1
            for c in order:
                if lb[c] > best:
                    break
                dist, lower, _ = _hull.min_norm_point(Xf[self._members[c]], p[None, :], rtol=self.tol,
                                                      stop_below=best if np.isfinite(best) else None)
                if lower > best:
                    continue
                if dist < best or (dist == best and c < best_c):
                    best, best_c = dist, int(c)
            out_c[r] = best_c
            out_d[r] = best
        return out_c, out_d

    def score(self, X, y) -> float:
        """Accuracy of :meth:`predict`."""
        check_fitted(self)
        y = check_labels(y, np.shape(X)[0])
        return float(np.mean(self.predict(X) == y))
