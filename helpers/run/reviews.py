"""``reviews.csv``: the classes a person gave in the explorer, one row per review.

Each review is appended and flushed to disk at once (``fsync``), under a file lock, so a
crash or a kernel restart loses nothing and two explorers writing at once never interleave
half rows. The last row for an image wins. A person may also write or edit the file by hand
(a spreadsheet will do): a row naming an unknown image or class is reported and ignored,
never fatal. ``undo`` takes back a review, leaving the file valid after every step.

A review of an image drawn at random for the purpose (an *audit* pick: the review queue
mixes one in; see ``helpers.run.session.review_queue``) has ``audit`` 1: those images are a
fair sample of the pile, so the threshold is calibrated on them. A row without the column
(an older file, a hand-written row) is an ordinary review.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from helpers.core.files import write_text

FIELDS = ("image", "label", "time", "audit")


@dataclass(frozen=True)
class Review:
    image: str  # as in labels.csv: index in the test split, or path under the data folder
    label: str  # class name
    time: str  # when, ISO 8601 (UTC)
    audit: bool = False  # the image was drawn at random for review


@dataclass
class ReadReviews:
    """The reviews that apply: image index -> class index (the last row per image wins),
    and the rows that could not be used, with why."""

    classes: dict[int, int] = field(default_factory=dict)
    audit: set[int] = field(default_factory=set)  # images whose applying row is an audit
    ignored: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)


class ReviewLog:
    """Appends to, undoes in, and reads one ``reviews.csv``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def append(self, image: str, label: str, audit: bool = False) -> Review:
        """Add one review, on disk before this returns."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        review = Review(str(image), str(label), now, bool(audit))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        with self._locked():
            self._add_audit_column()
            with open(self.path, "a+b") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size == 0:
                    writer.writerow(FIELDS)
                elif os.pread(fh.fileno(), 1, size - 1) != b"\n":
                    out.write("\n")  # a hand-edited file without a final newline
                writer.writerow([review.image, review.label, review.time, int(review.audit)])
                fh.write(out.getvalue().encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
        return review

    def undo(self, review: Review) -> bool:
        """Take back ``review`` (its last row); False when it is no longer in the file."""
        with self._locked():
            if not self.path.is_file():
                return False
            with open(self.path, newline="", encoding="utf-8") as fh:
                rows = list(csv.reader(fh))
            target = [review.image, review.label, review.time]
            for i in range(len(rows) - 1, 0, -1):
                if rows[i][:3] == target:
                    del rows[i]
                    break
            else:
                return False
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(rows)
            write_text(self.path, out.getvalue())  # atomic: the file stays valid
            return True

    def _add_audit_column(self) -> None:
        """An older file's header (image,label,time) gains the audit column, atomically."""
        if not self.path.is_file():
            return
        with open(self.path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
        if rows and [c.strip().lower() for c in rows[0]] == list(FIELDS[:3]):
            rows[0] = list(FIELDS)
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(rows)
            write_text(self.path, out.getvalue())

    @contextmanager
    def _locked(self):
        """An exclusive lock on a file beside the log, held by whoever writes: appends and
        undos from several explorers take turns, and none writes to a replaced file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def rows(self) -> list[list[str]]:
        """The file's rows after the header (none if there is no file)."""
        if not self.path.is_file():
            return []
        with open(self.path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["image", "label"]:
            rows = rows[1:]
        return rows

    def read(self, image_ids: Sequence, class_names: Sequence[str]) -> ReadReviews:
        """The reviews that name a known image and class; the last row per image wins."""
        where = {str(image): i for i, image in enumerate(image_ids)}
        classes = {name: c for c, name in enumerate(class_names)}
        out = ReadReviews()
        for number, row in enumerate(self.rows(), start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            image, label, _, audit = (row + ["", "", "", ""])[:4]
            image, label = image.strip(), label.strip()
            if image not in where:
                out.ignored.append((number, f"image {image!r} is not in this run's pile"))
            elif label not in classes:
                out.ignored.append((number, f"class {label!r} is not one of the classes"))
            else:
                out.classes[where[image]] = classes[label]
                if audit.strip().lower() in ("1", "true", "yes"):
                    out.audit.add(where[image])
                else:
                    out.audit.discard(where[image])
        return out
