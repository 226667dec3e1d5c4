"""The Settings dialog (Ctrl+,): theme, how the chat model is loaded, and how files are transcribed."""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
)

from app.core.settings import Settings, save_settings
from app.gui import theme

log = logging.getLogger(__name__)


class SettingsDialog(QDialog):
    applied = Signal(set)  # names of the settings that changed

    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        layout = QVBoxLayout(self)
        layout.addWidget(self._appearance(settings))
        layout.addWidget(self._chat(settings))
        layout.addWidget(self._speech(settings))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.buttons = buttons

    def _appearance(self, settings: Settings) -> QGroupBox:
        look = QGroupBox("Appearance")
        form = QFormLayout(look)
        self.theme = QComboBox()
        self.theme.setAccessibleName("Theme")
        for name in theme.THEMES:
            self.theme.addItem(theme.LABELS[name], name)
        self.theme.setCurrentIndex(max(0, self.theme.findData(settings.theme)))
        form.addRow("&Theme:", self.theme)
        return look

    def _chat(self, settings: Settings) -> QGroupBox:
        chat = QGroupBox("Chat model")
        form = QFormLayout(chat)
        self.context = QSpinBox()
        self.context.setAccessibleName("Context length")
        self.context.setRange(256, 131072)
        self.context.setSingleStep(1024)
        self.context.setSuffix(" tokens")
        self.context.setValue(settings.chat_context)
        form.addRow("&Context length:", self.context)
        self.threads = QSpinBox()
        self.threads.setAccessibleName("CPU threads")
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("Automatic (physical cores)")
        self.threads.setValue(settings.chat_threads)
        form.addRow("CPU &threads:", self.threads)
        self.gpu_layers = QSpinBox()
        self.gpu_layers.setAccessibleName("GPU layers")
        self.gpu_layers.setRange(-1, 999)
        self.gpu_layers.setSpecialValueText("Automatic (what fits)")
        self.gpu_layers.setValue(settings.chat_gpu_layers)
        form.addRow("&GPU layers:", self.gpu_layers)
        hint = QLabel("0 GPU layers runs on the CPU only. Changes apply when the model next loads.")
        hint.setWordWrap(True)
        hint.setObjectName("paneNotice")
        form.addRow(hint)
        return chat

    def _speech(self, settings: Settings) -> QGroupBox:
        speech = QGroupBox("Speech")
        form = QFormLayout(speech)
        self.batched = QCheckBox("Transcribe files in &batches")
        self.batched.setAccessibleName("Transcribe files in batches")
        self.batched.setChecked(settings.speech_batched is not False)
        form.addRow(self.batched)
        hint = QLabel("Batches decode several pieces of a file at once (faster). Off: 30-second windows "
                      "one after another. Dictation always works one window at a time.")
        hint.setWordWrap(True)
        hint.setObjectName("paneNotice")
        form.addRow(hint)
        return speech

    def accept(self) -> None:
        s = self.settings
        new = {
            "theme": self.theme.currentData(),
            "chat_context": self.context.value(),
            "chat_threads": self.threads.value(),
            "chat_gpu_layers": self.gpu_layers.value(),
            "speech_batched": self.batched.isChecked(),
        }
        changed = {k for k, v in new.items() if getattr(s, k) != v}
        for k, v in new.items():
            setattr(s, k, v)
        if "theme" in changed:
            theme.apply(s.theme)
        try:
            save_settings(s)
        except OSError as exc:
            log.error("could not save settings: %s", exc)
        self.applied.emit(changed)
        super().accept()
