import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.core.images.calibration import CALIBRATION, DEFAULT, Thresholds, thresholds_for
from app.core.images.cleanup import find_duplicates, send_to_trash
from app.core.images.duplicates import Library, find_groups, hash_pairs
from app.core.images.filters import make_filters
from app.core.images.index import ImageIndex, IndexSummary
from app.core.images.likeness import dhash, phash
from tests.conftest import run_app
from tests.dupe_scenes import frame, scene, write_distinct, write_set

KEY = "tiny-clip:test"


def _index(index, encoder) -> IndexSummary:
    return [i for i in index.index(encoder, KEY) if isinstance(i, IndexSummary)][0]


def _library(root: Path) -> tuple[dict[str, Path], dict[str, Path], list[Path]]:
    first = write_set(root / "trip", ("red", "circle"), 1, burst_at="2024:08:01 10:00")
    second = write_set(root / "trip", ("blue", "star"), 2)
    others = write_distinct(root / "others", ("red", "circle"), range(10, 16))
    others += write_distinct(root / "others", ("blue", "star"), range(20, 24))
    return first, second, others


@pytest.mark.slow
def test_near_duplicates_and_bursts_group_and_other_photos_of_a_kind_do_not(clip_encoder, tmp_path):
    first, second, others = _library(tmp_path / "photos")
    index = ImageIndex()
    index.add_folder(tmp_path / "photos")
    _index(index, clip_encoder)
    groups = [[p.path for p in g] for g in find_duplicates(index, KEY)]
    # every variant (re-encoded, resized, cropped, brighter, blurred, a burst of panned frames) with its photo
    assert sorted(map(sorted, groups)) == sorted([sorted(map(str, first.values())), sorted(map(str, second.values()))])
    # the keeper: the original, though the upscaled blurred copy has 4x its pixels
    assert {g[0] for g in groups} == {str(first["original"]), str(second["original"])}
    assert not any(str(p) in g for g in groups for p in others)
    # a folder narrows the search
    assert find_duplicates(index, KEY, str(tmp_path / "photos" / "others")) == []


@pytest.mark.slow
def test_pictures_indexed_before_likeness_get_it_on_the_next_run_without_embedding_again(clip_encoder, tmp_path):
    first = write_set(tmp_path / "photos", ("green", "triangle"), 3)
    index = ImageIndex()
    index.add_folder(tmp_path / "photos")
    _index(index, clip_encoder)
    index.db.execute("DELETE FROM likeness")  # as an index made before schema 3 has it
    assert find_duplicates(index, KEY) == []
    again = _index(index, clip_encoder)
    assert again.embedded == 0 and again.unchanged == len(first)
    assert [len(g) for g in find_duplicates(index, KEY)] == [len(first)]
    assert _index(index, clip_encoder).unchanged == len(first)  # and the run after decodes nothing


@pytest.mark.slow
def test_removal_sends_to_the_trash_and_updates_the_index(clip_encoder, tmp_path, trash_folder):
    first = write_set(tmp_path / "photos", ("red", "circle"), 4)
    index = ImageIndex()
    index.add_folder(tmp_path / "photos")
    _index(index, clip_encoder)
    [group] = find_duplicates(index, KEY)
    chosen = [p.path for p in group[1:]]
    outside = tmp_path / "not indexed.jpg"
    outside.write_bytes(first["reencoded"].read_bytes())
    done = send_to_trash(index, [*chosen, str(outside)])
    assert sorted(done.removed) == sorted(chosen)
    assert [p for p, _ in done.failed] == [str(outside)] and outside.exists()  # never touched
    assert sorted(os.listdir(trash_folder)) == sorted(os.path.basename(p) for p in chosen)
    assert not any(os.path.exists(p) for p in chosen) and first["original"].exists()
    left = {r[0] for r in index.db.execute("SELECT path FROM files")}
    assert left == {str(first["original"])}
    assert len(index.matrix(KEY)[1]) == 1 and find_duplicates(index, KEY) == []


@pytest.mark.slow
def test_a_picture_changed_since_indexing_is_not_trashed(clip_encoder, tmp_path, trash_folder):
    """The groups were found on what was indexed: a file since written over (another photo saved under
    that name, an edit) is no longer known to be a duplicate, and stays."""
    first = write_set(tmp_path / "photos", ("green", "circle"), 6)
    index = ImageIndex()
    index.add_folder(tmp_path / "photos")
    _index(index, clip_encoder)
    [group] = find_duplicates(index, KEY)
    changed, same = group[1].path, group[2].path
    Image.new("RGB", (64, 48), "purple").save(changed, "JPEG")  # a different picture now
    done = send_to_trash(index, [changed, same])
    assert done.removed == [same] and [p for p, _ in done.failed] == [changed]
    assert "changed since it was indexed" in done.failed[0][1] and os.path.exists(changed)
    assert os.listdir(trash_folder) == [os.path.basename(same)] and first["original"].exists()


@pytest.mark.slow
def test_cli_lists_groups_as_json_keeper_first(clip_store, tmp_path):
    first = write_set(tmp_path / "photos", ("blue", "star"), 5)
    write_distinct(tmp_path / "photos", ("blue", "star"), range(30, 33))
    assert run_app("search", "index", str(tmp_path / "photos")).returncode == 0
    out = run_app("search", "duplicates", str(tmp_path / "photos"), "--json")
    assert out.returncode == 0, out.stderr
    groups = json.loads(out.stdout)
    assert len(groups) == 1 and groups[0][0] == str(first["original"])
    assert sorted(groups[0]) == sorted(map(str, first.values()))
    text = run_app("search", "duplicates")
    assert text.returncode == 0 and "keep  " + str(first["original"]) in text.stdout
    bad = run_app("search", "duplicates", str(tmp_path / "nowhere"))
    assert bad.returncode != 0 and "is not a folder" in bad.stderr and "Traceback" not in bad.stderr


def test_a_burst_groups_by_time_and_likeness_not_by_time_alone():
    th = Thresholds(near_hash=4, near_cosine=0.9, burst_hash=24, burst_cosine=0.9, burst_seconds=5)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**63, 6, dtype=np.int64).view(np.uint64)
    hashes = base.copy()
    hashes[1] = hashes[0] ^ np.uint64((1 << 20) - 1)  # 20 bits off: too far for a near-duplicate
    hashes[2] = hashes[1] ^ np.uint64((1 << 40) - (1 << 20))  # 20 more from frame 1
    hashes[3] = hashes[0] ^ np.uint64((1 << 60) - (1 << 40))  # as far from frame 0 as 1 is, but an hour later
    vecs = np.tile(np.eye(4, dtype=np.float32)[0], (6, 1))
    vecs[4:] = np.eye(4, dtype=np.float32)[1]
    taken = np.array([100.0, 102.0, 104.0, 3700.0, np.nan, np.nan])
    lib = Library(hashes, vecs, taken, np.full(6, 10), np.full(6, 1.0, dtype=np.float32))
    assert find_groups(lib, th) == [[0, 1, 2]]
    vecs[1] = np.eye(4, dtype=np.float32)[2]  # the CLIP vector disagrees: no burst through frame 1
    assert find_groups(Library(hashes, vecs, taken, lib.pixels, lib.sharpness), th) == []


def test_hash_pairs_match_a_plain_count_of_every_pair():
    rng = np.random.default_rng(1)
    h = rng.integers(0, 2**63, 3000, dtype=np.int64).view(np.uint64)
    h[2000:2100] = h[:100] ^ np.uint64(0b1011)  # 3 bits off, across blocks
    i, j, d = hash_pairs(h, 12)
    got = {(int(a), int(b)): int(c) for a, b, c in zip(i, j, d, strict=True)}
    assert {(k, 2000 + k) for k in range(100)} <= set(got) and all(got[(k, 2000 + k)] == 3 for k in range(100))
    want = {(a, b): bin(int(h[a]) ^ int(h[b])).count("1") for a, b in list(got)[:50]}
    assert all(got[p] == want[p] <= 12 for p in want)
    # no pair is missed: brute force over a slice
    for a in range(0, 3000, 97):
        for b in range(a + 1, 3000):
            if bin(int(h[a]) ^ int(h[b])).count("1") <= 12:
                assert (a, b) in got


def test_a_library_of_one_picture_copied_thousands_of_times_stays_linear():
    """Every pair of near hashes was kept: 20,000 copies of a blank frame (scans of white pages, a video's
    black frames) made 200 M pairs, gigabytes and a Python loop over each. Now each picture keeps its
    nearest NEAR_NEIGHBOURS, and the copies still come out as one group."""
    from app.core.images.duplicates import NEAR_NEIGHBOURS

    n = 3000
    rng = np.random.default_rng(3)
    h = np.full(n, rng.integers(0, 2**63, dtype=np.int64)).view(np.uint64)
    h[::7] ^= np.uint64(0b11)  # some two bits off: the nearest are kept first
    i, j, d = hash_pairs(h, 16)
    assert 0 < i.size <= n * NEAR_NEIGHBOURS and (i < j).all() and d.max() <= 2
    th = Thresholds(near_hash=16, near_cosine=0.5, burst_hash=16, burst_cosine=0.5, burst_seconds=5)
    vecs = np.tile(np.eye(4, dtype=np.float32)[0], (n, 1))
    lib = Library(h, vecs, np.full(n, np.nan), np.full(n, 10), np.full(n, 1.0, dtype=np.float32))
    assert [len(g) for g in find_groups(lib, th)] == [n]


def test_hashes_bear_resizing_and_tell_scenes_apart(tmp_path):
    first = write_set(tmp_path / "a", ("yellow", "square"), 6)
    [other] = write_distinct(tmp_path / "b", ("yellow", "square"), range(40, 41))
    from app.core.images.likeness import likeness_of
    from app.core.images.scan import open_image

    def sig(p):
        return likeness_of(open_image(str(p), 224))

    o, r, x = sig(first["original"]), sig(first["resized"]), sig(other)
    assert bin((o.phash ^ r.phash) & (2**64 - 1)).count("1") <= 6
    assert bin((o.phash ^ x.phash) & (2**64 - 1)).count("1") >= 18
    assert o.pixels == 480 * 360 and r.pixels == 240 * 180 and sig(first["blurred"]).sharpness < o.sharpness / 4
    grey = np.random.default_rng(2).uniform(0, 200, (32, 32))
    assert phash(grey) == phash(grey * 0.5 + 40) != phash(grey[::-1])  # contrast and brightness leave it be
    ramp = np.tile(np.arange(9, dtype=np.float32), (8, 1))
    assert dhash(ramp) == -1 and dhash(ramp[:, ::-1]) == 0  # every pixel brighter than its left: all 64 bits


@pytest.mark.slow
def test_bursts_read_the_date_taken_the_metadata_keeps(clip_encoder, tmp_path):
    """Bursts read their own copy of the EXIF date (likeness.taken), parsed apart from the metadata's: a
    camera that writes only DateTimeDigitized gave the photo a date in the pane but none to bursts, whose
    frames then never grouped. Now one reading, photo_meta's, serves both (and the copy is gone, schema 5)."""
    big = scene(("red", "circle"), 8)
    folder = tmp_path / "photos"
    folder.mkdir()
    frames = []
    for k in range(4):  # panned far enough that only the burst rule (time, then a looser hash) joins them
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9004] = f"2024:08:01 10:00:{10 + k:02d}"  # DateTimeDigitized only
        frames.append(folder / f"burst{k}.jpg")
        frame(big, 26 * k, 13 * k).save(frames[-1], "JPEG", quality=90, exif=exif)
    write_distinct(folder, ("red", "circle"), range(50, 53))
    key = "uncalibrated-clip:test"  # the default thresholds: a burst's hash bound is looser than a copy's
    index = ImageIndex()
    index.add_folder(folder)
    list(index.index(clip_encoder, key))
    assert len(index.search(None, key, 9, None, make_filters("2024-08-01", "2024-08-01"))) == 4
    assert [sorted(p.path for p in g) for g in find_duplicates(index, key)] == [sorted(map(str, frames))]
    assert "taken" not in {r[1] for r in index.db.execute("PRAGMA table_info(likeness)")}


def test_thresholds_are_per_model_with_a_default():
    assert thresholds_for("tiny-clip:abc") is CALIBRATION["tiny-clip"]
    assert thresholds_for("path:/x/model") is DEFAULT and thresholds_for("clip-vit-b-32-laion2b:0a1b") is DEFAULT


def test_an_older_index_gains_the_likeness_table(tmp_path):
    from app.core.db import open_db
    from app.core.images.index import MIGRATIONS

    path = tmp_path / "images.sqlite3"
    open_db(path, MIGRATIONS[:2], "the photo index").close()  # schema 2, as the released app writes it
    ImageIndex(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert "likeness" in {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
