"""The nearest-neighbour graph of the codes, and spreading scores along it.

Images whose codes are near neighbours usually show the same kind of thing. Two steps use
that: spectral clustering cuts this graph into clusters (``helpers.labelling.cluster``), and label
spreading lets each image's SSIM losses borrow from its neighbours' (``helpers.labelling.labels``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

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
    given = np.ascontiguousarray(codes)  # known by its bytes as given: no copy to hash
    exact = len(given) <= EXACT_UP_TO
    digest = hashlib.blake2b(memoryview(given).cast("B"), digest_size=16).hexdigest()
    key = (digest, given.dtype.str, given.shape, n_neighbors, exact)
    if key not in _LAST_GRAPHS:
        codes = _as_codes(given, n_neighbors)
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


# Spreading stops when at most this much of the error it started with is left: 24 steps at
# alpha 0.8, within about 1e-7 of the fixed point on the piles with truth, as close as the
# 50 plain steps this replaced
SPREAD_TOLERANCE = 1e-7


def spread(
    values: np.ndarray,
    graph: sparse.spmatrix,
    alpha: float,
    clamp: np.ndarray | None = None,
    dtype=np.float64,
    tolerance: float = SPREAD_TOLERANCE,
) -> np.ndarray:
    """Values averaged along the graph: the fixed point of ``F = alpha * P F + (1 - alpha) V``.

    ``P`` is the row-normalised graph, so each row of the result is a weighted average of
    the values in its neighbourhood and beyond (``alpha`` near 1 reaches further; 0 leaves
    the values as they are). Units are kept: spread SSIM losses are still SSIM losses.
    Rows ``clamp`` keep their values throughout (known nodes, as in label propagation).
    ``dtype=np.float32`` is about 3x faster for many columns, within 1e-5 of float64.

    Solved by Chebyshev semi-iteration (Golub and Varga): the graph is symmetric, so ``P``'s
    eigenvalues are real and within [-1, 1], and the recurrence weighs the last two steps
    to cancel the error's components on all of them at once: ``chebyshev_steps`` (24 at
    alpha 0.8) where the plain iteration ``F <- alpha P F + (1 - alpha) V`` took 50 to come
    as close. Each step is one product with the graph.
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
    start = (1.0 - alpha) * values
    product = parallel_product(transition)

    def step(f: np.ndarray) -> np.ndarray:  # alpha P f + (1 - alpha) V
        out = product(f)
        out *= alpha
        out += start
        return out

    before, now = values, step(values)
    if clamp is not None:
        now[clamp] = values[clamp]
    weight = 1.0
    for k in range(1, chebyshev_steps(alpha, tolerance)):
        weight = 2.0 / (2.0 - alpha**2) if k == 1 else 1.0 / (1.0 - alpha**2 * weight / 4.0)
        after = step(now)
        after -= before
        after *= weight
        after += before  # weight * (alpha P now + (1 - alpha) V - before) + before
        if clamp is not None:
            after[clamp] = values[clamp]
        before, now = now, after
    return now.astype(np.float32)


# Rows of a sparse product worth a thread of their own (scipy's sparse products release
# Python's lock, so a block of rows per core runs in parallel)
PARALLEL_ROWS = 50_000


def parallel_product(matrix: sparse.csr_matrix) -> Callable[[np.ndarray], np.ndarray]:
    """``f -> matrix @ f`` for (n, k) arrays ``f``, a block of rows per core when large."""
    blocks = min(os.cpu_count() or 1, len(matrix.indptr) // PARALLEL_ROWS)
    if blocks < 2:
        return lambda f: matrix @ f
    cuts = np.linspace(0, matrix.shape[0], blocks + 1).astype(int)
    parts = [matrix[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]

    def product(f: np.ndarray) -> np.ndarray:
        out = np.empty((matrix.shape[0], *f.shape[1:]), np.result_type(matrix.dtype, f.dtype))

        def rows(i: int) -> None:
            out[cuts[i] : cuts[i + 1]] = parts[i] @ f

        with ThreadPoolExecutor(blocks) as pool:
            list(pool.map(rows, range(blocks)))
        return out

    return product


def chebyshev_steps(alpha: float, tolerance: float = SPREAD_TOLERANCE) -> int:
    """Steps of Chebyshev semi-iteration that shrink the error of spreading with ``alpha``
    below ``tolerance`` times where it started: the error falls like ``1 / T_k(1 / alpha)``,
    ``T_k`` the Chebyshev polynomial, about ``2 * (alpha / (1 + sqrt(1 - alpha**2))) ** k``."""
    if alpha == 0.0:
        return 0
    return max(1, int(np.ceil(np.arccosh(1.0 / tolerance) / np.arccosh(1.0 / alpha))))


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
