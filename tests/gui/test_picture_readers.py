"""Qt decodes a picture file only with the reader the core's allow-list names (issue 22, item 1): its own
PDF and SVG plug-ins, chosen by content whatever a file is called, never see a "picture"."""

from PIL import Image

from app.gui.images.preview import PreviewDialog
from app.gui.images.results import ResultsModel


def _thumbnail(qtbot, model: ResultsModel, path: str):
    with qtbot.waitSignal(model.thumbnail_ready, timeout=10000) as blocker:
        model.request_thumbnail(path)
    assert blocker.args[0] == path
    return blocker.args[1]


def test_thumbnails_and_previews_refuse_pdf_and_svg_named_as_pictures(qtbot, hearth_home, tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (200, 100), (200, 30, 30)).save(photo, "JPEG")
    pdf = tmp_path / "holiday.jpg"
    Image.new("RGB", (200, 100), (30, 30, 200)).save(pdf, "PDF")  # Qt's PDF plug-in renders this
    svg = tmp_path / "drawing.png"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
                   '<rect width="40" height="40" fill="red"/></svg>')
    model = ResultsModel()
    assert not _thumbnail(qtbot, model, str(photo)).isNull(), "a real picture still gets its thumbnail"
    assert _thumbnail(qtbot, model, str(pdf)).isNull(), "a PDF called .jpg was rendered"
    assert _thumbnail(qtbot, model, str(svg)).isNull(), "an SVG called .png was rendered"
    for path in (pdf, svg):
        dialog = PreviewDialog(str(path))
        qtbot.addWidget(dialog)
        assert dialog.picture.pixmap().isNull()
        assert dialog.picture.text() == "This file is not a picture Hearth can show."
    dialog = PreviewDialog(str(photo))
    qtbot.addWidget(dialog)
    assert not dialog.picture.pixmap().isNull()
