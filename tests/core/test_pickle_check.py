"""The import check for torch checkpoints (issue #15: 7): an allow-list that agrees with torch's own load.

Each crafted pickle here got past the old check (it looked only at GLOBAL and at
the last two strings before STACK_GLOBAL). None is ever unpickled by us; torch's
``weights_only`` loader, the one Hearth loads with, is asked about each too, so
the test shows import and load agree.
"""

import io
import warnings
import zipfile

import pytest

from app.core.jobs import ModelError
from app.core.models.store import ModelStore
from app.core.models.validate import check_pickle_is_plain
from tests.conftest import TINY_CLIP


def _u(text: str) -> bytes:  # SHORT_BINUNICODE
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def _s(text: str) -> bytes:  # SHORT_BINSTRING: a protocol-0/1 string, decoded to str on load
    raw = text.encode()
    return b"U" + bytes([len(raw)]) + raw


CALL_PRINT = _u("pwned") + b"\x85" + b"R" + b"."  # ("pwned",) then REDUCE, STOP

CRAFTED = {
    # INST builds an object from a class named inline: no GLOBAL opcode at all.
    "inst": b"(" + _u("pwned") + b"ibuiltins\nprint\n.",
    # The names go to the memo; decoy strings come last; STACK_GLOBAL takes the memo's.
    "memo_stack_global": b"\x80\x02" + _u("builtins") + b"\x94" + _u("print") + b"\x94" + b"00"
    + _u("collections") + _u("OrderedDict") + b"00" + b"h\x00h\x01\x93" + CALL_PRINT,
    # Byte strings, which the old check did not collect, as STACK_GLOBAL's operands.
    "short_binstring": b"\x80\x02" + _u("collections") + _u("OrderedDict") + b"00"
    + _s("builtins") + _s("print") + b"\x93" + CALL_PRINT,
    # A REDUCE whose callable is not a global at all (the result of another call).
    "call_a_result": b"\x80\x02" + b"ccollections\nOrderedDict\n" + b")R" + b")R.",
}


def _torch_zip(pickled: bytes, name: str = "archive/data.pkl") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, pickled)
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def _plain_checkpoint(path):
    """A real torch.save of a state dict: the tiny CLIP's own weights."""
    import torch
    from safetensors.torch import load_file

    state = load_file(str(TINY_CLIP / "open_clip_model.safetensors"))
    state["extra.half"] = torch.zeros(3, dtype=torch.float16)
    state["extra.long"] = torch.arange(4)
    torch.save(state, path)
    return path


def _torch_refuses(path) -> bool:
    import torch

    try:
        torch.load(path, weights_only=True, map_location="cpu")
    except Exception:  # noqa: BLE001 - any refusal counts; success is what must not happen
        return True
    return False


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_a_crafted_pickle_is_refused_at_import_as_at_load(tmp_path, name):
    pt = tmp_path / f"{name}.pt"
    pt.write_bytes(_torch_zip(CRAFTED[name]))
    with pytest.raises(ModelError, match="refused"):
        ModelStore().import_path(pt, "images", architecture="ViT-B-32")
    assert ModelStore().list() == []
    assert _torch_refuses(pt), "torch's weights_only load refuses it too"


def test_a_zip_polyglot_whose_front_is_a_pickle_is_refused(tmp_path):
    """torch reads a file that does not start with a zip header as a legacy pickle; zipfile reads the tail."""
    good = _plain_checkpoint(tmp_path / "good.pt").read_bytes()
    evil = b"\x80\x02cbuiltins\nprint\n" + _u("pwned") + b"\x85R."
    poly = tmp_path / "poly.pt"
    poly.write_bytes(evil + good)
    assert zipfile.is_zipfile(poly), "to zipfile it is the good checkpoint"
    with pytest.raises(ModelError, match="refused"):
        check_pickle_is_plain(poly)
    assert _torch_refuses(poly)


def test_a_zip_with_two_pickles_of_one_name_is_refused(tmp_path):
    """Readers differ on which of two same-named members wins: the benign one must not vouch for the other."""
    good = _plain_checkpoint(tmp_path / "good.pt")
    with zipfile.ZipFile(good) as zf:
        members = [(i.filename, zf.read(i)) for i in zf.infolist()]
    dup = tmp_path / "dup.pt"
    with warnings.catch_warnings(), zipfile.ZipFile(dup, "w") as zf:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name; that is the point
        for filename, data in members:
            if filename.endswith("data.pkl"):
                zf.writestr(filename, b"\x80\x02cbuiltins\nprint\n" + _u("pwned") + b"\x85R.")
            zf.writestr(filename, data)
    with pytest.raises(ModelError, match="two files of one name"):
        check_pickle_is_plain(dup)


@pytest.mark.slow
def test_a_real_plain_checkpoint_is_accepted_and_loads(tmp_path):
    import torch

    pt = _plain_checkpoint(tmp_path / "tiny-clip.pt")
    check_pickle_is_plain(pt)
    entry = ModelStore().import_path(pt, "images", "tiny-clip-pt", architecture="ViT-B-32")
    assert entry.format == "open_clip"
    state = torch.load(ModelStore().path_of(entry), weights_only=True, map_location="cpu")
    assert state["extra.long"].tolist() == [0, 1, 2, 3], "import and load agree: it loads"


def test_a_saved_parameter_and_nested_dicts_are_plain(tmp_path):
    import torch

    pt = tmp_path / "nested.pt"
    torch.save({"state_dict": {"w": torch.nn.Parameter(torch.ones(2))}, "epoch": 3, "names": ["a", "b"],
                "size": torch.Size([2, 3])}, pt)
    check_pickle_is_plain(pt)
    assert not _torch_refuses(pt)


def test_pickle_protocol_details_are_not_trusted(tmp_path):
    """A memo slot read before it was written is a corrupt file, not a crash."""
    pt = tmp_path / "bad-memo.pt"
    pt.write_bytes(_torch_zip(b"\x80\x02h\x05."))
    with pytest.raises(ModelError, match="corrupt"):
        check_pickle_is_plain(pt)


def _set_method(src, dst, method: int):
    """A copy of a torch zip whose data.pkl claims another compression method (local and central headers)."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("data.pkl"))
    assert data[info.header_offset:info.header_offset + 4] == b"PK\x03\x04"
    data[info.header_offset + 8:info.header_offset + 10] = method.to_bytes(2, "little")
    name = info.filename.encode()
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        n = int.from_bytes(data[at + 28:at + 30], "little")
        if data[at + 46:at + 46 + n] == name:
            data[at + 10:at + 12] = method.to_bytes(2, "little")
            break
        at = data.find(b"PK\x01\x02", at + 4)
    assert at >= 0
    dst.write_bytes(bytes(data))
    return dst


def _clip_folder(folder, weights_name: str, weights: bytes, extra: dict | None = None):
    """The tiny CLIP's config beside the given weights file (and any other files)."""
    import shutil

    folder.mkdir()
    shutil.copy(TINY_CLIP / "open_clip_config.json", folder)
    (folder / weights_name).write_bytes(weights)
    for name, data in (extra or {}).items():
        (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize("method", [99, zipfile.ZIP_LZMA])
def test_a_checkpoint_packed_with_a_method_torch_cannot_read_is_refused_in_words(tmp_path, method):
    from app.core.images.encoder import ImageEncoder

    good = _plain_checkpoint(tmp_path / "good.pt")
    odd = tmp_path / "odd.pt"
    if method == 99:  # a method no reader knows
        _set_method(good, odd, method)
    else:  # one Python reads and torch does not
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(odd, "w", zipfile.ZIP_LZMA) as dst:
            for info in src.infolist():
                dst.writestr(info.filename, src.read(info))
    assert _torch_refuses(odd)
    with pytest.raises(ModelError, match=f"compression method torch cannot read \\(method {method}\\)"):
        ModelStore().import_path(odd, "images", architecture="ViT-B-32")
    folder = _clip_folder(tmp_path / "folder", "open_clip_pytorch_model.bin", odd.read_bytes())
    with pytest.raises(ModelError, match="compression method torch cannot read") as opened:
        ImageEncoder(folder)  # opening a model already in the store checks it too, before torch reads it
    assert "Error" not in str(opened.value)


def test_the_weights_checked_in_a_folder_are_the_weights_open_clip_loads(tmp_path):
    """model.safetensors was checked while open_clip loaded open_clip_pytorch_model.pth beside it."""
    from app.core.images.encoder import ImageEncoder

    evil = _torch_zip(b"\x80\x02cbuiltins\nprint\n" + _u("pwned") + b"\x85R.")
    folder = _clip_folder(tmp_path / "clip", "model.safetensors", (TINY_CLIP / "open_clip_model.safetensors")
                          .read_bytes(), {"open_clip_pytorch_model.pth": evil})
    with pytest.raises(ModelError, match="open_clip_pytorch_model.pth.*refused"):
        ModelStore().import_path(folder, "images", "two-weights")
    with pytest.raises(ModelError, match="open_clip_pytorch_model.pth.*refused"):
        ImageEncoder(folder)


@pytest.mark.parametrize("names", [
    ["model.safetensors", "open_clip_pytorch_model.pth"],
    ["open_clip_model.safetensors", "open_clip_pytorch_model.bin", "model.pth"],
    ["pytorch_model.bin", "model.pth", "weights.safetensors"],
    ["b.pth", "a.bin", "z.safetensors", "c.safetensors"],
    ["b.pth", "a.bin"],
    ["notes.txt"],
])
def test_hearth_picks_the_weights_file_open_clip_picks(tmp_path, names):
    from pathlib import Path

    from open_clip.factory import _find_checkpoint_in_dir

    from app.core.models.validate import clip_folder_weights

    for name in names:
        (tmp_path / name).write_bytes(b"x")
    theirs = _find_checkpoint_in_dir(tmp_path)
    assert clip_folder_weights(tmp_path) == (Path(theirs) if theirs else None)
