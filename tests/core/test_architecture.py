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


def test_no_module_imports_itself_round_a_circle():
    """Arrows only point down (app/ARCHITECTURE.md, Layers), so no import circle, imports inside
    functions included (engine <-> vision_engine, theme <-> icons and history <-> imports were)."""
    code = """
import grimp
g = grimp.build_graph("app")
circles = sorted({tuple(sorted((a, b))) for a in g.modules for b in g.find_modules_directly_imported_by(a)
                  if a != b and g.chain_exists(importer=b, imported=a)})
print(circles)
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


def _lint_copy(tmp_path, files: dict[str, str]):
    """lint-imports with this project's contracts on a copy of app/ with ``files`` added."""
    import shutil

    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)


def test_layers_contract_catches_an_upward_import(tmp_path):
    """The model store below the engines: a lazy import of an engine from app.core.models (what
    models/opening.py did) breaks the app.core layers contract."""
    upward = "def open_it():\n    from app.core.chat import engine\n\n    return engine\n"
    result = _lint_copy(tmp_path, {"app/core/models/opener.py": upward})
    assert result.returncode != 0, result.stdout + result.stderr
    assert "layers in app.core: opening, then engines, then stores and formats, then basics BROKEN" in result.stdout
    assert "app.core.models is not allowed to import app.core.chat" in result.stdout, result.stdout


def test_layers_contract_wants_a_new_core_package_placed(tmp_path):
    """The contracts are exhaustive: a new package (app.core.tools, say) must be given its layer."""
    result = _lint_copy(tmp_path, {"app/core/tools/__init__.py": ""})
    assert result.returncode != 0, result.stdout + result.stderr
    assert "not listed as layers" in result.stdout and "- app.core.tools" in result.stdout, result.stdout


PANE_LINES = 350


def _pane_modules() -> dict[str, int]:
    """Every module under app/gui that defines a pane (a class named *Pane, or built on one): its lines."""
    import ast

    found = {}
    for path in sorted((ROOT / "app" / "gui").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                names = [node.name] + [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                if any(n.endswith("Pane") for n in names):
                    found[str(path.relative_to(ROOT))] = len(text.splitlines())
                    break
    return found


def test_every_pane_module_is_small():
    """#23: a pane lays out what the user sees; what it shows is built in app.core and its parts
    (composer, folders panel, transcripts…) live in modules of their own."""
    panes = _pane_modules()
    assert {"app/gui/chat/pane.py", "app/gui/images/pane.py", "app/gui/speech/pane.py",
            "app/gui/models/page.py"} <= panes.keys()
    assert {p: n for p, n in panes.items() if n >= PANE_LINES} == {}


def test_mypy_passes_on_core_and_server():
    """The engines' typed contract (app/core/chat/events.py, the protocols) is checked, not just written:
    pyproject's [tool.mypy] names what is checked and how strictly."""
    result = subprocess.run([sys.executable, "-m", "mypy", "app/core", "app/server"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


ENGINE = """
from collections.abc import Iterator

from app.core.chat.events import StreamEvent, TextDelta
from app.core.chat.protocol import ChatEngineProtocol


class Engine:
    def __init__(self) -> None:
        self.model_id, self.n_ctx, self.gpu_layers, self.device_reason = "m", 0, 0, ""
        self.notices: list[str] = []

    def stream(self, messages, params, cancel=None) -> Iterator[{item}]:
        yield {text}

    def close(self) -> None:
        pass


engine: ChatEngineProtocol = Engine()
"""


def test_mypy_refuses_an_engine_that_yields_bare_text(tmp_path):
    """What every engine did before the events: text as str beside ChatStats. The protocol catches it."""
    runs = {}
    for name, item, text in (("old", "str | StreamEvent", '"text"'), ("new", "StreamEvent", 'TextDelta("text")')):
        path = tmp_path / f"{name}_engine.py"
        path.write_text(ENGINE.format(item=item, text=text))
        runs[name] = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", str(path)], cwd=ROOT,
                                    capture_output=True, text=True)
    assert runs["new"].returncode == 0, runs["new"].stdout + runs["new"].stderr
    assert runs["old"].returncode == 1, runs["old"].stdout + runs["old"].stderr
    assert '"Engine"' in runs["old"].stdout and "ChatEngineProtocol" in runs["old"].stdout, runs["old"].stdout
