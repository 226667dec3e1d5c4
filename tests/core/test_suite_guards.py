"""The suite's own guards fail a test that breaks the rules, seen from a pytest of their own."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import run_inner_pytest

INNER = '''
import threading

import pytest

from tests.conftest import REAL_USER_DIRS


def test_writes_into_the_real_user_folder():
    REAL_USER_DIRS[0].mkdir(parents=True)


def test_a_refused_write_that_the_code_catches_still_fails():
    try:
        (REAL_USER_DIRS[1] / "settings.json").parent.mkdir(parents=True)
    except Exception:
        pass


def test_ignores_hearth_home(monkeypatch):
    monkeypatch.delenv("HEARTH_HOME")
    from app.core import paths

    paths.config_dir()


@pytest.mark.user_dirs
def test_uses_the_user_folders_on_purpose(monkeypatch):
    monkeypatch.delenv("HEARTH_HOME")
    from app.core import paths

    paths.config_dir()


def test_leaves_a_thread_running():
    threading.Thread(target=threading.Event().wait, args=(7,), name="left-behind").start()


def test_a_thread_that_ends_in_time():
    t = threading.Thread(target=lambda: None)
    t.start()


def test_clean(hearth_home):
    (hearth_home / "notes.txt").write_text("fine")
'''


@pytest.mark.slow
def test_the_guards_fail_what_breaks_the_rules_and_pass_the_rest(tmp_path):
    real_home = tmp_path / "real-home"  # the inner pytest's "real" home, so nothing here is at risk
    real_home.mkdir()
    env = {"HOME": str(real_home), "XDG_DATA_HOME": "", "XDG_CONFIG_HOME": "", "XDG_CACHE_HOME": "",
           "XDG_STATE_HOME": ""}
    said = run_inner_pytest(tmp_path, INNER, ["tests.conftest"], env)
    assert "real home folder" in said["test_writes_into_the_real_user_folder"]
    assert "real home folder" in said["test_a_refused_write_that_the_code_catches_still_fails"]
    assert list(real_home.rglob("Hearth")) == [], "the writes were refused, not only noticed"
    assert "ignored HEARTH_HOME" in said["test_ignores_hearth_home"]
    assert said["test_uses_the_user_folders_on_purpose"] == ""
    assert "left-behind" in said["test_leaves_a_thread_running"]
    assert said["test_a_thread_that_ends_in_time"] == ""
    assert said["test_clean"] == ""


def _scripts_test_runs(tmp_path, *args: str) -> list[str]:
    """The arguments scripts/test gives pytest, from the real script with its set-up stubbed out."""
    root = Path(__file__).resolve().parents[2]
    scripts = tmp_path / "scripts"
    scripts.mkdir(exist_ok=True)
    shutil.copy(root / "scripts" / "test", scripts / "test")
    (tmp_path / "argv").write_text("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n")
    (tmp_path / "argv").chmod(0o755)
    (scripts / "_setup.sh").write_text(
        f"ROOT={tmp_path}\nPY={tmp_path / 'argv'}\n"
        "say() { :; }\ninstall_debs() { :; }\nensure_venv() { :; }\nprovision_models() { :; }\n")
    run = subprocess.run(["bash", str(scripts / "test"), *args], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


def test_scripts_test_runs_everything_and_quick_leaves_the_slow_tests_out(tmp_path):
    """`./scripts/test` (as .ci/run calls it) runs every test; `--quick` is the edit-test loop:
    -m "not slow", first failure stops it; other arguments go to pytest as they are."""
    assert _scripts_test_runs(tmp_path) == ["-m", "pytest"]
    assert _scripts_test_runs(tmp_path, "tests/core", "-k", "fit") == ["-m", "pytest", "tests/core", "-k", "fit"]
    quick = _scripts_test_runs(tmp_path, "--quick", "tests/gui", "-k", "look")
    assert quick == ["-m", "pytest", "-m", "not slow", "-x", "-q", "tests/gui", "-k", "look"]
