from dataclasses import replace

import numpy as np
import pytest

from helpers.labelling import labels as L
from helpers.labelling import poisson as P
from helpers.labelling import settings as S
from helpers.ssim import pairwise_ssim


def test_class_losses_on_real_images(real_images):
    x, y = real_images
    # examples: the first two images of classes 0, 1, 2
    ex_idx = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(3)])
    losses = L.class_losses(pairwise_ssim(x[:40], x[ex_idx]), y[ex_idx], 3, "mean")
    assert losses.shape == (40, 3) and losses.dtype == np.float32
    # an example image scores best against its own class
    for i in ex_idx:
        if i < 40:
            assert np.argmin(losses[i]) == y[i]
    with pytest.raises(ValueError, match=r"no example images for class\(es\) \[3\]"):
        L.class_losses(pairwise_ssim(x[:4], x[ex_idx]), y[ex_idx], 4, "mean")


def test_class_losses_average_the_similarity_over_each_class():
    sim = np.array([[1.0, 0.5, 0.2], [0.0, 0.4, 0.8]], np.float32)
    losses = L.class_losses(sim, np.array([0, 0, 1]), 2, "mean")
    np.testing.assert_allclose(losses, [[0.25, 0.8], [0.8, 0.2]], atol=1e-6)


def test_assign_labels_rules():
    losses = np.array([[0.1, 0.5], [0.4, 0.3], [0.2, 0.6], [0.9, 0.1]], np.float32)
    clusters = np.array([0, 0, 0, 1])
    by_image = L.assign_labels(losses, clusters, 2, "image", "loss")
    assert by_image.label.tolist() == [0, 1, 0, 1]
    np.testing.assert_allclose(by_image.margin, [0.4, 0.1, 0.4, 0.8], atol=1e-6)
    assert by_image.cluster_to_class.tolist() == [0, 1]
    by_cluster = L.assign_labels(losses, clusters, 2, "cluster", "loss")
    assert by_cluster.label.tolist() == [0, 0, 0, 1]
    np.testing.assert_allclose(by_cluster.ssim_loss, [0.1, 0.4, 0.2, 0.1], atol=1e-6)
    with pytest.raises(ValueError, match="rule"):
        L.assign_labels(losses, clusters, 2, "nearest", "loss")


def test_aggregates_over_a_class():
    sim = np.array([[0.9, 0.5, 0.1, 0.2, 0.8]], np.float32)
    ex = np.array([0, 0, 0, 0, 1])
    mean = L.class_losses(sim, ex, 2, "mean")
    top3 = L.class_losses(sim, ex, 2, "top3")
    best = L.class_losses(sim, ex, 2, "max")
    np.testing.assert_allclose(mean, [[1 - 0.425, 0.2]], atol=1e-6)
    np.testing.assert_allclose(top3, [[1 - (0.9 + 0.5 + 0.2) / 3, 0.2]], atol=1e-6)
    np.testing.assert_allclose(best, [[0.1, 0.2]], atol=1e-6)
    with pytest.raises(ValueError, match="aggregate"):
        L.class_losses(sim, ex, 2, "median")


def test_threshold_on_margin():
    losses = np.array([[0.1, 0.5], [0.4, 0.3], [0.2, 0.25]], np.float32)
    labels = L.assign_labels(losses, np.zeros(3, int), 1, "image", "margin")
    np.testing.assert_allclose(labels.score, [0.4, 0.1, 0.05], atol=1e-6)
    assert labels.accepted(0.08).tolist() == [True, True, False]
    assert labels.accepted(0.0).all()  # the loosest margin labels everything
    with pytest.raises(ValueError, match="threshold_on"):
        L.assign_labels(losses, np.zeros(3, int), 1, "image", "ratio")


def test_spreading_pulls_a_noisy_image_towards_its_neighbours(rng):
    codes = np.concatenate([rng.normal(0, 1, (30, 4)), rng.normal(10, 1, (30, 4))])
    losses = np.repeat([[0.2, 0.6], [0.6, 0.2]], 30, axis=0).astype(np.float32)
    losses[0] = [0.5, 0.4]  # alone it looks like class 1; its neighbours say 0
    assert L.assign_labels(losses, np.zeros(60, int), 1, "image", "loss").label[0] == 1
    spread = L.spread_losses(losses, codes, alpha=0.8)
    assert L.assign_labels(spread, np.zeros(60, int), 1, "image", "loss").label[0] == 0
    np.testing.assert_array_equal(L.spread_losses(losses, codes, alpha=0), losses)


def test_settings_check_their_values_and_resolve_the_rule():
    default = S.LabelSettings()
    assert default.rule_for([0, 1, 2]) == "image"  # Poisson learning labels each image
    ssim_only = replace(default, poisson=0.0)
    assert ssim_only.rule_for([0, 1, 2]) == "cluster"  # one example per class
    assert default.rule_for(np.repeat(np.arange(3), 5)) == "image"
    assert replace(default, rule="image").rule_for([0, 1, 2]) == "image"
    assert S.TUTORIAL.spread == 0 and S.TUTORIAL.max_val == 2.0 and S.TUTORIAL.poisson == 0
    for bad in ({"aggregate": "median"}, {"rule": "nearest"}, {"threshold_on": "ratio"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            replace(default, **bad)
    with pytest.raises(ValueError, match="spread"):
        replace(default, spread=1.0)


def test_label_images_is_combine_then_spread_then_assign(rng):
    codes = np.concatenate([rng.normal(0, 1, (30, 4)), rng.normal(10, 1, (30, 4))])
    sim = rng.random((60, 6)).astype(np.float32)
    ex = np.repeat(np.arange(3), 2)
    clusters = (codes[:, 0] > 5).astype(int)
    settings = S.LabelSettings(aggregate="max", spread=0.5, poisson=0.0)
    labels = L.label_images(sim, ex, 3, codes, clusters, settings)
    by_hand = L.spread_losses(L.class_losses(sim, ex, 3, "max"), codes, 0.5)
    expected = L.assign_labels(by_hand, clusters, 2, "image", "margin")
    np.testing.assert_array_equal(labels.label, expected.label)
    np.testing.assert_allclose(labels.margin, expected.margin)
    assert labels.threshold_on == "confidence" and labels.rule == "image"
    tutorial = L.label_images(sim, ex, 3, codes, clusters, S.TUTORIAL)
    np.testing.assert_allclose(tutorial.class_losses, L.class_losses(sim, ex, 3, "mean"))
    assert tutorial.rule == "cluster" and tutorial.threshold_on == "loss"


def _blobs_with_examples(rng, n=60):
    """Three well-separated blobs of codes, two examples per class sitting among them."""
    centres = np.array([[0, 0, 0], [20, 0, 0], [0, 20, 0]], float)
    truth = np.repeat(np.arange(3), n)
    codes = centres[truth] + rng.normal(0, 1, (3 * n, 3))
    ex_labels = np.repeat(np.arange(3), 2)
    ex_codes = centres[ex_labels] + rng.normal(0, 1, (6, 3))
    return codes, truth, ex_codes, ex_labels


def test_poisson_scores_find_each_blob_from_its_examples(rng):
    codes, truth, ex_codes, ex_labels = _blobs_with_examples(rng)
    scores = P.poisson_scores(codes, ex_codes, ex_labels, 3, 5)
    assert scores.shape == (180, 3)
    assert (scores.argmax(axis=1) == truth).all()


def test_poisson_needs_the_examples_codes_and_blends_in_loss_units(rng):
    codes, truth, ex_codes, ex_labels = _blobs_with_examples(rng)
    sim = rng.uniform(0.4, 0.6, (180, 6)).astype(np.float32)  # SSIM that says nothing
    clusters = np.zeros(180, np.int64)
    settings = replace(S.DEFAULT_SETTINGS, poisson=0.8, n_neighbors=5)
    with pytest.raises(ValueError, match="examples' codes"):
        L.label_images(sim, ex_labels, 3, codes, clusters, settings)
    labels = L.label_images(sim, ex_labels, 3, codes, clusters, settings, example_codes=ex_codes)
    assert (labels.label == truth).all()  # the graph decides where SSIM cannot
    assert labels.rule == "image"
    losses = np.array([[0.2, 0.4]], np.float32)
    blended = P.blend_poisson(losses, np.array([[1.0, -1.0]]), 0.5, scale=0.1)
    np.testing.assert_allclose(blended, [[0.5 * 0.2 - 0.05, 0.5 * 0.4 + 0.05]], atol=1e-7)
    with pytest.raises(ValueError, match="poisson"):
        replace(S.DEFAULT_SETTINGS, poisson=1.5)


def test_a_pile_past_poisson_up_to_is_labelled_from_ssim_alone(rng, monkeypatch):
    codes, truth, ex_codes, ex_labels = _blobs_with_examples(rng)
    sim = rng.uniform(0.4, 0.6, (180, 6)).astype(np.float32)
    clusters = np.zeros(180, np.int64)
    settings = replace(S.DEFAULT_SETTINGS, n_neighbors=5, rule="image")
    with_poisson = L.label_images(sim, ex_labels, 3, codes, clusters, settings, None, ex_codes)
    monkeypatch.setattr(L, "POISSON_UP_TO", 100)
    assert not L.uses_poisson(settings, 180) and L.uses_poisson(settings, 100)
    alone = L.label_images(sim, ex_labels, 3, codes, clusters, settings)  # no codes needed
    ssim_only = replace(settings, poisson=0.0)
    expected = L.label_images(sim, ex_labels, 3, codes, clusters, ssim_only)
    np.testing.assert_array_equal(alone.margin, expected.margin)
    assert not np.array_equal(with_poisson.margin, alone.margin)
