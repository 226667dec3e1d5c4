"""Speech errors read as words (#14): the file's name once, what happened, no decoder errno."""

import pytest
from PySide6.QtCore import Qt

from tests.gui.test_speech_pane import speech  # noqa: F401 - the pane with Whisper base


def test_a_file_that_is_not_audio_is_explained_in_words(qtbot, speech, tmp_path):  # noqa: F811
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage" + bytes(200))
    messages = []
    speech.transcript_done.connect(lambda p: messages.append(speech.message.text()))
    speech.add_files([garbage])
    qtbot.mouseClick(speech.transcribe_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(messages) == 1, timeout=60000)
    text = messages[0]
    assert text.count("garbage.wav") == 1, text
    assert "Errno" not in text and "Invalid data" not in text, text
    assert "not an audio or video file" in text or "could not be decoded" in text


@pytest.mark.slow
def test_each_file_keeps_its_own_transcript_errors_stay_and_all_survive_a_restart(
        qtbot, speech, speech_wav, tmp_path, open_window):  # noqa: F811

    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"not audio at all" * 10)
    second = tmp_path / "second.wav"
    second.write_bytes(speech_wav.read_bytes())
    done = []
    speech.transcript_done.connect(done.append)
    speech.add_files([speech_wav, garbage, second])
    qtbot.mouseClick(speech.transcribe_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(done) == 3, timeout=120000)
    labels = [speech.transcript_list.item(i).text() for i in range(speech.transcript_list.count())]
    assert len(labels) == 3
    assert labels[0].startswith(speech_wav.name) and labels[2].startswith("second.wav")
    assert "failed" in labels[1] and "not an audio" in labels[1], "the error stays with its file"
    first_text = speech.records[0].text()
    assert first_text and speech.records[2].text(), "the failed file wiped nothing"
    speech.transcript_list.setCurrentRow(0)
    assert speech.transcript_text() == first_text and speech.transcript.count() == len(speech.records[0].segments)
    assert not speech.transcript.placeholder
    speech.transcript_list.setCurrentRow(1)  # the failed file says why, not an empty box
    assert speech.transcript.count() == 0 and "not an audio" in speech.transcript.placeholder
    speech.transcript_list.setCurrentRow(0)
    speech.export_to(tmp_path / "first.srt", "srt")
    assert "-->" in (tmp_path / "first.srt").read_text()

    again = open_window()  # a restart: the list is read back
    restored = again.panes["speech"]
    assert [r.source for r in restored.records] == [speech_wav.name, "garbage.wav", "second.wav"]
    assert restored.records[1].status == "failed" and restored.records[0].text() == first_text
    again.stop_workers()
