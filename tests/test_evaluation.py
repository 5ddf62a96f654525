import numpy as np

from helpers.labelling.evaluation import coverage_at_precision, evaluate, threshold_table
from helpers.labelling.labels import assign_labels


def test_evaluate_and_curves():
    losses = np.array([[0.1, 0.5], [0.4, 0.3], [0.2, 0.6], [0.9, 0.1]], np.float32)
    labels = assign_labels(losses, np.zeros(4, int), 1, "image", "loss")
    truth = np.array([0, 0, 0, 1])  # image 1 is wrongly given class 1
    r = evaluate(labels, truth, 0.25)
    assert r["accepted"] == 3 and r["precision"] == 1.0 and r["coverage"] == 0.75
    assert r["accuracy_all"] == 0.75
    assert evaluate(labels, truth, 0.05)["accepted"] == 0
    assert coverage_at_precision(labels.ssim_loss, labels.label == truth, 0.95) == 0.75
    rows = threshold_table(labels, truth)
    assert rows[-1]["coverage"] == 1.0 and len(rows) == 5


def test_threshold_table_on_margin_reaches_every_image():
    losses = np.array([[0.1, 0.5], [0.4, 0.3], [0.2, 0.25]], np.float32)
    labels = assign_labels(losses, np.zeros(3, int), 1, "image", "margin")
    rows = threshold_table(labels, np.array([0, 1, 1]))
    assert rows[-1]["coverage"] == 1.0
