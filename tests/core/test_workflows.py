"""The release workflow builds what users install: zizmor (a GitHub Actions security linter) audits it."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
HARMLESS = {"Unknown", "Informational"}


def _zizmor() -> str:
    beside = Path(sys.executable).parent / "zizmor"
    found = str(beside) if beside.exists() else shutil.which("zizmor")
    assert found, "zizmor is missing: pip install -e '.[dev]'"
    return found


def _findings(path: Path) -> list[dict]:
    # --offline: no GitHub API calls (the tests have no network); the audits that need none all run.
    result = subprocess.run([_zizmor(), "--offline", "--format", "json", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.strip(), f"zizmor printed nothing (exit {result.returncode}): {result.stderr[-2000:]}"
    return json.loads(result.stdout)


def _serious(findings: list[dict]) -> list[str]:
    return [f"{f['ident']} ({f['determinations']['severity']}): {f['desc']}"
            for f in findings if f["determinations"]["severity"] not in HARMLESS and not f.get("ignored")]


def test_workflows_have_no_finding_above_informational():
    assert sorted(WORKFLOWS.glob("*.yml")), "no workflows found"
    assert _serious(_findings(WORKFLOWS)) == []


def test_every_action_is_pinned_to_a_commit_and_checkouts_drop_credentials():
    # What zizmor enforces, read directly, so a zizmor that audits nothing cannot pass the test above alone.
    for workflow in WORKFLOWS.glob("*.yml"):
        text = workflow.read_text(encoding="utf-8")
        uses = [line.split("uses:", 1)[1].strip() for line in text.splitlines() if "uses:" in line]
        assert uses, workflow
        for ref in uses:
            action, _, rest = ref.partition("@")
            sha, _, comment = rest.partition("#")
            assert len(sha.strip()) == 40 and all(c in "0123456789abcdef" for c in sha.strip()), ref
            assert comment.strip().startswith("v"), f"{ref}: the tag goes in a comment"
        assert text.count("actions/checkout@") == text.count("persist-credentials: false"), workflow
        assert "permissions: {}" in text, f"{workflow.name}: workflow-wide permissions must be empty"


def test_zizmor_flags_an_unpinned_action_and_persisted_credentials(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "name: bad\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - run: echo hi\n",
        encoding="utf-8",
    )
    idents = {s.split(" ")[0] for s in _serious(_findings(bad))}
    assert {"unpinned-uses", "artipacked"} <= idents, idents
