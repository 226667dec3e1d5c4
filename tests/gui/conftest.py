import pytest


@pytest.fixture
def window(qtbot, hearth_home):
    from app.core.settings import load_settings
    from app.gui.errors import install_hooks
    from app.gui.main_window import MainWindow

    install_hooks()
    win = MainWindow(load_settings())
    qtbot.addWidget(win)
    win.show()
    win.activateWindow()
    qtbot.waitActive(win)
    qtbot.waitUntil(lambda: bool(win.panes))
    qtbot.wait(50)  # the shortcut map settles after activation
    yield win
    win.stop_workers()


@pytest.fixture(scope="session", autouse=True)
def pulse(tmp_path_factory):
    """Our own PulseAudio server with a virtual microphone, before Qt Multimedia first looks.

    ``paplay -d vsink`` plays into the null sink; ``vmic`` records its monitor,
    so QAudioSource captures real audio through the real capture path.
    """
    import os
    import shutil
    import subprocess
    import time

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
    deadline = time.monotonic() + 10
    while not socket.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    server = f"unix:{socket}"
    subprocess.run(["pactl", "--server", server, "set-default-source", "vmic"], check=True, env=env)
    os.environ["PULSE_SERVER"] = server
    yield server
    subprocess.run(["pactl", "--server", server, "exit"], env=env, capture_output=True)
    os.environ.pop("PULSE_SERVER", None)
    shutil.rmtree(runtime, ignore_errors=True)
