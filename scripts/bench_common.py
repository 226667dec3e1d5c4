"""What the benchmark suites share: the real window on one pane, and the GUI event-loop lag probe."""

from __future__ import annotations


class LagProbe:
    """A 5 ms timer that records how late each tick fires: the GUI thread's stalls."""

    def __init__(self, interval_ms: int = 5):
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.interval = interval_ms
        self.lateness: list[float] = []
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        self.lateness.append(max(0.0, (now - self.last) / 1e6 - self.interval))
        self.last = now

    def start(self) -> None:
        self.clock.start()
        self.last = self.clock.nsecsElapsed()
        self.timer.start()

    def stop(self) -> dict:
        self.timer.stop()
        values = sorted(self.lateness)
        if not values:
            return {"p99": None, "max": None}
        return {"p99": round(values[max(0, int(len(values) * 0.99) - 1)], 2), "max": round(values[-1], 2)}


def wait_for(signal) -> None:
    """Runs the event loop (not a busy loop) until the signal fires."""
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    signal.connect(loop.quit)
    loop.exec()


def open_pane(kind: str, model_id: str | None = None):
    """The real MainWindow, shown on the pane of ``kind`` (its default model set to model_id): (window, pane)."""
    from PySide6.QtWidgets import QApplication

    from app.core.settings import load_settings
    from app.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    settings = load_settings()
    if model_id:
        settings.default_models[kind] = model_id
    window = MainWindow(settings)
    window.show()
    while not window.panes:
        app.processEvents()
    window.show_pane(kind)
    return window, window.panes[kind]


def close_window(window) -> None:
    window.close()
    window.stop_workers()  # close() does not wait for the workers; join them before exit
