"""Recordings of several voices, made with espeak-ng, for the speaker tests and `bench.py speech`.

Each turn is spoken by one of two espeak voices of different pitch and speed, with pauses of
different lengths between turns; the script says who spoke when, to score a diarization by."""

from __future__ import annotations

import itertools
import subprocess
import wave
from pathlib import Path

import numpy as np

RATE = 16000
VOICES = (("en-us+m3", "35", "150"), ("en-gb+f4", "80", "185"))  # (voice, pitch, words a minute)
LINES = [
    "Good morning, thank you for coming in today.",
    "Thanks for having me, I am glad to be here.",
    "Can you tell us how the project started?",
    "It began three years ago in a small workshop near the river.",
    "And who were the first people to join you?",
    "Two friends from school, and later my sister, who runs the accounts.",
    "What was the hardest part of the first year?",
    "Finding money, mostly. The bank said no twice before it said yes.",
    "Where do you see the company in five years?",
    "I hope we will have a second workshop and perhaps thirty people.",
    "That sounds ambitious. What keeps you going on a bad day?",
    "The letters from customers who tell us what our work meant to them.",
]
PAUSES = (0.35, 0.9, 0.5, 1.4, 0.6)  # seconds between turns, in turn


def _speak(text: str, voice: tuple[str, str, str], path: Path) -> np.ndarray:
    name, pitch, speed = voice
    subprocess.run(["espeak-ng", "-v", name, "-p", pitch, "-s", speed, "-w", str(path), text], check=True)
    with wave.open(str(path)) as wav:
        rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
    audio = np.frombuffer(frames, np.int16).astype(np.float32) / 32768.0
    if rate != RATE:  # espeak-ng writes 22050 Hz
        audio = np.interp(np.arange(0, len(audio) * RATE / rate) * rate / RATE, np.arange(len(audio)), audio)
    return audio.astype(np.float32)


def recording(path: Path, turns: list[tuple[int, str]], voices=VOICES) -> list[tuple[int, float, float]]:
    """Writes the turns (speaker index, text) to a 16 kHz WAV at ``path``; returns (speaker, start, end)."""
    parts, script, at = [np.zeros(int(0.3 * RATE), np.float32)], [], 0.3
    for k, (who, text) in enumerate(turns):
        audio = _speak(text, voices[who], path.with_suffix(f".{k}.wav"))
        path.with_suffix(f".{k}.wav").unlink()
        parts.append(audio)
        script.append((who, at, at + len(audio) / RATE))
        at += len(audio) / RATE
        pause = PAUSES[k % len(PAUSES)]
        parts.append(np.zeros(int(pause * RATE), np.float32))
        at += int(pause * RATE) / RATE
    audio = np.concatenate(parts)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())
    return script


def dialogue(seconds: float = 0) -> list[tuple[int, str]]:
    """The interview, alternating voices; repeated until it lasts about ``seconds`` (about 45 s once)."""
    times = max(1, round(seconds / 45)) if seconds else 1
    return [(i % 2, line) for _ in range(times) for i, line in enumerate(LINES)]


def word_accuracy(segments, script: list[tuple[int, float, float]]) -> float:
    """Share of the transcript's words on the right speaker, after the best matching of labels."""
    truth, said = [], []
    for s in segments:
        for w in s.words:
            mid = (w.start + w.end) / 2
            near = min(script, key=lambda t: 0 if t[1] <= mid <= t[2] else min(abs(mid - t[1]), abs(mid - t[2])))
            truth.append(near[0])
            said.append(s.speaker)
    if not truth:
        return 0.0
    labels = sorted({x for x in said if x is not None})
    people = sorted(set(truth))
    best = 0
    for perm in itertools.permutations(labels, min(len(labels), len(people))):
        match = dict(zip(perm, people, strict=False))
        best = max(best, sum(match.get(s) == t for s, t in zip(said, truth, strict=True)))
    return best / len(truth)
