"""Every model the user can see, one row each: the catalog, what is installed, what is downloading.

The Models page's tables and `models list --available` both render these rows, so the two never
disagree on a size, a fit verdict or a state. Plain data: no Qt, no printing.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.models.kinds import KINDS

ROW_STATES = ("installed", "available", "queued", "running", "paused", "failed", "offline")


@dataclass(frozen=True)
class ModelRow:
    id: str
    kind: str
    name: str
    size: int  # bytes; 0 while not known (a download from a URL)
    licence: str  # "—" when not known
    state: str  # one of ROW_STATES
    note: str = ""  # "unverified", "imported", a download's message
    in_catalog: bool = True
    installed: bool = False
    verified: bool = False
    sees: bool = False  # a chat model that reads pictures
    download_url: str = ""  # a "Download from URL" row: the URL it retries
    fit: str = ""  # "gpu" | "partial" | "ram" | "too_large"; "" when not estimated
    fit_message: str = ""
    speed: str = ""  # "~18 tokens/s"; "" when not estimated
    speed_how: str = ""  # how the speed was estimated
    speed_measured: bool = False  # this model's own runs here (else the speed is estimated)
    comfortable: bool = True  # fast enough to be pleasant here
    recommended: bool = False  # the largest of its kind that fits and runs comfortably here
    tools: bool = False  # calls tools well (the catalog says so)
    description: str = ""  # the catalog's one line; "" outside the catalog
    parameters: str = ""  # "7B"
    quantization: str = ""  # "Q4_K_M"
    context: int = 0  # tokens; 0 when not known
    languages: tuple[str, ...] = ()

    @property
    def fit_text(self) -> str:
        """One line: "fits in RAM · ~18 tokens/s (slow here) · recommended here"."""
        text = self.fit_message
        if self.speed:
            text += f" · {self.speed} {'measured' if self.speed_measured else 'estimated'}"
            text += "" if self.comfortable else " (slow here)"
        return text + (" · recommended here" if self.recommended else "")

    def as_json(self) -> dict:
        return {
            "id": self.id, "kind": self.kind, "name": self.name, "size": self.size, "licence": self.licence,
            "state": self.state, "note": self.note, "catalog": self.in_catalog, "installed": self.installed,
            "verified": self.verified, "sees": self.sees, "fit": self.fit, "fit_message": self.fit_message,
            "speed": self.speed, "speed_how": self.speed_how, "speed_measured": self.speed_measured,
            "comfortable": self.comfortable, "recommended": self.recommended, "download_url": self.download_url,
            "tools": self.tools, "description": self.description, "parameters": self.parameters,
            "quantization": self.quantization, "context": self.context, "languages": list(self.languages),
        }

    @property
    def fits(self) -> bool:
        return self.fit in ("gpu", "partial", "ram")


def matches(row: ModelRow, text: str = "", kind: str = "", fits: bool = False, sees: bool = False,
            tools: bool = False, installed: bool = False) -> bool:
    """The Models page's search and filters: every word of ``text`` in the row's name, id,
    description, size class or quantisation; ``kind`` "" for all; each flag narrows."""
    if kind and row.kind != kind:
        return False
    if (fits and not row.fits) or (sees and not row.sees) or (tools and not row.tools) \
            or (installed and not row.installed):
        return False
    hay = " ".join((row.name, row.id, row.description, row.parameters, row.quantization, row.kind)).lower()
    return all(word in hay for word in text.lower().split())


def _estimates(entry, hardware) -> dict:
    """The fit verdict and, for a model that fits, its speed here."""
    from app.core.models import speed
    from app.core.models.fit import estimate_entry_fit

    if hardware is None:
        return {}
    fit = estimate_entry_fit(entry, hardware)
    out: dict[str, object] = {"fit": fit.verdict, "fit_message": fit.message}
    if fit.verdict != "too_large" and entry.kind in speed.COMFORTABLE:  # no speed measure for embedding yet
        estimate = speed.estimate(entry.kind, entry.size, hardware, fit, entry.id, getattr(entry, "quantization", ""))
        out |= {"speed": estimate.text(), "speed_how": estimate.how, "comfortable": estimate.comfortable,
                "speed_measured": estimate.measured}
    return out


def _is_base(model_id: str) -> bool:
    from app.core.models.starter import is_base_model

    return is_base_model(model_id)


def build_rows(catalog, installed, downloads, hardware=None, kind: str | None = None) -> list[ModelRow]:
    """``catalog``: catalog entries; ``installed``: store entries; ``downloads``: queued downloads;
    ``hardware``: a HardwareReport, or None (no fit or speed yet). Per kind: the catalog in its order,
    then URL downloads not in it, then installed models not in it."""
    from app.core.models import speed

    have = {e.id: e for e in installed}
    states = {d.model_id: d for d in downloads}
    best = set()
    if hardware is not None:
        best = {b.id for k in KINDS if (b := speed.recommend(catalog, hardware, k))}
    rows: list[ModelRow] = []
    for k in (kind,) if kind else KINDS:
        known: set[str] = set()
        for c in (e for e in catalog if e.kind == k):
            state, note, url = "available", "", ""
            mine = have.get(c.id)
            if mine is not None:
                state, note = "installed", "" if mine.verified else "unverified"
            elif c.id in states:
                state, note, url = states[c.id].state, states[c.id].error, states[c.id].url
            rows.append(ModelRow(c.id, k, c.name, c.size, c.licence, state, note, installed=mine is not None,
                                 verified=bool(mine and mine.verified), sees=c.sees, download_url=url,
                                 recommended=c.id in best, tools=c.tools, description=c.description,
                                 parameters=c.parameters, quantization=c.quantization, context=c.context,
                                 languages=c.languages, **_estimates(c, hardware)))
            known.add(c.id)
        for d in states.values():  # "Download from URL": shown while queued or failed
            if d.kind == k and d.model_id not in known and d.model_id not in have:
                rows.append(ModelRow(d.model_id, k, d.model_id, 0, "—", d.state, d.error, in_catalog=False,
                                     download_url=d.url))
                known.add(d.model_id)
        for e in have.values():
            if e.kind == k and e.id not in known:
                # A chat model's fit and speed follow from its size, as a catalog entry's do.
                est = _estimates(e, hardware) if k == "chat" else {}
                # The offline starter is a base model: said wherever it is chosen (#24.1).
                said = ("A base model: it continues text rather than answering; the catalog's instruct "
                        "models answer" if _is_base(e.id) else "")
                rows.append(ModelRow(e.id, k, e.id, e.size, "—", "installed",
                                     "imported" if e.verified else "unverified", in_catalog=False,
                                     installed=True, verified=e.verified, sees=e.sees, description=said, **est))
    return rows


def load_rows(hardware=None, kind: str | None = None, catalog=None) -> list[ModelRow]:
    """The rows from the catalog file, the store and the download queue on disk.
    Raises HearthError when the store cannot be read; a bad catalog raises too unless given."""
    from app.core.models.catalog import load_catalog
    from app.core.models.queue import DownloadQueue
    from app.core.models.store import ModelStore

    installed = ModelStore().list()
    return build_rows(load_catalog() if catalog is None else catalog, installed, DownloadQueue().items(),
                      hardware, kind)



ASK_WHAT = "Ask Hearth (the chat that searches your photos, documents and recordings)"


def ask_advice(catalog, installed_ids, hardware) -> str:
    """Which chat model to pick for Ask Hearth on this computer, among those the catalog marks as calling
    tools well: the largest that runs comfortably here, else the fastest that fits (with its speed said);
    "" before the hardware is known."""
    from app.core.models import speed
    from app.core.models.fit import estimate_entry_fit
    from app.core.models.sizes import human_size

    if hardware is None:
        return ""
    have = [e.name for e in catalog if e.kind == "chat" and e.tools and e.id in installed_ids]
    also = f" Installed and calling tools: {', '.join(have)}." if have else ""
    best = speed.recommend(catalog, hardware, "chat", tools=True)
    why = "the largest model that calls tools well and runs comfortably on this computer"
    if best is None:  # a slow machine: the smallest that fits is the fastest, said as slow
        fits = [e for e in catalog if e.kind == "chat" and e.tools and not e.sees
                and estimate_entry_fit(e, hardware).verdict != "too_large" and e.size <= hardware.ram_bytes * 0.35]
        if not fits:
            return f"For {ASK_WHAT}, pick a model marked \"Calls tools\"; none of them fits this computer.{also}"
        best = min(fits, key=lambda e: e.size)
        estimate = speed.estimate("chat", best.size, hardware, estimate_entry_fit(best, hardware), best.id,
                                  best.quantization)
        why = f"the fastest model that calls tools well here, though slow ({estimate.text()})"
    if best.id in installed_ids:
        return f"For {ASK_WHAT}, use {best.name}, installed: {why}."
    return f"For {ASK_WHAT}, pick {best.name} ({human_size(best.size)}): {why}.{also}"
