"""Nothing in app/ is defined and never used: dead code is read, kept up and trusted by the next reader."""

import ast
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names a library calls, not our code: Jinja's sandbox and code generator hooks; html.parser's handlers.
CALLED_BY_LIBRARIES = {"call_binop", "unsafe_undefined", "handle_startendtag", "handle_data"}


def _sources(*folders: str) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for d in folders for p in (ROOT / d).rglob("*.py")}


def _library_hook(name: str) -> bool:
    # Qt overrides are camelCase (paintEvent, sizeHint); ast.NodeVisitor calls visit_<Node>.
    return name.startswith("__") or bool(re.search(r"[a-z][A-Z]", name)) or name.startswith("visit_") \
        or name in CALLED_BY_LIBRARIES


def unused_definitions(sources: dict[Path, str]) -> list[str]:
    """Functions, classes and methods in app/ whose name appears nowhere but in their definitions
    (in app/, scripts/ or tests/); a module-level private name only counts within its own module."""
    everywhere = Counter(w for text in sources.values() for w in WORD.findall(text))
    found = []
    for path, text in sources.items():
        if ROOT / "app" not in path.parents:
            continue
        tree = ast.parse(text)
        here = Counter(WORD.findall(text))
        top = {id(n) for n in tree.body}
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        times = Counter(n.name for n in defs)
        for node in defs:
            name = node.name
            if _library_hook(name):
                continue
            private = name.startswith("_") and id(node) in top
            if (here if private else everywhere)[name] <= times[name]:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    return sorted(set(found))


def test_nothing_in_app_is_defined_and_never_used():
    assert unused_definitions(_sources("app", "scripts", "tests")) == []


def test_the_check_finds_an_unused_function_method_and_private_helper(tmp_path):
    text = (ROOT / "app" / "core" / "jobs.py").read_text(encoding="utf-8")
    extra = text + "\n\ndef never_called():\n    pass\n\n\ndef _helper():\n    pass\n\n\n" \
        "class Holder:\n    def disk_use_of_nothing(self):\n        return 0\n"
    sources = _sources("app", "scripts", "tests")
    del sources[Path(__file__).resolve()]  # it names them, as a use would
    sources[ROOT / "app" / "core" / "jobs.py"] = extra
    assert {f.split()[-1] for f in unused_definitions(sources)} == {"never_called", "_helper", "Holder",
                                                                    "disk_use_of_nothing"}
