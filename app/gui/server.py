"""The window's Server switch: `serve` inside the window, sharing the panes' loaded models.

``WindowBackends`` is the server's Backends interface on the panes' own model workers: an API
request is one more job on the worker that owns the model, so it queues behind the user's turn
(and the user's behind it), and no model is loaded twice. A chat request for a model other than
the one the Chat pane holds goes to a worker of the server's own, so the pane's model never
changes under it. Jobs are handed to the workers on the GUI thread (a queued signal); their
results travel back in ``concurrent.futures.Future``s, never through the GUI.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QToolButton, QWidget

from app.gui.workers import SerialWorker

log = logging.getLogger(__name__)


class WindowBackends(QObject):
    _hand_over = Signal(object)

    def __init__(self, workers: dict, parent=None):
        """workers: kind -> the pane's ModelWorker (chat, speech, images); a missing kind uses the server's own."""
        super().__init__(parent)
        from app.server.backends import LocalBackends

        self.own = LocalBackends()
        self.workers = workers
        self._hand_over.connect(self._submit, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _submit(self, submit) -> None:
        submit()

    def _on_pane_worker(self, kind: str, model: str, fn) -> Future:
        """fn(model object) runs as a job on the pane's worker; its outcome lands in the future."""
        fut: Future = Future()
        worker = self.workers[kind]

        def job(_cancel, _progress):
            if not fut.set_running_or_notify_cancel():
                return
            try:
                fut.set_result(fn(worker.ensure(model)))
            except BaseException as exc:  # noqa: BLE001 - the request reports it, not the window
                fut.set_exception(exc)

        def submit() -> None:
            worker.submit(job, name=f"api-{kind}", on_error=lambda exc: None)

        self._hand_over.emit(submit)
        return fut

    # --- the Backends interface ---------------------------------------------------------
    def models(self):
        return self.own.models()

    def resolve(self, model, kind):
        return self.own.resolve(model, kind)

    def chat(self, model, messages, params, cancel, emit) -> Future:
        from app.server.backends import run_chat

        worker = self.workers.get("chat")
        if worker is None or worker.model_id not in (model, None):
            return self.own.chat(model, messages, params, cancel, emit)
        return self._on_pane_worker("chat", model, lambda engine: run_chat(engine, model, messages, params,
                                                                          cancel, emit))

    def picture_side(self, model):
        return self.own.picture_side(model)

    def tool_style(self, model):
        return self.own.tool_style(model)

    def transcribe(self, model, path, options, cancel) -> Future:
        from app.server.backends import run_transcribe

        if "speech" not in self.workers:
            return self.own.transcribe(model, path, options, cancel)
        return self._on_pane_worker("speech", model, lambda t: run_transcribe(t, path, options, cancel))

    def embed(self, model, texts, images, budget=None) -> Future:
        from app.server.backends import embed_with

        if "images" not in self.workers:
            return self.own.embed(model, texts, images, budget)
        return self._on_pane_worker("images", model, lambda m: embed_with(m[0], texts, images, budget))

    def search(self, model, text, images, top, threshold, budget=None, filters=None) -> Future:
        from app.server.backends import search_with

        worker = self.workers.get("images")
        if worker is None:
            return self.own.search(model, text, images, top, threshold, budget, filters)
        return self._on_pane_worker("images", model, lambda m: search_with(m[0], m[1], worker.library(), text,
                                                                           images, top, threshold, budget, filters))

    def kind_of(self, model):
        return self.own.kind_of(model)

    def embed_text(self, model, texts, cancel) -> Future:
        """No pane holds a text-embedding model for the server: it runs on the server's own worker, in its
        own process (app.core.embeddings.engine), as under `serve`."""
        return self.own.embed_text(model, texts, cancel)

    def label_speakers(self, segments, path, num_speakers, cancel) -> Future:
        """The server's own speaker model, on its own worker (the Speech pane's is its worker's)."""
        return self.own.label_speakers(segments, path, num_speakers, cancel)

    def close(self) -> None:
        self.own.close()


def _start_job(_cancel, _progress, backends, port: int):
    from app.core.jobs import InputError
    from app.server.run import HearthServer

    try:
        return HearthServer(backends, "127.0.0.1", port).start()
    except InputError:  # the port is taken: any free one
        return HearthServer(backends, "127.0.0.1", 0).start()


def _stop_job(_cancel, _progress, server):
    server.stop()


class ServerSwitch(QWidget):
    """Status bar: the switch, the address while it serves, and a button that copies it."""

    state_changed = Signal(str)  # the address, or "" when stopped

    def __init__(self, workers: dict, parent=None):
        super().__init__(parent)
        from app.server.run import DEFAULT_PORT

        self.setObjectName("serverSwitch")
        self.port = DEFAULT_PORT
        self.workers = workers
        self.server = None
        self.backends = None
        self.worker = SerialWorker("server-control", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.switch = QCheckBox("Server")
        self.switch.setObjectName("serverToggle")
        self.switch.setAccessibleName("Serve the models on an OpenAI-compatible API")
        self.switch.setToolTip("Let other programs on this computer use Hearth's models (OpenAI API, loopback only)")
        self.address = QLabel()
        self.address.setObjectName("serverAddress")
        self.address.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy = QToolButton()
        self.copy.setText("Copy")
        self.copy.setObjectName("serverCopy")
        self.copy.setAccessibleName("Copy the server address")
        self.copy.setVisible(False)
        layout.addWidget(self.switch)
        layout.addWidget(self.address)
        layout.addWidget(self.copy)
        self.switch.toggled.connect(self._toggled)
        self.copy.clicked.connect(self._copy)

    def _toggled(self, on: bool) -> None:
        if on and self.server is None:
            self.switch.setEnabled(False)
            self.address.setText("starting…")
            self.backends = WindowBackends(self.workers, self)
            self.worker.submit(_start_job, self.backends, self.port, on_result=self._started,
                               on_error=self._failed, name="start-server")
        elif not on and self.server is not None:
            server, self.server = self.server, None
            self.worker.submit(_stop_job, server, name="stop-server", on_error=lambda exc: None)
            self.address.setText("")
            self.copy.setVisible(False)
            self.state_changed.emit("")

    def _started(self, server) -> None:
        self.server = server
        self.switch.setEnabled(True)
        self.address.setText(server.url)
        self.copy.setVisible(True)
        log.info("serving on %s", server.url)
        self.state_changed.emit(server.url)

    def _failed(self, exc) -> None:
        self.switch.setEnabled(True)
        self.switch.blockSignals(True)
        self.switch.setChecked(False)
        self.switch.blockSignals(False)
        self.address.setText(f"could not serve: {exc}")
        log.warning("server failed to start: %s", exc)

    def _copy(self) -> None:
        if self.server is not None:
            QGuiApplication.clipboard().setText(self.server.url)

    def finish(self) -> SerialWorker:
        """Never blocks: the server stops on the control worker's thread, which then ends."""
        server, self.server = self.server, None
        backends, self.backends = self.backends, None

        def cleanup() -> None:
            if server is not None:
                server.stop()
            if backends is not None:
                backends.close()

        self.worker.finish(cleanup)
        return self.worker
