"""Where a found thing opens: a document in its program, a transcript in the Speech pane at its line, a photo
in the Images pane's preview, a chat in the Chat pane. Returns a sentence when it could not ("" when done)."""

from __future__ import annotations

import os

from app.core.find import Hit
from app.core.jobs import HearthError


def open_hit(window, hit: Hit) -> str:
    loc = hit.location
    if hit.kind == "document" and hit.path:
        if not os.path.isfile(hit.path):
            return f"{hit.title} is no longer there: index the documents again."
        from app.gui.docs.opener import open_document  # a PDF at the hit's page, as the Documents pane opens it

        return "" if open_document(hit.path, loc.page) else f"No program opens {hit.title}."
    if hit.kind == "photo" and hit.path:
        images = window.panes.get("images")
        window.show_pane("images")
        if hasattr(images, "preview") and os.path.isfile(hit.path):
            images.preview(hit.path, loc if loc.taken or loc.place else None)  # when and where it was taken
            return ""
        return f"{hit.title} is not there (an unplugged drive?)."
    if hit.kind == "transcript" and loc.transcript_id:
        speech = window.panes.get("speech")
        window.show_pane("speech")
        if hasattr(speech, "show_transcript") and speech.show_transcript(loc.transcript_id, loc.start):
            return ""
        return "That transcript is no longer kept."
    if hit.kind == "chat" and loc.conversation_id is not None:
        chat = window.panes.get("chat")
        window.show_pane("chat")
        if not hasattr(chat, "open_conversation"):
            return "The Chat pane could not be built."
        try:
            chat.open_conversation(loc.conversation_id)
        except HearthError:  # deleted since the search
            return "That chat is no longer kept."
        if chat.conversation_id != loc.conversation_id:
            return "A reply is being written: stop it to open that chat."
        chat.sidebar.refresh(select=loc.conversation_id)
        return ""
    return "That result cannot be opened."
