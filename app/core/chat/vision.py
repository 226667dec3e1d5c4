"""Pictures into a loaded chat model: llama-cpp-python's libmtmd path, in the model's own process.

``MTMDChatHandler`` owns the projector (its mtmd context is freed with the ``Llama``); Hearth does the
rest itself rather than through ``create_chat_completion``, which clears the KV cache on every call
and cannot be stopped while it evaluates. Here:

- the prompt is Hearth's own rendering with one media marker per picture, split by ``mtmd_tokenize``
  into text and image chunks; pictures arrive as bytes (decoded and shrunk by app/core/chat/pictures);
- every image position is written into ``Llama.input_ids`` as a placeholder id made from the picture's
  sha256, so the ordinary prefix comparison reuses the KV cache on later turns, picture included;
- Stop is checked between text batches and around each picture's encode, and a llama abort callback
  ends the decode of a picture's embeddings part-way;
- libmtmd's own log lines go through llama-cpp-python's logger (they ignore ``verbose=False``).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.jobs import Cancelled, CancelToken, InputError, ModelError

log = logging.getLogger(__name__)
MARKER = "<__media__>"  # mtmd_default_marker(); checked when the projector loads
_PLACEHOLDER_SPACE = 1 << 30


@dataclass
class Span:
    """One chunk of a prompt, in KV positions: text tokens, or one picture."""

    start: int
    end: int
    image: int = -1  # index into the pictures, or -1 for text
    tokens: list[int] = field(default_factory=list)  # text only
    n_tokens: int = 0  # image tokens (may differ from positions with M-RoPE)


@dataclass
class VisionPrompt:
    ids: list[int]  # one per KV position: text token ids, negative placeholders for pictures
    spans: list[Span]
    image_tokens: int
    chunks: object = None  # the mtmd_input_chunks*, freed by close()
    _mtmd: Any = None

    def close(self) -> None:
        if self.chunks is not None:
            self._mtmd.mtmd_input_chunks_free(self.chunks)
            self.chunks = None


@dataclass
class PrefillResult:
    reused: int
    image_tokens: int
    encode_s: float


def placeholder(sha: str, i: int) -> int:
    """A negative id no vocabulary has, the same for the same picture at the same offset."""
    return -1 - ((int(sha[:12], 16) + i) % _PLACEHOLDER_SPACE)


def strip_marker(text: str) -> str:
    """A user's text never adds a picture slot of its own."""
    return text.replace(MARKER, "<_media_>")


def route_mtmd_logs() -> None:
    """libmtmd prints ``clip_encode:`` lines itself; llama-cpp-python's callback filters them by level."""
    from llama_cpp import _logger, mtmd_cpp

    mtmd_cpp.mtmd_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
    mtmd_cpp.mtmd_helper_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


class Vision:
    """The projector of one loaded model."""

    def __init__(self, llm, projector: Path, use_gpu: bool):
        from llama_cpp import llama_cpp as lc
        from llama_cpp import mtmd_cpp
        from llama_cpp.llama_chat_format import MTMDChatHandler

        route_mtmd_logs()
        self.llm, self._mtmd, self._lc = llm, mtmd_cpp, lc
        try:
            self.handler = MTMDChatHandler(clip_model_path=str(projector), verbose=False, use_gpu=use_gpu)
            self.handler._init_mtmd_context(llm)  # freed with the Llama (its exit stack)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"the projector {Path(projector).name} could not be loaded: {exc}") from exc
        marker = mtmd_cpp.mtmd_default_marker().decode("utf-8")
        if marker != MARKER:  # pragma: no cover - a libmtmd that changed its marker
            raise ModelError(f"unexpected libmtmd media marker {marker!r}")
        self._cancel: CancelToken | None = None
        # Kept on self: the C side holds only a pointer to it.
        self._abort_cb = lc.ggml_abort_callback(lambda _data: self._stopping())
        lc.llama_set_abort_callback(llm._ctx.ctx, self._abort_cb, None)
        # After each sub-batch of a picture's embeddings: non-zero ends the decode there.
        self._after_batch = mtmd_cpp.mtmd_helper_post_decode_callback(lambda _batch, _data: int(self._stopping()))

    def _stopping(self) -> bool:
        return bool(self._cancel is not None and self._cancel.cancelled)

    @property
    def ctx(self):
        return self.handler.mtmd_ctx

    # --- prompt --------------------------------------------------------------------
    def tokenize(self, text: str, images: list[bytes]) -> VisionPrompt:
        """Splits the rendered prompt at its markers; each marker takes the next picture."""
        if text.count(MARKER) != len(images):
            raise InputError(f"the prompt has {text.count(MARKER)} picture slots for {len(images)} pictures")
        mtmd = self._mtmd
        bitmaps = []
        try:
            for i, data in enumerate(images):
                bitmap = mtmd.mtmd_helper_bitmap_init_from_buf(
                    self.ctx, (ctypes.c_uint8 * len(data)).from_buffer(bytearray(data)), len(data), False)
                if bitmap is None:
                    raise InputError(f"picture {i + 1} could not be read by the model's image loader")
                mtmd.mtmd_bitmap_set_id(bitmap, hashlib.sha256(data).hexdigest().encode())
                bitmaps.append(bitmap)
            chunks = mtmd.mtmd_input_chunks_init()
            raw = text.encode("utf-8")
            inp = mtmd.mtmd_input_text()
            inp.text, inp.text_len, inp.add_special, inp.parse_special = raw, len(raw), True, True
            array = (mtmd.mtmd_bitmap_p_ctypes * max(1, len(bitmaps)))(*bitmaps)
            rc = mtmd.mtmd_tokenize(self.ctx, chunks, ctypes.byref(inp), array, len(bitmaps))
            if rc != 0:
                mtmd.mtmd_input_chunks_free(chunks)
                raise InputError(f"the model could not take this picture (libmtmd tokenize error {rc})")
        finally:
            for bitmap in bitmaps:
                mtmd.mtmd_bitmap_free(bitmap)
        return self._layout(chunks, [hashlib.sha256(d).hexdigest() for d in images])

    def _layout(self, chunks, shas: list[str]) -> VisionPrompt:
        mtmd = self._mtmd
        ids: list[int] = []
        spans: list[Span] = []
        image_tokens, picture = 0, 0
        for i in range(mtmd.mtmd_input_chunks_size(chunks)):
            chunk = mtmd.mtmd_input_chunks_get(chunks, i)
            if mtmd.mtmd_input_chunk_get_type(chunk) == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                n = ctypes.c_size_t()
                ptr = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
                tokens = [ptr[j] for j in range(n.value)]
                spans.append(Span(len(ids), len(ids) + len(tokens), tokens=tokens))
                ids += tokens
            else:
                n_pos = mtmd.mtmd_input_chunk_get_n_pos(chunk)
                n_tok = mtmd.mtmd_input_chunk_get_n_tokens(chunk)
                spans.append(Span(len(ids), len(ids) + n_pos, image=i, n_tokens=n_tok))
                ids += [placeholder(shas[picture], k) for k in range(n_pos)]
                image_tokens += n_tok
                picture += 1
        return VisionPrompt(ids, spans, image_tokens, chunks, mtmd)

    # --- evaluation ----------------------------------------------------------------
    def prefill(self, prompt: VisionPrompt, cancel: CancelToken, step: int) -> PrefillResult:
        """Evaluates what the KV cache does not hold yet; a picture is reused whole or not at all."""
        llm = self.llm
        ids = prompt.ids
        prefix = 0
        for a, b in zip(llm._input_ids, ids, strict=False):
            if a != b:
                break
            prefix += 1
        prefix = min(prefix, len(ids) - 1)  # at least one position is decoded, for fresh logits
        for span in prompt.spans:  # a picture is reused whole or evaluated again whole
            if span.image >= 0 and span.start < prefix < span.end:
                prefix = span.start
        if prefix > 0 and llm._ctx.kv_cache_seq_rm(-1, prefix, -1):
            llm.n_tokens = prefix
        else:
            llm.reset()
            llm._ctx.kv_cache_clear()
            prefix = 0
        encode_s = 0.0
        for span in prompt.spans:
            if span.end <= prefix:
                continue
            if span.image < 0:
                tokens = span.tokens[max(0, prefix - span.start):]
                for i in range(0, len(tokens), step):
                    cancel.raise_if_cancelled()
                    llm.eval(tokens[i:i + step])
                continue
            cancel.raise_if_cancelled()
            encode_s += self._eval_image(prompt, span, cancel)
        return PrefillResult(prefix, prompt.image_tokens, encode_s)

    def _eval_image(self, prompt: VisionPrompt, span: Span, cancel: CancelToken) -> float:
        mtmd, lc, llm = self._mtmd, self._lc, self.llm
        chunk = mtmd.mtmd_input_chunks_get(prompt.chunks, span.image)
        t0 = time.perf_counter()
        rc = mtmd.mtmd_encode_chunk(self.ctx, chunk)
        encode_s = time.perf_counter() - t0
        if rc != 0:
            raise ModelError(f"the projector could not encode the picture (error {rc})")
        cancel.raise_if_cancelled()
        embd = mtmd.mtmd_get_output_embd(self.ctx)
        new_n_past = lc.llama_pos(0)
        self._cancel = cancel
        try:
            rc = mtmd.mtmd_helper_decode_image_chunk(
                self.ctx, llm._ctx.ctx, chunk, embd, lc.llama_pos(llm.n_tokens), lc.llama_seq_id(0),
                llm.n_batch, ctypes.byref(new_n_past), self._after_batch, None)
        finally:
            self._cancel = None
        if rc != 0:
            llm._ctx.kv_cache_seq_rm(-1, span.start, -1)  # a part-decoded picture is not kept
            llm.n_tokens = span.start
            if cancel.cancelled:
                raise Cancelled()
            raise ModelError(f"the model could not read the picture (decode error {rc})")
        llm.input_ids[span.start:span.end] = prompt.ids[span.start:span.end]
        llm.n_tokens = new_n_past.value
        return encode_s
