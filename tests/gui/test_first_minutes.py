"""The first five minutes (#24): what a new user meets first does what it says."""

from PySide6.QtCore import Qt

from tests.gui.test_images_pane import images  # noqa: F401 - the indexed library fixture
from tests.helpers import drop_files


def test_a_picture_dropped_on_the_search_field_searches_by_it(qtbot, images):  # noqa: F811
    pane, lib = images
    target = lib["red star"][0]
    with qtbot.waitSignal(pane.results_ready, timeout=30000):
        assert drop_files(pane.query, [target], with_text=True)  # the field says "drop one here"
    assert pane.query.text() == ""  # not its file:// address typed in
    assert pane.results.data(pane.results.index(0), pane.results.PathRole) == str(target)
    qtbot.waitUntil(pane.query_picture.isVisible, timeout=10000)


def test_the_chat_card_stops_saying_no_model_once_one_is_imported(qtbot, window, tmp_path):
    from tests.helpers import make_gguf

    chat, models = window.panes["chat"], window.panes["models"]
    window.show_pane("chat")
    qtbot.waitUntil(chat.first_run.isVisible)
    assert "No chat model yet" in chat.first_run_text.text()
    gguf = make_gguf(tmp_path / "my-model.gguf")
    with qtbot.waitSignal(models.store_changed, timeout=30000):
        models.start_import(str(gguf), "chat", "copy")
    assert chat.picker.current() == "my-model"
    assert not chat.first_run.isVisible(), "the picker shows a model: the card must not say there is none"
