"""The chat worker: one thread that owns the loaded model (design rule 3)."""

from __future__ import annotations

from PySide6.QtCore import QObject

from app.gui.workers import Job, SerialWorker


class ChatWorker(QObject):
    """Loads a model and runs turns, one at a time, on its own thread.

    The engine and the worker's own history connection are touched only from
    that thread; the GUI keeps a separate connection for reads and user edits.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.worker = SerialWorker("chat-worker", self)
        self._engine = None
        self._history = None
        self.model_id: str | None = None
        self._load_error: Exception | None = None
        self._load_args: tuple | None = None
        self._crashed = False

    def load(self, model_id: str, n_ctx: int, chat_format: str | None = None, **callbacks) -> Job:
        def job(token, report):
            report(f"Loading {model_id}…")
            engine = self._open(model_id, n_ctx, chat_format)
            return engine.model_id, list(engine.notices), engine.n_ctx

        return self.worker.submit(job, name="load-model", **callbacks)

    def _open(self, model_id: str, n_ctx: int, chat_format: str | None):
        from app.core.chat.engine import LoadOptions
        from app.core.chat.remote import open_chat_engine
        from app.core.models.store import ModelStore

        if self._engine is not None:
            self._engine.close()
            self._engine = None
        self._load_args = (model_id, n_ctx, chat_format)
        try:
            path, entry = ModelStore().resolve(model_id, "chat")
            # In its own process: a crash there is a message here (app.core.chat.remote).
            engine = open_chat_engine(path, LoadOptions(n_ctx=n_ctx, chat_format=chat_format),
                                      entry.id if entry else path.stem)
        except Exception as exc:
            self._load_error = exc
            raise
        self._load_error = None
        self._engine = engine
        self.model_id = model_id
        return engine

    def generate(self, conversation_id: int, params, **callbacks) -> Job:
        def job(token, report):
            from app.core.chat.history import ChatHistory
            from app.core.chat.remote import ChatProcessError
            from app.core.chat.session import run_turn
            from app.core.jobs import ModelError

            if self._engine is None and self._crashed and self._load_args:
                report("Restarting the model…")  # it crashed last time; the user asked again
                self._open(*self._load_args)
                self._crashed = False
            if self._engine is None:
                if self._load_error is not None:
                    raise ModelError(f"the model could not be loaded: {self._load_error}")
                raise ModelError("no chat model is loaded: pick one above")
            if self._history is None:
                self._history = ChatHistory()
            try:
                return run_turn(self._engine, self._history, conversation_id, params, token, on_text=report)
            except ChatProcessError:
                self._engine, self._crashed = None, True
                raise

        return self.worker.submit(job, name="generate", **callbacks)

    def stop(self) -> None:
        """Cancels the reply in progress, then frees the model on its own thread."""

        def close(token, report):
            if self._engine is not None:
                self._engine.close()
                self._engine = None
            if self._history is not None:
                self._history.close()
                self._history = None

        self.worker.cancel_all()
        self.worker.submit(close, name="close", on_error=lambda exc: None)
        self.worker.stop(timeout_ms=10000, cancel=False)
