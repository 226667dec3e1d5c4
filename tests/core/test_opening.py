"""app.core.opening: the one way the GUI and the CLI name a model."""

import pytest

from app.core.jobs import ModelError
from app.core.models.store import ModelStore
from app.core.opening import encoder_key, resolve
from app.core.settings import Settings
from tests.helpers import make_gguf


def test_an_id_a_path_and_the_default_resolve_the_same_way(hearth_home, tmp_path):
    first = make_gguf(tmp_path / "first.gguf")
    second = make_gguf(tmp_path / "second.gguf")
    store = ModelStore(settings=Settings())
    store.import_path(first, "chat", "first")
    store.import_path(second, "chat", "second")

    by_id = resolve("chat", "second", store)
    assert by_id.entry.id == "second" and by_id.path.is_file() and by_id.name == "second"
    by_path = resolve("chat", str(first), store)
    assert by_path.entry is None and by_path.path == first and by_path.name == "first.gguf"
    assert resolve("chat", None, store).name == "first", "no default chosen: the first installed"
    chosen = ModelStore(settings=Settings(default_models={"chat": "second"}))
    assert resolve("chat", None, chosen).name == "second", "the store is handed the settings it reads"
    assert encoder_key(by_id).startswith("second:") and encoder_key(by_path) == f"path:{first.resolve()}"


def test_a_wrong_kind_or_an_unknown_name_is_a_clear_error(hearth_home, tmp_path):
    store = ModelStore(settings=Settings())
    store.import_path(make_gguf(tmp_path / "m.gguf"), "chat", "m")
    with pytest.raises(ModelError, match="is a chat model, not a speech model"):
        resolve("speech", "m", store)
    with pytest.raises(ModelError, match="no installed chat model 'nope'"):
        resolve("chat", "nope", store)
    with pytest.raises(ModelError, match="no images model installed"):
        resolve("images", None, store)
