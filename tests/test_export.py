import numpy as np

from helpers.labelling.labels import assign_labels
from helpers.run.labels_csv import label_rows


def test_label_rows_follow_the_export_contract():
    losses = np.array([[0.1, 0.5], [0.4, 0.3]], np.float32)
    labels = assign_labels(losses, np.array([1, 0]), 2, "image", "loss")
    rows, fields = label_rows(
        labels, 0.2, ["cat", "dog"], image_ids=[7, 9], true_labels=np.array([0, 0])
    )
    rows = list(rows)
    assert fields[:6] == ["image", "cluster", "label", "ssim_loss", "accepted", "true_label"]
    assert rows[0]["image"] == 7 and rows[0]["label"] == "cat" and rows[0]["accepted"] == 1
    assert rows[1]["label"] == "dog" and rows[1]["accepted"] == 0 and rows[1]["true_label"] == "cat"
    _, no_truth = label_rows(labels, 0.2, ["cat", "dog"])
    assert "true_label" not in no_truth
