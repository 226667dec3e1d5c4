"""Switches that keep the libraries we import from phoning home.

Set before any of them is imported. Only the model downloader opens network
connections, and only when the user starts a download.
"""

from __future__ import annotations

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TORCH_HUB_DISABLE_UPDATE_CHECK": "1",  # torch.hub never asks for updates
    # onnxruntime 1.29+ (faster-whisper's VAD) sends 1DS telemetry on Linux and macOS too, looking up
    # mobile.events.data.microsoft.com every few seconds; read once, before its first session.
    "ORT_DISABLE_TELEMETRY": "1",
}


def apply() -> None:
    os.environ.update(OFFLINE_ENV)
