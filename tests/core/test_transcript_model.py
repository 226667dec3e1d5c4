"""The saved transcript (#27): words, speakers, the user's names for them and corrections survive a
restart; a version 1 file is still read; whatever a file holds in the new fields is bounded."""

import json

import pytest

from app.core.speech import transcripts
from app.core.speech.transcriber import Segment, Word
from app.core.speech.transcripts import TranscriptStore, edit_segment, rename_speaker, undo_edit


def _two_speakers():
    store = TranscriptStore()
    t = store.new("interview.wav")
    t.status = "done"
    t.segments = [
        Segment(0.0, 1.2, "Hello there.", [Word(0.0, 0.5, " Hello", 0.9), Word(0.6, 1.2, " there.", 0.4)], "1"),
        Segment(1.5, 2.5, "Hi, Ana.", [Word(1.5, 1.9, " Hi,", 0.95), Word(2.0, 2.5, " Ana.", 0.7)], "2"),
    ]
    return store, t


def test_words_speakers_names_and_an_edit_survive_a_restart():
    store, t = _two_speakers()
    rename_speaker(t, "1", "  Ana\n")
    edit_segment(t, 1, "Hi, Anna.")
    store.save(t)
    back = TranscriptStore().list()[0]
    assert back.to_dict() == t.to_dict()
    assert back.speaker_names == {"1": "Ana"}
    assert [back.speaker_name(s.speaker) for s in back.segments] == ["Ana", "Speaker 2"]
    assert back.segments[0].words[1] == Word(0.6, 1.2, " there.", 0.4)
    assert (back.segments[1].text, back.segments[1].original_text) == ("Hi, Anna.", "Hi, Ana.")
    assert undo_edit(back, 1) and not undo_edit(back, 1)
    store.save(back)
    again = TranscriptStore().list()[0]
    assert (again.segments[1].text, again.segments[1].original_text) == ("Hi, Ana.", None)
    on_disk = json.loads(store._path(t.id).read_text())
    assert on_disk["schema_version"] == transcripts.SCHEMA_VERSION == 2


def test_edits_keep_the_first_original_and_editing_back_is_no_edit():
    _, t = _two_speakers()
    edit_segment(t, 0, "Hallo there.")
    edit_segment(t, 0, "Hello there!")
    assert t.segments[0].original_text == "Hello there."
    edit_segment(t, 0, "Hello there.")
    assert t.segments[0].original_text is None
    rename_speaker(t, "2", "Tom")
    rename_speaker(t, "2", "   ")
    assert t.speaker_name("2") == "Speaker 2"
    with pytest.raises(ValueError):
        rename_speaker(t, "", "x")


def test_a_version_1_file_is_still_read():
    store = TranscriptStore()
    store.folder.mkdir(parents=True, exist_ok=True)
    tid = "cd" * 16
    (store.folder / f"{tid}.json").write_text(json.dumps({
        "schema_version": 1, "id": tid, "source": "a.wav", "status": "done", "created": 1.0,
        "segments": [{"start": 0, "end": 1, "text": "hello"}]}))
    [t] = store.list()
    assert (t.text(), t.segments[0].words, t.segments[0].speaker, t.speaker_names) == ("hello", [], None, {})


def test_hostile_fields_are_bounded_or_refused():
    base = {"id": "ef" * 16, "source": "a.wav", "status": "done", "created": 1.0}
    seg = {"start": 0, "end": 1, "text": "hi"}
    t = transcripts.from_dict({**base, "speaker_names": {"1": "x" * 10_000, "\x00": "evil", "2": 5, "3": "\n\t"},
                               "segments": [{**seg, "speaker": "y" * 1000,
                                             "words": [{"start": 0, "end": 1, "word": "w" * 999,
                                                        "probability": 7}]}]})
    assert t.speaker_names == {"1": "x" * transcripts.MAX_NAME}
    assert t.segments[0].speaker is None
    assert len(t.segments[0].words[0].word) == transcripts.MAX_WORD and t.segments[0].words[0].probability == 1.0
    t2 = transcripts.from_dict({**base, "speaker_names": ["not", "a", "dict"], "segments": [seg]})
    assert t2.speaker_names == {}
    for bad in ({**seg, "words": "no"}, {**seg, "words": [{"start": -1, "end": 1, "word": "a"}]},
                {**seg, "words": [{"start": 0, "end": float("nan"), "word": "a"}]},
                {**seg, "words": [{"start": 0, "end": 1, "word": 3}]},
                {**seg, "words": [{"start": 0, "end": 1, "word": "a"}] * (transcripts.MAX_WORDS + 1)},
                {**seg, "original_text": 5},
                # a click played from there: Qt's setPosition(int(1e300 * 1000)) raised OverflowError
                {**seg, "words": [{"start": 1e300, "end": 1e300, "word": "a"}]}, {**seg, "start": 10**30}):
        with pytest.raises(ValueError):
            transcripts.from_dict({**base, "segments": [bad]})


def test_a_rename_an_edit_and_its_undo_show_in_every_export_after_a_restart():
    from app.core.speech import subtitles

    store, t = _two_speakers()
    rename_speaker(t, "2", "Tom")
    edit_segment(t, 0, "Hello there, Tom.")
    store.save(t)
    back = TranscriptStore().list()[0]
    out = {fmt: transcripts.export(back, fmt) for fmt in subtitles.FORMATS}
    assert out["txt"].splitlines() == ["Speaker 1: Hello there, Tom.", "Tom: Hi, Ana."]
    assert [c[2] for c in subtitles.parse_cues(out["srt"])] == ["Speaker 1: Hello there, Tom.", "Tom: Hi, Ana."]
    assert [c[2] for c in subtitles.parse_cues(out["vtt"])] == ["<v Speaker 1>Hello there, Tom.", "<v Tom>Hi, Ana."]
    data = json.loads(out["json"])["segments"]
    assert [(s["speaker"], s["speaker_label"], s["text"]) for s in data] == [
        ("Speaker 1", "1", "Hello there, Tom."), ("Tom", "2", "Hi, Ana.")]
    assert data[0]["original_text"] == "Hello there." and "original_text" not in data[1]
    assert data[0]["words"][1] == {"start": 0.6, "end": 1.2, "word": " there.", "probability": 0.4}
    undo_edit(back, 0)
    store.save(back)
    again = TranscriptStore().list()[0]
    for fmt in subtitles.FORMATS:
        text = transcripts.export(again, fmt)
        assert "Hello there." in text and "Hello there, Tom." not in text and "Tom" in text, fmt


def test_a_speaker_name_cannot_break_a_vtt_voice_tag():
    from app.core.speech import subtitles

    _, t = _two_speakers()
    rename_speaker(t, "1", "A <b> & > B")
    vtt = subtitles.render(t.segments[:1], "vtt", t.speaker_names)
    assert "<v A &lt;b&gt; &amp; &gt; B>Hello there." in vtt
