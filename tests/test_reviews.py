"""reviews.csv: appended at once, undone, edited by hand, written by two explorers at once;
and reviews as examples: the incremental scoring equals a full recomputation."""

import csv
import multiprocessing

import numpy as np

from helpers.artifacts import RunDir
from helpers.labels import DEFAULT_SETTINGS, Known, label_images
from helpers.reviews import ReviewLog
from helpers.scoring import Reconstructions
from helpers.session import LabelSession, review_order
from helpers.ssim import pairwise_ssim


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_append_writes_a_valid_file_at_once_and_undo_takes_one_back(tmp_path):
    log = ReviewLog(tmp_path / "reviews.csv")
    first = log.append("img1.png", "cat")
    second = log.append("img2.png", "dog")
    third = log.append("img1.png", "dog")  # a second thought: the last row wins
    rows = _rows(log.path)
    assert rows[0] == ["image", "label", "time"] and len(rows) == 4
    assert rows[1][:2] == ["img1.png", "cat"] and rows[1][2] == first.time
    read = log.read(["img1.png", "img2.png"], ["cat", "dog"])
    assert read.classes == {0: 1, 1: 1} and read.ignored == []
    assert log.undo(third) and log.read(["img1.png", "img2.png"], ["cat", "dog"]).classes == {
        0: 0,
        1: 1,
    }
    assert not log.undo(third)  # already taken back
    assert log.undo(second) and [r[:2] for r in _rows(log.path)] == [
        ["image", "label"],
        ["img1.png", "cat"],
    ]
    assert not list(tmp_path.glob(".*tmp*"))


def test_hand_edited_rows_are_read_and_bad_ones_reported_not_fatal(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text(
        "image,label,time\n"
        "img1.png,cat,\n"  # no time: fine
        "\n"  # a blank line
        "nowhere.png,cat,\n"
        "img2.png,zebra,\n"
        "img2.png,dog"  # no final newline, no time
    )
    log = ReviewLog(path)
    read = log.read(["img1.png", "img2.png"], ["cat", "dog"])
    assert read.classes == {0: 0, 1: 1}
    assert [n for n, _ in read.ignored] == [4, 5]  # line numbers in the file
    assert "nowhere.png" in read.ignored[0][1] and "zebra" in read.ignored[1][1]
    log.append("img1.png", "dog")  # appending after a line without a newline
    assert log.read(["img1.png", "img2.png"], ["cat", "dog"]).classes == {0: 1, 1: 1}


def _write_many(args):
    path, who = args
    log = ReviewLog(path)
    for i in range(50):
        log.append(f"{who}-{i}.png", "cat")


def test_two_explorers_writing_at_once_leave_a_valid_file(tmp_path):
    path = tmp_path / "reviews.csv"
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_write_many, [(path, "a"), (path, "b")])
    rows = _rows(path)
    assert rows[0] == ["image", "label", "time"]
    assert len(rows) == 101 and all(len(r) == 3 and r[1] == "cat" for r in rows[1:])
    assert {r[0] for r in rows[1:]} == {f"{w}-{i}.png" for w in "ab" for i in range(50)}


def _session(tmp_path, images, ex_idx, ex_labels):
    codes = images.reshape(len(images), -1)[:, :8]
    return LabelSession(
        RunDir(tmp_path),
        np.asarray([str(i) for i in range(len(images))]),
        ("a", "b", "c"),
        codes,
        Reconstructions.from_array(images),
        np.zeros(len(images), np.int64),
        np.asarray(pairwise_ssim(images, images[ex_idx])),
        ex_labels,
        codes[ex_idx],
        images[ex_idx],
        Known.of([], [], "example"),
        DEFAULT_SETTINGS,
    )


def test_relabel_scores_only_new_columns_and_equals_a_full_recomputation(tmp_path, real_images):
    x, y = real_images
    x, y = x[:120], y[:120]
    keep = np.isin(y, (1, 8, 9))
    x, y = x[keep], np.searchsorted([1, 8, 9], y[keep])
    ex_idx = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(3)])
    session = _session(tmp_path, x, ex_idx, y[ex_idx])
    reviewed = [i for i in range(len(x)) if i not in ex_idx][:7]
    for i in reviewed:
        session.log.append(str(i), "abc"[y[i]])
    labels, calibration = session.relabel()
    assert sorted(session._columns) == sorted(reviewed)
    # from scratch: every example and every review as one similarity matrix
    columns = np.concatenate([ex_idx, reviewed])
    full = np.asarray(pairwise_ssim(x, x[columns]))
    known = Known.of(reviewed, y[reviewed], "reviewed")
    expected = label_images(
        full,
        y[columns],
        3,
        session.codes,
        session.clusters,
        DEFAULT_SETTINGS,
        known,
        example_codes=np.concatenate([session.example_codes, session.codes[reviewed]]),
    )
    np.testing.assert_array_equal(labels.label, expected.label)
    np.testing.assert_allclose(labels.margin, expected.margin, atol=1e-5)
    assert (labels.source[reviewed] == "reviewed").all() and (
        labels.label[reviewed] == y[reviewed]
    ).all()
    # a new session (a kernel restart) reuses the saved columns and gives the same labels
    again = _session(tmp_path, x, ex_idx, y[ex_idx])
    relabelled, _ = again.relabel()
    np.testing.assert_array_equal(relabelled.label, labels.label)
    assert calibration.n_held_out == len(columns)


def test_review_order_skips_what_a_person_already_gave(tmp_path, real_images):
    x, y = real_images
    x, y = x[:60], np.minimum(y[:60], 2)
    ex_idx = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(3)])
    session = _session(tmp_path, x, ex_idx, y[ex_idx])
    session.log.append("7", "a")
    labels, _ = session.relabel()
    order = review_order(labels)
    assert 7 not in order and len(order) == 59
    margins = labels.margin[order]
    assert (np.diff(margins) >= 0).all()  # least certain (smallest margin) first
    assert sorted(review_order(labels, "random")) == sorted(order)


def test_class_by_class_order_takes_each_class_in_turn(rng):
    from helpers.labels import assign_labels

    labels = assign_labels(
        rng.random((30, 3)).astype(np.float32), np.zeros(30, int), 1, "image", "margin"
    )
    order = review_order(labels, "least certain, class by class")
    assert sorted(order) == list(range(30))
    first = labels.label[order[:3]]
    assert sorted(first) == [0, 1, 2]
    for c in range(3):  # within a class, least certain first
        mine = order[labels.label[order] == c]
        assert (np.diff(labels.margin[mine]) >= 0).all()
