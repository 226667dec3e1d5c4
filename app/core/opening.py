"""Opening a model by id or path: the one way the GUI, the CLI and scripts get an engine.

``resolve`` turns what the user named (a store id, a path, or nothing: the
kind's default) into files on disk; ``open_chat``, ``open_transcriber`` and
``open_encoder`` build the engine for that kind. Heavy imports stay inside.

This is the layer above the engines (app.core.chat, .images, .speech) and below the GUI, the CLI
and the server; app.core.models, below the engines, imports none of them (pyproject's layers contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.models.store import ModelEntry, ModelStore

if TYPE_CHECKING:
    from app.core.chat.engine import LoadOptions
    from app.core.chat.protocol import ChatEngineProtocol
    from app.core.images.protocol import ImageEncoderProtocol
    from app.core.speech.protocol import TranscriberProtocol


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    entry: ModelEntry | None  # None: a path given directly, not from the store

    @property
    def name(self) -> str:
        """The id shown to the user: the store id, else the file or folder name."""
        return self.entry.id if self.entry else self.path.name


def resolve(kind: str, id_or_path: str | None = None, store: ModelStore | None = None) -> ResolvedModel:
    """A store id, a path, or (None) the kind's default model."""
    store = store or ModelStore()
    path, entry = store.resolve(id_or_path or store.default_for(kind), kind)
    return ResolvedModel(path, entry)


def projector_for(model: ResolvedModel, store: ModelStore | None = None) -> Path | None:
    """A stored vision model's projector file (None: the model does not see)."""
    if model.entry is None or not model.entry.projector:
        return None
    path = (store or ModelStore()).projector_of(model.entry)
    if path is None or not path.exists():
        from app.core.jobs import ModelError

        raise ModelError(f"the projector of {model.entry.id} is missing from {path}")
    return path


def open_chat(id_or_path: str | None, options: LoadOptions | None = None,
              store: ModelStore | None = None) -> ChatEngineProtocol:
    """A chat engine in a process of its own (app.core.chat.remote): a crash there is a message here.
    SERVER/MODEL names a model on a remote server the user added (app.core.chat.openai_remote).
    A stored vision model opens with its projector; a model given by path takes ``options.projector``."""
    from dataclasses import replace

    from app.core.chat.engine import LoadOptions
    from app.core.chat.openai_remote import open_remote_engine
    from app.core.chat.remote import open_chat_engine

    remote = open_remote_engine(id_or_path) if id_or_path else None
    if remote is not None:
        return remote
    store = store or ModelStore()
    model = resolve("chat", id_or_path, store)
    options = options or LoadOptions()
    projector = projector_for(model, store)
    if projector is not None:
        options = replace(options, projector=str(projector))
    elif model.entry is not None and options.projector:
        from app.core.jobs import InputError

        raise InputError(f"{model.entry.id} is a stored model: import it with its projector to give it one")
    return open_chat_engine(model.path, options, model.entry.id if model.entry else model.path.stem)


def _measured(kind: str, model: ResolvedModel):
    """What an engine calls after a whole CPU run: the measurement that calibrates the Models pane's
    speed estimates (app.core.models.speed), for the GUI and the CLI alike."""
    from app.core.fileio import tree_size
    from app.core.models import speed

    record = speed.record_transcription if kind == "speech" else speed.record_indexing

    def measured(seconds: float, amount: float, device: str) -> None:
        size = model.entry.size if model.entry else tree_size(model.path)
        record(model.name, size, seconds, amount, on_gpu=device != "cpu")

    return measured


def open_transcriber(id_or_path: str | None, store: ModelStore | None = None,
                     device: str = "auto") -> TranscriberProtocol:
    from app.core.speech.transcriber import Transcriber

    model = resolve("speech", id_or_path, store)
    return Transcriber(model.path, device=device, model_id=model.name, on_measured=_measured("speech", model))


def open_voices(id_or_path: str | None = None, store: ModelStore | None = None, shared: bool = True):
    """The speaker model that tells a transcript's voices apart (the starter: Resemblyzer's encoder).
    ``shared``: the process's one copy; False: a copy of the caller's own, released with it (the server's)."""
    from app.core.speech.voices import VoiceEncoder
    from app.core.speech.voices import open_encoder as open_voice_encoder

    model = resolve("speaker", id_or_path, store)
    path = model.path if model.path.is_file() else next(iter(sorted(model.path.glob("*.npz"))), model.path)
    return open_voice_encoder(path) if shared else VoiceEncoder(path)


def open_embedder(id_or_path: str | None, store: ModelStore | None = None, device: str = "auto"):
    """A text-embedding engine (app.core.embeddings.engine.Embedder) from a store id, a .gguf path, or
    (None) the default embedding model."""
    from app.core.embeddings.engine import Embedder

    model = resolve("embedding", id_or_path, store)
    path = model.path
    if path.is_dir():  # a stored model is its folder's one .gguf
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) != 1:
            from app.core.jobs import ModelError

            raise ModelError(f"{model.name}: an embedding model is one .gguf file")
        path = ggufs[0]
    query_prefix, document_prefix = embedding_prefixes(model)
    return Embedder(path, model_id=model.name, device=device, query_prefix=query_prefix,
                    document_prefix=document_prefix)


def embedding_prefixes(model: ResolvedModel) -> tuple[str, str]:
    """(query, document) prefix a model installed from the catalog was trained with; none for others."""
    entry = model.entry
    if entry is None or not entry.source.startswith("catalog:"):
        return "", ""
    from app.core.jobs import ModelError
    from app.core.models.catalog import find

    try:
        listed = find(entry.source.removeprefix("catalog:"))
    except ModelError:  # an unreadable catalog: the model still runs, as one without prefixes
        return "", ""
    return (listed.query_prefix, listed.document_prefix) if listed is not None else ("", "")


def encoder_key(model: ResolvedModel) -> str:
    """What the image index files vectors under: a model's embeddings are only comparable with its own."""
    return f"{model.entry.id}:{model.entry.sha256[:12]}" if model.entry else f"path:{model.path.resolve()}"


def open_encoder(id_or_path: str | None, arch: str = "",
                 store: ModelStore | None = None) -> tuple[ImageEncoderProtocol, str]:
    """(encoder, index key) from a store id, a model folder or a checkpoint path (+ its architecture)."""
    from app.core.images.encoder import ImageEncoder

    model = resolve("images", id_or_path, store)
    entry = model.entry
    architecture = entry.architecture if entry and entry.architecture != "open_clip" else arch
    encoder = ImageEncoder(model.path, architecture, model_id=model.name, on_measured=_measured("images", model))
    return encoder, encoder_key(model)
