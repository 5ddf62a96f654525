"""The threshold explorer: a slider for the threshold (on the confidence, the margin or the
SSIM loss, as the labels say) and a class picker that update, without recomputing anything
heavy, the count accepted, the estimated precision (with what it rests on), the precision
and coverage (when truth is known) and a gallery.

With a ``LabelSession`` it is also where a person reviews: pick images in the gallery (the
button under each), then press a class to give them that class, or *confirm* to keep the
class shown. Every review goes to ``reviews.csv`` at once; *undo* takes back the last one;
*relabel* turns the reviews into examples and recalibrates the threshold. Every control is
a button, so the keyboard works too: Tab to move, Space or Enter to press.
"""

from __future__ import annotations

import html
import io
import time
from collections.abc import Sequence

import ipywidgets as w
import numpy as np

from helpers.labelling.labels import Known, Labels
from helpers.run.session import review_queue

ALL = -1
# review keys: a class key per class, in order; the letters c, r, z are the actions'
CLASS_KEYS = "1234567890abdefghijklmnopqstuvwxy"
ACTION_KEYS = {"c": "confirm", "z": "undo", "Backspace": "undo", "r": "relabel"}
ORDERS = ("nearest the threshold", "least certain")
QUEUE_LENGTH = 1_000  # images of the review queue made at a time
# the slider's label and the summary's words, by what the threshold applies to
_SCORE_NAMES = {
    "confidence": ("confidence ≥", "confidence &ge; "),
    "margin": ("margin ≥", "margin &ge; "),
    "loss": ("SSIM loss <", "SSIM loss &lt; "),
}


def thumbnail_png(image: np.ndarray, scale: int = 2) -> bytes:
    """One image (H, W, C), uint8 or float in [0, 1], as a PNG, ``scale`` times larger."""
    from PIL import Image

    pixels = np.asarray(image)
    if pixels.dtype != np.uint8:
        pixels = np.clip(pixels * 255 + 0.5, 0, 255).astype(np.uint8)
    pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
    img = Image.fromarray(pixels)
    img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def _show_picked(change) -> None:
    """A picked tile shows a check mark: picked and unpicked look different at a glance."""
    change.owner.icon = "check-square" if change.new else ""


def _slider_top(labels: Labels) -> float:
    """The slider's right end: the largest score, rounded up to a hundredth."""
    return float(np.ceil(max(labels.score.max(), 1e-3) * 100) / 100)


class _Ranked:
    """One scope's images (all, or one class) sorted once by doubt, with running counts of
    wrong labels, so what a threshold accepts is a binary search rather than a pass over the
    pile: a slider move costs the same at a million images as at a thousand."""

    def __init__(self, labels: Labels, scope: int, true_labels: np.ndarray | None):
        in_scope = np.ones(len(labels), bool) if scope == ALL else labels.label == scope
        given = labels.known >= 0 if labels.known is not None else np.zeros(len(labels), bool)
        self.size = int(in_scope.sum())
        self.known = np.flatnonzero(in_scope & given)  # a person's class: always accepted
        open_ = np.flatnonzero(in_scope & ~given)
        doubt = np.asarray(labels.doubt[open_], np.float64)
        rank = np.argsort(doubt, kind="stable")
        self.order, self.doubt = open_[rank], doubt[rank]
        self.by_margin = labels.threshold_on != "loss"  # margin or confidence: larger is surer
        if true_labels is not None:
            has_truth = true_labels >= 0
            wrong = has_truth & (labels.label != true_labels)
            self.wrong = np.concatenate([[0], np.cumsum(wrong[self.order])])
            self.with_truth = np.concatenate([[0], np.cumsum(has_truth[self.order])])
            self.known_wrong = int(wrong[self.known].sum())
            self.known_with_truth = int(has_truth[self.known].sum())

    def n_open(self, threshold: float) -> int:
        """How many of the open images ``threshold`` accepts (the first ones of ``order``),
        exactly as ``Labels.accepted``: score >= t, or loss < t."""
        if self.by_margin:
            return int(np.searchsorted(self.doubt, -threshold, side="right"))
        return int(np.searchsorted(self.doubt, threshold, side="left"))


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
        self.save_labels = save  # (labels, threshold) -> path written: labels.csv
        self.originals = originals  # i -> image i from its file, larger (thumbnails)
        self.cursor = 0  # the gallery tile the keys act on when none is picked
        self._moving = False  # the slider is being moved by the explorer, not the person
        self.chosen_threshold = False  # whether the person moved the slider
        self.labels = labels  # (a property: a new Labels drops what was sorted for the old)
        self.images = images  # uint8 or float; only the images shown are made into PNGs
        self._thumbnails: dict[int, bytes] = {}
        self.class_names = list(class_names)
        self.true_labels = None if true_labels is None else np.asarray(true_labels)
        self.session = session
        self.calibration = calibration  # what the summary's precision estimate comes from
        self.max_gallery = max_gallery
        self.history: list[tuple[object, Labels]] = []  # (review, labels before it)
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
            w.ToggleButton(layout=w.Layout(width="108px", height="40px", padding="0px"))
            for _ in range(max_gallery)
        ]
        self.cells = []
        for thumb, pick in zip(self.thumbs, self.picks, strict=True):
            pick.add_class("gallery-pick")
            pick.observe(_show_picked, names="value")
            cell = w.VBox([thumb, pick], layout=w.Layout(align_items="center", width="112px"))
            self.cells.append(cell)
        self.gallery = w.GridBox(
            self.cells,
            layout=w.Layout(grid_template_columns="repeat(auto-fill, 114px)", grid_gap="2px"),
        )
        self.gallery.add_class("threshold-gallery")
        for control in (self.slider, self.picker, self.order):
            control.observe(self._refresh, names="value")
        self.slider.observe(self._person_moved, names="value")
        rows = [w.HBox([self.slider, self.picker, self.order]), self.summary, self.by_class]
        if save is not None:
            rows.append(self._save_bar())
        reviewing = [self.legend, self.empty, self.gallery]
        if session is not None:
            reviewing.insert(0, self._review_bar())
        self.review_area = w.VBox(reviewing)
        self.review_area.add_class("review-area")
        if session is not None:
            self._listen_to_keys()
        self.widget = w.VBox(rows + [self.review_area])
        self.stats: dict = {}
        self.shown = np.array([], np.int64)
        self._refresh()

    # -- what is shown -------------------------------------------------------------------

    @property
    def labels(self) -> Labels:
        return self._labels

    @labels.setter
    def labels(self, labels: Labels) -> None:
        self._labels = labels
        self._ranked: dict[int, _Ranked] = {}
        self._queue: np.ndarray | None = None
        self._n_reviewed = (
            None if labels.source is None else int(np.sum(labels.source == "reviewed"))
        )

    def _ranking(self) -> _Ranked:
        scope = self.picker.value
        if scope not in self._ranked:
            self._ranked[scope] = _Ranked(self.labels, scope, self.true_labels)
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
            self._queue, audit = review_queue(self.labels, QUEUE_LENGTH)
            self._audit |= set(self._queue[audit].tolist())  # shown as such until reviewed
        idx = self._queue
        if self.picker.value != ALL:
            idx = idx[self.labels.label[idx] == self.picker.value]
        return idx[: self.max_gallery]

    def _refresh(self, _change=None, keep_gallery: bool = False) -> None:
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
        if self._n_reviewed:
            text += f" &middot; {self._n_reviewed} reviewed"
        self.stats = stats
        self.summary.value = text
        self.by_class.value = self._per_class_counts(ranked, n_open)
        if not keep_gallery:
            self.shown = self.gallery_order()
            self.cursor = 0
        self._draw_gallery()
        self.empty.value = "" if len(self.shown) else self._why_empty(ranked, n_open)
        self._mark_unsaved()

    def _per_class_counts(self, ranked: _Ranked, n_open: int) -> str:
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

    def _why_empty(self, ranked: _Ranked, n_open: int) -> str:
        scope = "" if self.picker.value == ALL else f" of {self.class_names[self.picker.value]}"
        if self.order.value == "nearest the threshold":
            if ranked.size == 0:
                return f"<i>No image is labelled{scope} at all.</i>"
            looser = "right" if self.labels.threshold_on == "loss" else "left"
            return (
                f"<i>No image{scope} is accepted at this threshold: move the slider {looser}, "
                "or show the least certain images.</i>"
            )
        return f"<i>Every image{scope} has been reviewed: nothing left to ask about.</i>"

    def _is_reviewed(self, i: int) -> bool:
        return self.labels.source is not None and self.labels.source[i] == "reviewed"

    def _thumbnail(self, i: int) -> bytes:
        if i not in self._thumbnails:
            if len(self._thumbnails) >= 4096:
                self._thumbnails.clear()
            if self.originals is not None:
                self._thumbnails[i] = thumbnail_png(self.originals(i), scale=1)
            else:
                self._thumbnails[i] = thumbnail_png(self.images[i])
        return self._thumbnails[i]

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
            thumb.value = self._thumbnail(i)
            name = self.class_names[int(self.labels.label[i])][:11]
            truth = None if self.true_labels is None else int(self.true_labels[i])
            wrong = truth is not None and truth >= 0 and truth != int(self.labels.label[i])
            reviewed = self._is_reviewed(i)
            audit = i in self._audit
            if reviewed:
                pick.description, pick.button_style = f"✓ {name}", "success"
            else:
                pick.description = ("⚄ " if audit else "") + f"{name} {self.labels.score[i]:.2g}"
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

    # -- reviewing ---------------------------------------------------------------------

    def _review_bar(self) -> w.Widget:
        self.class_buttons = []
        for c, name in enumerate(self.class_names):
            key = f" · key {CLASS_KEYS[c]}" if c < len(CLASS_KEYS) else ""
            button = w.Button(
                description=f"{name}{key}",
                tooltip=f"give the picked images the class {name}",
                layout=w.Layout(width="auto"),
            )
            button.on_click(lambda _b, c=c: self.give(c))
            button.add_class("review-class")
            self.class_buttons.append(button)
        self.confirm_button = w.Button(
            description="✓ confirm",
            button_style="success",
            tooltip="keep the class shown under each picked image",
        )
        self.undo_button = w.Button(description="↶ undo", tooltip="take back the last review")
        self.relabel_button = w.Button(
            description="⟳ relabel",
            button_style="primary",
            tooltip="use the reviews as examples and recalibrate",
        )
        self.calibrated_button = w.Button(
            description="calibrated threshold",
            tooltip="move the slider to the threshold the latest calibration chose",
            layout=w.Layout(width="auto"),
        )
        self.confirm_button.on_click(lambda _b: self.confirm())
        self.undo_button.on_click(lambda _b: self.undo())
        self.relabel_button.on_click(lambda _b: self.relabel())
        self.calibrated_button.on_click(lambda _b: self.use_calibrated_threshold())
        for name, button in (
            ("confirm", self.confirm_button),
            ("undo", self.undo_button),
            ("relabel", self.relabel_button),
            ("calibrated", self.calibrated_button),
        ):
            button.add_class(f"review-{name}")
        self.status = w.HTML(
            "Pick images below, then give them a class or confirm the one shown. Keys, with "
            "the mouse over this part: a class's key, ← → to move, c confirm, z undo, "
            "r relabel."
        )
        self.status.add_class("review-status")
        actions = w.HBox(
            [self.confirm_button, self.undo_button, self.relabel_button, self.calibrated_button]
        )
        return w.VBox(
            [
                w.HBox(self.class_buttons, layout=w.Layout(flex_flow="row wrap")),
                actions,
                self.status,
            ]
        )

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

    def give(self, class_index: int, images: Sequence[int] | None = None) -> int:
        """Give ``images`` (default: the picked ones) the class; written to reviews.csv."""
        images = self.picked() if images is None else np.asarray(images, np.int64)
        for i in images:
            self._review(int(i), int(class_index))
        self._after_reviews(len(images), f"given {self.class_names[class_index]}")
        return len(images)

    def confirm(self, images: Sequence[int] | None = None) -> int:
        """Keep the class shown for ``images`` (default: the picked ones)."""
        images = self.picked() if images is None else np.asarray(images, np.int64)
        for i in images:
            self._review(int(i), int(self.labels.label[i]))
        self._after_reviews(len(images), "confirmed")
        return len(images)

    def undo(self) -> bool:
        """Take back the last review made here (from reviews.csv and the labels shown)."""
        if not self.history:
            self.status.value = "Nothing to undo."
            return False
        review, before = self.history.pop()
        self.session.log.undo(review)
        self.labels = before
        self.status.value = f"Took back: image {review.image} as {review.label}."
        self._refresh(keep_gallery=True)
        return True

    def relabel(self) -> None:
        """Score the pile against the reviews too, re-spread, recalibrate, redraw."""
        start = time.perf_counter()
        self.status.value = "Relabelling..."
        self.labels, calibration = self.session.relabel()
        self.calibration = calibration
        self.history.clear()  # the reviews now stand in the labels themselves
        self.slider.max = max(_slider_top(self.labels), self.slider.max)
        n = self._n_reviewed or 0
        self.status.value = (
            f"Relabelled with {n} review(s) in {time.perf_counter() - start:.1f} s; {calibration}"
        )
        if (
            self.chosen_threshold
        ):  # the person's threshold stays; the calibrated one is a press away
            self.status.value += (
                f". The slider stays at your {self.threshold:.4f}: press *calibrated threshold* "
                f"for {calibration.threshold:.4f}."
            )
            self._refresh()
        else:
            self.use_calibrated_threshold()

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
            self._refresh()

    def _person_moved(self, _change) -> None:
        if not self._moving:
            self.chosen_threshold = True

    # -- keys ----------------------------------------------------------------------------

    def _listen_to_keys(self) -> None:
        """Key presses over the review area (ipyevents), where installed."""
        try:
            from ipyevents import Event
        except ImportError:  # the buttons still do everything
            return
        self._keys = Event(
            source=self.review_area, watched_events=["keydown"], prevent_default_action=True
        )
        self._keys.on_dom_event(lambda event: self.press(event.get("key", "")))

    def press(self, key: str) -> str | None:
        """What a key does in the review area (``KEYS``); returns the action, or None."""
        n_shown = len(self.shown)
        if key in ("ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp"):
            step = 1 if key in ("ArrowRight", "ArrowDown") else -1
            self.cursor = int(np.clip(self.cursor + step, 0, max(0, n_shown - 1)))
            self._draw_cursor()
            return "move"
        if key in ACTION_KEYS:
            action = ACTION_KEYS[key]
            if action == "relabel":
                self.relabel()
            elif action == "undo":
                self.undo()
            else:
                self.confirm(self._keyed_images())
            return action
        c = CLASS_KEYS.find(key.lower()) if len(key) == 1 else -1
        if 0 <= c < len(self.class_names):
            images = self._keyed_images()
            self.give(c, images)
            self.cursor = min(self.cursor + 1, max(0, n_shown - 1))
            self._draw_cursor()
            return "class"
        return None

    def _keyed_images(self) -> np.ndarray:
        """The picked images, else the one under the cursor."""
        picked = self.picked()
        if len(picked) or not len(self.shown):
            return picked
        return np.asarray([int(self.shown[self.cursor])], np.int64)

    def _draw_cursor(self) -> None:
        """The blue frame on the tile the keys act on."""
        for k, pick in enumerate(self.picks):
            pick.layout.border = "2px solid #1976d2" if k == self.cursor else ""

    # -- saving --------------------------------------------------------------------------

    def _save_bar(self) -> w.Widget:
        self.save_button = w.Button(
            description="save labels.csv", tooltip="write what is shown here into labels.csv"
        )
        self.save_button.add_class("labels-save")
        self.save_button.on_click(lambda _b: self.save())
        self.save_state = w.HTML()
        self.save_state.add_class("labels-save-state")
        return w.HBox([self.save_button, self.save_state])

    def save(self):
        """Write the labels shown, at the threshold shown, into labels.csv (atomically)."""
        path = self.save_labels(self.labels, self.threshold)
        self._saved = (id(self.labels), self.threshold)
        self._mark_unsaved()
        return path

    def _mark_unsaved(self) -> None:
        if self.save_labels is None:
            return
        saved = getattr(self, "_saved", None) == (id(self.labels), self.threshold)
        self.save_button.button_style = "" if saved else "warning"
        self.save_state.value = (
            "labels.csv holds what is shown"
            if saved
            else "<b>unsaved</b>: labels.csv does not hold these labels and this threshold yet"
        )

    def _review(self, image: int, class_index: int) -> None:
        review = self.session.log.append(
            str(self.session.image_ids[image]),
            self.class_names[class_index],
            audit=image in self._audit,
        )
        before = self.labels
        self.labels = self.labels.with_known(Known.of([image], [class_index], "reviewed"))
        self.history.append((review, before))

    def _after_reviews(self, n: int, what: str) -> None:
        self.status.value = (
            f"{n} image(s) {what}; saved in reviews.csv. Press relabel to use them."
            if n
            else "Pick one or more images first (the button under each)."
        )
        done = len(self.shown) and all(self._is_reviewed(int(i)) for i in self.shown)
        self._refresh(keep_gallery=not done)  # every image shown reviewed: the next ones

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
