"""``labels.csv``, the workbook's output (see the design's labels contract): its rows, and
``labels.json`` beside it, which says at what threshold it was saved, what that threshold
rests on, and who saved it: a person (the explorer's *save labels.csv*) or the workbook
(notebook 05's last cell, the headless run), which never overwrites what a person saved.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from helpers.core.run_dir import LABELS, LABELS_INFO, RunDir, fingerprint

if TYPE_CHECKING:
    from helpers.labelling.labels import Labels

BY_PERSON = "you"
BY_WORKBOOK = "the workbook"


@dataclass
class LabelsFile:
    """``labels.csv`` of a run directory and its record (``labels.json``)."""

    run: RunDir
    class_names: Sequence[str]
    image_ids: Sequence | None = None
    true_labels: np.ndarray | None = None

    @property
    def path(self) -> Path:
        return self.run / LABELS

    def save(self, labels: Labels, threshold: float, basis: str, by: str = BY_PERSON) -> Path:
        """Write ``labels.csv`` at ``threshold`` (atomically), then its record."""
        rows, fields = label_rows(
            labels, threshold, self.class_names, self.image_ids, self.true_labels
        )
        path = self.run.save_csv(LABELS, rows, fields)
        self.run.save_json(
            LABELS_INFO,
            {
                "threshold": float(threshold),
                "basis": basis,
                "by": by,
                "accepted": int(labels.accepted(threshold).sum()),
                "images": len(labels),
                "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                "fingerprint": labels_fingerprint(labels, threshold),
            },
        )
        return path

    def saved(self) -> dict | None:
        """The record of what ``labels.csv`` holds (None: no labels.csv, or no record)."""
        if not (self.run.has(LABELS) and self.run.has(LABELS_INFO)):
            return None
        try:
            return self.run.load_json(LABELS_INFO)
        except ValueError:
            return None

    def holds(self, labels: Labels, threshold: float) -> bool:
        """Whether ``labels.csv`` holds these labels at this threshold."""
        saved = self.saved()
        return (
            saved is not None
            and saved.get("threshold") == float(threshold)
            and saved.get("fingerprint") == labels_fingerprint(labels, threshold)
        )

    def saved_by_person(self) -> dict | None:
        """The record, when a person saved ``labels.csv`` (else None)."""
        saved = self.saved()
        return saved if saved is not None and saved.get("by") == BY_PERSON else None


def labels_fingerprint(labels: Labels, threshold: float) -> str:
    """What ``labels.csv`` would hold: every label, who gave it, and what is accepted."""
    known = labels.known if labels.known is not None else np.zeros(0, np.int64)
    return fingerprint(labels.label, known, labels.accepted(threshold))


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
