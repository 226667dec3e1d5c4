"""The Models page's search field and filters: kind (All / Chat / Images / Speech) and chips
(Fits this computer, Sees pictures, Calls tools, Installed). The rule itself is core's
(app.core.models.overview.matches), so the CLI could filter the same way."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.core.models.overview import matches

KIND_BUTTONS = (("", "&All"), ("chat", "C&hat"), ("images", "I&mages"), ("speech", "S&peech"))
CHIPS = (
    ("fits", "Fits this computer", "Only models that fit this computer"),
    ("sees", "Sees pictures", "Only models that read pictures"),
    ("tools", "Calls tools", "Only models that call tools well"),
    ("installed", "Installed", "Only installed models"),
)


class FilterBar(QWidget):
    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("modelFilters")
        self.search = QLineEdit()
        self.search.setObjectName("modelSearch")
        self.search.setAccessibleName("Search models")
        self.search.setPlaceholderText("Search by name, size or what it is good at")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.changed)
        self.kinds: dict[str, QPushButton] = {}
        group = QButtonGroup(self)
        group.setExclusive(True)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.search, 1)
        for kind, text in KIND_BUTTONS:
            b = QPushButton(text)
            b.setCheckable(True)
            b.setAccessibleName(f"Show {kind or 'all'} models")
            b.setProperty("segment", True)
            group.addButton(b)
            top.addWidget(b)
            self.kinds[kind] = b
        self.kinds[""].setChecked(True)
        group.buttonToggled.connect(lambda _b, on: on and self.changed.emit())
        self.chips: dict[str, QPushButton] = {}
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        for key, text, name in CHIPS:
            b = QPushButton(text)
            b.setCheckable(True)
            b.setAccessibleName(name)
            b.setProperty("chip", True)
            b.toggled.connect(self.changed)
            bottom.addWidget(b)
            self.chips[key] = b
        bottom.addStretch(1)
        self.count = QLabel()
        self.count.setObjectName("modelCount")
        bottom.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(bottom)

    def kind(self) -> str:
        return next(k for k, b in self.kinds.items() if b.isChecked())

    def set_kind(self, kind: str) -> None:
        self.kinds[kind].setChecked(True)

    def keep(self, row) -> bool:
        """Whether the page shows ``row`` (a cards.Row) under the current search and filters."""
        flags = {key: b.isChecked() for key, b in self.chips.items()}
        return row.info is not None and matches(row.info, self.search.text(), self.kind(), **flags)

    def active(self) -> bool:
        return bool(self.search.text().strip() or self.kind() or any(b.isChecked() for b in self.chips.values()))

    def clear(self) -> None:
        self.blockSignals(True)
        self.search.clear()
        self.kinds[""].setChecked(True)
        for b in self.chips.values():
            b.setChecked(False)
        self.blockSignals(False)
        self.changed.emit()

    def show_count(self, shown: int, total: int) -> None:
        self.count.setText(f"{total} models" if shown == total else f"{shown} of {total} models")
