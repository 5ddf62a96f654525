"""The threshold explorer: a slider for the threshold (on the margin or the SSIM loss, as
the labels say) and a class picker that update, without recomputing anything heavy, the
count accepted, the precision and coverage (when truth is known) and a gallery.

With a ``LabelSession`` it is also where a person reviews: pick images in the gallery (the
button under each), then press a class to give them that class, or *confirm* to keep the
class shown. Every review goes to ``reviews.csv`` at once; *undo* takes back the last one;
*relabel* turns the reviews into examples and recalibrates the threshold. Every control is
a button, so the keyboard works too: Tab to move, Space or Enter to press.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence

import ipywidgets as w
import numpy as np

from helpers.labels import Known, Labels
from helpers.session import review_order

ALL = -1
ORDERS = ("nearest the threshold", "least certain")


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
    ):
        self.labels = labels
        self.images = images
        self.class_names = list(class_names)
        self.true_labels = None if true_labels is None else np.asarray(true_labels)
        self.session = session
        self.max_gallery = max_gallery
        self.history: list[tuple[object, Labels]] = []  # (review, labels before it)
        top = _slider_top(labels)
        by_margin = labels.threshold_on == "margin"
        self.slider = w.FloatSlider(
            value=min(max(float(threshold), 0.0), top),
            min=0.0,
            max=top,
            step=float(f"{top / 400:.1g}"),
            readout_format=".4f",
            description="margin ≥" if by_margin else "SSIM loss <",
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
        self.slider.add_class("threshold-slider")
        self.thumbs = [
            w.Image(format="png", layout=w.Layout(width="56px", height="56px"))
            for _ in range(max_gallery)
        ]
        self.picks = [
            w.ToggleButton(layout=w.Layout(width="108px", height="40px", padding="0px"))
            for _ in range(max_gallery)
        ]
        self.cells = []
        for thumb, pick in zip(self.thumbs, self.picks, strict=True):
            pick.add_class("gallery-pick")
            cell = w.VBox([thumb, pick], layout=w.Layout(align_items="center", width="112px"))
            self.cells.append(cell)
        self.gallery = w.GridBox(
            self.cells,
            layout=w.Layout(grid_template_columns="repeat(auto-fill, 114px)", grid_gap="2px"),
        )
        self.gallery.add_class("threshold-gallery")
        for control in (self.slider, self.picker, self.order):
            control.observe(self._refresh, names="value")
        rows = [w.HBox([self.slider, self.picker, self.order]), self.summary]
        if session is not None:
            rows.append(self._review_bar())
        rows.append(self.gallery)
        self.widget = w.VBox(rows)
        self.stats: dict = {}
        self.shown = np.array([], np.int64)
        self._refresh()

    # -- what is shown -------------------------------------------------------------------

    @property
    def threshold(self) -> float:
        return float(self.slider.value)

    def selection(self) -> np.ndarray:
        """Indices of the images the current threshold and class accept, most alike first."""
        ok = self.labels.accepted(self.threshold)
        if self.picker.value != ALL:
            ok &= self.labels.label == self.picker.value
        idx = np.flatnonzero(ok)
        return idx[np.argsort(self.labels.doubt[idx], kind="stable")]

    def gallery_order(self) -> np.ndarray:
        """What the gallery shows, first to last. *Nearest the threshold*: the accepted
        images the threshold is deciding about. *Least certain*: the images not yet given a
        class by a person whose runner-up class is closest, where a review teaches most."""
        if self.order.value == "nearest the threshold":
            return self.selection()[-self.max_gallery :]
        idx = review_order(self.labels, "least certain")
        if self.picker.value != ALL:
            idx = idx[self.labels.label[idx] == self.picker.value]
        return idx[: self.max_gallery]

    def _refresh(self, _change=None, keep_gallery: bool = False) -> None:
        """Redraw the summary and the gallery (``keep_gallery``: the same images, so the
        ones just reviewed stay in view, marked)."""
        idx = self.selection()
        in_scope = (
            len(self.labels)
            if self.picker.value == ALL
            else int(np.sum(self.labels.label == self.picker.value))
        )
        stats = {
            "threshold": self.threshold,
            "accepted": len(idx),
            "coverage": len(idx) / len(self.labels) if len(self.labels) else 0.0,
        }
        text = (
            f"<b>{len(idx)}</b> of {in_scope} images accepted "
            f"({stats['coverage']:.1%} of all {len(self.labels)}) at "
            + ("margin &ge; " if self.labels.threshold_on == "margin" else "SSIM loss &lt; ")
            + f"{self.threshold:.4f}"
        )
        if self.true_labels is not None:
            truth = self.true_labels[idx]
            known = truth >= 0
            wrong = (self.labels.label[idx] != truth) & known
            stats["wrong"] = int(wrong.sum())
            n_known = int(known.sum())
            stats["precision"] = float(1 - stats["wrong"] / n_known) if n_known else float("nan")
            if n_known:
                text += (
                    f" &middot; precision <b>{stats['precision']:.3f}</b> "
                    f"({n_known - stats['wrong']} right, {stats['wrong']} wrong"
                    + (f" of {n_known} with a known class" if n_known < len(idx) else "")
                    + ", wrong ones marked in red)"
                )
        reviewed = self._reviewed_mask()
        if reviewed.any():
            text += f" &middot; {int(reviewed.sum())} reviewed"
        self.stats = stats
        self.summary.value = text
        if not keep_gallery:
            self.shown = self.gallery_order()
        self._draw_gallery()

    def _reviewed_mask(self) -> np.ndarray:
        if self.labels.source is None:
            return np.zeros(len(self.labels), bool)
        return self.labels.source == "reviewed"

    def _draw_gallery(self) -> None:
        reviewed = self._reviewed_mask()
        for k, (cell, thumb, pick) in enumerate(
            zip(self.cells, self.thumbs, self.picks, strict=True)
        ):
            if k >= len(self.shown):
                cell.layout.display = "none"
                pick.value = False
                continue
            i = int(self.shown[k])
            cell.layout.display = "flex"
            thumb.value = thumbnail_png(self.images[i])
            name = self.class_names[int(self.labels.label[i])][:11]
            truth = None if self.true_labels is None else int(self.true_labels[i])
            wrong = truth is not None and truth >= 0 and truth != int(self.labels.label[i])
            if reviewed[i]:
                pick.description, pick.button_style = f"✓ {name}", "success"
            else:
                pick.description = f"{name} {self.labels.score[i]:.2g}"
                pick.button_style = "danger" if wrong else ""
            pick.tooltip = (
                f"image {i}: {self.class_names[int(self.labels.label[i])]}"
                + (f", truly {self.class_names[truth]}" if wrong else "")
                + (" (reviewed)" if reviewed[i] else "")
            )
            pick.value = False

    # -- reviewing ---------------------------------------------------------------------

    def _review_bar(self) -> w.Widget:
        self.class_buttons = []
        for c, name in enumerate(self.class_names):
            button = w.Button(
                description=f"{c + 1 if c < 9 else ''} {name}".strip(),
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
        self.confirm_button.on_click(lambda _b: self.confirm())
        self.undo_button.on_click(lambda _b: self.undo())
        self.relabel_button.on_click(lambda _b: self.relabel())
        for name, button in (
            ("confirm", self.confirm_button),
            ("undo", self.undo_button),
            ("relabel", self.relabel_button),
        ):
            button.add_class(f"review-{name}")
        self.status = w.HTML("Pick images below, then give them a class or confirm the one shown.")
        self.status.add_class("review-status")
        actions = w.HBox([self.confirm_button, self.undo_button, self.relabel_button])
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
        n = int(self._reviewed_mask().sum())
        self.status.value = (
            f"Relabelled with {n} review(s) in {time.perf_counter() - start:.1f} s; {calibration}"
        )
        if self.slider.value != min(max(calibration.threshold, 0.0), self.slider.max):
            self.slider.value = min(max(calibration.threshold, 0.0), self.slider.max)  # redraws
        else:
            self._refresh()

    def _review(self, image: int, class_index: int) -> None:
        review = self.session.log.append(
            str(self.session.image_ids[image]), self.class_names[class_index]
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
        self._refresh(keep_gallery=True)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
