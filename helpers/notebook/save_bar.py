"""*save labels.csv* under the threshold explorer's slider, and whether labels.csv holds
what is shown; there only when the explorer is given a ``save``."""

from __future__ import annotations

import ipywidgets as w


class SaveBar:
    """Writes ``explorer``'s labels at its threshold through ``save(labels, threshold)``
    (which returns the path written) and says *unsaved* until it has."""

    def __init__(self, explorer, save):
        self.explorer = explorer
        self.save_labels = save
        self._saved = None  # (id of the labels, threshold) last written
        self.button = w.Button(
            description="save labels.csv", tooltip="write what is shown here into labels.csv"
        )
        self.button.add_class("labels-save")
        self.button.on_click(lambda _b: self.save())
        self.state = w.HTML()
        self.state.add_class("labels-save-state")
        self.widget = w.HBox([self.button, self.state])

    def save(self):
        """Write the labels shown, at the threshold shown, into labels.csv (atomically)."""
        path = self.save_labels(self.explorer.labels, self.explorer.threshold)
        self._saved = (id(self.explorer.labels), self.explorer.threshold)
        self.mark()
        return path

    def mark(self) -> None:
        """Show whether labels.csv holds what the explorer shows now."""
        saved = self._saved == (id(self.explorer.labels), self.explorer.threshold)
        self.button.button_style = "" if saved else "warning"
        self.state.value = (
            "labels.csv holds what is shown"
            if saved
            else "<b>unsaved</b>: labels.csv does not hold these labels and this threshold yet"
        )
