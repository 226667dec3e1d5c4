"""Hearth's read-only tools, as a model (or an MCP host, or an API client) calls them.

Each tool is a typed function with a JSON schema for its arguments. ``call_tool`` is the one way to
run one: it checks the arguments against the schema, refuses a path outside the folders the user
added (symlinks and ``..`` resolved first), and turns a failing tool into an error in words; it never
raises (a Stop is the one exception: ``Cancelled`` ends the caller's step). The searches go through
``app.core.find.find``, the one search, and return its hits' JSON (``Hit.to_json``).
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.ask.validate import check
from app.core.jobs import Cancelled, CancelToken, HearthError, InputError

if TYPE_CHECKING:
    from app.core.find import Engines

log = logging.getLogger(__name__)
MAX_LIMIT = 20
MAX_LOOK = 4  # photos one look_at_photos step may ask the vision model about
MAX_QUERY = 300

# (path, question, cancel) -> what the vision model says about that one photo
Vision = Callable[[Path, str, CancelToken], str]


@dataclass
class ToolContext:
    """What a tool may use: the folders the user added (the only places a path may point into), the
    find engines (kept open between steps), Stop, and the vision model where one is at hand."""

    folders: list[Path]
    engines: Engines | None = None  # kept open between steps; None: each search opens and closes its own
    cancel: CancelToken = field(default_factory=CancelToken)
    vision: Vision | None = None
    speech_model: str | None = None  # transcribe's model id (None: the default)
    # where transcribe may also read: the folders of files the user transcribed in the Speech pane (None:
    # read from its transcripts when transcribe is called, so a file transcribed since counts)
    recordings: list[Path] | None = None

    @classmethod
    def for_user(cls, **kwargs) -> ToolContext:
        """The folders the user added to Images and Documents (user_folders), with the rest as given."""
        return cls(folders=user_folders(), **kwargs)


@dataclass
class ToolResult:
    """What a call gave: results (each a dict, a file's with its "path"), or an error in words; and the
    step row's words either way."""

    results: list[dict] = field(default_factory=list)
    error: str | None = None
    summary: str = ""

    def to_json(self) -> dict:
        return {"results": self.results, "error": self.error, "summary": self.summary}


@dataclass(frozen=True)
class Tool:
    """A tool: its name, what it does (the model reads this), its arguments' JSON schema, and the
    function that runs it with checked arguments."""

    name: str
    description: str
    parameters: dict  # JSON schema of the arguments: an object
    run: Callable[[dict, ToolContext], ToolResult]

    def openai(self) -> dict:
        """The tool as OpenAI's ``tools`` list takes it."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}


# --- folders -------------------------------------------------------------------------------
def user_folders() -> list[Path]:
    """The folders the user added to Images and Documents (from their indexes; none when not made yet)."""
    folders: list[Path] = []
    try:
        from app.core.images.index import ImageIndex
        from app.core.images.index import default_path as images_path

        if images_path().exists():
            index = ImageIndex(images_path())
            try:
                folders += [Path(p) for p, _status, _n in index.folders()]
            finally:
                index.close()
        from app.core.docs.index import DocsIndex
        from app.core.docs.index import default_path as docs_path

        if docs_path().exists():
            docs = DocsIndex(docs_path())
            try:
                folders += [Path(f["path"]) for f in docs.folders()]
            finally:
                docs.close()
    except HearthError as exc:  # a damaged index: its folders are not reachable now
        log.warning("ask: the added folders could not all be read: %s", exc)
    return list(dict.fromkeys(folders))


def recording_folders() -> list[Path]:
    """The user's folders of recordings: each folder holding a file they transcribed in the Speech pane
    (it adds no folders of its own; the transcript keeps where the file was), and the transcripts folder,
    where a dictation's recording is kept."""
    from app.core.speech.transcripts import TranscriptStore

    store = TranscriptStore()
    folders = [Path(t.audio).parent for t in store.list() if t.kind == "file" and t.audio]
    return list(dict.fromkeys([*folders, store.folder]))


def inside(path: str, folders: list[Path]) -> Path | str:
    """The real file a path names when it lies in one of ``folders`` (symlinks and .. resolved);
    else why not, in words."""
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        return "the path is empty"
    given = Path(os.path.expanduser(path))
    if not given.is_absolute():
        return f"'{path[:200]}' is not a full path: give the path a search returned"
    try:
        real = given.resolve(strict=True)
    except (OSError, RuntimeError):
        return f"there is no file '{path[:200]}'"
    for folder in folders:
        try:
            if real.is_relative_to(folder.resolve()):
                return real if real.is_file() else f"'{path[:200]}' is not a file"
        except (OSError, RuntimeError):
            continue
    return (f"'{path[:200]}' is outside the folders you added to Hearth; "
            "tools read only files in those folders")


# --- the tools -----------------------------------------------------------------------------
def _search_schema(what: str) -> dict:
    return {"type": "object", "additionalProperties": False, "required": ["query"], "properties": {
        "query": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY,
                  "description": f"what to look for in {what}"},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "description": "how many results, at most"},
    }}


_WHAT = {"photo": ("photos", "photo", "photos"), "document": ("documents", "passage", "passages"),
         "transcript": ("recordings", "passage", "passages"), "chat": ("chats", "chat", "chats")}


DAY = {"type": "string", "pattern": r"^[0-9]{4}(-[0-9]{1,2}(-[0-9]{1,2})?)?$"}
WRITTEN = "a year, month or day (2023, 2023-08 or 2023-08-15)"


def _photo_schema() -> dict:
    """search_photos' arguments: the query (whose time and place words count too, as in the Images pane),
    and an optional date range and place."""
    schema = _search_schema("the user's photos (what they show; 'last summer' or 'in Lisbon' work too)")
    schema["properties"].update({
        "after": {**DAY, "description": f"{WRITTEN} the photos were taken on or after"},
        "before": {**DAY, "description": f"{WRITTEN} the photos were taken on or before"},
        "place": {"type": "string", "minLength": 1, "maxLength": 100,
                  "description": "taken in this place: a town, region or country"},
    })
    return schema


def _searcher(kind: str) -> Callable[[dict, ToolContext], ToolResult]:
    def run(args: dict, ctx: ToolContext) -> ToolResult:
        from app.core.find import find

        query, limit = args["query"].strip(), args.get("limit", 6)
        where, one, many = _WHAT[kind]
        filters = None
        if kind == "photo":
            from app.core.images.filters import make_filters

            try:  # the pattern let "2023-13" through: said as bad arguments, like the schema's checks
                filters = make_filters(args.get("after"), args.get("before"), args.get("place"))
            except InputError as exc:
                return ToolResult([], f"search_photos was called with bad arguments: {exc}",
                                  f"search_photos: bad arguments ({exc})")
        found = find(query, kinds=[kind], limit=limit, cancel=ctx.cancel, engines=ctx.engines,
                     photo_filters=filters)
        said = _quote(query) + _filters_in_words(args)
        if kind in found.skipped:
            return ToolResult([], f"{where} could not be searched: {found.skipped[kind]}",
                              f"Searched {where} for {said}: not searched ({found.skipped[kind]})")
        hits = [h.to_json() for h in found.hits if h.kind == kind][:limit]
        if kind == "photo":  # when and where, null where the photo does not say
            hits = [{**h, "taken": h.get("taken"), "place": h.get("place")} for h in hits]
        n = len(hits)
        found_words = "found" if kind == "photo" else (one if n == 1 else many)
        return ToolResult(hits, None, f"Searched {where} for {said}: {n or 'none'} {found_words}")
    return run


def _filters_in_words(args: dict) -> str:
    after, before, place = args.get("after"), args.get("before"), args.get("place")
    words = [w for w in ((f"from {after}" if after else ""), (f"to {before}" if before else ""),
                         (f"in {place.strip()[:40]}" if place else "")) if w]
    return f" ({' '.join(words)})" if words else ""


def _look(args: dict, ctx: ToolContext) -> ToolResult:
    files = []
    for p in args["paths"]:
        real = inside(p, ctx.folders)
        if isinstance(real, str):
            return ToolResult([], real, "Could not look at photos: " + real)
        files.append(real)
    if ctx.vision is None:
        return ToolResult([], "no model that sees pictures is loaded: choose a vision model to look at photos",
                          "Could not look at photos: no vision model")
    results = []
    for real in files:
        ctx.cancel.raise_if_cancelled()
        text = ctx.vision(real, args["question"], ctx.cancel)
        results.append({"kind": "photo", "title": real.name, "path": str(real), "text": text})
    n = len(results)
    return ToolResult(results, None, f"Looked at {n} photo{'s' if n != 1 else ''}")


# Lines a transcription gives the step: a long recording's every line made the stored step too big to read
# back (app/core/chat/steps.py MAX_STEP_CHARS), and an answer can cite only a few of them anyway.
TRANSCRIBE_LINES = 300


def _transcribe(args: dict, ctx: ToolContext) -> ToolResult:
    recordings = ctx.recordings if ctx.recordings is not None else recording_folders()
    real = inside(args["path"], [*ctx.folders, *recordings])
    if isinstance(real, str) and "outside the folders" in real:
        real += ", and in folders where you transcribed a recording in Speech"
    if isinstance(real, str):
        return ToolResult([], real, "Could not transcribe: " + real)
    from app.core.opening import open_transcriber
    from app.core.speech.transcriber import Segment

    engine = open_transcriber(ctx.speech_model)
    results: list[dict] = []
    lines = 0
    try:
        for item in engine.transcribe(real, cancel=ctx.cancel):
            if isinstance(item, Segment):
                lines += 1
                if len(results) >= TRANSCRIBE_LINES:
                    continue
                results.append({"kind": "transcript", "title": real.name, "path": str(real),
                                "start": round(item.start, 2), "end": round(item.end, 2), "text": item.text.strip()})
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()
    ctx.cancel.raise_if_cancelled()
    kept = f" (the first {len(results)} kept)" if lines > len(results) else ""
    return ToolResult(results, None, f"Transcribed {real.name}: {lines} line{'s' if lines != 1 else ''}{kept}")


def _quote(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return "'" + (text if len(text) <= n else text[: n - 1] + "…") + "'"


_PATHS = {"type": "array", "minItems": 1, "maxItems": MAX_LOOK,
          "items": {"type": "string", "minLength": 1, "maxLength": 4096},
          "description": "photo files, as a search returned them"}
TOOLS: dict[str, Tool] = {t.name: t for t in (
    Tool("search_photos", "Find the user's photos by what they show (words describing the picture), "
                          "and by when and where they were taken.",
         _photo_schema(), _searcher("photo")),
    Tool("look_at_photos",
         "Look at some of the user's photos (paths from search_photos) and answer a question about each.",
         {"type": "object", "additionalProperties": False, "required": ["paths", "question"], "properties": {
             "paths": _PATHS, "question": {"type": "string", "minLength": 1, "maxLength": 500}}}, _look),
    Tool("search_documents", "Find passages in the user's documents (PDFs, notes, manuals).",
         _search_schema("the user's documents"), _searcher("document")),
    Tool("search_recordings", "Find what was said in the user's transcribed recordings, with times.",
         _search_schema("the user's recordings"), _searcher("transcript")),
    Tool("search_chats", "Find earlier chats with Hearth.", _search_schema("earlier chats"), _searcher("chat")),
    Tool("transcribe", "Transcribe an audio or video file in a folder the user added, or in a folder "
                       "where they transcribed a recording before.",
         {"type": "object", "additionalProperties": False, "required": ["path"], "properties": {
             "path": {"type": "string", "minLength": 1, "maxLength": 4096, "description": "the file's full path"}}},
         _transcribe),
)}


def tools() -> list[Tool]:
    """Every tool, in a fixed order."""
    return list(TOOLS.values())


def call_tool(name: str, arguments, ctx: ToolContext) -> ToolResult:
    """Runs one tool with arguments checked against its schema. Bad arguments, an unknown tool, a path
    outside the folders and a failing tool each give a ToolResult whose ``error`` says it in words;
    Stop raises ``Cancelled``. Every string in the result is valid UTF-8 (utf8)."""
    return utf8_result(_call_tool(name, arguments, ctx))


def _call_tool(name: str, arguments, ctx: ToolContext) -> ToolResult:
    tool = TOOLS.get(name) if isinstance(name, str) else None
    if tool is None:
        said = name[:60] if isinstance(name, str) else "?"
        return ToolResult([], f"there is no tool '{said}' (the tools are {', '.join(TOOLS)})", f"No tool '{said}'")
    if arguments is None:
        arguments = {}
    problem = check(arguments, tool.parameters)
    if problem is not None:
        return ToolResult([], f"{name} was called with bad arguments: {problem}", f"{name}: bad arguments ({problem})")
    try:
        ctx.cancel.raise_if_cancelled()
        return tool.run(dict(arguments), ctx)
    except Cancelled:
        raise
    except HearthError as exc:
        log.info("ask: %s failed: %s", name, exc)
        return ToolResult([], f"{name} failed: {exc}", f"{name} failed: {exc}")
    except Exception:  # noqa: BLE001 - a tool's own bug ends its step in words, never the chat
        log.warning("ask: %s failed", name, exc_info=True)  # the exception's own text is for the log only
        return ToolResult([], f"{name} failed with an unexpected problem (the log has the details)",
                          f"{name} failed")


# --- text fit to store and send ------------------------------------------------------------
def utf8(value):
    """``value`` with every string valid UTF-8. A file name that is not UTF-8 reaches Python as lone
    surrogates (and a model or a remote server can write them as \\u escapes): SQLite, JSON on stdout
    and the MCP stream refuse them. A "path" keeps its exact bytes as "path_base64", as search --json's."""
    if isinstance(value, str):
        return _utf8_text(value)
    if isinstance(value, list):
        return [utf8(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out[_utf8_text(key) if isinstance(key, str) else key] = utf8(item)
            if key == "path" and isinstance(item, str) and out[key] != item and "path_base64" not in value:
                try:
                    out["path_base64"] = base64.b64encode(os.fsencode(item)).decode("ascii")
                except UnicodeEncodeError:  # a surrogate no file name can hold: there are no bytes to keep
                    pass
        return out
    return value


def _utf8_text(text: str) -> str:
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # a file name's bytes
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")  # a surrogate that stands for no byte


def utf8_result(result: ToolResult) -> ToolResult:
    return ToolResult(utf8(result.results), utf8(result.error), utf8(result.summary))
