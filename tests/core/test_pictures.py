"""Chat pictures (#12): safe decode, downscale, content-addressed storage."""

import hashlib
import io

import pytest
from PIL import Image

from app.core import paths
from app.core.chat.pictures import PictureError, PictureStore, prepare, target_side
from tests.vision import bad_pictures, gradient_png, red_png, write


def test_a_picture_is_decoded_shrunk_and_stored_once_by_content(tmp_path):
    big = tmp_path / "big.jpg"
    Image.new("RGB", (3000, 2000), (10, 200, 30)).save(big, quality=90)
    pic = prepare(big, side=512)
    assert (pic.width, pic.height) == (512, 341) and pic.name == "big.jpg"
    assert pic.sha256 == hashlib.sha256(pic.data).hexdigest()
    assert Image.open(io.BytesIO(pic.data)).size == (512, 341)
    store = PictureStore()
    path = store.put(pic)
    assert path.is_relative_to(paths.data_dir()) and path.name == f"{pic.sha256}.png"
    assert store.put(prepare(big, side=512)) == path  # the same picture twice: one file
    assert len(list(store.root.rglob("*.png"))) == 1
    assert store.read(pic.sha256) == pic.data


def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (200, 100), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    im.save(tmp_path / "rotated.jpg", exif=exif)
    pic = prepare(tmp_path / "rotated.jpg")
    assert (pic.width, pic.height) == (100, 200)


def test_pasted_bytes_and_files_give_the_same_picture(tmp_path):
    data = gradient_png()
    assert prepare(data).sha256 == prepare(write(tmp_path / "g.png", data)).sha256
    assert prepare(data).sha256 != prepare(red_png()).sha256
    assert not list(paths.cache_dir().glob("paste-*"))  # the temp file of a paste is gone


@pytest.mark.parametrize("kind, reason", [
    ("truncated", "corrupt"), ("bomb", "decompression bomb"), ("empty", "empty file"), ("text", "not a picture"),
])
def test_bad_pictures_give_a_clear_message(tmp_path, kind, reason):
    path = bad_pictures(tmp_path)[kind]
    with pytest.raises(PictureError, match=reason) as err:
        prepare(path)
    assert path.name in str(err.value) and "cannot be used as a picture" in str(err.value)
    with pytest.raises(PictureError, match=reason):
        prepare(path.read_bytes(), name=path.name)


def test_a_stored_picture_changed_on_disk_is_not_sent_and_ids_are_checked():
    store = PictureStore()
    pic = prepare(red_png())
    store.put(pic).write_bytes(b"tampered")
    with pytest.raises(PictureError, match="changed on disk"):
        store.read(pic.sha256)
    with pytest.raises(PictureError, match="not a picture id"):
        store.path_of("../../etc/passwd")


def test_unused_pictures_are_removed_and_used_ones_kept():
    store = PictureStore()
    a, b = prepare(red_png()), prepare(gradient_png())
    store.put(a)
    store.put(b)
    assert store.remove_unused({a.sha256, b.sha256}, in_use={b.sha256}) == [a.sha256]
    assert not store.exists(a.sha256) and store.exists(b.sha256)


def test_target_side_follows_the_projector():
    assert target_side("gemma3", 896) == 896 and target_side("gemma3", 64) == 64
    assert target_side("qwen2.5vl", 560) == 1024 and target_side("", 0) == 1024


def test_a_prepared_picture_has_a_small_thumbnail_made_with_it(tmp_path):
    """The conversation shows a thumbnail; made with the picture (off the GUI thread, by Pillow, which lets
    Python's lock go), so neither the tray nor Send decodes a whole picture in the window."""
    from app.core.chat.pictures import THUMB_SIDE, thumbnail

    wide = tmp_path / "wide.jpg"
    Image.new("RGB", (1000, 500), (200, 40, 20)).save(wide, quality=95)
    pic = prepare(wide, side=1024)
    with Image.open(io.BytesIO(thumbnail(pic.data))) as thumb:
        assert thumb.format == "PNG" and thumb.size == (THUMB_SIDE, THUMB_SIDE // 2)
        r, g, b = thumb.convert("RGB").getpixel((THUMB_SIDE // 2, THUMB_SIDE // 4))
        assert abs(r - 200) < 8 and abs(g - 40) < 8 and abs(b - 20) < 8
    from PIL import UnidentifiedImageError

    with pytest.raises(UnidentifiedImageError):  # read as our own PNG only, never by another decoder
        thumbnail(wide.read_bytes())
