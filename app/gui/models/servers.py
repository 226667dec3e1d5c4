""""Add server…": a remote OpenAI-compatible server, its models listed through /v1/models."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout

MIN_WIDTH = 520  # an address such as http://gpu-box.local:8080/v1 shows whole, with room for a key


def add_server_job(cancel, progress, name: str, url: str, key: str):
    """On the models worker: checks the address and the key by listing the models, then saves.
    Returns the saved server (its models capped at servers.MAX_MODELS) and how many the server offered."""
    from app.core.chat.openai_remote import list_models
    from app.core.chat.servers import ServerList, make_server

    server = make_server(name, url, key)  # InputError for a bad name, address or key
    progress(f"Asking {server.base_url} for its models…")
    models = list_models(server)
    return ServerList().add(server.name, server.base_url, server.api_key, models), len(models)


def added_message(server, offered: int) -> str:
    listed = ", ".join(server.models[:5]) + ("…" if len(server.models) > 5 else "")
    count = f"{offered:,} model(s)"
    if offered > len(server.models):
        count += f", of which the first {len(server.models)} are kept"
    return (f"Added {server.name} ({server.base_url}): {count}{': ' + listed if listed else ''}. "
            f"They are in the chat's model list as {server.name}/MODEL.")


class AddServerDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Add server")
        self.setObjectName("addServerDialog")
        self.setMinimumWidth(MIN_WIDTH)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 16)
        layout.setSpacing(12)
        self.intro = QLabel("A server on your network that speaks the OpenAI API (llama.cpp's llama-server, "
                            "Ollama, LM Studio, vLLM, another Hearth). Its chat models then appear in the "
                            "chat's model list as NAME/MODEL.")
        self.intro.setObjectName("addServerIntro")
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(8)
        layout.addLayout(form)
        self.name = QLineEdit()
        self.name.setObjectName("serverName")
        self.name.setAccessibleName("Server name")
        self.name.setPlaceholderText("gpu-box")
        self.url = QLineEdit()
        self.url.setObjectName("serverUrl")
        self.url.setAccessibleName("Server address")
        self.url.setPlaceholderText("http://gpu-box:8080/v1")
        self.key = QLineEdit()
        self.key.setObjectName("serverKey")
        self.key.setAccessibleName("API key")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("optional: only if the server asks for one")
        form.addRow("&Name:", self.name)
        form.addRow("&Address:", self.url)
        form.addRow("API &key:", self.key)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def values(self) -> tuple[str, str, str]:
        return self.name.text().strip(), self.url.text().strip(), self.key.text().strip()
