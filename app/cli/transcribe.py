"""`hearth transcribe FILE...`: transcripts to stdout or files."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("transcribe", help="transcribe audio and video files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--model", help="a speech model id from the store, or a model folder (default: the default)")
    p.add_argument("--language", help="language code, e.g. en (default: detect)")
    p.add_argument("--translate", action="store_true", help="translate to English")
    p.add_argument("--format", default="txt", choices=("txt", "srt", "vtt", "json"))
    p.add_argument("--output", help="a file (one input) or a folder (several inputs); default: stdout")
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument("--word-timestamps", action="store_true")
    p.add_argument("--speakers", action="store_true",
                   help="tell the speakers apart (Speaker 1, Speaker 2...); the output comes when the file is done")
    p.add_argument("--num-speakers", type=_speaker_count, metavar="N",
                   help="with --speakers: how many there are (default: found from the voices)")
    p.add_argument("--speaker-model", help="with --speakers: a speaker model id (default: the default)")
    p.add_argument("--no-batch", action="store_true",
                   help="decode 30-second windows one after another instead of in batches (slower)")
    p.set_defaults(func=run)


def _speaker_count(value: str) -> int:
    import argparse

    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= 32:
        raise argparse.ArgumentTypeError(f"the number of speakers is a whole number from 1 to 32, not {value!r}")
    return n


def partial_path(target: Path) -> Path:
    """Where a transcript grows while it is written; it replaces the target when complete."""
    return target.with_name(target.name + ".partial")


def _write(segments, stream, sink) -> None:
    sink.write(stream.head())
    for s in segments:
        sink.write(stream.add(s))
        sink.flush()  # what is done survives a killed run
    sink.write(stream.tail())


def _with_speakers(segments, voices, num_speakers, src: Path):
    from app.core.speech.diarize import diarize

    yield from diarize(list(segments), voices, num_speakers, path=src)


def run(args) -> int:
    from app.core.jobs import HearthError
    from app.core.opening import open_transcriber, open_voices
    from app.core.settings import load_settings
    from app.core.speech import subtitles
    from app.core.speech.transcriber import Segment, TranscribeOptions

    if args.num_speakers and not args.speakers:
        print("error: --num-speakers goes with --speakers", file=sys.stderr)
        return 2
    voices = open_voices(args.speaker_model) if args.speakers else None  # a missing model is said before any work
    transcriber = open_transcriber(args.model)
    batched = not args.no_batch and load_settings().speech_batched is not False
    options = TranscribeOptions(language=args.language, task="translate" if args.translate else "transcribe",
                                beam_size=args.beam_size,
                                word_timestamps=args.word_timestamps or args.speakers or args.format == "json",
                                batched=batched)
    out = Path(args.output) if args.output else None
    if out and len(args.files) > 1:
        out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in args.files:
        src = Path(name)
        stream = subtitles.Stream(args.format, source=str(src), model=transcriber.model_id)
        segments = (s for s in transcriber.transcribe(src, options) if isinstance(s, Segment))
        if voices is not None:  # the voices are compared over the whole file: nothing is written before
            segments = _with_speakers(segments, voices, args.num_speakers, src)
        target = None if out is None else out / f"{src.stem}.{args.format}" if out.is_dir() else out
        try:
            if target is None:
                _write(segments, stream, sys.stdout)
                continue
            partial = partial_path(target)
            with open(partial, "w", encoding="utf-8") as sink:
                _write(segments, stream, sink)
                os.fsync(sink.fileno())
            os.replace(partial, target)
            print(f"{src.name} → {target}", file=sys.stderr)
        except HearthError as exc:
            kept = ""
            if target is not None and stream.count:
                kept = f" (what was done is in {partial_path(target)})"
            elif target is not None:
                partial_path(target).unlink(missing_ok=True)
            print(f"error: {src.name}: {exc}{kept}", file=sys.stderr)
            failed += 1
        except OSError as exc:
            print(f"error: {src.name}: could not write the transcript: {exc.strerror or exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0
