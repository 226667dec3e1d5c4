"""A vision model's projector (mmproj GGUF): recognised by its header and checked against its model.

llama.cpp's converter writes a projector as a GGUF with ``general.architecture`` "clip"
(``general.type`` "mmproj") and ``clip.vision.projection_dim`` set to the text model's
embedding size; a pair that disagrees would only fail inside libmtmd, so it is refused here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.jobs import ModelError
from app.core.models.gguf_header import GGUFInfo, read_gguf


@dataclass(frozen=True)
class ProjectorInfo:
    projector_type: str  # clip.projector_type: gemma3, qwen2.5vl, idefics3, internvl, ...
    embedding: int  # the text model embedding size its output has
    image_size: int  # the side, in pixels, its encoder takes (0: unknown)


def is_projector(info: GGUFInfo) -> bool:
    return info.architecture == "clip" or info.metadata.get("general.type") == "mmproj"


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def projector_info(path: Path) -> ProjectorInfo:
    """The header of a projector file, or a ModelError that says why it is not one."""
    path = Path(path)
    info = read_gguf(path)
    if not is_projector(info):
        arch = info.architecture or "no architecture"
        raise ModelError(f"{path.name} is not a vision projector (mmproj): its GGUF is a {arch} model")
    if path.stat().st_size < info.data_end:
        raise ModelError(f"{path.name} is truncated: {path.stat().st_size} of at least {info.data_end} bytes")
    if info.metadata.get("clip.has_vision_encoder") is not True:
        raise ModelError(f"{path.name} is a projector without a vision encoder (audio only); Hearth's chat "
                         "takes pictures")
    embedding = _int(info.metadata.get("clip.vision.projection_dim"))
    if not embedding:
        raise ModelError(f"{path.name}: the projector does not say its embedding size (clip.vision.projection_dim)")
    return ProjectorInfo(str(info.metadata.get("clip.projector_type", "")), embedding,
                         _int(info.metadata.get("clip.vision.image_size")))


def check_pair(model: Path, projector: Path) -> ProjectorInfo:
    """Refuses a projector that is not one, or whose embedding size is not the model's."""
    model_info = read_gguf(model)
    if is_projector(model_info):
        raise ModelError(f"{Path(model).name} is a projector, not a chat model; give it with --projector")
    proj = projector_info(projector)
    n_embd = _int(model_info.arch_value("embedding_length"))
    if n_embd and n_embd != proj.embedding:
        raise ModelError(
            f"{Path(projector).name} does not fit {Path(model).name}: the projector's embedding size is "
            f"{proj.embedding} but the model's is {n_embd} (a projector from another model)"
        )
    return proj


def split_pair(paths: list[str]) -> tuple[str, str]:
    """One picked file, or a chat GGUF and its projector picked together: (model, projector or "")."""
    if len(paths) <= 1:
        return (paths[0] if paths else ""), ""
    if len(paths) != 2 or not all(str(p).lower().endswith(".gguf") for p in paths):
        raise ModelError("pick one model file, or a chat .gguf and its projector (mmproj .gguf) together")
    flags = [is_projector(read_gguf(Path(p))) for p in paths]
    if flags.count(True) != 1:
        raise ModelError("of the two files, exactly one must be a projector (mmproj); "
                         + ("both are" if all(flags) else "neither is"))
    return (paths[1], paths[0]) if flags[0] else (paths[0], paths[1])


def fitting_vision_models(hardware=None, entries=None) -> list:
    """Catalog vision models, those that fit this computer first, smallest first (hardware None: by size)."""
    from app.core.models.catalog import load_catalog
    from app.core.models.fit import estimate_entry_fit

    vision = sorted((e for e in (entries if entries is not None else load_catalog()) if e.sees),
                    key=lambda e: e.size)
    if hardware is None:
        return vision
    return [e for e in vision if estimate_entry_fit(e, hardware).verdict in ("gpu", "partial", "ram")]


def cannot_see_reason(model_name: str, hardware=None) -> str:
    """What the chat says when the chosen model is text-only, with the vision models worth getting."""
    names = [e.name for e in fitting_vision_models(hardware)[:3]]
    hint = (f" Vision models that fit this computer: {', '.join(names)} (Models page)." if names
            else " No vision model in the catalog fits this computer.")
    return f"{model_name} cannot see pictures: it is a text-only model.{hint}"
