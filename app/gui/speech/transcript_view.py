"""The transcript view: a line per segment with its times and speaker, each word placed so that a
click finds it; the word playing is highlighted, words the model was unsure of are marked with a
dotted underline; a line's text or its speaker's name is edited in place (Enter saves, Esc cancels).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QKeySequence,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import QLineEdit, QListView, QStyle, QStyledItemDelegate

from app.gui.widgets.placeholder_list import PlaceholderList

UNSURE = 0.5  # a word's probability under this is marked
PAD = 4


def stamp(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m):02d}:{s:04.1f}"


@dataclass
class Layout:
    doc: QTextDocument
    name: tuple[int, int] | None = None  # the speaker's name, in characters of the document
    words: list[tuple[int, int]] = field(default_factory=list)  # each word's characters, by index


class LineDelegate(QStyledItemDelegate):
    edited = Signal(int, str)  # row, its new text
    renamed = Signal(str, str)  # speaker label, the name given

    def __init__(self, view):
        super().__init__(view)
        self.view = view
        self.renaming: str | None = None  # the label whose name the open editor edits

    def layout(self, row: int, width: float, palette, selected: bool = False) -> Layout:
        seg, name = self.view.line(row)
        doc = QTextDocument()
        doc.setDefaultFont(self.view.font())
        doc.setDocumentMargin(PAD)
        doc.setTextWidth(max(width, 50))
        cursor = QTextCursor(doc)
        out = Layout(doc)
        if seg is None:  # a line not (yet) in the pane's list: its text as it is
            item = self.view.item(row)
            cursor.insertText(item.text() if item is not None else "")
            return out
        plain = QTextCharFormat()
        dim = QTextCharFormat()
        if not selected:  # on a selected line all of it takes the selection's text colour
            dim.setForeground(palette.color(palette.ColorRole.PlaceholderText))
        cursor.insertText(f"[{stamp(seg.start)} → {stamp(seg.end)}]  ", dim)
        if name:
            bold = QTextCharFormat()
            bold.setFontWeight(QFont.Weight.Bold)
            at = cursor.position()
            cursor.insertText(name, bold)
            out.name = (at, cursor.position())
            cursor.insertText(": ", plain)
        playing = self.view.playing_word if self.view.playing_row == row else None
        words = seg.words if seg.words and getattr(seg, "original_text", None) is None else []
        if not words:  # no timings, or corrected text: the line as a whole
            fmt = self._playing(palette, selected) if playing is not None else plain
            cursor.insertText(seg.text, fmt)
            return out
        for i, w in enumerate(words):
            fmt = self._playing(palette, selected) if i == playing else QTextCharFormat()
            if w.probability < UNSURE:
                fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.DotLine)
                fmt.setUnderlineColor(palette.color(palette.ColorRole.PlaceholderText))
                fmt.setToolTip(f"Not sure of this word ({w.probability:.0%})")
            text = w.word.lstrip() if i == 0 else w.word
            lead = len(text) - len(text.lstrip())
            if lead:
                cursor.insertText(text[:lead], plain)
            at = cursor.position()
            cursor.insertText(text[lead:], fmt)
            out.words.append((at, cursor.position()))
        return out

    @staticmethod
    def _playing(palette, selected: bool) -> QTextCharFormat:
        """A tinted box behind the word: the selection's colour, or on a selected line its text's."""
        fmt = QTextCharFormat()
        role = palette.ColorRole.HighlightedText if selected else palette.ColorRole.Highlight
        color = QColor(palette.color(role))
        color.setAlpha(90 if selected else 110)
        fmt.setBackground(color)
        return fmt

    def paint(self, painter, option, index):
        self.initStyleOption(option, index)
        option.text = ""
        self.view.style().drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, self.view)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        lay = self.layout(index.row(), option.rect.width(), option.palette, selected)
        painter.save()
        painter.translate(QPointF(option.rect.topLeft()))
        ctx = QAbstractTextDocumentLayout.PaintContext()
        role = option.palette.ColorRole.HighlightedText if selected else option.palette.ColorRole.Text
        ctx.palette.setColor(option.palette.ColorRole.Text, option.palette.color(role))
        ctx.clip = QRectF(0, 0, option.rect.width(), option.rect.height())
        lay.doc.documentLayout().draw(painter, ctx)
        painter.restore()

    def sizeHint(self, option, index):  # noqa: N802 - Qt override
        lay = self.layout(index.row(), self.view.viewport().width(), self.view.palette())
        return QSize(int(lay.doc.idealWidth()), int(lay.doc.size().height()) + 1)

    def hit(self, row: int, point: QPointF) -> tuple[str, int]:
        """What a point in a line's own coordinates is on: ("name", 0), ("word", i) or ("line", 0)."""
        lay = self.layout(row, self.view.visualRect(self.view.model().index(row, 0)).width(), self.view.palette())
        at = lay.doc.documentLayout().hitTest(point, Qt.HitTestAccuracy.ExactHit)
        if at < 0:
            return "line", 0
        if lay.name and lay.name[0] <= at < lay.name[1]:
            return "name", 0
        for i, (a, b) in enumerate(lay.words):
            if a <= at < b:
                return "word", i
        return "line", 0

    # --- editing ------------------------------------------------------------------------------
    def createEditor(self, parent, option, index):  # noqa: N802 - Qt override
        editor = QLineEdit(parent)
        editor.setObjectName("speakerEditor" if self.renaming else "lineEditor")
        editor.setAccessibleName("Speaker's name" if self.renaming else "Line's text")
        return editor

    def setEditorData(self, editor, index):  # noqa: N802 - Qt override
        seg, name = self.view.line(index.row())
        editor.setText(name if self.renaming else seg.text if seg is not None else "")
        editor.selectAll()

    def setModelData(self, editor, model, index):  # noqa: N802 - Qt override
        if self.renaming is not None:
            self.renamed.emit(self.renaming, editor.text())
        else:
            self.edited.emit(index.row(), editor.text())

    def updateEditorGeometry(self, editor, option, index):  # noqa: N802 - Qt override
        editor.setGeometry(option.rect)

    def destroyEditor(self, editor, index):  # noqa: N802 - Qt override
        self.renaming = None
        super().destroyEditor(editor, index)


class TranscriptView(PlaceholderList):
    """``line(row)`` gives the (segment, speaker's name) a row shows; set by the pane."""

    seek = Signal(int, int)  # row, word index (-1: the line's start)
    toggle_play = Signal()
    undo = Signal()
    copy_line = Signal()

    def __init__(self, parent=None):
        super().__init__("", parent)
        self.line = lambda row: (None, "")
        self.playing_row: int | None = None
        self.playing_word: int | None = None
        self.delegate = LineDelegate(self)
        self.setItemDelegate(self.delegate)
        self.setResizeMode(QListView.ResizeMode.Adjust)  # lines wrap again to a new width
        self.setEditTriggers(QListView.EditTrigger.NoEditTriggers)  # opened by double-click, F2, the menu
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self._pressed = None

    def set_playing(self, row: int | None, word: int | None) -> None:
        if (row, word) == (self.playing_row, self.playing_word):
            return
        old, self.playing_row, self.playing_word = self.playing_row, row, word
        for r in {old, row} - {None}:
            if r < self.count():
                self.viewport().update(self.visualItemRect(self.item(r)))
        if row is not None and row != old and row < self.count():
            self.scrollToItem(self.item(row))

    def _at(self, pos) -> tuple[int, str, int] | None:
        index = self.indexAt(pos)
        if not index.isValid():
            return None
        rect = self.visualRect(index)
        kind, word = self.delegate.hit(index.row(), QPointF(pos - rect.topLeft()))
        return index.row(), kind, word

    def edit_text(self, row: int) -> None:
        self.delegate.renaming = None
        self.edit(self.model().index(row, 0))

    def edit_name(self, row: int) -> None:
        seg, _name = self.line(row)
        if seg is not None and seg.speaker is not None:
            self.delegate.renaming = seg.speaker
            self.edit(self.model().index(row, 0))

    def mousePressEvent(self, event):  # noqa: N802 - Qt override
        left = event.button() == Qt.MouseButton.LeftButton
        self._pressed = self.indexAt(event.position().toPoint()) if left else None
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event):  # noqa: N802 - Qt override
        super().mouseReleaseEvent(event)
        pos = event.position().toPoint()
        if self._pressed is not None and self._pressed == self.indexAt(pos) and self.state() != self.State.EditingState:
            at = self._at(pos)
            if at is not None:
                self.seek.emit(at[0], at[2] if at[1] == "word" else -1)
        self._pressed = None

    def mouseDoubleClickEvent(self, event):  # noqa: N802 - Qt override
        at = self._at(event.position().toPoint())
        if at is None:
            return super().mouseDoubleClickEvent(event)
        (self.edit_name if at[1] == "name" else self.edit_text)(at[0])

    def keyPressEvent(self, event):  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Space and not event.modifiers():
            self.toggle_play.emit()
        elif event.matches(QKeySequence.StandardKey.Undo):
            self.undo.emit()
        elif event.matches(QKeySequence.StandardKey.Copy):
            self.copy_line.emit()
        elif event.key() == Qt.Key.Key_F2 and self.currentRow() >= 0:
            self.edit_text(self.currentRow())
        else:
            super().keyPressEvent(event)

    def event(self, event):
        if event.type() == QEvent.Type.ShortcutOverride and (
                event.key() == Qt.Key.Key_Space or event.matches(QKeySequence.StandardKey.Undo)):
            event.accept()  # ours while the transcript has the focus (no window shortcut takes them)
            return True
        return super().event(event)
