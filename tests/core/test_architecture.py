"""Design rule 1: app.core never imports Qt."""

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
