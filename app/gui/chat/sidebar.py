"""The conversation list: new, rename, delete, import, search titles and text."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.chat.history import LIST_PAGE
from app.gui import theme
from app.gui.widgets.placeholder_list import PlaceholderList

PAGE = LIST_PAGE  # chats listed at a time: the next page loads as the list scrolls near its end


def more_note(total: int | None, shown: int) -> str:
    """The last row of a search that found more chats than it shows (total None: not counted)."""
    return "More chats match: type more to narrow" if total is None else f"{total - shown:,} more: type more to narrow"


class ConversationList(QWidget):
    selected = Signal(int)
    new_requested = Signal()
    rename_requested = Signal(int)
    delete_requested = Signal(int)
    import_requested = Signal()

    def __init__(self, history, parent=None):
        super().__init__(parent)
        self.history = history
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search chats…")
        self.search.setAccessibleName("Search conversations")
        self.search.setClearButtonEnabled(True)
        self.search_icon = self.search.addAction(QIcon(), QLineEdit.ActionPosition.LeadingPosition)
        theme.set_icon(self.search_icon, "search")
        self.search.textChanged.connect(self.refresh)
        layout.addWidget(self.search)
        self.list = PlaceholderList("No chats yet")
        self.list.setObjectName("conversationList")
        self.list.setAccessibleName("Conversations")
        # A long title ends in "…" (its full text in the tooltip); the list never scrolls sideways.
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setWordWrap(False)
        self.list.currentItemChanged.connect(self._on_current)
        self.list.verticalScrollBar().valueChanged.connect(self._near_the_end)
        self._last = None  # the last chat listed, while more are left to list (no search)
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.new_button = QPushButton("&New chat")
        self.new_button.setAccessibleName("New chat")
        self.rename_button = QPushButton("Rename")
        self.rename_button.setAccessibleName("Rename chat")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setAccessibleName("Delete chat")
        self.import_button = QPushButton("Import chat…")
        self.import_button.setAccessibleName("Import chat")
        theme.set_icon(self.new_button, "plus")
        # Rename and Delete as icons with tooltips: three labelled buttons were clipped in a 200 px list.
        theme.set_icon(self.import_button, "file")
        for b, icon_name in ((self.rename_button, "edit"), (self.delete_button, "trash")):
            b.setToolTip(b.text())
            b.setText("")
            theme.set_icon(b, icon_name)
        row.addWidget(self.new_button, 1)
        row.addWidget(self.rename_button)
        row.addWidget(self.delete_button)
        layout.addLayout(row)
        layout.addWidget(self.import_button)  # a row of its own: a fourth button in the row above was clipped
        self.new_button.clicked.connect(self.new_requested)
        self.rename_button.clicked.connect(lambda: self._with_current(self.rename_requested))
        self.delete_button.clicked.connect(lambda: self._with_current(self.delete_requested))
        self.import_button.clicked.connect(self.import_requested)
        # No fixed minimum below what the buttons need: a 160 px floor cut "New chat" short.
        self.setMaximumWidth(360)  # grows with the window, up to a comfortable list

    def refresh(self, *_args, select: int | None = None) -> None:
        current = select if select is not None else self.current_id()
        self.list.blockSignals(True)
        self.list.clear()
        text = self.search.text().strip()
        self.list.placeholder = "No chats match" if text else "No chats yet"
        # A search shows the newest matches only (a list of thousands is no use), and says what it left out.
        found = self.history.search(text) if text else None
        self._last = None
        if found is not None:
            self._add(found.conversations, current)
        else:  # every chat, a page at a time (listing 50,000 at once took 243 ms)
            self._add_page(current)
            while current is not None and self._last is not None and self.current_id() != current:
                self._add_page(current)  # the chat to select is further down
        if found is not None and found.more:
            note = QListWidgetItem(more_note(found.total, len(found.conversations)))
            note.setFlags(Qt.ItemFlag.NoItemFlags)  # not a chat: it cannot be selected
            self.list.addItem(note)
        self.list.blockSignals(False)

    def _add(self, conversations, current) -> None:
        for c in conversations:
            item = QListWidgetItem(c.title or "Untitled")
            item.setToolTip(c.title or "Untitled")
            item.setData(Qt.ItemDataRole.UserRole, c.id)
            self.list.addItem(item)
            if c.id == current:
                self.list.setCurrentItem(item)

    def _add_page(self, current=None) -> None:
        page = self.history.conversations_page(PAGE + 1, self._last)
        self._add(page[:PAGE], current)
        self._last = page[PAGE - 1] if len(page) > PAGE else None

    def _near_the_end(self, value: int) -> None:
        bar = self.list.verticalScrollBar()
        if self._last is not None and value >= bar.maximum() - bar.pageStep():
            blocked = self.list.blockSignals(True)
            self._add_page()
            self.list.blockSignals(blocked)

    def current_id(self) -> int | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _on_current(self, item, _previous) -> None:
        if item is not None:
            self.selected.emit(item.data(Qt.ItemDataRole.UserRole))

    def _with_current(self, signal) -> None:
        cid = self.current_id()
        if cid is not None:
            signal.emit(cid)
