import json
import os

import numpy as np
import pytest
from PIL import Image

from app.core.images.index import ImageIndex, IndexSummary, score_matrix
from app.core.images.query import parse, query_vector
from app.core.jobs import InputError
from tests.conftest import run_app
from tests.helpers import photo_library

KEY = "tiny-clip:test"


def _index(index, encoder, **kw) -> IndexSummary:
    return [i for i in index.index(encoder, KEY, **kw) if isinstance(i, IndexSummary)][0]


@pytest.mark.slow
def test_text_queries_rank_colour_and_shape_first(clip_encoder, tmp_path):
    lib = photo_library(tmp_path / "photos", per_class=4)
    index = ImageIndex()
    index.add_folder(tmp_path / "photos")
    summary = _index(index, clip_encoder)
    assert summary.embedded == sum(len(v) for v in lib.values()) and not summary.skipped
    precisions = []
    for name in ("blue star", "red circle", "yellow square", "green triangle"):
        hits = index.search(query_vector(parse(f"a {name}"), clip_encoder), KEY, top=4)
        wanted = {str(p) for p in lib[name]}
        precisions.append(sum(h.path in wanted for h in hits) / 4)
    assert np.mean(precisions) >= 0.75, precisions


@pytest.mark.slow
def test_an_image_query_finds_its_near_duplicates_first(clip_encoder, tmp_path):
    lib = photo_library(tmp_path / "photos", per_class=3)
    original = lib["purple star"][0]
    with Image.open(original) as im:
        im.convert("RGB").resize((192, 192)).save(tmp_path / "photos" / "copy big.jpg", "JPEG", quality=55)
        im.convert("RGB").resize((64, 64)).save(tmp_path / "photos" / "copy small.png")
    index = ImageIndex()
    index.add_folder(tmp_path / "photos")
    _index(index, clip_encoder)
    vec = index.vector_of(str(original), KEY)
    hits = index.search(query_vector(parse(""), clip_encoder, [vec]), KEY, top=3)
    top = {os.path.basename(h.path) for h in hits}
    assert {"copy big.jpg", "copy small.png", original.name} == top


def test_plus_and_minus_terms():
    q = parse("red circle -star +blue square")
    assert q.plus == ["red circle", "blue square"] and q.minus == ["star"]
    assert parse("-night").minus == ["night"] and not parse("").plus
    with pytest.raises(InputError):
        query_vector(parse(""), None)


@pytest.mark.slow
def test_reindex_is_incremental_and_vanished_folders_are_kept(clip_encoder, tmp_path):
    photo_library(tmp_path / "a", per_class=1)
    photo_library(tmp_path / "b", per_class=1, seed=9)
    index = ImageIndex()
    index.add_folder(tmp_path / "a")
    index.add_folder(tmp_path / "b")
    first = _index(index, clip_encoder)
    assert first.embedded == 40
    again = _index(index, clip_encoder)
    assert again.embedded == 0 and again.unchanged == 40, "an unchanged library embeds nothing"

    files = sorted((tmp_path / "a").rglob("*.png"))
    Image.new("RGB", (80, 80), (0, 0, 255)).save(files[0])  # changed content
    os.utime(files[1], (1, 1))  # touched only: same bytes, new mtime
    files[2].unlink()  # deleted
    Image.new("RGB", (80, 80), (255, 0, 0)).save(tmp_path / "a" / "new one.png")  # added
    third = _index(index, clip_encoder)
    assert (third.embedded, third.removed) == (2, 1)

    (tmp_path / "b").rename(tmp_path / "b-unplugged")  # an unmounted drive
    fourth = _index(index, clip_encoder)
    assert fourth.offline_folders == [str((tmp_path / "b").resolve())] and fourth.removed == 0
    status = {p: s for p, s, _ in index.folders()}
    assert status[str((tmp_path / "b").resolve())] == "offline"
    hits = index.search(query_vector(parse("a green star"), clip_encoder), KEY, top=80)
    assert any(h.offline for h in hits) and len(hits) == 40 - 1 + 1, "offline entries stay searchable"


@pytest.mark.slow
def test_bad_files_are_skipped_counted_and_indexing_finishes(clip_encoder, tmp_path):
    lib = tmp_path / "lib"
    photo_library(lib, per_class=1)
    bad = lib / "bad"
    bad.mkdir()
    (bad / "zero.jpg").write_bytes(b"")
    (bad / "notes.png").write_text("this is not a picture")
    (bad / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(3000))
    good = lib / "holiday 2024" / "red" / "circle 0.png"
    if not good.exists():
        good = next(lib.rglob("*.png"))
    (bad / "truncated.png").write_bytes(good.read_bytes()[:200])
    Image.new("1", (13000, 13000)).save(bad / "bomb.png")  # 169 megapixels of nothing
    Image.new("RGB", (9000, 300), (240, 220, 30)).save(bad / "panorama ok.jpg")  # huge but fine
    os.symlink(lib, bad / "loop")  # a folder that contains itself
    index = ImageIndex()
    index.add_folder(lib)
    summary = _index(index, clip_encoder)
    reasons = summary.skipped
    assert reasons["empty file"] == 1 and reasons["not a picture"] >= 1
    assert reasons["too large (decompression bomb guard)"] == 1
    assert sum(n for r, n in reasons.items() if r.startswith("corrupt")) + reasons["not a picture"] >= 3
    assert summary.embedded == 20 + 1, "every good picture once, the panorama too, nothing twice via the loop"
    assert sum(index.skipped().values()) == sum(reasons.values())
    again = _index(index, clip_encoder)
    assert again.embedded == 0 and sum(again.skipped.values()) == sum(reasons.values())


def test_scores_match_a_plain_product_on_both_paths():
    rng = np.random.default_rng(0)
    mat = rng.standard_normal((150_000, 64)).astype(np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)  # unit vectors, as stored
    mat = mat.astype(np.float16)
    q = rng.standard_normal(64).astype(np.float32)
    q /= np.linalg.norm(q)
    exact = mat.astype(np.float32) @ q
    assert np.allclose(score_matrix(mat, q), exact, atol=2e-3)  # torch, in place
    frozen = mat.copy()
    frozen.flags.writeable = False
    assert np.allclose(score_matrix(frozen, q), exact, atol=1e-4)  # numpy, a chunk at a time


@pytest.mark.slow
def test_cli_index_and_query(clip_store, tmp_path):
    lib = photo_library(tmp_path / "photos", per_class=3)
    result = run_app("search", "index", str(tmp_path / "photos"))
    assert result.returncode == 0, result.stderr
    assert "embedded 60" in result.stdout
    result = run_app("search", "query", "a blue star", "--top", "3", "--json")
    hits = json.loads(result.stdout)
    assert len(hits) == 3 and hits[0]["score"] >= hits[-1]["score"]
    assert sum(h["path"] in {str(p) for p in lib["blue star"]} for h in hits) >= 2
    result = run_app("search", "query", "--image", str(lib["red circle"][0]), "--top", "1", "--json")
    assert json.loads(result.stdout)[0]["path"] == str(lib["red circle"][0])
    result = run_app("search", "query")
    assert result.returncode == 1 and "type something" in result.stderr


@pytest.mark.slow
def test_a_pickled_checkpoint_is_refused_without_side_effects(tmp_path):
    import pickle
    import zipfile

    from app.core.jobs import ModelError
    from app.core.models.store import ModelStore

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    pt = tmp_path / "evil.pt"
    with zipfile.ZipFile(pt, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
    with pytest.raises(ModelError, match="carries code"):
        ModelStore().import_path(pt, "images", architecture="ViT-B-32")
    from app.core.images.encoder import ImageEncoder

    with pytest.raises(ModelError, match="carries code"):
        ImageEncoder(pt, "ViT-B-32")  # checked before open_clip reads it (weights_only=True would refuse it too)
    assert not (tmp_path / "pwned").exists()
