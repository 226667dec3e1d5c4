import logging
import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from app.core import paths
from app.gui.errors import reporter


@pytest.fixture
def fresh_reporter():
    rep = reporter()
    if rep.dialog is not None:
        rep.dialog.close()
    rep.dialog, rep.count = None, 0
    yield rep
    if rep.dialog is not None:
        rep.dialog.close()


def _log_text() -> str:
    for h in logging.getLogger().handlers:
        h.flush()
    return paths.log_file().read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def logging_to_home(hearth_home):
    from app.core.logs import setup_logging

    setup_logging()
    yield
    root = logging.getLogger()
    for h in list(root.handlers):
        if str(hearth_home) in getattr(h, "baseFilename", ""):
            root.removeHandler(h)
            h.close()


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_slot_shows_dialog_logs_and_app_lives(qtbot, window, fresh_reporter):
    button = QPushButton("boom", window)
    button.setAccessibleName("boom")

    def explode():
        raise ValueError("slot went wrong")

    button.clicked.connect(explode)
    button.show()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: fresh_reporter.dialog is not None and fresh_reporter.dialog.isVisible(), timeout=5000)
    assert "slot went wrong" in fresh_reporter.dialog.message.text()
    assert "explode" in fresh_reporter.dialog.details.toPlainText()
    assert "ValueError: slot went wrong" in _log_text()
    # The app is still alive: the window still answers input.
    rect = window.nav.visualItemRect(window.nav.item(window.nav.count() - 1))  # the last pane: Models
    qtbot.mouseClick(window.nav.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.current_pane() == "models" and window.isVisible()


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_thread_shows_dialog_and_logs(qtbot, window, fresh_reporter):
    def work():
        raise RuntimeError("worker thread went wrong")

    t = threading.Thread(target=work, name="test-worker")
    t.start()
    t.join()
    qtbot.waitUntil(lambda: fresh_reporter.dialog is not None and fresh_reporter.dialog.isVisible(), timeout=5000)
    assert "worker thread went wrong" in fresh_reporter.dialog.message.text()
    assert "test-worker" in fresh_reporter.dialog.message.text()
    assert "RuntimeError: worker thread went wrong" in _log_text()
    assert window.isVisible()


@pytest.mark.qt_no_exception_capture
def test_unexpected_error_in_a_worker_job_reaches_the_dialog(qtbot, window, fresh_reporter):
    def job(token, report):
        raise KeyError("job went wrong")

    j = window.worker.submit(job)
    qtbot.waitUntil(lambda: j.done, timeout=5000)
    qtbot.waitUntil(lambda: fresh_reporter.dialog is not None and fresh_reporter.dialog.isVisible(), timeout=5000)
    assert "job went wrong" in fresh_reporter.dialog.message.text()
    # A burst of errors goes into the same dialog.
    j2 = window.worker.submit(job)
    qtbot.waitUntil(lambda: j2.done, timeout=5000)
    qtbot.waitUntil(lambda: fresh_reporter.count == 2, timeout=5000)
    assert fresh_reporter.dialog.details.toPlainText().count("KeyError") >= 2
