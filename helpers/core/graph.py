"""The nearest-neighbour graph of the codes, and spreading scores along it.

Images whose codes are near neighbours usually show the same kind of thing. Two steps use
that: spectral clustering cuts this graph into clusters (``helpers.labelling.cluster``), and label
spreading lets each image's SSIM losses borrow from its neighbours' (``helpers.labelling.labels``).
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy import sparse
from sklearn.neighbors import NearestNeighbors, kneighbors_graph

DEFAULT_NEIGHBOURS = 10


def _as_codes(codes: np.ndarray, n_neighbors: int) -> np.ndarray:
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2:
        raise ValueError(f"codes must be (N, latent_dim), got shape {codes.shape}")
    if len(codes) <= n_neighbors:
        raise ValueError(f"{len(codes)} codes are too few for {n_neighbors} neighbours each")
    return codes


def knn_graph(codes: np.ndarray, n_neighbors: int = DEFAULT_NEIGHBOURS) -> sparse.csr_matrix:
    """Symmetric (N, N) affinity: 1 between mutual neighbours, 0.5 one way, 1 on the diagonal.

    The same graph scikit-learn's ``SpectralClustering(affinity="nearest_neighbors")``
    builds, so clustering and spreading see the same neighbourhoods. Exact neighbours (a
    k-d tree) up to ``EXACT_UP_TO`` codes; beyond, approximate ones (``nearest_neighbours``).
    The last two graphs are kept: each relabel asks for the pile's (spreading) and a
    sample's (calibration) again, and at a million codes the pile's takes seconds to build.
    Do not modify the matrix returned.
    """
    codes = _as_codes(codes, n_neighbors)
    exact = len(codes) <= EXACT_UP_TO
    digest = hashlib.blake2b(codes.tobytes(), digest_size=16).hexdigest()
    key = (digest, codes.shape, n_neighbors, exact)
    if key not in _LAST_GRAPHS:
        if exact:
            connectivity = kneighbors_graph(codes, n_neighbors, include_self=True)
        else:
            neighbours = nearest_neighbours(codes, n_neighbors)
            n = len(codes)
            connectivity = sparse.csr_matrix(
                (
                    np.ones(neighbours.size),
                    neighbours.ravel(),
                    np.arange(0, neighbours.size + 1, n_neighbors),
                ),
                shape=(n, n),
            )
        while len(_LAST_GRAPHS) >= KEEP_GRAPHS:
            _LAST_GRAPHS.pop(next(iter(_LAST_GRAPHS)))  # the oldest
        _LAST_GRAPHS[key] = sparse.csr_matrix(0.5 * (connectivity + connectivity.T))
    _LAST_GRAPHS[key] = _LAST_GRAPHS.pop(key)  # now the newest
    return _LAST_GRAPHS[key]


# Up to this many codes the neighbours are exact. A k-d tree slows down on real codes,
# which crowd together (minutes for a million on 2 cores), where NN-descent takes seconds
# (after compiling once per process) and finds nearly all of the exact neighbours (a test
# holds it to that).
EXACT_UP_TO = 50_000


def nearest_neighbours(codes: np.ndarray, n_neighbors: int) -> np.ndarray:
    """(N, n_neighbors) indices of each code's approximate nearest codes, itself first
    (NN-descent, ``pynndescent``, seeded)."""
    import pynndescent

    index = pynndescent.NNDescent(
        np.asarray(codes, np.float32), n_neighbors=n_neighbors, random_state=0, low_memory=True
    )
    neighbours, _ = index.neighbor_graph
    rows = np.arange(len(codes))
    has_self = (neighbours == rows[:, None]).any(axis=1)
    neighbours = np.where(has_self[:, None], neighbours, np.c_[rows, neighbours[:, :-1]])
    return neighbours.astype(np.int64)


_LAST_GRAPHS: dict = {}  # the graphs last built, oldest first
KEEP_GRAPHS = 2


def nearest_in(
    queries: np.ndarray, codes: np.ndarray, n_neighbors: int = DEFAULT_NEIGHBOURS
) -> np.ndarray:
    """(len(queries), n_neighbors) indices of each query's nearest codes."""
    codes = _as_codes(codes, n_neighbors)
    finder = NearestNeighbors(n_neighbors=n_neighbors).fit(codes)
    return finder.kneighbors(np.asarray(queries, np.float64), return_distance=False)


def spread(
    values: np.ndarray,
    graph: sparse.spmatrix,
    alpha: float,
    n_iter: int = 50,
    clamp: np.ndarray | None = None,
    dtype=np.float64,
) -> np.ndarray:
    """Values averaged along the graph: the fixed point of ``F = alpha * P F + (1 - alpha) V``.

    ``P`` is the row-normalised graph, so each row of the result is a weighted average of
    the values in its neighbourhood and beyond (``alpha`` near 1 reaches further; 0 leaves
    the values as they are). Units are kept: spread SSIM losses are still SSIM losses.
    Rows ``clamp`` keep their values throughout (known nodes, as in label propagation).
    ``dtype=np.float32`` is about 3x faster for many columns, within 1e-5 of float64.
    """
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"alpha must be in [0, 1), got {alpha}")
    values = np.asarray(values, dtype)
    if graph.shape != (len(values), len(values)):
        raise ValueError(f"graph {graph.shape} does not match {len(values)} rows of values")
    if alpha == 0.0:
        return values.astype(np.float32)
    degree = np.asarray(graph.sum(axis=1)).ravel()
    transition = (sparse.diags(1.0 / degree) @ graph).astype(dtype).tocsr()
    out = values.copy()
    for _ in range(n_iter):  # converges like alpha ** n_iter: 0.8 ** 50 ~ 1e-5
        out = alpha * (transition @ out) + (1.0 - alpha) * values
        if clamp is not None:
            out[clamp] = values[clamp]
    return out.astype(np.float32)


def poisson(
    graph: sparse.spmatrix, sources: np.ndarray, steps: int, dtype=np.float32
) -> np.ndarray:
    """Poisson learning (Calder et al., ICML 2020): ``u`` with ``L u = sources``, by walking.

    ``L = D - W`` is the graph's Laplacian; ``sources`` (N, k) says where each class's
    evidence enters (for examples: their one-hot class minus the mean one, at their nodes;
    each column then sums to 0, as a Poisson equation on a graph needs). ``steps`` of the
    Jacobi iteration ``u += D^-1 (sources - L u)``, which is what a random walk from the
    sources spreads (``mixing_steps`` says how many). A fixed number of steps is a linear
    map, so the answer for a sum of sources is the sum of the answers. Unlike spreading,
    the evidence does not fade with distance: a few sources reach the whole graph.
    float32 by default: half the memory traffic of float64, which is what a step costs.
    """
    sources = np.asarray(sources, dtype)
    if graph.shape != (len(sources), len(sources)):
        raise ValueError(f"graph {graph.shape} does not match {len(sources)} rows of sources")
    graph = sparse.csr_matrix(graph, dtype=dtype)
    degree = np.asarray(graph.sum(axis=1), dtype).ravel()[:, None]
    u = np.zeros_like(sources)
    for _ in range(steps):
        u = (sources + graph @ u) / degree
    return u


def mixing_steps(
    graph: sparse.spmatrix, start: np.ndarray, min_steps: int = 50, max_steps: int = 1000
) -> int:
    """How long Poisson learning walks: until a random walk begun on the ``start`` nodes is
    within ``1/N`` of its stationary distribution at every node (the paper's rule). Then
    every node has heard from every source; going on only flattens the differences. The
    count follows from the graph and where the examples sit, never from any labels."""
    graph = sparse.csr_matrix(graph, dtype=np.float64)
    n = graph.shape[0]
    degree = np.asarray(graph.sum(axis=1)).ravel()
    stationary = degree / degree.sum()
    walk = np.zeros(n)
    walk[np.asarray(start)] = 1.0
    walk /= walk.sum()
    for step in range(max_steps):
        if step >= min_steps and np.abs(walk - stationary).max() <= 1.0 / n:
            return step
        walk = graph @ (walk / degree)
    return max_steps
