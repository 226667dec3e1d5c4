"""The Images pane's filters: a range of days taken, a place, and the timeline switch (results
grouped by month under the month's name). What they hold goes to app.core.images.query.search_photos."""

from __future__ import annotations

from PySide6.QtCore import QDate, QEvent, QObject, Signal
from PySide6.QtWidgets import QCheckBox, QDateEdit, QHBoxLayout, QLabel, QLineEdit, QWidget


class FilterBar(QWidget):
    changed = Signal()  # the timeline switch was flipped: the shown results are regrouped

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("imageFilters")
        self.when = QCheckBox("Taken from")
        self.when.setToolTip("Only photos taken in this range of days (both days included).\n"
                             "Without a date in the photo, the file's date counts.")
        today = QDate.currentDate()
        self.after = self._date_edit("From day", today.addYears(-1))
        self.before = self._date_edit("To day", today)
        self.place = QLineEdit()
        self.place.setObjectName("imagePlace")
        self.place.setAccessibleName("Place")
        self.place.setPlaceholderText("Place: city, region or country")
        self.place.setClearButtonEnabled(True)
        self.place.setMaximumWidth(220)
        self.timeline = QCheckBox("By month")
        self.timeline.setObjectName("imageTimeline")
        self.timeline.setToolTip("Group the results by the month they were taken")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.when, self.after, QLabel("to"), self.before, self.place):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.timeline)
        self.when.toggled.connect(self._enable)
        self.timeline.toggled.connect(lambda _on: self.changed.emit())
        self._enable(False)

    def _date_edit(self, name: str, day: QDate) -> QDateEdit:
        edit = QDateEdit(day)
        edit.setAccessibleName(name)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        return edit

    def _enable(self, on: bool) -> None:
        self.after.setEnabled(on)
        self.before.setEnabled(on)

    def values(self) -> tuple[str | None, str | None, str | None]:
        """(after, before, place) as make_filters takes them; None where no filter is set."""
        days = (self.after.date().toString("yyyy-MM-dd"), self.before.date().toString("yyyy-MM-dd"))
        after, before = days if self.when.isChecked() else (None, None)
        return after, before, self.place.text().strip() or None


class WidthWatch(QObject):
    """Calls back when the grid's viewport is resized: the timeline's headers span the whole row."""

    def __init__(self, viewport, callback):
        super().__init__(viewport)
        self.callback = callback
        viewport.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Resize:
            self.callback()
        return False
