"""The Models pane says how its speed estimates were made, and a real run in the Speech or Images
pane turns the rough guess into a measurement of this machine (#14, "Fits this computer?")."""

import pytest
from PySide6.QtCore import Qt

from app.core.models import speed
from tests.core.test_speed_measured import cpu_only  # noqa: F401 - engines open on the CPU
from tests.helpers import SPEECH_TEXT, drop_files, photo_library, speak


def _models_tab(window, qtbot, kind):
    window.show_pane("models")
    models = window.panes["models"]
    qtbot.waitUntil(lambda: models.hardware is not None, timeout=20000)
    models.filters.set_kind(kind)
    return models


def _fit_cell(models, kind, model_id):
    """The fit and speed line on the model's card (its tooltip says how the speed was estimated)."""
    assert models.browser.row_of(model_id).kind == kind
    return models.browser.card(model_id).fit_label


@pytest.mark.slow
def test_a_transcription_in_the_speech_pane_calibrates_the_speech_estimates(qtbot, starter_store, cpu_only,  # noqa: F811
                                                                            window, tmp_path):
    models = _models_tab(window, qtbot, "speech")
    assert "rough guess" in models.speed_basis.text() and "transcribe a file" in models.speed_basis.text()
    window.show_pane("speech")
    pane = window.panes["speech"]
    pane.language.setCurrentText("en")
    pane.add_files([speak((SPEECH_TEXT + " ") * 2, tmp_path / "long.wav")])  # about 19 s
    qtbot.mouseClick(pane.transcribe_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.job is not None and pane.job.done, timeout=120000)
    assert pane.job.outcome == "succeeded"
    cal = speed.load_calibration()["speech"]
    models = _models_tab(window, qtbot, "speech")
    assert models.speed_basis.text() == f"Speed estimates: {speed.basis('speech', models.hardware)}."
    assert "whisper-base's measured" in models.speed_basis.text()
    large = next(e for e in models.catalog() if e.id == "whisper-large-v3")
    estimate = speed.estimate("speech", large.size, models.hardware)
    cell = _fit_cell(models, "speech", "whisper-large-v3")
    assert estimate.text() in cell.text() and "measured" in cell.toolTip()
    assert estimate.value > cal["value"], "a bigger model is estimated slower than the one measured"
    best = speed.recommend(models.catalog(), models.hardware, "speech")  # the largest comfortably fast one
    marked = [r.id for r in models.browser.rows if r.kind == "speech" and "recommended here" in r.fit]
    assert marked == ([best.id] if best else [])


def test_an_index_run_in_the_images_pane_calibrates_the_image_estimates(qtbot, clip_store, cpu_only,  # noqa: F811
                                                                        window, tmp_path):
    models = _models_tab(window, qtbot, "images")
    assert "rough guess" in models.speed_basis.text()
    window.show_pane("images")
    pane = window.panes["images"]
    photo_library(tmp_path / "photos", per_class=1)  # 20 pictures
    with qtbot.waitSignal(pane.index_finished, timeout=60000):
        assert drop_files(pane, [tmp_path / "photos"])
    assert pane.last_summary.embedded == 20
    models = _models_tab(window, qtbot, "images")
    assert "tiny-clip's measured" in models.speed_basis.text()
    vit = next(e for e in models.catalog() if e.id == "clip-vit-b-32-laion2b")
    cell = _fit_cell(models, "images", vit.id)
    assert speed.estimate("images", vit.size, models.hardware).text() in cell.text()
    assert "tiny-clip's measured" in cell.toolTip()
