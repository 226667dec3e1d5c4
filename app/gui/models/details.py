"""The Models page's details panel: everything known about the selected model, and its actions
(only those that apply to it now are shown)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from app.gui.models.cards import Row, badge, badges, human, status_text

ACTIONS = (  # key, text, accessible name
    ("download", "&Download", "Download model"),
    ("pause", "&Pause", "Pause download"),
    ("resume", "Res&ume", "Resume download"),
    ("cancel", "&Cancel", "Cancel download"),
    ("default", "Use by de&fault", "Use this model by default"),
    ("folder", "Show in fol&der", "Show in folder"),
    ("delete", "De&lete", "Delete model"),
)
LANGUAGES_SHOWN = 8


def _value() -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)  # ids and names come from files on disk: never HTML
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class DetailsPanel(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("modelDetails")
        self.setAccessibleName("Model details")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        self.title = _value()
        self.title.setObjectName("modelDetailsTitle")
        self.model_id = _value()
        self.model_id.setObjectName("modelDetailsId")
        self.badges = QHBoxLayout()
        self.badges.setSpacing(4)
        self.description = _value()
        layout.addWidget(self.title)
        layout.addWidget(self.model_id)
        layout.addLayout(self.badges)
        layout.addWidget(self.description)
        self.buttons: dict[str, QPushButton] = {}
        self.actions = QGridLayout()
        for key, text, name in ACTIONS:
            b = QPushButton(text, self)
            b.setAccessibleName(name)
            self.buttons[key] = b
        self.buttons["download"].setProperty("primary", True)
        layout.addLayout(self.actions)
        self.state = _value()
        self.state.setObjectName("modelDetailsState")
        layout.addWidget(self.state)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.facts: dict[str, QLabel] = {}
        for key in ("Size", "Parameters", "Quantisation", "Context", "Languages", "Licence", "Fits", "Speed"):
            self.facts[key] = _value()
            self.form.addRow(f"{key}:", self.facts[key])
        layout.addLayout(self.form)
        self.speed_basis = _value()  # how this kind's speeds were estimated
        self.speed_basis.setObjectName("speedBasis")
        layout.addWidget(self.speed_basis)
        layout.addStretch(1)
        self.show_row(None)
        self.set_actions(None, False)

    def show_row(self, row: Row | None) -> None:
        info = row.info if row is not None else None
        self.title.setText(row.name if row else "No model selected")
        self.model_id.setText(row.id if row else "")
        self.model_id.setVisible(bool(row) and row.id != row.name)
        self.description.setText(
            (info.description if info is not None and info.description else "A model you added yourself.")
            if row else "Select a model to see what it can do, whether it fits this computer, and its actions.")
        while self.badges.count():
            item = self.badges.takeAt(0)
            if item.widget():
                item.widget().hide()  # out of sight now; deleteLater is later
                item.widget().deleteLater()
        for text, style in badges(row) if row else ():
            self.badges.addWidget(badge(text, style))
        self.badges.addStretch(1)
        self.state.setText(status_text(row) if row else "")
        self.state.setVisible(bool(self.state.text()))
        failed = "error" if row is not None and row.status == "failed" else ""
        if self.state.property("role") != failed:
            self.state.setProperty("role", failed)
            self.state.style().polish(self.state)
        values = {
            "Size": human(row.size) if row else "",
            "Parameters": info.parameters if info else "",
            "Quantisation": info.quantization if info else "",
            "Context": f"{info.context:,} tokens" if info and info.context else "",
            "Languages": self._languages(info.languages) if info else "",
            "Licence": row.licence if row and row.licence != "—" else "",
            "Fits": (info.fit_message if info and info.fit_message else row.fit if row else ""),
            "Speed": self._speed(info),
        }
        for key, label in self.facts.items():
            label.setText(values[key])
            self.form.setRowVisible(label, bool(values[key]))

    @staticmethod
    def _languages(langs) -> str:
        if list(langs) == ["multilingual"]:
            return "many (Whisper's 99 languages)"
        shown = ", ".join(langs[:LANGUAGES_SHOWN])
        return shown + (f" and {len(langs) - LANGUAGES_SHOWN} more" if len(langs) > LANGUAGES_SHOWN else "")

    @staticmethod
    def _speed(info) -> str:
        if info is None or not info.speed:
            return ""
        text = f"{info.speed}, {'measured' if info.speed_measured else 'estimated'}"
        text += "" if info.comfortable else " (slow here)"
        return f"{text}: {info.speed_how}." if info.speed_how else text

    def set_actions(self, row: Row | None, retry_url: bool, is_default: bool = False) -> None:
        """Enables, names and shows the actions that apply to ``row``'s state now."""
        status = row.status if row else None
        waiting = status in ("failed", "offline")
        b = self.buttons
        b["download"].setEnabled((status in ("available", "failed", "offline") and bool(row and row.catalog))
                                 or retry_url)
        b["download"].setText("&Retry" if waiting else "&Download")
        b["pause"].setEnabled(status == "running")
        b["resume"].setEnabled(status == "paused")
        b["cancel"].setEnabled(status in ("running", "paused", "failed", "offline"))
        # A failed or waiting row is cleared (forgotten, its partial files removed), not cancelled.
        b["cancel"].setText("Cl&ear" if waiting else "&Cancel")
        for key in ("delete", "default", "folder"):
            b[key].setEnabled(status == "installed")
        b["default"].setEnabled(status == "installed" and not is_default)
        if status == "installed" and is_default:
            self.state.setText(f"{status_text(row)} · used by default for {row.kind}")
        while self.actions.count():  # only what applies now, two a row: the panel is narrow at 1024 px
            self.actions.takeAt(0)
        shown = [button for button in b.values() if button.isEnabled()]
        for button in b.values():
            button.setVisible(button in shown)
        for i, button in enumerate(shown):
            self.actions.addWidget(button, i // 2, i % 2)
