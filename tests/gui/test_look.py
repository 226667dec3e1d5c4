"""Look and feel: SVG icons, light/dark themes, the Settings dialog, Help's shortcut list, code blocks."""

import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QGuiApplication, QImage, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import QApplication

from app.core import paths
from app.core.resources import resources_dir
from app.core.settings import Settings, load_settings
from app.gui import theme
from app.gui.chat.message_view import ConversationView, MessageWidget


def _painted_pixels(icon) -> int:
    image = icon.pixmap(24, 24).toImage().convertToFormat(QImage.Format.Format_ARGB32)
    return sum(1 for x in range(image.width()) for y in range(image.height()) if image.pixelColor(x, y).alpha() > 0)


def test_every_ui_icon_is_an_svg_that_draws_in_the_theme_colour(qapp):
    from app.gui.icons import icon

    svgs = sorted((resources_dir() / "icons" / "ui").glob("*.svg"))
    assert len(svgs) >= 15
    for svg in svgs:
        assert _painted_pixels(icon(svg.stem)) > 10, f"{svg.name} draws nothing"
    theme.apply("dark")
    px = icon("mic").pixmap(24, 24).toImage()
    colours = {px.pixelColor(x, y).name() for x in range(px.width()) for y in range(px.height())
               if px.pixelColor(x, y).alpha() == 255}
    assert theme.COLORS["dark"]["text"] in colours
    theme.apply("light")


def test_buttons_carry_icons_not_emoji(qtbot, window):
    chat = window.panes["chat"]
    for button in (chat.mic_button, chat.send_button, chat.stop_button, chat.settings_toggle):
        assert not button.icon().isNull()
        assert all(ord(ch) < 0x2000 for ch in button.text()), f"{button.text()!r} needs an emoji font"
    for row in range(window.nav.count()):
        assert not window.nav.item(row).icon().isNull()


def test_theme_follows_the_system_by_default(qapp):
    assert Settings().theme == "system"
    assert theme.apply("system") == theme.system_scheme()
    assert theme.apply("dark") == "dark"
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 80
    assert theme.apply("light") == "light"
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 200


def test_settings_dialog_sets_theme_and_chat_loading_and_saves(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: getattr(window, "_settings_dialog", None) is not None
                    and window._settings_dialog.isVisible())
    dialog = window._settings_dialog
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.context.setValue(2048)
    dialog.threads.setValue(1)
    dialog.gpu_layers.setValue(0)
    assert dialog.batched.isChecked(), "files are batched by default"
    qtbot.mouseClick(dialog.batched, Qt.MouseButton.LeftButton, pos=dialog.batched.rect().bottomLeft() / 2)
    chat = window.panes["chat"]
    chat.loaded_model = "something-loaded"
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert theme.current() == "dark"
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 80
    saved = json.loads(paths.settings_file().read_text())
    assert (saved["theme"], saved["chat_context"], saved["chat_threads"], saved["chat_gpu_layers"]) == (
        "dark", 2048, 1, 0)
    assert chat.loaded_model is None, "the next message reloads the model with the new options"
    assert saved["speech_batched"] is False and window.panes["speech"].options().batched is False
    s = load_settings()
    assert (s.theme, s.chat_context, s.chat_threads, s.chat_gpu_layers) == ("dark", 2048, 1, 0)
    theme.apply("light")


def test_hostile_settings_values_fall_back_to_defaults(hearth_home):
    paths.settings_file().write_text(json.dumps(
        {"schema_version": 2, "theme": "<script>", "chat_context": -5, "chat_threads": "8", "chat_gpu_layers": True}))
    s = load_settings()
    assert (s.theme, s.chat_context, s.chat_threads, s.chat_gpu_layers) == ("system", 4096, 0, -1)


def test_help_lists_every_shortcut_the_window_has(qtbot, window):
    from app.gui.dialogs.shortcuts import native

    qtbot.keyClick(window, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: getattr(window, "_shortcuts_dialog", None) is not None
                    and window._shortcuts_dialog.isVisible())
    listed = set(window._shortcuts_dialog.keys())
    keys = set()
    for action in window.findChildren(QAction):
        keys.update(s for s in action.shortcuts() if not s.isEmpty())
    for shortcut in window.findChildren(QShortcut):
        keys.add(shortcut.key())
    assert keys, "the window has shortcuts"
    missing = {k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys} - listed
    assert not missing, f"shortcuts not in Help: {missing}"
    for key in ("Ctrl+N", "Ctrl+F", "Esc", "Ctrl+,", "Ctrl+V"):
        assert native(key) in listed


def test_code_block_has_a_label_highlighting_a_visible_copy_button_and_scrolls_itself(qtbot, qapp):
    view = ConversationView()
    view.resize(600, 500)
    qtbot.addWidget(view)
    code = "def greet(name):\n    return 'hello ' + name  # " + "x" * 300
    w = view.add(MessageWidget(1, "assistant", f"Here:\n\n```python\n{code}\n```\n\nDone."))
    view.show()
    qtbot.waitExposed(view)
    block = w.body.code_blocks()[0]
    assert block.label.text() == "python"
    qtbot.waitUntil(lambda: block.view.horizontalScrollBar().maximum() > 0)
    assert view.horizontalScrollBar().maximum() == 0, "the long line scrolls in its block, not the view"
    doc = block.view.document()
    colours, it = set(), doc.begin().begin()
    block_it = doc.begin()
    while block_it.isValid():
        it = block_it.begin()
        while not it.atEnd():
            colours.add(it.fragment().charFormat().foreground().color().name())
            it += 1
        block_it = block_it.next()
    assert len(colours) >= 3, f"highlighted in several colours, got {colours}"
    assert block.copy_button.isVisible()
    corner = block.copy_button.mapTo(view.viewport(), block.copy_button.rect().bottomRight())
    assert view.viewport().rect().contains(corner) or corner.y() > view.viewport().height()
    assert corner.x() <= view.viewport().width()
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(block.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == code


def test_tables_have_borders(qtbot, qapp):
    w = MessageWidget(1, "assistant", "| a | b |\n| --- | --- |\n| 1 | 2 |\n")
    qtbot.addWidget(w)
    doc = w.body.browsers()[0].document()
    frames = [f for f in doc.rootFrame().childFrames() if hasattr(f, "cellAt")]
    assert frames, "a real table"
    assert frames[0].format().border() >= 1


def test_ctrl_n_starts_a_chat_and_ctrl_f_searches_chats_from_any_pane(qtbot, window):
    from app.core.chat.history import ChatHistory

    chat = window.panes["chat"]
    conv = ChatHistory().create("About lighthouses")
    chat.sidebar.refresh(select=conv.id)
    chat.open_conversation(conv.id)
    window.show_pane("models")
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.current_pane() == "chat" and chat.conversation_id is None
    window.show_pane("images")
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.current_pane() == "chat"
    qtbot.waitUntil(chat.sidebar.search.hasFocus)
    qtbot.keyClicks(chat.sidebar.search, "lighthouse")
    assert chat.sidebar.list.count() == 1


def test_the_first_theme_is_guessed_from_the_palette_and_qts_scheme_wins_after_the_paint(
        qtbot, open_window, monkeypatch):
    """Before the first paint the scheme comes from the platform's palette (Qt's colorScheme() would build
    the Qt namespace's enums, 20-60 ms); once painted, the window asks Qt itself and follows it."""
    dark = QPalette()
    dark.setColor(QPalette.ColorRole.Window, QColor("#101010"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#f0f0f0"))
    QApplication.setPalette(dark)  # a platform palette that looks dark, where Qt's scheme (offscreen) is not
    monkeypatch.setitem(theme._state, "palette_set", False)  # as at start-up: no palette of ours yet
    win = open_window(panes=False)
    assert theme.current() == "dark", "the first theme follows the palette's guess"
    qtbot.waitUntil(lambda: bool(win.panes))
    assert theme.current() == theme.system_scheme() == "light"
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 200
