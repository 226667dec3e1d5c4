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


@pytest.mark.slow
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


@pytest.mark.slow
def test_segments_stream_with_progress_and_words(transcriber, speech_wav):
    items = list(transcriber.transcribe(speech_wav, TranscribeOptions(word_timestamps=True)))
    segments = [i for i in items if isinstance(i, Segment)]
    progress = [i.fraction for i in items if isinstance(i, TranscriptProgress)]
    assert segments and segments[0].words and segments[0].words[0].start <= segments[0].words[-1].end
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert all(p.language == "en" for p in items if isinstance(p, TranscriptProgress) and p.language)


@pytest.mark.slow
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
    assert subtitles.render(segments, "txt").strip()


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


@pytest.mark.slow
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


@pytest.mark.slow
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


# --- batched file transcription (#16) and a transcript that survives a killed run (#15) ----------
SPANISH = "El tiempo hoy es soleado y cálido. Por favor, compra leche y pan de camino a casa."


def _spoken(text: str, path, voice: str = "en"):
    import subprocess

    subprocess.run(["espeak-ng", "-v", voice, "-s", "130", "-w", str(path), text], check=True)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "sequential"])
def test_batched_and_sequential_give_the_text(transcriber, speech_wav, batched):
    items = list(transcriber.transcribe(speech_wav, TranscribeOptions(batched=batched, word_timestamps=True)))
    segments = [i for i in items if isinstance(i, Segment)]
    text = " ".join(s.text for s in segments)
    assert word_error_rate(SPEECH_TEXT, text) <= 0.15, text
    starts = [s.start for s in segments]
    assert starts == sorted(starts), "segments arrive in order"
    assert [p.language for p in items if isinstance(p, TranscriptProgress)][0] == "en", "detected"
    words = [w for s in segments for w in s.words]
    assert len(words) >= 20, "word timestamps on every path"
    for s in segments:
        assert all(s.start - 0.5 <= w.start <= w.end <= s.end + 0.5 for w in s.words)
    assert all(type(w.start) is float for w in words), "plain floats, for JSON and Qt"


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "sequential"])
def test_silence_gives_no_text_on_either_path(transcriber, tmp_path, batched):
    import wave

    path = tmp_path / "silence.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.random.default_rng(3).integers(-40, 40, 16000 * 40, dtype=np.int16).tobytes())
    assert transcribe_all(transcriber, path, TranscribeOptions(batched=batched)) == []


@pytest.mark.slow
def test_batched_translate_and_language_detection(transcriber, tmp_path):
    clip = _spoken(SPANISH, tmp_path / "es.wav", "es")
    items = list(transcriber.transcribe(clip, TranscribeOptions(task="translate")))
    assert "es" in {p.language for p in items if isinstance(p, TranscriptProgress)}, "Spanish detected"
    english = " ".join(s.text for s in items if isinstance(s, Segment)).lower()
    spanish = " ".join(s.text for s in transcribe_all(transcriber, clip)).lower()
    assert "por favor" in spanish and "casa" in spanish, spanish
    assert "please" in english and "por favor" not in english, english


def test_batches_are_full_except_a_files_first_ramp():
    from app.core.speech.transcriber import batch_groups

    pieces = list(range(20))
    assert batch_groups(pieces[:3], 8, ramp=True) == [[0, 1, 2]], "a short file is one batch"
    assert [len(g) for g in batch_groups(pieces[:5], 8, ramp=True)] == [1, 2, 2], "a longer one: text at once"
    assert [len(g) for g in batch_groups(pieces[:8], 8, ramp=True, whole=8)] == [8], "a GPU's whole batch"
    assert [len(g) for g in batch_groups(pieces, 8, ramp=True)] == [1, 2, 4, 8, 5], "first text after one piece"
    assert [len(g) for g in batch_groups(pieces, 8, ramp=False)] == [8, 8, 4], "later chunks: full batches"
    assert [p for g in batch_groups(pieces, 8, ramp=True) for p in g] == pieces, "every piece, in order"
    assert batch_groups([], 8, ramp=True) == []


def test_batch_size_follows_the_device_and_free_memory():
    from app.core.speech.transcriber import choose_batch_size

    gib = 2**30
    assert choose_batch_size("cpu", 145 * 2**20, 8 * gib) == 8, "a CPU gains nothing past 8"
    assert choose_batch_size("cuda", 145 * 2**20, 40 * gib) == 16
    assert choose_batch_size("cuda", 3 * gib, 20 * gib) == 6, "large-v3 on a 24 GB card"
    assert choose_batch_size("cpu", 3 * gib, 4 * gib) == 1, "little memory: one piece at a time"
    assert choose_batch_size("cpu", 145 * 2**20, 0) == 1


def test_file_workers_follow_the_cores_and_free_memory():
    from app.core.speech.transcriber import file_workers

    gib, base = 2**30, 145 * 2**20
    assert file_workers(2, base, 8 * gib) == (2, 1), "two cores: a piece on each, one thread each"
    assert file_workers(1, base, 8 * gib) == (1, 1), "one core: nothing side by side"
    assert file_workers(4, base, 8 * gib) == (4, 1)
    assert file_workers(16, base, 64 * gib) == (8, 2), "many cores: two threads a worker"
    assert file_workers(8, 3 * gib, 12 * gib) == (3, 2), "large-v3 in 12 GB: memory decides"
    assert file_workers(4, 3 * gib, 3 * gib) == (1, 1), "no room for a second copy of the weights"
    assert file_workers(96, base, 512 * gib) == (16, 2), "never more than 16 pieces in flight"


class _Overlaps:
    """The CTranslate2 model as the decoders see it, counting the calls in it at once and the threads."""

    def __init__(self, model):
        self._model = model
        self._lock = threading.Lock()
        self.now = self.most = 0
        self.threads: set[str] = set()
        self.calls: dict[str, int] = {}

    def _counted(self, method):
        def call(*args, **kwargs):
            with self._lock:
                self.calls[method.__name__] = self.calls.get(method.__name__, 0) + 1
                self.now += 1
                self.most = max(self.most, self.now)
                self.threads.add(threading.current_thread().name)
            try:
                return method(*args, **kwargs)
            finally:
                with self._lock:
                    self.now -= 1
        return call

    def __getattr__(self, name):
        method = getattr(self._model, name)
        return self._counted(method) if name in ("encode", "generate", "align", "detect_language") else method


@pytest.mark.slow
def test_a_cpu_decodes_a_files_pieces_side_by_side(whisper_dir, speech_wav, tmp_path, monkeypatch):
    """On a CPU with two cores a file's pieces are decoded one a core, each by a one-thread worker
    (CTranslate2's beam search gains nothing from a second thread): two pieces are in the model at
    once, and the text comes out whole and in order."""
    from app.core.speech import transcriber as module

    monkeypatch.setattr(module, "_loaded", {})  # a model of its own with two threads, on any machine
    two = module.Transcriber(whisper_dir, device="cpu", threads=2, model_id="whisper-base")
    assert word_error_rate(SPEECH_TEXT, " ".join(s.text for s in transcribe_all(two, speech_wav))) <= 0.15
    decoders = two._lanes.side_by_side[0]
    assert decoders is not None and decoders.workers == 2 and decoders.model.model is not two.model.model
    assert decoders.model.model.num_workers == 2, "two CTranslate2 workers, so two pieces really run at once"
    watched = _Overlaps(decoders.model.model)
    monkeypatch.setattr(decoders.model, "model", watched)

    text = " ".join([SPEECH_TEXT] * 8)
    items = list(two.transcribe(speak(text, tmp_path / "long.wav"), TranscribeOptions(word_timestamps=True)))
    segments = [i for i in items if isinstance(i, Segment)]
    assert word_error_rate(text, " ".join(s.text for s in segments)) <= 0.15
    assert all(a.end <= b.start + 1e-6 for a, b in zip(segments, segments[1:], strict=False)), "in order"
    assert {p.language for p in items if isinstance(p, TranscriptProgress) and p.language} == {"en"}
    assert len(watched.threads) == 2, watched.threads
    assert watched.most == 2, "two pieces in the model at once, never more"
    assert watched.calls["generate"] >= 3 and watched.calls["detect_language"] <= 2, (
        "only the first piece on each worker detects the language; the rest are given it")


class _FailsOnce(_Overlaps):
    """The model as the decoders see it, failing the ``fail_at``-th piece's decode as a worker out of
    memory would; every other call is the model's own."""

    def __init__(self, model, fail_at: int):
        super().__init__(model)
        self.generated, self.fail_at = 0, fail_at

    def __getattr__(self, name):
        if name != "generate":
            return super().__getattr__(name)

        def generate(*args, **kwargs):
            with self._lock:
                self.generated += 1
                failing = self.generated == self.fail_at
            if failing:
                raise RuntimeError("out of memory in the worker")
            return self._model.generate(*args, **kwargs)
        return generate


@pytest.mark.slow
def test_a_stop_or_a_failed_piece_with_pieces_in_flight_frees_the_workers(whisper_dir, speech_wav, tmp_path,
                                                                         monkeypatch):
    """Pieces decode on daemon threads (a quit mid-file must not wait for them). A Stop leaves the
    pieces in flight to finish inside the lane, then the next file has the workers; a piece that
    fails ends its file in words after the text before it, and the next file is clean."""
    from app.core.jobs import CancelToken
    from app.core.speech import transcriber as module

    monkeypatch.setattr(module, "_loaded", {})
    two = module.Transcriber(whisper_dir, device="cpu", threads=2, model_id="whisper-base")
    assert transcribe_all(two, speech_wav, TranscribeOptions(language="en")), "the workers are made"
    decoders = two._lanes.side_by_side[0]
    watched = _Overlaps(decoders.model.model)
    monkeypatch.setattr(decoders.model, "model", watched)
    wav = speak((SPEECH_TEXT + " ") * 10, tmp_path / "long.wav")
    token = CancelToken()
    items = two.transcribe(wav, TranscribeOptions(language="en"), token)
    assert next(i for i in items if isinstance(i, Segment)).text
    pieces = [t for t in threading.enumerate() if t.name.startswith("whisper-piece")]
    assert len(pieces) >= 2 and all(t.daemon for t in pieces), [(t.name, t.daemon) for t in pieces]
    token.cancel()
    with pytest.raises(Cancelled):
        list(items)
    with two._lanes.batched:  # the lane comes back once the pieces in flight are done
        assert watched.now == 0 and watched.most == 2
    for t in pieces:
        t.join(60)
        assert not t.is_alive(), "the piece workers end with their file"

    # The first two decodes are the first two pieces (a third starts only when one of them is done).
    failing = _FailsOnce(watched._model, fail_at=3)
    monkeypatch.setattr(decoders.model, "model", failing)
    got: list[Segment] = []
    with pytest.raises(module.ModelError, match="out of memory"):
        got.extend(i for i in two.transcribe(wav, TranscribeOptions(language="en")) if isinstance(i, Segment))
    assert got and "library" in " ".join(s.text for s in got).lower(), "the first piece's text came"
    monkeypatch.setattr(decoders.model, "model", failing._model)
    text = " ".join(s.text for s in transcribe_all(two, speech_wav, TranscribeOptions(language="en")))
    assert word_error_rate(SPEECH_TEXT, text) <= 0.15


@pytest.mark.slow
def test_one_core_decodes_a_file_in_batches(whisper_dir, speech_wav, monkeypatch):
    """With no second core (or no memory for the side-by-side workers) a file goes through the
    batched pipeline on the model itself, as a GPU's files always do."""
    from app.core.speech import transcriber as module

    monkeypatch.setattr(module, "_loaded", {})
    one = module.Transcriber(whisper_dir, device="cpu", threads=1, model_id="whisper-base")
    segments = transcribe_all(one, speech_wav, TranscribeOptions(word_timestamps=True))
    assert one._lanes.side_by_side == [None]
    assert word_error_rate(SPEECH_TEXT, " ".join(s.text for s in segments)) <= 0.15
    assert len(segments) >= 2 and all(s.words for s in segments), "cut into cues by its words"


@pytest.mark.slow
def test_cancel_mid_batch_is_prompt_and_the_next_file_is_clean(transcriber, speech_wav, tmp_path):
    from app.core.jobs import CancelToken

    wav = speak((SPEECH_TEXT + " ") * 8, tmp_path / "long.wav")
    token = CancelToken()
    items = transcriber.transcribe(wav, TranscribeOptions(batch_size=1), token)
    first = next(i for i in items if isinstance(i, Segment))  # batches of one: the rest still decoding
    assert first.text
    token.cancel()
    asked = time.monotonic()
    with pytest.raises(Cancelled):
        list(items)
    assert time.monotonic() - asked < 2.0, "answered at once, not after the batch"
    text = " ".join(s.text for s in transcribe_all(transcriber, speech_wav, TranscribeOptions(word_timestamps=True)))
    assert word_error_rate(SPEECH_TEXT, text) <= 0.15


def _long_file(tmp_path):
    """A first five-minute chunk with one sentence, then a long second chunk: a run killed during
    the second has written the first."""
    import wave

    from app.core.speech.audio import CHUNK_S

    first = np.concatenate(list(iter_chunks(speak(SPEECH_TEXT, tmp_path / "a.wav"))))
    rest = np.concatenate(list(iter_chunks(speak((SPEECH_TEXT + " ") * 10, tmp_path / "b.wav"))))
    gap = np.zeros(CHUNK_S * SAMPLE_RATE - first.size + SAMPLE_RATE, np.float32)
    audio = (np.concatenate([first, gap, rest]) * 32767).astype(np.int16)
    path = tmp_path / "long.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(audio.tobytes())
    return path


@pytest.mark.slow
def test_a_killed_transcribe_keeps_what_it_wrote_and_the_old_output(whisper_dir, tmp_path):
    import os
    import subprocess
    import sys

    from app.cli.transcribe import partial_path
    from tests.conftest import ROOT

    src = _long_file(tmp_path)
    target = tmp_path / "out.srt"
    target.write_text("the previous transcript\n")
    partial = partial_path(target)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "transcribe", str(src), "--model", str(whisper_dir), "--language", "en",
         "--format", "srt", "--output", str(target)],
        cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while not (partial.exists() and "library" in partial.read_text()):  # the first chunk's cue, flushed
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    assert target.read_text() == "the previous transcript\n", "replaced only when complete"
    cues = subtitles.parse_cues(partial.read_text())
    assert cues and cues[-1][1] < 60, "only the first chunk was done"
    assert word_error_rate(SPEECH_TEXT, " ".join(c[2] for c in cues)) <= 0.15


@pytest.mark.slow
def test_transcribe_output_replaces_the_target_when_done(whisper_dir, speech_wav, tmp_path):
    from app.cli.transcribe import partial_path
    from tests.conftest import run_app

    target = tmp_path / "out.json"
    target.write_text("old")
    for flags in ((), ("--no-batch",)):
        result = run_app("transcribe", str(speech_wav), "--model", str(whisper_dir), "--format", "json",
                         "--word-timestamps", "--output", str(target), *flags, timeout=300)
        assert result.returncode == 0, result.stderr
        import json

        data = json.loads(target.read_text())
        assert not partial_path(target).exists()
        assert word_error_rate(SPEECH_TEXT, " ".join(s["text"] for s in data["segments"])) <= 0.15
        assert data["segments"][0]["words"], flags


@pytest.mark.slow
def test_a_second_transcriber_shares_the_loaded_model(transcriber, whisper_dir, speech_wav):
    """Building a WhisperModel parses tokenizer.json holding the GIL (the Speech pane's stall, #11):
    the pane, dictation and a reload of the same folder share one, and its decode lanes."""
    from app.core.speech.transcriber import Transcriber

    again = Transcriber(whisper_dir, model_id="whisper-base")
    assert again.model is transcriber.model and again._lanes is transcriber._lanes
    text = " ".join(s.text for s in transcribe_all(again, speech_wav, TranscribeOptions(language="en")))
    assert word_error_rate(SPEECH_TEXT, text) <= 0.15


@pytest.mark.slow
def test_a_reader_that_stops_mid_batch_does_not_hold_the_model(transcriber, speech_wav, tmp_path, monkeypatch):
    """A batch yields its segments at once; when the reader has gone (cancelled) and the queue is
    full, the decode thread must still let go of the model for the next file."""
    from app.core.speech import transcriber as module

    monkeypatch.setattr(module, "QUEUE_SIZE", 1)
    wav = speak((SPEECH_TEXT + " ") * 6, tmp_path / "long.wav")
    items = transcriber.transcribe(wav, TranscribeOptions(batch_size=8))
    assert next(i for i in items if isinstance(i, Segment)).text
    items.close()  # the reader goes away with most of the batch unread
    result = []
    t = threading.Thread(target=lambda: result.append(transcribe_all(transcriber, speech_wav)), daemon=True)
    t.start()
    t.join(600)
    assert result, "the next transcription never got the model"
    assert word_error_rate(SPEECH_TEXT, " ".join(s.text for s in result[0])) <= 0.15


@pytest.mark.slow
def test_batched_pieces_lose_no_sentence(transcriber, tmp_path):
    """Speech between pauses is packed into pieces of up to 30 s; no sentence of any piece may go
    missing (with timestamped decoding the pipeline dropped a piece's last sentence), and no
    segment may stretch over a pause into the next block (the library's packing did)."""
    import wave

    clip = np.concatenate(list(iter_chunks(speak(SPEECH_TEXT, tmp_path / "s.wav"))))
    block = np.concatenate([clip, np.zeros(20 * SAMPLE_RATE - clip.size, np.float32)])
    path = tmp_path / "blocks.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.tile(block, 10) * 32767).astype(np.int16).tobytes())
    segments = transcribe_all(transcriber, path, TranscribeOptions(language="en"))
    text = " ".join(s.text for s in segments).lower()
    assert text.count("library") == 10 and text.count("milk") == 10, text
    assert all(s.end - s.start <= 30.5 for s in segments), "no segment spans a pause into other speech"
    assert word_error_rate(" ".join([SPEECH_TEXT] * 10), text) <= 0.15


@pytest.mark.slow
def test_dictation_does_not_wait_behind_a_cancelled_files_batch(transcriber, speech_wav, tmp_path):
    """A cancelled file's batch cannot be interrupted and may run a minute on a loaded CPU (the
    GUI's live dictation timed out behind it): a sequential decode has its own lane and worker."""
    from app.core.jobs import CancelToken

    utterance = np.concatenate(list(iter_chunks(speech_wav)))
    live = TranscribeOptions(language="en", beam_size=1, vad_filter=False, batched=False)

    def dictate(out):
        out.append(" ".join(s.text for s in transcriber.transcribe_array(utterance, live) if isinstance(s, Segment)))

    said: list[str] = []
    with transcriber._lanes.batched:  # a batch in flight, for as long as it takes
        t = threading.Thread(target=dictate, args=(said,), daemon=True)
        t.start()
        t.join(300)
        assert said, "dictation waited for the file's batch"
    assert word_error_rate(SPEECH_TEXT, said[0]) <= 0.15

    # The real thing: both CTranslate2 workers decoding at once give the right text.
    wav = speak((SPEECH_TEXT + " ") * 8, tmp_path / "long.wav")
    token = CancelToken()
    items = transcriber.transcribe(wav, TranscribeOptions(language="en", batch_size=8), token)
    assert next(i for i in items if isinstance(i, Segment)).text  # the next batch is decoding now
    token.cancel()
    with pytest.raises(Cancelled):
        list(items)
    said.clear()
    dictate(said)
    assert word_error_rate(SPEECH_TEXT, said[0]) <= 0.15
    again = " ".join(s.text for s in transcribe_all(transcriber, speech_wav, TranscribeOptions(language="en")))
    assert word_error_rate(SPEECH_TEXT, again) <= 0.15, "the batch lane comes back for the next file"


@pytest.mark.slow
@pytest.mark.parametrize("words", [True, False], ids=["with-words", "without-words"])
def test_batched_pieces_are_cut_into_subtitle_cues(transcriber, speech_wav, words):
    """A batched piece is decoded whole (up to 30 s, no timestamps, so no text is lost) and then cut
    into cues by its word timings: three sentences give several in-order cues, none over 8 s, and
    every word is kept. Words stay on a cue only when they were asked for."""
    segments = transcribe_all(transcriber, speech_wav, TranscribeOptions(batched=True, word_timestamps=words))
    assert len(segments) >= 2, [s.text for s in segments]
    assert all(a.end <= b.start + 1e-6 for a, b in zip(segments, segments[1:], strict=False)), "in order"
    assert all(0 <= s.end - s.start <= 8.0 for s in segments), [(s.start, s.end) for s in segments]
    assert word_error_rate(SPEECH_TEXT, " ".join(s.text for s in segments)) <= 0.15
    if words:
        assert all(s.words and s.start == s.words[0].start and s.end == s.words[-1].end for s in segments)
    else:
        assert all(s.words == [] for s in segments)


def test_dictated_utterances_carry_their_own_times_in_the_audio(transcriber, tmp_path):
    """#24.8: two 2-second sentences were stamped [00:00.0 -> 00:29.6] and [00:29.6 -> 00:29.6]
    (the clock of the GUI when the text arrived). Each event now says where its speech lies in the audio."""
    from app.core.speech.live import LiveDictation

    def clip(text, name):
        return np.concatenate(list(iter_chunks(speak(text, tmp_path / name))))

    silence = np.zeros(SAMPLE_RATE, dtype=np.float32)
    first, second = clip("The library opens at nine.", "a.wav"), clip("Bring your own cup.", "b.wav")
    stream = np.concatenate([silence, first, np.zeros(2 * SAMPLE_RATE, np.float32), second, silence])
    dictation = LiveDictation(transcriber, "en", partials=False)
    events = []
    for start in range(0, stream.size, 4800):  # 0.3 s at a time, as the microphone delivers it
        events += dictation.feed(stream[start:start + 4800])
    events += dictation.flush()
    finals = [e for e in events if e.kind == "final"]
    assert [("library" in e.text.lower(), "cup" in e.text.lower()) for e in finals] == [(True, False), (False, True)]
    one, two = finals

    def voiced(audio, offset):  # where the clip's own speech begins and ends, in the stream
        loud = np.flatnonzero(np.abs(audio) > 0.02)
        return (offset + loud[0]) / SAMPLE_RATE, (offset + loud[-1]) / SAMPLE_RATE

    begin1, end1 = voiced(first, SAMPLE_RATE)
    begin2, end2 = voiced(second, SAMPLE_RATE + first.size + 2 * SAMPLE_RATE)
    assert begin1 - 0.4 <= one.start_s <= begin1 + 0.1 and abs(one.end_s - end1) < 0.3
    assert begin2 - 0.4 <= two.start_s <= begin2 + 0.1 and abs(two.end_s - end2) < 0.3
    assert one.end_s < two.start_s
