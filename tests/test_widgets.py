"""The threshold explorer's callbacks: set the widgets' values, check what they show."""

import numpy as np
import pytest

from helpers.labels import assign_labels
from helpers.widgets import ThresholdExplorer


def _explorer(threshold=0.2):
    rng = np.random.default_rng(0)
    losses = rng.random((60, 3)).astype(np.float32)
    labels = assign_labels(losses, rng.integers(0, 3, 60), 3, "image", "loss")
    truth = labels.label.copy()
    truth[:10] = (truth[:10] + 1) % 3  # ten known mistakes
    images = rng.random((60, 28, 28, 1)).astype(np.float32)
    return (
        ThresholdExplorer(labels, images, ["a", "b", "c"], true_labels=truth, threshold=threshold),
        labels,
        truth,
    )


def test_moving_the_slider_updates_count_precision_and_gallery():
    ex, labels, truth = _explorer(0.05)
    before = (ex.stats["accepted"], ex.summary.value, ex.gallery.value)
    assert before[0] == int((labels.ssim_loss < 0.05).sum())
    ex.slider.value = 0.4
    expected = labels.ssim_loss < 0.4
    assert ex.stats["accepted"] == int(expected.sum()) > before[0]
    assert f"<b>{expected.sum()}</b> of 60" in ex.summary.value
    right = (labels.label == truth)[expected]
    assert ex.stats["precision"] == pytest.approx(right.mean())
    assert ex.stats["wrong"] == int((~right).sum())
    assert ex.gallery.value != before[2] and ex.gallery.value[:4] == b"\x89PNG"
    assert set(ex.shown) <= set(np.flatnonzero(expected))


def test_gallery_shows_accepted_images_nearest_the_threshold():
    ex, labels, _ = _explorer(0.1)
    ex.max_gallery = 5
    ex.slider.value = 0.3
    order = np.argsort(labels.ssim_loss)
    accepted = order[labels.ssim_loss[order] < 0.3]
    assert ex.shown.tolist() == accepted[-5:].tolist()


def test_class_picker_narrows_the_selection():
    ex, labels, _ = _explorer(0.5)
    ex.picker.value = 2
    chosen = ex.selection()
    assert len(chosen) == ex.stats["accepted"]
    assert (labels.label[chosen] == 2).all()
    assert f"of {(labels.label == 2).sum()} images" in ex.summary.value


def test_nothing_accepted_is_said_plainly():
    ex, _, _ = _explorer(0.0)
    assert ex.stats["accepted"] == 0 and "<b>0</b>" in ex.summary.value


def test_margin_slider_accepts_more_as_it_moves_left():
    rng = np.random.default_rng(1)
    labels = assign_labels(
        rng.random((40, 3)).astype(np.float32), np.zeros(40, int), 1, "image", "margin"
    )
    ex = ThresholdExplorer(labels, rng.random((40, 28, 28, 1)), ["a", "b", "c"], threshold=0.3)
    assert ex.slider.description == "margin ≥" and "margin &ge;" in ex.summary.value
    strict = ex.stats["accepted"]
    ex.slider.value = 0.05
    assert ex.stats["accepted"] == int((labels.margin >= 0.05).sum()) > strict
    # the gallery's last image is the least certain one accepted
    assert labels.margin[ex.shown[-1]] == labels.margin[ex.selection()].min()
