"""#26: `python -m app mcp` serves Hearth's tools over stdio with the official `mcp` SDK. Driven here by the
SDK's own client against a real library (documents indexed with the starter embedder, tiny-CLIP photos):
it lists the tools with their schemas, finds files from the indexed folders, refuses a path outside them
in words, and writes nothing but protocol on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from app.core.ask.tools import TOOLS
from tests import find_library
from tests.conftest import ROOT, run_app


@pytest.fixture
def library(starter_store, clip_store, tmp_path):
    return find_library.build(tmp_path)


async def _session(errlog, check, *extra: str):
    """Starts `python -m app mcp` with this test's HEARTH_HOME and runs ``check(session)`` against it.
    Returns the transport's faults: a line on stdout that was not protocol shows up here."""
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    faults: list = []

    async def on_message(message) -> None:
        if isinstance(message, Exception):
            faults.append(message)

    params = StdioServerParameters(command=sys.executable, args=["-m", "app", "mcp", *extra], env=dict(os.environ),
                                   cwd=ROOT)
    with anyio.fail_after(600):
        async with stdio_client(params, errlog=errlog) as (read, write), \
                ClientSession(read, write, message_handler=on_message) as session:
            await session.initialize()
            await check(session)
    return faults


def _payload(result) -> dict:
    """A successful call's JSON: the text content, which carries the same as the structured content."""
    assert not result.is_error, result.content
    text = json.loads(result.content[0].text)
    assert result.structured_content in (None, text)
    return text


@pytest.mark.slow  # a server process that loads the embedder and CLIP
def test_an_mcp_host_lists_the_tools_and_finds_documents_and_photos_from_the_indexed_folders(library, tmp_path):
    seen: dict = {}

    async def check(session) -> None:
        listed = await session.list_tools()
        seen["tools"] = {t.name: t for t in listed.tools}
        question, _ = find_library.PARAPHRASE
        seen["docs"] = _payload(await session.call_tool("search_documents", {"query": question, "limit": 3}))
        seen["photos"] = _payload(await session.call_tool("search_photos", {"query": "a red circle", "limit": 3}))

    with open(tmp_path / "mcp.stderr", "w") as errlog:
        faults = anyio.run(_session, errlog, check)
    assert faults == [], "stdout carried something that is not protocol"

    tools = seen["tools"]
    assert {"search_photos", "search_documents", "search_recordings", "search_chats", "look_at_photos",
            "transcribe"} <= set(tools)
    for name, tool in tools.items():
        assert tool.input_schema == TOOLS[name].parameters and tool.input_schema["type"] == "object", name
        assert tool.description and tool.annotations.read_only_hint, name

    docs = seen["docs"]["results"]
    assert docs and docs[0]["path"].endswith(find_library.PARAPHRASE[1])
    assert all(Path(h["path"]).parent == library.docs for h in docs), docs
    assert "Searched documents" in seen["docs"]["summary"]
    photos = seen["photos"]["results"]
    red = {str(p) for p in library.photos["red circle"]}
    assert photos and all(Path(h["path"]).is_relative_to(tmp_path / "photos") for h in photos), photos
    assert sum(h["path"] in red for h in photos) >= 2, photos
    assert "Traceback" not in (tmp_path / "mcp.stderr").read_text()


@pytest.mark.slow
def test_an_mcp_host_is_refused_a_path_outside_the_users_folders_in_words(library, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "private.jpg").write_bytes(library.photos["red circle"][0].read_bytes())  # a real photo
    (library.docs / "sneaky.wav").symlink_to("/etc/passwd")  # inside by name, outside once resolved
    seen: dict = {}

    async def check(session) -> None:
        seen["passwd"] = await session.call_tool("transcribe", {"path": "/etc/passwd"})
        seen["link"] = await session.call_tool("transcribe", {"path": str(library.docs / "sneaky.wav")})
        seen["look"] = await session.call_tool("look_at_photos", {"paths": [str(outside / "private.jpg")],
                                                                  "question": "Who is in it?"})
        seen["bad"] = await session.call_tool("search_documents", {"limit": 3})
        seen["unknown"] = await session.call_tool("delete_everything", {})
        seen["after"] = await session.call_tool("search_chats", {"query": "shady allotment"})

    with open(tmp_path / "mcp.stderr", "w") as errlog:
        faults = anyio.run(_session, errlog, check)
    assert faults == []
    for key in ("passwd", "link", "look"):
        result = seen[key]
        assert result.is_error, key
        assert "outside the folders you added" in result.content[0].text, (key, result.content)
    assert seen["bad"].is_error and "bad arguments" in seen["bad"].content[0].text
    assert seen["unknown"].is_error and "no tool" in seen["unknown"].content[0].text
    after = _payload(seen["after"])  # the server is still serving, and still finds things
    assert after["results"][0]["conversation_id"] == library.chats["garden"]
    assert "Traceback" not in (tmp_path / "mcp.stderr").read_text()


@pytest.mark.slow
def test_look_at_photos_asks_the_chosen_vision_model_about_a_photo_in_the_users_folders(library, tmp_path):
    from app.core.models.store import ModelStore
    from tests.vision import MMPROJ, MODEL

    ModelStore().import_path(MODEL, "chat", "tiny-vision", mode="link", projector=MMPROJ)
    photo = library.photos["red circle"][0]
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(photo.read_bytes())
    seen: dict = {}

    async def check(session) -> None:
        seen["look"] = await session.call_tool("look_at_photos", {"paths": [str(photo)], "question": "What colour?"})
        seen["outside"] = await session.call_tool("look_at_photos", {"paths": [str(outside)], "question": "Who?"})

    with open(tmp_path / "mcp.stderr", "w") as errlog:
        assert anyio.run(_session, errlog, check, "--vision-model", "tiny-vision") == []
    (said,) = _payload(seen["look"])["results"]  # the fixture's weights are random: what it says is not checked
    assert said["path"] == str(photo.resolve()) and isinstance(said["text"], str)
    assert seen["outside"].is_error and "outside the folders" in seen["outside"].content[0].text


def test_a_vision_model_that_cannot_see_is_refused_before_serving(starter_store):
    result = run_app("mcp", "--vision-model", "gemma-3-270m-q4_k_m")
    assert result.returncode == 1 and "cannot see pictures" in result.stderr and result.stdout == ""
    assert "Traceback" not in result.stderr


def test_the_command_line_imports_the_mcp_sdk_only_when_mcp_runs():
    """The SDK takes ~0.6 s to import: every other command, and the window, start without it."""
    probe = ("import sys; from app.cli import build_parser; args = build_parser().parse_args(['mcp']); "
             "print(args.command, [m for m in ('mcp', 'mcp_types', 'anyio') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["mcp", "[]"]
