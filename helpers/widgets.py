"""The threshold explorer: a slider for the threshold (on the margin or the SSIM loss, as
the labels say) and a class picker that update, without recomputing anything heavy, the
count accepted, the precision and coverage (when truth is known) and a gallery of the
accepted images nearest the threshold."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as w
import numpy as np

from helpers.labels import Labels
from helpers.plots import figure_png, image_grid

ALL = -1


class ThresholdExplorer:
    """Interactive view of what a threshold labels. Display it in a notebook cell."""

    def __init__(
        self,
        labels: Labels,
        images: np.ndarray,
        class_names: Sequence[str],
        threshold: float,
        true_labels: np.ndarray | None = None,
        max_gallery: int = 30,
    ):
        self.labels = labels
        self.images = images
        self.class_names = list(class_names)
        self.true_labels = None if true_labels is None else np.asarray(true_labels)
        self.max_gallery = max_gallery
        top = float(np.ceil(max(labels.score.max(), 1e-3) * 100) / 100)
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
            layout=w.Layout(width="260px"),
        )
        self.summary = w.HTML()
        self.gallery = w.Image(format="png")
        self.summary.add_class("threshold-summary")
        self.gallery.add_class("threshold-gallery")
        self.slider.add_class("threshold-slider")
        self.slider.observe(self._refresh, names="value")
        self.picker.observe(self._refresh, names="value")
        self.widget = w.VBox([w.HBox([self.slider, self.picker]), self.summary, self.gallery])
        self.stats: dict = {}
        self.shown = np.array([], np.int64)
        self._refresh()

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

    def _refresh(self, _change=None) -> None:
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
        wrong = np.zeros(len(idx), bool)
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
        self.stats = stats
        self.summary.value = text
        # The images nearest the threshold are the ones a user is deciding about.
        self.shown = idx[-self.max_gallery :]
        self.gallery.value = self._gallery_png(self.shown, wrong[-self.max_gallery :])

    def _gallery_png(self, shown: np.ndarray, wrong: np.ndarray) -> bytes:
        if len(shown) == 0:
            return figure_png(image_grid(np.zeros((1, 28, 28, 1)), ["nothing accepted"], 1))
        titles, colors = [], []
        for i, bad in zip(shown, wrong, strict=True):
            name = self.class_names[int(self.labels.label[i])]
            title = f"{name[:10]}\n{self.labels.score[i]:.3f}"
            if bad:
                title = f"✗ {self.class_names[int(self.true_labels[i])][:9]}\n" + title
            titles.append(title)
            colors.append("red" if bad else "black")
        return figure_png(image_grid(self.images[shown], titles, ncols=10, colors=colors))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
