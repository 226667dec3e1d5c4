"""An unexpected failure (not one of Hearth's own errors) in a pane's job: the pane says in words what
failed and where the details are, never the exception's repr; the log has the traceback. Each job runs on
the pane's own worker thread and fails there, reaching the pane's own failure slot as a real one would."""

import logging

import pytest


def _unparseable(cancel, progress):
    return int("not a number")  # a real ValueError, raised on the worker thread


@pytest.fixture
def closed_dialogs():
    """The Chat and Speech panes also hand an unexpected error to the app's error dialog: closed after."""
    from app.gui.errors import reporter

    yield
    rep = reporter()
    if rep.dialog is not None:
        rep.dialog.close()


def _check(text: str, what: str, caplog) -> None:
    assert what in text, text
    for raw in ("ValueError", "Error(", "Traceback", "invalid literal", "not a number"):
        assert raw not in text, f"raw exception text {raw!r} shown: {text}"
    assert "Help > Open log folder" in text, "says where the details are"
    logged = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], ValueError)]
    assert logged, "the traceback is logged"
    assert "_unparseable" in logging.Formatter().formatException(logged[0].exc_info)


def test_an_unexpected_transcription_failure_is_told_in_words(qtbot, window, tmp_path, caplog, closed_dialogs):
    speech = window.panes["speech"]
    path = tmp_path / "talk.wav"
    path.write_bytes(b"RIFF")
    speech.current_file = str(path)  # as start_queue sets them for the file it starts
    speech.running = speech.store.new(path.name)
    speech.job = speech.speech.submit(_unparseable, name="transcribe", on_error=speech._on_failed)
    qtbot.waitUntil(lambda: speech.job.done, timeout=10000)
    text = speech.message.text()
    assert text.startswith("talk.wav: ")
    _check(text, "transcription stopped", caplog)
    assert "ValueError" not in speech.running.error and "Open log folder" in speech.running.error


def test_an_unexpected_reply_failure_is_told_in_words(qtbot, window, caplog, closed_dialogs):
    chat = window.panes["chat"]
    chat.job = chat.chat.submit(_unparseable, name="generate", on_error=chat._on_failed)
    qtbot.waitUntil(lambda: chat.job.done, timeout=10000)
    _check(chat.notice.text(), "The reply failed", caplog)


def test_an_unexpected_search_failure_is_told_in_words(qtbot, window, caplog):
    images = window.panes["images"]
    with qtbot.waitSignal(images.results_ready, timeout=10000) as blocker:
        images.search_job = images.images.submit(_unparseable, name="search", on_error=images._search_failed)
    assert blocker.args == [-1]
    _check(images.message.text(), "search failed", caplog)
