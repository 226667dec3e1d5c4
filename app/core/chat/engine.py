"""The chat engine: a GGUF model through llama-cpp-python, streamed token by token.

Plain Python, no Qt. ``load_chat_model`` (app/core/chat/loading.py) validates and sizes the model
before llama.cpp sees it; ``ChatEngine.stream`` yields ``TextDelta`` events and finishes with
``ChatStats`` (app/core/chat/events.py). The prompt is evaluated in small batches so a cancel is honoured
within one batch, and a follow-up turn only evaluates what is new (the
already-evaluated prefix stays in the KV cache).
"""

from __future__ import annotations

import codecs
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from app.core.chat.events import ChatStats, StreamEvent, TextDelta
from app.core.chat.templates import Message, PromptFormat
from app.core.jobs import Cancelled, CancelToken, InputError
from app.core.models.fit import estimate_chat_fit
from app.core.models.gguf_header import GGUFInfo

log = logging.getLogger(__name__)
# The prompt is read in steps so Stop is answered between them: 128 tokens on a CPU
# (about 0.3 s on 2 cores; 64 cost 7% more time in all), llama.cpp's full batch on a
# GPU (64-token steps made an H100's prefill 2.4x slower). Fixed, not timed, so a seed
# gives the same reply on a busy machine as on an idle one.
PREFILL_CPU = 128


@dataclass
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    max_tokens: int = 512
    seed: int | None = None

    @classmethod
    def from_dict(cls, data: dict | None) -> SamplingParams:
        """Known keys of the right type (a saved chat is hostile input); anything else keeps its default."""
        out: dict[str, Any] = {}
        for key, value in (data if isinstance(data, dict) else {}).items():
            if key not in cls.__dataclass_fields__ or isinstance(value, bool):
                continue
            if key == "seed":
                if value is None or isinstance(value, int):
                    out[key] = value
            elif key in ("top_k", "max_tokens"):
                if isinstance(value, int):
                    out[key] = value
            elif isinstance(value, (int, float)) and math.isfinite(value):
                out[key] = float(value)
        return cls(**out)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LoadOptions:
    n_ctx: int = 4096
    n_threads: int | None = None  # default: physical cores
    gpu_layers: int = -1  # -1: chosen from the fit estimate; otherwise the user's number (Settings)
    chat_format: str | None = None  # override: a built-in format name, or "template"
    projector: str = ""  # a vision model's mmproj GGUF: the model then sees pictures


@dataclass
class PromptPlan:
    tokens: list[int]
    dropped: int = 0
    messages: list[Message] = field(default_factory=list)


def choose_gpu_layers(info: GGUFInfo, path: Path, options: LoadOptions) -> tuple[int, str]:
    """Layers to offload, and why, from the hardware report and the fit estimate."""
    if options.gpu_layers == 0:
        return 0, "CPU chosen in settings"
    from app.core import hardware

    report = hardware.detect()
    choice = report.runtime("llama.cpp")
    if choice.device == "cpu":
        return 0, choice.reason
    if options.gpu_layers > 0:
        return options.gpu_layers, "GPU layers set in Settings"
    fit = estimate_chat_fit(path.stat().st_size, info, options.n_ctx, report)
    if fit.gpu_layers == 0:
        return 0, fit.message
    return fit.gpu_layers, fit.message


class ChatEngine:
    def __init__(self, llm, path: Path, info: GGUFInfo, fmt: PromptFormat, model_id: str, notices: list[str]):
        self.llm, self.path, self.info, self.format = llm, path, info, fmt
        self.model_id = model_id
        self.notices = notices
        self.n_ctx = llm.n_ctx()
        self.gpu_layers, self.device_reason = 0, ""
        self._eos = llm.token_eos()
        self._vocab = llm._model.vocab if hasattr(llm, "_model") else None
        self.layouts = 0  # prompts laid out to fit the context (each a render and a tokenisation)

    # --- prompt --------------------------------------------------------------------
    def render(self, messages: list[Message], cancel: CancelToken | None = None) -> str:
        text = self.format.render(messages, cancel)
        bos = self.format.bos or _token_text(self.llm, self.llm.token_bos())
        if bos and text.startswith(bos):
            text = text[len(bos) :]  # the tokenizer adds BOS itself
        return text

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    def plan(self, messages: list[Message], max_tokens: int, cancel: CancelToken | None = None) -> PromptPlan:
        """Leaves out the oldest turns (never the system prompt or the last message)
        until the prompt plus the reply fits the context. Cancelled if cancel is set
        while a model's own template renders."""
        if messages and messages[-1].images:  # VisionChatEngine plans its own prompts
            raise InputError("this model cannot see pictures: choose a vision model, or send the text alone")
        # Earlier pictures in a chat continued with a text-only model: it reads the words around them.
        messages = [Message(m.role, m.content) if m.images else m for m in messages]
        prompt, dropped, kept = self._fit(
            messages, max_tokens, lambda kept: _TextPrompt(self.tokenize(self.render(kept, cancel))))
        return PromptPlan(prompt.ids, dropped, kept)

    def _fit(self, messages: list[Message], max_tokens: int,
             layout: Callable[[list[Message]], _Laid]) -> tuple[Any, int, list[Message]]:
        """The prompt that keeps the most recent turns, dropping the oldest, that leaves room for the
        reply (never the system prompt or the last message). layout(kept) builds a prompt (ids,
        image_tokens, close()); prompts not chosen are closed.

        The answer is what dropping turns one by one would give, without laying the prompt out once
        per dropped turn (999 turns were 999 renders): each turn's words are tokenised once, newest
        first and only until the budget is spent, which says how many old turns cannot fit; from
        there a few layouts, galloping then bisecting, find the first that fits."""
        if not messages or not any(m.content.strip() or m.images for m in messages if m.role == "user"):
            raise InputError("the message is empty")
        budget = self.n_ctx - max(16, min(max_tokens, self.n_ctx // 2))
        system = [m for m in messages if m.role == "system"]
        rest = [m for m in messages if m.role != "system"]
        last = len(rest) - 1
        laid: dict[int, _Laid] = {}

        def fits(dropped: int) -> bool:
            if dropped not in laid:
                self.layouts += 1
                laid[dropped] = layout(system + rest[dropped:])
            return len(laid[dropped].ids) <= budget

        try:
            low = min(self._cannot_fit(rest, budget), last)
            high = low
            step = 1
            while not fits(high):
                if high == last:
                    prompt = laid[high]
                    pictures = f" ({prompt.image_tokens} of them pictures)" if prompt.image_tokens else ""
                    raise InputError(
                        f"the message is too long for the model's context: {len(prompt.ids)} tokens{pictures}, "
                        f"{budget} fit (context {self.n_ctx}, {self.n_ctx - budget} kept for the reply)"
                    )
                low, high, step = high + 1, min(last, high + step), step * 2
            while low < high:  # high fits; everything below low does not
                mid = (low + high) // 2
                if fits(mid):
                    high = mid
                else:
                    low = mid + 1
            chosen = laid.pop(high)
            return chosen, high, system + rest[high:]
        finally:
            for prompt in laid.values():
                prompt.close()

    def _cannot_fit(self, rest: list[Message], budget: int) -> int:
        """How many of the oldest turns cannot fit by their words alone: a turn's words never take
        fewer tokens in the prompt than alone, less two for where they join (templates add more)."""
        total = 0
        for i in range(len(rest) - 1, -1, -1):
            words = rest[i].content.encode("utf-8")
            total += max(0, len(self.llm.tokenize(words, add_bos=False, special=True)) - 2) if words else 0
            if total > budget:
                return i + 1
        return 0

    # --- generation ----------------------------------------------------------------
    def _prefill(self, tokens: list[int], cancel: CancelToken) -> int:
        """Evaluates the prompt in small batches; returns how many tokens were reused."""
        llm = self.llm
        cached = list(llm._input_ids)
        prefix = 0
        for a, b in zip(cached, tokens, strict=False):
            if a != b:
                break
            prefix += 1
        prefix = min(prefix, len(tokens) - 1)  # at least one token is decoded, for fresh logits
        if prefix > 0 and llm._ctx.kv_cache_seq_rm(-1, prefix, -1):
            llm.n_tokens = prefix
        else:
            llm.reset()
            prefix = 0
        step = max(PREFILL_CPU, llm.n_batch) if self.gpu_layers else PREFILL_CPU
        for i in range(prefix, len(tokens), step):
            cancel.raise_if_cancelled()
            llm.eval(tokens[i : i + step])
        return prefix

    def stream(
        self, messages: list[Message], params: SamplingParams, cancel: CancelToken | None = None
    ) -> Iterator[StreamEvent]:
        """Yields the text as it is decoded (TextDelta), then one ChatStats."""
        cancel = cancel or CancelToken()
        start = time.perf_counter()
        try:
            plan = self.plan(messages, params.max_tokens, cancel)
        except Cancelled:
            yield ChatStats(model=self.model_id, stop_reason="cancelled", total_s=time.perf_counter() - start)
            return
        stats = ChatStats(model=self.model_id, prompt_tokens=len(plan.tokens), dropped_messages=plan.dropped)
        llm = self.llm
        llm.set_seed(params.seed if params.seed is not None else int(time.time_ns() & 0x7FFFFFFF))
        try:
            stats.reused_tokens = self._prefill(plan.tokens, cancel)
        except Cancelled:
            stats.stop_reason = "cancelled"
            stats.total_s = time.perf_counter() - start
            yield stats
            return
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = self.format.stop
        hold = max((len(s) for s in stops), default=0)
        text, emitted = "", 0  # emitted: chars of text already yielded
        first_at = None
        stats.stop_reason = "length"
        room = self.n_ctx - len(plan.tokens)
        max_tokens = max(1, min(params.max_tokens, room))
        gen = llm.generate(
            plan.tokens,
            top_k=params.top_k,
            top_p=params.top_p,
            min_p=params.min_p,
            temp=params.temperature,
            repeat_penalty=params.repeat_penalty,
        )
        try:
            for token in gen:
                if first_at is None:
                    first_at = time.perf_counter()
                if self._is_end(token):
                    stats.stop_reason = "eos"
                    break
                stats.completion_tokens += 1
                text += decoder.decode(llm.detokenize([token], special=False))
                cut = _find_stop(text, stops)
                if cut is not None:
                    text = text[:cut]
                    stats.stop_reason = "stop"
                    break
                safe = len(text) - hold if hold else len(text)  # a stop string may be arriving
                if safe > emitted:
                    yield TextDelta(text[emitted:safe])
                    emitted = safe
                if cancel.cancelled:
                    stats.stop_reason = "cancelled"
                    break
                if stats.completion_tokens >= max_tokens:
                    break
        finally:
            gen.close()
        text += decoder.decode(b"", final=True)
        if stats.stop_reason != "stop":
            cut = _find_stop(text, stops)
            text = text[:cut] if cut is not None else text
        if len(text) > emitted:
            yield TextDelta(text[emitted:])
        end = time.perf_counter()
        stats.total_s = end - start
        if first_at is not None:
            stats.time_to_first_token_s = first_at - start
            decode_s = end - first_at
            if stats.completion_tokens > 1 and decode_s > 0:
                stats.tokens_per_second = (stats.completion_tokens - 1) / decode_s
        yield stats

    def _is_end(self, token: int) -> bool:
        if token == self._eos:
            return True
        try:
            import llama_cpp

            return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token)) if self._vocab is not None else False
        except (AttributeError, TypeError):
            return False

    def close(self) -> None:
        try:
            self.llm.close()
        except AttributeError:
            pass


class _Laid(Protocol):
    """A prompt laid out for _fit: its ids, how many are pictures, and what to free when not chosen."""

    ids: list[int]
    image_tokens: int

    def close(self) -> None: ...


@dataclass
class _TextPrompt:
    ids: list[int]
    image_tokens: int = 0

    def close(self) -> None:
        pass


def _token_text(llm, token: int) -> str:
    if token < 0:
        return ""
    return llm.detokenize([token], special=True).decode("utf-8", errors="ignore")


def _find_stop(text: str, stops: tuple[str, ...]) -> int | None:
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None
