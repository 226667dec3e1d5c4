"""Speech and image speed estimates calibrated by real runs on this machine (#14, "Fits this computer?").

A file transcription (>= 10 s of speech) and an index run (>= 16 pictures) on the CPU record their
measured speed through the one seam that opens models, so the GUI and the CLI both calibrate;
a cancelled run, a silent file or too short a run records nothing.
"""

import wave

import numpy as np
import pytest

from app.core.hardware import CPUInfo, HardwareReport
from app.core.images.index import ImageIndex, IndexSummary
from app.core.jobs import Cancelled, CancelToken
from app.core.models import speed
from app.core.models.catalog import load_catalog
from app.core.opening import open_encoder, open_transcriber
from app.core.speech.transcriber import Segment, TranscribeOptions
from tests.helpers import SPEECH_TEXT, photo_library, speak

GB = 1024**3


def _machine(cores=2):
    return HardwareReport("Linux", "6", "3.11", CPUInfo("cpu", "x86_64", cores, cores, ["avx2"]), 24 * GB, [])


@pytest.fixture
def cpu_only():
    """This computer as if it had no GPU (a GPU run calibrates nothing): the engines open on the CPU."""
    import copy

    from app.core import hardware

    saved = hardware.cached()
    report = copy.deepcopy(hardware.detect())
    report.gpus = []
    report.runtimes = [hardware.choose_llama([]), hardware.choose_ctranslate2([]), hardware.choose_torch([])]
    hardware.adopt(report)
    yield report
    hardware.adopt(saved)


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory):
    """About 19 s of real speech: over the 10 s a measurement needs."""
    return speak((SPEECH_TEXT + " ") * 2, tmp_path_factory.mktemp("measured") / "long.wav")


def _seconds(path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


@pytest.mark.slow
def test_a_file_transcription_calibrates_the_whisper_estimates(starter_store, long_speech, cpu_only):
    hw = _machine()
    entry = starter_store.get("whisper-base")
    assert "guess" in speed.estimate("speech", entry.size, hw).how
    transcriber = open_transcriber("whisper-base", device="cpu")
    segments = [s for s in transcriber.transcribe(long_speech, TranscribeOptions(language="en"))
                if isinstance(s, Segment)]
    assert segments
    cal = speed.load_calibration()["speech"]
    assert cal["model"] == "whisper-base" and cal["size"] == entry.size
    assert 0 < cal["value"] < 5, "a real-time factor: decode seconds over about 19 s of audio"
    assert _seconds(long_speech) >= speed.MIN_AUDIO_S

    own = speed.estimate("speech", entry.size, hw)
    assert abs(own.value - cal["value"]) < 1e-9
    assert "whisper-base's measured" in own.how and "guess" not in own.how
    by_id = {e.id: e for e in load_catalog() if e.kind == "speech"}
    large = speed.estimate("speech", by_id["whisper-large-v3"].size, hw)
    tiny = speed.estimate("speech", by_id["whisper-tiny"].size, hw)
    assert large.value == pytest.approx(cal["value"] * by_id["whisper-large-v3"].size / entry.size)
    assert tiny.value < own.value < large.value
    assert "measured" in large.how


@pytest.mark.slow
def test_a_cancelled_or_silent_transcription_records_nothing(starter_store, long_speech, tmp_path, cpu_only):
    transcriber = open_transcriber("whisper-base", device="cpu")
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        for item in transcriber.transcribe(long_speech, TranscribeOptions(language="en"), cancel):
            if isinstance(item, Segment):
                cancel.cancel()
    silence = tmp_path / "silence.wav"
    with wave.open(str(silence), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000 * 12)
    list(transcriber.transcribe(silence))  # 12 s, none of it speech: its speed would flatter
    short = speak("Please remember to buy milk.", tmp_path / "short.wav")
    list(transcriber.transcribe(short, TranscribeOptions(language="en")))  # under 10 s: mostly start-up
    assert "speech" not in speed.load_calibration()


def test_an_index_run_calibrates_the_clip_estimates(clip_store, tmp_path, cpu_only):
    hw = _machine()
    entry = clip_store.get("tiny-clip")
    assert "guess" in speed.estimate("images", entry.size, hw).how
    photo_library(tmp_path / "photos", per_class=2)  # 40 pictures
    encoder, key = open_encoder("tiny-clip")
    index = ImageIndex()
    try:
        index.add_folder(tmp_path / "photos")
        summary = [i for i in index.index(encoder, key) if isinstance(i, IndexSummary)][0]
    finally:
        index.close()
    assert summary.embedded == 40
    cal = speed.load_calibration()["images"]
    assert cal["model"] == "tiny-clip" and cal["size"] == entry.size and cal["value"] > 0
    assert cal["value"] >= summary.embedded / summary.seconds, "the model's own time, not the decoding's"
    own = speed.estimate("images", entry.size, hw)
    assert own.value == pytest.approx(cal["value"]) and "tiny-clip's measured" in own.how
    vit_b = next(e for e in load_catalog() if e.id == "clip-vit-b-32-laion2b")
    scaled = speed.estimate("images", vit_b.size, hw)
    assert scaled.value == pytest.approx(cal["value"] * entry.size / vit_b.size) and "measured" in scaled.how


def test_a_cancelled_or_small_index_run_records_nothing(clip_store, tmp_path, cpu_only):
    photo_library(tmp_path / "photos", per_class=2)
    encoder, key = open_encoder("tiny-clip")
    encoder.batch_size = 8  # several batches, so the cancel lands between them
    index = ImageIndex()
    try:
        index.add_folder(tmp_path / "photos")
        cancel = CancelToken()
        for item in index.index(encoder, key, cancel):
            if not isinstance(item, IndexSummary) and item.embedded >= 8:
                cancel.cancel()
        assert "images" not in speed.load_calibration(), "a cancelled run is not a measurement"
        few = tmp_path / "few"
        few.mkdir()
        for i in range(5):
            from PIL import Image

            Image.fromarray(np.full((64, 64, 3), i * 40, np.uint8)).save(few / f"{i}.png")
        index.add_folder(few)
        list(index.index(encoder, key, folders=[str(few)]))  # 5 pictures: too few to measure
    finally:
        index.close()
    assert "images" not in speed.load_calibration()


@pytest.mark.slow
def test_the_cli_calibrates_too_and_gpu_runs_never_do(clip_store, tmp_path):
    from app.core import hardware
    from app.core.fileio import tree_size
    from tests.conftest import TINY_CLIP, run_app

    photo_library(tmp_path / "photos", per_class=1)  # 20 pictures
    done = run_app("search", "index", str(tmp_path / "photos"), "--model", str(TINY_CLIP))
    assert done.returncode == 0, done.stderr
    recorded = speed.load_calibration().get("images")
    if hardware.detect().runtime("torch").device != "cpu":  # a GPU computer: the CLI ran there, and kept nothing
        assert recorded is None
    else:
        assert recorded["model"] == "tiny-clip" and recorded["size"] == tree_size(TINY_CLIP), "by path: its size"

    encoder, _ = open_encoder("tiny-clip")
    encoder.on_measured(0.01, 100, "cuda")  # what a GPU run reports: it says nothing of this CPU
    assert speed.load_calibration().get("images") == recorded
    encoder.on_measured(1.0, 100, "cpu")
    runs = [100.0] if recorded is None else [recorded["value"], 100.0]
    assert speed.load_calibration()["images"]["value"] == pytest.approx(sum(runs) / len(runs)), "the median"


@pytest.mark.slow
def test_time_spent_waiting_for_the_model_is_not_counted(whisper_dir, long_speech):
    """Two files at once on one model: the second waits for the first's decode (one batch at a time),
    and that wait is not its processing time."""
    import threading
    import time

    from app.core.speech.transcriber import Transcriber

    measured = []
    transcriber = Transcriber(whisper_dir, device="cpu", model_id="whisper-base",
                              on_measured=lambda seconds, audio_s, device: measured.append(seconds))
    walls = []

    def run():
        began = time.perf_counter()
        list(transcriber.transcribe(long_speech, TranscribeOptions(language="en")))
        walls.append(time.perf_counter() - began)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(measured) == 2
    # The one that waited took about both decodes end to end; counting its wait would make it that long.
    assert max(measured) < max(walls) - 0.5 * min(measured)
