"""Who spoke when: a transcript's segments labelled by voice, offline.

Each segment (speech the VAD found, cut into cues by word timings) is covered by short windows; the
voice encoder embeds each window; the windows are clustered (average linkage on cosine distance),
the number of speakers given or found where merging stops (``SAME_VOICE``). Each word then takes the
speaker nearest to the windows over it; a segment whose words change speaker for long enough is
split at that word. Labels are "1", "2"... in order of first appearance.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from app.core.jobs import Cancelled, CancelToken
from app.core.speech.audio import SAMPLE_RATE, iter_chunks
from app.core.speech.transcriber import Segment, Word

log = logging.getLogger(__name__)

WINDOW_S, HOP_S, MIN_WINDOW_S = 1.5, 0.75, 0.8
SAME_VOICE = 0.32  # cosine distance under which two groups of windows are merged as one voice
MAX_POINTS = 400  # windows clustered; the rest are assigned to the nearest voice
MIN_SHARE = 0.03  # a "voice" with fewer of the windows is noise, merged into the nearest
MIN_TURN_S = 0.8  # a run of words shorter than this keeps its neighbours' speaker
EMBED_STEP = 16  # windows embedded between looks at the cancel token (well under a second on 2 cores)


def plan_windows(segments: list[Segment]) -> list[tuple[float, float]]:
    """Windows (seconds) over each segment: one for a short one, else 1.5 s every 0.75 s."""
    spans = []
    for s in segments:
        a, b = s.start, max(s.end, s.start)
        if b - a <= WINDOW_S + HOP_S:
            pad = max(0.0, MIN_WINDOW_S - (b - a)) / 2
            spans.append((max(0.0, a - pad), b + pad))
            continue
        starts = list(np.arange(a, b - WINDOW_S, HOP_S)) + [b - WINDOW_S]
        spans.extend((float(t), float(t) + WINDOW_S) for t in starts)
    return spans


def cut_array(audio: np.ndarray, spans: list[tuple[float, float]], offset: float = 0.0) -> list[np.ndarray]:
    out = []
    for a, b in spans:
        i, j = int((a - offset) * SAMPLE_RATE), int((b - offset) * SAMPLE_RATE)
        out.append(audio[max(0, i) : max(0, j)])
    return out


def cut_file(path: Path, spans: list[tuple[float, float]], chunks: Iterable[np.ndarray] | None = None,
             cancel: CancelToken | None = None) -> list[np.ndarray]:
    """The spans' audio read chunk by chunk (bounded memory); a span across two chunks is joined."""
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    out: list[np.ndarray] = [np.zeros(0, np.float32)] * len(spans)
    carry, carry_at, k = np.zeros(0, np.float32), 0.0, 0
    for chunk in chunks if chunks is not None else iter_chunks(path):
        if cancel is not None:
            cancel.raise_if_cancelled()
        joined = np.concatenate([carry, chunk])
        end = carry_at + joined.size / SAMPLE_RATE
        while k < len(order) and spans[order[k]][1] <= end:
            out[order[k]] = cut_array(joined, [spans[order[k]]], carry_at)[0]
            k += 1
        keep = min(joined.size, int(10 * SAMPLE_RATE))  # windows are under 10 s
        carry, carry_at = joined[joined.size - keep :], end - keep / SAMPLE_RATE
    while k < len(order):  # past the end: what there is
        out[order[k]] = cut_array(carry, [spans[order[k]]], carry_at)[0]
        k += 1
    return out


def cluster(emb: np.ndarray, num_speakers: int | None = None) -> np.ndarray:
    """Centroids (speakers, 256) of the embeddings: average linkage, cosine distance."""
    if len(emb) == 0:
        return np.zeros((0, emb.shape[1] if emb.ndim == 2 else 256), np.float32)
    pick = np.linspace(0, len(emb) - 1, min(len(emb), MAX_POINTS)).round().astype(int)
    points = emb[np.unique(pick)]
    n = len(points)
    dist = 1.0 - points @ points.T
    np.fill_diagonal(dist, np.inf)
    sizes = np.ones(n)
    members = [[i] for i in range(n)]
    alive = np.ones(n, bool)
    want = max(1, min(num_speakers, n)) if num_speakers else 1
    while alive.sum() > want:
        flat = int(np.argmin(dist))
        i, j = divmod(flat, n)
        if not num_speakers and dist[i, j] > SAME_VOICE:
            break
        merged = (sizes[i] * dist[i] + sizes[j] * dist[j]) / (sizes[i] + sizes[j])
        dist[i], dist[:, i] = merged, merged
        dist[i, i] = np.inf
        dist[j], dist[:, j] = np.inf, np.inf
        sizes[i] += sizes[j]
        members[i] += members[j]
        alive[j] = False
    groups = [members[i] for i in np.flatnonzero(alive)]
    if not num_speakers:  # tiny groups are noise (a cough, a mixed window): into the nearest real voice
        big = [g for g in groups if len(g) >= max(2, MIN_SHARE * n)] or [max(groups, key=len)]
        groups = big
    cents = np.stack([points[g].mean(axis=0) for g in groups])
    return cents / np.linalg.norm(cents, axis=1, keepdims=True)


def _runs(labels: list[int], words: list[Word]) -> list[tuple[int, int, int]]:
    """(label, first, last+1) runs of words; a short run takes its longer neighbour's label."""
    runs: list[list[int]] = []
    for i, lab in enumerate(labels):
        if runs and runs[-1][0] == lab:
            runs[-1][2] = i + 1
        else:
            runs.append([lab, i, i + 1])
    while len(runs) > 1:
        span = [words[r[2] - 1].end - words[r[1]].start for r in runs]
        k = int(np.argmin(span))
        if span[k] >= MIN_TURN_S:
            break
        left = span[k - 1] if k > 0 else -1.0
        right = span[k + 1] if k + 1 < len(runs) else -1.0
        into = k - 1 if left >= right else k + 1
        runs[k][0] = runs[into][0]
        merged: list[list[int]] = []
        for r in runs:
            if merged and merged[-1][0] == r[0]:
                merged[-1][2] = r[2]
            else:
                merged.append(list(r))
        runs = merged
    return [(r[0], r[1], r[2]) for r in runs]


def assign(segments: list[Segment], spans: list[tuple[float, float]], emb: np.ndarray, cents: np.ndarray
           ) -> list[Segment]:
    """Segments with speakers; one whose words change speaker for long enough is split there."""
    if len(cents) == 0:
        return segments
    starts = np.array([a for a, _ in spans])
    ends = np.array([b for _, b in spans])
    raw: list[tuple[Segment, int]] = []
    for s in segments:
        inside = np.flatnonzero((starts >= s.start - 1.0) & (ends <= max(s.end, s.start) + 1.0))
        if len(inside) == 0:
            raw.append((s, -1))
            continue
        if not s.words:
            raw.append((s, int(np.argmax(emb[inside].mean(axis=0) @ cents.T))))
            continue
        labels = []
        for w in s.words:
            mid = (w.start + w.end) / 2
            over = inside[(starts[inside] <= mid) & (ends[inside] >= mid)]
            if len(over) == 0:
                over = inside[[int(np.argmin(np.abs((starts[inside] + ends[inside]) / 2 - mid)))]]
            labels.append(int(np.argmax(emb[over].mean(axis=0) @ cents.T)))
        runs = _runs(labels, s.words)
        if len(runs) == 1:
            raw.append((s, runs[0][0]))
            continue
        for lab, a, b in runs:
            words = s.words[a:b]
            decode = dataclasses.replace(s.decode, tokens=[]) if s.decode else None  # a part's tokens are unknown
            raw.append((Segment(words[0].start, max(words[0].start, words[-1].end),
                                "".join(w.word for w in words).strip(), list(words), decode=decode), lab))
    names: dict[int, str] = {}
    out = []
    for seg, lab in raw:
        if lab >= 0:
            seg.speaker = names.setdefault(lab, str(len(names) + 1))
        out.append(seg)
    return out


def embed_windows(encoder, wavs: list[np.ndarray], cancel: CancelToken | None = None) -> np.ndarray:
    """The windows' embeddings, EMBED_STEP at a time; a cancel stops it between steps (Cancelled)."""
    parts = []
    for k in range(0, len(wavs), EMBED_STEP):
        if cancel is not None and cancel.cancelled:
            log.info("speakers: stopped after %d of %d windows", k, len(wavs))
            raise Cancelled()
        parts.append(encoder.embed(wavs[k : k + EMBED_STEP]))
    return np.concatenate(parts)


def diarize(segments: list[Segment], encoder, num_speakers: int | None = None, *, path: Path | None = None,
            audio: np.ndarray | None = None, cancel: CancelToken | None = None) -> list[Segment]:
    """The segments with speakers, from the file at ``path`` or 16 kHz ``audio`` (time 0 at its start).
    ``cancel`` (a client gone, a request's time up) stops it between steps with Cancelled."""
    if not segments:
        return segments
    spans = plan_windows(segments)
    wavs = cut_array(audio, spans) if audio is not None else cut_file(Path(str(path)), spans, cancel=cancel)
    keep = [i for i, w in enumerate(wavs) if w.size >= SAMPLE_RATE // 4]
    if not keep:
        return segments
    spans = [spans[i] for i in keep]
    log.info("speakers: %d windows to embed", len(keep))
    emb = embed_windows(encoder, [wavs[i] for i in keep], cancel)
    cents = cluster(emb, num_speakers)
    log.info("speakers: %d found in %d windows", len(cents), len(emb))
    return assign(segments, spans, emb, cents)
