"""`bench.py download`: our downloader against curl and a plain streaming copy, same loopback server."""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SIZE = 512 * 1024 * 1024


def _plain_copy(url: str, dest: Path) -> str:
    digest = hashlib.sha256()
    with urllib.request.urlopen(url) as resp, open(dest, "wb") as out:
        while chunk := resp.read(1 << 20):
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def _curl(url: str, dest: Path) -> str:
    subprocess.run(["curl", "-sSL", "-o", str(dest), url], check=True)
    out = subprocess.run(["sha256sum", str(dest)], check=True, capture_output=True, text=True)
    return out.stdout.split()[0]


def bench_download(args) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from app.core.models.download import Downloader
    from tests.hub_server import Hub

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        block = os.urandom(1 << 20)
        data = b"".join(block[i:] + block[:i] for i in range(SIZE >> 20))  # 512 distinct MiB
        sha = hashlib.sha256(data).hexdigest()
        hub = Hub()
        url = hub.add("bench/big", "big.bin", data)
        cdn = f"{hub.endpoint}/cdn/bench/big/resolve/main/big.bin"
        timings: dict[str, list[float]] = {"ours": [], "plain": [], "curl": []}
        runs = min(args.runs, 3)
        try:
            for _ in range(runs):  # alternate
                for name in ("ours", "plain", "curl"):
                    if name == "curl" and not shutil.which("curl"):
                        continue
                    dest = tmp / f"{name}.bin"
                    dest.unlink(missing_ok=True)
                    start = time.perf_counter()
                    if name == "ours":
                        digest = Downloader().download(url, dest).sha256
                    elif name == "plain":
                        digest = _plain_copy(cdn, dest)
                    else:
                        digest = _curl(cdn, dest)
                    timings[name].append(time.perf_counter() - start)
                    assert digest == sha, f"{name} got a different file"
                    dest.unlink()
        finally:
            hub.close()
    rate = {k: SIZE / statistics.median(v) / 2**20 for k, v in timings.items() if v}
    best_baseline = max(v for k, v in rate.items() if k != "ours")
    return {
        "suite": "download",
        "file_mb": SIZE >> 20,
        "runs": runs,
        "ours_mb_s": round(rate["ours"], 1),
        "plain_copy_mb_s": round(rate["plain"], 1),
        "curl_then_sha256sum_mb_s": round(rate["curl"], 1) if "curl" in rate else None,
        "ratio_vs_best_baseline": round(rate["ours"] / best_baseline, 3),
        "goal": ">= 0.9",
    }
