"""#22.10: one bad row in chat.sqlite3 is shown as damaged; the rest of the Chat pane works."""

import sqlite3

from PySide6.QtCore import Qt

from app.core.chat.history import ChatHistory, default_path


def _row_of(pane, conversation_id):
    for i in range(pane.sidebar.list.count()):
        if pane.sidebar.list.item(i).data(Qt.ItemDataRole.UserRole) == conversation_id:
            return i
    raise AssertionError(f"chat {conversation_id} is not listed")


def test_bad_rows_are_shown_as_damaged_and_the_rest_works(qtbot, open_window):
    history = ChatHistory()
    bad = history.create("Damaged chat")
    history.add_message(bad.id, "user", "first question")
    reply = history.start_reply(bad.id)
    history.finish_reply(reply.id, "a reply with odd stats", {"completion_tokens": 3})
    history.add_message(bad.id, "user", "a message with a picture")
    good = history.create("Fine chat")
    history.add_message(good.id, "user", "all is well")
    history.close()
    # What a hand edit, another tool or a bad disk can leave (the attack's rows).
    db = sqlite3.connect(default_path())
    db.execute("UPDATE conversations SET params = '[1, 2]', title = 42 WHERE id = ?", (bad.id,))
    db.execute("UPDATE messages SET stats = '[\"a\", \"list\"]' WHERE id = ?", (reply.id,))
    last = db.execute("SELECT max(id) FROM messages WHERE conversation_id = ?", (bad.id,)).fetchone()[0]
    db.execute("INSERT INTO attachments (message_id, position, sha256, name) VALUES (?, 0, ?, 'x.png')",
               (last, "../" * 21 + "z"))
    db.commit()
    db.close()


    win = open_window()
    pane = win.panes["chat"]
    assert pane.sidebar.list.count() == 2
    pane.sidebar.list.setCurrentRow(_row_of(pane, bad.id))
    qtbot.waitUntil(lambda: pane.conversation_id == bad.id)
    widgets = pane.view.widgets
    assert [w.text for w in widgets] == ["first question", "a reply with odd stats", "a message with a picture"]
    assert "Damaged" in widgets[1].stats.text() and "statistics" in widgets[1].stats.text()
    assert "Damaged" in widgets[2].stats.text() and "picture" in widgets[2].stats.text()
    assert not widgets[0].stats.isVisibleTo(pane), "the good message says nothing"

    pane.sidebar.list.setCurrentRow(_row_of(pane, good.id))
    qtbot.waitUntil(lambda: pane.conversation_id == good.id)
    assert [w.text for w in pane.view.widgets] == ["all is well"]
    win.close()


def test_saved_settings_and_stats_of_the_wrong_type_fall_back_to_defaults(hearth_home):
    from app.core.chat.engine import SamplingParams

    p = SamplingParams.from_dict({"temperature": "hot", "max_tokens": 1.5, "seed": "x", "top_k": True,
                                  "top_p": float("nan"), "min_p": 0.1})
    assert p == SamplingParams(min_p=0.1)
    assert SamplingParams.from_dict([1, 2]) == SamplingParams()
