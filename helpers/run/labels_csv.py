"""The rows of ``labels.csv``, the workbook's output (see the design's labels contract)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from helpers.labelling.labels import Labels


def label_rows(
    labels: Labels,
    threshold: float,
    class_names: Sequence[str],
    image_ids=None,
    true_labels: np.ndarray | None = None,
) -> tuple[Iterator[dict], list[str]]:
    """Rows (made one at a time, so a million cost no memory) and columns of
    ``labels.csv`` (see the design's labels-export contract).

    ``source`` says where a label came from: ``example`` (one of the examples, in the
    pile), ``reviewed`` (a person's review) or ``auto``. A true class of -1 (unknown) is
    left empty.
    """
    n = len(labels)
    ids = range(n) if image_ids is None else image_ids
    accepted = labels.accepted(threshold)
    source = labels.source if labels.source is not None else np.full(n, "auto", object)
    fields = ["image", "cluster", "label", "ssim_loss", "accepted"]
    if true_labels is not None:
        fields.append("true_label")
    fields += ["label_index", "margin", "source", "confidence"]
    return _rows(labels, accepted, class_names, ids, source, true_labels), fields


def _rows(labels, accepted, class_names, ids, source, true_labels) -> Iterator[dict]:
    for i in range(len(labels)):
        row = {
            "image": ids[i],
            "cluster": int(labels.cluster[i]),
            "label": class_names[int(labels.label[i])],
            "ssim_loss": f"{labels.ssim_loss[i]:.6f}",
            "accepted": int(accepted[i]),
            "label_index": int(labels.label[i]),
            "margin": f"{labels.margin[i]:.6f}",
            "source": source[i],
            "confidence": f"{labels.confidence[i]:.6f}",
        }
        if true_labels is not None:
            truth = int(true_labels[i])
            row["true_label"] = class_names[truth] if truth >= 0 else ""
        yield row
