"""Speakers (#27): a two-voice espeak-ng interview comes out as two speakers on the right words, one voice
as one; a speaker change inside a segment splits it at the word; word times stay inside their segment.
The speaker starter is Resemblyzer's voice encoder, kept as a .npz no pickle is read from."""

import zipfile

import numpy as np
import pytest

from app.core.jobs import ModelError
from app.core.models.validate import validate
from app.core.speech import diarize
from app.core.speech.transcriber import Segment, TranscribeOptions, transcribe_all
from app.core.speech.voices import open_encoder
from tests.voices import dialogue, recording, word_accuracy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def encoder(starter_home):
    path = starter_home / "data" / "models" / "speaker" / "resemblyzer-voice-encoder"
    return open_encoder(next(path.glob("*.npz")))


@pytest.fixture(scope="session")
def interview(transcriber, tmp_path_factory):
    wav = tmp_path_factory.mktemp("voices") / "interview.wav"
    script = recording(wav, dialogue())
    segments = transcribe_all(transcriber, wav, TranscribeOptions(word_timestamps=True, language="en"))
    return wav, script, segments


def _copies(segments):
    return [Segment(s.start, s.end, s.text, list(s.words)) for s in segments]


def test_two_voices_are_two_speakers_on_the_right_words(interview, encoder):
    wav, script, segments = interview
    out = diarize.diarize(_copies(segments), encoder, path=wav)
    assert sorted({s.speaker for s in out}) == ["1", "2"]
    assert word_accuracy(out, script) >= 0.9
    given = diarize.diarize(_copies(segments), encoder, 2, path=wav)
    assert word_accuracy(given, script) >= 0.9


def test_one_voice_is_one_speaker(transcriber, encoder, tmp_path):
    for voice in (0, 1):
        wav = tmp_path / f"one{voice}.wav"
        recording(wav, [(voice, line) for _, line in dialogue()[:8]])
        segments = transcribe_all(transcriber, wav, TranscribeOptions(word_timestamps=True, language="en"))
        out = diarize.diarize(segments, encoder, path=wav)
        assert {s.speaker for s in out} == {"1"}, f"voice {voice}"


def test_a_speaker_change_inside_a_segment_splits_it_at_that_word(interview, encoder):
    wav, script, segments = interview
    assert len(segments) >= 8
    # Two turns in one segment each, as one long VAD piece gives when a pause is short.
    joined = [Segment(a.start, b.end, f"{a.text} {b.text}", a.words + b.words) for a, b in
              zip(segments[0:8:2], segments[1:8:2], strict=True)]
    out = diarize.diarize(joined, encoder, path=wav)
    assert len(out) > len(joined)
    assert word_accuracy(out, script[:8]) >= 0.9
    for s in out:
        assert s.text == "".join(w.word for w in s.words).strip()
        assert s.start == s.words[0].start and s.end == s.words[-1].end


def test_word_times_increase_and_fall_inside_their_segment(interview):
    _, _, segments = interview
    words = [w for s in segments for w in s.words]
    assert len(words) > 50
    for s in segments:
        for w in s.words:
            assert s.start - 0.01 <= w.start <= w.end <= s.end + 0.01
            assert 0.0 <= w.probability <= 1.0
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))


def test_the_speaker_model_is_checked_and_no_pickle_is_read(encoder, tmp_path):
    good = tmp_path / "good.npz"
    arrays = {k: np.zeros(v.shape, np.float32) for k, v in diarize_shapes().items()}
    np.savez(good, **arrays)
    assert validate(good, "speaker") == ("resemblyzer", "resemblyzer-lstm")
    np.savez(tmp_path / "short.npz", **{k: v for k, v in list(arrays.items())[1:]})
    np.savez(tmp_path / "pickled.npz", **{**arrays, "linear.bias": np.array([object()] * 256)})
    (tmp_path / "legacy.pt").write_bytes(b"\x80\x02" + b"\x00" * 64)
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as zf:
        zf.writestr("linear.bias.npy", b"not an array")
    for bad in ("short.npz", "pickled.npz", "legacy.pt", "other.npz"):
        with pytest.raises(ModelError) as err:
            validate(tmp_path / bad, "speaker")
        assert bad in str(err.value)


def test_a_speaker_model_whose_header_lies_is_refused_in_words(tmp_path):
    """np.load allocated whatever shape an array's header claimed (a 4 TiB MemoryError) and let a broken
    zip's BadZipFile through: neither was a ModelError, so `models import` and the pane got Python's words."""
    import io


    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f4", "fortran_order": False, "shape": (2**40,)})
    arrays = {k: np.zeros(v.shape, np.float32) for k, v in diarize_shapes().items()}
    np.savez(tmp_path / "huge.npz", **{k: v for k, v in arrays.items() if k != "linear.weight"})
    with zipfile.ZipFile(tmp_path / "huge.npz", "a") as zf:  # every other tensor right
        zf.writestr("linear.weight.npy", head.getvalue() + b"\x00" * 64)
    with zipfile.ZipFile(tmp_path / "only-huge.npz", "w") as zf:
        zf.writestr("linear.weight.npy", head.getvalue() + b"\x00" * 64)
    good = (tmp_path / "huge.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(good[: len(good) // 2] + good[-200:])  # a zip broken in the middle
    for bad in ("huge.npz", "only-huge.npz", "cut.npz"):
        with pytest.raises(ModelError) as err:
            validate(tmp_path / bad, "speaker")
        assert bad in str(err.value) and "Error" not in str(err.value)


def diarize_shapes():
    from app.core.models.voice_weights import shapes

    return {k: np.zeros(s) for k, s in shapes().items()}


def test_the_cli_gives_speakers_and_word_timings_in_json_and_voice_tags_in_vtt(interview, whisper_dir,
                                                                                starter_store, tmp_path):
    import json

    from tests.conftest import run_app

    wav, script, _ = interview
    result = run_app("transcribe", str(wav), "--model", str(whisper_dir), "--speakers", "--format", "json",
                     "--language", "en", timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    segments = data["segments"]
    assert {s["speaker"] for s in segments} == {"Speaker 1", "Speaker 2"}
    for s in segments:
        assert set(s) >= {"speaker", "start", "end", "text", "words"}
        assert s["words"] and all(set(w) == {"start", "end", "word", "probability"} for w in s["words"])
    as_segments = [Segment(s["start"], s["end"], s["text"],
                           [diarize.Word(w["start"], w["end"], w["word"], w["probability"]) for w in s["words"]],
                           s["speaker_label"]) for s in segments]
    assert word_accuracy(as_segments, script) >= 0.9
    vtt = run_app("transcribe", str(wav), "--model", str(whisper_dir), "--speakers", "--num-speakers", "2",
                  "--format", "vtt", "--language", "en", timeout=300)
    assert vtt.returncode == 0, vtt.stderr
    assert vtt.stdout.count("<v Speaker 1>") >= 3 and vtt.stdout.count("<v Speaker 2>") >= 3
    bad = run_app("transcribe", str(wav), "--num-speakers", "0", "--speakers")
    assert bad.returncode != 0 and "whole number from 1 to 32" in bad.stderr and "Traceback" not in bad.stderr


def test_speakers_without_a_speaker_model_say_how_to_get_one(hearth_home, speech_wav):
    from tests.conftest import run_app

    result = run_app("transcribe", str(speech_wav), "--speakers")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "no speaker model installed" in result.stderr and "models provision" in result.stderr


def test_a_cancelled_token_stops_the_labelling_between_its_windows(interview, encoder, caplog):
    """The server's labelling ran on after its client left or its time ran out: diarize never looked at a
    cancel token. Now it stops between steps of EMBED_STEP windows with Cancelled."""
    import logging
    import threading

    from app.core.jobs import Cancelled, CancelToken
    from tests.helpers import wait_until

    wav, _, segments = interview
    gone = CancelToken()
    gone.cancel()
    with pytest.raises(Cancelled):
        diarize.diarize(_copies(segments), encoder, path=wav, cancel=gone)

    caplog.set_level(logging.INFO, logger="app.core.speech.diarize")
    cancel, outcome = CancelToken(), {}

    def label():
        try:
            outcome["segments"] = diarize.diarize(_copies(segments), encoder, path=wav, cancel=cancel)
        except Cancelled as exc:
            outcome["error"] = exc

    # The encoder's own lock holds the first step back until the token is cancelled: no timing guessed.
    with encoder._lock:
        thread = threading.Thread(target=label, daemon=True)
        thread.start()
        wait_until(lambda: "windows to embed" in caplog.text, timeout=60, what="the labelling to reach its windows")
        cancel.cancel()
    thread.join(60)
    assert not thread.is_alive() and isinstance(outcome.get("error"), Cancelled)
    stopped = [r.args for r in caplog.records if r.getMessage().startswith("speakers: stopped")]
    assert len(stopped) == 1 and stopped[0][0] == diarize.EMBED_STEP and stopped[0][1] > 2 * diarize.EMBED_STEP
    assert "found in" not in caplog.text
