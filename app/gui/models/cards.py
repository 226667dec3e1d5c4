"""The Models page's list: one card per model (name, badges, size, one line about it, fit and speed,
its state or download progress), filtered by the page's search and filter chips."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QSizePolicy,
    QStyle,
    QVBoxLayout,
)

from app.core.models.overview import ModelRow
from app.core.models.sizes import human_rate, human_size

human = human_size  # the one size formatter (app.core.models.sizes), under its old name here
CARD_WIDTH = 480  # a card's comfortable width: a wide window shows cards side by side, not stretched thin
SPACING = 3


@dataclass
class Row:
    id: str
    name: str
    size: int
    licence: str
    fit: str
    status: str  # "installed", "available", "running", "paused", "failed", "offline"
    note: str = ""
    catalog: bool = True
    fit_how: str = ""  # how the speed in ``fit`` was estimated (its tooltip)
    kind: str = "chat"
    info: ModelRow | None = field(default=None, repr=False)  # everything the details panel shows

    @classmethod
    def of(cls, r: ModelRow, estimated: bool = True) -> Row:
        """A core overview row as the page shows it; "…" while the hardware is not known yet."""
        fit = r.fit_text if r.fit else ("…" if r.in_catalog and not estimated else "")
        how = f"Speed {r.speed_how}." if r.speed else ""
        return cls(r.id, r.name, r.size, r.licence, fit, r.state, r.note, catalog=r.in_catalog, fit_how=how,
                   kind=r.kind, info=r)


def status_text(row: Row) -> str:
    return {
        "installed": "Installed" + (f" ({row.note})" if row.note else ""),
        "available": "",
        "queued": "Queued",
        "running": row.note or "Downloading…",
        "paused": "Paused",
        "failed": f"Failed: {row.note}",
        "offline": f"Waiting for the internet: {row.note}",
    }.get(row.status, row.status)


SHORT_STATES = {"queued": "Queued", "paused": "Paused", "failed": "Download failed",
                "offline": "Waiting for the internet"}


def card_fit(row: Row) -> str:
    """The card's fit line: the recommendation is a badge there, so not said twice."""
    return row.fit.replace(" · recommended here", "")


def badges(row: Row) -> list[tuple[str, str]]:
    """(text, style) of the small labels on a card and in the details: what the model is, at a glance."""
    info = row.info
    out = []
    if info is not None and info.recommended:
        out.append(("Recommended here", "accent"))
    if row.status == "installed":
        out.append(("Installed", "good"))
    if info is not None and info.sees:
        out.append(("Sees pictures", "plain"))
    if info is not None and info.tools:
        out.append(("Calls tools", "plain"))
    return out


def badge(text: str, style: str) -> QLabel:
    label = QLabel(text)
    label.setProperty("badge", style)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class ElidedLabel(QLabel):
    """One line that ends in "…" where the card is too narrow; text() is the whole line."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._full = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text
        self._elide()

    def text(self) -> str:
        return self._full

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 4, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(0, super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        QLabel.setText(self, self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight,
                                                           max(self.width(), 1)))


class ModelCard(QFrame):
    def __init__(self, row: Row, parent=None):
        super().__init__(parent)
        self.setObjectName("modelCard")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)  # the list selects; the card shows
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(3)
        top = QHBoxLayout()
        self.name = ElidedLabel()
        self.name.setObjectName("modelCardName")
        self.badges = QHBoxLayout()
        self.badges.setSpacing(4)
        self.size = QLabel()
        self.size.setObjectName("modelCardSize")
        top.addWidget(self.name)
        top.addLayout(self.badges)
        top.addStretch(1)
        top.addWidget(self.size)
        self.description = ElidedLabel()
        self.description.setObjectName("modelCardText")
        bottom = QHBoxLayout()
        self.fit_label = ElidedLabel()
        self.fit_label.setObjectName("modelCardFit")
        self.state = QLabel()  # a word or two; the whole message is in the details and the tooltip
        self.state.setObjectName("modelCardState")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setFixedWidth(240)
        self.bar.hide()
        bottom.addWidget(self.fit_label, 1)
        bottom.addWidget(self.state)
        bottom.addWidget(self.bar)
        layout.addLayout(top)
        layout.addWidget(self.description)
        layout.addLayout(bottom)
        self.row: Row | None = None
        self.update_row(row)

    def update_row(self, row: Row) -> None:
        self.row = row
        self.name.setText(row.name)
        self.name.setToolTip(row.id)
        self.size.setText(human(row.size))
        info = row.info
        self.description.setText(info.description if info is not None and info.description else
                                 ("From the catalog" if row.catalog else "Your own model, not from the catalog"))
        self.fit_label.setText(card_fit(row))
        self.fit_label.setToolTip(row.fit_how)
        self.state.setText(SHORT_STATES.get(row.status, ""))
        self.state.setToolTip(status_text(row))
        if self.state.property("role") != ("error" if row.status == "failed" else ""):
            self.state.setProperty("role", "error" if row.status == "failed" else "")
            self.state.style().unpolish(self.state)
            self.state.style().polish(self.state)
        shown = [(self.badges.itemAt(i).widget().text(), self.badges.itemAt(i).widget().property("badge"))
                 for i in range(self.badges.count())]
        if shown != badges(row):
            while self.badges.count():
                old = self.badges.takeAt(0).widget()
                old.hide()  # out of sight now; deleteLater is later
                old.deleteLater()
            for text, style in badges(row):
                self.badges.addWidget(badge(text, style))


class ModelList(QListWidget):
    """Every model, one card each, in as many columns as fit; the filters hide cards, never rows."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("modelList")
        self.setAccessibleName("Models")
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setViewMode(QListView.ViewMode.IconMode)  # a grid that wraps, one column when narrow
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setMovement(QListView.Movement.Static)
        self.setDragEnabled(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setSpacing(SPACING)
        self.placeholder = "No model matches the search and filters."
        self.rows: list[Row] = []
        self.cards: dict[str, ModelCard] = {}
        self.bars: dict[str, QProgressBar] = {}  # the running downloads' bars

    def set_rows(self, rows: list[Row]) -> None:
        if [r.id for r in rows] != [r.id for r in self.rows]:
            selected = self.selected_id()
            self.blockSignals(True)
            self.clear()
            self.cards.clear()
            self.bars.clear()
            for row in rows:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, row.id)
                card = ModelCard(row)
                self.addItem(item)
                self.setItemWidget(item, card)
                self.cards[row.id] = card
            self.blockSignals(False)
            self.rows = rows
            if selected and self.row_of(selected):
                self.select(selected)
            else:
                self.itemSelectionChanged.emit()
        self.rows = rows
        for i, row in enumerate(rows):  # the common refresh keeps the cards, so a progress bar never resets
            card = self.cards[row.id]
            card.update_row(row)
            item = self.item(i)
            item.setData(Qt.ItemDataRole.AccessibleTextRole,
                         ", ".join(x for x in (row.name, human(row.size), status_text(row), row.fit) if x))
            item.setSizeHint(QSize(self._card_width(), card.sizeHint().height()))
            if row.status == "running" and row.id not in self.bars:
                card.bar.setValue(0)
                card.bar.setFormat("Waiting…")
                card.bar.setObjectName(f"progress-{row.id}")
                card.bar.setAccessibleName(f"Download progress of {row.id}")
                card.bar.show()
                self.bars[row.id] = card.bar
            elif row.status != "running" and row.id in self.bars:
                self.bars.pop(row.id).hide()

    def _card_width(self) -> int:
        # QListView lays a wrapping grid out in the viewport's largest size less a scroll bar's width.
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self.verticalScrollBar())
        width = self.maximumViewportSize().width() - bar - SPACING - 2
        columns = max(1, width // CARD_WIDTH)
        return max(200, width // columns - SPACING - 1)  # IconMode puts the spacing before each item

    def viewportEvent(self, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Resize:  # the window, or a scroll bar that came or went
            self._fit_cards()
        return super().viewportEvent(event)

    def _fit_cards(self) -> None:
        width = self._card_width()
        changed = False
        for i in range(self.count()):
            hint = self.item(i).sizeHint()
            if hint.width() != width:
                self.item(i).setSizeHint(QSize(width, hint.height()))
                changed = True
        if changed:  # new sizes are laid out at once, not at Qt's next delayed layout
            self.scheduleDelayedItemsLayout()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        if self.rows and all(self.item(i).isHidden() for i in range(self.count())):
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.viewport().rect().adjusted(8, 16, -8, -8),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
                             self.placeholder)
            painter.end()

    def show_progress(self, model_id: str, p) -> None:
        bar = self.bars.get(model_id)
        if bar is None:
            return
        if p.total:
            bar.setValue(int(1000 * p.done / p.total))
        eta = f", {int(p.eta_s // 60)}:{int(p.eta_s % 60):02d} left" if p.eta_s else ""
        total = f" of {human(p.total)}" if p.total else ""
        bar.setFormat(f"{human(p.done)}{total} at {human_rate(p.rate)}{eta}")

    def apply_filter(self, keep) -> int:
        """Hides the cards whose rows ``keep(row)`` refuses; returns how many are shown."""
        shown = 0
        for i, row in enumerate(self.rows):
            hide = not keep(row)
            self.item(i).setHidden(hide)
            shown += not hide
        return shown

    def is_shown(self, model_id: str) -> bool:
        i = self._index(model_id)
        return i >= 0 and not self.item(i).isHidden()

    def selected_id(self) -> str | None:
        items = self.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items and not items[0].isHidden() else None

    def row_of(self, model_id: str) -> Row | None:
        return next((r for r in self.rows if r.id == model_id), None)

    def card(self, model_id: str) -> ModelCard | None:
        return self.cards.get(model_id)

    def _index(self, model_id: str) -> int:
        return next((i for i, r in enumerate(self.rows) if r.id == model_id), -1)

    def select(self, model_id: str) -> None:
        i = self._index(model_id)
        if i >= 0:
            self.setCurrentRow(i)
            self.scrollToItem(self.item(i))
