"""A photo's date taken in words, one way for every front end: "15 Aug 2023" on a row, "Taken 15 August
2023 at 10:00" spelt out. A date from the file's time (the picture holds none) is marked as such, since
a copy or an edit sets it, not the camera.

The wall clock is shown as the photo records it, not moved to this computer's zone: a photo taken at
10:00 in Tokyo says 10:00.
"""

from __future__ import annotations

from datetime import datetime

from app.core.images.filters import MONTHS

FILE_MARK = "(file date)"
FILE_NOTE = "by the file's time (the photo holds no date taken)"


def _parse(taken: str | None) -> tuple[datetime, bool] | None:
    """The date and whether the text had a time of day; None for no date or one that cannot be read."""
    if not taken or not isinstance(taken, str):
        return None
    try:
        return datetime.fromisoformat(taken.strip()), "T" in taken or " " in taken.strip()
    except ValueError:
        return None


def taken_label(taken: str | None, source: str | None = None) -> str:
    """"15 Aug 2023", or "15 Jan 2020 (file date)"; "" where there is no readable date."""
    parsed = _parse(taken)
    if parsed is None:
        return ""
    when = parsed[0]
    label = f"{when.day} {MONTHS[when.month - 1][:3].capitalize()} {when.year}"
    return f"{label} {FILE_MARK}" if source == "file" else label


def taken_sentence(taken: str | None, source: str | None = None) -> str:
    """"Taken 15 August 2023 at 10:00", or "Dated 15 January 2020 at 12:00 by the file's time (…)"."""
    parsed = _parse(taken)
    if parsed is None:
        return ""
    when, timed = parsed
    day = f"{when.day} {MONTHS[when.month - 1].capitalize()} {when.year}" + (f" at {when:%H:%M}" if timed else "")
    return f"Dated {day} {FILE_NOTE}" if source == "file" else f"Taken {day}"


def photo_words(taken: str | None, source: str | None = None, place: str | None = None) -> str:
    """A photo's when and where in full, for a tooltip or an accessible name: "Taken 15 August 2023 at
    10:00, in Lisbon, Portugal"; "No date taken" where it has none."""
    when = taken_sentence(taken, source) or "No date taken"
    return when + (f", in {place}" if place else "")
