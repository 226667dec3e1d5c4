"""`hearth mcp`: Hearth's own tools (app.core.ask.tools) served to other programs' agents over MCP on
stdio, with the official `mcp` SDK, so LM Studio, Jan or any MCP host can search the user's photos,
documents and recordings through Hearth.

Read-only, with the chat's folder rule: a path outside the folders the user added is refused in words
(an MCP error result), never a crash. stdout carries only the protocol: the SDK points fd 1 at stderr
while it serves (so a library's print, or llama.cpp's own, cannot break a frame), and logs go to
stderr and the log file. The SDK (~0.6 s to import) is imported here only, when this command runs.
"""

from __future__ import annotations

import json
import logging

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Hearth searches this computer's photos, documents, recordings and chats, looks at photos and "
    "transcribes recordings, all offline. Paths must be inside the folders the user added to Hearth."
)


def add_parser(sub) -> None:
    p = sub.add_parser("mcp", help="serve Hearth's search, vision and transcription tools to MCP hosts (stdio)",
                       description="Speaks the Model Context Protocol on stdin/stdout until stdin closes. "
                                   "Read-only: a path outside the folders you added is refused.")
    p.add_argument("--vision-model", metavar="ID",
                   help="the installed model that sees pictures, for look_at_photos (loaded on its first call)")
    p.set_defaults(func=run)


def run(args) -> int:
    import anyio

    seer = Seer(args.vision_model) if args.vision_model else None  # a model that cannot see: said now
    anyio.run(serve, seer)
    return 0


class Seer:
    """look_at_photos' eyes: the chosen vision model, opened on the first photo it is asked about and
    kept (on the tools' thread) for the next."""

    def __init__(self, model_id: str):
        from app.core.chat.pictures import side_for_projector
        from app.core.jobs import InputError
        from app.core.opening import projector_for, resolve

        projector = projector_for(resolve("chat", model_id))
        if projector is None:
            raise InputError(f"{model_id} cannot see pictures: give --vision-model a model that sees "
                             "(models list shows which do)")
        self.model_id, self.side = model_id, side_for_projector(projector)
        self.engine = self.see = None

    def __call__(self, path, question: str, cancel) -> str:
        from app.core.ask.vision import chat_vision
        from app.core.opening import open_chat

        if self.engine is None:
            self.engine = open_chat(self.model_id)
            self.see = chat_vision(self.engine, self.side)
        return self.see(path, question, cancel)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None


def result_payload(result) -> dict:
    """A tool's result as one JSON object: what the host shows and what its model reads."""
    return {"summary": result.summary, "results": result.results}


async def serve(seer: Seer | None = None) -> None:
    """Serves until the client closes stdin. The tools run one at a time on one thread of their own,
    which holds the models they open (a model is touched only on its thread: ARCHITECTURE.md, Threads)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import mcp.types as types
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server

    from app import __version__
    from app.core.ask import tools as ask
    from app.core.find import Engines
    from app.core.jobs import Cancelled, CancelToken

    worker = ThreadPoolExecutor(1, thread_name_prefix="mcp-tools")
    engines = Engines()  # the text embedder and CLIP stay open between calls
    context = ask.ToolContext(folders=[], engines=engines, vision=seer)
    listed = [types.Tool(name=t.name, description=t.description, input_schema=t.parameters,
                         annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False))
              for t in ask.tools()]

    def call(name: str, arguments, cancel):
        """One call, in words whatever happens: a refused path or a failing tool is the host's to read."""
        try:
            context.folders = ask.user_folders()  # read each time: the user may add a folder while we serve
            context.cancel = cancel
            return ask.call_tool(name, arguments, context)
        except Cancelled:
            return ask.ToolResult([], f"{name} was stopped", f"{name} stopped")
        except Exception as exc:  # noqa: BLE001 - one failing call must not end the server
            log.warning("mcp: %s failed", name, exc_info=True)
            return ask.ToolResult([], f"{name} failed ({type(exc).__name__})", f"{name} failed")

    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(ctx, params) -> types.CallToolResult:
        cancel = CancelToken()
        try:
            result = await asyncio.get_running_loop().run_in_executor(worker, call, params.name,
                                                                      params.arguments, cancel)
        except asyncio.CancelledError:  # the host cancelled the request: Stop the tool where it is
            cancel.cancel()
            raise
        if result.error:
            log.info("mcp: %s: %s", params.name, result.error)
            return types.CallToolResult(content=[types.TextContent(text=result.error)], is_error=True)
        payload = result_payload(result)
        return types.CallToolResult(content=[types.TextContent(text=json.dumps(payload, ensure_ascii=False))],
                                    structured_content=payload)

    server: Server = Server("hearth", version=__version__, title="Hearth", instructions=INSTRUCTIONS,
                            on_list_tools=list_tools, on_call_tool=call_tool)
    log.info("mcp: serving %d tools on stdio", len(listed))
    try:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
    finally:
        worker.submit(engines.close).result()  # on the thread that opened them
        if seer is not None:
            worker.submit(seer.close).result()
        worker.shutdown(wait=True)
        log.info("mcp: the client closed the connection")
