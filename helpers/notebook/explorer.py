"""The threshold explorer: a slider for the threshold (on the confidence, the margin or the
SSIM loss, as the labels say) and a class picker that update, without recomputing anything
heavy, the count accepted, the estimated precision (with what it rests on), the precision
and coverage (when truth is known) and a gallery.

With a ``LabelSession`` it is also where a person reviews: the review bar
(``helpers.notebook.review_bar``) sits above the gallery and acts on the images picked in it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as w
import numpy as np

from helpers.labelling.labels import Labels
from helpers.labelling.ranking import ALL, DoubtRanking
from helpers.notebook.review_bar import ReviewBar
from helpers.notebook.save_bar import SaveBar
from helpers.notebook.thumbnails import Thumbnails
from helpers.run.session import review_queue

ORDERS = ("nearest the threshold", "least certain")
QUEUE_LENGTH = 1_000  # images of the review queue made at a time
# the slider's label and the summary's words, by what the threshold applies to
_SCORE_NAMES = {
    "confidence": ("confidence ≥", "confidence &ge; "),
    "margin": ("margin ≥", "margin &ge; "),
    "loss": ("SSIM loss <", "SSIM loss &lt; "),
}


def _show_picked(change) -> None:
    """A picked tile shows a check mark: picked and unpicked look different at a glance."""
    change.owner.icon = "check-square" if change.new else ""


def _caption(score: float) -> str:
    """A tile's number, short enough to read whole: one decimal, or *<0* for a label
    whose second opinion (the examples alone) disagrees."""
    return f"{score:.1f}" if score >= 0 else "<0"


def _slider_top(labels: Labels) -> float:
    """The slider's right end: the largest score, rounded up to a hundredth."""
    return float(np.ceil(max(labels.score.max(), 1e-3) * 100) / 100)


class ThresholdExplorer:
    """Interactive view of what a threshold labels. Display it in a notebook cell."""

    def __init__(
        self,
        labels: Labels,
        images: np.ndarray,
        class_names: Sequence[str],
        threshold: float,
        true_labels: np.ndarray | None = None,
        session=None,
        max_gallery: int = 30,
        order: str | None = None,
        calibration=None,
        image_ids: Sequence | None = None,
        save=None,
        originals=None,
    ):
        self._audit: set[int] = set()  # images shown as audit picks
        self.image_ids = image_ids if image_ids is not None else getattr(session, "image_ids", None)
        self.cursor = 0  # the gallery tile the keys act on when none is picked
        self._moving = False  # the slider is being moved by the explorer, not the person
        self.labels = labels  # (a property: a new Labels drops what was sorted for the old)
        self.thumbnails = Thumbnails(images, originals)  # made only for the images shown
        self.class_names = list(class_names)
        self.true_labels = None if true_labels is None else np.asarray(true_labels)
        self.calibration = calibration  # what the summary's precision estimate comes from
        # whether the threshold is the person's (moved, or one they saved), not calibrated
        self.chosen_threshold = calibration is not None and float(threshold) != float(
            calibration.threshold
        )
        self.max_gallery = max_gallery
        top = _slider_top(labels)
        self.slider = w.FloatSlider(
            value=min(max(float(threshold), 0.0), top),
            min=0.0,
            max=top,
            step=float(f"{top / 400:.1g}"),
            readout_format=".4f",
            description=_SCORE_NAMES[labels.threshold_on][0],
            continuous_update=False,
            style={"description_width": "initial"},
            layout=w.Layout(width="520px"),
        )
        self.picker = w.Dropdown(
            options=[("all classes", ALL)] + [(n, i) for i, n in enumerate(self.class_names)],
            value=ALL,
            description="class",
            layout=w.Layout(width="240px"),
        )
        default_order = "least certain" if session is not None else "nearest the threshold"
        self.order = w.Dropdown(
            options=ORDERS,
            value=order or default_order,
            description="show",
            layout=w.Layout(width="300px"),
        )
        self.summary = w.HTML()
        self.summary.add_class("threshold-summary")
        self.by_class = w.HTML()
        self.by_class.add_class("threshold-by-class")
        self.empty = w.HTML()
        self.empty.add_class("gallery-empty")
        self.legend = w.HTML(
            "<small>Under each image: its class and its "
            f"{html.escape(_SCORE_NAMES[labels.threshold_on][0].split()[0])} (the number the "
            "slider compares); ⚄ an audit pick (drawn at random to check the promise); red: "
            "wrong, where the true class is known; ✓ reviewed; a check mark: picked.</small>"
        )
        self.slider.add_class("threshold-slider")
        side = "96px" if originals is not None else "56px"
        self.thumbs = [
            w.Image(format="png", layout=w.Layout(width=side, height=side))
            for _ in range(max_gallery)
        ]
        self.picks = [
            w.ToggleButton(layout=w.Layout(width="116px", height="40px", padding="0px"))
            for _ in range(max_gallery)
        ]
        self.cells = []
        for thumb, pick in zip(self.thumbs, self.picks, strict=True):
            pick.add_class("gallery-pick")
            pick.observe(_show_picked, names="value")
            cell = w.VBox([thumb, pick], layout=w.Layout(align_items="center", width="120px"))
            self.cells.append(cell)
        self.gallery = w.GridBox(
            self.cells,
            layout=w.Layout(grid_template_columns="repeat(auto-fill, 122px)", grid_gap="2px"),
        )
        self.gallery.add_class("threshold-gallery")
        for control in (self.slider, self.picker, self.order):
            control.observe(self.redraw, names="value")
        self.slider.observe(self._person_moved, names="value")
        rows = [w.HBox([self.slider, self.picker, self.order]), self.summary, self.by_class]
        self.saving = None if save is None else SaveBar(self, save)
        if self.saving is not None:
            rows.append(self.saving.widget)
        reviewing = [self.legend, self.empty, self.gallery]
        self.review = None if session is None else ReviewBar(self, session)
        if session is not None:
            self._audit |= set(session.audit)  # audit picks reviewed before stay marked
        if self.review is not None:
            reviewing.insert(0, self.review.widget)
        self.review_area = w.VBox(reviewing)
        self.review_area.add_class("review-area")
        if self.review is not None:
            self.review.listen_to_keys(self.review_area)
        self.widget = w.VBox(rows + [self.review_area])
        self.stats: dict = {}
        self.shown = np.array([], np.int64)
        self.redraw()

    # -- what is shown -------------------------------------------------------------------

    @property
    def labels(self) -> Labels:
        return self._labels

    @labels.setter
    def labels(self, labels: Labels) -> None:
        self._labels = labels
        self._ranked: dict[int, DoubtRanking] = {}
        self._queue: np.ndarray | None = None
        self.n_reviewed = (
            None if labels.source is None else int(np.sum(labels.source == "reviewed"))
        )

    def _ranking(self) -> DoubtRanking:
        scope = self.picker.value
        if scope not in self._ranked:
            self._ranked[scope] = DoubtRanking(self.labels, scope, self.true_labels)
        return self._ranked[scope]

    @property
    def threshold(self) -> float:
        return float(self.slider.value)

    def selection(self) -> np.ndarray:
        """Indices of the images the current threshold and class accept: those a person
        gave a class first, then the rest, most alike first."""
        ranked = self._ranking()
        return np.concatenate([ranked.known, ranked.order[: ranked.n_open(self.threshold)]])

    def gallery_order(self) -> np.ndarray:
        """What the gallery shows, first to last. *Nearest the threshold*: the accepted
        images the threshold is deciding about. *Least certain*: the images not yet given a
        class by a person whose runner-up class is closest, where a review teaches most."""
        if self.order.value == "nearest the threshold":
            ranked = self._ranking()
            n = ranked.n_open(self.threshold)
            return ranked.order[max(0, n - self.max_gallery) : n]
        if self._queue is None:
            audited = len(self.review.session.audit) if self.review is not None else 0
            self._queue, audit = review_queue(self.labels, QUEUE_LENGTH, audited=audited)
            self._audit |= set(self._queue[audit].tolist())  # shown as such until reviewed
        idx = self._queue
        if self.picker.value != ALL:
            idx = idx[self.labels.label[idx] == self.picker.value]
        return idx[: self.max_gallery]

    def redraw(self, _change=None, keep_gallery: bool = False) -> None:
        """Redraw the summary and the gallery (``keep_gallery``: the same images, so the
        ones just reviewed stay in view, marked)."""
        ranked = self._ranking()
        n_open = ranked.n_open(self.threshold)
        accepted = len(ranked.known) + n_open
        stats = {
            "threshold": self.threshold,
            "accepted": accepted,
            "coverage": accepted / len(self.labels) if len(self.labels) else 0.0,
        }
        text = (
            f"<b>{accepted}</b> of {ranked.size} images accepted "
            f"({stats['coverage']:.1%} of all {len(self.labels)}) at "
            + _SCORE_NAMES[self.labels.threshold_on][1]
            + f"{self.threshold:.4f}"
        )
        if self.calibration is not None and self.calibration.calibrated:
            estimate = self.calibration.estimate(self.threshold)
            stats["estimated_precision"] = estimate["estimated_precision"]
            stats["audit"] = estimate["audit"]
            text += f"<br>{html.escape(self.calibration.describe(self.threshold))}"
        if self.true_labels is not None:
            stats["wrong"] = ranked.known_wrong + int(ranked.wrong[n_open])
            n_known = ranked.known_with_truth + int(ranked.with_truth[n_open])
            stats["precision"] = float(1 - stats["wrong"] / n_known) if n_known else float("nan")
            if n_known:
                text += (
                    f" &middot; precision <b>{stats['precision']:.3f}</b> "
                    f"({n_known - stats['wrong']} right, {stats['wrong']} wrong"
                    + (f" of {n_known} with a known class" if n_known < accepted else "")
                    + ", wrong ones marked in red)"
                )
        if self.n_reviewed:
            text += f" &middot; {self.n_reviewed} reviewed"
        waiting = self.review.waiting() if self.review is not None else None
        if waiting:
            text += f"<br><i>{waiting}</i>"
        self.stats = stats
        self.summary.value = text
        self.by_class.value = self._per_class_counts(ranked, n_open)
        if not keep_gallery:
            self.shown = self.gallery_order()
            self.cursor = 0
        self._draw_gallery()
        self.empty.value = "" if len(self.shown) else self._why_empty(ranked, n_open)
        if self.saving is not None:
            self.saving.mark()

    def _per_class_counts(self, ranked: DoubtRanking, n_open: int) -> str:
        """How many each class has accepted: lopsided labels show at a glance."""
        if self.picker.value != ALL:
            return ""
        accepted = np.concatenate([ranked.known, ranked.order[:n_open]])
        counts = np.bincount(self.labels.label[accepted], minlength=len(self.class_names))
        parts = [
            f"{html.escape(name)} <b>{n}</b>"
            for name, n in zip(self.class_names, counts.tolist(), strict=True)
        ]
        text = "accepted by class: " + " &middot; ".join(parts)
        if (none := int((counts == 0).sum())) > 0:
            text += f" (none yet for {none} class(es): review some of theirs)"
        return f"<small>{text}</small>"

    def _why_empty(self, ranked: DoubtRanking, n_open: int) -> str:
        scope = "" if self.picker.value == ALL else f" of {self.class_names[self.picker.value]}"
        if self.order.value == "nearest the threshold":
            if ranked.size == 0:
                return f"<i>No image is labelled{scope} at all.</i>"
            looser = "right" if self.labels.threshold_on == "loss" else "left"
            given = len(ranked.known)
            yours = (
                f" beyond the {given} a person gave a class (examples and reviews, always accepted)"
                if given
                else ""
            )
            return (
                f"<i>No image{scope} is accepted by the threshold{yours}: move the slider "
                f"{looser}, or show the least certain images.</i>"
            )
        return f"<i>Every image{scope} has been reviewed: nothing left to ask about.</i>"

    def _is_reviewed(self, i: int) -> bool:
        return self.labels.source is not None and self.labels.source[i] == "reviewed"

    def _draw_gallery(self) -> None:
        for k, (cell, thumb, pick) in enumerate(
            zip(self.cells, self.thumbs, self.picks, strict=True)
        ):
            if k >= len(self.shown):
                cell.layout.display = "none"
                pick.value = False
                continue
            i = int(self.shown[k])
            cell.layout.display = "flex"
            thumb.value = self.thumbnails.png(i)
            name = self.class_names[int(self.labels.label[i])][:9]
            truth = None if self.true_labels is None else int(self.true_labels[i])
            wrong = truth is not None and truth >= 0 and truth != int(self.labels.label[i])
            reviewed = self._is_reviewed(i)
            audit = i in self._audit
            mark = "⚄ " if audit else ""
            if reviewed:
                pick.description, pick.button_style = f"✓ {mark}{name}", "success"
            else:
                pick.description = f"{mark}{name} {_caption(self.labels.score[i])}"
                pick.button_style = "danger" if wrong else ""
            where = f"image {i}" if self.image_ids is None else str(self.image_ids[i])
            pick.tooltip = (
                f"{where}: {self.class_names[int(self.labels.label[i])]}"
                + (f", truly {self.class_names[truth]}" if wrong else "")
                + (" (reviewed)" if reviewed else "")
                + (
                    " (audit pick: drawn at random, to check the threshold's promise)"
                    if audit
                    else ""
                )
            )
            pick.value = False
        self._draw_cursor()

    # -- what the review bar acts on ----------------------------------------------------

    def picked(self) -> np.ndarray:
        """The gallery images whose button is pressed."""
        return np.asarray(
            [
                int(self.shown[k])
                for k, p in enumerate(self.picks)
                if p.value and k < len(self.shown)
            ],
            np.int64,
        )

    def basis(self) -> str:
        """What the threshold shown rests on, in a few words (labels.json records it)."""
        if self.calibration is None or self.chosen_threshold:
            return "your threshold"
        return self.calibration.basis

    def use_calibrated_threshold(self) -> None:
        """Move the slider to the latest calibration's threshold (the person's choice ends)."""
        if self.calibration is None:
            return
        value = min(max(self.calibration.threshold, 0.0), self.slider.max)
        self.chosen_threshold = False
        if self.slider.value != value:
            self._moving = True
            try:
                self.slider.value = value  # redraws
            finally:
                self._moving = False
        else:
            self.redraw()

    def _person_moved(self, _change) -> None:
        if not self._moving:
            self.chosen_threshold = True

    def keyed_images(self) -> np.ndarray:
        """The picked images, else the one under the cursor."""
        picked = self.picked()
        if len(picked) or not len(self.shown):
            return picked
        return np.asarray([int(self.shown[self.cursor])], np.int64)

    def move_cursor(self, step: int, n_shown: int) -> None:
        """Move the tile the keys act on by ``step``, within the first ``n_shown``."""
        self.cursor = int(np.clip(self.cursor + step, 0, max(0, n_shown - 1)))
        self._draw_cursor()

    def is_audit_pick(self, i: int) -> bool:
        """Whether image ``i`` was shown as an audit pick (drawn at random)."""
        return i in self._audit

    def all_shown_reviewed(self) -> bool:
        """Whether every image in the gallery has been reviewed (time for the next ones)."""
        return bool(len(self.shown)) and all(self._is_reviewed(int(i)) for i in self.shown)

    def show_labels(self, labels: Labels, calibration) -> None:
        """Labels made again (a relabel) and their calibration; redrawn by the caller."""
        self.labels = labels
        self.calibration = calibration
        self.slider.max = max(_slider_top(labels), self.slider.max)

    def _draw_cursor(self) -> None:
        """The blue frame on the tile the keys act on."""
        for k, pick in enumerate(self.picks):
            pick.layout.border = "2px solid #1976d2" if k == self.cursor else ""

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
