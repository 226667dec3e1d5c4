"""Chat defects from #14: quitting mid-reply, cards overflowing, stale notices, the draft, Tab."""

import threading

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from app.core.chat.history import ChatHistory
from app.gui.chat.message_view import MessageWidget


def _send(qtbot, pane, text):
    pane.input.setFocus()
    qtbot.keyClicks(pane.input, text)
    qtbot.keyClick(pane.input, Qt.Key.Key_Return)


def _reported(caplog) -> list[str]:
    """Errors handed to the reporter (each is logged at once; its dialog follows through the event loop)."""
    return [r.getMessage() for r in caplog.records if r.name == "app.errors"]


@pytest.mark.slow
def test_quit_during_a_reply_stops_saves_and_closes_without_an_error(qtbot, starter_store, window, caplog):
    chat = window.panes["chat"]
    window.show_pane("chat")
    chat.settings_panel.max_tokens.setValue(1500)
    _send(qtbot, chat, "Write a very long story about a lighthouse keeper.")
    job = chat.job
    qtbot.waitUntil(lambda: len(chat.view.widgets[-1].text) > 20, timeout=60000)
    cid = chat.conversation_id
    with qtbot.waitSignal(window.closed, timeout=30000):
        window.close()
    qtbot.waitUntil(lambda: job.done, timeout=10000)
    assert _reported(caplog) == [], "no 'closed database' dialog after the window has gone"
    assert not chat.chat.worker.running()
    msgs = ChatHistory().messages(cid)
    assert [m.role for m in msgs] == ["user", "assistant"]
    assert msgs[1].incomplete and msgs[1].content, "the partial reply was saved"


@pytest.mark.slow
def test_quit_just_after_a_reply_closes_cleanly(qtbot, starter_store, window, caplog):
    chat = window.panes["chat"]
    chat.settings_panel.max_tokens.setValue(4)
    _send(qtbot, chat, "Hi")
    job = chat.job
    # Close once the worker has sent the outcome, before the GUI thread has handled it: the GUI
    # thread waits on the event without turning the event loop, so the outcome is still queued.
    sent = threading.Event()
    job._outcome.connect(lambda *a: sent.set(), Qt.ConnectionType.DirectConnection)
    assert sent.wait(60)
    assert not job.done
    with qtbot.waitSignal(window.closed, timeout=30000):
        window.close()
    qtbot.waitUntil(lambda: job.done, timeout=10000)
    assert _reported(caplog) == []
    assert ChatHistory().messages(chat.conversation_id)[-1].role == "assistant"


def _inside(widget, viewport) -> bool:
    top_left = widget.mapTo(viewport, QPoint(0, 0))
    return top_left.x() >= 0 and top_left.x() + widget.width() <= viewport.width()


def test_message_cards_wrap_to_the_view_at_the_smallest_size(qtbot, window):
    window.resize(1024, 640)
    window.show_pane("chat")
    chat = window.panes["chat"]
    chat.settings_toggle.setChecked(True)  # the settings column takes width from the conversation
    long_word = "Supercalifragilistic" * 12
    user = chat.view.add(MessageWidget(1, "user", f"Please explain {long_word} to me"))
    reply = chat.view.add(MessageWidget(2, "assistant", "Sure:\n\n```text\n" + "x = 1; " * 80 + "\n```\n"))
    reply.set_stats({"model": "a-model-with-a-rather-long-name-q4_k_m", "completion_tokens": 1234,
                     "tokens_per_second": 55.5, "time_to_first_token_s": 0.25}, incomplete=True)
    for size in ((1024, 640), (800, 600), (1920, 1080)):
        window.resize(*size)
        qtbot.waitUntil(lambda: reply.body.code_blocks()[0].view.horizontalScrollBar().maximum() > 0)
        QApplication.processEvents()
        viewport = chat.view.viewport()
        assert chat.view.horizontalScrollBar().maximum() == 0, f"no sideways scrolling at {size}"
        for card in (user, reply):
            assert _inside(card, viewport), f"card inside the view at {size}"
            for b in card.actions:
                assert b.isVisible() and _inside(b, viewport), f"{b.accessibleName()} visible at {size}"
        assert "incomplete" in reply.stats.text()


@pytest.mark.slow
def test_notices_clear_when_their_state_ends(qtbot, starter_store, window):
    chat = window.panes["chat"]
    chat.settings_panel.max_tokens.setValue(6)
    _send(qtbot, chat, "Hello")
    qtbot.waitUntil(lambda: chat.job.done, timeout=60000)
    user = chat.view.widgets[0]
    qtbot.mouseClick(user.edit_button, Qt.MouseButton.LeftButton)
    assert chat.notice.text().startswith("Editing a sent message")
    qtbot.keyClick(chat.input, Qt.Key.Key_Escape)
    assert chat.editing_id is None and chat.notice.text() == "", "Esc cancels the edit and its notice"
    qtbot.mouseClick(user.edit_button, Qt.MouseButton.LeftButton)
    chat.input.selectAll()
    qtbot.keyClicks(chat.input, "Hello again")
    seen_thinking_with_text = []
    chat.job = None

    def watch(text):
        w = chat.view.widgets[-1]
        if text and w.stats.text() == "thinking…":
            seen_thinking_with_text.append(text)

    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    assert not chat.notice.text().startswith("Editing"), "the edit notice ends when the edit is sent"
    chat.job.progress.connect(watch)
    qtbot.waitUntil(lambda: chat.job.done, timeout=60000)
    assert seen_thinking_with_text == [], "thinking… goes once tokens arrive"
    assert "thinking" not in chat.view.widgets[-1].stats.text()


@pytest.mark.slow
def test_load_failure_replaces_the_will_use_line(qtbot, window, tmp_path, gemma_path):
    import shutil

    from app.core.models.store import ModelStore

    bad = tmp_path / "broken.gguf"
    shutil.copy(gemma_path, bad)
    ModelStore().import_path(bad, "chat", "broken", mode="link")
    with open(bad, "r+b") as fh:  # damaged after import
        fh.truncate(10_000_000)
    chat = window.panes["chat"]
    chat.picker.refresh()
    chat.picker.combo.setCurrentIndex(chat.picker.combo.findData("broken"))
    assert chat.picker.status.text() == "Will use broken."
    _send(qtbot, chat, "hi")
    qtbot.waitUntil(lambda: chat.loaded_model is None and "Could not" in chat.picker.status.text(),
                    timeout=30000)
    assert "Will use" not in chat.picker.status.text()


def test_the_draft_survives_a_crash(qtbot, open_window):
    first = open_window()
    chat = first.panes["chat"]
    chat.input.setFocus()
    qtbot.keyClicks(chat.input, "half a thought about lighthouses")
    from app.gui.chat.pane import draft_file

    qtbot.waitUntil(lambda: draft_file().exists() and "lighthouses" in draft_file().read_text(), timeout=5000)
    # A crash: no close, no shutdown. The next start finds the draft.
    second = open_window()
    assert second.panes["chat"].input.toPlainText() == "half a thought about lighthouses"
    first.stop_workers()
    second.stop_workers()


def test_tab_moves_focus_and_shift_enter_adds_a_line(qtbot, window):
    chat = window.panes["chat"]
    window.show_pane("chat")
    chat.input.setFocus()
    qtbot.waitUntil(chat.input.hasFocus)
    qtbot.keyClicks(chat.input, "one")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(chat.input, "two")
    qtbot.keyClick(chat.input, Qt.Key.Key_Tab)
    assert chat.input.toPlainText() == "one\ntwo", "Tab types no tab character"
    assert QApplication.focusWidget() is chat.send_button, "Tab goes on to Send"
    qtbot.keyClick(chat.send_button, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert QApplication.focusWidget() is chat.input
    chain, w = [], chat.picker.combo
    for _ in range(14):
        chain.append(w)
        w = w.nextInFocusChain()
        while not (w.focusPolicy() & Qt.FocusPolicy.TabFocus) or not w.isVisibleTo(window):
            w = w.nextInFocusChain()
    order = [chat.sidebar.search, chat.input, chat.send_button]
    positions = [chain.index(x) for x in order if x in chain]
    assert positions == sorted(positions) and len(positions) == 3, "search, then the message, then Send"
