import numpy as np
import pytest
from sklearn.cluster import SpectralClustering

from helpers.core import graph as G


def _two_blobs(rng, n=40):
    codes = np.concatenate([rng.normal(0, 1, (n, 3)), rng.normal(20, 1, (n, 3))])
    return codes, np.repeat([0, 1], n)


@pytest.mark.filterwarnings("ignore:Graph is not fully connected")  # on purpose
def test_knn_graph_is_the_one_spectral_clustering_builds(rng):
    codes, _ = _two_blobs(rng)
    graph = G.knn_graph(codes, 5)
    assert (graph != graph.T).nnz == 0
    np.testing.assert_allclose(graph.diagonal(), 1.0)
    model = SpectralClustering(2, affinity="nearest_neighbors", n_neighbors=5, random_state=0)
    model.fit(codes)
    np.testing.assert_allclose(graph.toarray(), model.affinity_matrix_.toarray())


def test_large_piles_get_nearly_the_exact_graph_approximately(rng, monkeypatch):
    codes = rng.normal(0, 1, (3000, 10))
    exact = G.knn_graph(codes, 10)
    monkeypatch.setattr(G, "EXACT_UP_TO", 1000)
    approximate = G.knn_graph(codes, 10)
    assert approximate is not exact and (approximate != approximate.T).nnz == 0
    np.testing.assert_allclose(approximate.diagonal(), 1.0)
    shared = exact.multiply(approximate).nnz / exact.nnz
    assert shared > 0.95, shared
    assert G.knn_graph(codes, 10) is approximate  # kept for the next caller


def test_nearest_in_finds_the_same_code_first(rng):
    codes, _ = _two_blobs(rng)
    idx = G.nearest_in(codes[[3, 50]], codes, 4)
    assert idx.shape == (2, 4) and idx[:, 0].tolist() == [3, 50]


def test_spread_is_a_fixed_point_that_stays_inside_a_component(rng):
    codes, group = _two_blobs(rng)
    graph = G.knn_graph(codes, 5)
    values = np.where(group[:, None] == 0, [0.2, 0.8], [0.7, 0.3]).astype(np.float32)
    values[0] = [0.9, 0.1]  # one noisy image in the first blob
    out = G.spread(values, graph, 0.8)
    assert out[0, 0] < out[0, 1]  # its neighbours outvote it
    np.testing.assert_allclose(out[group == 1], [[0.7, 0.3]] * 40, atol=1e-6)  # no leak
    transition = graph.multiply(1 / graph.sum(axis=1))
    np.testing.assert_allclose(out, 0.8 * (transition @ out) + 0.2 * values, atol=1e-4)
    np.testing.assert_array_equal(G.spread(values, graph, 0.0), values)


def test_spread_reaches_the_fixed_point_of_the_plain_iteration(rng):
    """Chebyshev's recurrence lands where many plain steps ``F <- a P F + (1 - a) V`` do,
    clamped rows included, in fewer products with the graph."""
    codes, _ = _two_blobs(rng)
    graph = G.knn_graph(codes, 5)
    values = rng.random((len(codes), 3))
    clamp = np.array([0, 5, 50])
    transition = graph.multiply(1 / graph.sum(axis=1)).tocsr()
    plain = values.copy()
    for _ in range(2000):
        plain = 0.9 * (transition @ plain) + 0.1 * values
        plain[clamp] = values[clamp]
    out = G.spread(values, graph, 0.9, clamp=clamp)
    np.testing.assert_allclose(out, plain, atol=1e-6)
    assert G.chebyshev_steps(0.9) < 50 < np.log(G.SPREAD_TOLERANCE) / np.log(0.9)


def test_a_large_graph_is_multiplied_a_block_of_rows_per_core(rng, monkeypatch):
    monkeypatch.setattr(G, "PARALLEL_ROWS", 10)
    monkeypatch.setattr(G.os, "cpu_count", lambda: 3)
    codes, _ = _two_blobs(rng)
    graph = G.knn_graph(codes, 5)
    values = rng.random((len(codes), 2)).astype(np.float32)
    np.testing.assert_array_equal(G.parallel_product(graph)(values), graph @ values)


def test_spread_refuses_bad_input(rng):
    codes, _ = _two_blobs(rng)
    graph = G.knn_graph(codes, 5)
    with pytest.raises(ValueError, match="alpha"):
        G.spread(np.zeros((80, 2)), graph, 1.0)
    with pytest.raises(ValueError, match="does not match"):
        G.spread(np.zeros((79, 2)), graph, 0.5)
    with pytest.raises(ValueError, match="too few"):
        G.knn_graph(codes[:5], 5)
    with pytest.raises(ValueError, match="N, latent_dim"):
        G.knn_graph(np.zeros((20, 2, 2)), 5)


def _path_graph(n):
    """A path 0 - 1 - ... - n-1, weight 1 on each edge, no self loops."""
    edges = np.arange(n - 1)
    w = np.ones(n - 1)
    return G.sparse.csr_matrix(
        (np.r_[w, w], (np.r_[edges, edges + 1], np.r_[edges + 1, edges])), shape=(n, n)
    )


def test_poisson_on_a_path_is_the_straight_line_between_two_sources():
    # L u = f on a path with +1 at one end and -1 at the other: the discrete Poisson
    # equation, whose solution rises by one per edge (u[i+1] - u[i] = -1) and is centred
    # so that sum(degree * u) = 0 (the walk from u = 0 keeps that sum).
    n = 9
    graph = _path_graph(n)
    sources = np.zeros((n, 1))
    sources[0], sources[-1] = 1.0, -1.0
    u = G.poisson(graph, sources, steps=5000, dtype=np.float64)[:, 0]
    np.testing.assert_allclose(np.diff(u), -1.0, atol=1e-6)
    degree = np.asarray(graph.sum(axis=1)).ravel()
    assert abs(degree @ u) < 1e-6


def test_poisson_is_linear_in_its_sources(rng):
    codes, _ = _two_blobs(rng)
    graph = G.knn_graph(codes, 5)
    a, b = rng.normal(size=(80, 2)), rng.normal(size=(80, 2))
    np.testing.assert_allclose(
        G.poisson(graph, a + 2 * b, 30, dtype=np.float64),
        G.poisson(graph, a, 30, dtype=np.float64) + 2 * G.poisson(graph, b, 30, dtype=np.float64),
        atol=1e-9,
    )


def test_poisson_learning_labels_two_moons_from_one_example_each():
    # Calder et al. (2020) show Poisson learning staying accurate at one label per class,
    # where Laplace learning degenerates; two moons, one label each, is the textbook case.
    from sklearn.datasets import make_moons

    points, truth = make_moons(1000, noise=0.08, random_state=0)
    graph = G.knn_graph(points, 10)
    labelled = [int(np.flatnonzero(truth == c)[0]) for c in (0, 1)]
    sources = np.zeros((1000, 2))
    sources[labelled[0]] = [0.5, -0.5]
    sources[labelled[1]] = [-0.5, 0.5]
    steps = G.mixing_steps(graph, labelled, max_steps=5000)
    assert 50 <= steps < 5000  # the walk mixed: the count came from the graph
    u = G.poisson(graph, sources, steps)
    assert (u.argmax(axis=1) == truth).mean() > 0.99


def test_mixing_steps_grow_with_how_far_the_walk_must_go():
    graph = _path_graph(30) + G.sparse.identity(30)  # self loops, as knn_graph has
    from_one_end = G.mixing_steps(graph, [0], min_steps=0)
    assert 0 < G.mixing_steps(graph, [0, 10, 20], min_steps=0) < from_one_end < 1000


def test_the_last_two_graphs_are_kept_for_the_next_relabel():
    rng = np.random.default_rng(0)
    pile, sample, other = (rng.normal(size=(n, 10)) for n in (300, 100, 120))
    first = G.knn_graph(pile)
    G.knn_graph(sample)
    assert G.knn_graph(pile) is first  # the pile's graph outlived the sample's
    G.knn_graph(other)
    G.knn_graph(sample)  # now the two newest: other, sample
    assert G.knn_graph(pile) is not first  # built again
