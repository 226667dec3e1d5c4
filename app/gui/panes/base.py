"""What every model pane shares: a header with the model it will use and a picker."""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.jobs import HearthError
from app.core.models.sizes import human_size
from app.core.models.starter import is_base_model
from app.core.models.store import ModelStore
from app.core.settings import Settings, save_settings
from app.gui.workers import SerialWorker

log = logging.getLogger(__name__)


def button(text: str, name: str) -> QPushButton:
    """A push button with its screen-reader name."""
    b = QPushButton(text)
    b.setAccessibleName(name)
    return b


def hbox(*widgets: QWidget, stretch: bool = False) -> QHBoxLayout:
    """A row of widgets, optionally pushed left by a stretch."""
    row = QHBoxLayout()
    for w in widgets:
        row.addWidget(w)
    if stretch:
        row.addStretch(1)
    return row


class ModelPicker(QWidget):
    """Lists the store's models of one kind; the choice becomes the pane's default."""

    changed = Signal(str)
    refreshed = Signal()  # the store's list was read again (an import, a download): the choice may be new
    manage_requested = Signal()

    def __init__(self, kind: str, settings: Settings, parent=None):
        super().__init__(parent)
        self.kind, self.settings = kind, settings
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QLabel("&Model:")
        self.combo = QComboBox()
        self.combo.setObjectName(f"{kind}ModelPicker")
        self.combo.setAccessibleName(f"{kind.capitalize()} model")
        self.combo.setMinimumContentsLength(24)
        label.setBuddy(self.combo)
        self.status = QLabel()
        self.status.setObjectName(f"{kind}ModelStatus")
        self.manage = QPushButton("Manage models…")
        self.manage.setAccessibleName("Manage models")
        self.manage.clicked.connect(self.manage_requested)
        self.combo.setMaximumWidth(640)  # a model name, not a 2,400 px bar on a wide screen
        layout.addWidget(label)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.manage)
        layout.addStretch(0)
        self.combo.currentIndexChanged.connect(self._on_index)
        self.refresh()

    def refresh(self) -> None:
        try:
            entries = ModelStore(settings=self.settings).list(self.kind)
            error = ""
        except HearthError as exc:
            entries, error = [], str(exc)
        remote = []
        if self.kind == "chat":  # models on the servers the user added (Models → Add server…)
            from app.core.chat.servers import ServerList

            remote = ServerList().remote_models()
        self.combo.blockSignals(True)
        self.combo.clear()
        for e in entries:
            notes = [human_size(e.size)]
            if e.kind == "chat" and e.sees:
                notes.append("sees pictures")
            if e.kind == "chat" and is_base_model(e.id):
                notes.append("base model: continues text")
            self.combo.addItem(f"{e.id}  ({' · '.join(notes)})", e.id)
        for spec in remote:
            self.combo.addItem(f"{spec}  (remote)", spec)
        chosen = self.settings.default_models.get(self.kind)
        index = self.combo.findData(chosen) if chosen else -1
        self.combo.setCurrentIndex(index if index >= 0 else (0 if entries or remote else -1))
        self.combo.setEnabled(bool(entries or remote))
        self.combo.blockSignals(False)
        if error:
            self.status.setText(error)
        elif not entries and not remote:
            self.status.setText(f"No {self.kind} model installed yet: open Models to import or download one.")
        else:
            self.status.setText(f"Will use {self.current()}.")
        self.refreshed.emit()

    def current(self) -> str | None:
        return self.combo.currentData()

    def _on_index(self, _index: int) -> None:
        model_id = self.current()
        if model_id:
            self.settings.default_models[self.kind] = model_id
            try:
                save_settings(self.settings)  # saved on change, not only at exit
            except OSError as exc:
                log.error("could not save settings: %s", exc)
            self.status.setText(f"Will use {model_id}.")
            self.changed.emit(model_id)


class Pane(QWidget):
    """What the window asks of every pane, a broken one included, so it needs no hasattr checks."""

    def model_picker(self) -> ModelPicker | None:
        return None

    def set_hardware(self, hardware) -> None:
        """``hardware``: the app.core.hardware.HardwareReport, once detected."""

    def finish_workers(self) -> list[SerialWorker]:
        """Never blocks: stops the pane's work and returns the workers that are still ending."""
        return []

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Stops and joins (blocks): for tests and after the event loop has ended."""
        for worker in self.finish_workers():
            worker.wait(timeout_ms)


class BrokenPane(Pane):
    """Stands in for a pane whose construction failed: the reason, and the way to the log."""

    def __init__(self, name: str, title: str, error: BaseException, parent=None):
        super().__init__(parent)
        self.error = error
        self.setObjectName(f"{name}PaneBroken")
        label = QLabel(f"The {title} pane could not start: {error}\nSee the log for details.")
        label.setWordWrap(True)
        label.setObjectName(f"{name}PaneBrokenMessage")
        QVBoxLayout(self).addWidget(label)
        self.message = label


class ModelBackedPane(Pane):
    """A pane backed by one kind of model. Subclasses add their workspace below."""

    kind = ""
    title = ""
    blurb = ""

    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.setObjectName(f"{self.kind}Pane")
        self.setAccessibleName(f"{self.title} pane")
        layout = QVBoxLayout(self)
        heading = QLabel(f"<h2>{self.title}</h2>")
        heading.setAccessibleName(self.title)
        layout.addWidget(heading)
        intro = QLabel(self.blurb)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.picker = ModelPicker(self.kind, settings)
        layout.addWidget(self.picker)
        layout.addWidget(self.picker.status)
        self.body = QVBoxLayout()
        layout.addLayout(self.body, 1)

    def model_picker(self) -> ModelPicker:
        return self.picker
