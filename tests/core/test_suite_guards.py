"""The suite's own guards fail a test that breaks the rules, seen from a pytest of their own."""

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
