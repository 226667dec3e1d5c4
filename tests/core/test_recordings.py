"""The sound behind a transcript (#27): a dictation's recording is kept, bounded, beside its
transcript; a file's transcript remembers where the file was, and hostile values are dropped."""

import os
import threading
import wave

import numpy as np

from app.core.speech.recordings import DictationAudio, audio_for, dictation_path
from app.core.speech.transcripts import TranscriptStore, from_dict


def test_a_dictation_recording_is_kept_beside_its_transcript_and_bounded(hearth_home):
    store = TranscriptStore()
    t = store.new("Dictation", "dictation")
    rec = DictationAudio(limit_s=1.0)
    tone = np.sin(np.linspace(0, 2000, 16000 // 2)).astype(np.float32) * 0.5
    for _ in range(3):  # 1.5 s offered, 1 s kept
        rec.add(tone)
    assert rec.cut and rec.samples == 16000
    assert audio_for(store, t) is None, "nothing kept yet"
    assert rec.write(dictation_path(store, t.id))
    path = audio_for(store, t)
    assert path is not None and path.parent == store.folder and path.stem == t.id
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (16000, 1, 16000)
    assert [p.name for p in store.folder.iterdir()] == [path.name], "no part file left behind"
    store.save(t)
    assert [r.id for r in store.list()] == [t.id], "the recording is not read as a transcript"


def test_a_file_transcript_plays_from_where_the_file_was(hearth_home, tmp_path):
    store = TranscriptStore()
    sound = tmp_path / "talk.wav"
    sound.write_bytes(b"RIFF")
    t = store.new("talk.wav")
    t.audio = str(sound)
    store.save(t)
    kept = store.list()[0]
    assert kept.audio == str(sound) and audio_for(store, kept) == sound
    sound.unlink()
    assert audio_for(store, kept) is None, "moved away: nothing to play"


def test_a_hostile_audio_value_is_dropped():
    base = {"id": "0" * 32, "segments": []}
    for bad in (12, "relative/talk.wav", "/tmp/a\nb.wav", "/" + "x" * 5000, ["/a.wav"]):
        assert from_dict({**base, "audio": bad}).audio == ""
    assert from_dict(base).audio == ""


def test_a_crafted_transcript_cannot_make_the_pane_play_any_file(hearth_home, tmp_path):
    """The saved audio path is played: only the file transcribed (its name is the transcript's source),
    a sound by its name, never a document, a system file or a device."""
    store = TranscriptStore()
    secret = tmp_path / "notes.txt"
    secret.write_text("private")
    sound = tmp_path / "talk.wav"
    sound.write_bytes(b"RIFF")
    (tmp_path / "link.wav").symlink_to("/proc/self/environ")
    cases = [("talk.wav", secret), ("notes.txt", secret), ("environ", "/proc/self/environ"),
             ("link.wav", tmp_path / "link.wav"), ("talk.wav", "/proc/self/../self/environ")]
    for source, audio in cases:
        t = store.new(source)
        t.audio = str(audio)
        store.save(t)
    for kept in store.list():
        assert audio_for(store, kept) is None, kept.audio
    t = store.new("talk.wav")
    t.audio = str(sound)
    assert audio_for(store, t) == sound, "the file transcribed still plays"


def test_a_fifo_or_link_where_the_recording_is_written_is_never_opened(hearth_home, tmp_path):
    """The recording is written to <id>.wav.part first: a FIFO left there made the write (then on the GUI
    thread) wait for a reader forever; a link there was written through."""
    store = TranscriptStore()
    t = store.new("Dictation", "dictation")
    path = dictation_path(store, t.id)
    store.folder.mkdir(parents=True)
    rec = DictationAudio()
    rec.add(np.zeros(1600, dtype=np.float32))
    part = path.with_name(path.name + ".part")
    os.mkfifo(part)
    done = threading.Thread(target=rec.write, args=(path,), daemon=True)
    done.start()
    done.join(timeout=20)
    if done.is_alive():  # the old code waits for a reader: give it one so the thread ends
        with open(part, "rb") as fh:
            fh.read()
    assert not done.is_alive() and audio_for(store, t) == path
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    part.symlink_to(victim)
    assert rec.write(path) and victim.read_text() == "keep me" and not part.exists()
