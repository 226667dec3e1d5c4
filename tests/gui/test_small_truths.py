"""Small things the first minutes show (#24): each says what is true."""

from PySide6.QtCore import Qt

from tests.gui.test_vision_chat_pane import vision_store  # noqa: F401 - the starter Gemma and a model that sees


def test_a_suggested_export_name_is_not_cut_mid_word():
    from app.gui.dialogs.export import clean_name

    title = "What is the capital of France and why is it so famous among travellers from everywhere"
    assert title[41] not in " ."  # 42 characters end inside a word ("it")
    name = clean_name(title, limit=42)
    assert name == "What is the capital of France and why is" and title[len(name)] == " ", name


def test_the_chat_picker_says_which_models_see_and_which_only_continue_text(qtbot, vision_store, window):  # noqa: F811
    combo = window.panes["chat"].picker.combo
    texts = {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}
    assert "sees pictures" in texts["tiny-vision"] and "base model" not in texts["tiny-vision"]
    assert "base model: continues text" in texts["gemma-3-270m-q4_k_m"] and "sees" not in texts["gemma-3-270m-q4_k_m"]


def test_a_reply_cut_by_the_token_limit_says_so(qtbot, starter_store, window):
    chat = window.panes["chat"]
    window.show_pane("chat")
    chat.settings_panel.max_tokens.setValue(4)
    chat.settings_panel.seed.setText("3")
    chat.input.setFocus()
    qtbot.keyClicks(chat.input, "Once upon a time, in a small village by the sea, there lived")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: chat.job is not None and chat.job.done, timeout=60000)
    status = chat.view.widgets[-1].stats.text()
    assert "cut at the token limit" in status, status
