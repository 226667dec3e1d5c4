"""Transcription, translation, embeddings and Hearth's own image search."""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import re
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from starlette.responses import JSONResponse, PlainTextResponse

from app.core import paths
from app.core.images.filters import make_filters
from app.core.images.scan import path_fields
from app.core.jobs import CancelToken, InputError
from app.server.http import ApiError, from_hearth, picture_budget, read_json, wait, watch_disconnect

AUDIO_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
MAX_IMAGE_BYTES = 16 << 20
MAX_INPUTS = 256
_DATA_URI = re.compile(r"^data:image/[a-z0-9.+-]+;base64,", re.IGNORECASE)
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


def _resolve(request, model, kind: str) -> str:
    try:
        return request.app.state.backends.resolve(model, kind)
    except Exception as exc:  # noqa: BLE001 - reported in OpenAI's shape
        raise from_hearth(exc) from None


def _scratch(stack: ExitStack, data, suffix: str = "") -> Path:
    """Uploaded bytes (or a file of them) in a private temp file in Hearth's cache, removed when
    the request ends."""
    scratch = tempfile.NamedTemporaryFile(dir=paths.cache_dir(), prefix="upload-", suffix=suffix)  # noqa: SIM115
    fh = stack.enter_context(scratch)  # closed, and so removed, with the request
    if isinstance(data, bytes):
        fh.write(data)
    else:
        shutil.copyfileobj(data, fh, 1 << 20)
    fh.flush()
    return Path(fh.name)


# --- audio -------------------------------------------------------------------------------


async def transcriptions(request):
    return await _audio(request, "transcribe")


async def translations(request):
    return await _audio(request, "translate")


async def _audio(request, task: str):
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(400, "send the audio as multipart/form-data with a 'file' field")
    try:
        form = await request.form(max_files=1, max_fields=16, max_part_size=64 * 1024)
    except ApiError:
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed upload
        raise ApiError(400, f"the upload could not be read: {exc}") from None
    try:
        return await _transcribe_form(request, form, task)
    finally:
        await form.close()


async def _transcribe_form(request, form, task: str):
    from app.core.speech import subtitles
    from app.core.speech.transcriber import TranscribeOptions

    state = request.app.state
    with ExitStack() as stack:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "the audio file is missing (a 'file' field)", param="file")
        fmt = form.get("response_format") or "json"
        if fmt not in AUDIO_FORMATS:
            raise ApiError(400, f"'response_format' must be one of {', '.join(AUDIO_FORMATS)}",
                           param="response_format")
        model = _resolve(request, form.get("model"), "speech")
        language = form.get("language") or None
        if language is not None and not re.fullmatch(r"[a-z]{2,3}", language):
            raise ApiError(400, "'language' is an ISO-639-1 code such as 'en'", param="language")
        prompt = form.get("prompt") or None
        granularities = form.getlist("timestamp_granularities[]") + form.getlist("timestamp_granularities")
        if any(g not in ("word", "segment") for g in granularities):
            raise ApiError(400, "'timestamp_granularities[]' is 'word' or 'segment'", param="timestamp_granularities")
        words = "word" in granularities
        speakers, num_speakers = _speakers_option(form)
        suffix = Path(upload.filename or "").suffix
        path = _scratch(stack, upload.file, suffix if _SUFFIX.match(suffix) else "")
        options = TranscribeOptions(language=language, task=task,
                                    initial_prompt=prompt, word_timestamps=words or speakers)
        cancel = CancelToken()
        began = asyncio.get_running_loop().time()
        try:
            async with watch_disconnect(request, cancel):
                result = await wait(state.backends.transcribe(model, path, options, cancel), state.timeout, cancel)
                segments = result.segments
                if speakers:  # in the file's scratch copy, before the request lets it go; one timeout for both
                    job = state.backends.label_speakers(segments, path, num_speakers, cancel)
                    segments = await wait(job, state.timeout, cancel, since=began)
        except ApiError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise from_hearth(exc) from None
    text = " ".join(s.text.strip() for s in segments if s.text.strip())
    if fmt == "text":
        if speakers:
            return PlainTextResponse(subtitles.render(segments, "txt"))
        return PlainTextResponse(text + "\n")
    if fmt in ("srt", "vtt"):
        return PlainTextResponse(subtitles.render(segments, fmt))
    if fmt == "json":
        return JSONResponse({"text": text})
    return JSONResponse(verbose_json(segments, text, "translate" if task == "translate" else "transcribe",
                                     result.language or language, result.duration_s, words, speakers))


def _speakers_option(form) -> tuple[bool, int | None]:
    """Hearth's own fields (the openai SDK sends them in extra_body): speakers=true, num_speakers=N."""
    raw = str(form.get("speakers") or "").strip().lower()
    if raw not in ("", "true", "false", "1", "0"):
        raise ApiError(400, "'speakers' is true or false", param="speakers")
    count = form.get("num_speakers")
    if count in (None, ""):
        return raw in ("true", "1"), None
    if not (isinstance(count, str) and re.fullmatch(r"[0-9]{1,2}", count) and 1 <= int(count) <= 32):
        raise ApiError(400, "'num_speakers' is a whole number from 1 to 32", param="num_speakers")
    return True, int(count)


def verbose_json(segments, text: str, task: str, language: str | None, duration: float | None, words: bool,
                 speakers: bool) -> dict:
    """OpenAI's verbose_json, field for field (the openai SDK's TranscriptionVerbose); with speakers, each
    segment (and word) also says its ``speaker``, as "Speaker 1"."""
    from app.core.speech.languages import language_name
    from app.core.speech.transcriber import DecodeStats

    out = []
    for i, s in enumerate(segments):
        d = s.decode or DecodeStats(seek=int(round(s.start * 100)))
        item = {"id": i, "seek": d.seek, "start": s.start, "end": s.end, "text": s.text, "tokens": d.tokens,
                "temperature": d.temperature, "avg_logprob": d.avg_logprob,
                "compression_ratio": d.compression_ratio, "no_speech_prob": d.no_speech_prob}
        if speakers:
            item["speaker"] = f"Speaker {s.speaker}" if s.speaker else None
        out.append(item)
    duration = duration or (segments[-1].end if segments else 0.0)
    body: dict = {"task": task, "language": language_name(language), "duration": duration, "text": text,
                  "segments": out, "usage": {"type": "duration", "seconds": math.ceil(duration)}}
    if words:
        body["words"] = [{"word": w.word, "start": w.start, "end": w.end,
                          **({"speaker": f"Speaker {s.speaker}" if s.speaker else None} if speakers else {})}
                         for s in segments for w in s.words]
    return body


# --- embeddings and image search ---------------------------------------------------------


def _image_bytes(uri: str, where: str) -> bytes:
    match = _DATA_URI.match(uri)
    if not match:
        raise ApiError(400, f"{where}: an image is a data URI (data:image/...;base64,...); no file or URL is read")
    encoded = uri[match.end():]
    if len(encoded) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise ApiError(413, f"{where}: the image is larger than {MAX_IMAGE_BYTES >> 20} MB")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{where}: the image's base64 is damaged") from None


def _embedding_kind(request, model) -> str:
    """A text-embedding model's id goes to that engine; any other name (or none) to the CLIP model,
    as before: a request without a model keeps getting CLIP vectors."""
    kind_of = getattr(request.app.state.backends, "kind_of", None)
    return "embedding" if isinstance(model, str) and kind_of is not None and kind_of(model) == "embedding" \
        else "images"


async def embeddings(request):
    state = request.app.state
    data = await read_json(request)
    kind = _embedding_kind(request, data.get("model"))
    model = _resolve(request, data.get("model"), kind)
    inputs = data.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or len(inputs) > MAX_INPUTS:
        raise ApiError(400, f"'input' must be a string or a list of 1 to {MAX_INPUTS} strings", param="input")
    if not all(isinstance(x, str) for x in inputs):
        raise ApiError(400, "'input' takes text (or images as data URIs), not token arrays", param="input")
    fmt = data.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise ApiError(400, "'encoding_format' must be float or base64", param="encoding_format")
    if kind == "embedding":
        return await _text_embeddings(request, data, model, inputs, fmt)
    with ExitStack() as stack:
        texts: list[str] = []
        images: list[Path] = []
        order: list[tuple[str, int]] = []
        for i, x in enumerate(inputs):
            if _DATA_URI.match(x):
                order.append(("image", len(images)))
                images.append(_scratch(stack, _image_bytes(x, f"input[{i}]")))
            else:
                order.append(("text", len(texts)))
                texts.append(x)
        try:
            cancel = CancelToken()
            async with watch_disconnect(request, cancel):
                job = state.backends.embed(model, texts, images, picture_budget(request, cancel))
                tv, iv = await wait(job, state.timeout, cancel)
        except ApiError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise from_hearth(exc) from None
    dims = data.get("dimensions")
    width = (tv if len(texts) else iv).shape[1]
    if dims is not None and dims != width:
        raise ApiError(400, f"this model's embeddings have {width} dimensions", param="dimensions")
    out = []
    for i, (kind, j) in enumerate(order):
        vec = np.asarray(tv[j] if kind == "text" else iv[j], dtype=np.float32)
        value = base64.b64encode(vec.astype("<f4").tobytes()).decode() if fmt == "base64" else vec.tolist()
        out.append({"object": "embedding", "index": i, "embedding": value})
    n = sum(len(t.split()) for t in texts)
    return JSONResponse({"object": "list", "data": out, "model": model,
                         "usage": {"prompt_tokens": n, "total_tokens": n}})


def _encode(vec, fmt: str):
    vec = np.asarray(vec, dtype=np.float32)
    return base64.b64encode(vec.astype("<f4").tobytes()).decode() if fmt == "base64" else vec.tolist()


async def _text_embeddings(request, data, model: str, texts: list[str], fmt: str):
    state = request.app.state
    if any(_DATA_URI.match(x) for x in texts):
        raise ApiError(400, f"{model} embeds text only; name an image model for pictures", param="input")
    try:
        cancel = CancelToken()
        async with watch_disconnect(request, cancel):
            vectors, tokens = await wait(state.backends.embed_text(model, texts, cancel), state.timeout, cancel)
    except ApiError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise from_hearth(exc) from None
    dims = data.get("dimensions")
    if dims is not None and dims != vectors.shape[1]:
        raise ApiError(400, f"this model's embeddings have {vectors.shape[1]} dimensions", param="dimensions")
    out = [{"object": "embedding", "index": i, "embedding": _encode(v, fmt)} for i, v in enumerate(vectors)]
    return JSONResponse({"object": "list", "data": out, "model": model,
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


async def image_search(request):
    state = request.app.state
    data = await read_json(request)
    text = data.get("query") or ""
    if not isinstance(text, str) or len(text) > 2000:
        raise ApiError(400, "'query' must be text", param="query")
    uris = data.get("image") or []
    uris = [uris] if isinstance(uris, str) else uris
    if not isinstance(uris, list) or len(uris) > 8 or not all(isinstance(u, str) for u in uris):
        raise ApiError(400, "'image' must be a data URI or a list of up to 8 of them", param="image")
    top = data.get("top", data.get("limit", 20))
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 1000:
        raise ApiError(400, "'top' must be an integer from 1 to 1000", param="top")
    threshold = data.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        raise ApiError(400, "'threshold' must be a number", param="threshold")
    filters = _filters(data)
    if not text.strip() and not uris and filters.empty:
        raise ApiError(400, "give a 'query' (text), an 'image' (a data URI) or a filter ('after', 'before', "
                            "'place')", param="query")
    model = _resolve(request, data.get("model"), "images")
    with ExitStack() as stack:
        images = [_scratch(stack, _image_bytes(u, f"image[{i}]")) for i, u in enumerate(uris)]
        try:
            cancel = CancelToken()
            async with watch_disconnect(request, cancel):
                job = state.backends.search(model, text, images, top, threshold, picture_budget(request, cancel),
                                            filters)
                hits = await wait(job, state.timeout, cancel)
        except ApiError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise from_hearth(exc) from None
    return JSONResponse({"object": "list", "model": model,
                         "data": [{**path_fields(h.path), "score": round(float(h.score), 6), "offline": h.offline,
                                   "taken": h.taken, "taken_source": h.taken_source, "place": h.place}
                                  for h in hits]})


def _filters(data: dict):
    """'after' and 'before' (2023, 2023-08 or 2023-08-15, both days included) and 'place' (a name)."""
    fields = {k: data.get(k) for k in ("after", "before", "place")}
    for k, v in fields.items():
        if v is not None and (not isinstance(v, str) or len(v) > 100):
            raise ApiError(400, f"'{k}' must be text", param=k)
    try:
        return make_filters(**fields)
    except InputError as exc:
        raise ApiError(400, str(exc)) from None
