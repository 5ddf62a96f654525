"""*save labels.csv* under the threshold explorer's slider, and whether labels.csv holds
what is shown; there only when the explorer is given a ``LabelsFile``."""

from __future__ import annotations

import html

import ipywidgets as w

from helpers.run.labels_csv import BY_PERSON, BY_WORKBOOK, LabelsFile


class SaveBar:
    """Writes ``explorer``'s labels at its threshold into ``labels_file`` and says
    *unsaved* until labels.csv holds exactly what is shown."""

    def __init__(self, explorer, labels_file: LabelsFile):
        self.explorer = explorer
        self.file = labels_file
        self.button = w.Button(
            description="save labels.csv", tooltip="write what is shown here into labels.csv"
        )
        self.button.add_class("labels-save")
        self.button.on_click(lambda _b: self.save())
        self.state = w.HTML()
        self.state.add_class("labels-save-state")
        self.widget = w.HBox([self.button, self.state])

    def save(self, by: str = BY_PERSON):
        """Write the labels shown, at the threshold shown, into labels.csv (atomically)."""
        explorer = self.explorer
        path = self.file.save(explorer.labels, explorer.threshold, explorer.basis(), by)
        self.mark()
        return path

    def save_unless_yours(self) -> str:
        """What notebook 05's last cell (and so the headless run) does: write labels.csv,
        unless it holds what a person saved and that differs from what is shown. Says
        which, in a sentence."""
        explorer = self.explorer
        if self.file.holds(explorer.labels, explorer.threshold):
            return f"{self.file.path} already holds these labels at this threshold"
        yours = self.file.saved_by_person()
        if yours is not None:
            return (
                f"{self.file.path} holds what you saved on {yours['time']} ({yours['accepted']} "
                f"accepted at {yours['threshold']:.4f}) and is left as it is: press *save "
                "labels.csv* in the explorer to replace it with what it shows"
            )
        path = self.save(BY_WORKBOOK)
        accepted = int(explorer.labels.accepted(explorer.threshold).sum())
        return (
            f"{path}: {accepted} of {len(explorer.labels)} accepted at {explorer.threshold:.4f} "
            f"({explorer.basis()})"
        )

    def mark(self) -> None:
        """Show whether labels.csv holds what the explorer shows now."""
        saved = self.file.holds(self.explorer.labels, self.explorer.threshold)
        self.button.button_style = "" if saved else "warning"
        record = self.file.saved()
        self.state.value = (
            f"labels.csv holds what is shown (saved by {html.escape(record['by'])})"
            if saved
            else "<b>unsaved</b>: labels.csv does not hold these labels and this threshold yet"
        )
