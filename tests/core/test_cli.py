import json

import pytest

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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_chat_cli_errors(starter_store, tmp_path):
    result = run_app("chat", "--model", "nope", "hi")
    assert result.returncode == 1 and "no installed chat model 'nope'" in result.stderr
    result = run_app("chat", "--model", "gemma-3-270m-q4_k_m", "   ")
    assert result.returncode == 1 and "empty" in result.stderr


def test_one_guard_for_every_command_message_and_exit_code_no_traceback(hearth_home, tmp_path):
    from app.core.settings import Settings, save_settings

    # A typed error from a command that had no guard of its own: one line, exit 1.
    result = run_app("search", "query", "a cat")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: no images model installed")
    # An OS error the user can act on (the models folder setting names a file): one line, exit 1.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    save_settings(Settings(models_dir=str(blocker)))
    result = run_app("models", "list")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().startswith("error: ") and str(blocker) in result.stderr


def test_the_guard_logs_an_unexpected_error_and_exits_2(hearth_home, capsys, caplog):
    import argparse

    from app.cli import run
    from app.core import paths

    def broken(args):
        raise ZeroDivisionError("a bug")

    with caplog.at_level("INFO", logger="app"):
        assert run(argparse.Namespace(command="doctor", func=broken)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ZeroDivisionError: a bug") and "Traceback" not in err
    assert str(paths.log_file()) in err, "the line says where the details are"
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and logged[0].exc_info[0] is ZeroDivisionError, "the log keeps the traceback"


def test_an_openclip_checkpoint_takes_its_architecture_from_the_config_beside_it(tmp_path, hearth_home):
    """#24.6: a hub folder's weights file, imported alone, needs no architecture name from the user."""
    import shutil

    from tests.conftest import TINY_CLIP

    folder = shutil.copytree(TINY_CLIP, tmp_path / "tiny-clip")
    result = run_app("models", "import", str(folder / "open_clip_model.safetensors"), "--kind", "images",
                     "--id", "mine")
    assert result.returncode == 0, result.stderr
    [entry] = json.loads(run_app("models", "list", "--json").stdout)
    assert entry["id"] == "mine" and entry["architecture"] == "local-dir"
    lone = tmp_path / "lone" / "weights.safetensors"  # no config beside it: the name is still needed, and said
    lone.parent.mkdir()
    shutil.copy(folder / "open_clip_model.safetensors", lone)
    result = run_app("models", "import", str(lone), "--kind", "images")
    assert result.returncode == 1 and "architecture name" in result.stderr
