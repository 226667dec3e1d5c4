"""A hit's snippet: the window around the first query word, with the query's words marked."""

from app.core.docs.snippets import query_words, snippet


def _marked(runs):
    return [text for text, marked in runs if marked]


def test_the_query_words_are_marked_where_they_start_a_word_and_common_words_are_not():
    text = "Check the tyres before each ride.\nThe tyre\tpressure matters; retyre nothing."
    runs = snippet(text, "the tyre pressure")
    assert _marked(runs) == ["tyres", "tyre", "pressure"]  # "retyre" is not a word starting with tyre
    assert "".join(t for t, _ in runs) == "Check the tyres before each ride. The tyre pressure matters; retyre nothing."
    assert query_words("How do I fix THE Chain, the chain?") == ["chain", "fix"]


def test_a_long_passage_is_cut_around_the_first_match_with_ellipses():
    text = " ".join(f"filler{i}" for i in range(200)) + " the gearbox oil " + " ".join(f"tail{i}" for i in range(200))
    runs = snippet(text, "gearbox", width=120)
    joined = "".join(t for t, _ in runs)
    assert runs[0] == ("…", False) and runs[-1] == ("…", False)
    assert _marked(runs) == ["gearbox"] and len(joined) <= 130
    assert snippet("short text", "absent") == [("short text", False)]
    assert snippet("a [regex] (text)", "[regex] (") == [("a [", False), ("regex", True), ("] (text)", False)]


def test_a_passage_that_opens_with_its_heading_loses_it_unless_that_is_all_there_is():
    assert snippet("Soil moisture\n\nThe probes report hourly.", "probes", heading="Sensors > Soil moisture") == [
        ("The ", False), ("probes", True), (" report hourly.", False)]
    assert snippet("Soil moisture", "soil", heading="Sensors > Soil moisture") == [("Soil", True), (" moisture", False)]
    assert snippet("Soil moisture is low", "x", heading="Soil") == [("moisture is low", False)]
