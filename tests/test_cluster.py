import numpy as np
import pytest

from helpers.labelling import cluster as C


def _blobs(rng, n=60, k=3):
    centers = rng.normal(0, 10, (k, 10))
    labels = np.repeat(np.arange(k), n // k)
    return centers[labels] + rng.normal(0, 0.5, (len(labels), 10)), labels


def test_kmeans_finds_clear_clusters_and_is_seeded(rng):
    codes, labels = _blobs(rng)
    a = C.kmeans(codes, 3, seed=0)
    b = C.kmeans(codes, 3, seed=0)
    assert np.array_equal(a.labels_, b.labels_)
    assert C.cluster_accuracy(a.labels_, labels) == 1.0
    assert a.n_init == 20 and a.max_iter == 10000 and a.init == "k-means++"


def test_accuracy_ignores_cluster_numbering():
    labels = np.array([0, 0, 1, 1, 2, 2])
    assert C.cluster_accuracy(np.array([2, 2, 0, 0, 1, 1]), labels) == 1.0
    assert C.cluster_accuracy(np.array([2, 2, 0, 1, 1, 1]), labels) == pytest.approx(5 / 6)
    m = C.cluster_metrics(np.array([2, 2, 0, 0, 1, 1]), labels)
    assert m["nmi"] == pytest.approx(1.0) and m["ari"] == pytest.approx(1.0)


def test_contingency_counts():
    t = C.contingency(np.array([0, 0, 1]), np.array([1, 1, 0]), 2, 2)
    assert t.tolist() == [[0, 2], [1, 0]]


def test_bad_codes_are_refused():
    with pytest.raises(ValueError, match="N, latent_dim"):
        C.kmeans(np.zeros((5, 2, 2)), 2)
    with pytest.raises(ValueError, match="cannot form 10 clusters"):
        C.kmeans(np.zeros((5, 2)), 10)


@pytest.mark.filterwarnings("ignore:Graph is not fully connected")  # on purpose
def test_spectral_follows_curved_clusters_that_kmeans_cuts():
    from sklearn.datasets import make_moons

    codes, labels = make_moons(400, noise=0.05, random_state=0)
    spectral = C.cluster_codes(codes, 2, method="spectral", seed=0)
    assert C.cluster_accuracy(spectral, labels) > 0.99
    assert np.array_equal(spectral, C.cluster_codes(codes, 2, seed=0))  # default, seeded
    assert C.cluster_accuracy(C.cluster_codes(codes, 2, method="kmeans"), labels) < 0.9
    with pytest.raises(ValueError, match="method"):
        C.cluster_codes(codes, 2, method="dbscan")
    with pytest.raises(ValueError, match="cannot form 10 clusters"):
        C.spectral(codes[:8], 10, n_neighbors=5)


def test_large_piles_use_lobpcg_and_find_the_same_clusters(monkeypatch, rng):
    codes = np.concatenate([rng.normal(c * 6, 1, (60, 4)) for c in range(3)])
    exact = C.spectral(codes, 3, seed=0)
    monkeypatch.setattr(C, "ARPACK_UP_TO", 50)  # this pile now counts as large
    large = C.spectral(codes, 3, seed=0)
    assert C.cluster_metrics(large, exact)["ari"] == 1.0
    np.testing.assert_array_equal(large, C.spectral(codes, 3, seed=0))  # seeded


def test_a_class_without_a_cluster_is_said_in_words():
    from helpers.labelling.cluster import cluster_map_note

    assert cluster_map_note(np.array([0, 1, 2]), ["a", "b", "c"]) == ""
    note = cluster_map_note(np.array([0, 0, 2, 2]), ["a", "b", "c", "d"])
    assert note.startswith("2 of the 4 classes (b, d) have no cluster") and "RULE" in note
