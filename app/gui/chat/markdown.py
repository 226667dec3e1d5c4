"""Model output to HTML that can never fetch or run anything.

markdown-it-py with raw HTML disabled (it is shown as text), images rendered as
a plain text mention (never an <img>), links kept only for http(s) (they open
only when clicked, see MessageView). Top-level code blocks come out as their
own segments so the view can give each a scrolling box, a language label and a
Copy button; code nested in lists is highlighted inline. Tables get borders.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache

SAFE_SCHEMES = ("http://", "https://")
CODE_FONT = "'DejaVu Sans Mono', 'Cascadia Mono', Menlo, Consolas, monospace"


@dataclass
class Segment:
    kind: str  # "html" | "code"
    html: str = ""
    code: str = ""
    language: str = ""


@lru_cache(maxsize=1)
def _md():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    md.add_render_rule("image", _render_image)
    md.add_render_rule("link_open", _render_link_open)
    md.add_render_rule("fence", _render_nested_code)
    md.add_render_rule("code_block", _render_nested_code)
    md.add_render_rule("table_open", _render_table_open)
    md.add_render_rule("th_open", _render_th_open)
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


def _render_table_open(self, tokens, idx, options, env):
    border = env.get("colors", {}).get("code_border", "#999999")
    return f'<table border="1" cellspacing="0" cellpadding="5" style="border-color: {border}; border-style: solid;">'


def _render_th_open(self, tokens, idx, options, env):
    bg = env.get("colors", {}).get("code_bg", "#f3f2ef")  # a shaded header row (QTextDocument ignores CSS on th)
    return f'<th bgcolor="{bg}"{self.renderAttrs(tokens[idx])}>'


def _render_nested_code(self, tokens, idx, options, env):
    token = tokens[idx]
    code = token.content.rstrip("\n")
    colors = env.get("colors", {})
    bg = colors.get("code_bg", "#f3f2ef")
    env.setdefault("code_blocks", []).append(token.content)
    return (
        f'<table width="100%" cellpadding="6" cellspacing="0" bgcolor="{bg}"><tr><td>'
        f'<pre style="font-family: {CODE_FONT};">{highlight(code, language_of(token), env.get("scheme", "light"))}'
        "</pre></td></tr></table>"
    )


def language_of(token) -> str:
    info = (token.info or "").strip().split()
    return info[0][:32] if info else ""


def highlight(code: str, language: str, scheme: str = "light") -> str:
    """HTML spans with inline colours (QTextDocument has no CSS classes); plain escaped text when unknown."""
    try:
        from pygments import highlight as run
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound
    except ImportError:  # pragma: no cover - pygments is a dependency
        return html.escape(code)
    try:
        lexer = get_lexer_by_name(language, stripnl=False, ensurenl=False) if language else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return html.escape(code)
    from app.gui.chat.code_style import pygments_style

    formatter = HtmlFormatter(noclasses=True, nowrap=True, style=pygments_style(scheme))
    return run(code, lexer, formatter).rstrip("\n")


def render(text: str, colors: dict | None = None, scheme: str = "light") -> tuple[str, list[str]]:
    """HTML for a message as one document, and its code blocks."""
    env: dict = {"colors": colors or {}, "scheme": scheme}
    body = _md().render(text, env)
    return body, env.get("code_blocks", [])


def segments(text: str, colors: dict | None = None, scheme: str = "light") -> list[Segment]:
    """The message split at its top-level code blocks."""
    md = _md()
    env: dict = {"colors": colors or {}, "scheme": scheme}
    tokens = md.parse(text, env)
    out: list[Segment] = []
    run: list = []

    def flush():
        if run:
            out.append(Segment("html", html=md.renderer.render(run, md.options, env)))
            run.clear()

    for token in tokens:
        if token.type in ("fence", "code_block") and token.level == 0:
            flush()
            out.append(Segment("code", code=token.content.rstrip("\n"), language=language_of(token)))
        else:
            run.append(token)
    flush()
    return out
