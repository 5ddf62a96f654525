import numpy as np
import pytest

from helpers import matching as Mt


def test_class_losses_on_real_images(real_images):
    x, y = real_images
    # examples: the first two images of classes 0, 1, 2
    ex_idx = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(3)])
    losses = Mt.class_losses(x[:40], x[ex_idx], y[ex_idx], 3)
    assert losses.shape == (40, 3) and losses.dtype == np.float32
    # an example image scores best against its own class
    for i in ex_idx:
        if i < 40:
            assert np.argmin(losses[i]) == y[i]
    with pytest.raises(ValueError, match=r"no example images for class\(es\) \[3\]"):
        Mt.class_losses(x[:4], x[ex_idx], y[ex_idx], 4)


def test_class_losses_average_the_similarity_over_each_class():
    sim = np.array([[1.0, 0.5, 0.2], [0.0, 0.4, 0.8]], np.float32)
    losses = Mt.class_losses_from_similarity(sim, np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(losses, [[0.25, 0.8], [0.8, 0.2]], atol=1e-6)


def test_assign_labels_rules():
    losses = np.array([[0.1, 0.5], [0.4, 0.3], [0.2, 0.6], [0.9, 0.1]], np.float32)
    clusters = np.array([0, 0, 0, 1])
    by_image = Mt.assign_labels(losses, clusters, 2, rule="image")
    assert by_image.label.tolist() == [0, 1, 0, 1]
    np.testing.assert_allclose(by_image.margin, [0.4, 0.1, 0.4, 0.8], atol=1e-6)
    assert by_image.cluster_to_class.tolist() == [0, 1]
    by_cluster = Mt.assign_labels(losses, clusters, 2, rule="cluster")
    assert by_cluster.label.tolist() == [0, 0, 0, 1]
    np.testing.assert_allclose(by_cluster.ssim_loss, [0.1, 0.4, 0.2, 0.1], atol=1e-6)
    with pytest.raises(ValueError, match="rule"):
        Mt.assign_labels(losses, clusters, 2, rule="nearest")


def test_evaluate_and_curves():
    losses = np.array([[0.1, 0.5], [0.4, 0.3], [0.2, 0.6], [0.9, 0.1]], np.float32)
    labels = Mt.assign_labels(losses, np.zeros(4, int), 1)
    truth = np.array([0, 0, 0, 1])  # image 1 is wrongly given class 1
    r = Mt.evaluate(labels, truth, 0.25)
    assert r["accepted"] == 3 and r["precision"] == 1.0 and r["coverage"] == 0.75
    assert r["accuracy_all"] == 0.75
    assert Mt.evaluate(labels, truth, 0.05)["accepted"] == 0
    assert Mt.coverage_at_precision(labels.ssim_loss, labels.label == truth, 0.95) == 0.75
    rows = Mt.threshold_table(labels, truth)
    assert rows[-1]["coverage"] == 1.0 and len(rows) == 5


def test_calibration_uses_examples_only(real_images):
    x, y = real_images
    ex_idx = np.concatenate([np.flatnonzero(y == c)[:5] for c in (1, 8, 9)])
    ex_labels = np.repeat(np.arange(3), 5)
    cal = Mt.calibrate_threshold(x[ex_idx], ex_labels, 3)
    assert cal["method"].startswith("leave-one-out") and cal["n_examples"] == 15
    assert 0.0 < cal["threshold"] < 1.0
    assert cal["held_out_precision_at_threshold"] >= 0.95
    one_each = Mt.calibrate_threshold(x[ex_idx[::5]], np.arange(3), 3)
    assert np.isnan(one_each["threshold"])


def test_tutorial_rule_pairs_by_index(real_images):
    x, _ = real_images
    out = Mt.tutorial_rule(x[:5], np.concatenate([x[:3], x[10:13]]), threshold=0.3)
    assert out["index"].tolist() == [0, 1, 2, 3, 4]
    # the first three pairs are identical images: loss 0, accepted
    np.testing.assert_allclose(out["ssim_loss"][:3], 0.0, atol=1e-6)
    assert out["accepted"][:3].all()
    short = Mt.tutorial_rule(x[:8], x[:2], threshold=0.3)
    assert len(short["index"]) == 2  # it only ever looks at as many images as examples


def test_label_rows_follow_the_export_contract():
    losses = np.array([[0.1, 0.5], [0.4, 0.3]], np.float32)
    labels = Mt.assign_labels(losses, np.array([1, 0]), 2)
    rows, fields = Mt.label_rows(
        labels, 0.2, ["cat", "dog"], image_ids=[7, 9], true_labels=np.array([0, 0])
    )
    assert fields[:6] == ["image", "cluster", "label", "ssim_loss", "accepted", "true_label"]
    assert rows[0]["image"] == 7 and rows[0]["label"] == "cat" and rows[0]["accepted"] == 1
    assert rows[1]["label"] == "dog" and rows[1]["accepted"] == 0 and rows[1]["true_label"] == "cat"
    _, no_truth = Mt.label_rows(labels, 0.2, ["cat", "dog"])
    assert "true_label" not in no_truth


def test_aggregates_over_a_class():
    sim = np.array([[0.9, 0.5, 0.1, 0.2, 0.8]], np.float32)
    ex = np.array([0, 0, 0, 0, 1])
    mean = Mt.class_losses_from_similarity(sim, ex, 2, "mean")
    top3 = Mt.class_losses_from_similarity(sim, ex, 2, "top3")
    best = Mt.class_losses_from_similarity(sim, ex, 2, "max")
    np.testing.assert_allclose(mean, [[1 - 0.425, 0.2]], atol=1e-6)
    np.testing.assert_allclose(top3, [[1 - (0.9 + 0.5 + 0.2) / 3, 0.2]], atol=1e-6)
    np.testing.assert_allclose(best, [[0.1, 0.2]], atol=1e-6)
    with pytest.raises(ValueError, match="aggregate"):
        Mt.class_losses_from_similarity(sim, ex, 2, "median")


def test_threshold_on_margin():
    losses = np.array([[0.1, 0.5], [0.4, 0.3], [0.2, 0.25]], np.float32)
    labels = Mt.assign_labels(losses, np.zeros(3, int), 1, threshold_on="margin")
    np.testing.assert_allclose(labels.score, [0.4, 0.1, 0.05], atol=1e-6)
    assert labels.accepted(0.08).tolist() == [True, True, False]
    assert labels.accepted(0.0).all()  # the loosest margin labels everything
    rows = Mt.threshold_table(labels, np.array([0, 1, 1]))
    assert rows[-1]["coverage"] == 1.0
    with pytest.raises(ValueError, match="threshold_on"):
        Mt.assign_labels(losses, np.zeros(3, int), 1, threshold_on="ratio")


def test_calibration_on_margin_accepts_confident_held_out_labels(real_images):
    x, y = real_images
    ex_idx = np.concatenate([np.flatnonzero(y == c)[:5] for c in (1, 8, 9)])
    cal = Mt.calibrate_threshold(
        x[ex_idx], np.repeat(np.arange(3), 5), 3, aggregate="top3", threshold_on="margin"
    )
    assert cal["threshold_on"] == "margin" and cal["threshold"] >= 0
    assert cal["held_out_precision_at_threshold"] >= 0.95 and cal["held_out_accepted"] > 0


def _pile(x, ex_idx, alpha=0.8):
    from helpers.ssim import pairwise_ssim

    flat = x.reshape(len(x), -1)
    return Mt.Pile(np.asarray(pairwise_ssim(x, x[ex_idx])), flat, flat[ex_idx], alpha=alpha)


def test_spreading_pulls_a_noisy_image_towards_its_neighbours(rng):
    codes = np.concatenate([rng.normal(0, 1, (30, 4)), rng.normal(10, 1, (30, 4))])
    losses = np.repeat([[0.2, 0.6], [0.6, 0.2]], 30, axis=0).astype(np.float32)
    losses[0] = [0.5, 0.4]  # alone it looks like class 1; its neighbours say 0
    assert Mt.assign_labels(losses, np.zeros(60, int), 1).label[0] == 1
    spread = Mt.spread_losses(losses, codes, alpha=0.8)
    assert Mt.assign_labels(spread, np.zeros(60, int), 1).label[0] == 0
    np.testing.assert_array_equal(Mt.spread_losses(losses, codes, alpha=0), losses)


def test_calibration_with_spreading_never_lets_an_example_vouch_for_itself(real_images):
    x, y = real_images
    ex_idx = np.concatenate([np.flatnonzero(y == c)[:5] for c in (1, 8, 9)])
    ex_labels = np.repeat(np.arange(3), 5)
    pile = _pile(x, ex_idx)
    cal = Mt.calibrate_threshold(
        x[ex_idx], ex_labels, 3, aggregate="top3", threshold_on="margin", pile=pile
    )
    assert "spread" in cal["method"] and cal["held_out_precision_at_threshold"] >= 0.95
    loo = np.zeros((15, 3), np.float32)
    honest = Mt._spread_held_out(loo, ex_labels, 3, "top3", pile)
    pile.similarity[:, 4] = 1.0  # example 4 would match every image perfectly
    assert np.array_equal(Mt._spread_held_out(loo, ex_labels, 3, "top3", pile)[4], honest[4])


def test_default_rule_uses_clusters_only_for_single_examples():
    assert Mt.default_rule(1) == "cluster"
    assert Mt.default_rule(5) == Mt.default_rule(10) == "image"


def test_tutorial_on_class_uses_the_cluster_mapped_to_that_class(real_images):
    x, y = real_images
    clusters = (y == 9).astype(int)  # cluster 1 holds the ankle boots
    losses = np.stack([np.where(y == 9, 0.9, 0.1), np.where(y == 9, 0.1, 0.9)], axis=1)
    boots = np.flatnonzero(y == 9)
    rows = Mt.tutorial_on_class(x, clusters, losses, x[boots[:3]], np.array([1, 1, 1]), 1, y == 9)
    assert [r["cluster"] for r in rows] == [1, 1] and rows[0]["compared"] == 3
