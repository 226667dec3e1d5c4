import json

import pytest

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


@pytest.mark.parametrize("content", ["{not json", json.dumps({"schema_version": 999})])
def test_unreadable_or_newer_settings_fall_back_and_keep_the_file(hearth_home, content):
    paths.settings_file().write_text(content)
    s = load_settings()
    assert s == Settings()
    assert paths.settings_file().with_suffix(".json.bad").read_text() == content
