"""The README's "Where your data lives" table says where the databases and models really are (#14)."""

import re
from pathlib import Path

from platformdirs import PlatformDirs

from app.core import paths
from app.core.chat.history import default_path as chat_db
from app.core.images.index import default_path as images_db

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _linux_cell(row_start: str) -> str:
    row = next(line for line in README.splitlines() if line.startswith(f"| {row_start}"))
    return re.findall(r"`([^`]+)`", row.split("|")[2])[0]


def test_the_table_names_the_real_database_and_model_folders(hearth_home):
    data = paths.data_dir()
    assert chat_db().parent == images_db().parent == paths.db_dir()
    db_rel = paths.db_dir().relative_to(data).as_posix()
    models_rel = paths.default_models_dir().relative_to(data).as_posix()
    linux_data = PlatformDirs("Hearth", "Hearth", roaming=False).user_data_dir.replace(str(Path.home()), "~")
    if linux_data.startswith("~/.local/share"):  # the Linux column is checked where we can compute it
        assert _linux_cell("data") == linux_data
        assert _linux_cell("databases") == f"{linux_data}/{db_rel}"
        assert _linux_cell("models") == f"{linux_data}/{models_rel}"
    for name in (chat_db().name, images_db().name):
        assert f"`{db_rel}/{name}`" in README or f"`{name}`" in README
    assert "databases/" not in README.replace("| databases", "")
