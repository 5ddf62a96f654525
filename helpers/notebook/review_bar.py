"""The review bar under the threshold explorer's slider, there only with a
``LabelSession``: a button per class, *confirm*, *undo*, *relabel*, *calibrated
threshold*, and keys for each (``CLASS_KEYS``, ``ACTION_KEYS``).

A person picks images in the explorer's gallery (the button under each), then presses a
class to give them that class, or *confirm* to keep the class shown. Every review goes to
``reviews.csv`` at once; *undo* takes back the last one; *relabel* turns the reviews into
examples and recalibrates the threshold. Every control is a button, so the keyboard works
too: Tab to move, Space or Enter to press.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence

import ipywidgets as w
import numpy as np

from helpers.labelling.labels import Known

# review keys: a class key per class, in order; the letters c, r, z are the actions'
CLASS_KEYS = "1234567890abdefghijklmnopqstuvwxy"
ACTION_KEYS = {"c": "confirm", "z": "undo", "Backspace": "undo", "r": "relabel"}


class ReviewBar:
    """Reviews made on what ``explorer`` shows, written through ``session``'s log."""

    def __init__(self, explorer, session):
        self.explorer = explorer  # a ThresholdExplorer: its gallery, labels and slider
        self.session = session
        self.history: list[tuple[object, object]] = []  # (review, labels before it)
        names = explorer.class_names
        self.class_buttons = []
        for c, name in enumerate(names):
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
        self.calibrated_button.on_click(lambda _b: self.use_calibrated())
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
        self.widget = w.VBox(
            [
                w.HBox(self.class_buttons, layout=w.Layout(flex_flow="row wrap")),
                actions,
                self.status,
            ]
        )

    def give(self, class_index: int, images: Sequence[int] | None = None) -> int:
        """Give ``images`` (default: the picked ones) the class; written to reviews.csv."""
        images = self.explorer.picked() if images is None else np.asarray(images, np.int64)
        for i in images:
            self._review(int(i), int(class_index))
        self._after_reviews(len(images), f"given {self.explorer.class_names[class_index]}")
        return len(images)

    def confirm(self, images: Sequence[int] | None = None) -> int:
        """Keep the class shown for ``images`` (default: the picked ones)."""
        images = self.explorer.picked() if images is None else np.asarray(images, np.int64)
        for i in images:
            self._review(int(i), int(self.explorer.labels.label[i]))
        self._after_reviews(len(images), "confirmed")
        return len(images)

    def undo(self) -> bool:
        """Take back the last review made here (from reviews.csv and the labels shown)."""
        if not self.history:
            self.status.value = "Nothing to undo."
            return False
        review, before = self.history.pop()
        self.session.log.undo(review)
        self.explorer.labels = before
        self.status.value = f"Took back: image {review.image} as {review.label}."
        self.explorer.redraw(keep_gallery=True)
        return True

    def relabel(self) -> None:
        """Score the pile against the reviews too, re-spread, recalibrate, redraw."""
        start = time.perf_counter()
        self.status.value = "Relabelling..."
        labels, calibration = self.session.relabel()
        self.history.clear()  # the reviews now stand in the labels themselves
        explorer = self.explorer
        explorer.show_labels(labels, calibration)
        n = explorer.n_reviewed or 0
        self.status.value = (
            f"Relabelled with {n} review(s) in {time.perf_counter() - start:.1f} s; "
            + html.escape(str(calibration))
        )
        if explorer.chosen_threshold:  # the person's threshold stays; calibrated: a press away
            self.status.value += (
                f". The slider stays at your {explorer.threshold:.4f}: press <i>calibrated "
                f"threshold</i> for {calibration.threshold:.4f}."
            )
            explorer.redraw()
        else:
            explorer.use_calibrated_threshold()

    def use_calibrated(self) -> None:
        """Move the slider to the calibrated threshold, and say so in the status line."""
        self.explorer.use_calibrated_threshold()
        calibration = self.explorer.calibration
        if calibration is not None:
            self.status.value = (
                f"The slider is at the calibrated threshold {calibration.threshold:.4f} "
                f"({html.escape(calibration.basis)})."
            )

    def waiting(self) -> str:
        """The reviews made since the last relabel, which the labels and the promise do
        not use yet, in a sentence ('' when none)."""
        if not self.history:
            return ""
        audits = sum(review.audit for review, _ in self.history)
        return (
            f"{len(self.history)} review(s) since the last relabel"
            + (f", {audits} of them audit picks," if audits else "")
            + " not counted above yet: press relabel to use them"
        )

    # -- keys ----------------------------------------------------------------------------

    def listen_to_keys(self, area: w.Widget) -> None:
        """Key presses over ``area`` (ipyevents), where installed."""
        try:
            from ipyevents import Event
        except ImportError:  # the buttons still do everything
            return
        self._keys = Event(source=area, watched_events=["keydown"], prevent_default_action=True)
        self._keys.on_dom_event(lambda event: self.press(event.get("key", "")))

    def press(self, key: str) -> str | None:
        """What a key does in the review area; returns the action, or None."""
        explorer = self.explorer
        n_shown = len(explorer.shown)
        if key in ("ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp"):
            explorer.move_cursor(1 if key in ("ArrowRight", "ArrowDown") else -1, n_shown)
            return "move"
        if key in ACTION_KEYS:
            action = ACTION_KEYS[key]
            if action == "relabel":
                self.relabel()
            elif action == "undo":
                self.undo()
            else:
                self.confirm(explorer.keyed_images())
                explorer.move_cursor(1, n_shown)
            return action
        c = CLASS_KEYS.find(key.lower()) if len(key) == 1 else -1
        if 0 <= c < len(explorer.class_names):
            self.give(c, explorer.keyed_images())
            explorer.move_cursor(1, n_shown)
            return "class"
        return None

    def _review(self, image: int, class_index: int) -> None:
        explorer = self.explorer
        review = self.session.log.append(
            str(self.session.image_ids[image]),
            explorer.class_names[class_index],
            audit=explorer.is_audit_pick(image),
        )
        before = explorer.labels
        explorer.labels = before.with_known(Known.of([image], [class_index], "reviewed"))
        self.history.append((review, before))
        self.session.score_ahead([image])  # its SSIM column, while the person goes on

    def _after_reviews(self, n: int, what: str) -> None:
        self.status.value = (
            f"{n} image(s) {what}; saved in reviews.csv. Press relabel to use them."
            if n
            else "Pick one or more images first (the button under each)."
        )
        self.explorer.redraw(keep_gallery=not self.explorer.all_shown_reviewed())
