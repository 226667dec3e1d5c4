import subprocess
import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.core import paths
from app.gui.application import offer_crash_report
from tests.conftest import ROOT

CRASH = (
    "from app.core.logs import enable_crash_capture; enable_crash_capture();"
    "import faulthandler; faulthandler._sigsegv()"
)
NEXT_START = "from app.core.logs import enable_crash_capture; print(enable_crash_capture())"


def test_native_crash_is_captured_and_offered_on_next_start(qtbot, window, hearth_home):
    crashed = subprocess.run([sys.executable, "-c", CRASH], cwd=ROOT, capture_output=True, text=True)
    assert crashed.returncode != 0
    assert "Fatal Python error" in paths.crash_file().read_text()

    found = subprocess.run([sys.executable, "-c", NEXT_START], cwd=ROOT, capture_output=True, text=True)
    assert found.stdout.strip() == str(paths.previous_crash_file())
    report = paths.previous_crash_file()
    assert "Segmentation fault" in report.read_text()

    offer_crash_report(window, report)
    box = window._crash_offer
    assert box.isVisible()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    assert "Segmentation fault" in window._crash_dialog.details.toPlainText()


def test_clean_exit_leaves_nothing_to_offer(hearth_home):
    code = (
        "from app.core.logs import enable_crash_capture, disable_crash_capture;"
        "enable_crash_capture(); disable_crash_capture()"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    found = subprocess.run([sys.executable, "-c", NEXT_START], cwd=ROOT, capture_output=True, text=True)
    assert found.stdout.strip() == "None"
