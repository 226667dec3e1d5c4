import time
import traceback
import weakref

import pytest


def _stopped(is_running, seconds: float) -> bool:
    """Lets queued events run until ``is_running()`` turns false or the time is up."""
    from PySide6.QtCore import QCoreApplication, QThread

    deadline = time.monotonic() + seconds
    while is_running():
        if time.monotonic() > deadline:
            return False
        QCoreApplication.processEvents()
        QThread.msleep(10)
    return True


@pytest.fixture(autouse=True)
def no_qthread_left_running(monkeypatch):
    """Every QThread and QThreadPool task a test started has ended by its teardown (as in
    napari's suite): a thread left running outlives its window and can crash a later test."""
    from PySide6.QtCore import QThread, QThreadPool

    threads: dict[int, tuple[weakref.ref, str]] = {}
    pools: dict[int, tuple[QThreadPool, str]] = {}  # held: globalInstance()'s wrapper is a temporary
    real_start, real_pool_start, real_try_start = QThread.start, QThreadPool.start, QThreadPool.tryStart

    def where() -> str:
        return "".join(traceback.format_stack(limit=7)[:-2])

    def start(self, *args):
        threads.setdefault(id(self), (weakref.ref(self), where()))
        return real_start(self, *args)

    def pool_start(self, *args):
        pools.setdefault(id(self), (self, where()))
        return real_pool_start(self, *args)

    def pool_try_start(self, *args):
        pools.setdefault(id(self), (self, where()))
        return real_try_start(self, *args)

    monkeypatch.setattr(QThread, "start", start)
    monkeypatch.setattr(QThreadPool, "start", pool_start)
    monkeypatch.setattr(QThreadPool, "tryStart", pool_try_start)
    yield
    left = []
    for ref, started_at in threads.values():
        thread = ref()
        try:
            if thread is not None and not _stopped(thread.isRunning, 3):
                left.append(f"QThread {thread.objectName() or type(thread).__name__!r} started at\n{started_at}")
                thread.quit()  # so that it cannot crash the next test
                thread.wait(5000)
        except RuntimeError:  # its C++ object is gone, so it is not running
            pass
    for pool, started_at in pools.values():
        try:
            if not _stopped(lambda p=pool: p.activeThreadCount() > 0, 3):
                left.append(f"a QThreadPool task started at\n{started_at}")
                pool.clear()
                pool.waitForDone(5000)
        except RuntimeError:
            pass
    pools.clear()
    assert not left, "the test left threads running:\n" + "\n".join(left)


@pytest.fixture
def open_window(qtbot, hearth_home):
    """Opens the main window as a start of the app does (from the saved settings) and waits for its
    panes; every window opened stops its workers at teardown. For a test that saves settings or
    files first, or starts the app twice; ``open_window(panes=False)`` does not wait."""
    from app.core.settings import load_settings
    from app.gui.main_window import MainWindow

    opened = []

    def open_(panes: bool = True):
        win = MainWindow(load_settings())
        qtbot.addWidget(win)
        opened.append(win)
        win.show()
        if panes:
            qtbot.waitUntil(lambda: bool(win.panes), timeout=10000)
        return win

    yield open_
    for win in opened:
        win.stop_workers()


@pytest.fixture
def window(qtbot, open_window):
    """The main window of a fresh start, active, its panes built."""
    from app.gui.errors import install_hooks

    install_hooks()
    win = open_window()
    win.activateWindow()
    qtbot.waitActive(win)
    return win


@pytest.fixture(scope="session", autouse=True)
def pulse(tmp_path_factory):
    """Our own PulseAudio server with a virtual microphone, before Qt Multimedia first looks.

    ``paplay -d vsink`` plays into the null sink; ``vmic`` records its monitor,
    so QAudioSource captures real audio through the real capture path.
    """
    import os
    import shutil
    import subprocess

    from tests.helpers import wait_until

    runtime = tmp_path_factory.mktemp("pulse")
    socket = runtime / "native"
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), HOME=str(runtime))
    env.pop("PULSE_SERVER", None)
    subprocess.run(
        ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n", "--use-pid-file=no",
         f"--load=module-native-protocol-unix auth-anonymous=1 socket={socket}",
         "--load=module-null-sink sink_name=vsink",
         "--load=module-virtual-source source_name=vmic master=vsink.monitor"],
        env=env, check=True, capture_output=True,
    )
    wait_until(socket.exists, timeout=30, what="PulseAudio's socket")  # the daemon may still be starting
    server = f"unix:{socket}"
    subprocess.run(["pactl", "--server", server, "set-default-source", "vmic"], check=True, env=env)
    os.environ["PULSE_SERVER"] = server
    yield server
    subprocess.run(["pactl", "--server", server, "exit"], env=env, capture_output=True)
    os.environ.pop("PULSE_SERVER", None)
    shutil.rmtree(runtime, ignore_errors=True)
