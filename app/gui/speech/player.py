"""Plays a transcript's sound with Qt Multimedia, from a given second; says in words when it cannot.

Qt Multimedia is imported on the first play, not with the pane: the window's first paint does not
wait for it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal

log = logging.getLogger(__name__)
NO_OUTPUT = ("No sound output found, so the transcript cannot be played: connect speakers or headphones, "
             "or check the system's sound settings.")


class Player(QObject):
    position = Signal(float)  # seconds into the sound, as it plays
    playing_changed = Signal(bool)
    problem = Signal(str)  # why it cannot play, in words

    def __init__(self, parent=None):
        super().__init__(parent)
        self._player = None
        self._output = None
        self.source: Path | None = None
        self._pending: float | None = None  # where to start once the file is open

    def _ensure(self) -> bool:
        from PySide6.QtMultimedia import QAudioOutput, QMediaDevices, QMediaPlayer

        if not QMediaDevices.audioOutputs():
            log.info("no audio output device: playback refused")
            self.problem.emit(NO_OUTPUT)
            return False
        if self._player is None:
            self._player = QMediaPlayer(self)
            self._output = QAudioOutput(self)
            self._player.setAudioOutput(self._output)
            self._player.positionChanged.connect(self._on_position)
            self._player.mediaStatusChanged.connect(self._on_status)
            self._player.errorOccurred.connect(self._on_error)
            self._player.playbackStateChanged.connect(
                lambda state: self.playing_changed.emit(state == QMediaPlayer.PlaybackState.PlayingState))
        return True

    @property
    def playing(self) -> bool:
        if self._player is None:
            return False
        from PySide6.QtMultimedia import QMediaPlayer

        return self._player.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    def seconds(self) -> float:
        return self._player.position() / 1000 if self._player is not None else 0.0

    def play_from(self, path: Path | None, seconds: float) -> bool:
        if path is None or not Path(path).is_file():
            self.problem.emit("There is no recording to play for this transcript: the file was moved or deleted, "
                              "or it was made before Hearth kept recordings.")
            return False
        if not self._ensure():
            return False
        from PySide6.QtMultimedia import QMediaPlayer

        path = Path(path)
        if path != self.source:
            self.source = path
            self._pending = seconds
            self._player.setSource(QUrl.fromLocalFile(str(path)))
        elif self._player.mediaStatus() in (QMediaPlayer.MediaStatus.LoadingMedia, QMediaPlayer.MediaStatus.NoMedia):
            self._pending = seconds
        else:
            self._player.setPosition(int(seconds * 1000))
        self._player.play()
        return True

    def toggle(self, path: Path | None) -> bool:
        """Space: pauses what plays, or plays on (from the start for a sound not yet played)."""
        if self.playing:
            self._player.pause()
            return True
        if self._player is not None and self.source is not None and self.source == path:
            self._player.play()
            return True
        return self.play_from(path, 0.0)

    def stop(self) -> None:
        if self._player is not None:
            self._player.stop()

    def _on_status(self, status) -> None:
        from PySide6.QtMultimedia import QMediaPlayer

        ready = (QMediaPlayer.MediaStatus.LoadedMedia, QMediaPlayer.MediaStatus.BufferedMedia,
                 QMediaPlayer.MediaStatus.BufferingMedia)
        if status in ready and self._pending is not None:
            at, self._pending = self._pending, None
            self._player.setPosition(int(at * 1000))

    def _on_position(self, ms: int) -> None:
        if self._pending is None:  # not the start of the file before the jump to the line
            self.position.emit(ms / 1000)

    def _on_error(self, error, detail: str) -> None:
        name = self.source.name if self.source is not None else "the recording"
        log.warning("could not play %s: %s (%s)", name, detail, error)
        self._pending = None
        self.problem.emit(f"Could not play {name}: it is not a sound Hearth can play, or it is damaged.")
