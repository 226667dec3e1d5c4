"""Qt's own options (`-style Fusion`) reach Qt; Hearth's parser never sees them."""

import pytest

from app.main import split_qt_args
from tests.conftest import run_app


def test_qt_options_are_split_from_hearth_arguments():
    assert split_qt_args(["-style", "Fusion"]) == ([], ["-style", "Fusion"])
    assert split_qt_args(["--style=Fusion", "--self-test"]) == (["--self-test"], ["--style=Fusion"])
    assert split_qt_args(["-reverse", "models", "list"]) == (["models", "list"], ["-reverse"])
    assert split_qt_args(["chat", "--model", "x"]) == (["chat", "--model", "x"], [])


def test_a_command_with_a_qt_option_is_refused_plainly():
    from app.main import main

    with pytest.raises(SystemExit) as exc:
        main(["-style", "Fusion", "doctor"])
    assert exc.value.code == 2


@pytest.mark.slow
def test_style_fusion_opens_the_window():
    result = run_app("-style", "Fusion", "--self-test", timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "first paint" in result.stdout
