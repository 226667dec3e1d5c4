import json

from tests.conftest import run_app
from tests.helpers import make_gguf


def test_help_lists_every_command():
    result = run_app("--help")
    assert result.returncode == 0
    for command in ("doctor", "models", "chat", "search", "transcribe", "--version", "--self-test"):
        assert command in result.stdout


def test_version():
    from app import __version__

    result = run_app("--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_models_import_list_remove(tmp_path, hearth_home):
    gguf = make_gguf(tmp_path / "tiny.gguf")
    result = run_app("models", "import", str(gguf), "--kind", "chat", "--id", "tiny")
    assert result.returncode == 0, result.stderr
    listed = json.loads(run_app("models", "list", "--json").stdout)
    assert [m["id"] for m in listed] == ["tiny"]
    assert run_app("models", "verify", "tiny").returncode == 0
    assert run_app("models", "remove", "tiny").returncode == 0
    assert json.loads(run_app("models", "list", "--json").stdout) == []


def test_models_errors_are_one_line_with_nonzero_exit(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_text("hello")
    result = run_app("models", "import", str(bad), "--kind", "chat")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a GGUF" in lines[0]
    assert run_app("models", "remove", "nope").returncode == 1


def test_chat_cli_streams_and_reports_stats(starter_store):
    result = run_app("chat", "--model", "gemma-3-270m-q4_k_m", "--seed", "4", "--max-tokens", "12",
                     "--temperature", "0.8", "--json", "Hello!")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["text"].strip()
    stats = data["stats"]
    assert stats["model"] == "gemma-3-270m-q4_k_m" and 0 < stats["completion_tokens"] <= 12
    again = run_app("chat", "--model", "gemma-3-270m-q4_k_m", "--seed", "4", "--max-tokens", "12",
                    "--temperature", "0.8", "Hello!")
    assert again.returncode == 0 and again.stdout.strip() == data["text"].strip(), "seeded: same text, streamed"


def test_chat_cli_errors(starter_store, tmp_path):
    result = run_app("chat", "--model", "nope", "hi")
    assert result.returncode == 1 and "no installed chat model 'nope'" in result.stderr
    result = run_app("chat", "--model", "gemma-3-270m-q4_k_m", "   ")
    assert result.returncode == 1 and "empty" in result.stderr
