"""Voice embeddings: Resemblyzer's pretrained voice encoder run in torch, without its package.

The package needs librosa (with numba and llvmlite) for one mel spectrogram and webrtcvad (a C build
with no wheels) to trim silence, which faster-whisper's VAD already does for us. The encoder itself is
a three-layer LSTM over 40 mel bands; its tensors are kept in a .npz (app.core.models.voice_weights).
An embedding is 256 numbers, L2-normed: the same voice gives nearby vectors (cosine).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from app.core.models.voice_weights import HIDDEN, LAYERS, N_MELS, check_weights
from app.core.speech.audio import SAMPLE_RATE

N_FFT, HOP = 400, 160  # 25 ms windows every 10 ms, as the encoder was trained
NORM_DBFS = -30.0  # the encoder's training audio was raised to this loudness (never lowered)
FRAMES_PER_S = SAMPLE_RATE // HOP


def _mel_filters() -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): Slaney's mel scale and area norm."""
    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, lin)

    def mel_to_hz(m):
        lin = m * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log, lin)

    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower, upper = -ramps[:-2] / fdiff[:-1, None], ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : N_MELS + 2] - mel_f[:N_MELS]))[:, None]
    return weights.astype(np.float32)


_FILTERS = _mel_filters()
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) power mel spectrogram, one frame every 10 ms (librosa's, centred, zero-padded)."""
    wav = np.asarray(wav, dtype=np.float32)
    rms = float(np.sqrt(np.mean(wav.astype(np.float64) ** 2))) if wav.size else 0.0
    if rms > 0:
        gain = 10 ** ((NORM_DBFS - 20 * np.log10(rms)) / 20)
        wav = wav * np.float32(max(gain, 1.0))
    padded = np.pad(wav, N_FFT // 2)
    count = 1 + (padded.size - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(padded, (count, N_FFT), (padded.strides[0] * HOP, padded.strides[0]))
    power = np.abs(np.fft.rfft(frames * _WINDOW, axis=1)) ** 2
    return (power @ _FILTERS.T).astype(np.float32)


class VoiceEncoder:
    """Embeds pieces of 16 kHz audio; one at a time per encoder (a lock), any thread."""

    def __init__(self, path: Path, threads: int = 1):
        import torch

        state = {k: torch.from_numpy(v) for k, v in check_weights(path).items()}
        self._lstm = torch.nn.LSTM(N_MELS, HIDDEN, LAYERS, batch_first=True)
        self._linear = torch.nn.Linear(HIDDEN, HIDDEN)
        self._lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
        self._linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
        self._lstm.eval()
        # One thread: the LSTM's steps are too small to split; on a loaded 2-core machine two threads
        # took 13 s for what one did in 1.5 s (39 windows).
        self._threads = threads
        self._lock = threading.Lock()

    def embed(self, wavs: list[np.ndarray], batch: int = 64) -> np.ndarray:
        """(len(wavs), 256) embeddings, one a piece; pieces of a similar length are run together."""
        import torch

        mels = [mel_frames(w) for w in wavs]
        out = np.zeros((len(wavs), HIDDEN), dtype=np.float32)
        order = sorted(range(len(mels)), key=lambda i: len(mels[i]))
        with self._lock, torch.inference_mode():
            before = torch.get_num_threads()
            torch.set_num_threads(self._threads)
            try:
                for k in range(0, len(order), batch):
                    ids = order[k : k + batch]
                    lengths = torch.tensor([len(mels[i]) for i in ids])
                    padded = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(mels[i]) for i in ids],
                                                             batch_first=True)
                    packed = torch.nn.utils.rnn.pack_padded_sequence(padded, lengths, batch_first=True,
                                                                     enforce_sorted=False)
                    _, (hidden, _) = self._lstm(packed)
                    raw = torch.relu(self._linear(hidden[-1]))
                    out[ids] = (raw / raw.norm(dim=1, keepdim=True).clamp_min(1e-8)).numpy()
            finally:
                torch.set_num_threads(before)
        return out


_cache: dict[str, VoiceEncoder] = {}
_cache_lock = threading.Lock()


def open_encoder(path: Path) -> VoiceEncoder:
    """One encoder per model file in a process (5 MB of weights, read once)."""
    key = str(Path(path).resolve())
    with _cache_lock:
        if key not in _cache:
            _cache[key] = VoiceEncoder(Path(path))
        return _cache[key]
