"""Each kind of catalog entry, downloaded with its real file layout through the real installer and
loaded by the real engine (tiny weights stand in for the real ones)."""

import numpy as np
import pytest

from app.core.images.encoder import FolderTokenizer, ImageEncoder
from app.core.jobs import ModelError
from app.core.models.catalog import COMMIT, find, load_catalog, validate_entry
from app.core.models.installer import install_entry
from app.core.models.store import ModelStore
from tests.helpers import SPEECH_TEXT, photo_library, word_error_rate
from tests.hub_layouts import (
    SIGLIP_VOCAB,
    openclip_contents,
    serve_entry,
    siglip_contents,
    whisper_contents,
)


def _install(hub, raw):
    store = ModelStore()
    installed = install_entry(validate_entry(raw), store, hub.endpoint)
    return store.path_of(installed), installed


def _resolved(hub):
    """The paths the installer asked the hub for (before the CDN redirect)."""
    return {p for m, p, _ in hub.requests if m == "GET" and "/resolve/" in p}


@pytest.mark.slow
def test_whisper_large_v3_layout_installs_and_transcribes(hub, whisper_dir, speech_wav):
    from app.core.speech.transcriber import TranscribeOptions, Transcriber, transcribe_all

    raw = serve_entry(hub, "whisper-large-v3", whisper_contents(whisper_dir))
    folder, installed = _install(hub, raw)
    assert installed.verified
    assert {p.name for p in folder.iterdir()} == {
        "config.json", "model.bin", "preprocessor_config.json", "tokenizer.json", "vocabulary.json"}
    engine = Transcriber(folder, model_id="whisper-large-v3")
    text = " ".join(s.text for s in transcribe_all(engine, speech_wav, TranscribeOptions(language="en")))
    assert word_error_rate(SPEECH_TEXT, text) <= 0.15, text


@pytest.mark.slow
@pytest.mark.parametrize("entry_id", ["clip-vit-l-14-laion2b", "clip-vit-b-32-laion2b"])
def test_openclip_layout_installs_from_its_pinned_revision_and_searches(hub, tmp_path, entry_id):
    shipped = find(entry_id, load_catalog())
    weights = shipped.files[-1].path
    raw = serve_entry(hub, entry_id, openclip_contents(weights))
    folder, installed = _install(hub, raw)
    # The pinned hash belongs to a commit, and that commit is what was fetched.
    assert COMMIT.match(shipped.revision) and any(f.sha256 for f in shipped.files)
    assert f"/{shipped.repo}/resolve/{shipped.revision}/{weights}" in _resolved(hub)
    assert installed.verified and (folder / weights).is_file()
    encoder = ImageEncoder(folder, model_id=entry_id)
    lib = photo_library(tmp_path / "photos", per_class=1)
    names = ["red circle", "blue star", "yellow square", "green triangle"]
    from PIL import Image

    pictures = [Image.open(lib[n][0]).convert("RGB") for n in names]
    scores = encoder.embed_text([f"a {n}" for n in names]) @ encoder.embed_pil(pictures).T
    assert (scores.argmax(axis=1) == np.arange(len(names))).mean() >= 0.75, scores


def test_a_pinned_file_is_not_taken_from_another_revision(hub):
    """The hub's branch holds a re-upload; only the pinned commit has the pinned bytes."""
    raw = serve_entry(hub, "clip-vit-l-14-laion2b", openclip_contents("open_clip_pytorch_model.safetensors"))
    source = raw["source"]
    weights = source["files"][-1]["path"]
    hub.add(source["repo"], weights, b"re-uploaded", revision="main")
    hub.files.pop(f"/{source['repo']}/resolve/{source['revision']}/{weights}")
    with pytest.raises(Exception, match="not found"):
        _install(hub, raw)
    assert ModelStore().list() == []


@pytest.mark.slow
def test_siglip_layout_tokenizes_text_from_its_own_folder(hub, tmp_path):
    raw = serve_entry(hub, "siglip-vit-b-16", siglip_contents())
    folder, _ = _install(hub, raw)
    assert {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} <= {p.name for p in folder.iterdir()}
    encoder = ImageEncoder(folder, model_id="siglip-vit-b-16")
    # Not open_clip's HFTokenizer (transformers, then the hub by the config's name): the folder's own file.
    assert isinstance(encoder.tokenizer, FolderTokenizer)
    ids = encoder.tokenizer(["A Red, Circle!", "a photo of a purple star"])
    vocab = {w: i for i, w in enumerate(SIGLIP_VOCAB)}
    want = [vocab[w] for w in ("a", "red", "circle", "</s>")]
    assert ids.shape == (2, 16) and ids[0].tolist() == want + [vocab["<pad>"]] * 12  # canonicalized, padded
    words = ["a", "photo", "of", "a", "purple", "star", "</s>"]
    assert ids[1, :7].tolist() == [vocab[w] for w in words]
    long = encoder.tokenizer(["red " * 40])
    assert long.shape == (1, 16) and long[0, -1].item() == vocab["</s>"]  # truncated, ending as T5's does
    vectors = encoder.embed_text(["a red circle", "a blue star"])
    assert vectors.shape == (2, 64) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)


def test_siglip_folder_without_its_tokenizer_indexes_pictures_and_says_why_text_fails(tmp_path):
    folder = tmp_path / "siglip"
    folder.mkdir()
    for name, data in siglip_contents().items():
        if name != "tokenizer.json":
            (folder / name).write_bytes(data)
    encoder = ImageEncoder(folder, model_id="siglip")
    from PIL import Image

    assert encoder.embed_pil([Image.new("RGB", (64, 64), "red")]).shape == (1, 64)
    with pytest.raises(ModelError, match="tokenizer.json is missing"):
        encoder.embed_text(["a red circle"])


def test_a_corrupt_tokenizer_file_is_a_clear_model_error(tmp_path):
    folder = tmp_path / "siglip"
    folder.mkdir()
    for name, data in siglip_contents().items():
        (folder / name).write_bytes(b"{not json" if name == "tokenizer.json" else data)
    with pytest.raises(ModelError, match="tokenizer could not be read"):
        ImageEncoder(folder, model_id="siglip")
