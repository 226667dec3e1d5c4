"""What agent frameworks send in a chat request besides roles and text: an agent's tool turns,
`response_format`, `logprobs`. Each is honoured or refused with a 400 in OpenAI's shape, never ignored."""

from __future__ import annotations

import json

from app.core.chat.schema_bounds import check_schema_size
from app.core.chat.templates import Message, ToolCall
from app.core.jobs import InputError
from app.server.http import ApiError

MAX_SCHEMA_CHARS = 100_000


def tool_calls_text(calls, i: int) -> tuple[str, dict[str, str]]:
    """An assistant's tool calls as words the model reads in its own turn, and each call's id → tool name."""
    if not isinstance(calls, list):
        raise ApiError(400, f"messages[{i}].tool_calls must be a list", param="messages")
    lines, names = [], {}
    for k, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        name = fn.get("name") if isinstance(fn, dict) else None
        arguments = fn.get("arguments", "") if isinstance(fn, dict) else None
        if not isinstance(name, str) or not name or not isinstance(arguments, str):
            raise ApiError(400, f"messages[{i}].tool_calls[{k}] needs a function with a 'name' and its "
                           "'arguments' as a JSON string", param="messages")
        call_id = call.get("id")
        if isinstance(call_id, str) and call_id:
            names[call_id] = name
        lines.append(f"[called the tool {name} with {arguments or '{}'}]")
    return "\n".join(lines), names


def native_calls(calls, i: int) -> tuple[ToolCall, ...]:
    """An assistant's tool calls for a template that renders them (their arguments as an object, as
    templates expect; arguments that are not a JSON object are kept as text under "")."""
    tool_calls_text(calls, i)  # the same checks, the same 400s
    out = []
    for call in calls:
        fn = call["function"]
        try:
            arguments = json.loads(fn.get("arguments") or "{}")
        except ValueError:
            arguments = {"": fn["arguments"]}
        call_id = call.get("id")
        out.append(ToolCall(fn["name"], arguments if isinstance(arguments, dict) else {"": arguments},
                            call_id if isinstance(call_id, str) else ""))
    return tuple(out)


def tool_result_text(m: dict, text: str, names: dict[str, str]) -> str:
    """A tool's result, read by the model as the user's next turn (few local templates know a tool role)."""
    call_id = m.get("tool_call_id")
    name = m.get("name") if isinstance(m.get("name"), str) else names.get(call_id if isinstance(call_id, str) else "")
    return f"[the tool {name or 'call'} returned]\n{text}"


def merge_turns(messages: list[Message]) -> list[Message]:
    """Consecutive turns of one speaker joined: a call's results follow each other, and most local
    templates insist that user and assistant alternate."""
    out: list[Message] = []
    for m in messages:
        tools = m.role == "tool" or m.tool_calls or out and out[-1].tool_calls  # a template's own turns
        if out and m.role == out[-1].role and m.role != "system" and not tools:
            last = out[-1]
            out[-1] = Message(m.role, "\n\n".join(t for t in (last.content, m.content) if t),
                              last.images + m.images)
        else:
            out.append(m)
    return out


def response_schema(data: dict) -> str:
    """The JSON schema a `response_format` asks the reply to match, as text ("" for free text)."""
    fmt = data.get("response_format")
    if fmt is None:
        return ""
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return ""
    if kind == "json_object":
        return '{"type": "object"}'
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise ApiError(400, "response_format json_schema needs a 'schema' object", param="response_format")
        text = json.dumps(schema)
        if len(text) > MAX_SCHEMA_CHARS:
            raise ApiError(400, f"the response_format schema is longer than {MAX_SCHEMA_CHARS:,} characters",
                           param="response_format")
        try:
            check_schema_size(schema)
        except InputError as exc:
            raise ApiError(400, str(exc), param="response_format") from None
        return text
    raise ApiError(400, "response_format's type must be text, json_object or json_schema",
                   param="response_format")


def refuse_logprobs(data: dict) -> None:
    """Hearth's engines do not return token probabilities yet: a request that asks is told, not ignored."""
    for name in ("logprobs", "top_logprobs"):
        value = data.get(name)
        if value is not None and value is not False and value != 0:
            raise ApiError(400, f"'{name}' is not supported by Hearth's local models yet; send the request "
                           f"without it", param=name, code="unsupported_parameter")
