import json

from app.core import paths
from app.core.settings import SCHEMA_VERSION, Settings, load_settings, save_settings


def test_hearth_home_overrides_every_directory(hearth_home):
    for name, path in paths.all_dirs().items():
        assert path.is_dir(), name
        assert hearth_home in path.parents, f"{name} escaped HEARTH_HOME: {path}"
    assert hearth_home in paths.log_file().parents


def test_settings_round_trip(hearth_home):
    s = Settings(last_pane="speech", window_geometry="abc=", default_models={"chat": "m1"})
    save_settings(s)
    loaded = load_settings()
    assert (loaded.last_pane, loaded.window_geometry, loaded.default_models) == ("speech", "abc=", {"chat": "m1"})
    assert json.loads(paths.settings_file().read_text())["schema_version"] == SCHEMA_VERSION


def test_settings_migrate_from_v1(hearth_home):
    paths.settings_file().write_text(json.dumps({"schema_version": 1, "last_pane_index": 2, "chat_context": 8192}))
    s = load_settings()
    assert s.last_pane == "speech"
    assert s.chat_context == 8192
    assert s.schema_version == SCHEMA_VERSION


def test_a_v1_pane_index_names_the_pane_it_meant_after_documents_joined_the_list(hearth_home):
    paths.settings_file().write_text(json.dumps({"schema_version": 1, "last_pane_index": 3}))
    assert load_settings().last_pane == "models"  # v1's fourth pane, not today's fourth (Documents)


def _set_aside() -> list:
    return sorted(paths.settings_file().parent.glob("settings.json.invalid-*"))


def test_unreadable_settings_fall_back_and_are_set_aside_under_a_name_that_says_so(hearth_home):
    paths.settings_file().write_text("{not json")
    s = load_settings()
    assert s == Settings()
    assert [p.read_text() for p in _set_aside()] == ["{not json"]


def test_newer_settings_are_read_for_what_is_known_and_never_overwritten(hearth_home):
    content = json.dumps({"schema_version": 999, "last_pane": "images", "something_new": 1})
    paths.settings_file().write_text(content)
    s = load_settings()
    assert s.last_pane == "images" and s.chat_context == Settings().chat_context
    assert save_settings(s) is False
    assert paths.settings_file().read_text() == content and _set_aside() == []


def test_wrong_types_are_a_message_and_the_default(hearth_home, caplog):
    from app.core.settings import SettingsFile

    paths.settings_file().write_text(json.dumps({
        "schema_version": SCHEMA_VERSION, "chat_context": "lots", "last_pane": "images",
        "default_models": {"chat": 5}, "hf_token": None, "models_dir": ["a"],
    }))
    with caplog.at_level("WARNING", logger="app.core.settings"):
        s = SettingsFile(paths.settings_file()).settings
    assert s.chat_context == Settings().chat_context and s.default_models == {} and s.hf_token == ""
    assert s.models_dir == "" and s.last_pane == "images", "the well-typed value is kept"
    logged = caplog.text
    for name in ("chat_context", "default_models", "hf_token", "models_dir"):
        assert f"setting {name} has the wrong type" in logged
    assert _set_aside() == [], "a wrong value is not a broken file"


def test_settings_load_once_per_process_and_stores_do_not_reread(hearth_home, tmp_path):
    from app.core.models.store import ModelStore

    custom = tmp_path / "elsewhere"
    save_settings(Settings(models_dir=str(custom), default_models={"chat": "m1"}))
    first = load_settings()
    assert load_settings() is first
    # Whatever lands on disk later, the process keeps the settings it owns: no re-read, no renaming
    # of the file as a side effect of building a store.
    paths.settings_file().write_text("{broken")
    store = ModelStore()
    assert store.root == custom and store.settings is first
    assert _set_aside() == []


def test_save_is_atomic_and_a_fresh_owner_reads_it_back(hearth_home):
    from app.core.settings import SettingsFile

    s = load_settings()
    s.default_models["speech"] = "whisper-base"
    save_settings(s)
    assert not list(paths.config_dir().glob("*.tmp")), "no temp file left behind"
    assert SettingsFile(paths.settings_file()).settings.default_models == {"speech": "whisper-base"}


def test_paths_reads_no_settings():
    import subprocess
    import sys

    code = "import sys, app.core.paths; print('app.core.settings' in sys.modules)"
    from tests.conftest import ROOT

    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
