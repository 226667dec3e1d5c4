"""The chat sees, in the window (#12): attach, drop, paste, thumbnails, "Ask in chat", a blind model."""

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog

from app.core.chat.history import ChatHistory
from app.core.models.store import ModelStore
from app.core.settings import load_settings, save_settings
from tests.helpers import drop_files
from tests.vision import MMPROJ, MODEL, bad_pictures, gradient_png, red_png, write


@pytest.fixture
def vision_store(starter_store):
    """The starter (text-only) Gemma and the tiny vision model, the vision one chosen."""
    ModelStore().import_path(MODEL, "chat", "tiny-vision", projector=MMPROJ)
    settings = load_settings()
    settings.default_models["chat"] = "tiny-vision"
    save_settings(settings)
    return starter_store


@pytest.fixture
def seeing(qtbot, vision_store, window):
    window.show_pane("chat")
    pane = window.panes["chat"]
    assert pane.picker.current() == "tiny-vision"
    pane.settings_panel.seed.setText("3")
    pane.settings_panel.max_tokens.setValue(6)
    qtbot.waitUntil(lambda: pane.sees)
    return pane


def _send(qtbot, pane, text):
    pane.input.setFocus()
    qtbot.keyClicks(pane.input, text)
    qtbot.keyClick(pane.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: pane.job is not None and pane.job.done, timeout=60000)
    return ChatHistory().messages(pane.conversation_id)


class _Opened(QObject):
    def __init__(self):
        super().__init__()
        self.urls = []

    @Slot(QUrl)
    def open(self, url):
        self.urls.append(url)


def test_attach_button_puts_a_picture_in_the_message_and_its_thumbnail_opens(qtbot, seeing, tmp_path, monkeypatch):
    pane = seeing
    red = write(tmp_path / "red.png", red_png())
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(red)], ""))  # the native dialog
    assert pane.attach_button.isEnabled()
    qtbot.mouseClick(pane.attach_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(pane.tray.pictures) == 1)
    assert pane.tray.isVisible() and pane.tray.pictures[0].name == "red.png"
    user, reply = _send(qtbot, pane, "What is it?")
    assert [a.name for a in user.attachments] == ["red.png"] and reply.content is not None
    assert pane.tray.pictures == [] and not pane.tray.isVisible()
    assert "16 image tokens" in pane.view.widgets[-1].stats.text()
    shown = pane.view.widgets[-2].findChildren(type(pane.attach_button).__mro__[1], "messagePicture")
    assert len(shown) == 1
    opened = _Opened()
    QDesktopServices.setUrlHandler("file", opened, "open")
    try:
        qtbot.mouseClick(shown[0], Qt.MouseButton.LeftButton)
    finally:
        QDesktopServices.unsetUrlHandler("file")
    from app.core.chat.pictures import PictureStore

    assert opened.urls == [QUrl.fromLocalFile(str(PictureStore().path_of(user.attachments[0].sha256)))]


def test_a_removed_thumbnail_is_not_sent(qtbot, seeing, tmp_path):
    pane = seeing
    red, grad = write(tmp_path / "red.png", red_png()), write(tmp_path / "grad.png", gradient_png())
    assert drop_files(pane.input.viewport(), [red, grad])
    qtbot.waitUntil(lambda: len(pane.tray.pictures) == 2)
    assert pane.input.toPlainText() == ""  # a dropped picture is not typed in as a path
    qtbot.mouseClick(pane.tray.chips[0].remove, Qt.MouseButton.LeftButton)
    [user, _] = _send(qtbot, pane, "Just one")
    assert [a.name for a in user.attachments] == ["grad.png"]


def test_paste_puts_a_picture_in_the_message(qtbot, seeing, tmp_path):
    pane = seeing
    QGuiApplication.clipboard().setImage(QImage(str(write(tmp_path / "g.png", gradient_png()))))
    pane.input.setFocus()
    qtbot.keyClick(pane.input, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(pane.tray.pictures) == 1)
    [user, reply] = _send(qtbot, pane, "And this?")
    assert user.attachments[0].name == "pasted picture" and reply.stats["image_tokens"] == 16


def test_bad_pictures_give_a_clear_message_and_send_nothing(qtbot, seeing, tmp_path):
    pane = seeing
    for kind, path in bad_pictures(tmp_path).items():
        assert drop_files(pane.input.viewport(), [path])
        qtbot.waitUntil(lambda: pane.tray.pending == 0)
        assert f"{path.name} cannot be used as a picture" in pane.notice.text(), kind
        assert pane.tray.pictures == []
    assert pane.conversation_id is None  # nothing was sent


@pytest.mark.slow
def test_a_text_only_model_refuses_pictures_with_its_reason(qtbot, vision_store, window, tmp_path):
    window.show_pane("chat")
    pane = window.panes["chat"]
    pane.picker.combo.setCurrentIndex(pane.picker.combo.findData("gemma-3-270m-q4_k_m"))
    assert not pane.sees and pane.attach_button.isEnabled(), "attach still takes documents (#25)"
    reason = pane.attach_button.toolTip()
    assert reason.startswith("Attach documents")
    assert "gemma-3-270m-q4_k_m cannot see pictures" in reason and "Models page" in reason
    assert "SmolVLM 500M Instruct" in reason  # the smallest vision model fits any machine that runs the tests
    drop_files(pane.input.viewport(), [write(tmp_path / "red.png", red_png())])
    assert "cannot see pictures" in pane.notice.text() and pane.tray.pending == 0 and pane.tray.pictures == []
    pane.picker.combo.setCurrentIndex(pane.picker.combo.findData("tiny-vision"))
    assert pane.sees and pane.attach_button.isEnabled()


def test_ask_in_chat_from_the_images_pane_arrives_with_the_pictures(qtbot, vision_store, clip_store, window,
                                                                  tmp_path):
    from tests.helpers import photo_library

    images = window.panes["images"]
    window.show_pane("images")
    photo_library(tmp_path / "photos", per_class=1)
    with qtbot.waitSignal(images.index_finished, timeout=60000):
        assert drop_files(images, [tmp_path / "photos"])
    images.query.setText("a red star")
    with qtbot.waitSignal(images.results_ready, timeout=30000):
        qtbot.keyClick(images.query, Qt.Key.Key_Return)
    assert not images.ask_button.isEnabled()
    grid = images.grid
    grid.selectionModel().select(images.results.index(0), grid.selectionModel().SelectionFlag.Select)
    grid.selectionModel().select(images.results.index(1), grid.selectionModel().SelectionFlag.Select)
    chosen = images.selected_paths()
    assert len(chosen) == 2 and images.ask_button.isEnabled()
    qtbot.mouseClick(images.ask_button, Qt.MouseButton.LeftButton)
    chat = window.panes["chat"]
    assert window.stack.currentWidget().widget() is chat
    qtbot.waitUntil(lambda: len(chat.tray.pictures) == 2, timeout=10000)
    assert sorted(p.name for p in chat.tray.pictures) == sorted(p.split("/")[-1] for p in chosen)
    chat.tray.clear()
    window.show_pane("images")
    third = images.results.index(2)  # right-click on a result outside the selection: that one alone
    ask = images.menu_at(grid.visualRect(third).center()).actions()[0]
    assert ask.text() == "Ask in chat"
    ask.trigger()
    qtbot.waitUntil(lambda: len(chat.tray.pictures) == 1, timeout=10000)
    assert chat.tray.pictures[0].name == images.results.data(third, images.results.PathRole).split("/")[-1]


def test_a_picture_taken_out_before_sending_leaves_no_file(qtbot, seeing, tmp_path):
    from app.core.chat.pictures import PictureStore

    pane = seeing
    assert drop_files(pane.input.viewport(), [write(tmp_path / "red.png", red_png())])
    qtbot.waitUntil(lambda: len(pane.tray.pictures) == 1)
    sha = pane.tray.pictures[0].sha256
    assert PictureStore().exists(sha)  # stored by the pictures worker, so Send writes no file
    qtbot.mouseClick(pane.tray.chips[0].remove, Qt.MouseButton.LeftButton)
    assert not PictureStore().exists(sha)


def test_the_models_page_imports_a_model_with_its_projector(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    from tests.vision import mismatched_projector

    page = window.panes["models"]
    window.show_pane("models")
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("Copy into Hearth's folder", True))
    wrong = mismatched_projector(tmp_path / "mmproj-other.gguf")
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(wrong), str(MODEL)], ""))
    qtbot.mouseClick(page.import_file, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Could not import" in page.message.text(), timeout=20000)
    assert "embedding size is 128 but the model's is 64" in page.message.text() and ModelStore().list() == []
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(MMPROJ), str(MODEL)], ""))
    qtbot.mouseClick(page.import_file, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Imported" in page.message.text(), timeout=20000)
    [entry] = ModelStore().list()
    assert entry.sees and ModelStore().projector_of(entry).read_bytes() == MMPROJ.read_bytes()


def test_a_sent_picture_is_shown_from_its_thumbnail_not_decoded_whole(qtbot, seeing, tmp_path):
    """Send used to read the stored picture whole with Qt's decoder on the GUI thread (and the tray
    decoded it whole again): ~30-60 ms each, while Qt's decoder holds Python's lock. Both now show the
    thumbnail made on the pictures' worker."""
    from PIL import Image

    from app.core.chat.pictures import THUMB_SIDE

    photo = tmp_path / "wide.jpg"
    Image.new("RGB", (1000, 500), (200, 40, 20)).save(photo, quality=95)
    seeing.tray.side = 1000  # as for a real projector; the tiny one takes 64 px pictures
    assert pane_attach(qtbot, seeing, photo)
    chip = seeing.tray.chips[0]
    _send(qtbot, seeing, "What is it?")
    shown = seeing.view.widgets[-2].findChildren(type(seeing.attach_button).__mro__[1], "messagePicture")
    assert len(shown) == 1
    sizes = shown[0].icon().availableSizes()
    assert sizes and max(max(s.width(), s.height()) for s in sizes) == THUMB_SIDE, sizes
    image = shown[0].icon().pixmap(96, 48).toImage()
    colour = image.pixelColor(image.width() // 2, image.height() // 2)
    assert (abs(colour.red() - 200), abs(colour.green() - 40), abs(colour.blue() - 20)) < (10, 10, 10)
    assert chip.thumb and len(chip.thumb) < 20_000


def pane_attach(qtbot, pane, path) -> bool:
    ok = pane.attach_files([path])
    qtbot.waitUntil(lambda: len(pane.tray.pictures) == 1)
    return ok
