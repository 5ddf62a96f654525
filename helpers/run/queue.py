"""``python -m helpers queue``: the review queue outside the notebook.

Prints, as CSV, the next images the explorer's default order would show for review, audit
picks included (the audit round first, while the promise lacks its audits), with their
current labels, in the layout of ``reviews.csv`` (``image,label,time,audit``, then
``confidence``): a reviewer at a terminal, or a script, corrects the labels and appends the
rows to ``reviews.csv``; the next run reads them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import sys

from helpers.run.session import review_queue


def print_queue(run_dir: str | None, n: int, per_class: int = 10, out=None) -> int:
    """Write the next ``n`` images to review to ``out`` (default standard output)."""
    from helpers.run.workflow import open_session

    with contextlib.redirect_stdout(sys.stderr):  # what the steps say is not the CSV
        session, _ = open_session(run_dir, per_class)
        labels, _ = session.relabel()
    queue, audit = review_queue(labels, n, audited=len(session.audit))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["image", "label", "time", "audit", "confidence"])
    for i, is_audit in zip(queue, audit, strict=True):
        writer.writerow(
            [
                session.image_ids[i],
                session.class_names[int(labels.label[i])],
                "",
                int(is_audit),
                f"{labels.confidence[i]:.4f}",
            ]
        )
    (out or sys.stdout).write(text.getvalue())
    return 0
