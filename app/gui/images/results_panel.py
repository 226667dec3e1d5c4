"""The Images pane's results panel: the query (words, a dropped or pasted picture), the picture
searched by, the similarity threshold, and the grid of hits with its actions (open, preview,
find similar, ask in chat).

A mixin of ImagesPane (it uses the pane's images worker, picker and results model).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QListView, QMenu, QSlider, QVBoxLayout

from app.core.jobs import HearthError
from app.gui import theme
from app.gui.errors import UNEXPECTED
from app.gui.images.filter_bar import FilterBar, WidthWatch
from app.gui.images.reading import read_picture
from app.gui.images.results import CELL, THUMB, CellText, ResultsModel
from app.gui.panes.base import button, hbox
from app.gui.widgets.empty_state import EmptyState
from app.gui.widgets.placeholder_list import PlaceholderView

PLACEHOLDER = "Type what you are looking for, or drop a picture"
NO_MATCH = "No matches: try other words, or a lower minimum similarity"


class _FileDrops(QObject):
    """Hands a drag of files on the query field to the pane: the field would type their
    file:// addresses (a file manager offers them as text too) instead of searching by them."""

    def __init__(self, pane):
        super().__init__(pane)
        self.pane = pane

    def eventFilter(self, obj, event):  # noqa: N802 - Qt override
        kinds = (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop)
        if event.type() in kinds and any(u.isLocalFile() for u in event.mimeData().urls()):
            if event.type() == QEvent.Type.Drop:
                self.pane.dropEvent(event)
            else:
                event.acceptProposedAction()
            return True
        return False


class ResultsPanel:
    def _build_search(self) -> QVBoxLayout:
        self.query = QLineEdit()
        self.query.setObjectName("imageQuery")
        self.query.setAccessibleName("Search photos")
        self.query.setPlaceholderText("Describe a picture, or drop one here")
        self.query.setToolTip('Describe what is in the picture: "a dog on a beach -night +snow"\n'
                              "(-night: less like night, +snow: more like snow).\n"
                              'When and where: "2023", "August 2023", "last summer", "in Lisbon".\n'
                              "Or drop or paste (Ctrl+V) a picture to find similar ones.")
        self.query.installEventFilter(_FileDrops(self))
        self.search_button = button("&Search", "Search")
        self.ask_button = button("Ask in chat", "Ask in chat about the selected pictures")
        self.ask_button.setEnabled(False)
        theme.set_icon(self.ask_button, "chat")
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.setValue(0)
        self.threshold.setMaximumWidth(120)
        self.threshold.setAccessibleName("Similarity threshold")
        self.threshold.setToolTip("Hide results less similar than this")
        self.threshold_label = QLabel("0.00")
        self.threshold_label.setObjectName("thresholdValue")
        self.threshold_label.setMinimumWidth(self.threshold_label.fontMetrics().horizontalAdvance("0.00 "))
        search_row = QHBoxLayout()
        search_row.addWidget(self.query, 1)
        search_row.addWidget(self.search_button)
        search_row.addWidget(self.ask_button)
        self.query_picture = QLabel()
        self.query_picture.setObjectName("queryPicture")
        self.query_picture.setAccessibleName("The picture searched for")
        self.query_picture.hide()
        right = QVBoxLayout()
        right.addLayout(search_row)
        self.filter_bar = FilterBar()
        self.filter_bar.changed.connect(self._on_timeline)
        right.addWidget(self.filter_bar)
        self.query_caption = QLabel("Results most like this picture first.")
        self.query_caption.setObjectName("paneNotice")
        self.query_caption.hide()
        right.addLayout(hbox(self.query_picture, self.query_caption, stretch=True))
        self.empty = EmptyState(
            "Add a folder of photos. Hearth looks at each picture once, on this computer; then you can "
            "find any of them by describing it.", "Add a photo folder…", "folder")
        self.empty.hide()
        right.addWidget(self.empty, 1)
        right.addWidget(self._build_grid(), 1)
        self.message = QLabel()
        self.message.setObjectName("imagesMessage")
        self.message.setWordWrap(True)
        # The threshold sits just before the count it changes ("20 results. 18 less similar ones hidden."),
        # which leaves the query field room for its words at 1024 px.
        results_row = QHBoxLayout()
        results_row.addWidget(QLabel("Min. similarity"))
        results_row.addWidget(self.threshold)
        results_row.addWidget(self.threshold_label)
        results_row.addSpacing(12)
        results_row.addWidget(self.message, 1)
        right.addLayout(results_row)
        return right

    def _build_grid(self) -> QListView:
        self.grid = PlaceholderView(PLACEHOLDER)
        self.grid.setObjectName("resultsGrid")
        self.grid.setAccessibleName("Results")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setUniformItemSizes(True)
        self.grid.setLayoutMode(QListView.LayoutMode.Batched)  # stays smooth with 10,000 results
        self.grid.setBatchSize(200)
        self.grid.setIconSize(QSize(THUMB, THUMB))
        self.grid.setGridSize(CELL)
        self.grid.setItemDelegate(CellText(self.grid))  # each line elided to the cell, none wrapped
        self.grid.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.grid.setModel(self.results)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.setSelectionMode(QListView.SelectionMode.ExtendedSelection)  # several go to chat together
        self._width_watch = WidthWatch(self.grid.viewport(), self._fit_headers)
        return self.grid

    def _on_timeline(self) -> None:
        """By month: headers span the row, so the grid lays items out by their own sizes, not in cells."""
        on = self.filter_bar.timeline.isChecked()
        self.grid.setUniformItemSizes(not on)
        self.grid.setGridSize(QSize() if on else self.results.cell)
        self.grid.setSpacing(4 if on else 0)
        self._fit_headers()
        if self.all_hits:
            self._apply_threshold()

    def _fit_headers(self) -> None:
        width = max(self.results.cell.width(), self.grid.viewport().width() - 2 * self.grid.spacing() - 2)
        if width != self.results.header_width:
            self.results.header_width = width
            if self.filter_bar.timeline.isChecked() and self.results.rowCount():
                self.results.layoutChanged.emit()

    def search(self, images: list[str] | None = None, pil_images: list | None = None) -> None:
        model_id = self.picker.current()
        if not model_id:
            self.message.setText("No images model installed: open Models to download one.")
            return
        self.message.setText("Searching…")
        self._show_query_picture(images, pil_images)
        # Every hit comes back; the threshold slider filters them here, live.
        self.search_job = self.images.search(
            model_id, self.query.text(), list(images or []), list(pil_images or []), 10_000, None,
            self.filter_bar.values(), on_result=self._show_results, on_error=self._search_failed,
        )

    def _show_query_picture(self, images, pil_images) -> None:
        """The picture searched for, above the results; a file's thumbnail is made off the GUI thread."""
        self._query_path = str(images[0]) if images else None
        pix = QPixmap()
        if pil_images and not images:
            from PIL import ImageOps
            from PIL.ImageQt import ImageQt

            small = ImageOps.contain(pil_images[0], (96, 96))  # a pasted picture is already in memory
            pix = QPixmap.fromImage(ImageQt(small.convert("RGBA")))
        self._set_query_picture(pix)  # hidden until a file's thumbnail is ready
        if self._query_path is not None:
            self.results.request_thumbnail(self._query_path)

    def _query_thumbnail_ready(self, path: str, image) -> None:
        if path == self._query_path:  # not a search the user has moved on from
            self._set_query_picture(QPixmap.fromImage(image))

    def _set_query_picture(self, pix: QPixmap) -> None:
        if pix.isNull():
            self.query_picture.clear()
            self.query_picture.hide()
            self.query_caption.hide()
            return
        self.query_picture.setPixmap(pix.scaled(QSize(96, 96), Qt.AspectRatioMode.KeepAspectRatio,
                                                Qt.TransformationMode.SmoothTransformation))
        self.query_picture.setToolTip("Results look like this picture")
        self.query_picture.show()
        self.query_caption.show()

    def _show_results(self, hits) -> None:
        self.all_hits = list(hits)
        self._apply_threshold()

    def _on_threshold(self, value: int) -> None:
        self.threshold_label.setText(f"{value / 100:.2f}")
        if self.all_hits:
            self._apply_threshold()

    def _apply_threshold(self) -> None:
        """Shows the hits above the slider's value; a score at or below zero is never a match (and not
        counted as hidden by the slider: at 0.00 it hides nothing). A browse by date or place is not
        ranked: the slider hides none of it."""
        floor = self.threshold.value() / 100
        shown = [h for h in self.all_hits if not h.ranked or (h.score > floor and h.score > 0)]
        self.results.metrics = self.grid.fontMetrics()  # the cells are sized for the grid's font
        self.results.set_hits(shown, self.filter_bar.timeline.isChecked())
        if not self.filter_bar.timeline.isChecked() and self.grid.gridSize() != self.results.cell:
            self.grid.setGridSize(self.results.cell)  # as tall as these hits' lines need
        self.grid.set_placeholder(NO_MATCH)
        hidden = sum(1 for h in self.all_hits if h.ranked and 0 < h.score <= floor)
        if not shown:
            text = "No matches." if not self.all_hits else "No matches above the threshold."
        else:
            text = f"{len(shown)} results." + (f" {hidden} less similar ones hidden." if hidden else "")
        self.message.setText(text)
        self.results_ready.emit(len(shown))

    def _search_failed(self, exc) -> None:
        self.message.setText(str(exc) if isinstance(exc, HearthError) else f"The search failed: {UNEXPECTED}.")
        self.results_ready.emit(-1)

    def _paste(self) -> None:
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.message.setText("The clipboard holds no picture.")
            return
        self._search_qimage(image)

    def _search_qimage(self, image: QImage) -> None:
        from PIL import Image

        rgb = image.convertToFormat(QImage.Format.Format_RGB888)
        data = bytes(rgb.constBits())[: rgb.bytesPerLine() * rgb.height()]
        pil = Image.frombuffer("RGB", (rgb.width(), rgb.height()), data, "raw", "RGB", rgb.bytesPerLine(), 1)
        self.search(pil_images=[pil.copy()])

    def _path_at(self, index) -> str | None:
        return self.results.data(index, ResultsModel.PathRole) if index.isValid() else None

    def _open(self, index) -> None:
        path = self._path_at(index)
        if path and not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
            self.preview(path)  # no picture viewer on this system

    def preview_current(self) -> None:
        path = self._path_at(self.grid.currentIndex())
        if path:
            self.preview(path)

    def preview(self, path: str, about=None):
        """about: the picture's taken, taken_source and place (a find hit's location); by default the
        search result's."""
        from app.gui.images.preview import PreviewDialog

        if about is None:
            about = next((h for h in self.all_hits if h.path == path), None)
        dialog = PreviewDialog(path, self, about)
        dialog.show()
        self._preview = dialog
        return dialog

    def _menu(self, pos) -> None:
        menu = self.menu_at(pos)
        if menu is not None:
            menu.popup(self.grid.viewport().mapToGlobal(pos))

    def menu_at(self, pos) -> QMenu | None:
        """The context menu of the result at ``pos`` (in the grid's viewport), not yet shown."""
        path = self._path_at(self.grid.indexAt(pos))
        if not path:
            return None
        menu = QMenu(self)
        chosen = self.selected_paths()
        paths = chosen if path in chosen else [path]  # the selection, when the click is on it
        menu.addAction("Ask in chat" + (f" ({len(paths)} pictures)" if len(paths) > 1 else ""),
                       lambda: self._ask(paths))
        menu.addAction("Find similar", lambda: self.find_similar(path))
        menu.addAction("Show in folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent))))
        menu.addAction("Copy path", lambda: QGuiApplication.clipboard().setText(path))
        menu.addAction("Copy image", lambda: QGuiApplication.clipboard().setImage(read_picture(path)))
        self._menu_ref = menu
        return menu

    def selected_paths(self) -> list[str]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        return [p for p in (self.results.data(self.results.index(r), ResultsModel.PathRole) for r in rows) if p]

    def _ask(self, paths: list[str]) -> None:
        if paths:
            self.ask_in_chat.emit(list(paths))

    def find_similar(self, path: str) -> None:
        self.query.clear()
        self.search(images=[path])
