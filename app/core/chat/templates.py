"""Chat prompt formats.

A GGUF's own ``tokenizer.chat_template`` is rendered only in Jinja2's immutable
sandbox: a template that reaches for Python internals fails with a clear error
and runs nothing. A model without a template gets a built-in format chosen
from ``general.architecture`` (llama-cpp-python would silently fall back to
the llama-2 format, which makes the starter Gemma answer nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.jobs import ModelError


class TemplateError(ModelError):
    pass


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


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


class JinjaTemplate:
    """A model's own template, compiled once in the immutable sandbox."""

    def __init__(self, source: str, bos: str = "", eos: str = ""):
        from jinja2 import TemplateSyntaxError
        from jinja2.exceptions import SecurityError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        class Sandbox(ImmutableSandboxedEnvironment):
            # The stock sandbox returns a quiet Undefined for unsafe attributes;
            # we stop the template instead, so the user learns why.
            def unsafe_undefined(self, obj, attribute):
                raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} is unsafe")

        def raise_exception(message):
            raise TemplateError(f"the model's chat template refused the conversation: {message}")

        env = Sandbox(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = _strftime_now
        try:
            self.template = env.from_string(source)
        except TemplateSyntaxError as exc:
            raise TemplateError(f"the model's chat template does not parse: {exc}") from exc
        self.bos, self.eos = bos, eos
        self.stop = tuple(s for marker, stops in _TEMPLATE_STOPS.items() if marker in source for s in stops)

    def render(self, messages: list[Message]) -> str:
        from jinja2.exceptions import SecurityError
        from jinja2.exceptions import TemplateError as JinjaError

        try:
            return self.template.render(
                messages=[{"role": m.role, "content": m.content} for m in messages],
                add_generation_prompt=True,
                bos_token=self.bos,
                eos_token=self.eos,
            )
        except SecurityError as exc:
            raise TemplateError(f"the model's chat template tried an unsafe operation and was stopped: {exc}") from exc
        except TemplateError:
            raise
        except (JinjaError, TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
            raise TemplateError(f"the model's chat template failed: {type(exc).__name__}: {exc}") from exc


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

    def render(self, messages: list[Message]) -> str:
        if self._jinja is not None:
            return self._jinja.render(messages)
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
