"""The text-embedding engine in a process of its own, behind the in-process engine's interface.

llama.cpp aborts the whole process on some malformed GGUFs (a tensor of a type its CPU code has no
kernel for ends in GGML_ABORT while embedding, after the file loaded fine). Run here, that would end
the window, or a `serve` with every other model in it. In a child process (as the chat model runs,
app/ARCHITECTURE.md, Processes) it ends only the child: the call raises ``EmbeddingProcessError``
in words, and the next call starts the model again.

Texts go to the child a batch at a time, so the cancel token is checked between batches here, as it
was in-process; the vectors come back L2-normalised float32.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from pathlib import Path

import numpy as np

from app.core import hardware
from app.core.embeddings.local import BATCH_TEXTS, MAX_CONTEXT, EmbedStats, InProcessEmbedder, file_fingerprint
from app.core.jobs import Cancelled, CancelToken, InputError, ModelError

__all__ = ["BATCH_TEXTS", "MAX_CONTEXT", "EmbedStats", "Embedder", "EmbeddingProcessError", "InProcessEmbedder"]

log = logging.getLogger(__name__)
_ERRORS = {"ModelError": ModelError, "InputError": InputError, "Cancelled": Cancelled}


class EmbeddingProcessError(ModelError):
    """The model's process ended (llama.cpp aborted, or it was killed); the next call starts it again."""


def _how(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class Embedder:
    """One text-embedding model, loaded in a child process. One worker owns it (ARCHITECTURE.md, Threads);
    a lock keeps calls from two threads in order all the same."""

    # Set from the child's first message (_start).
    architecture: str
    n_ctx: int
    n_threads: int
    gpu_layers: int
    dimensions: int
    pid: int | None

    def __init__(self, path: Path, model_id: str = "", n_threads: int = 0, device: str = "auto",
                 max_context: int = MAX_CONTEXT, batch_texts: int = BATCH_TEXTS,
                 query_prefix: str = "", document_prefix: str = ""):
        self.path = Path(path)
        self.model_id = model_id or self.path.stem
        self.batch_texts = max(1, batch_texts)
        self.query_prefix = query_prefix  # what the model wants before a question ("search_query: ")
        self.document_prefix = document_prefix  # and before a passage ("search_document: ")
        self.last = EmbedStats()
        try:
            self.fingerprint = file_fingerprint(self.path)  # part of the index's key for these vectors
        except OSError as exc:
            raise ModelError(f"{self.path.name} could not be read: {exc.strerror or exc}") from exc
        self._args = (str(self.path), self.model_id, n_threads, device, max_context)
        self._lock = threading.Lock()
        self._closed = False
        self._restart = False
        self._start()

    # --- plumbing ------------------------------------------------------------------
    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # fork would copy the app's threads and locks
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, *self._args, hardware.cached()),
                                 name="hearth-embedding", daemon=True)
        self._proc.start()
        child.close()  # so a dead child reads as EOF here
        try:
            meta = self._reply()
        except BaseException:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(5)
            self._conn.close()
            raise
        for name in ("architecture", "n_ctx", "n_threads", "gpu_layers", "dimensions"):
            setattr(self, name, meta[name])
        self.pid = self._proc.pid

    def _died(self) -> EmbeddingProcessError:
        self._proc.join(5)
        how = _how(self._proc.exitcode)
        log.error("the embedding model's process (pid %s, %s) stopped: %s", self._proc.pid, self.path.name, how)
        self._conn.close()
        self._restart = True
        return EmbeddingProcessError(
            f"the embedding model stopped: {self.model_id} ended its process ({how}); llama.cpp could not run "
            "this file. Hearth is fine, and what was indexed is kept: pick another embedding model, or "
            "download this one again")

    def _reply(self):
        try:
            kind, payload = self._conn.recv()
        except (EOFError, OSError, ConnectionError):
            raise self._died() from None
        if kind == "error":
            name, message = payload
            raise _ERRORS.get(name, ModelError)(message if name in _ERRORS else f"{self.model_id}: {message}")
        return payload

    def _call(self, method: str, *args):
        with self._lock:
            if self._closed:
                raise ModelError(f"the embedding model {self.model_id} is closed")
            if self._restart:
                self._restart = False
                self._start()
                log.info("the embedding model's process was started again (pid %s)", self.pid)
            try:
                self._conn.send((method, args))
            except (OSError, ConnectionError, ValueError):
                raise self._died() from None
            return self._reply()

    # --- the engine's interface ----------------------------------------------------
    def tokens(self, text: str) -> int:
        """The tokens the model sees for ``text`` before any cut (its start and end markers included)."""
        return int(self._call("tokens", text))

    def embed(self, texts: list[str], cancel: CancelToken | None = None) -> np.ndarray:
        """(len(texts), dimensions) float32, each row of length 1. Cancelled between batches."""
        stats = EmbedStats(texts=len(texts))
        out = np.zeros((len(texts), self.dimensions), np.float32)
        for first in range(0, len(texts), self.batch_texts):
            if cancel is not None:
                cancel.raise_if_cancelled()
            vectors, part = self._call("embed", list(texts[first : first + self.batch_texts]))
            out[first : first + len(vectors)] = vectors
            stats.tokens += part.tokens
            stats.truncated += part.truncated
            stats.seconds += part.seconds
        self.last = stats
        if stats.truncated:
            log.info("%s: %d of %d texts were longer than %d tokens and were cut", self.model_id,
                     stats.truncated, len(texts), self.n_ctx)
        return out

    def embed_queries(self, texts: list[str], cancel: CancelToken | None = None) -> np.ndarray:
        """Questions, each after the model's query prefix (none for models that want none)."""
        return self.embed([self.query_prefix + t for t in texts], cancel)

    def embed_documents(self, texts: list[str], cancel: CancelToken | None = None) -> np.ndarray:
        """Passages, each after the model's document prefix."""
        return self.embed([self.document_prefix + t for t in texts], cancel)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._restart:  # the process is gone already
                return
            try:
                self._conn.send(("close", ()))
                self._proc.join(10)
            except (OSError, ConnectionError, ValueError):
                pass
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(5)
            self._conn.close()


# --- the child ------------------------------------------------------------------------


def _serve(conn, path: str, model_id: str, n_threads: int, device: str, max_context: int, report=None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the app's to handle
    # ggml's abort would otherwise attach gdb for a backtrace first: seconds, and noise in the log
    os.environ["GGML_NO_BACKTRACE"] = "1"
    if report is not None:  # the app has detected the hardware once
        hardware.adopt(report)
    try:
        # One batch per call: the parent splits the texts and checks its cancel token between them.
        engine = InProcessEmbedder(Path(path), model_id, n_threads, device, max_context, batch_texts=1 << 30)
    except BaseException as exc:  # noqa: BLE001 - every failure goes back as a message
        conn.send(("error", (type(exc).__name__, str(exc))))
        return
    conn.send(("ok", {"architecture": engine.architecture, "n_ctx": engine.n_ctx, "n_threads": engine.n_threads,
                      "gpu_layers": engine.gpu_layers, "dimensions": engine.dimensions}))
    while True:
        try:
            method, args = conn.recv()
        except (EOFError, OSError):  # the app is gone
            break
        if method == "close":
            break
        try:
            if method == "embed":
                vectors = engine.embed(args[0])
                conn.send(("ok", (vectors, engine.last)))
            elif method == "tokens":
                conn.send(("ok", engine.tokens(args[0])))
            else:
                conn.send(("error", ("ModelError", f"unknown call {method}")))
        except (OSError, EOFError):
            break
        except BaseException as exc:  # noqa: BLE001 - handed to the app
            conn.send(("error", (type(exc).__name__, str(exc))))
    engine.close()
