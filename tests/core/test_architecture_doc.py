"""The design a comment cites is in the repository: app/ARCHITECTURE.md, by section name."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "app" / "ARCHITECTURE.md"
CITE = re.compile(r"ARCHITECTURE\.md, ([^).\n\"]+)")  # "(app/ARCHITECTURE.md, Threads)", "…, Packages and Layers"


def _code() -> dict[Path, str]:
    files = [p for d in ("app", "tests", "scripts") for p in (ROOT / d).rglob("*.py")]
    return {p: p.read_text(encoding="utf-8") for p in files if p != Path(__file__).resolve()}  # not its own examples


def test_every_cited_section_exists_and_no_comment_cites_a_numbered_rule():
    sections = set(re.findall(r"^## (.+)$", DOC.read_text(encoding="utf-8"), re.M))
    assert "Layers" in sections, "the import-linter contracts are described under Layers"
    cited, numbered = [], []
    for path, text in _code().items():
        where = path.relative_to(ROOT)
        numbered += [f"{where}: {m.group(0)}" for m in re.finditer(r"\b[Rr]ule \d+", text)]
        for m in CITE.finditer(text):
            cited += [(f"{where}", name) for name in m.group(1).split(" and ")]
    assert not numbered, "cite a section of app/ARCHITECTURE.md, not a rule number of a document not here"
    assert cited, "the code points readers at the design"
    assert [c for c in cited if c[1] not in sections] == []
