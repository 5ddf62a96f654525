"""reviews.csv: appended at once, undone, edited by hand, written by two explorers at once;
and reviews as examples: the incremental scoring equals a full recomputation."""

import csv
import multiprocessing

import numpy as np

from helpers.core.run_dir import RunDir
from helpers.labelling.calibration import AUDITS_FOR_A_PROMISE
from helpers.labelling.labels import Known, label_images
from helpers.labelling.scoring import Reconstructions
from helpers.labelling.settings import DEFAULT_SETTINGS
from helpers.run.reviews import ReviewLog
from helpers.run.session import AUDIT_EVERY, LabelSession, review_order, review_queue
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
    assert rows[0] == ["image", "label", "time", "audit"] and len(rows) == 4
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
    assert rows[0] == ["image", "label", "time", "audit"]
    assert len(rows) == 101 and all(len(r) == 4 and r[1] == "cat" for r in rows[1:])
    assert {r[0] for r in rows[1:]} == {f"{w}-{i}.png" for w in "ab" for i in range(50)}


def _session(tmp_path, images, ex_idx, ex_labels, codes=None):
    codes = images.reshape(len(images), -1)[:, :8] if codes is None else codes
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
    assert sorted(session.scores.columns) == sorted(reviewed)
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
        poisson_steps=session.poisson_steps(),
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
    assert calibration.n_held_out == len(ex_idx)  # the person's examples; reviews are no sample


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
    from helpers.labelling.labels import assign_labels

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


def test_audit_rows_survive_a_hand_edit_and_an_undo(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("image,label,time\nimg1.png,cat,\n")  # an older file, by hand
    log = ReviewLog(path)
    picked = log.append("img2.png", "dog", audit=True)
    assert _rows(path)[0] == ["image", "label", "time", "audit"]  # the column added
    assert _rows(path)[1] == ["img1.png", "cat", ""]  # the rest as it was
    log.append("img3.png", "cat")
    names = ["img1.png", "img2.png", "img3.png"]
    assert log.read(names, ["cat", "dog"]).audit == {1}
    with open(path, "a") as fh:  # a hand edit in a spreadsheet: a new audit row
        fh.write("img3.png,dog,,1\n")
    read = log.read(names, ["cat", "dog"])
    assert read.audit == {1, 2} and read.classes[2] == 1
    second_thought = log.append("img2.png", "cat")  # not an audit any more: the last row wins
    assert log.read(names, ["cat", "dog"]).audit == {2}
    assert log.undo(second_thought)  # undone: the audit row applies again
    assert log.read(names, ["cat", "dog"]).audit == {1, 2}
    assert log.undo(picked) and log.read(names, ["cat", "dog"]).audit == {2}


def test_review_queue_mixes_in_audit_picks_drawn_at_random(tmp_path, real_images):
    x, y = real_images
    x, y = x[:90], np.minimum(y[:90], 2)
    ex_idx = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(3)])
    session = _session(tmp_path, x, ex_idx, y[ex_idx])
    labels, _ = session.relabel()
    done = AUDITS_FOR_A_PROMISE  # the audit round is behind us
    queue, audit = review_queue(labels, 20, audited=done)
    assert len(set(queue.tolist())) == 20 and audit.sum() == 20 // AUDIT_EVERY
    assert np.flatnonzero(audit).tolist() == [4, 9, 14, 19]  # every fifth
    rest = queue[~audit]
    least = review_order(labels)
    assert rest.tolist() == least[~np.isin(least, queue[audit])][:16].tolist()
    # the audit picks come from one permutation of the pile, whatever the labels say:
    # review the first ones, and the next picks are the next of the same permutation
    more, more_audit = review_queue(labels, 60, audited=done)
    for i in queue[audit]:
        session.log.append(str(i), "abc"[y[i]], audit=True)
    after, _ = session.relabel()
    next_queue, next_audit = review_queue(after, 20, audited=done)
    assert next_queue[next_audit].tolist() == more[more_audit][4:8].tolist()
    assert not np.isin(next_queue, queue[audit]).any()
    assert session.audit == set(queue[audit].tolist())
    assert review_queue(labels, 20, audit_every=0, audited=done)[1].sum() == 0


def test_review_queue_opens_with_the_audit_round_until_the_promise_has_its_audits(
    tmp_path, real_images
):
    x, y = real_images
    x, y = x[:90], np.minimum(y[:90], 2)
    ex_idx = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(3)])
    session = _session(tmp_path, x, ex_idx, y[ex_idx])
    labels, calibration = session.relabel()
    assert not calibration.promised
    queue, audit = review_queue(labels, 20)  # no audits yet: all 20 are audit picks
    assert audit.all() and len(set(queue.tolist())) == 20
    # 5 short of the round: 5 audit picks first, then one in five
    queue, audit = review_queue(labels, 20, audited=AUDITS_FOR_A_PROMISE - 5)
    assert np.flatnonzero(audit).tolist() == [0, 1, 2, 3, 4, 9, 14, 19]
    assert len(set(queue.tolist())) == 20


def _precision_by_thirds(labels, truth):
    """Precision of the open labels in thirds of confidence, surest third first."""
    open_ = np.flatnonzero(labels.known < 0)
    ranked = open_[np.argsort(-labels.confidence[open_], kind="stable")]
    return [float((labels.label[t] == truth[t]).mean()) for t in np.array_split(ranked, 3)]


def _three_classes(tmp_path, fashion_mnist, classes, n, per_class):
    """A session on ``n`` Fashion-MNIST test images of three ``classes`` (as a, b, c), the
    first ``per_class`` of each the examples, codes their pixels' first 10 principal
    components; and their true classes."""
    from sklearn.decomposition import PCA

    from helpers.data.fashion_mnist import to_float_images

    (_, _), (x_test, y_test) = fashion_mnist
    keep = np.flatnonzero(np.isin(y_test, classes))[:n]
    x, y = to_float_images(x_test[keep]), np.searchsorted(classes, y_test[keep])
    ex_idx = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in range(3)])
    codes = PCA(10, random_state=0).fit_transform(x.reshape(len(x), -1)).astype(np.float32)
    return _session(tmp_path, x, ex_idx, y[ex_idx], codes), y


def test_confidence_ranks_before_and_after_unbalanced_reviews(tmp_path, fashion_mnist):
    # T-shirt, Pullover, Shirt: the classes that are hard to tell apart
    session, y = _three_classes(tmp_path, fashion_mnist, (0, 2, 6), 900, 3)
    labels, _ = session.relabel()
    before = _precision_by_thirds(labels, y)
    # a round of unbalanced reviews: the 40 least certain images of one class only
    queue = review_order(labels)
    one_class = [i for i in queue if y[i] == 0][:40]
    for i in one_class:
        session.log.append(str(i), "a")
    labels, _ = session.relabel()
    after = _precision_by_thirds(labels, y)
    for thirds in (before, after):  # surer thirds are at least as precise, within noise
        assert thirds[0] >= thirds[1] - 0.02 and thirds[1] >= thirds[2] - 0.02, thirds
        assert thirds[0] > thirds[2]


def test_the_calibrated_threshold_keeps_its_promise_on_a_pile_with_truth(tmp_path, fashion_mnist):
    # T-shirt, Pullover, Sneaker
    session, y = _three_classes(tmp_path, fashion_mnist, (0, 2, 7), 900, 5)
    labels, calibration = session.relabel()
    assert not calibration.promised and "no promise yet" in str(calibration)
    queue, audit = review_queue(labels, 80)  # the audit round (30), then 1 in 5: 40 audits
    assert audit[:AUDITS_FOR_A_PROMISE].all() and audit.sum() == 40
    for i, is_audit in zip(queue, audit, strict=True):
        session.log.append(str(i), "abc"[y[i]], audit=bool(is_audit))
    labels, calibration = session.relabel()
    assert calibration.n_audit == 40 and "40 audit review(s)" in calibration.method
    assert calibration.promised and calibration.met_target
    accepted = labels.accepted(calibration.threshold) & (labels.known < 0)
    assert accepted.any()  # the workbook's own labels
    delivered = (labels.label == y)[accepted].mean()
    assert delivered >= calibration.floor - 0.03, delivered
    estimate = calibration.estimate(calibration.threshold)
    low, high = estimate["interval"]
    assert low - 0.03 <= delivered <= high + 0.03, (estimate, delivered)
    assert estimate["audit"]["accepted"] > 0 and "audit reviews it accepts" in str(calibration)


def test_reviews_that_agree_with_the_labels_never_cost_kept_labels(tmp_path, fashion_mnist):
    # a person who confirms what the queue shows: the fair labels say the labels are right
    session, y = _three_classes(tmp_path, fashion_mnist, (0, 2, 7), 900, 5)
    labels, _ = session.relabel()
    kept = []
    for _round in range(3):
        queue, audit = review_queue(labels, 40, audited=len(session.audit))
        for i, is_audit in zip(queue, audit, strict=True):
            session.log.append(str(i), "abc"[labels.label[i]], audit=bool(is_audit))
        labels, calibration = session.relabel()
        kept.append(labels.accepted(calibration.threshold).mean())
    assert calibration.promised
    assert all(b >= a - 0.03 for a, b in zip(kept, kept[1:], strict=False)), kept
