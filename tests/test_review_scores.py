"""The similarity table of a session: the examples' columns, then one per reviewed image,
scored ahead in the background, kept without copies, saved and found again."""

import numpy as np

from helpers.core.run_dir import REVIEW_SCORES, RunDir
from helpers.labelling.scoring import Reconstructions
from helpers.run import review_scores as R
from helpers.ssim import pairwise_ssim


def _table(tmp_path, x):
    recon = Reconstructions.from_array(x)
    examples = np.asarray(pairwise_ssim(x, x[:3]))
    return R.ReviewScores(examples, recon, 1.0, RunDir(tmp_path), "made-from"), examples


def test_columns_scored_ahead_are_the_pile_against_each_review(tmp_path, real_images):
    x = real_images[0][:60]
    scores, examples = _table(tmp_path, x)
    scores.score_ahead([10, 4])
    scores.score_ahead([7])
    sim, order = scores.against(np.array([4, 7, 10]))
    reviewed = np.array([4, 7, 10])[order]
    assert sim.shape == (60, 6) and np.shares_memory(sim, scores._table)  # a view
    np.testing.assert_allclose(sim[:, :3], examples)
    np.testing.assert_allclose(sim[:, 3:], pairwise_ssim(x, x[reviewed]), atol=1e-6)


def test_a_review_taken_back_leaves_its_column_out(tmp_path, real_images, monkeypatch):
    monkeypatch.setattr(R, "GROW_BY", 2)  # the table grows more than once
    x = real_images[0][:40]
    scores, _ = _table(tmp_path, x)
    scores.against(np.array([5, 6, 8]))
    sim, order = scores.against(np.array([8, 5]))  # 6 was taken back
    assert sim.shape == (40, 5)
    np.testing.assert_allclose(sim[:, 3:], pairwise_ssim(x, x[np.array([8, 5])[order]]), atol=1e-6)


def test_a_new_session_finds_the_saved_columns(tmp_path, real_images):
    x = real_images[0][:30]
    first, _ = _table(tmp_path, x)
    expected, _ = first.against(np.array([12, 3]))
    assert RunDir(tmp_path).has(REVIEW_SCORES)
    again, _ = _table(tmp_path, x)
    again._score = None  # nothing may be scored again: calling it would fail
    sim, order = again.against(np.array([3, 12]))
    assert sorted(again.columns) == [3, 12]
    np.testing.assert_allclose(sim[:, 3:], pairwise_ssim(x, x[np.array([3, 12])[order]]), atol=1e-6)


def test_a_failed_background_score_is_scored_again_when_needed(tmp_path, real_images):
    x = real_images[0][:30]
    scores, _ = _table(tmp_path, x)
    real = scores._score

    def fails_once(images):
        scores._score = real
        raise OSError("disk full")

    scores._score = fails_once
    scores.score_ahead([4])
    sim, _ = scores.against(np.array([4]))
    np.testing.assert_allclose(sim[:, 3], pairwise_ssim(x, x[[4]])[:, 0], atol=1e-6)
