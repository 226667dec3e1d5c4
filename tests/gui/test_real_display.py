"""Hearth's window on a real X server with a window manager (#24.5, #24.4): the suite's offscreen
screenshots never showed the pane list crammed at start, nor a window larger than a small screen."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
# Xvfb, openbox and xprop come with scripts/test (Debian's xvfb, openbox, x11-utils).



class Display:
    """An Xvfb screen of the given size with openbox managing it."""

    def __init__(self, size: str):
        read, write = os.pipe()
        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{size}x24",
                                      "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as fh:
            self.name = ":" + fh.readline().strip()
        self.env = dict(os.environ, DISPLAY=self.name, QT_QPA_PLATFORM="xcb")
        self.wm = subprocess.Popen(["openbox"], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._managed, timeout=30, what="openbox to manage the screen")

    def _managed(self) -> bool:
        out = subprocess.run(["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"], env=self.env, capture_output=True,
                             text=True).stdout
        return "window id" in out

    def run(self, home: Path, *args: str) -> dict:
        env = dict(self.env, HEARTH_HOME=str(home), PYTHONPATH=str(ROOT))
        done = subprocess.run([sys.executable, str(ROOT / "tests" / "gui" / "xcb_probe.py"), *args], env=env,
                              capture_output=True, text=True, timeout=120, cwd=ROOT)
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        assert done.returncode == 0 and lines, done.stdout + done.stderr
        return json.loads(lines[-1])

    def close(self) -> None:
        for proc in (self.wm, self.xvfb):
            proc.terminate()
            proc.wait(10)


@pytest.fixture
def display(request):
    displays = []

    def make(size: str) -> Display:
        displays.append(Display(size))
        return displays[-1]

    yield make
    for d in displays:
        d.close()


def _inside(rect, area) -> bool:
    x, y, w, h = rect
    ax, ay, aw, ah = area
    return ax <= x and ay <= y and x + w <= ax + aw and y + h <= ay + ah


def test_the_pane_list_is_laid_out_and_the_window_fits_a_small_screen(display, tmp_path):
    big = display("1366x768")
    seen = big.run(tmp_path, "close")  # a new user; then the window is closed maximized
    rects = seen["rects"]
    assert all(h >= 30 for _x, _y, _w, h in rects), rects
    for (_x, y, _w, h), (_x2, below, _w2, _h2) in zip(rects, rects[1:], strict=False):
        assert y + h <= below, f"pane list rows overlap: {rects}"
    assert _inside(seen["frame"], seen["avail"]), seen
    small = display("1024x640")
    seen = small.run(tmp_path)  # the same settings, on a smaller screen
    assert seen["maximized"] and _inside(seen["frame"], seen["avail"]), seen
    assert _inside(seen["switch"], seen["avail"]), "the Server switch in the status bar is on the screen"
    assert seen["normal"][2] >= 900 and seen["normal"][3] >= 500, "un-maximizing gives a usable window"
    fresh = display("1024x640")
    seen = fresh.run(tmp_path / "new")  # a new user on the small screen
    assert _inside(seen["frame"], seen["avail"]) and _inside(seen["switch"], seen["avail"]), seen
