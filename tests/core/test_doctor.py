import json
import os
import re
from pathlib import Path

from tests.conftest import run_app
from tests.helpers import nvidia_gpu_names


def _meminfo_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal")


def test_doctor_json_matches_this_machine(hearth_home):
    result = run_app("doctor", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["cpu"]["logical_cores"] == os.cpu_count()
    assert 1 <= report["cpu"]["physical_cores"] <= os.cpu_count()
    assert abs(report["ram_bytes"] - _meminfo_total()) <= 0.05 * _meminfo_total()
    gpus = nvidia_gpu_names()
    assert [g["name"] for g in report["gpus"] if g["vendor"] == "nvidia"] == gpus
    runtimes = {r["runtime"]: r for r in report["runtimes"]}
    assert set(runtimes) == {"llama.cpp", "ctranslate2", "torch"}
    assert all(r["reason"] for r in runtimes.values()), "every choice says why"
    if not report["gpus"]:
        assert all(r["device"] == "cpu" for r in runtimes.values())
    else:  # CUDA where the build and its libraries allow it, else the CPU with a reason
        assert all(r["device"] in ("cpu", "cuda", "metal", "mps") for r in runtimes.values())
    ct2 = runtimes["ctranslate2"]
    assert ct2["detail"] == ("int8" if ct2["device"] == "cpu" else "float16")
    assert report["paths"]["data"].startswith(str(hearth_home))


def test_doctor_text_names_devices_and_reasons(hearth_home):
    result = run_app("doctor")
    assert result.returncode == 0, result.stderr
    gpus = nvidia_gpu_names()
    assert re.search(r"llama\.cpp\s+→ (cpu|cuda|metal)\b", result.stdout), result.stdout
    if gpus:
        assert all(name in result.stdout for name in gpus), result.stdout
    else:
        assert "→ cuda" not in result.stdout
    assert "Cores:" in result.stdout and str(hearth_home) in result.stdout


def _llama_has_cuda() -> bool:
    """Whether the installed llama-cpp-python carries its CUDA backend (looked up, not imported)."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    folders = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    return any("ggml-cuda" in f.name.lower() for folder in folders for f in folder.rglob("*"))


def test_runtime_choice_with_a_gpu_but_cpu_only_llama():
    from app.core import hardware

    gpu = hardware.GPUInfo("nvidia", "Test GPU", 8 << 30, "550.1")
    choice = hardware.choose_llama([gpu])
    # A llama-cpp-python without a CUDA library must say so; a CUDA build takes the GPU.
    if _llama_has_cuda():
        assert choice.device == "cuda" and "Test GPU" in choice.reason
    else:
        assert choice.device == "cpu"
        assert "without GPU offload" in choice.reason
    # CTranslate2's CUDA build needs CUDA 12's cuBLAS at first use; CUDA is chosen only where it loads.
    ct2 = hardware.choose_ctranslate2([gpu])
    if hardware._ct2_cublas_loadable():
        assert ct2.device == "cuda"
    else:
        assert ct2.device == "cpu" and "libcublas.so.12" in ct2.reason


def test_detect_runs_once_per_process_and_refreshes_on_demand(monkeypatch):
    from app.core import hardware

    calls = []
    real = hardware._detect
    monkeypatch.setattr(hardware, "_detect", lambda: calls.append(1) or real())
    monkeypatch.setattr(hardware, "_cached", None)
    first = hardware.detect()
    assert hardware.detect() is first and hardware.choose_device("torch").device == first.runtime("torch").device
    assert len(calls) == 1, "nvidia-smi, the package walk and the cuBLAS probe run once"
    again = hardware.detect(refresh=True)
    assert len(calls) == 2 and again is not first and hardware.detect() is again


def test_one_device_choice_for_every_runtime():
    from app.core import hardware

    for runtime, cpu_detail in (("torch", "fp32"), ("ctranslate2", "int8")):
        choice = hardware.choose_device(runtime, "cpu")
        assert isinstance(choice, hardware.DeviceChoice)
        assert (choice.runtime, choice.device, choice.detail) == (runtime, "cpu", cpu_detail)
    assert hardware.choose_device("ctranslate2", "cuda").detail == "float16"
