"""app.core never imports Qt (app/ARCHITECTURE.md, Packages and Layers)."""

import subprocess
import sys

from tests.conftest import ROOT

BLOCK_QT = """
import sys, importlib, pkgutil
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'shiboken6'):
            raise ImportError('Qt is blocked in this test')
sys.meta_path.insert(0, Block())
import app.core
names = [m.name for m in pkgutil.walk_packages(app.core.__path__, 'app.core.')]
for name in names:
    importlib.import_module(name)
import app.cli, app.main
print(len(names))
"""


def test_core_imports_with_qt_unavailable():
    result = subprocess.run([sys.executable, "-c", BLOCK_QT], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 10


def test_import_linter_contracts_hold():
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    exe = [sys.executable, "-c", code]
    result = subprocess.run(exe, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout and "BROKEN" not in result.stdout


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gui_and_cli_contract_is_kept_and_catches_a_crossing(tmp_path):
    """What both need lives in app.core (app/ARCHITECTURE.md, Packages). The contract must also fail on a crossing,
    shown on a throwaway package with this project's importlinter settings."""
    import tomllib

    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert "the GUI and the CLI never import each other KEPT" in result.stdout, result.stdout

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["type"] == "independence")
    for package in ("app", "app/gui", "app/cli"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "app" / "gui" / "pane.py").write_text("from app.cli import command\n")
    (tmp_path / "app" / "cli" / "command.py").write_text("")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = app\n\n[importlinter:contract:1]\n"
        f"name = {contract['name']}\ntype = independence\nmodules =\n    app.gui\n    app.cli\n"
    )
    crossed = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                             env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)})
    assert crossed.returncode != 0 and "BROKEN" in crossed.stdout, crossed.stdout + crossed.stderr
