"""The Hardware dialog: the full report, copyable, and detected again on request."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPlainTextEdit, QPushButton, QVBoxLayout


class HardwareDialog(QDialog):
    refresh_requested = Signal()

    def __init__(self, hardware, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Hardware")
        self.setObjectName("hardwareDialog")
        layout = QVBoxLayout(self)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Hardware report")
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        layout.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = QPushButton("&Copy")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text.toPlainText()))
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        self.refresh = QPushButton("&Detect again")
        self.refresh.setAccessibleName("Detect the hardware again")
        self.refresh.clicked.connect(self._ask_refresh)
        buttons.addButton(self.refresh, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self.show_hardware(hardware)
        self.resize(720, 380)

    def show_hardware(self, hardware) -> None:
        """``hardware``: an app.core.hardware.HardwareReport, or None while it is being detected."""
        self.text.setPlainText(hardware.to_text() if hardware else "Still detecting hardware…")
        self.refresh.setEnabled(hardware is not None)

    def _ask_refresh(self) -> None:
        self.refresh.setEnabled(False)
        self.text.setPlainText("Detecting hardware…")
        self.refresh_requested.emit()
