from dataclasses import replace

import numpy as np
import pytest

from helpers.labelling import calibration as C
from helpers.labelling import held_out as H
from helpers.labelling.labels import label_images
from helpers.labelling.settings import LabelSettings
from helpers.ssim import pairwise_ssim

NO_SPREAD = LabelSettings(spread=0.0, poisson=0.0)  # no graph at all


def _pile(x, y, per_class=5):
    """Three classes of real images, ``per_class`` examples each, codes = raw pixels."""
    ex_idx = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in (1, 8, 9)])
    ex_labels = np.repeat(np.arange(3), per_class)
    flat = x.reshape(len(x), -1)
    pile = H.PileScores(np.asarray(pairwise_ssim(x, x[ex_idx])), flat, flat[ex_idx])
    return ex_idx, ex_labels, pile


def _labels(pile, ex_labels, settings):
    clusters = np.zeros(len(pile.codes), np.int64)
    return label_images(
        pile.similarity,
        ex_labels,
        3,
        pile.codes,
        clusters,
        settings,
        example_codes=pile.example_codes,
    )


@pytest.mark.parametrize("threshold_on", ["loss", "margin", "confidence"])
def test_calibration_uses_examples_only(real_images, threshold_on):
    x, y = real_images
    ex_idx, ex_labels, pile = _pile(x, y)
    settings = replace(NO_SPREAD, threshold_on=threshold_on)
    labels = _labels(pile, ex_labels, settings)
    cal = C.calibrate_threshold(labels, x[ex_idx], ex_labels, settings)
    assert cal.calibrated and cal.method.startswith("held-out examples") and cal.n_held_out == 15
    assert cal.n_audit == 0 and "no fair sample" in str(cal)  # it says what it rests on
    assert cal.met_target and "trust" not in str(cal)
    if threshold_on == "loss":  # the held-out examples in order: a threshold between them
        assert 0.0 <= cal.threshold < 1.0
        assert cal.held_out_precision >= 0.95 and cal.held_out_accepted > 0
    else:  # by the model, over the pile's labels: some accepted, some not
        assert 0 < labels.accepted(cal.threshold).sum() < len(labels)
        assert cal.estimate(cal.threshold)["estimated_precision"] >= 0.95


def test_one_example_per_class_falls_back_to_the_median_score(real_images):
    x, y = real_images
    ex_idx, ex_labels, pile = _pile(x, y, per_class=1)
    labels = _labels(pile, ex_labels, LabelSettings())
    cal = C.calibrate_threshold(labels, x[ex_idx], ex_labels, LabelSettings(), pile)
    assert not cal.calibrated and cal.threshold == pytest.approx(np.median(labels.score))
    assert not cal.met_target
    assert "median" in str(cal)


def test_calibration_refuses_settings_that_did_not_make_the_labels(real_images):
    x, y = real_images
    ex_idx, ex_labels, pile = _pile(x, y)
    labels = _labels(pile, ex_labels, NO_SPREAD)
    with pytest.raises(ValueError, match="threshold"):
        C.calibrate_threshold(labels, x[ex_idx], ex_labels, replace(NO_SPREAD, threshold_on="loss"))
    with pytest.raises(ValueError, match="PileScores"):
        C.calibrate_threshold(labels, x[ex_idx], ex_labels, LabelSettings())


def test_calibration_with_spreading_never_lets_an_example_vouch_for_itself(real_images):
    x, y = real_images
    ex_idx, ex_labels, pile = _pile(x, y)
    settings = LabelSettings()
    cal = C.calibrate_threshold(
        _labels(pile, ex_labels, settings), x[ex_idx], ex_labels, settings, pile
    )
    assert "spread" in cal.method and not cal.promised and "no promise yet" in str(cal)
    loo = np.zeros((15, 3), np.float32)
    honest = H.spread_held_out(loo, ex_labels, 3, settings, pile)
    pile.similarity[:, 4] = 1.0  # example 4 would match every image perfectly
    assert np.array_equal(H.spread_held_out(loo, ex_labels, 3, settings, pile)[4], honest[4])


@pytest.mark.parametrize("aggregate", ["top3", "mean", "max"])
def test_losses_without_each_example_equal_recombining_the_others(rng, aggregate):
    from helpers.labelling.labels import class_losses

    for m in (2, 3, 4, 7):
        sim = rng.random((50, m)).astype(np.float32)
        sim[:5, 0] = sim[:5, 1]  # ties
        fast = H.losses_without_each(sim, aggregate)
        for j in range(m):
            others = np.delete(sim, j, axis=1)
            slow = class_losses(others, np.zeros(m - 1, np.int64), 1, aggregate)[:, 0]
            np.testing.assert_allclose(fast[:, j], slow, atol=1e-6)


def test_held_out_losses_leave_each_example_out_of_its_own_class(rng):
    from helpers.labelling.labels import class_losses

    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    sim = rng.random((9, 9)).astype(np.float32)
    loo = H.held_out_losses(sim, labels, 3, LabelSettings())
    for i in range(9):
        keep = np.arange(9) != i
        expected = class_losses(sim[i : i + 1, keep], labels[keep], 3, "top3")[0]
        np.testing.assert_allclose(loo[i], expected, atol=1e-6)
    lonely = H.held_out_losses(sim[:4, :4], labels[:4], 2, LabelSettings())
    assert np.isinf(lonely[3]).all() and np.isfinite(lonely[:3]).all()


def test_a_large_pile_calibrates_through_a_sample(real_images, monkeypatch):
    x, y = real_images
    ex_idx, ex_labels, pile = _pile(x, y)
    settings = LabelSettings()
    labels = _labels(pile, ex_labels, settings)
    whole = C.calibrate_threshold(labels, x[ex_idx], ex_labels, settings, pile)
    monkeypatch.setattr(C, "CALIBRATION_SAMPLE", len(x) * 3 // 4)
    sampled = C.calibrate_threshold(labels, x[ex_idx], ex_labels, settings, pile)
    assert f"through a sample of {len(x) * 3 // 4:,} of the {len(x):,} images" in sampled.method
    assert "sample" not in whole.method and sampled.calibrated
    # the same neighbourhoods, mostly: the same estimate wherever the slider is
    for q in (0.25, 0.5, 0.75):
        t = float(np.quantile(labels.score, q))
        a, b = whole.estimate(t)["estimated_precision"], sampled.estimate(t)["estimated_precision"]
        assert abs(a - b) < 0.02, (q, a, b)


def test_poisson_held_out_scores_equal_learning_without_the_example(real_images):
    # The held-out scores come from linearity (one walk per example); they must equal
    # Poisson learning run again from the other examples, blended at the pile's scale.
    from helpers.core import graph as G
    from helpers.labelling import labels as L
    from helpers.labelling import poisson as P

    x, y = real_images
    ex_idx, ex_labels, pile = _pile(x, y, per_class=3)
    settings = LabelSettings(spread=0.0, poisson=0.6, n_neighbors=5)
    loo = H.held_out_losses(np.asarray(pairwise_ssim(x[ex_idx], x[ex_idx])), ex_labels, 3, settings)
    got, second = H.poisson_held_out(loo, ex_labels, 3, settings, pile)
    assert second is None  # no reviews among the sources
    graph = G.knn_graph(pile.codes, 5)
    places = P.example_places(pile.codes, pile.example_codes, 5)
    steps = P.poisson_walk_steps(pile.codes, pile.example_codes, 5)
    pile_losses = L.class_losses(pile.similarity, ex_labels, 3, settings.aggregate)
    full = G.poisson(graph, places @ P.poisson_sources(ex_labels, 3), steps)
    scale = pile_losses.std() / full.std()
    for i in range(len(ex_labels)):
        others = np.arange(len(ex_labels)) != i
        sources = P.poisson_sources(ex_labels[others], 3)  # each class weighed alike
        u = G.poisson(graph, places[:, others] @ sources, steps)
        rows = places[:, i].nonzero()[0]
        expected = (1 - 0.6) * loo[i] - 0.6 * scale * u[rows].mean(axis=0)
        np.testing.assert_allclose(got[i], expected, atol=1e-5)


def test_calibration_with_poisson_learning(real_images):
    x, y = real_images
    ex_idx, ex_labels, pile = _pile(x, y)
    settings = LabelSettings(poisson=0.8)
    labels = _labels(pile, ex_labels, settings)
    cal = C.calibrate_threshold(labels, x[ex_idx], ex_labels, settings, pile)
    assert cal.calibrated and "Poisson learning (weight 0.8)" in cal.method
    assert cal.n_held_out == 15
    assert cal.estimate(float(np.median(labels.score)))["examples"]["accepted"] > 0


def test_the_estimate_lies_in_its_interval_wherever_the_slider_is(real_images, rng):
    from helpers.labelling.precision import HeldOut

    x, y = real_images
    ex_idx, ex_labels, pile = _pile(x, y)
    settings = LabelSettings()
    labels = _labels(pile, ex_labels, settings)
    picks = rng.choice(len(labels), 40, replace=False)  # audits: a fair sample, half wrong
    audit = HeldOut(labels.score[picks], rng.random(40) < 0.5)
    for held in (None, audit):
        cal = C.calibrate_threshold(labels, x[ex_idx], ex_labels, settings, pile, audit=held)
        assert cal.promised == (held is not None)
        for t in np.quantile(labels.score, np.linspace(0, 1, 41)):
            e = cal.estimate(float(t))
            low, high = e["interval"]
            assert low <= e["estimated_precision"] <= high, (t, e)
            words = cal.describe(float(t))
            if held is None:
                assert "no promise yet" in words and "estimated precision" not in words
            else:
                assert f"{e['estimated_precision']:.3f} (90% interval {low:.3f}-{high:.3f}" in words


def test_audits_that_say_the_labels_are_worse_make_the_threshold_stricter(real_images, rng):
    from helpers.labelling.precision import HeldOut

    x, y = real_images
    ex_idx, ex_labels, pile = _pile(x, y)
    settings = LabelSettings()
    labels = _labels(pile, ex_labels, settings)
    picks = rng.choice(len(labels), 40, replace=False)
    right = C.calibrate_threshold(
        labels,
        x[ex_idx],
        ex_labels,
        settings,
        pile,
        audit=HeldOut(labels.score[picks], np.ones(40, bool)),
    )
    wrong = np.ones(40, bool)
    wrong[np.argsort(-labels.score[picks])[:8]] = False  # the surest audits are wrong
    worse = C.calibrate_threshold(
        labels, x[ex_idx], ex_labels, settings, pile, audit=HeldOut(labels.score[picks], wrong)
    )
    assert right.promised and worse.promised
    assert labels.accepted(worse.threshold).sum() < labels.accepted(right.threshold).sum()
    assert right.met_target and right.interval[0] >= right.floor
