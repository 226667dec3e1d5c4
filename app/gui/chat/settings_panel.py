"""Per-conversation system prompt (with presets), sampling and chat format."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.chat.engine import SamplingParams

PRESETS = {
    "(none)": "",
    "Helpful assistant": "You are a helpful, concise assistant.",
    "Code reviewer": "You are a careful senior engineer. Review code for bugs, clarity and performance.",
    "Translator": "Translate the user's text into English, keeping its tone. Reply with the translation only.",
    "Summariser": "Summarise the user's text in a few short bullet points.",
}
FORMATS = ("auto", "template", "gemma", "chatml", "llama3", "phi3", "mistral")


class ChatSettingsPanel(QWidget):
    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("chatSettingsPanel")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 0, 0, 0)
        heading = QLabel("<b>Settings for this chat</b>")
        outer.addWidget(heading)
        form = QFormLayout()
        form.setVerticalSpacing(8)
        outer.addLayout(form)
        outer.addStretch(1)  # the rows stay together at the top, not spread over a tall window
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.preset.setAccessibleName("System prompt preset")
        self.system = QPlainTextEdit()
        self.system.setAccessibleName("System prompt")
        self.system.setPlaceholderText("System prompt for this chat")
        self.system.setMaximumHeight(110)
        form.addRow("Preset", self.preset)
        form.addRow("System", self.system)
        d = SamplingParams()  # the defaults live there, once
        self.temperature = self._dspin(form, "Temperature", 0, 2, 0.05, d.temperature)
        self.top_p = self._dspin(form, "Top-p", 0, 1, 0.01, d.top_p)
        self.top_k = self._spin(form, "Top-k", 0, 200, d.top_k)
        self.min_p = self._dspin(form, "Min-p", 0, 1, 0.01, d.min_p)
        self.repeat_penalty = self._dspin(form, "Repeat penalty", 0.5, 2, 0.05, d.repeat_penalty)
        self.max_tokens = self._spin(form, "Max tokens", 1, 32768, d.max_tokens)
        self.seed = QLineEdit()
        self.seed.setPlaceholderText("random")
        self.seed.setAccessibleName("Seed")
        form.addRow("Seed", self.seed)
        self.format = QComboBox()
        self.format.addItems(FORMATS)
        self.format.setAccessibleName("Chat format")
        self.format.setToolTip("auto: the model's own template, or a format chosen from its architecture")
        form.addRow("Format", self.format)
        self.preset.activated.connect(self._apply_preset)
        self.system.textChanged.connect(self.changed)
        self.seed.editingFinished.connect(self.changed)

    def _dspin(self, form, label, lo, hi, step, value) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(lo, hi)
        box.setSingleStep(step)
        box.setDecimals(2)
        box.setValue(value)
        box.setAccessibleName(label)
        box.valueChanged.connect(self.changed)
        form.addRow(label, box)
        return box

    def _spin(self, form, label, lo, hi, value) -> QSpinBox:
        box = QSpinBox()
        box.setRange(lo, hi)
        box.setValue(value)
        box.setAccessibleName(label)
        box.valueChanged.connect(self.changed)
        form.addRow(label, box)
        return box

    def _apply_preset(self, index: int) -> None:
        self.system.setPlainText(PRESETS[self.preset.itemText(index)])

    def params(self) -> SamplingParams:
        seed = self.seed.text().strip()
        return SamplingParams(
            temperature=self.temperature.value(),
            top_p=self.top_p.value(),
            top_k=self.top_k.value(),
            min_p=self.min_p.value(),
            repeat_penalty=self.repeat_penalty.value(),
            max_tokens=self.max_tokens.value(),
            seed=int(seed) if seed.lstrip("-").isdigit() else None,
        )

    def chat_format(self) -> str | None:
        value = self.format.currentText()
        return None if value == "auto" else value

    def load(self, system_prompt: str, params: dict) -> None:
        widgets = [self.system, self.temperature, self.top_p, self.top_k, self.min_p, self.repeat_penalty,
                   self.max_tokens, self.seed]
        for w in widgets:
            w.blockSignals(True)
        p = SamplingParams.from_dict(params)
        self.system.setPlainText(system_prompt)
        self.temperature.setValue(p.temperature)
        self.top_p.setValue(p.top_p)
        self.top_k.setValue(p.top_k)
        self.min_p.setValue(p.min_p)
        self.repeat_penalty.setValue(p.repeat_penalty)
        self.max_tokens.setValue(p.max_tokens)
        self.seed.setText("" if p.seed is None else str(p.seed))
        for w in widgets:
            w.blockSignals(False)
