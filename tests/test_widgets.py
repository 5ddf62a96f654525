"""The threshold explorer's callbacks: set the widgets' values, check what they show."""

import numpy as np
import pytest

from helpers.labelling.labels import assign_labels
from helpers.notebook.explorer import ThresholdExplorer


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
    before = (ex.stats["accepted"], ex.summary.value, [t.value for t in ex.thumbs])
    assert before[0] == int((labels.ssim_loss < 0.05).sum())
    ex.slider.value = 0.4
    expected = labels.ssim_loss < 0.4
    assert ex.stats["accepted"] == int(expected.sum()) > before[0]
    assert f"<b>{expected.sum()}</b> of 60" in ex.summary.value
    right = (labels.label == truth)[expected]
    assert ex.stats["precision"] == pytest.approx(right.mean())
    assert ex.stats["wrong"] == int((~right).sum())
    assert [t.value for t in ex.thumbs] != before[2] and ex.thumbs[0].value[:4] == b"\x89PNG"
    assert set(ex.shown) <= set(np.flatnonzero(expected))
    # wrong labels are marked red, with the true class in the tooltip
    for k, i in enumerate(ex.shown):
        assert (ex.picks[k].button_style == "danger") == (labels.label[i] != truth[i])
    hidden = [c.layout.display for c in ex.cells[len(ex.shown) :]]
    assert set(hidden) <= {"none"}


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


def _session_explorer(tmp_path):
    """An explorer with a session over 80 random images, 2 examples per class."""
    from helpers.core.run_dir import RunDir
    from helpers.labelling.labels import Known
    from helpers.labelling.scoring import Reconstructions
    from helpers.run.session import LabelSession
    from helpers.ssim import pairwise_ssim

    rng = np.random.default_rng(0)
    images = rng.random((80, 16, 16, 1)).astype(np.float32)
    codes = images.reshape(80, -1)[:, :6]
    ex = np.arange(6)
    session = LabelSession(
        RunDir(tmp_path / "run"),
        np.asarray([f"img{i}.png" for i in range(80)]),
        ("a", "b", "c"),
        codes,
        Reconstructions.from_array(images),
        np.zeros(80, np.int64),
        np.asarray(pairwise_ssim(images, images[ex])),
        np.array([0, 0, 1, 1, 2, 2]),
        codes[ex],
        images[ex],
        Known.of(ex, [0, 0, 1, 1, 2, 2], "example"),
        __import__("helpers.labelling.settings", fromlist=["x"]).DEFAULT_SETTINGS,
    )
    labels, calibration = session.relabel()
    explorer = ThresholdExplorer(
        labels,
        images,
        ["a", "b", "c"],
        calibration.threshold,
        session=session,
        calibration=calibration,
    )
    return explorer, session


def test_the_summary_says_how_precise_and_on_what_it_rests(tmp_path):
    from helpers.labelling.calibration import AUDITS_FOR_A_PROMISE

    ex, session = _session_explorer(tmp_path)
    # no audit yet: no promise, said in words, and the gallery opens on the audit round
    assert "no promise yet" in ex.summary.value and "estimated precision" not in ex.summary.value
    assert ex.stats["audit"]["accepted"] == 0
    shown = min(AUDITS_FOR_A_PROMISE, len(ex.shown))
    assert all(int(i) in ex._audit for i in ex.shown[:shown])
    assert all(p.description.startswith("⚄") for p in ex.picks[:shown])
    ex.picks[4].value = ex.picks[0].value = True
    ex.review.confirm_button.click()
    rows = {r[0]: r[3] for r in session.log.rows()}
    assert rows == {f"img{ex.shown[4]}.png": "1", f"img{ex.shown[0]}.png": "1"}
    ex.review.relabel_button.click()
    assert ex.calibration.n_audit == 2 and "2 audit review" in ex.review.status.value


def test_reviews_are_written_at_once_marked_and_undone(tmp_path):
    ex, session = _session_explorer(tmp_path)
    assert ex.order.value == "least certain"
    first, second = int(ex.shown[0]), int(ex.shown[1])
    ex.picks[0].value = ex.picks[1].value = True
    ex.review.class_buttons[2].click()  # give both class c
    rows = session.log.rows()
    assert [r[:2] for r in rows] == [[f"img{first}.png", "c"], [f"img{second}.png", "c"]]
    assert ex.labels.label[first] == 2 and ex.labels.source[first] == "reviewed"
    assert "2 image(s) given c" in ex.review.status.value and "2 reviewed" in ex.summary.value
    # still in view, marked with the class given and a tick
    # (an audit pick of the audit round, and it stays marked as one)
    assert ex.shown[0] == first and ex.picks[0].description == "✓ ⚄ c"
    assert ex.picks[0].button_style == "success"
    ex.review.undo_button.click()
    assert [r[:2] for r in session.log.rows()] == [[f"img{first}.png", "c"]]
    assert ex.labels.source[second] != "reviewed"
    # confirm keeps the class shown
    k = int(np.flatnonzero(ex.shown == second)[0]) if second in ex.shown else 0
    shown_label = int(ex.labels.label[ex.shown[k]])
    ex.picks[k].value = True
    ex.review.confirm_button.click()
    assert session.log.rows()[-1][1] == "abc"[shown_label]
    assert "Pick one or more" in (ex.review.give(0) or ex.review.status.value)


def test_relabel_uses_the_reviews_and_survives_a_new_explorer(tmp_path):
    ex, session = _session_explorer(tmp_path)
    for k in range(5):
        ex.picks[k].value = True
    picked = ex.picked()
    ex.review.class_buttons[1].click()
    ex.review.relabel_button.click()
    assert "Relabelled with 5 review(s)" in ex.review.status.value
    assert (ex.labels.label[picked] == 1).all() and (ex.labels.source[picked] == "reviewed").all()
    # a kernel restart: a new session reads reviews.csv and gives the same labels
    again, _ = _session_explorer(tmp_path)
    assert (again.labels.label[picked] == 1).all()
    assert (again.labels.source[picked] == "reviewed").all()


@pytest.mark.parametrize("threshold_on", ["loss", "margin", "confidence"])
def test_counts_by_binary_search_equal_a_pass_over_the_pile(threshold_on):
    from helpers.labelling.labels import Known

    rng = np.random.default_rng(3)
    losses = rng.random((500, 3)).astype(np.float32)
    labels = assign_labels(losses, np.zeros(500, int), 1, "image", threshold_on)
    labels = labels.with_known(Known.of([4, 9, 77], [2, 0, 1], "reviewed"))
    truth = np.where(rng.random(500) < 0.7, labels.label, rng.integers(-1, 3, 500))
    ex = ThresholdExplorer(labels, rng.random((500, 8, 8, 1)), ["a", "b", "c"], 0.1, truth)
    for scope in (-1, 0, 2):
        ex.picker.value = scope
        for t in (0.0, float(np.median(labels.score)), 0.3, 1.0):
            ex.slider.value = t
            ok = labels.accepted(t) & ((labels.label == scope) if scope >= 0 else True)
            known = truth[ok] >= 0
            assert ex.stats["accepted"] == int(ok.sum())
            assert ex.stats["wrong"] == int((labels.label[ok] != truth[ok])[known].sum())
            assert sorted(ex.selection()) == np.flatnonzero(ok).tolist()


def test_keys_review_the_picked_or_the_cursor_image(tmp_path):
    ex, session = _session_explorer(tmp_path)
    assert [b.description for b in ex.review.class_buttons] == [
        "a · key 1",
        "b · key 2",
        "c · key 3",
    ]
    first, second = int(ex.shown[0]), int(ex.shown[1])
    assert ex.review.press("3") == "class"  # nothing picked: the cursor's image, then the next
    assert session.log.rows()[-1][:2] == [f"img{first}.png", "c"] and ex.cursor == 1
    assert ex.review.press("ArrowLeft") == "move" and ex.cursor == 0
    assert ex.review.press("ArrowRight") == "move" and ex.picks[1].layout.border
    assert ex.review.press("c") == "confirm"  # the cursor's image keeps the class shown
    assert session.log.rows()[-1][0] == f"img{second}.png" and ex.cursor == 2  # and on
    # reviews not yet used by the labels and the promise: the summary says so at once
    assert "2 review(s) since the last relabel, 2 of them audit picks" in ex.summary.value
    assert ex.review.press("z") == "undo" and len(session.log.rows()) == 1
    ex.picks[3].value = ex.picks[4].value = True  # picked images win over the cursor
    assert ex.picks[3].icon == "check-square" and ex.picks[5].icon == ""
    ex.review.press("1")
    assert [r[1] for r in session.log.rows()[-2:]] == ["a", "a"]
    assert ex.review.press("q") is None and ex.review.press("Shift") is None  # not review keys
    assert (
        ex.review.press("r") == "relabel"
        and "Relabelled with 3 review(s)" in ex.review.status.value
    )
    assert "since the last relabel" not in ex.summary.value


def test_relabel_keeps_the_persons_threshold_until_asked(tmp_path):
    ex, _ = _session_explorer(tmp_path)
    ex.review.relabel()
    assert not ex.chosen_threshold  # untouched: follows the calibration
    ex.slider.value = chosen = ex.slider.max / 2
    assert ex.chosen_threshold
    ex.review.press("1")
    ex.review.relabel()
    assert ex.threshold == chosen and "stays at your" in ex.review.status.value
    assert "<i>calibrated threshold</i>" in ex.review.status.value and "*" not in (
        ex.review.status.value
    )
    ex.review.calibrated_button.click()
    assert ex.threshold == pytest.approx(min(ex.calibration.threshold, ex.slider.max), abs=1e-3)
    assert not ex.chosen_threshold
    assert "stays at your" not in ex.review.status.value  # no stale sentence
    assert "The slider is at the calibrated threshold" in ex.review.status.value


def _labels_file(tmp_path, n):
    from helpers.core.run_dir import RunDir
    from helpers.run.labels_csv import LabelsFile

    return LabelsFile(RunDir(tmp_path / "run"), ["a", "b", "c"], [f"img{i}" for i in range(n)])


def test_save_writes_what_is_shown_and_says_when_it_is_not(tmp_path):
    rng = np.random.default_rng(0)
    losses = rng.random((30, 3)).astype(np.float32)
    labels = assign_labels(losses, np.zeros(30, int), 1, "image", "loss")
    saved = _labels_file(tmp_path, 30)
    ex = ThresholdExplorer(labels, rng.random((30, 8, 8, 1)), ["a", "b", "c"], 0.5, save=saved)
    assert "unsaved" in ex.saving.state.value and ex.saving.button.button_style == "warning"
    assert ex.saving.save() == saved.path and saved.saved()["threshold"] == 0.5
    assert "holds what is shown (saved by you)" in ex.saving.state.value
    rows = saved.path.read_text().splitlines()
    assert len(rows) == 31 and rows[1].startswith("img0,")
    ex.slider.value = 0.3
    assert "unsaved" in ex.saving.state.value
    ex.slider.value = 0.5  # back where it was saved: the same labels, so saved again
    assert "holds what is shown" in ex.saving.state.value
    # labels made again, equal to the saved ones (a relabel with no new review): still saved
    ex.labels = assign_labels(losses, np.zeros(30, int), 1, "image", "loss")
    ex.redraw()
    assert "holds what is shown" in ex.saving.state.value


def test_what_a_person_saved_is_never_overwritten_and_a_rerun_starts_from_it(tmp_path):
    from helpers.labelling.calibration import Calibration
    from helpers.run.workflow import starting_threshold

    rng = np.random.default_rng(0)
    losses = rng.random((30, 3)).astype(np.float32)
    labels = assign_labels(losses, np.zeros(30, int), 1, "image", "confidence")
    calibrated, yours = (round(float(np.quantile(labels.score, q)), 3) for q in (0.8, 0.3))
    saved = _labels_file(tmp_path, 30)
    calibration = Calibration(calibrated, True, "held-out examples", 0.95, 6, 0, float("nan"))
    ex = ThresholdExplorer(
        labels,
        rng.random((30, 8, 8, 1)),
        ["a", "b", "c"],
        0.9,
        save=saved,
        calibration=calibration,
    )
    ex.slider.value = yours  # the person's threshold
    ex.saving.button.click()
    before = saved.path.read_bytes()
    assert saved.saved()["by"] == "you" and saved.saved()["basis"] == "your threshold"
    # Restart and Run All: the explorer starts at the saved threshold, not the calibrated one
    threshold, why = starting_threshold(calibration, saved)
    assert threshold == yours and "you saved" in why
    again = ThresholdExplorer(
        labels,
        rng.random((30, 8, 8, 1)),
        ["a", "b", "c"],
        threshold,
        save=saved,
        calibration=calibration,
    )
    assert again.chosen_threshold and "holds what is shown" in again.saving.state.value
    assert "already holds" in again.saving.save_unless_yours()
    # the last cell, at another threshold: the person's file is left as it is, and it says so
    again.use_calibrated_threshold()
    said = again.saving.save_unless_yours()
    assert "holds what you saved" in said and "left as it is" in said
    assert saved.path.read_bytes() == before
    # with no file of the person's, the workbook writes it, saying on what it rests
    saved.path.unlink()
    assert f"accepted at {calibrated:.4f}" in again.saving.save_unless_yours()
    assert saved.saved()["by"] == "the workbook"
    assert starting_threshold(calibration, saved) == (
        calibrated,
        "calibrated (guess: 0 of the 30 audit reviews a promise needs)",
    )


def test_counts_by_class_and_an_empty_gallery_say_what_is_going_on():
    ex, labels, _ = _explorer(0.2)
    counts = np.bincount(labels.label[ex.selection()], minlength=3)
    for name, n in zip("abc", counts, strict=True):
        assert f"{name} <b>{n}</b>" in ex.by_class.value
    ex.slider.value = 0.0
    assert "none yet for 3 class(es)" in ex.by_class.value
    assert "No image is accepted by the threshold: move" in ex.empty.value
    assert "the number the slider compares" in ex.legend.value
    # a class whose only accepted images are the ones a person gave: the sentence says so
    from helpers.labelling.labels import Known

    ex.labels = labels.with_known(Known.of([0, 1], [1, 1], "reviewed"))
    ex.picker.value = 1
    assert "<b>2</b> of" in ex.summary.value
    assert "beyond the 2 a person gave a class" in ex.empty.value


def test_thumbnails_come_from_the_originals_when_given():
    import io

    from PIL import Image

    rng = np.random.default_rng(0)
    labels = assign_labels(
        rng.random((20, 3)).astype(np.float32), np.zeros(20, int), 1, "image", "loss"
    )
    big = rng.integers(0, 255, (20, 96, 96, 3), dtype=np.uint8)
    ex = ThresholdExplorer(
        labels, rng.random((20, 8, 8, 3)), ["a", "b", "c"], 0.9, originals=lambda i: big[i]
    )
    shown = Image.open(io.BytesIO(ex.thumbs[0].value))
    assert shown.size == (96, 96) and ex.thumbs[0].layout.width == "96px"
    np.testing.assert_array_equal(np.asarray(shown), big[int(ex.shown[0])])


def test_the_gallery_refills_once_everything_shown_is_reviewed(tmp_path):
    ex, _ = _session_explorer(tmp_path)
    ex.max_gallery = 4
    ex.redraw()
    first = [int(i) for i in ex.shown]
    for _ in range(3):
        ex.review.press("1")
    assert [int(i) for i in ex.shown] == first  # still in view, marked
    ex.review.press("1")
    assert not set(int(i) for i in ex.shown) & set(first) and len(ex.shown) == 4
