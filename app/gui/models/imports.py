"""The Models page's ways in besides the catalog: imports (a file, a folder, one found in the
Hugging Face cache), a download from a URL, the hub address and token, moving the models folder,
and remote chat servers. A mixin of ModelsPane: it uses the page's message, worker and downloads."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QInputDialog, QLabel, QLineEdit, QListWidgetItem, QVBoxLayout

from app.core.jobs import HearthError
from app.core.models.sizes import human_size as human
from app.core.models.store import ModelStore
from app.core.settings import HUB_ENDPOINT, save_settings
from app.gui.panes.base import button, hbox
from app.gui.widgets.placeholder_list import PlaceholderList

# How an imported model is kept, in words (the store's modes are copy, move and link).
IMPORT_MODES = {"Copy into Hearth's folder": "copy", "Move into Hearth's folder": "move",
                "Use where it is (link)": "link"}
IMPORT_HINT = ("Your own models: a chat model's .gguf (for a vision model, select its .gguf and its mmproj "
               "together), an OpenCLIP checkpoint, or a faster-whisper model folder.")


def _import_job(cancel, progress, path: str, kind: str, mode: str, arch: str, projector: str = ""):
    return ModelStore().import_path(path, kind, mode=mode, architecture=arch, projector=projector or None)


def _move_job(cancel, progress, new_root: str):
    store = ModelStore()
    store.move_to(Path(new_root), progress=progress)
    return str(store.root)


class ImportsMixin:
    def _build_import_row(self) -> QHBoxLayout:
        self.download_url = button("Download from &URL…", "Download from URL")
        self.move_folder = button("&Move models folder…", "Move models folder")
        self.add_server = button("Add ser&ver…", "Add a remote chat server")
        return hbox(self.download_url, self.move_folder, self.add_server, stretch=True)

    def _build_hub_row(self) -> QHBoxLayout:
        self.endpoint = QLineEdit(self.settings.hf_endpoint)
        self.endpoint.setAccessibleName("Hub address")
        self.access_token = QLineEdit(self.settings.hf_token)
        self.access_token.setAccessibleName("Access token")
        self.access_token.setEchoMode(QLineEdit.EchoMode.Password)
        self.access_token.setPlaceholderText("access token, for gated models")
        hub_row = QHBoxLayout()
        hub_row.addWidget(QLabel("Hub:"))
        hub_row.addWidget(self.endpoint, 2)
        hub_row.addWidget(self.access_token, 1)
        return hub_row

    def _build_found(self, layout: QVBoxLayout) -> None:
        layout.addWidget(QLabel("Found in the Hugging Face cache (used in place, nothing copied):"))
        self.found = PlaceholderList("No models found in the Hugging Face cache")
        self.found.setAccessibleName("Models found on this computer")
        self.found.setMaximumHeight(90)
        layout.addWidget(self.found)

    def _discover(self) -> None:
        from app.core.models.hf_cache import discover

        self.found.clear()
        for d in discover():
            item = QListWidgetItem(f"{d.repo} · {d.kind} · {human(d.size)} · {d.path.name}")
            item.setData(256, (str(d.path), d.kind))
            self.found.addItem(item)

    def _save_hub(self) -> None:
        self.settings.hf_endpoint = self.endpoint.text().strip() or HUB_ENDPOINT
        self.settings.hf_token = self.access_token.text().strip()
        try:
            save_settings(self.settings)
        except OSError as exc:
            self.message.setText(f"Could not save settings: {exc}")

    # --- imports --------------------------------------------------------------------------
    def start_import(self, path: str, kind: str, mode: str = "copy", arch: str = "", projector: str = ""):
        """``projector``: a vision model's mmproj, imported with the chat model as one model."""
        self.message.setText(f"Importing {path}…" + (" with its projector" if projector else ""))
        return self.worker.submit(
            _import_job, path, kind, mode, arch, projector, on_result=self._imported, on_error=self._failed,
            name="import",
        )

    def _ask_import(self, folder: bool) -> None:
        projector = ""
        if folder:
            path = QFileDialog.getExistingDirectory(
                self, "Import a model folder (OpenCLIP with open_clip_config.json, or faster-whisper)")
        else:
            picked, _ = QFileDialog.getOpenFileNames(
                self, "Import a model file", "",
                "Models (*.gguf *.safetensors *.pt)")
            try:
                from app.core.models.projector import split_pair

                path, projector = split_pair(picked)
            except HearthError as exc:
                self.message.setText(str(exc))
                return
        if not path:
            return
        from app.core.models.validate import clip_folder_of, folder_kind

        try:  # a folder says what it is by its files; a file by its suffix
            kind = folder_kind(Path(path)) if folder else ("chat" if path.endswith(".gguf") else "images")
        except HearthError as exc:
            self.message.setText(str(exc))
            return
        arch = ""
        if kind == "images" and not folder and clip_folder_of(Path(path)) is None:  # else its config names it
            arch, ok = QInputDialog.getText(self, "OpenCLIP architecture", "Architecture (for example ViT-B-32):")
            if not ok:
                return
        choice, ok = QInputDialog.getItem(self, "Import", f"How should Hearth keep {Path(path).name}?",
                                          list(IMPORT_MODES), 0, False)
        if ok and choice in IMPORT_MODES:
            self.start_import(path, kind, IMPORT_MODES[choice], arch.strip(), projector=projector)

    def _ask_url(self) -> None:
        url, ok = QInputDialog.getText(self, "Download from URL", "https URL of a .gguf or CLIP checkpoint:")
        if not ok or not url.strip():
            return
        kind = "chat" if url.strip().lower().split("?")[0].endswith(".gguf") else "images"
        from app.core.models.store import slugify

        name = slugify(Path(url.split("?")[0]).stem)
        self.downloads.start(name, kind, url.strip())

    def _use_found(self, item) -> None:
        path, kind = item.data(256)
        self.start_import(path, kind, "link")

    def _imported(self, entry) -> None:
        note = "" if entry.verified else " (unverified)"
        self.message.setText(f"Imported {entry.id}{note}.")
        self.refresh()
        self.store_changed.emit()

    def _failed(self, exc) -> None:
        self.message.setText(f"Could not import: {exc}")

    def _ask_move(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Move the models folder to an empty folder")
        if path:
            self.move_models(path)

    def move_models(self, new_root: str):
        self.message.setText(f"Moving models to {new_root}…")

        def moved(root: str) -> None:
            self.settings.models_dir = root
            save_settings(self.settings)
            self.message.setText(f"Models now live in {root}.")
            self.refresh()
            self.store_changed.emit()

        return self.worker.submit(_move_job, new_root, on_result=moved, on_error=self._failed, name="move-models")

    # --- remote servers ---------------------------------------------------------------------
    def _ask_server(self) -> None:
        from app.gui.models.servers import AddServerDialog

        dialog = AddServerDialog(self)
        if dialog.exec():
            self.add_remote_server(*dialog.values())

    def add_remote_server(self, name: str, url: str, key: str = ""):
        from app.gui.models.servers import add_server_job, added_message

        def added(result) -> None:
            self.message.setText(added_message(*result))
            self.store_changed.emit()

        self.message.setText(f"Adding {name}…")
        return self.worker.submit(add_server_job, name, url, key, on_result=added, name="add-server",
                                  on_error=lambda exc: self.message.setText(f"Could not add the server: {exc}"))
