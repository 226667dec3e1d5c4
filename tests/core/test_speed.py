"""Speed estimates: calibrated by a measurement on this machine, scaled by size and GPU offload."""

import json

import pytest

from app.core.hardware import CPUInfo, GPUInfo, HardwareReport
from app.core.models import speed
from app.core.models.catalog import load_catalog
from app.core.models.fit import Fit

GB = 1024**3


def _machine(cores=2, ram_gb=24, gpus=()):
    return HardwareReport("Linux", "6", "3.11", CPUInfo("cpu", "x86_64", cores, cores, ["avx2"]), ram_gb * GB,
                          list(gpus))


def test_a_two_core_machine_is_not_recommended_the_8b_model(hearth_home):
    speed.record("chat", "gemma-3-270m-q4_k_m", 253_110_465, 60.0)  # what the starter measured here
    hw = _machine()
    catalog = load_catalog()
    big = next(e for e in catalog if e.id == "llama-3.1-8b-instruct-q4_k_m")
    slow = speed.estimate("chat", big.size, hw)
    assert 2 < slow.value < 4.5 and not slow.comfortable
    assert "measured 60 tokens/s" in slow.how and "gemma-3-270m" in slow.how
    best = speed.recommend(catalog, hw, "chat")
    assert best is not None and best.id != big.id
    assert speed.estimate("chat", best.size, hw).value >= speed.COMFORTABLE["chat"]
    bigger_fast = [e for e in catalog if e.kind == "chat" and not e.sees and e.size > best.size
                   and speed.estimate("chat", e.size, hw).comfortable]
    assert not bigger_fast, "the largest comfortably fast model is chosen"
    # Text chat is offered a text model (a projector is weight it never uses); a vision one only when asked.
    assert not best.sees
    seeing = speed.recommend(catalog, hw, "chat", sees=True)
    assert seeing is not None and seeing.sees


def test_a_faster_measurement_recommends_a_bigger_model_and_gpu_offload_counts(hearth_home):
    catalog = load_catalog()
    speed.record("chat", "gemma-3-270m-q4_k_m", 253_110_465, 60.0)
    slow_pick = speed.recommend(catalog, _machine(), "chat")
    speed.record("chat", "gemma-3-270m-q4_k_m", 253_110_465, 250.0)
    fast_pick = speed.recommend(catalog, _machine(), "chat")
    assert fast_pick.size > slow_pick.size
    gpu = _machine(gpus=[GPUInfo("nvidia", "RTX", 24 * GB)])
    cpu_only = speed.estimate("chat", 4_920_734_016, _machine())
    on_gpu = speed.estimate("chat", 4_920_734_016, gpu, Fit("gpu", "fits on GPU", 33))
    half = speed.estimate("chat", 4_920_734_016, gpu, Fit("partial", "partial", 16))
    assert on_gpu.value > half.value > cpu_only.value
    assert "GPU" in on_gpu.how


def test_whisper_and_clip_estimates_scale_with_size(hearth_home):
    hw = _machine()
    catalog = load_catalog()
    speed.record("speech", "whisper-base", 147_882_941, 0.4)
    base = speed.estimate("speech", 147_882_941, hw)
    large = speed.estimate("speech", next(e.size for e in catalog if e.id == "whisper-large-v3"), hw)
    assert abs(base.value - 0.4) < 1e-6 and base.comfortable
    assert large.value > 5 and not large.comfortable
    assert speed.recommend(catalog, hw, "speech").id in {"whisper-tiny", "whisper-base"}
    small_clip = speed.estimate("images", 605_143_920, hw)
    big_clip = speed.estimate("images", 1_710_518_312, hw)
    assert small_clip.value > big_clip.value and "guess" in small_clip.how


def test_a_damaged_calibration_file_counts_as_none(hearth_home):
    speed.calibration_file().write_text(json.dumps({"chat": {"size": "big", "value": -1}, "x": 3}))
    assert speed.load_calibration() == {}
    assert "guess" in speed.estimate("chat", 800_000_000, _machine()).how
    speed.calibration_file().write_text("{not json")
    assert speed.load_calibration() == {}


# --- #24.2: advice that stays true after one reply ------------------------------------------
def _chat_picks(catalog, hw):
    return {e.id: round(speed.estimate("chat", e.size, hw, None, e.id, e.quantization).value, 3)
            for e in catalog if e.kind == "chat"}, speed.recommend(catalog, hw, "chat")


def test_a_tiny_models_reply_says_nothing_of_the_catalogs_speed(hearth_home):
    hw, catalog = _machine(), load_catalog()
    speed.record("chat", "gemma-3-270m-q4_k_m", 253_110_465, 60.0, load=0.3)
    before = _chat_picks(catalog, hw)
    # A 0.5 MB test model decodes at hundreds of tokens/s: scaled by size it made every model "~0.0 tokens/s"
    assert speed.record("chat", "tiny-vision", 520_000, 400.0, load=0.3) is False
    assert _chat_picks(catalog, hw) == before
    assert before[1] is not None, "the first-run suggestion stays"


def test_one_slow_reply_under_load_moves_nothing_and_the_history_keeps_the_median(hearth_home):
    hw, catalog = _machine(), load_catalog()
    for value in (60.0, 62.0, 58.0):
        speed.record("chat", "gemma-3-270m-q4_k_m", 253_110_465, value, load=0.5)
    quiet = _chat_picks(catalog, hw)
    speed.record("chat", "gemma-3-270m-q4_k_m", 253_110_465, 3.0, load=4.0)  # two other jobs per core
    assert _chat_picks(catalog, hw) == quiet, "a crowded run counts only while no quiet one exists"
    speed.record("chat", "gemma-3-270m-q4_k_m", 253_110_465, 20.0, load=0.5)  # quiet but odd: the median holds
    assert speed.load_calibration()["chat"]["value"] == 59.0
    assert speed.recommend(catalog, hw, "chat") == quiet[1]


def test_a_measured_model_says_so_and_the_rest_say_estimated(hearth_home):
    hw, catalog = _machine(), load_catalog()
    qwen = next(e for e in catalog if e.id == "qwen2.5-0.5b-instruct-q4_k_m")
    speed.record("chat", qwen.id, qwen.size, 30.0, quant=qwen.quantization, load=0.2)
    speed.record("chat", qwen.id, qwen.size, 34.0, quant=qwen.quantization, load=0.2)
    own = speed.estimate("chat", qwen.size, hw, None, qwen.id, qwen.quantization)
    assert own.measured and own.value == 32.0 and "measured here (2 runs" in own.how
    other = next(e for e in catalog if e.kind == "chat" and e.quantization == "Q4_K_M" and e.id != qwen.id)
    guess = speed.estimate("chat", other.size, hw, None, other.id, other.quantization)
    assert not guess.measured and "Q4_K_M models measured here" in guess.how
    # scaled by the bandwidth the measured model reached (32 tok/s x its size), plus the per-token guess
    assert guess.value == pytest.approx(1 / (other.size / (32.0 * qwen.size) + speed.PER_TOKEN_S))


def test_a_version_1_calibration_file_is_read_as_a_history_of_one(hearth_home):
    speed.calibration_file().parent.mkdir(parents=True, exist_ok=True)
    speed.calibration_file().write_text(json.dumps({"chat": {"model": "m", "size": 253_110_465, "value": 50.0}}))
    assert speed.load_calibration()["chat"] == {"model": "m", "size": 253_110_465, "value": 50.0}
    speed.record("chat", "m", 253_110_465, 70.0, load=0.1)
    assert speed.load_calibration()["chat"]["value"] == 60.0
    assert json.loads(speed.calibration_file().read_text())["schema_version"] == speed.SCHEMA_VERSION


def test_a_chat_reply_calibrates_only_when_long_enough_and_on_the_cpu(starter_store):
    from app.core.chat.engine import ChatStats

    model = "gemma-3-270m-q4_k_m"
    speed.record_reply(model, ChatStats(completion_tokens=4, tokens_per_second=90.0), on_gpu=False)
    speed.record_reply(model, ChatStats(completion_tokens=40, tokens_per_second=90.0), on_gpu=True)
    speed.record_reply("not-installed", ChatStats(completion_tokens=40, tokens_per_second=90.0), on_gpu=False)
    assert "chat" not in speed.load_calibration()
    speed.record_reply(model, ChatStats(completion_tokens=40, tokens_per_second=42.0), on_gpu=False)
    cal = speed.load_calibration()["chat"]
    assert (cal["model"], cal["value"]) == (model, 42.0)
    assert cal["size"] == starter_store.get(model).size


def test_the_gpu_share_of_a_speed_counts_the_models_own_layers_and_says_what_is_guessed(hearth_home):
    """The GPU's bandwidth and speed-up are never measured here: the text calls them guessed. Half of an
    18-layer model on the GPU is half of it, not 9 of 32."""
    speed.record("chat", "gemma-3-270m-q4_k_m", 253_110_465, 60.0)
    gpu = _machine(gpus=[GPUInfo("nvidia", "RTX", 24 * GB)])
    half = speed.estimate("chat", 4_920_734_016, gpu, Fit("partial", "partial", 9, 0, 18))
    assert "50% of it on the GPU at a guessed 300 GB/s" in half.how, half.how
    on_gpu = Fit("gpu", "fits on GPU")
    for kind in ("speech", "images"):
        assert "on the GPU a guessed 10 times faster" in speed.estimate(kind, 605_143_920, gpu, on_gpu).how
