"""The chat worker: one thread that owns the loaded model (app/ARCHITECTURE.md, Threads)."""

from __future__ import annotations

import logging

from app.gui.workers import Job, ModelWorker

log = logging.getLogger(__name__)


class ChatWorker(ModelWorker):
    """Loads a model and runs turns, one at a time, on its own thread.

    The engine and the worker's own history connection are touched only from
    that thread; the GUI keeps a separate connection for reads and user edits.
    """

    thread_name = "chat-worker"

    def __init__(self, parent=None):
        super().__init__(parent)
        self._history = None  # app.core.chat.history.ChatHistory; worker thread only
        self._options = None  # LoadOptions of the last load
        self._wanted: str | None = None  # the model the user last loaded, for a restart after a crash
        self._load_error: Exception | None = None
        self._crashed = False
        self._engines = None  # app.core.find.Engines for the ask loop's searches; worker thread only

    def open_model(self, model_id: str):
        from app.core.opening import open_chat

        # In its own process: a crash there is a message here (app.core.chat.remote).
        return open_chat(model_id, self._options)

    def load(
        self, model_id: str, n_ctx: int, chat_format: str | None = None, threads: int = 0, gpu_layers: int = -1,
        **callbacks,
    ) -> Job:
        def job(cancel, progress):
            from app.core.chat.engine import LoadOptions

            progress(f"Loading {model_id}…")
            self._options = LoadOptions(
                n_ctx=n_ctx, chat_format=chat_format, n_threads=threads or None, gpu_layers=gpu_layers)
            self._wanted = model_id
            self.close_model()  # new options mean a new load, even of the same model
            engine = self._open(model_id)
            return engine.model_id, list(engine.notices), engine.n_ctx

        return self.submit(job, name="load-model", **callbacks)

    def _open(self, model_id: str):
        try:
            engine = self.ensure(model_id)
        except Exception as exc:
            self._load_error = exc
            raise
        self._load_error, self._crashed = None, False
        return engine

    def generate(self, conversation_id: int, params, on_gpu: bool = False, **callbacks) -> Job:
        """A turn; its decode speed calibrates the Models pane's estimates (``on_gpu``: not a CPU speed)."""

        def job(cancel, progress):
            from app.core.chat.remote import ChatProcessError
            from app.core.chat.session import run_turn
            from app.core.chatdocs.context import compose

            self._ready(progress)
            try:
                result = run_turn(self.model, self._history, conversation_id, params, cancel, on_text=progress,
                                  compose=compose)
            except ChatProcessError:
                self.model, self.model_id, self._crashed = None, None, True
                raise
            _record_speed(self.model_id or "", result.stats, on_gpu)
            return result

        return self.submit(job, name="generate", **callbacks)

    def _ready(self, progress) -> None:
        """The model (restarted if it crashed last time) and this thread's history connection."""
        from app.core.chat.history import ChatHistory
        from app.core.jobs import ModelError

        if self.model is None and self._crashed and self._wanted:
            progress("Restarting the model…")  # it crashed last time; the user asked again
            self._open(self._wanted)
        if self.model is None:
            if self._load_error is not None:
                raise ModelError(f"the model could not be loaded: {self._load_error}")
            raise ModelError("no chat model is loaded: pick one above")
        if self._history is None:
            self._history = ChatHistory()

    def ask(self, conversation_id: int, params, sees: bool = False, first_tool: str | None = None,
            **callbacks) -> Job:
        """An "Ask Hearth" turn (#26): the loop answers the chat's last question with the user's library
        as its tools, here on the model's thread; progress is an AskProgress snapshot. ``sees``: the
        loaded model looks at photos itself; otherwise that step says which vision models fit.
        ``first_tool``: the first step calls it (the loop's option; for a model too small to choose)."""

        def job(cancel, progress):
            from app.core.ask.chat_reply import question_and_turns, run_ask_reply
            from app.core.ask.loop import AskOptions, ask
            from app.core.ask.tools import ToolContext
            from app.core.chat.remote import ChatProcessError

            self._ready(progress)
            if self._engines is None:  # find's models, kept for the next question (closed at exit: release)
                from app.core.find import Engines

                self._engines = Engines()
            vision = _vision(self.model_id, self.model, params) if sees else None
            ctx = ToolContext.for_user(engines=self._engines, cancel=cancel, vision=vision)
            question, earlier = question_and_turns(self._history, conversation_id)
            try:
                options = AskOptions(first_tool=first_tool, params=params, history=earlier)
                events = ask(self.model, question, ctx, options)
                return run_ask_reply(events, self._history, conversation_id, self.model_id or "", progress)
            except ChatProcessError:
                self.model, self.model_id, self._crashed = None, None, True
                raise

        return self.submit(job, name="ask", **callbacks)

    def release(self) -> None:
        if self._engines is not None:
            self._engines.close()
            self._engines = None
        if self._history is not None:
            self._history.close()
            self._history = None


def _vision(model_id: str | None, engine, params):
    """look_at_photos through the loaded model, which sees: at its projector's picture size (as ask does)."""
    from app.core.ask.vision import chat_vision
    from app.core.chat.pictures import side_for_projector
    from app.core.jobs import HearthError
    from app.core.opening import projector_for, resolve

    try:
        projector = projector_for(resolve("chat", model_id))
    except HearthError:
        return None
    return chat_vision(engine, side_for_projector(projector), params) if projector is not None else None


def _record_speed(model_id: str, stats, on_gpu: bool) -> None:
    """Here, not on the GUI thread: it reads the store and the catalog and writes the measurements file.
    A measurement that cannot be saved costs the estimates, never the reply."""
    from app.core.models import speed

    try:
        speed.record_reply(model_id, stats, on_gpu)
    except Exception as exc:  # noqa: BLE001 - see above
        log.warning("the reply's speed was not recorded: %s", exc)
