"""The GUI suite's guards (threads, Qt warnings) fail a test that breaks the rules."""

import pytest

from tests.helpers import run_inner_pytest

pytestmark = pytest.mark.slow  # it runs a pytest of its own

INNER = '''
import threading

from PySide6.QtCore import QThread, QThreadPool, qWarning

kept = []


def test_leaves_a_qthread_running(qtbot):
    thread = QThread()
    thread.setObjectName("left-behind")
    kept.append(thread)
    thread.start()


def test_stops_its_qthread(qtbot):
    thread = QThread()
    thread.start()
    thread.quit()
    assert thread.wait(5000)


def test_leaves_a_pool_task_running(qtbot):
    QThreadPool.globalInstance().start(lambda: threading.Event().wait(4))


def test_a_qt_warning(qtbot):
    qWarning("something is wrong")


def test_a_known_harmless_qt_warning(qtbot):
    qWarning("This plugin does not support propagateSizeHints()")
'''


def test_the_gui_guards_fail_what_breaks_the_rules_and_pass_the_rest(tmp_path):
    said = run_inner_pytest(tmp_path, INNER, ["tests.conftest", "tests.gui.conftest"],
                            {"QT_QPA_PLATFORM": "offscreen"})
    assert "QThread 'left-behind'" in said["test_leaves_a_qthread_running"]
    assert said["test_stops_its_qthread"] == ""
    assert "QThreadPool task" in said["test_leaves_a_pool_task_running"]
    assert "something is wrong" in said["test_a_qt_warning"]
    assert said["test_a_known_harmless_qt_warning"] == ""
