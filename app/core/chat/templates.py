"""Chat prompt formats.

A GGUF's own ``tokenizer.chat_template`` is rendered only in Jinja2's immutable
sandbox: a template that reaches for Python internals fails with a clear error
and runs nothing, and one that loops for ever is stopped by a step budget (every
loop iteration and every call is a step) and answers Stop between steps. A model
without a template gets a built-in format chosen from ``general.architecture``
(llama-cpp-python would silently fall back to the llama-2 format, which makes the
starter Gemma answer nothing).
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field

from app.core.jobs import CancelToken, ModelError

# Generous for any real template (a 1,000-message chat takes a few thousand steps),
# small enough that a runaway loop ends in about a second.
MAX_STEPS = 1_000_000
MAX_SECONDS = 5.0
CALL_STEPS = 16  # a call or a filter (a macro's above all) costs about as much as 16 loop iterations
CLOCK_EVERY = 16  # steps between reads of the clock (a call reads it at once): ~1 µs of work each
MAX_SEQUENCE = 4_000_000  # longest string or list a call, a filter, `*`, `%` or `~` may build (~1M tokens)
MAX_OUTPUT = 16_000_000  # characters in a rendered prompt (a million-token context holds ~4M)
_WIDTH_ARGS = {"center", "ljust", "rjust", "zfill", "expandtabs", "indent"}  # a number that sets a width


class TemplateError(ModelError):
    pass


@dataclass(frozen=True)
class ToolCall:
    """One call an assistant turn made, as a template with tools renders it."""

    name: str
    arguments: dict
    id: str = ""


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant" | "tool" (a result: only for a template with tools)
    content: str
    images: tuple[bytes, ...] = ()  # pictures (PNG bytes from app/core/chat/pictures), for models that see
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant turn's calls (only for a template with tools)

    def for_template(self) -> dict:
        """The turn as chat templates read it (OpenAI's shape; a call's arguments as an object, as
        Hugging Face's templates expect). No tool_calls key at all without calls: Llama 3 asks `in`."""
        out: dict = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [{"id": c.id or f"call_{i}", "type": "function",
                                  "function": {"name": c.name, "arguments": c.arguments}}
                                 for i, c in enumerate(self.tool_calls)]
        return out


@dataclass(frozen=True)
class ChatFormat:
    name: str
    stop: tuple[str, ...] = field(default_factory=tuple)

    def render(self, messages: list[Message], bos: str = "") -> str:
        return _BUILTIN_RENDERERS[self.name](messages, bos)


def _gemma(messages: list[Message], bos: str) -> str:
    # Gemma has no system role: the system prompt opens the first user turn.
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    out = [bos]
    first_user = True
    for m in messages:
        if m.role == "system":
            continue
        role = "model" if m.role == "assistant" else "user"
        text = m.content
        if role == "user" and first_user and system:
            text = f"{system}\n\n{text}"
        if role == "user":
            first_user = False
        out.append(f"<start_of_turn>{role}\n{text}<end_of_turn>\n")
    out.append("<start_of_turn>model\n")
    return "".join(out)


def _chatml(messages: list[Message], bos: str) -> str:
    out = [f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages]
    return "".join(out) + "<|im_start|>assistant\n"


def _llama3(messages: list[Message], bos: str) -> str:
    out = [bos]
    for m in messages:
        out.append(f"<|start_header_id|>{m.role}<|end_header_id|>\n\n{m.content}<|eot_id|>")
    out.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
    return "".join(out)


def _phi3(messages: list[Message], bos: str) -> str:
    out = [f"<|{m.role}|>\n{m.content}<|end|>\n" for m in messages]
    return bos + "".join(out) + "<|assistant|>\n"


def _mistral(messages: list[Message], bos: str) -> str:
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    out, first = [bos], True
    for m in messages:
        if m.role == "user":
            text = f"{system}\n\n{m.content}" if first and system else m.content
            first = False
            out.append(f"[INST] {text} [/INST]")
        elif m.role == "assistant":
            out.append(f" {m.content}</s>")
    return "".join(out)


_BUILTIN_RENDERERS = {"gemma": _gemma, "chatml": _chatml, "llama3": _llama3, "phi3": _phi3, "mistral": _mistral}

FORMATS = {
    "gemma": ChatFormat("gemma", ("<end_of_turn>", "<start_of_turn>")),
    "chatml": ChatFormat("chatml", ("<|im_end|>", "<|im_start|>")),
    "llama3": ChatFormat("llama3", ("<|eot_id|>", "<|start_header_id|>")),
    "phi3": ChatFormat("phi3", ("<|end|>", "<|user|>")),
    "mistral": ChatFormat("mistral", ("</s>", "[INST]")),
}

ARCH_FORMATS = {
    "gemma": "gemma", "gemma2": "gemma", "gemma3": "gemma", "gemma3n": "gemma",
    "qwen2": "chatml", "qwen3": "chatml", "qwen2moe": "chatml", "qwen3moe": "chatml",
    "llama": "llama3", "phi3": "phi3", "mistral": "mistral", "smollm3": "chatml",
}

# Stop strings worth adding for a GGUF template, recognised by what it emits.
_TEMPLATE_STOPS = {
    "<end_of_turn>": ("<end_of_turn>",),
    "<|im_end|>": ("<|im_end|>",),
    "<|eot_id|>": ("<|eot_id|>",),
    "<|end|>": ("<|end|>",),
}


def format_for_architecture(arch: str) -> ChatFormat:
    return FORMATS[ARCH_FORMATS.get(arch, "chatml")]


class _Budget:
    """One render's allowance; a template that exceeds it is stopped with a TemplateError."""

    def __init__(self, cancel: CancelToken | None):
        self.cancel = cancel
        self.steps = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def step(self, weight: int = 1) -> None:
        before = self.steps
        self.steps += weight
        if before // CLOCK_EVERY == self.steps // CLOCK_EVERY:
            return
        if self.steps > MAX_STEPS:
            raise TemplateError(f"the model's chat template ran too long and was stopped (over {MAX_STEPS:,} steps)")
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
        if time.monotonic() > self.deadline:
            raise TemplateError(f"the model's chat template ran too long and was stopped (over {MAX_SECONDS:g} s)")


def _too_large(what: str = "a string or list") -> TemplateError:
    return TemplateError(f"the model's chat template tried to build {what} too large")


def _check_size(value):
    if isinstance(value, (str, list, tuple, dict)) and len(value) > MAX_SEQUENCE:
        raise _too_large()
    return value


def _check_args(name: str, obj, args: tuple, kwargs: dict) -> None:
    """Refuses, before the native call, what would build something huge in one step:
    a wide pad or format, a replace that multiplies, a join of large parts."""
    values = [*args, *kwargs.values()]
    if name in _WIDTH_ARGS and any(isinstance(v, int) and v > MAX_SEQUENCE for v in values):
        raise _too_large()
    if (name == "indent" and isinstance(obj, str) and values and isinstance(values[0], int)
            and len(obj) + values[0] * (obj.count("\n") + 1) > MAX_SEQUENCE):
        raise _too_large()
    if name == "format" and isinstance(obj, str):
        _check_format(obj)
        _no_wide_numbers(values)
    if name == "replace" and isinstance(obj, str) and len(values) >= 2:
        old, new = values[0], values[1]
        if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
            grows = (obj.count(old) if old else len(obj) + 1) * (len(new) - len(old))
            if len(obj) + grows > MAX_SEQUENCE:
                raise _too_large()
    if name == "join":
        parts = obj if not isinstance(obj, str) else (values[0] if values else ())
        sep = obj if isinstance(obj, str) else (values[0] if values and isinstance(values[0], str) else "")
        if isinstance(parts, (list, tuple)):
            total = 0
            for part in parts:
                total += len(part) if isinstance(part, str) else 16
                total += len(sep)
                if total > MAX_SEQUENCE:
                    raise _too_large()


def _check_format(fmt: str) -> None:
    import re

    if any(int(n) > MAX_SEQUENCE for n in re.findall(r"\d{7,}", fmt)):  # a field width or precision
        raise _too_large()


def _bounded_concat(parts) -> str:
    total = 0
    out = []
    for part in parts:
        text = part if isinstance(part, str) else str(part)
        total += len(text)
        if total > MAX_SEQUENCE:
            raise _too_large()
        out.append(text)
    return "".join(out)


def _no_wide_numbers(values) -> None:
    """A width passed as an argument ('%*s' % (N, ''), '{:{}}'.format('', N)) builds before any check."""
    if any(isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_SEQUENCE for v in values):
        raise _too_large()


def _bounded_product(operator: str, left, right):
    if operator == "+":  # doubling by a + a reached gigabytes in a few steps
        sized = (str, list, tuple)
        if isinstance(left, sized) and isinstance(right, sized) and len(left) + len(right) > MAX_SEQUENCE:
            raise _too_large()
        return left + right
    if operator == "%":
        if isinstance(left, str):
            _check_format(left)
            _no_wide_numbers(right if isinstance(right, (tuple, list)) else (right,))
        return _check_size(left % right)
    if operator == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_SEQUENCE:
                raise TemplateError("the model's chat template tried to build a string or list too large")
        return left * right
    # "**": a huge power is one native call that no step check can interrupt
    if isinstance(left, int) and isinstance(right, int) and right > 0 and left.bit_length() * right > 100_000:
        raise TemplateError("the model's chat template tried to compute a number too large")
    return left**right


class JinjaTemplate:
    """A model's own template, compiled once in the immutable sandbox, rendered within a budget."""

    def __init__(self, source: str, bos: str = "", eos: str = ""):
        from jinja2 import TemplateSyntaxError, nodes
        from jinja2.compiler import CodeGenerator
        from jinja2.exceptions import SecurityError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        local = threading.local()

        def step() -> None:
            local.budget.step(CALL_STEPS)

        def counted(iterable):
            for item in iterable:
                local.budget.step()
                yield item

        def counted_filter(name, func):
            first = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0  # a context or environment

            @functools.wraps(func)  # keeps jinja's pass_context/pass_environment mark
            def run(*args, **kwargs):
                step()
                value = args[first] if len(args) > first else None
                _check_args(name, value, args[first + 1:], kwargs)
                return _check_size(func(*args, **kwargs))

            return run

        class Generator(CodeGenerator):
            def visit_Concat(self, node, frame):  # noqa: N802 - jinja's name; `~` builds through a bound
                self.write("environment.hearth_concat((")
                for arg in node.nodes:
                    self.visit(arg, frame)
                    self.write(", ")
                self.write("))")

        class Sandbox(ImmutableSandboxedEnvironment):
            intercepted_binops = frozenset({"*", "**", "%", "+"})
            code_generator_class = Generator

            # The stock sandbox returns a quiet Undefined for unsafe attributes;
            # we stop the template instead, so the user learns why.
            def unsafe_undefined(self, obj, attribute):
                raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} is unsafe")

            def call(self, context, obj, /, *args, **kwargs):  # every call in the template (macros too) is a step
                step()
                name = getattr(obj, "__name__", "")
                _check_args(name, getattr(obj, "__self__", None), args, kwargs)
                return _check_size(super().call(context, obj, *args, **kwargs))

            def call_binop(self, context, operator, left, right):
                return _bounded_product(operator, left, right)

        def raise_exception(message):
            raise TemplateError(f"the model's chat template refused the conversation: {message}")

        env = Sandbox(trim_blocks=True, lstrip_blocks=True)
        env.filters["tojson"] = _tojson  # as Hugging Face renders it: the text the model was trained on
        env.filters = {name: counted_filter(name, f) for name, f in env.filters.items()}
        env.hearth_concat = _bounded_concat  # type: ignore[attr-defined]  # read by our own compiled code
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = _strftime_now
        env.hearth_counted = counted  # type: ignore[attr-defined]  # reached only as environment.hearth_counted, never by a template name
        try:
            tree = env.parse(source)
            # Every for loop iterates through counted(): each iteration is a step.
            for loop in tree.find_all(nodes.For):
                loop.iter = nodes.Call(nodes.EnvironmentAttribute("hearth_counted"), [loop.iter], [], None, None,
                                       lineno=loop.iter.lineno).set_environment(env)
            self.template = env.from_string(tree)
        except TemplateSyntaxError as exc:
            raise TemplateError(f"the model's chat template does not parse: {exc}") from exc
        self._local = local
        self.bos, self.eos = bos, eos
        self.stop = tuple(s for marker, stops in _TEMPLATE_STOPS.items() if marker in source for s in stops)
        self.tool_style = self._tool_style(source)

    def _tool_style(self, source: str) -> str:
        """The template's tool-call family, when it renders a probe tool in its prompt ("" otherwise)."""
        from app.core.chat.tool_format import family

        style = family(source)
        if not style:
            return ""
        probe = {"type": "function", "function": {"name": "hearth_probe_tool", "description": "",
                                                  "parameters": {"type": "object", "properties": {}}}}
        try:
            shown = self.render([Message("system", "s"), Message("user", "u")], tools=[probe])
        except TemplateError:
            return ""
        return style if "hearth_probe_tool" in shown else ""

    def render(self, messages: list[Message], cancel: CancelToken | None = None,
               tools: list[dict] | None = None) -> str:
        """Raises TemplateError for a template that fails or runs too long, Cancelled when cancel is set.
        tools: OpenAI-shaped functions, for a template that shows them (left undefined when None)."""
        from jinja2.exceptions import SecurityError
        from jinja2.exceptions import TemplateError as JinjaError

        self._local.budget = budget = _Budget(cancel)
        extra = {} if tools is None else {"tools": tools}
        try:
            pieces, total = [], 0
            for piece in self.template.generate(
                messages=[m.for_template() for m in messages],
                add_generation_prompt=True,
                bos_token=self.bos,
                eos_token=self.eos,
                **extra,
            ):  # one piece per output: the same large string output a million times is counted each time
                total += len(piece)
                if total > MAX_OUTPUT:
                    raise _too_large("a prompt")
                budget.step()
                pieces.append(piece)
            return "".join(pieces)
        except MemoryError as exc:
            raise _too_large() from exc
        except SecurityError as exc:
            raise TemplateError(f"the model's chat template tried an unsafe operation and was stopped: {exc}") from exc
        except TemplateError:
            raise
        except RecursionError as exc:
            raise TemplateError("the model's chat template recursed too deeply and was stopped") from exc
        except (JinjaError, TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as exc:
            raise TemplateError(f"the model's chat template failed: {type(exc).__name__}: {exc}") from exc
        finally:
            self._local.budget = None


def _tojson(value, indent=None, separators=None, sort_keys=False, ensure_ascii=False):
    """Hugging Face's tojson: plain JSON in the dict's own order (jinja's sorts keys and escapes < > & ')."""
    import json

    if isinstance(indent, int) and not 0 <= indent <= 64 or isinstance(indent, str) and len(indent) > 64:
        raise _too_large("an indent")  # json.dumps would build it before any check
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    import time

    return time.strftime(fmt)


@dataclass
class PromptFormat:
    """What the engine uses: the GGUF template, a built-in format, or an override."""

    name: str
    stop: tuple[str, ...]
    _jinja: JinjaTemplate | None = None
    _builtin: ChatFormat | None = None
    bos: str = ""

    @property
    def tool_style(self) -> str:
        """The template's tool-call family (app/core/chat/tool_format.py); "" for words."""
        return self._jinja.tool_style if self._jinja is not None else ""

    def render(self, messages: list[Message], cancel: CancelToken | None = None, tools: str = "") -> str:
        """tools: the OpenAI-shaped functions as JSON text, shown by a template with tools (else ignored)."""
        if self._jinja is not None:
            import json

            return self._jinja.render(messages, cancel, json.loads(tools) if tools and self.tool_style else None)
        assert self._builtin is not None, "a PromptFormat has a template or a built-in format"
        return self._builtin.render(messages, self.bos)


def choose_format(
    chat_template: str | None, architecture: str, bos: str = "", eos: str = "", override: str | None = None
) -> PromptFormat:
    """override: a built-in format name, or "template" to insist on the GGUF's own."""
    if override and override != "template":
        if override not in FORMATS:
            raise TemplateError(f"unknown chat format '{override}' (one of {', '.join(FORMATS)})")
        fmt = FORMATS[override]
        return PromptFormat(fmt.name, fmt.stop, _builtin=fmt, bos=bos)
    if chat_template:
        jinja = JinjaTemplate(chat_template, bos, eos)
        return PromptFormat("template", jinja.stop, _jinja=jinja)
    if override == "template":
        raise TemplateError("this model has no chat template of its own")
    fmt = format_for_architecture(architecture)
    return PromptFormat(fmt.name, fmt.stop, _builtin=fmt, bos=bos)


def template_style(path) -> str:
    """The tool-call family of a GGUF's own template, read from its header ("" for none), without loading
    the model: what a server needs before it lays out a request's tool turns."""
    from pathlib import Path

    p = Path(path)
    try:
        stat = p.stat()
    except OSError:
        return ""
    return _template_style(str(p), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _template_style(path: str, mtime_ns: int, size: int) -> str:
    from pathlib import Path

    from app.core.chat.tool_format import family
    from app.core.jobs import HearthError
    from app.core.models.gguf_header import read_gguf

    try:
        source = read_gguf(Path(path)).chat_template or ""
        return JinjaTemplate(source).tool_style if family(source) else ""
    except HearthError:
        return ""
