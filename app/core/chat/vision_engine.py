"""A chat engine whose model sees: ChatEngine with pictures in the prompt (app/core/chat/vision.py).

Only the prompt differs: ``plan`` lays the conversation out as libmtmd chunks (a picture's positions
hold placeholder ids), ``_prefill`` evaluates text and pictures with Stop between steps, and the
stats count image tokens and encode time. Sampling, stop strings and streaming are ChatEngine's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from app.core.chat.engine import PREFILL_CPU, ChatEngine, PromptPlan, SamplingParams
from app.core.chat.events import ChatStats, StreamEvent
from app.core.chat.templates import Message
from app.core.chat.vision import MARKER, PrefillResult, Vision, VisionPrompt, strip_marker
from app.core.jobs import CancelToken, InputError


def with_markers(message: Message) -> Message:
    """The message as the template sees it: one marker per picture, before the text."""
    text = strip_marker(message.content)
    if not message.images:
        return replace(message, content=text)
    return replace(message, content="".join(MARKER + "\n" for _ in message.images) + text, images=())


class VisionChatEngine(ChatEngine):
    def __init__(self, llm, path: Path, info, fmt, model_id: str, notices: list[str], projector: Path,
                 use_gpu: bool):
        super().__init__(llm, path, info, fmt, model_id, notices)
        self.vision = Vision(llm, projector, use_gpu)
        self.projector = Path(projector)
        self._prompt: VisionPrompt | None = None
        self._last: PrefillResult | None = None

    def _layout(self, messages: list[Message], cancel: CancelToken | None = None, tools: str = "") -> VisionPrompt:
        images = [img for m in messages for img in m.images]
        return self.vision.tokenize(self.render([with_markers(m) for m in messages], cancel, tools), images)

    def plan(self, messages: list[Message], max_tokens: int, cancel: CancelToken | None = None,
             whole: bool = False, tools: str = "") -> PromptPlan:
        """As ChatEngine.plan, counting each picture's tokens; the oldest turns go first when full."""
        prompt, dropped, kept = self._fit(messages, max_tokens, lambda kept: self._layout(kept, cancel, tools),
                                          whole)
        self._keep(prompt)
        return PromptPlan(prompt.ids, dropped, kept)

    def plan_raw(self, text: str, max_tokens: int) -> PromptPlan:
        if not text:
            raise InputError("the prompt is empty")
        prompt = self.vision.tokenize(strip_marker(text), [])
        try:
            self._check_room(len(prompt.ids), max_tokens)
        except InputError:
            prompt.close()
            raise
        self._keep(prompt)
        return PromptPlan(prompt.ids, 0, [Message("user", text)])

    def _keep(self, prompt: VisionPrompt) -> None:
        if self._prompt is not None:
            self._prompt.close()
        self._prompt = prompt

    def _prefill(self, tokens: list[int], cancel: CancelToken) -> int:
        prompt = self._prompt
        if prompt is None or prompt.ids != tokens:  # pragma: no cover - plan() always comes first
            raise InputError("the prompt changed between planning and evaluation")
        step = max(PREFILL_CPU, self.llm.n_batch) if self.gpu_layers else PREFILL_CPU
        self._last = None
        try:
            self._last = self.vision.prefill(prompt, cancel, step)
        finally:
            self._keep_none()
        return self._last.reused

    def _keep_none(self) -> None:
        if self._prompt is not None:
            self._prompt.close()
            self._prompt = None

    def stream(self, messages: list[Message], params: SamplingParams,
               cancel: CancelToken | None = None) -> Iterator[StreamEvent]:
        self._last = None
        for event in super().stream(messages, params, cancel):
            if isinstance(event, ChatStats) and self._last is not None:  # the last event: the pictures' share
                event.image_tokens = self._last.image_tokens
                event.image_encode_s = self._last.encode_s
            yield event

    def close(self) -> None:
        self._keep_none()
        super().close()
