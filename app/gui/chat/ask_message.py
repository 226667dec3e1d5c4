"""The parts of an assistant message that "Ask Hearth" adds: its step rows above the text, its citations
as links in the text and a Sources line under it. A mixin of MessageWidget (its layout, body and text);
built only when a message has steps or citations, so a plain chat pays nothing."""

from __future__ import annotations

from app.core.chat.steps import StoredStep


class AskParts:
    def _init_ask(self) -> None:
        self.citations: list[dict] = []
        self.steps_view = None  # StepsView, once the message has a step
        self.sources = None  # SourcesRow, once it has a citation

    def cited(self) -> set[int]:
        from app.gui.chat.sources import numbered

        return set(numbered(self.citations)) if self.citations else set()

    def set_steps(self, done: list[StoredStep], running: tuple[str, dict] | None = None, hint=None) -> None:
        """The finished steps and the one running (tool, arguments); rows are added, never rebuilt."""
        if self.steps_view is None:
            if not done and running is None:
                return
            from app.gui.chat.steps_view import StepsView

            self.steps_view = StepsView()
            self.steps_view.result_opened.connect(self.result_opened)
            layout = self.layout()
            layout.insertWidget(layout.indexOf(self.body), self.steps_view)
        self.steps_view.show_steps(done, running, hint)

    def set_citations(self, citations: list[dict]) -> None:
        self.citations = list(citations)
        if self.sources is None and self.citations:
            from app.gui.chat.sources import SourcesRow

            self.sources = SourcesRow()
            self.sources.result_opened.connect(self.result_opened)
            layout = self.layout()
            layout.insertWidget(layout.indexOf(self.body) + 1, self.sources)
        if self.sources is not None:
            self.sources.set_citations(self.citations)
        self.body.set_markdown(self.text, self.cited())

    def _open_citation(self, number: int) -> None:
        from app.gui.chat.sources import numbered

        cited = numbered(self.citations).get(number)
        if cited is not None:
            self.result_opened.emit(cited)
