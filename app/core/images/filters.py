"""Date and place filters for photo searches, and the words of a query line that say them.

`Filters` is what every front end passes down (the pane, `search query`, /v1/images/search, the chat's
photo tool): a range of days (both ends included) and a place name. `split_query` takes the words that
name a time or a place out of a query line ("the beach last August", "Lisbon 2023", "in Portugal"), so
that CLIP sees only what is in the picture.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from app.core.jobs import InputError

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
_ABBR = {m[:3]: i + 1 for i, m in enumerate(MONTHS)} | {m: i + 1 for i, m in enumerate(MONTHS)} | {"sept": 9}
FIRST_YEAR, LAST_YEAR = 1800, 2199  # as the query's words read years
SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11), "winter": (12, 2)}
SOUTH = {"spring": (9, 11), "summer": (12, 2), "autumn": (3, 5), "fall": (3, 5), "winter": (6, 8)}
# Where the user's locale names one of these countries, "summer" is December to February: the
# temperate south (Brazil's south and its cities keep these months too).
SOUTHERN = frozenset({"AU", "NZ", "AR", "CL", "UY", "PY", "ZA", "LS", "SZ", "NA", "BW", "BR", "FK"})
_SOUTHERN_NAMES = ("Australia", "New Zealand", "Argentina", "Chile", "Uruguay", "Paraguay", "South Africa",
                   "Lesotho", "Eswatini", "Swaziland", "Namibia", "Botswana", "Brazil", "Falkland")


@dataclass
class Filters:
    after: date | None = None  # taken on or after this day
    before: date | None = None  # taken on or before this day
    place: str | None = None  # a place, region or country name (any case, accents optional)

    @property
    def empty(self) -> bool:
        return self.after is None and self.before is None and not self.place

    def merged(self, other: Filters) -> Filters:
        """These filters, with other's filling what these leave open (the fields win over typed words)."""
        return Filters(self.after or other.after, self.before or other.before, self.place or other.place)


def parse_day(text: str, end: bool = False) -> date:
    """"2023", "2023-08" or "2023-08-15" as a day: the first of the span, or its last with end=True."""
    text = (text or "").strip()
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?", text)
    if not m:
        raise InputError(f"'{text[:40]}' is not a date: write it as 2023, 2023-08 or 2023-08-15")
    year, month, day = int(m[1]), int(m[2] or 0), int(m[3] or 0)
    if not FIRST_YEAR <= year <= LAST_YEAR:  # 9999-12-31 had no next day to search before: OverflowError
        raise InputError(f"'{text[:40]}' is not a date of a photo: the year is from {FIRST_YEAR} to {LAST_YEAR}")
    try:
        if m[3]:
            return date(year, month, day)
        if m[2]:
            first = date(year, month, 1)
            return _month_end(year, month) if end else first
        return date(year, 12, 31) if end else date(year, 1, 1)
    except ValueError:
        raise InputError(f"'{text[:40]}' is not a date: write it as 2023, 2023-08 or 2023-08-15") from None


def make_filters(after: str | None = None, before: str | None = None, place: str | None = None) -> Filters:
    """Filters from text fields (the CLI's flags, the API's arguments), checked: InputError says what is wrong."""
    f = Filters(parse_day(after) if after else None, parse_day(before, end=True) if before else None,
                (place or "").strip()[:100] or None)
    if f.after and f.before and f.after > f.before:
        raise InputError("the start date is after the end date")
    return f


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def _month(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), _month_end(year, month)


def southern(locale_name: str | None = None) -> bool:
    """Whether the user's locale (LC_ALL, LC_TIME or LANG, as "en_AU.UTF-8"; on Windows the system's, as
    "English_Australia") names a country of the southern hemisphere's seasons."""
    import os

    if locale_name is None:
        locale_name = next((os.environ[v] for v in ("LC_ALL", "LC_TIME", "LANG") if os.environ.get(v)), "")
        if not locale_name:
            import locale

            try:
                locale_name = locale.getlocale(locale.LC_TIME)[0] or locale.getlocale()[0] or ""
            except (ValueError, TypeError):  # an odd locale string
                locale_name = ""
    code = re.search(r"_([A-Za-z]{2})(?![A-Za-z])", locale_name)
    if code:
        return code[1].upper() in SOUTHERN
    return any(name.lower() in locale_name.lower() for name in _SOUTHERN_NAMES)


def _season(name: str, year: int, south: bool = False) -> tuple[date, date]:
    start, end = (SOUTH if south else SEASONS)[name]
    if start > end:  # December of that year to February of the next
        return date(year, start, 1), _month_end(year + 1, end)
    return date(year, start, 1), _month_end(year, end)


def _last_season(name: str, today: date, south: bool = False) -> tuple[date, date]:
    """The latest such season that has ended."""
    year = today.year
    while _season(name, year, south)[1] >= today:
        year -= 1
    return _season(name, year, south)


def _last_month(month: int, today: date) -> tuple[date, date]:
    year = today.year if month < today.month else today.year - 1
    return _month(year, month)


_YEAR = r"(1[89]\d\d|2[01]\d\d)"
_MONTH = r"(" + "|".join(sorted(_ABBR, key=len, reverse=True)) + r")\.?"
_SEASON = r"(" + "|".join(SEASONS) + r")"


def _dates(text: str, today: date, has_year: Callable[[int], bool] | None = None, south: bool = False
           ) -> tuple[str, tuple[date, date] | None]:
    """The first time phrase found (and taken out of the text), as a range of days. A bare year ("1984
    poster") is one only where has_year says the library has photos taken then: else it is words."""
    def year(m: _Lower) -> tuple[date, date]:
        if not m[0].startswith("in ") and has_year is not None and not has_year(int(m[1])):
            raise ValueError("a number, not a time: no photo was taken that year")
        return date(int(m[1]), 1, 1), date(int(m[1]), 12, 31)

    rules: list[tuple[str, Callable[[_Lower], tuple[date, date]]]] = [
        (rf"\b(?:in |during )?(?:the )?last {_SEASON}\b", lambda m: _last_season(m[1], today, south)),
        (rf"\b(?:in |during )?(?:the )?{_SEASON} (?:of )?{_YEAR}\b", lambda m: _season(m[1], int(m[2]), south)),
        (rf"\b(?:in )?last {_MONTH}\b", lambda m: _last_month(_ABBR[m[1]], today)),
        (rf"\b(?:in )?{_MONTH},? {_YEAR}\b", lambda m: _month(int(m[2]), _ABBR[m[1]])),
        (r"\b(?:in )?last year\b", lambda m: (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))),
        (r"\b(?:in )?this year\b", lambda m: (date(today.year, 1, 1), date(today.year, 12, 31))),
        (rf"\b(?:in )?{_YEAR}\b", year),
    ]
    for pattern, span in rules:
        m = re.search(pattern, text, re.IGNORECASE)
        if m:
            try:
                found = span(_Lower(m))
            except ValueError:
                continue
            return (text[: m.start()] + " " + text[m.end():]), found
    return text, None


class _Lower:
    """A match whose groups read in lower case (month and season names are keys)."""

    def __init__(self, m: re.Match):
        self.m = m

    def __getitem__(self, i: int) -> str:
        return (self.m[i] or "").lower()


def split_query(text: str, is_place: Callable[[str, bool], bool], today: date | None = None,
                has_year: Callable[[int], bool] | None = None, south: bool | None = None) -> tuple[str, Filters]:
    """(what is left for CLIP, the filters the words named). is_place(name, marked) says whether a name
    is a place: marked is True after "in"/"at" ("in Lisbon"); a bare name ("Lisbon 2023") should count
    only where it is surely one (a place in the library), since "nice" or "reading" are towns too.
    has_year(year), likewise, whether a bare year is a time ("1984 poster" is words where no photo is
    from 1984); None: every year is. south: seasons by the southern hemisphere's months ("summer" is
    December to February); None: as the user's locale says (southern())."""
    today = today or date.today()
    rest, span = _dates(text, today, has_year, southern() if south is None else south)
    place = None
    words = rest.split()
    for n in (3, 2, 1):  # "in X Y Z" first: "in New York City" before "in New"
        for i in range(len(words) - n + 1):
            name = " ".join(words[i: i + n]).strip(",.;")
            marked = i > 0 and words[i - 1].lower() in ("in", "at", "near")
            if name and not name.startswith(("+", "-")) and is_place(name, marked):
                place = name
                words = words[: i - 1 if marked else i] + words[i + n:]
                break
        if place:
            break
    f = Filters(span[0] if span else None, span[1] if span else None, place)
    return " ".join(w for w in words if w), f



def by_month(hits: list) -> list[tuple[str, list]]:
    """Hits grouped by the month they were taken, newest month first, each group in the order given;
    those with no date last. ("August 2023", [hits]) pairs: the timeline's headers and their photos."""
    groups: dict[str, list] = {}
    for h in hits:
        m = re.match(r"(\d{4})-(\d{2})", h.taken or "")
        key = m[0] if m and 1 <= int(m[2]) <= 12 else ""
        groups.setdefault(key, []).append(h)
    named = [(f"{MONTHS[int(k[5:]) - 1].capitalize()} {k[:4]}", groups[k]) for k in sorted(groups, reverse=True) if k]
    return named + ([("Date unknown", groups[""])] if "" in groups else [])
