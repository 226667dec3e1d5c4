"""The chat engine: a GGUF model through llama-cpp-python, streamed token by token.

Plain Python, no Qt. ``load_chat_model`` (app/core/chat/loading.py) validates and sizes the model
before llama.cpp sees it; ``ChatEngine.stream`` yields ``TextDelta`` events and finishes with
``ChatStats`` (app/core/chat/events.py). The prompt is evaluated in small batches so a cancel is honoured
within one batch, and a follow-up turn only evaluates what is new (the
already-evaluated prefix stays in the KV cache).
"""

from __future__ import annotations

import codecs
import json
import logging
import math
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from app.core.chat.events import ChatStats, StreamEvent, TextDelta
from app.core.chat.grammar_cache import GrammarCache, ParsedGrammar
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
    # One request's constraints (the API's), never saved with a chat's settings (to_dict leaves them out):
    stop: tuple[str, ...] = ()  # more stop strings besides the format's; decoding ends inside the engine
    json_schema: str = ""  # JSON Schema text the reply must match, decoded under a grammar built from it
    or_text: bool = False  # with json_schema: a first token that does not open the JSON starts free text (tools' auto)
    whole_prompt: bool = False  # refuse a prompt that does not fit (ContextLengthError), never drop old turns
    raw: bool = False  # the last message's text is the whole prompt, with no chat template (/v1/completions)
    tools: str = ""  # OpenAI-shaped functions as JSON, shown by a template with tools (tool_format.py)
    call_wrap: tuple[str, str] = ("", "")  # literal text around json_schema's JSON: the template's call tokens

    @classmethod
    def from_dict(cls, data: dict | None) -> SamplingParams:
        """Known keys of the right type (a saved chat is hostile input); anything else keeps its default."""
        out: dict[str, Any] = {}
        for key, value in (data if isinstance(data, dict) else {}).items():
            if key not in cls.__dataclass_fields__ or key in _REQUEST_ONLY or isinstance(value, bool):
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
        return {k: v for k, v in asdict(self).items() if k not in _REQUEST_ONLY}


_REQUEST_ONLY = ("stop", "json_schema", "or_text", "whole_prompt", "raw", "tools", "call_wrap")


class ContextLengthError(InputError):
    """The prompt does not fit the model's context (and turns may not be dropped to make it fit)."""


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
        self.grammars = GrammarCache()  # the grammars of recent schemas (an Ask step's tools), parsed once
        self.layouts = 0  # prompts laid out to fit the context (each a render and a tokenisation)

    # --- prompt --------------------------------------------------------------------
    def render(self, messages: list[Message], cancel: CancelToken | None = None, tools: str = "") -> str:
        text = self.format.render(messages, cancel, tools)
        bos = self.format.bos or _token_text(self.llm, self.llm.token_bos())
        if bos and text.startswith(bos):
            text = text[len(bos) :]  # the tokenizer adds BOS itself
        return text

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    def plan(self, messages: list[Message], max_tokens: int, cancel: CancelToken | None = None,
             whole: bool = False, tools: str = "") -> PromptPlan:
        """Leaves out the oldest turns (never the system prompt or the last message)
        until the prompt plus the reply fits the context; whole: refuses instead (ContextLengthError).
        Cancelled if cancel is set while a model's own template renders. tools: as SamplingParams'."""
        if messages and messages[-1].images:  # VisionChatEngine plans its own prompts
            raise InputError("this model cannot see pictures: choose a vision model, or send the text alone")
        # Earlier pictures in a chat continued with a text-only model: it reads the words around them.
        messages = [replace(m, images=()) if m.images else m for m in messages]
        prompt, dropped, kept = self._fit(
            messages, max_tokens, lambda kept: _TextPrompt(self.tokenize(self.render(kept, cancel, tools))), whole)
        return PromptPlan(prompt.ids, dropped, kept)

    def plan_raw(self, text: str, max_tokens: int) -> PromptPlan:
        """A prompt taken as it is, with no chat template (/v1/completions); refused when it does not fit."""
        if not text:
            raise InputError("the prompt is empty")
        ids = self.tokenize(text)
        self._check_room(len(ids), max_tokens)
        return PromptPlan(ids, 0, [Message("user", text)])

    def _room(self, max_tokens: int) -> int:
        """Prompt tokens that fit: the context less what is kept for the reply (at most half of it)."""
        return self.n_ctx - max(16, min(max_tokens, self.n_ctx // 2))

    def _check_room(self, tokens: int, max_tokens: int, pictures: int = 0) -> None:
        budget = self._room(max_tokens)
        if tokens > budget:
            of = f" ({pictures} of them pictures)" if pictures else ""
            raise ContextLengthError(
                f"the prompt is too long for the model's context: {tokens} tokens{of}, {budget} fit "
                f"(context {self.n_ctx}, {self.n_ctx - budget} kept for the reply)")

    def _fit(self, messages: list[Message], max_tokens: int,
             layout: Callable[[list[Message]], _Laid], whole: bool = False) -> tuple[Any, int, list[Message]]:
        """The prompt that keeps the most recent turns, dropping the oldest, that leaves room for the
        reply (never the system prompt or the last message). layout(kept) builds a prompt (ids,
        image_tokens, close()); prompts not chosen are closed.

        The answer is what dropping turns one by one would give, without laying the prompt out once
        per dropped turn (999 turns were 999 renders): each turn's words are tokenised once, newest
        first and only until the budget is spent, which says how many old turns cannot fit; from
        there a few layouts, galloping then bisecting, find the first that fits."""
        if not messages or not any(m.content.strip() or m.images for m in messages if m.role == "user"):
            raise InputError("the message is empty")
        budget = self._room(max_tokens)
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
            if whole:  # all of it or nothing
                laid[0] = prompt = layout(system + rest)
                self._check_room(len(prompt.ids), max_tokens, prompt.image_tokens)
                return laid.pop(0), 0, system + rest
            low = min(self._cannot_fit(rest, budget), last)
            high = low
            step = 1
            while not fits(high):
                if high == last:
                    self._check_room(len(laid[high].ids), max_tokens, laid[high].image_tokens)
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
            if params.raw:
                plan = self.plan_raw(messages[-1].content if messages else "", params.max_tokens)
            else:
                plan = self.plan(messages, params.max_tokens, cancel, params.whole_prompt, params.tools)
            grammar = self._grammar(params.json_schema, params.or_text, params.call_wrap)
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
        stops = self.format.stop + tuple(s for s in params.stop if s)
        hold = max((len(s) for s in stops), default=0)
        text, emitted = "", 0  # emitted: chars of text already yielded
        starts: list[int] = []  # where each counted token's text begins: a stop's cut keeps those before it
        first_at = None
        drawn = 0  # tokens the model drew, the end token and any a stop string cut included: its speed
        stats.stop_reason = "length"
        room = self.n_ctx - len(plan.tokens)
        max_tokens = max(1, min(params.max_tokens, room))
        gen = self._generate(plan.tokens, params, grammar)
        try:
            for token in gen:
                drawn += 1
                if first_at is None:
                    first_at = time.perf_counter()
                if self._is_end(token):
                    stats.stop_reason = "eos"
                    break
                stats.completion_tokens += 1
                starts.append(len(text))
                text += decoder.decode(llm.detokenize([token], special=False))
                cut = _find_stop(text, stops)
                if cut is not None:
                    text = text[:cut]
                    stats.stop_reason = "stop"
                    stats.completion_tokens = _tokens_before(starts, cut)
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
            if cut is not None:
                text = text[:cut]
                stats.completion_tokens = _tokens_before(starts, cut)
        if len(text) > emitted:
            yield TextDelta(text[emitted:])
        end = time.perf_counter()
        stats.total_s = end - start
        if first_at is not None:
            stats.time_to_first_token_s = first_at - start
            decode_s = end - first_at
            if drawn > 1 and decode_s > 0:  # a reply ending on its end token drew one more than it kept
                stats.tokens_per_second = (drawn - 1) / decode_s
        yield stats

    def _generate(self, tokens: list[int], params: SamplingParams, grammar) -> Generator[int, None, None]:
        """The reply's tokens. With or_text, the grammar decides only the first token: one that opens the
        JSON keeps it to the end; any other starts free text, decoded from there without a grammar (a
        grammar costs every token a pass over the whole vocabulary)."""

        def start(ids: list[int], grammar):
            return self.llm.generate(ids, top_k=params.top_k, top_p=params.top_p, min_p=params.min_p,
                                     temp=params.temperature, repeat_penalty=params.repeat_penalty, grammar=grammar)

        gen = start(tokens, grammar)
        try:
            first = next(gen, None)
            if first is None:
                return
            yield first
            words = grammar is not None and params.or_text and not self._is_end(first)
            if words and not _token_text(self.llm, first).lstrip().startswith(_opener(params.call_wrap)):
                gen.close()
                gen = start(tokens + [first], None)  # the prompt is cached: only `first` is evaluated
            yield from gen
        finally:
            gen.close()

    def _grammar(self, schema: str, or_text: bool = False, wrap: tuple[str, str] = ("", "")):
        """The llama.cpp grammar for a JSON schema (None: decode freely); a schema it cannot follow is an
        InputError before anything is decoded. or_text: the JSON, or a first character that cannot begin it.
        wrap: literal text before and after the JSON (a template's own call tokens)."""
        if not schema:
            return None
        key = (schema, or_text, wrap)
        grammar = self.grammars.get(key)
        if grammar is None:
            grammar = self._build_grammar(schema, or_text, wrap)
            self.grammars.put(key, grammar, len(grammar._grammar))
        return grammar

    def _build_grammar(self, schema: str, or_text: bool, wrap: tuple[str, str]):
        from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

        from app.core.chat.schema_bounds import MAX_GRAMMAR_CHARS, check_schema_size

        try:
            check_schema_size(json.loads(schema))  # before the converter spells its counts out
        except (ValueError, RecursionError):
            raise InputError("the JSON schema is not valid JSON") from None
        try:
            gbnf = json_schema_to_gbnf(schema)
        except Exception as exc:  # noqa: BLE001 - the converter asserts and raises freely on odd schemas
            log.info("a JSON schema was refused: %r", exc)
            raise InputError(f"the JSON schema cannot be turned into a grammar ({type(exc).__name__}: "
                             f"{str(exc)[:200]})") from None
        if len(gbnf) > MAX_GRAMMAR_CHARS:
            raise InputError("the JSON schema gives a grammar too large to follow; make it simpler")
        root = "root"
        if any(wrap):
            gbnf += f"\nhearth-call ::= {_gbnf_literal(wrap[0])} root {_gbnf_literal(wrap[1])}\n"
            root = "hearth-call"
        if or_text:
            opener = _opener(wrap).replace("\\", "\\\\").replace("]", "\\]")
            gbnf += f'\nhearth-json-or-text ::= {root} | [^{opener} \\t\\r\\n] [^\\x00]*\n'
            root = "hearth-json-or-text"
        grammar = LlamaGrammar.from_string(gbnf, verbose=False)
        grammar._root = root  # the rule llama.cpp starts from
        if self._vocab is not None:  # parsed here, so a grammar llama.cpp cannot read is refused before decoding
            # lazy_grammar.py samples with copies of it
            grammar.parsed = ParsedGrammar(self._vocab, gbnf, root)  # type: ignore[attr-defined]
        else:  # pragma: no cover - every llama_cpp.Llama has a model
            _check_grammar(self.llm, gbnf, root)
        return grammar

    def _is_end(self, token: int) -> bool:
        if token == self._eos:
            return True
        try:
            import llama_cpp

            return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token)) if self._vocab is not None else False
        except (AttributeError, TypeError):
            return False

    def close(self) -> None:
        self.grammars.clear()  # their parses name the model's vocabulary
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


def _check_grammar(llm, gbnf: str, root: str = "root") -> None:
    """llama.cpp parses a grammar only when sampling starts, and a sampler it cannot build is a null
    pointer there: build one here first and free it."""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(llm._model.vocab, gbnf.encode("utf-8"), root.encode())
    if not sampler:
        raise InputError("the JSON schema gave a grammar llama.cpp cannot read")
    llama_cpp.llama_sampler_free(sampler)


def _opener(wrap: tuple[str, str]) -> str:
    """The first character of what a grammar's JSON (with its wrap) begins with."""
    return (wrap[0].lstrip() or "{")[:1]


def _gbnf_literal(text: str) -> str:
    return '""' if not text else json.dumps(text)  # GBNF's string escapes are JSON's for these


def _tokens_before(starts: list[int], cut: int) -> int:
    """How many decoded tokens begin before the cut: the reply's tokens, not those decoded past it."""
    return sum(1 for start in starts if start < cut)


def _find_stop(text: str, stops: tuple[str, ...]) -> int | None:
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None
