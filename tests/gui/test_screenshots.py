"""scripts/screenshots.py writes every pane, light and dark, at every layout size, offscreen (#14)."""

import os
import subprocess
import sys

import pytest
from PySide6.QtGui import QImage

from app.core.settings import PANES
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # it renders every pane in both themes


def test_the_screenshot_script_writes_every_pane_in_both_themes_and_every_size(tmp_path, starter_home):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from screenshots import SIZES
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    out = tmp_path / "shots"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TMPDIR=str(tmp_path), HEARTH_STARTER_HOME=str(starter_home))
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshots.py"), str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    names = {p.name for p in out.glob("*.png")}
    expected = {f"{prefix}{view}-{scheme}-{w}x{h}.png" for prefix in ("", "empty-") for view in PANES
                for scheme in ("light", "dark") for w, h in SIZES}
    expected |= {f"{view}-{scheme}-{w}x{h}.png" for view in ("chat-settings", "images-picture", "chat-ask")
                 for scheme in ("light", "dark") for w, h in SIZES}
    expected |= {f"settings-dialog-{scheme}.png" for scheme in ("light", "dark")}
    assert names == expected, (sorted(expected - names), sorted(names - expected))
    for w, h in SIZES:
        image = QImage(str(out / f"chat-dark-{w}x{h}.png"))
        assert (image.width(), image.height()) == (w, h)
    light, dark = QImage(str(out / "chat-light-1024x640.png")), QImage(str(out / "chat-dark-1024x640.png"))
    assert light.pixelColor(600, 630).lightness() > dark.pixelColor(600, 630).lightness(), "the themes differ"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("hearth-shots-")], "its home is removed"
