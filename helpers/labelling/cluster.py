"""Clusters of the latent codes (spectral or KMeans), and how well they match known classes."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans, MiniBatchKMeans, SpectralClustering
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from helpers.core.graph import DEFAULT_NEIGHBOURS, knn_graph

METHODS = ("spectral", "kmeans")

# Up to this many codes the spectral embedding uses ARPACK (exact; what the Fashion-MNIST
# numbers in docs/results.md were measured with). Its shift-invert factorises the graph's
# Laplacian, whose cost grows fast with the pile (minutes and gigabytes at 100,000 codes,
# where LOBPCG takes seconds; on 30,000 codes the two found clusters equally good).
ARPACK_UP_TO = 20_000

# Beyond this many codes "spectral" means mini-batch KMeans: even LOBPCG's eigenvectors of
# a million-node graph take minutes and gigabytes, and the pile's labels do not come from
# the clusters unless there is one example per class.
SPECTRAL_UP_TO = 200_000

# The tutorial's KMeans settings.
KMEANS_SETTINGS = {"init": "k-means++", "n_init": 20, "max_iter": 10000}


def kmeans(codes: np.ndarray, n_clusters: int, seed: int = 0) -> KMeans:
    """Fit KMeans (k-means++, n_init 20, max_iter 10000) on the codes; seeded."""
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2:
        raise ValueError(f"codes must be (N, latent_dim), got shape {codes.shape}")
    if len(codes) < n_clusters:
        raise ValueError(f"{len(codes)} codes cannot form {n_clusters} clusters")
    return KMeans(n_clusters=n_clusters, random_state=seed, **KMEANS_SETTINGS).fit(codes)


def spectral(
    codes: np.ndarray, n_clusters: int, seed: int = 0, n_neighbors: int = DEFAULT_NEIGHBOURS
) -> np.ndarray:
    """Spectral clustering of the codes' nearest-neighbour graph; seeded.

    KMeans draws straight borders between round blobs; the codes lie on curved,
    elongated sheets, which a graph of neighbours follows (on Fashion-MNIST it matches
    classes better: docs/results.md). Deterministic for a given seed.
    """
    if len(codes) < n_clusters:
        raise ValueError(f"{len(codes)} codes cannot form {n_clusters} clusters")
    graph = knn_graph(codes, n_neighbors)
    model = SpectralClustering(
        n_clusters,
        affinity="precomputed",
        assign_labels="cluster_qr",
        random_state=seed,
        eigen_solver="arpack" if len(codes) <= ARPACK_UP_TO else "lobpcg",
    )
    return model.fit_predict(graph).astype(np.int64)


def method_for(method: str, n_codes: int) -> str:
    """The method that clusters ``n_codes`` when ``method`` is asked for: spectral turns
    into ``"minibatch-kmeans"`` beyond ``SPECTRAL_UP_TO`` codes."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    return "minibatch-kmeans" if method == "spectral" and n_codes > SPECTRAL_UP_TO else method


def cluster_codes(
    codes: np.ndarray, n_clusters: int, method: str = "spectral", seed: int = 0
) -> np.ndarray:
    """One cluster number per code: ``"spectral"`` (default; mini-batch KMeans beyond
    ``SPECTRAL_UP_TO`` codes, see ``method_for``) or the tutorial's ``"kmeans"``."""
    method = method_for(method, len(codes))
    if method == "spectral":
        return spectral(codes, n_clusters, seed=seed)
    if method == "kmeans":
        return kmeans(codes, n_clusters, seed=seed).labels_.astype(np.int64)
    model = MiniBatchKMeans(n_clusters, random_state=seed, n_init=3, batch_size=4096)
    return model.fit_predict(np.asarray(codes, np.float64)).astype(np.int64)


def contingency(clusters: np.ndarray, labels: np.ndarray, n_clusters: int, n_classes: int):
    """Counts (n_clusters, n_classes): how many images of each class fall in each cluster
    (images of unknown class, -1, are not counted)."""
    known = np.asarray(labels) >= 0
    table = np.zeros((n_clusters, n_classes), np.int64)
    np.add.at(table, (np.asarray(clusters)[known], np.asarray(labels)[known]), 1)
    return table


def hungarian_mapping(clusters: np.ndarray, labels: np.ndarray) -> dict[int, int]:
    """The one-to-one cluster -> class matching that agrees with the most labels."""
    n = int(max(clusters.max(), labels.max())) + 1
    table = contingency(clusters, labels, n, n)
    rows, cols = linear_sum_assignment(-table)
    return {int(r): int(c) for r, c in zip(rows, cols, strict=True)}


def cluster_accuracy(clusters: np.ndarray, labels: np.ndarray) -> float:
    """Clustering accuracy (ACC): accuracy under the best one-to-one cluster -> class map."""
    clusters, labels = np.asarray(clusters), np.asarray(labels)
    mapping = hungarian_mapping(clusters, labels)
    return float(np.mean(np.array([mapping[int(c)] for c in clusters]) == labels))


def cluster_metrics(clusters: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """ACC (Hungarian), NMI and ARI of clusters against true labels (-1: unknown, left out)."""
    known = np.asarray(labels) >= 0
    clusters, labels = np.asarray(clusters)[known], np.asarray(labels)[known]
    return {
        "acc": cluster_accuracy(clusters, labels),
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
        "ari": float(adjusted_rand_score(labels, clusters)),
    }


def cluster_map_note(cluster_to_class: np.ndarray, class_names) -> str:
    """A sentence on the clusters' map to classes when some class got no cluster ('' when
    every class has one): clusters follow what the images show, not the person's classes,
    and only the tutorial's cluster rule labels by them."""
    mapped = set(np.asarray(cluster_to_class).tolist())
    missing = [name for c, name in enumerate(class_names) if c not in mapped]
    if not missing:
        return ""
    return (
        f"{len(missing)} of the {len(class_names)} classes ({', '.join(missing)}) have no "
        "cluster of their own: the clusters follow what the images show, which need not be "
        "your classes. The labels below come from each image's own scores and the graph, "
        "not from this map; only RULE = 'cluster' would label by it."
    )
