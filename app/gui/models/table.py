"""One tab of the Models page: the catalog and installed models of one kind."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QProgressBar, QTableWidget, QTableWidgetItem

from app.core.models.overview import ModelRow

COLUMNS = ("Model", "Size", "Licence", "Fits this computer?", "Status")
FIT_COLUMN = 3


@dataclass
class Row:
    id: str
    name: str
    size: int
    licence: str
    fit: str
    status: str  # "installed", "available", "running", "paused", "failed"
    note: str = ""
    catalog: bool = True
    fit_how: str = ""  # how the speed in ``fit`` was estimated (its tooltip)

    @classmethod
    def of(cls, r: ModelRow, estimated: bool = True) -> Row:
        """A core overview row as the table shows it; "…" while the hardware is not known yet."""
        fit = r.fit_text if r.fit else ("…" if r.in_catalog and not estimated else "")
        how = f"Speed {r.speed_how}." if r.speed else ""
        return cls(r.id, r.name, r.size, r.licence, fit, r.state, r.note, catalog=r.in_catalog, fit_how=how)


def human(n: int) -> str:
    if n <= 0:
        return "—"  # not known yet (a download from a URL)
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


class ModelTable(QTableWidget):
    def __init__(self, kind: str, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.kind = kind
        self.setObjectName(f"{kind}ModelsTable")
        self.setAccessibleName(f"{kind.capitalize()} models")
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.rows: list[Row] = []
        self.bars: dict[str, QProgressBar] = {}

    def set_rows(self, rows: list[Row]) -> None:
        if [r.id for r in rows] == [r.id for r in self.rows]:
            self._update_rows(rows)  # the common refresh: keep the widgets, so a progress bar never resets
            return
        selected = self.selected_id()
        self.rows = rows
        self.bars.clear()
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = (row.name, human(row.size), row.licence, row.fit, self._status_text(row))
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, row.id)
                if c == 0:
                    item.setToolTip(row.id)
                elif c == FIT_COLUMN:
                    item.setToolTip(row.fit_how)
                self.setItem(r, c, item)
            if row.status == "running":
                self._bar(r, row.id)
            if row.id == selected:
                self.selectRow(r)

    def _update_rows(self, rows: list[Row]) -> None:
        self.rows = rows
        for r, row in enumerate(rows):
            cells = (row.name, human(row.size), row.licence, row.fit, self._status_text(row))
            for c, text in enumerate(cells):
                if self.item(r, c).text() != text:
                    self.item(r, c).setText(text)
            self.item(r, FIT_COLUMN).setToolTip(row.fit_how)
            if row.status == "running" and row.id not in self.bars:
                self._bar(r, row.id)
            elif row.status != "running" and row.id in self.bars:
                self.removeCellWidget(r, len(COLUMNS) - 1)
                del self.bars[row.id]

    @staticmethod
    def _status_text(row: Row) -> str:
        return {
            "installed": "Installed" + (f" ({row.note})" if row.note else ""),
            "available": "",
            "running": row.note or "Downloading…",
            "paused": "Paused",
            "failed": f"Failed: {row.note}",
            "offline": f"Waiting for the internet: {row.note}",
        }.get(row.status, row.status)

    def _bar(self, r: int, model_id: str) -> QProgressBar:
        bar = QProgressBar()
        bar.setObjectName(f"progress-{model_id}")
        bar.setAccessibleName(f"Download progress of {model_id}")
        bar.setRange(0, 1000)
        bar.setValue(0)
        self.setCellWidget(r, len(COLUMNS) - 1, bar)
        self.bars[model_id] = bar
        return bar

    def show_progress(self, model_id: str, p) -> None:
        bar = self.bars.get(model_id)
        if bar is None:
            return
        if p.total:
            bar.setValue(int(1000 * p.done / p.total))
        eta = f", {int(p.eta_s // 60)}:{int(p.eta_s % 60):02d} left" if p.eta_s else ""
        total = f" of {human(p.total)}" if p.total else ""
        bar.setFormat(f"{human(p.done)}{total} at {p.rate / 1e6:.1f} MB/s{eta}")

    def selected_id(self) -> str | None:
        items = self.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def row_of(self, model_id: str) -> Row | None:
        return next((r for r in self.rows if r.id == model_id), None)

    def select(self, model_id: str) -> None:
        for r, row in enumerate(self.rows):
            if row.id == model_id:
                self.selectRow(r)
