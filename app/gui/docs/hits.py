"""The Documents pane's results list: each passage as its file, page or heading, score, and a snippet
with the query's words emphasised, drawn as rich text by a delegate (the list stays one widget)."""

from __future__ import annotations

import html
import os

from PySide6.QtCore import QPoint, QSize, Qt
from PySide6.QtGui import QAbstractTextDocumentLayout, QPalette, QTextDocument
from PySide6.QtWidgets import QListWidgetItem, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.core.docs.snippets import snippet
from app.gui.colors import current_colors

HIT_ROLE = Qt.ItemDataRole.UserRole  # the DocHit
HTML_ROLE = Qt.ItemDataRole.UserRole + 1
PAD = 8


def place(hit) -> str:
    """Where in its file a hit is: its page, else its heading path."""
    if hit.page is not None:
        return f"page {hit.page}"
    return hit.heading


def hit_html(hit, query: str) -> str:
    muted = current_colors()["muted"]
    where = place(hit)
    head = f"<b>{html.escape(os.path.basename(hit.path))}</b>"
    if where:
        head += f" &nbsp;·&nbsp; {html.escape(where)}"
    head += f" &nbsp;<span style='color:{muted}'>score {hit.score:.3f}</span>"
    body = "".join(f"<b><u>{html.escape(run)}</u></b>" if marked else html.escape(run)
                   for run, marked in snippet(hit.text, query, heading=hit.heading))
    return f"{head}<br>{body}"


def hit_item(hit, query: str) -> QListWidgetItem:
    item = QListWidgetItem()
    item.setData(HIT_ROLE, hit)
    item.setData(HTML_ROLE, hit_html(hit, query))
    where = place(hit)
    # What a screen reader says and a test reads: the plain words, no markup.
    item.setText(f"{os.path.basename(hit.path)}{' — ' + where if where else ''}: {' '.join(hit.text.split())[:200]}")
    item.setToolTip(hit.path + (f" (page {hit.page})" if hit.page is not None else ""))
    return item


class HitDelegate(QStyledItemDelegate):
    def _document(self, option, index, width: int) -> QTextDocument:
        doc = QTextDocument()
        doc.setDefaultFont(option.font)
        doc.setHtml(index.data(HTML_ROLE) or "")
        doc.setTextWidth(max(80, width - 2 * PAD))
        return doc

    def paint(self, painter, option, index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        doc = self._document(option, index, option.rect.width())
        context = QAbstractTextDocumentLayout.PaintContext()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        context.palette.setColor(QPalette.ColorRole.Text, option.palette.color(role))
        painter.save()
        painter.translate(option.rect.topLeft() + QPoint(PAD, PAD // 2))
        painter.setClipRect(0, 0, option.rect.width() - PAD, option.rect.height())
        doc.documentLayout().draw(painter, context)
        painter.restore()

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 - Qt override
        # The list's width, not the item's: the text wraps to it, so the height follows the window.
        width = option.widget.viewport().width() if option.widget is not None else 400
        doc = self._document(option, index, width)
        return QSize(width, int(doc.size().height()) + PAD)
