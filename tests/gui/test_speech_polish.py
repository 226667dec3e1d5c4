"""Speech errors read as words (#14): the file's name once, what happened, no decoder errno."""

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
