from PySide6.QtCore import Qt

from app.core.chat.history import SEARCH_LIMIT, ChatHistory
from app.gui.chat.sidebar import ConversationList


def test_a_search_shows_the_newest_matches_and_says_how_many_more(qtbot, tmp_path):
    history = ChatHistory(tmp_path / "chat.sqlite3")
    ids = []
    for n in range(SEARCH_LIMIT + 5):
        c = history.create(f"Chat {n}")
        history.add_message(c.id, "user", "lisbon trams" if n % 2 == 0 else "porto wine")
        ids.append(c.id)
    sidebar = ConversationList(history)
    qtbot.addWidget(sidebar)
    sidebar.refresh()
    assert sidebar.list.count() == len(ids), "no search: every chat"

    def shown():
        return [sidebar.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(sidebar.list.count())]

    sidebar.search.setFocus()
    qtbot.keyClicks(sidebar.search, "lisbon")  # 103 chats match: all shown, no note
    lisbon = [i for n, i in enumerate(ids) if n % 2 == 0][::-1]
    assert shown() == lisbon

    sidebar.search.clear()
    qtbot.keyClicks(sidebar.search, "tram")
    assert shown() == lisbon
    qtbot.keyClicks(sidebar.search, "s")  # each keystroke searches again
    assert shown() == lisbon and sidebar.search.text() == "trams"
    sidebar.search.clear()
    qtbot.keyClicks(sidebar.search, "chat")  # every title: the newest SEARCH_LIMIT, then the count of the rest
    rows = shown()
    assert rows[:-1] == ids[::-1][:SEARCH_LIMIT] and rows[-1] is None
    note = sidebar.list.item(sidebar.list.count() - 1)
    assert note.text() == "5 more: type more to narrow" and not note.flags() & Qt.ItemFlag.ItemIsSelectable
    qtbot.keyClick(sidebar.list, Qt.Key.Key_End)
    assert sidebar.current_id() in ids, "the note cannot be selected"

    sidebar.search.clear()
    qtbot.keyClicks(sidebar.search, "ch")  # too short for the index: the newest first, uncounted
    rows = shown()
    assert rows[:-1] == ids[::-1][:SEARCH_LIMIT]
    assert sidebar.list.item(SEARCH_LIMIT).text() == "More chats match: type more to narrow"
    history.close()


def test_a_long_history_is_listed_a_page_at_a_time_as_the_list_scrolls(qtbot, tmp_path):
    """#23: listing 50,000 chats at once took 243 ms on every refresh; pages load as the user scrolls."""
    from app.gui.chat.sidebar import PAGE

    history = ChatHistory(tmp_path / "chat.sqlite3")
    ids = [history.create(f"Chat {n}").id for n in range(2 * PAGE + 50)]
    sidebar = ConversationList(history)
    qtbot.addWidget(sidebar)
    sidebar.resize(300, 400)
    sidebar.show()
    sidebar.refresh()
    assert sidebar.list.count() == PAGE, "the newest page only"
    bar = sidebar.list.verticalScrollBar()
    while sidebar.list.count() < len(ids):
        before = sidebar.list.count()
        qtbot.keyClick(sidebar.list, Qt.Key.Key_End)  # as a user scrolling to the bottom
        bar.setValue(bar.maximum())
        assert sidebar.list.count() > before, "the next page came"
    shown = [sidebar.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(sidebar.list.count())]
    assert shown == ids[::-1], "every chat once, newest first"
    sidebar.refresh(select=ids[3])  # an old chat selected: the pages down to it are listed
    assert sidebar.current_id() == ids[3]
    history.close()
