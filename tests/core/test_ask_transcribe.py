"""transcribe as Ask's tool (#26): the Speech pane adds no folders, so the tool took only files in the
Images and Documents folders, and a recording the user had transcribed in Speech was refused. The
user's folders of recordings are now the folders of the files they transcribed there (each transcript
keeps where its file was) and the transcripts folder (a dictation's recording); a file elsewhere is
still refused."""

from __future__ import annotations

import subprocess

import pytest

from app.core.ask.tools import ToolContext, call_tool, recording_folders
from app.core.speech.transcripts import Transcript, TranscriptStore

SAID = "The kayak is red and it is on the lake."


def _spoken(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["espeak-ng", "-v", "en", "-s", "130", "-w", str(path), SAID], check=True)
    return path


def _transcribed_in_speech(path) -> None:
    """What the Speech pane saves once it has transcribed a file: the transcript, with where the file was."""
    store = TranscriptStore()
    store.save(Transcript(store.new(path.name).id, path.name, "file", status="done", audio=str(path)))


def test_the_recordings_folders_are_where_the_user_transcribed_files_and_the_dictations(tmp_path):
    _transcribed_in_speech(tmp_path / "memos" / "meeting.wav")
    store = TranscriptStore()
    dictation = store.new("Dictation", "dictation")
    store.save(dictation)
    assert recording_folders() == [tmp_path / "memos", store.folder]


@pytest.mark.slow
def test_a_recording_in_a_folder_transcribed_in_speech_transcribes_and_one_elsewhere_is_refused(starter_store,
                                                                                               tmp_path):
    memos, elsewhere = tmp_path / "memos", tmp_path / "elsewhere"
    _transcribed_in_speech(_spoken(memos / "monday.wav"))
    tuesday = _spoken(memos / "tuesday.wav")  # the same folder, not transcribed yet
    outside = _spoken(elsewhere / "secret.wav")
    ctx = ToolContext(folders=[])  # no Images or Documents folder at all
    result = call_tool("transcribe", {"path": str(tuesday)}, ctx)
    assert result.error is None, result.error
    text = " ".join(r["text"] for r in result.results).lower()
    assert "kayak" in text and "lake" in text, text
    assert {r["path"] for r in result.results} == {str(tuesday.resolve())}
    assert result.summary.startswith("Transcribed tuesday.wav: ")
    refused = call_tool("transcribe", {"path": str(outside)}, ctx)
    assert refused.results == [] and "outside the folders you added" in refused.error
    assert "where you transcribed a recording in Speech" in refused.error


@pytest.mark.slow
def test_a_long_recording_gives_the_step_its_first_lines_and_says_how_many_there_were(starter_store, tmp_path,
                                                                                      monkeypatch):
    """Every line went into the step: some 5,000 lines made a stored step too big to read back."""
    from app.core.ask import tools

    memos = tmp_path / "memos"
    _transcribed_in_speech(memos / "monday.wav")
    clip = memos / "long.wav"
    clip.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["espeak-ng", "-v", "en", "-s", "130", "-g", "40", "-w", str(clip),
                    " ".join([SAID] * 4)], check=True)
    monkeypatch.setattr(tools, "TRANSCRIBE_LINES", 1)
    result = call_tool("transcribe", {"path": str(clip)}, ToolContext(folders=[]))
    assert result.error is None, result.error
    assert len(result.results) == 1
    lines = int(result.summary.split(": ")[1].split()[0])
    assert lines > 1 and result.summary.endswith("(the first 1 kept)"), result.summary
