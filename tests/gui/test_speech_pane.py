import subprocess
import sys
import time
import wave

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.conftest import ROOT
from tests.helpers import SPEECH_TEXT, drop_files, speak, word_error_rate


@pytest.fixture
def speech(qtbot, starter_store, window):
    window.show_pane("speech")
    pane = window.panes["speech"]
    assert pane.picker.current() == "whisper-base"
    pane.language.setCurrentText("en")
    return pane


def _play(pulse, wav):
    return subprocess.Popen(["paplay", "--server", pulse, "-d", "vsink", str(wav)])


def _play_into_the_microphone(qtbot, recorder, pulse, wav, silence_s=1.0):
    """Plays ``wav`` into the virtual microphone once it is delivering audio, and returns once
    the player has finished and the microphone has delivered ``silence_s`` more seconds.
    Counted in samples, not wall-clock time, so no speech is cut off however loaded the machine."""
    captured = [0]

    def count(pcm):
        captured[0] += len(pcm)

    recorder.samples.connect(count)
    try:
        qtbot.waitUntil(lambda: captured[0] >= 0.3 * 16000, timeout=30000)  # the microphone is live
        player = _play(pulse, wav)
        qtbot.waitUntil(lambda: player.poll() is not None, timeout=60000)  # the event loop keeps running
        after = captured[0]
        qtbot.waitUntil(lambda: captured[0] - after >= silence_s * 16000, timeout=30000)
    finally:
        recorder.samples.disconnect(count)


@pytest.mark.slow
def test_a_dropped_file_is_transcribed_and_sent_to_chat(qtbot, speech, speech_wav, window):
    assert drop_files(speech, [speech_wav])
    qtbot.waitUntil(lambda: speech.job is not None and speech.job.done, timeout=60000)
    assert word_error_rate(SPEECH_TEXT, speech.transcript_text()) <= 0.15
    assert speech.transcript.count() == len(speech.segments) >= 1 and speech.progress.value() == 1000
    first = speech.transcript.item(0)
    assert first.text().startswith("[00:0")
    qtbot.mouseClick(speech.transcript.viewport(), Qt.MouseButton.LeftButton,
                     pos=speech.transcript.visualItemRect(first).center())  # plays the file from there (#27)
    qtbot.waitUntil(lambda: speech.player.playing and speech.transcript.playing_word is not None, timeout=20000)
    assert all(seg.words for seg in speech.segments), "every line keeps its words' timings"
    qtbot.keyClick(speech.transcript, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not speech.player.playing, timeout=10000)
    qtbot.keyClick(speech.transcript, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == first.data(Qt.ItemDataRole.UserRole)
    qtbot.mouseClick(speech.send_button, Qt.MouseButton.LeftButton)
    assert window.current_pane() == "chat"
    assert window.panes["chat"].input.toPlainText() == speech.transcript_text()


@pytest.mark.slow
def test_exports_from_the_pane_parse_back(qtbot, speech, speech_wav, tmp_path):
    from app.core.speech.subtitles import parse_cues

    speech.add_files([speech_wav])
    qtbot.mouseClick(speech.transcribe_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: speech.job is not None and speech.job.done, timeout=60000)
    for fmt in ("srt", "vtt", "txt", "json"):
        speech.export_to(tmp_path / f"t.{fmt}", fmt)
    cues = parse_cues((tmp_path / "t.srt").read_text())
    assert len(cues) == len(speech.segments) and all(a[1] <= b[0] for a, b in zip(cues, cues[1:], strict=False))
    assert (tmp_path / "t.vtt").read_text().startswith("WEBVTT")


@pytest.mark.slow
def test_bad_files_give_messages_and_the_queue_goes_on(qtbot, speech, speech_wav, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    notes = tmp_path / "notes.mp3"
    notes.write_text("not audio at all")
    messages = []
    speech.transcript_done.connect(lambda p: messages.append(speech.message.text()))
    speech.add_files([empty, notes, speech_wav])
    qtbot.mouseClick(speech.transcribe_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(messages) == 3, timeout=60000)
    assert "is empty" in messages[0]
    assert "not an audio" in messages[1] or "could not be decoded" in messages[1]
    assert "segments" in messages[2] and speech.transcript_text()


@pytest.mark.slow
def test_cancel_stops_the_transcription_midway(qtbot, speech, tmp_path):
    # Three minutes: a file of up to three 30 s pieces is decoded as one batch, so it would be done at its first line.
    long = speak((SPEECH_TEXT + " ") * 24, tmp_path / "long.wav")
    speech.add_files([long])
    qtbot.mouseClick(speech.transcribe_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: speech.transcript.count() >= 1, timeout=180000)  # it is under way
    asked = time.monotonic()
    qtbot.mouseClick(speech.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: speech.job.done, timeout=20000)
    assert time.monotonic() - asked < 10.0  # generous for a loaded machine; the rest takes far longer
    assert speech.job.outcome == "cancelled" and "cancelled" in speech.message.text()
    assert speech.progress.value() < 1000, "it stopped before the end"


@pytest.mark.slow
def test_live_dictation_through_the_microphone(qtbot, speech, pulse, tmp_path):
    assert speech.record_button.isEnabled(), speech.mic_status.text()
    listed = [speech.device.itemText(i) for i in range(speech.device.count())]
    assert "vmic" in speech.device.currentText(), f"it would record from another device than ours: {listed}"
    wav = speak(SPEECH_TEXT, tmp_path / "say.wav")
    qtbot.mouseClick(speech.record_button, Qt.MouseButton.LeftButton)
    started = time.monotonic()
    assert speech.dictation.active, (speech.mic_status.text(), speech.record_button.isChecked())
    _play_into_the_microphone(qtbot, speech.dictation.recorder, pulse, wav)  # the last utterance ends in silence
    recorded_for = time.monotonic() - started
    qtbot.mouseClick(speech.record_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not speech.listening, timeout=30000)
    live = [speech.transcript.item(i).text() for i in range(speech.transcript.count())]
    assert live and all(" → " in line.split("]")[0] for line in live), live  # real times (#14)
    dictated = speech.records[-1]
    assert dictated.kind == "dictation" and all(seg.end > seg.start for seg in dictated.segments), "its own, timed"
    # #24.8: times are the speech's place in the recording, not when its text arrived
    with wave.open(str(wav)) as w:
        spoken = w.getnframes() / w.getframerate()
    assert dictated.segments[-1].end <= recorded_for + 0.5, (recorded_for, dictated.segments)
    assert sum(seg.end - seg.start for seg in dictated.segments) <= spoken + 1.0, dictated.segments
    assert all(a.end <= b.start + 0.05 for a, b in zip(dictated.segments, dictated.segments[1:], strict=False))
    assert word_error_rate(SPEECH_TEXT, speech.transcript_text()) <= 0.35, speech.transcript_text()
    # #27: the dictation's own recording is kept with it, and a line plays from it.
    from app.core.speech.recordings import audio_for

    qtbot.waitUntil(lambda: audio_for(speech.store, dictated) is not None, timeout=20000)  # written by the worker
    kept = audio_for(speech.store, dictated)
    assert kept is not None and kept.stat().st_size > 16000 * 2 * spoken * 0.8
    qtbot.mouseClick(speech.transcript.viewport(), Qt.MouseButton.LeftButton,
                     pos=speech.transcript.visualItemRect(speech.transcript.item(0)).center())
    qtbot.waitUntil(lambda: speech.player.playing and speech.player.source == kept, timeout=20000)
    qtbot.waitUntil(lambda: speech.transcript.playing_row is not None, timeout=20000)


@pytest.mark.slow
def test_the_chat_microphone_dictates_into_the_input(qtbot, speech, pulse, window, tmp_path):
    chat = window.panes["chat"]
    window.show_pane("chat")
    assert chat.mic_button.isEnabled()
    wav = speak("Please summarise the meeting notes for me.", tmp_path / "ask.wav")
    qtbot.mouseClick(chat.mic_button, Qt.MouseButton.LeftButton)
    _play_into_the_microphone(qtbot, chat.dictation.recorder, pulse, wav)
    with qtbot.waitSignal(chat.dictation.finished, timeout=60000):  # the last words have been transcribed
        qtbot.mouseClick(chat.mic_button, Qt.MouseButton.LeftButton)
    assert "meeting" in chat.input.toPlainText().lower(), chat.input.toPlainText()
    assert word_error_rate("Please summarise the meeting notes for me.", chat.input.toPlainText()) <= 0.35
    assert speech.transcript.count() == 0, "dictation into the chat stays out of the Speech pane"


@pytest.mark.slow
def test_the_chat_shows_words_while_a_long_sentence_is_still_being_dictated(qtbot, speech, pulse, window, tmp_path):
    """#24.8: the chat's Dictate showed no words until a pause or Stop; what is heard shows as it comes."""
    chat = window.panes["chat"]
    window.show_pane("chat")
    said = ("Please summarise the meeting notes from Tuesday and list every action item with the name of "
            "its owner and the date it is due")
    wav = speak(said, tmp_path / "long.wav", rate=140)
    heard: list[str] = []
    chat.dictation.partial.connect(lambda text: heard.append(chat.notice.text()))
    qtbot.mouseClick(chat.mic_button, Qt.MouseButton.LeftButton)
    _play_into_the_microphone(qtbot, chat.dictation.recorder, pulse, wav)
    shown_before_stop = [h for h in heard if "“" in h]
    with qtbot.waitSignal(chat.dictation.finished, timeout=60000):
        qtbot.mouseClick(chat.mic_button, Qt.MouseButton.LeftButton)
    assert shown_before_stop, "words were shown while the sentence went on"
    assert any(w in shown_before_stop[-1].lower() for w in ("meeting", "notes", "summarise", "tuesday", "action"))
    assert "meeting" in chat.input.toPlainText().lower(), "and the whole sentence joins the message"


NO_MIC = """
import os
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.core.settings import load_settings
from app.gui.speech.pane import SpeechPane
pane = SpeechPane(load_settings())
print("ENABLED", pane.record_button.isEnabled())
print("STATUS", pane.mic_status.text())
pane.shutdown()
"""


def test_without_a_microphone_the_pane_says_so(hearth_home):
    import os

    env = dict(os.environ, PULSE_SERVER="unix:/nonexistent/pulse", QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-c", NO_MIC], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert "ENABLED False" in result.stdout, result.stdout + result.stderr
    assert "No microphone found" in result.stdout


