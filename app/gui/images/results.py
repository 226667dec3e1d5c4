"""The results grid: a list model with thumbnails made off the GUI thread and cached on disk."""

from __future__ import annotations

import hashlib
import os

from PySide6.QtCore import QAbstractListModel, QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QFont, QFontMetrics, QImage, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate

from app.core import paths
from app.core.images.scan import display_path
from app.core.images.taken_words import photo_words, taken_label
from app.gui.images.reading import picture_reader

THUMB = 128
CELL = QSize(THUMB + 24, THUMB + 44)  # the least cell: the thumbnail, the file name and the score under it
LINE = "\u2028"  # Qt's line separator: a new line in an item's text
PAD = 16  # the cell's height beyond the thumbnail and its lines of text (the style's margins)


def cell_lines(hit) -> list[str]:
    """The lines under a result's thumbnail: its file name, when and where it was taken (those it has),
    and its score (none for a browse by date or place: each is scored 1, which says nothing)."""
    when = taken_label(hit.taken, hit.taken_source)
    score = "  ".join(w for w in (f"{hit.score:.2f}" if hit.ranked else "", "offline" if hit.offline else "") if w)
    return [os.path.basename(hit.path), *(w for w in (when, hit.place, score) if w)]


def cell_size(hits, metrics: QFontMetrics) -> QSize:
    """A cell as tall as the most lines any of ``hits`` has, and wide enough for each date whole (a place
    or a file name is elided to it)."""
    lines = max((len(cell_lines(h)) for h in hits), default=2)
    dates = (metrics.horizontalAdvance(taken_label(h.taken, h.taken_source)) for h in hits)
    width = max(CELL.width(), max(dates, default=0) + 12)
    return QSize(width, max(CELL.height(), THUMB + PAD + lines * metrics.lineSpacing()))


class CellText(QStyledItemDelegate):
    """Each line under a thumbnail cut to the cell's width on its own: the style would wrap a long file
    name over the lines under it, or cut the last line only."""

    def initStyleOption(self, option, index):  # noqa: N802 - Qt override
        super().initStyleOption(option, index)
        if index.data(ResultsModel.PathRole) is None or not option.text:
            return  # a month's header
        margin = 2 * (option.widget.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1) + 2
        room = option.rect.width() - margin
        first, *rest = option.text.replace("\n", LINE).split(LINE)  # displayText made each "\n" a LINE
        metrics = option.fontMetrics
        option.displayAlignment = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop  # names in a row line up
        option.text = LINE.join([metrics.elidedText(first, Qt.TextElideMode.ElideMiddle, room),
                                  *(metrics.elidedText(line, Qt.TextElideMode.ElideRight, room) for line in rest)])


def thumb_path(path: str) -> str:
    try:
        mtime = os.path.getmtime(path)
    except OSError:
        mtime = 0
    key = hashlib.sha1(f"{path}|{mtime}|{THUMB}".encode()).hexdigest()
    return str(paths.thumbnails_dir() / f"{key}.png")


class _Signals(QObject):
    done = Signal(str, QImage)


class _ThumbJob(QRunnable):
    def __init__(self, path: str, signals: _Signals):
        super().__init__()
        self.path, self.signals = path, signals

    def run(self) -> None:
        cached = thumb_path(self.path)
        image = QImage(cached) if os.path.exists(cached) else QImage()
        if image.isNull():
            reader = picture_reader(self.path)  # the allow-listed reader for its content, or none
            if reader is not None:
                reader.setAutoTransform(True)  # EXIF orientation
                size = reader.size()
                if size.isValid():
                    reader.setScaledSize(size.scaled(QSize(THUMB, THUMB), Qt.AspectRatioMode.KeepAspectRatio))
                image = reader.read()
            if not image.isNull():
                image.save(cached, "PNG")
        self.signals.done.emit(self.path, image)


class ResultsModel(QAbstractListModel):
    PathRole = Qt.ItemDataRole.UserRole + 1
    ScoreRole = Qt.ItemDataRole.UserRole + 2
    HeaderRole = Qt.ItemDataRole.UserRole + 3  # a timeline row: the month's name ("August 2023"); None for a hit
    thumbnail_ready = Signal(str, QImage)  # one asked for with request_thumbnail (the query picture)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.hits: list = []  # rows: a Hit, or a month's name (a str) in the timeline
        self.header_width = CELL.width()
        self.cell = QSize(CELL)  # set_hits sizes it for its hits, by metrics (the grid's font's)
        self.metrics: QFontMetrics | None = None
        self.thumbs: dict[str, QPixmap] = {}
        self._asked: set[str] = set()
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self.signals = _Signals()
        self.signals.done.connect(self._thumb_ready)
        self._asked_signals = _Signals()
        self._asked_signals.done.connect(self.thumbnail_ready)
        self._row = {}
        # Shown until a thumbnail is ready, so every cell (and the view's uniform size) is full-size at once.
        self.placeholder = QPixmap(THUMB, THUMB)
        self.placeholder.fill(Qt.GlobalColor.transparent)

    def set_hits(self, hits, by_month: bool = False) -> None:
        """The hits in order, or with by_month grouped under their month's name (a header row each)."""
        from app.core.images.filters import by_month as months

        self.beginResetModel()
        self.hits = [row for name, group in months(list(hits)) for row in [name, *group]] if by_month else list(hits)
        self._row = {h.path: i for i, h in enumerate(self.hits) if not isinstance(h, str)}
        if self.metrics is not None:
            self.cell = cell_size([h for h in self.hits if not isinstance(h, str)], self.metrics)
        self.pool.clear()
        self._asked = {p for p in self._asked if p in self.thumbs}
        self.endResetModel()

    def rowCount(self, parent=None) -> int:  # noqa: N802 - Qt override
        return 0 if parent is not None and parent.isValid() else len(self.hits)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        hit = self.hits[index.row()]
        if isinstance(hit, str):
            return self._header(hit, role)
        if role == Qt.ItemDataRole.DisplayRole:
            return "\n".join(cell_lines(hit))
        if role == Qt.ItemDataRole.SizeHintRole:
            return self.cell
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{display_path(hit.path)}\n{photo_words(hit.taken, hit.taken_source, hit.place)}"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            tail = ", ".join(w for w in (f"Similarity {hit.score:.2f}" if hit.ranked else "",
                                         "offline" if hit.offline else "") if w)
            return f"{os.path.basename(hit.path)}. {photo_words(hit.taken, hit.taken_source, hit.place)}." + (
                f" {tail}" if tail else "")
        if role == Qt.ItemDataRole.DecorationRole:
            pix = self.thumbs.get(hit.path)
            if pix is None and hit.path not in self._asked:
                self._asked.add(hit.path)  # only what the view paints is asked for: lazy
                self.pool.start(_ThumbJob(hit.path, self.signals))
            return pix if pix is not None else self.placeholder
        if role == self.PathRole:
            return hit.path
        if role == self.ScoreRole:
            return hit.score
        return None

    def _header(self, name: str, role):
        if role in (Qt.ItemDataRole.DisplayRole, self.HeaderRole, Qt.ItemDataRole.AccessibleTextRole):
            return name
        if role == Qt.ItemDataRole.SizeHintRole:
            return QSize(self.header_width, 28)  # the whole row: the month's photos start on the next one
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setBold(True)
            font.setPointSizeF(font.pointSizeF() * 1.2)
            return font
        return None

    def flags(self, index):
        if index.isValid() and isinstance(self.hits[index.row()], str):
            return Qt.ItemFlag.ItemIsEnabled  # a header is not selected, opened or dragged
        return super().flags(index)

    def request_thumbnail(self, path: str) -> None:
        """A thumbnail of any picture, made off the GUI thread (a dropped one may be 100 megapixels):
        thumbnail_ready. On the global pool, so a new search's set_hits does not drop it."""
        QThreadPool.globalInstance().start(_ThumbJob(path, self._asked_signals))

    def _thumb_ready(self, path: str, image: QImage) -> None:
        if not image.isNull():
            self.thumbs[path] = QPixmap.fromImage(image)
        row = self._row.get(path)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])
