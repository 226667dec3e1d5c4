"""`tools` and `tool_choice` on /v1/chat/completions, for any local model: the request's tools become one
JSON schema that the engine follows under a grammar (in the model's process, as response_format's), and
the tools are described to the model in words in the system turn, or, for a model whose own template
has tool-call tokens (Qwen2.5/3, Hermes, Llama 3.x), shown by that template and called in its own form
(app/core/chat/tool_format.py).

The reply's first token decides what it is: ``{`` opens a call of one of the tools, ``{"name": ...,
"arguments": {...}}``, its arguments matching that tool's parameters schema, decoded under the grammar to
the end; with tool_choice auto, any other first token begins an answer in words, decoded freely from there
(the engine's or_text). tool_calls.py reads the reply back into OpenAI's shapes.
A request's tools are hostile input: their shape, count, names and schemas are bounded here (a 400 in
words), and a schema no grammar can follow is a 400 from the engine before anything streams.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from app.core.chat.schema_bounds import check_schema_size
from app.core.chat.templates import Message
from app.core.jobs import InputError
from app.server.http import ApiError

log = logging.getLogger(__name__)
MAX_TOOLS = 128  # OpenAI's own limit
MAX_DESCRIPTION = 4000
MAX_TOOLS_CHARS = 100_000  # all the tools as JSON, as a response_format schema's bound
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class Tool:
    name: str
    description: str
    parameters: dict


@dataclass
class ToolPlan:
    """The tools a reply may call, and how: "auto" (a call or words), "required" (a call), "named" (that one)."""

    tools: list[Tool]
    mode: str

    def schema(self, arguments: str = "arguments") -> str:
        """The JSON schema of a call of one of the tools (auto: the engine lets words begin instead);
        arguments: the key a call's arguments go under (a template's own, "parameters" for Llama 3)."""
        defs: dict = {}
        calls = [_call_schema(i, tool, defs, arguments) for i, tool in enumerate(self.tools)]
        schema: dict = calls[0] if len(calls) == 1 else {"anyOf": calls}
        if defs:
            schema = {**schema, "$defs": defs}
        return json.dumps(schema)

    def openai(self) -> str:
        """The tools as OpenAI's functions, as JSON text, for a template that shows them."""
        return json.dumps([{"type": "function", "function": {"name": t.name, "description": t.description,
                                                             "parameters": t.parameters}} for t in self.tools])

    def instructions(self) -> str:
        """The tools and the reply's form, in words, for the system turn."""
        lines = ["You can call these tools:"]
        for tool in self.tools:
            about = f": {tool.description}" if tool.description else ""
            lines.append(f"- {tool.name}{about} Arguments (JSON schema): {json.dumps(tool.parameters)}")
        call = 'reply with only a JSON object {"name": "<tool name>", "arguments": {<its arguments>}}'
        if self.mode == "auto":
            lines.append(f"To call a tool, {call}. Call a tool only when it helps; otherwise answer the user "
                         "in words.")
        elif self.mode == "named":
            lines.append(f'Call the tool {self.tools[0].name} now: reply with only a JSON object '
                         f'{{"name": "{self.tools[0].name}", "arguments": {{<its arguments>}}}}.')
        else:
            lines.append(f"Call one of the tools now: {call}.")
        return "\n".join(lines)


def parse_tools(data: dict) -> ToolPlan | None:
    """The request's tools and tool_choice (None: decode as without tools), or a 400 in words."""
    try:
        return _plan(data)
    except ApiError as exc:
        log.info("a request's tools were refused: %s", exc.message)
        raise


def _plan(data: dict) -> ToolPlan | None:
    for old in ("functions", "function_call"):  # OpenAI's older names: answered in words, not ignored
        if data.get(old) is not None:
            raise ApiError(400, f"'{old}' is not supported; send 'tools' and 'tool_choice' instead", param=old,
                           code="unsupported_parameter")
    tools = _tools(data.get("tools"))
    choice = data.get("tool_choice")
    if choice is None:
        mode, named = "auto", ""
    elif choice in ("auto", "none", "required"):
        mode, named = choice, ""
    elif isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("function"), dict):
        mode, named = "named", choice["function"].get("name")
        if not isinstance(named, str) or not any(t.name == named for t in tools):
            raise ApiError(400, "tool_choice names a function that is not among the request's tools",
                           param="tool_choice")
    else:
        raise ApiError(400, "'tool_choice' must be 'auto', 'none', 'required' or "
                       '{"type": "function", "function": {"name": ...}}', param="tool_choice")
    if not tools:
        if mode in ("required", "named"):
            raise ApiError(400, f"tool_choice {mode} needs 'tools'", param="tool_choice")
        return None
    if mode == "none":
        return None
    if _asks_format(data):
        raise ApiError(400, "a request with tools cannot also ask for a response_format; send one or the other "
                       "(or tool_choice 'none')", param="response_format")
    if mode == "named":
        tools = [t for t in tools if t.name == named]
    plan = ToolPlan(tools, mode)
    try:
        check_schema_size(json.loads(plan.schema()))
    except InputError as exc:
        raise ApiError(400, f"the tools' parameters: {exc}", param="tools") from None
    return plan


def with_tools(messages: list[Message], plan: ToolPlan) -> list[Message]:
    """The tools described in the system turn (added to the request's own system message, if it has one)."""
    text = plan.instructions()
    if messages and messages[0].role == "system":
        first = messages[0]
        return [Message("system", f"{first.content}\n\n{text}" if first.content else text, first.images),
                *messages[1:]]
    return [Message("system", text), *messages]


def _asks_format(data: dict) -> bool:
    fmt = data.get("response_format")
    return fmt is not None and not (isinstance(fmt, dict) and fmt.get("type") == "text")


def _tools(value) -> list[Tool]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_TOOLS:
        raise ApiError(400, f"'tools' must be a list of at most {MAX_TOOLS} functions", param="tools")
    try:
        size = len(json.dumps(value))
    except (TypeError, ValueError, RecursionError):
        raise ApiError(400, "'tools' is not plain JSON", param="tools") from None
    if size > MAX_TOOLS_CHARS:
        raise ApiError(400, f"'tools' is longer than {MAX_TOOLS_CHARS:,} characters of JSON", param="tools")
    out: list[Tool] = []
    for i, item in enumerate(value):
        fn = item.get("function") if isinstance(item, dict) and item.get("type") == "function" else None
        if not isinstance(fn, dict):
            raise ApiError(400, f'tools[{i}] must be {{"type": "function", "function": {{...}}}}', param="tools")
        name = fn.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise ApiError(400, f"tools[{i}]: a function's name is 1 to 64 letters, digits, _ or -", param="tools")
        if any(t.name == name for t in out):
            raise ApiError(400, f"tools[{i}]: the name {name} is given twice", param="tools")
        about = fn.get("description") or ""
        if not isinstance(about, str) or len(about) > MAX_DESCRIPTION:
            raise ApiError(400, f"tools[{i}]: the description must be text of at most {MAX_DESCRIPTION:,} "
                           "characters", param="tools")
        params = fn.get("parameters")
        if params is None:
            params = {"type": "object", "properties": {}}
        if not isinstance(params, dict) or params.get("type", "object") != "object":
            raise ApiError(400, f"tools[{i}] ({name}): 'parameters' must be a JSON schema of an object",
                           param="tools")
        out.append(Tool(name, " ".join(about.split()), params))
    return out


def _call_schema(i: int, tool: Tool, defs: dict, arguments: str = "arguments") -> dict:
    """The schema of a call of one tool. Parameters with $refs move to the root's $defs under names of
    their own (the grammar converter resolves refs from the root, and reuses a rule of the same name)."""
    params = tool.parameters
    if _has_ref(params):
        own = {k: v for k, v in params.items() if k not in ("$defs", "definitions")}
        names: dict[str, str] = {}
        for group in ("$defs", "definitions"):
            inner = params.get(group)
            if isinstance(inner, dict):
                for key in inner:
                    names[f"#/{group}/{key}"] = f"tool{i}def{len(names)}"
        for group in ("$defs", "definitions"):
            inner = params.get(group)
            if isinstance(inner, dict):
                for key, sub in inner.items():
                    defs[names[f"#/{group}/{key}"]] = _rewrite(sub, i, names, tool.name)
        defs[f"tool{i}"] = _rewrite(own, i, names, tool.name)
        params = {"$ref": f"#/$defs/tool{i}"}
    return {"type": "object", "properties": {"name": {"const": tool.name}, arguments: params},
            "required": ["name", arguments], "additionalProperties": False}


def _has_ref(node) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            if isinstance(n.get("$ref"), str):
                return True
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    return False


def _rewrite(node, i: int, names: dict[str, str], tool: str):
    """A copy of node with its refs pointing where _call_schema moved what they name."""
    if isinstance(node, list):
        return [_rewrite(n, i, names, tool) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = _moved(value, i, names, tool)
        else:
            out[key] = _rewrite(value, i, names, tool)
    return out


def _moved(ref: str, i: int, names: dict[str, str], tool: str) -> str:
    if ref == "#":
        return f"#/$defs/tool{i}"
    for old, new in names.items():
        if ref == old or ref.startswith(old + "/"):
            return f"#/$defs/{new}{ref[len(old):]}"
    if ref.startswith("#/"):
        return f"#/$defs/tool{i}{ref[1:]}"
    raise ApiError(400, f"the tool {tool}: its parameters may refer only to their own definitions "
                   "($ref starting with #), not to other documents", param="tools")
