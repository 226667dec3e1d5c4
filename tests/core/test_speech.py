import threading
import time
import wave

import numpy as np
import pytest

from app.core.jobs import Cancelled, InputError
from app.core.speech import subtitles
from app.core.speech.audio import SAMPLE_RATE, iter_chunks
from app.core.speech.transcriber import Segment, TranscribeOptions, TranscriptProgress, transcribe_all
from tests.helpers import SPEECH_TEXT, encode_audio, speak, video_without_audio, word_error_rate


@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg", "mp4"])
def test_word_error_rate_on_clear_speech(transcriber, speech_wav, tmp_path, fmt):
    path = speech_wav
    if fmt == "mp3":
        path = encode_audio(speech_wav, tmp_path / "s.mp3", "libmp3lame")
    elif fmt == "ogg":
        path = encode_audio(speech_wav, tmp_path / "s.ogg", "libopus")
    elif fmt == "mp4":
        path = encode_audio(speech_wav, tmp_path / "s.mp4", "aac", video=True)
    segments = transcribe_all(transcriber, path, TranscribeOptions(language="en"))
    text = " ".join(s.text for s in segments)
    wer = word_error_rate(SPEECH_TEXT, text)
    assert wer <= 0.15, f"WER {wer:.2f}: {text!r}"


def test_segments_stream_with_progress_and_words(transcriber, speech_wav):
    items = list(transcriber.transcribe(speech_wav, TranscribeOptions(word_timestamps=True)))
    segments = [i for i in items if isinstance(i, Segment)]
    progress = [i.fraction for i in items if isinstance(i, TranscriptProgress)]
    assert segments and segments[0].words and segments[0].words[0].start <= segments[0].words[-1].end
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert all(p.language == "en" for p in items if isinstance(p, TranscriptProgress) and p.language)


def test_srt_and_vtt_parse_back_monotonic_and_cover_the_speech(transcriber, speech_wav):
    segments = transcribe_all(transcriber, speech_wav)
    from app.core.speech.audio import probe

    duration = probe(speech_wav).duration_s
    for fmt in ("srt", "vtt"):
        cues = subtitles.parse_cues(subtitles.render(segments, fmt))
        assert len(cues) == len(segments)
        for (s1, e1, _), (s2, _, _) in zip(cues, cues[1:], strict=False):
            assert s1 < e1 <= s2, "monotonic and non-overlapping"
        assert cues[0][0] <= 1.0 and cues[-1][1] >= duration - 1.5, "the cues cover the speech"
        assert word_error_rate(SPEECH_TEXT, " ".join(c[2] for c in cues)) <= 0.15
    assert subtitles.render(segments, "vtt").startswith("WEBVTT")
    assert subtitles.to_txt(segments).strip()


def test_long_files_stream_in_bounded_chunks(tmp_path):
    wav = speak("one two three four five six seven eight nine ten", tmp_path / "n.wav")
    chunks = list(iter_chunks(wav, chunk_s=1.0))
    assert len(chunks) >= 3 and all(c.size <= SAMPLE_RATE for c in chunks)
    assert all(c.dtype == np.float32 and np.abs(c).max() <= 1.0 for c in chunks)


def test_silence_gives_no_text(transcriber, tmp_path):
    import wave

    path = tmp_path / "silence.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000 * 8)
    assert transcribe_all(transcriber, path) == []


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage" + bytes(200)), "not an audio|could not be decoded"),
    (lambda p: p.write_text("just some notes, not audio"), "not an audio|could not be decoded"),
])
def test_bad_files_give_clear_messages(transcriber, tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(InputError, match=message):
        transcribe_all(transcriber, path)


def test_a_video_without_audio_says_so(transcriber, tmp_path):
    path = video_without_audio(tmp_path / "silent.mp4")
    with pytest.raises(InputError, match="no audio track"):
        transcribe_all(transcriber, path)


def test_cancel_stops_a_long_transcription_midway(transcriber, tmp_path):
    wav = speak((SPEECH_TEXT + " ") * 8, tmp_path / "long.wav")
    from app.core.jobs import CancelToken

    token = CancelToken()
    outcome, segments, first, asked_for = [], [], threading.Event(), threading.Event()

    def run():
        try:
            for item in transcriber.transcribe(wav, None, token):
                if isinstance(item, Segment):
                    segments.append(item)
                    if not first.is_set():
                        first.set()
                        asked_for.wait(60)  # mid-way here until the cancel has been asked for
            outcome.append("finished")
        except Cancelled:
            outcome.append("cancelled")

    t = threading.Thread(target=run)
    t.start()
    assert first.wait(180), "no segment arrived"
    asked = time.monotonic()
    token.cancel()
    asked_for.set()
    t.join(60)
    assert not t.is_alive() and outcome == ["cancelled"]
    with wave.open(str(wav)) as w:
        seconds = w.getnframes() / w.getframerate()
    assert len(segments) == 1 and segments[0].end < 0.5 * seconds, "no segment came after the cancel"
    assert time.monotonic() - asked < 10.0  # generous for a loaded machine; the rest takes far longer


def test_a_failing_gpu_falls_back_to_the_cpu_with_a_notice(whisper_dir, speech_wav):
    """CUDA asked for where CUDA cannot run (no device visible to the process): the model
    still loads, on the CPU, says why, logs it, and transcribes. In a child process, so the
    half-built CUDA model CTranslate2 leaves behind cannot touch the rest of the suite."""
    import json
    import os
    import subprocess
    import sys

    code = f"""
import json, logging, sys
from pathlib import Path
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
from app.core.speech.transcriber import Transcriber, TranscribeOptions, transcribe_all
t = Transcriber(Path({str(whisper_dir)!r}), device="cuda", model_id="whisper-base")
text = " ".join(s.text for s in transcribe_all(t, Path({str(speech_wav)!r}), TranscribeOptions(language="en")))
print(json.dumps({{"device": t.choice.device, "compute": t.choice.detail, "notices": t.notices, "text": text}}))
"""
    # No CUDA device is visible to the child, so CUDA fails there on any machine, with a GPU or without.
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["device"] == "cpu" and out["compute"] == "int8"
    assert out["notices"] and "running on the CPU instead" in out["notices"][0]
    assert "falling back to CPU" in run.stderr
    assert word_error_rate(SPEECH_TEXT, out["text"]) <= 0.15
