"""Model output to HTML that can never fetch or run anything.

markdown-it-py with raw HTML disabled (it is shown as text), images rendered as
a plain text mention (never an <img>), links kept only for http(s) (they open
only when clicked, see MessageView), code blocks in monospace with a Copy link.
"""

from __future__ import annotations

import html
from functools import lru_cache

SAFE_SCHEMES = ("http://", "https://")


@lru_cache(maxsize=1)
def _md():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    md.add_render_rule("image", _render_image)
    md.add_render_rule("link_open", _render_link_open)
    md.add_render_rule("fence", _render_code)
    md.add_render_rule("code_block", _render_code)
    return md


def _render_image(self, tokens, idx, options, env):
    token = tokens[idx]
    alt = html.escape(token.content or "image")
    src = html.escape(token.attrGet("src") or "")
    return f'<span class="image">[image: {alt}] {src}</span>'


def _render_link_open(self, tokens, idx, options, env):
    href = tokens[idx].attrGet("href") or ""
    if href.lower().startswith(SAFE_SCHEMES):
        return f'<a href="{html.escape(href)}">'
    return '<a name="unsafe-link">'  # the text stays, the target is dropped


def _render_code(self, tokens, idx, options, env):
    code = tokens[idx].content
    blocks = env.setdefault("code_blocks", [])
    blocks.append(code)
    n = len(blocks) - 1
    return (
        f'<table width="100%" cellpadding="6" class="code"><tr><td>'
        f'<pre style="font-family: monospace;">{html.escape(code.rstrip(chr(10)))}</pre>'
        f'</td></tr><tr><td align="right"><a href="copy:{n}">Copy code</a></td></tr></table>'
    )


def render(text: str) -> tuple[str, list[str]]:
    """HTML for a message, and its code blocks (for the Copy links)."""
    env: dict = {}
    body = _md().render(text, env)
    return body, env.get("code_blocks", [])
