"""What this computer has, and which device each runtime will use, with reasons.

Detection never imports torch, llama_cpp, ctranslate2 or faster_whisper: it
inspects their installed files instead, so it is cheap enough for start-up.
The engines confirm the choice when they load and fall back with a notice.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class CPUInfo:
    model: str
    arch: str
    physical_cores: int
    logical_cores: int
    features: list[str]  # of avx, avx2, avx512f, neon, fma, f16c


@dataclass
class GPUInfo:
    vendor: str  # "nvidia" | "apple"
    name: str
    vram_bytes: int  # unified memory on Apple Silicon
    driver: str = ""


@dataclass
class DeviceChoice:
    """Where one runtime runs, and why. The one type every engine and the report use."""

    runtime: str  # "llama.cpp" | "ctranslate2" | "torch"
    device: str  # "cpu" | "cuda" | "metal" | "mps"
    detail: str  # in the runtime's own words: open_clip precision (fp16), CTranslate2 compute type (int8)…
    reason: str


@dataclass
class HardwareReport:
    os: str
    os_version: str
    python: str
    cpu: CPUInfo
    ram_bytes: int
    gpus: list[GPUInfo] = field(default_factory=list)
    runtimes: list[DeviceChoice] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def runtime(self, name: str) -> DeviceChoice:
        return next(r for r in self.runtimes if r.runtime == name)

    def summary(self) -> str:
        gib = self.ram_bytes / 2**30
        parts = [f"{self.cpu.physical_cores}-core {self.cpu.arch}", f"{gib:.0f} GB RAM"]
        parts += [f"{g.name} ({g.vram_bytes / 2**30:.0f} GB)" for g in self.gpus]
        if not self.gpus:
            parts.append("no GPU")
        return " · ".join(parts)

    def to_text(self) -> str:
        lines = [
            f"System:  {self.os} {self.os_version}, Python {self.python}",
            f"CPU:     {self.cpu.model} ({self.cpu.arch})",
            f"Cores:   {self.cpu.physical_cores} physical, {self.cpu.logical_cores} logical",
            f"Features: {', '.join(self.cpu.features) or 'none detected'}",
            f"RAM:     {self.ram_bytes / 2**30:.1f} GB",
        ]
        if self.gpus:
            for gpu in self.gpus:
                driver = f", driver {gpu.driver}" if gpu.driver else ""
                lines.append(f"GPU:     {gpu.name}, {gpu.vram_bytes / 2**30:.1f} GB{driver}")
        else:
            lines.append("GPU:     none detected")
        lines.append("")
        lines.append("Runtimes:")
        for r in self.runtimes:
            lines.append(f"  {r.runtime:<12} → {r.device} ({r.detail}): {r.reason}")
        return "\n".join(lines)


# --- CPU ---------------------------------------------------------------------------

_FEATURES = ("avx", "avx2", "avx512f", "fma", "f16c")


def _run(cmd: list[str], timeout: float = 5.0) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout if out.returncode == 0 else ""


def _linux_cpu() -> tuple[str, set[str]]:
    model, flags = "", set[str]()
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    if "asimd" in flags or platform.machine().lower() in ("aarch64", "arm64"):
        flags.add("neon")
    return model, flags


def _mac_cpu() -> tuple[str, set[str]]:
    model = _run(["sysctl", "-n", "machdep.cpu.brand_string"]).strip()
    flags: set[str] = set()
    if platform.machine() == "arm64":
        flags.add("neon")
    else:
        for name in _FEATURES:
            key = {"avx": "avx1_0", "avx2": "avx2_0", "avx512f": "avx512f"}.get(name, name)
            if _run(["sysctl", "-n", f"hw.optional.{key}"]).strip() == "1":
                flags.add(name)
    return model, flags


def _windows_cpu() -> tuple[str, set[str]]:
    import ctypes

    flags: set[str] = set()
    # PF_AVX_INSTRUCTIONS_AVAILABLE (39), PF_AVX2 (40), PF_AVX512F (41), PF_ARM_NEON (19)
    for name, code in (("avx", 39), ("avx2", 40), ("avx512f", 41), ("neon", 19)):
        try:
            if ctypes.windll.kernel32.IsProcessorFeaturePresent(code):  # type: ignore[attr-defined]  # Windows only
                flags.add(name)
        except (AttributeError, OSError):
            pass
    return platform.processor(), flags


def detect_cpu() -> CPUInfo:
    import psutil

    system = platform.system()
    if system == "Linux":
        model, flags = _linux_cpu()
    elif system == "Darwin":
        model, flags = _mac_cpu()
    elif system == "Windows":
        model, flags = _windows_cpu()
    else:
        model, flags = platform.processor(), set()
    logical = os.cpu_count() or 1
    physical = psutil.cpu_count(logical=False) or logical
    features = [f for f in (*_FEATURES, "neon") if f in flags]
    return CPUInfo(model or platform.processor() or "unknown", platform.machine(), physical, logical, features)


def physical_cores() -> int:
    """The thread count the runtimes use: physical cores (hyper-threads only contend)."""
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1


# --- GPUs --------------------------------------------------------------------------


def detect_nvidia() -> list[GPUInfo]:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    out = _run([exe, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"])
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 3 and parts[1].isdigit():
            gpus.append(GPUInfo("nvidia", parts[0], int(parts[1]) * 2**20, parts[2]))
    return gpus


def detect_apple(ram_bytes: int) -> list[GPUInfo]:
    if platform.system() != "Darwin" or platform.machine() != "arm64":
        return []
    chip = _run(["sysctl", "-n", "machdep.cpu.brand_string"]).strip() or "Apple Silicon"
    return [GPUInfo("apple", f"{chip} GPU", ram_bytes)]


# --- runtimes ----------------------------------------------------------------------


def _package_dir(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _has_lib(folder: Path | None, pattern: str) -> bool:
    if folder is None or not folder.exists():
        return False
    rx = re.compile(pattern, re.IGNORECASE)
    return any(rx.search(p.name) for p in folder.rglob("*") if p.is_file())


def choose_llama(gpus: list[GPUInfo]) -> DeviceChoice:
    pkg = _package_dir("llama_cpp")
    if pkg is None:
        return DeviceChoice("llama.cpp", "cpu", "not installed", "llama-cpp-python is not installed")
    nvidia = [g for g in gpus if g.vendor == "nvidia"]
    apple = [g for g in gpus if g.vendor == "apple"]
    if _has_lib(pkg, r"ggml-cuda") and nvidia:
        return DeviceChoice("llama.cpp", "cuda", "all layers that fit", f"CUDA build and {nvidia[0].name}")
    if _has_lib(pkg, r"ggml-metal") and apple:
        return DeviceChoice("llama.cpp", "metal", "all layers", "Metal build on Apple Silicon")
    if nvidia:
        reason = "llama-cpp-python was built without GPU offload → CPU"
    elif apple:
        reason = "llama-cpp-python was built without Metal → CPU"
    else:
        reason = "no supported GPU → CPU"
    return DeviceChoice("llama.cpp", "cpu", "threads = physical cores", reason)


def _ct2_cublas_name() -> str:
    """The cuBLAS CTranslate2's CUDA build opens at first use: 4.x is built for CUDA 12, 3.x for 11."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major = int(version("ctranslate2").split(".")[0])
    except (PackageNotFoundError, ValueError):
        major = 4
    return "libcublas.so.12" if major >= 4 else "libcublas.so.11"


def _ct2_cublas_loadable() -> bool:
    """Its wheels do not ship cuBLAS; a driver with only another CUDA's libraries fails at the
    first transcription ("libcublas.so.12 is not found"), so look before choosing CUDA."""
    import ctypes

    try:
        ctypes.CDLL(_ct2_cublas_name())
        return True
    except OSError:
        return False


def choose_ctranslate2(gpus: list[GPUInfo]) -> DeviceChoice:
    pkg = _package_dir("ctranslate2")
    if pkg is None:
        return DeviceChoice("ctranslate2", "cpu", "not installed", "ctranslate2 is not installed")
    nvidia = [g for g in gpus if g.vendor == "nvidia"]
    # The Linux and Windows wheels are built with CUDA; macOS wheels are CPU only.
    if nvidia and platform.system() == "Linux" and not _ct2_cublas_loadable():
        return DeviceChoice("ctranslate2", "cpu", "int8",
                             f"CTranslate2 needs {_ct2_cublas_name()} (CUDA 12 cuBLAS), which is not installed → CPU")
    if nvidia and platform.system() in ("Linux", "Windows"):
        return DeviceChoice("ctranslate2", "cuda", "float16", f"CUDA-enabled CTranslate2 and {nvidia[0].name}")
    reason = "CTranslate2 has no Metal backend → CPU" if platform.system() == "Darwin" else "no NVIDIA GPU → CPU"
    return DeviceChoice("ctranslate2", "cpu", "int8", reason)


def choose_torch(gpus: list[GPUInfo]) -> DeviceChoice:
    pkg = _package_dir("torch")
    if pkg is None:
        return DeviceChoice("torch", "cpu", "not installed", "torch is not installed")
    nvidia = [g for g in gpus if g.vendor == "nvidia"]
    cuda_build = _has_lib(pkg / "lib", r"torch_cuda")
    if nvidia and cuda_build:
        return DeviceChoice("torch", "cuda", "fp16", f"CUDA build of torch and {nvidia[0].name}")
    if any(g.vendor == "apple" for g in gpus):
        return DeviceChoice("torch", "mps", "fp32", "Apple Silicon → Metal Performance Shaders")
    if nvidia:
        return DeviceChoice("torch", "cpu", "fp32", "torch was installed without CUDA → CPU")
    return DeviceChoice("torch", "cpu", "fp32", "no supported GPU → CPU")


def _detect() -> HardwareReport:
    import psutil

    ram = psutil.virtual_memory().total
    gpus = detect_nvidia() + detect_apple(ram)
    report = HardwareReport(
        os=platform.system(),
        os_version=platform.release(),
        python=sys.version.split()[0],
        cpu=detect_cpu(),
        ram_bytes=ram,
        gpus=gpus,
    )
    report.runtimes = [choose_llama(gpus), choose_ctranslate2(gpus), choose_torch(gpus)]
    return report


_cached: HardwareReport | None = None
_cache_lock = threading.Lock()


def detect(refresh: bool = False) -> HardwareReport:
    """The hardware report, detected once per process (nvidia-smi, a package walk, a cuBLAS load);
    ``refresh`` detects again, for the Hardware dialog after a driver or package change."""
    global _cached
    with _cache_lock:
        if _cached is None or refresh:
            _cached = _detect()
        return _cached


def cached() -> HardwareReport | None:
    """The report this process has detected, if it has: a model's own process is handed it."""
    return _cached


def adopt(report: HardwareReport) -> None:
    """Takes the report the app detected, so a model's own process does not detect again on every load."""
    global _cached
    with _cache_lock:
        _cached = report


# What each runtime runs on the CPU with, when the user asks for the CPU.
_CPU_DETAIL = {"llama.cpp": "threads = physical cores", "ctranslate2": "int8", "torch": "fp32"}
_CUDA_DETAIL = {"llama.cpp": "all layers that fit", "ctranslate2": "float16", "torch": "fp16"}


def choose_device(runtime: str, prefer: str = "auto", report: HardwareReport | None = None) -> DeviceChoice:
    """The device ``runtime`` will use: the user's preference ("cpu", "cuda"), else the report's choice."""
    if prefer == "cpu":
        return DeviceChoice(runtime, "cpu", _CPU_DETAIL[runtime], "CPU chosen in settings")
    if prefer == "cuda":
        return DeviceChoice(runtime, "cuda", _CUDA_DETAIL[runtime], "CUDA asked for")
    choice = (report or detect()).runtime(runtime)
    if choice.detail == "not installed":  # the engine's own import says so; keep its arguments valid
        return DeviceChoice(runtime, "cpu", _CPU_DETAIL[runtime], choice.reason)
    return choice
