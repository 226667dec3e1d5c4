"""#24 (smaller): a checked box shows a tick, a disabled button looks disabled in both themes, and the
microphone's level meter is a thin bar, not a box that reads as a text field. Checked on pixels."""

import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QPushButton, QStyle, QStyleOptionButton, QVBoxLayout, QWidget

from app.gui import theme
from app.gui.colors import COLORS


def _colours(widget, rect=None) -> set[str]:
    image = widget.grab().toImage()
    if rect is not None:
        image = image.copy(rect)
    return {QColor(image.pixel(x, y)).name() for x in range(image.width()) for y in range(image.height())}


def _near(colours: set[str], target: str, tolerance: int = 40) -> bool:
    t = QColor(target)
    return any(abs(QColor(c).red() - t.red()) + abs(QColor(c).green() - t.green())
               + abs(QColor(c).blue() - t.blue()) <= tolerance for c in colours)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_checked_box_draws_a_tick_on_its_accent(qtbot, qapp, scheme):
    theme.apply(scheme, qapp)
    box = QCheckBox("Serve on this computer")
    qtbot.addWidget(box)
    box.setChecked(True)
    box.show()
    qtbot.waitExposed(box)
    c = COLORS[scheme]
    option = QStyleOptionButton()
    box.initStyleOption(option)
    indicator = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
    seen = _colours(box, indicator.adjusted(2, 2, -2, -2))  # inside the box, not the window around it
    assert _near(seen, c["accent"]), "the filled box"
    assert _near(seen, c["accent_text"], 60), "a tick in the accent's text colour (it was a solid square)"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_disabled_button_is_told_apart_from_an_enabled_one(qtbot, qapp, scheme):
    theme.apply(scheme, qapp)
    holder = QWidget()
    qtbot.addWidget(holder)
    layout = QVBoxLayout(holder)
    on, off = QPushButton("Transcribe"), QPushButton("Transcribe")
    off.setEnabled(False)
    layout.addWidget(on)
    layout.addWidget(off)
    holder.show()
    qtbot.waitExposed(holder)
    c = COLORS[scheme]
    text = QColor(c["text"])
    off_text = QColor(c["disabled"])
    # its label is far dimmer than an enabled label, measured against the window
    window = QColor(c["window"])

    def contrast(a, b):
        return abs(a.lightness() - b.lightness())

    assert contrast(off_text, window) < contrast(text, window) / 2
    assert _colours(on) != _colours(off)


def test_the_level_meter_is_a_thin_bar(qtbot, window):
    speech = window.panes["speech"]
    assert speech.meter.objectName() == "levelMeter"
    assert speech.meter.maximumHeight() <= 8 or speech.meter.sizeHint().height() <= 8 or speech.meter.height() <= 8
