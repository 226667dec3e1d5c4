import subprocess
import sys
import time

from tests.conftest import ROOT

HEAVY = ("torch", "open_clip", "faster_whisper", "llama_cpp", "ctranslate2", "torchvision")
PROBE = f"""
import sys
from app.main import main
code = main(['--self-test'])
print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])
sys.exit(code)
"""


def test_self_test_paints_without_heavy_imports(hearth_home):
    launched = time.time()
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    lived_ms = (time.time() - launched) * 1000
    assert result.returncode == 0, result.stderr
    assert "first paint:" in result.stdout
    ms = int(result.stdout.split("first paint:")[1].split("ms")[0])
    # Counted from the process's own start, so within the time it lived; the kernel's boot time is
    # in whole seconds, so the start may read up to a second early.
    assert 0 < ms <= lived_ms + 1000, (ms, lived_ms)
    assert "HEAVY []" in result.stdout, result.stdout


def test_python_m_app_self_test(hearth_home):
    result = subprocess.run([sys.executable, "-m", "app", "--self-test"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("first paint:")


# What the window has built by its first paint, read in the print that reports it.
BEFORE_PAINT = """
import sys
from PySide6 import QtCore

class Tap:
    def __init__(self, out):
        self.out, self.seen = out, None
    def write(self, text):
        if "first paint" in text and self.seen is None:
            self.seen = {"qt_namespace": "Qt" in vars(QtCore), "svg": "PySide6.QtSvg" in sys.modules,
                         "log_rotation": "logging.handlers" in sys.modules}
        return self.out.write(text)
    def __getattr__(self, name):
        return getattr(self.out, name)

sys.stdout = tap = Tap(sys.stdout)
from app.main import main
code = main(['--self-test'])
print('BEFORE PAINT', tap.seen)
import logging
from logging.handlers import RotatingFileHandler
print('AFTER', [type(h).__name__ for h in logging.getLogger().handlers])
sys.exit(code)
"""


def test_the_first_paint_waits_for_no_qt_namespace_no_icon_drawing_and_no_log_rotation(hearth_home):
    """PySide makes the Qt namespace's ~95 enums at once on first use (20-60 ms here, a third of bare Qt's
    start), the pane list's icons were drawn at ten sizes each (~30 ms), and logging.handlers (for the
    rotating log) costs ~10 ms: all now wait for the paint, and the log rotates from then on."""
    result = subprocess.run([sys.executable, "-c", BEFORE_PAINT], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "BEFORE PAINT {'qt_namespace': False, 'svg': False, 'log_rotation': False}" in result.stdout, \
        result.stdout
    assert "AFTER ['RotatingFileHandler']" in result.stdout, result.stdout
