"""When a step happens, as runbooks write it: T-offsets in every dress, clock times, durations.

>>> [(o.at, o.duration) for o in lead_offsets("T+15, T+30, T+45: check dashboards", unit=60.0)[0]]
[(900.0, None), (1800.0, None), (2700.0, None)]
>>> o = find_offset("Hypercare (T+1 to T+7 days)"); (o.at, o.duration)
(86400.0, 518400.0)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

SECONDS_PER_UNIT = {
    **dict.fromkeys(("ms", "msec", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 604800.0),
}
_UNIT = "|".join(sorted(SECONDS_PER_UNIT, key=len, reverse=True))
_AMOUNT = rf"\d+(?:\.\d+)?\s*(?:{_UNIT})(?![A-Za-z])"
_AMOUNT_PARTS = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[A-Za-z]+)")
_NUMBER_ONLY = r"\d+(?:\.\d+)?(?![\w.]|:\d)"

# One offset. T: T-30m, T+1h30m, T-00:15, T-30 (unit from context), T0, T=0, T-0; D: D-1 (days);
# H: H-2 (hours); L: L-24h (launch; hours when bare).
_ONE = (
    r"(?<![\w/.-])(?:"
    rf"(?P<letter>T|(?-i:[LDH]))(?:\s*0)?\s*(?P<sign>[+-])\s*"
    rf"(?:(?P<clock>\d{{1,3}}:[0-5]\d(?::[0-5]\d)?)(?!\d|:\d)|(?P<amounts>{_AMOUNT}(?:\s*{_AMOUNT})*)|(?P<bare>{_NUMBER_ONLY}))"
    r"|T\s*=\s*0(?![\w.]|:\d)|T[-+]?0(?![\w.]|:\d)|(?P<zero>(?-i:[DH]))-?(?:Day|Hour|0)(?![\w])"
    r")"
)
_OFFSET_ONE = re.compile(_ONE, re.I)
_RANGE_SEPARATOR = r"\s*(?:to|until|till|through|thru|–|—|-|\.\.|→|->)\s*"
_RANGE = re.compile(
    rf"(?P<a>{_ONE.replace('?P<', '?P<a_')}){_RANGE_SEPARATOR}(?P<b>{_ONE.replace('?P<', '?P<b_')})", re.I
)
_LIST_SEPARATOR = re.compile(r"\s*(?:,|/|&|\band\b)\s*")
_NORMALISE_SIGN = re.compile(r"(?<![\w])([TLDH])\s*[−–—]\s*(?=\d)")
_UNIT_WORD = re.compile(
    r"(?i)\((?:in\s+)?(?P<a>minutes?|mins?|hours?|hrs?|days?|weeks?)\)|\bin\s+(?P<b>minutes|hours|days)\b"
    r"|\b(?P<c>minute|hour|day)[\s-]by[\s-]\1\b|\b(?P<d>minutes?|hours?|days?)\s+(?:before|after|relative to|from)\s+(?:T0|T-0|go[\s-]?live|launch|cutover)"
    r"|\(\s*\d+\s*(?P<e>minutes?|mins?|hours?|hrs?)\s*\)"
)

_CLOCK_TIME = re.compile(
    r"(?<![\w:+-])(?P<h>[01]?\d|2[0-3])(?:[:.h](?P<m>[0-5]\d))?\s*(?P<ampm>[ap]\.?m\.?)?(?!\w|:\d)"
    r"(?:\s*(?P<tz>UTC|GMT|Z|[A-Z]{2,4}T|IST|WAT|EAT|CAT|SAST|[A-Z][a-z]+/[A-Za-z_]+)(?![\w]))?"
)
_CLOCK_RANGE = re.compile(
    rf"(?P<a>{_CLOCK_TIME.pattern.replace('?P<', '?P<a_')})\s*(?:–|—|-|to|until)\s*(?P<b>{_CLOCK_TIME.pattern.replace('?P<', '?P<b_')})"
)
_DAY = re.compile(
    r"(?i)^(?:day|d)\s*(?P<sign>[+-−]?)\s*(?P<a>\d{1,3})(?:\s*(?:-|–|to)\s*(?:day\s*)?(?P<b>\d{1,3}))?(?P<plus>\+)?(?!\w|:\d)"
)
_WEEK = re.compile(
    r"(?i)^(?P<kind>week|month)\s*(?P<a>\d{1,2})(?:\s*(?:-|–|to)\s*(?P<b>\d{1,2}))?(?P<plus>\+)?(?!\w|:\d)"
)
_ZERO_DAY = re.compile(
    r"(?i)^(?:the\s+)?(?:(?:go[\s-]?live|launch|cut[\s-]?over|release|migration|switch[\s-]?over)\s+day|D[\s-]?Day|day\s+(?:zero|0)|day\s+of\s+(?:go[\s-]?live|launch|cutover))(?:\s*[(:].*)?$"
)

TIMEZONES = {
    "UTC": "UTC",
    "GMT": "UTC",
    "Z": "UTC",
    "WAT": "Africa/Lagos",
    "CET": "Europe/Paris",
    "CEST": "Europe/Paris",
    "BST": "Europe/London",
    "EET": "Europe/Athens",
    "EEST": "Europe/Athens",
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "ET": "America/New_York",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "CT": "America/Chicago",
    "MST": "America/Denver",
    "MDT": "America/Denver",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "PT": "America/Los_Angeles",
    "IST": "Asia/Kolkata",
    "SGT": "Asia/Singapore",
    "JST": "Asia/Tokyo",
    "KST": "Asia/Seoul",
    "HKT": "Asia/Hong_Kong",
    "AEST": "Australia/Sydney",
    "AEDT": "Australia/Sydney",
    "NZST": "Pacific/Auckland",
    "NZDT": "Pacific/Auckland",
    "EAT": "Africa/Nairobi",
    "CAT": "Africa/Maputo",
    "SAST": "Africa/Johannesburg",
    "BRT": "America/Sao_Paulo",
    "GST": "Asia/Dubai",
}
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE = re.compile(
    rf"(?i)\b(?:(?P<y>20\d\d)-(?P<mo>[01]\d)-(?P<d>[0-3]\d)|(?P<d2>[0-3]?\d)(?:st|nd|rd|th)?\s+(?P<mon>{_MONTH})\.?,?\s+(?P<y2>20\d\d)"
    rf"|(?P<mon3>{_MONTH})\.?\s+(?P<d3>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<y3>20\d\d))\b"
)
_GO_LIVE = re.compile(
    r"(?i)^[\s>*_|-]*(?:\*\*|__)?\s*(?:planned\s+|target\s+|scheduled\s+)?(?:go[\s-]?live|launch|cut[\s-]?over|T0|T-0|T\s*=\s*0|"
    r"switch[\s-]?over|release|maintenance window|change window|migration window|deployment window)"
    r"(?:\s+(?:date|time|window|start|date/time|date\s*(?:&|and)\s*time|at|is))*\s*(?:\*\*|__)?\s*[:=|]"
)
_UTC_OFFSET = re.compile(r"(?:UTC|GMT)\s*(?P<sign>[+-])\s*(?P<h>\d{1,2})(?::?(?P<m>\d\d))?")


@dataclass(frozen=True, slots=True)
class Offset:
    """An offset found in text: seconds from T0 (None: the unit is unknown), a duration, and where it was."""

    at: float | None
    duration: float | None
    start: int
    end: int
    raw: str


@dataclass(frozen=True, slots=True)
class GoLive:
    """A stated go-live: T0 as an aware datetime and the zone's IANA name."""

    t0: datetime
    zone: str
    line: int
    zone_stated: bool


def normalise(text: str) -> str:
    """``T−1 day`` (minus sign), ``T–30`` (en dash) read as ``T-1 day``, ``T-30``."""
    return _NORMALISE_SIGN.sub(r"\1-", text)


def context_unit(text: str) -> float | None:
    """The unit a heading or note gives bare offsets: ``(minutes)``, ``in hours``, ``minute-by-minute``."""
    match = _UNIT_WORD.search(text)
    if match is None:
        return None
    word = next(group for group in match.groups() if group)
    return SECONDS_PER_UNIT[word.lower().rstrip("s") if word.lower().rstrip("s") in SECONDS_PER_UNIT else word.lower()]


def _seconds(groups: dict[str, str | None], prefix: str, unit: float | None) -> float | None:
    def get(name: str) -> str | None:
        return groups.get(prefix + name)

    if get("zero") is not None:
        return 0.0
    sign_text = get("sign")
    if sign_text is None:
        return 0.0  # T0, T=0, T-0
    sign = -1.0 if sign_text == "-" else 1.0
    letter = (get("letter") or "T").upper()
    if clock := get("clock"):
        hours, minutes, seconds = (clock + ":0").split(":")[:3]
        return sign * (int(hours) * 3600.0 + int(minutes) * 60.0 + int(seconds))
    if amounts := get("amounts"):
        return sign * sum(
            float(part["number"]) * SECONDS_PER_UNIT[part["unit"].lower()] for part in _AMOUNT_PARTS.finditer(amounts)
        )
    bare = get("bare")
    if bare is None:
        return None
    number = float(bare)
    if number == 0:
        return 0.0
    fixed = {"D": 86400.0, "H": 3600.0, "L": 3600.0}.get(letter)
    if fixed is not None:
        return sign * number * fixed
    return None if unit is None else sign * number * unit


def _unit_of(groups: dict[str, str | None], prefix: str) -> float | None:
    amounts = groups.get(prefix + "amounts")
    if not amounts:
        return None
    parts = list(_AMOUNT_PARTS.finditer(amounts))
    return SECONDS_PER_UNIT[parts[-1]["unit"].lower()] if len(parts) == 1 else None


def find_offsets(text: str, unit: float | None = None) -> list[Offset]:
    """Every offset and range in ``text``, in order; ``at`` is None where a bare number has no unit."""
    text = normalise(text)
    found: list[Offset] = []
    for match, is_range in _ranges_or_singles(text, _RANGE, _OFFSET_ONE):
        groups = match.groupdict()
        if is_range:
            b_unit = _unit_of(groups, "b_")
            start = _seconds(groups, "a_", b_unit if b_unit is not None else unit)
            end = _seconds(groups, "b_", unit)
            duration = end - start if start is not None and end is not None and end > start else None
            found.append(Offset(start, duration, match.start(), match.end(), match.group()))
        else:
            found.append(Offset(_seconds(groups, "", unit), None, match.start(), match.end(), match.group()))
    return found


def _ranges_or_singles(
    text: str,
    ranged: re.Pattern[str],
    single: re.Pattern[str],
    whole: Callable[[re.Match[str]], bool] = lambda match: True,
) -> Iterator[tuple[re.Match[str], bool]]:
    """Each match of ``single`` in ``text``, left to right, with False; or the match of ``ranged``, with True.

    The range is taken where it starts at the same place as the single and ``whole`` accepts it; each
    search starts where the last match ended.
    """
    position = 0
    while (one := single.search(text, position)) is not None:
        both = ranged.search(text, position)
        if both is not None and both.start() == one.start() and whole(both):
            yield both, True
            position = both.end()
        else:
            yield one, False
            position = one.end()


def find_offset(text: str, unit: float | None = None) -> Offset | None:
    """The first resolved offset in ``text`` (a bare ``T-30`` counts only with a ``unit``)."""
    return next((offset for offset in find_offsets(text, unit) if offset.at is not None), None)


_LEAD_NOISE = re.compile(r"^[\s*_`~\[(【]*(?:(?:step\s*)?\d{1,3}(?:\.\d+)*[.):]?\s+)?[\s*_`~\[(]*")


def lead_offsets(text: str, unit: float | None = None) -> tuple[list[Offset], str]:
    """Offsets leading ``text`` (``T+15, T+30: check``, ``**T-45 mins**: deploy``) and the rest, the title.

    A single offset closing the text (``Final rehearsal (T-24h)``) counts too; an
    offset inside a sentence, or after "by", "due", "at", "e.g.", does not.
    """
    text = normalise(text)
    noise = _LEAD_NOISE.match(text)
    position = noise.end() if noise else 0
    offsets = [o for o in find_offsets(text, unit)]
    lead: list[Offset] = []
    for offset in offsets:
        between = text[position : offset.start]
        if (lead and _LIST_SEPARATOR.fullmatch(between)) or (not lead and not re.search(r"[\w]", between)):
            lead.append(offset)
            position = offset.end
        else:
            break
    if lead:
        rest = text[position:]
        if re.match(r"^[\s*_`)\]】]*(?:[:|–—\-.,)]|\s)", rest) or not rest.strip():
            return lead, _strip_edges(rest)
        return [], text
    if offsets:
        last = offsets[-1]
        after = text[last.end :]
        before = text[: last.start]
        if not re.search(r"\w", after.replace("**", "")) and not _REFERENCE_BEFORE.search(before):
            return [last], _strip_edges(before)
    return [], text


_REFERENCE_BEFORE = re.compile(
    r"(?i)(?:\b(?:by|due|at|before|after|until|till|from|since|within|around|e\.g\.?|eg|i\.e\.?|ie|like|send|sent|on|"
    r"no later than|deadline|starting|start|ends?|until|to|than|of|in)\s*[:(\[]?\s*|[=<>≤≥])$"
)


def _strip_edges(text: str) -> str:
    text = re.sub(r"^[\s*_`)\]】:|–—\-.,]+", "", text)
    text = re.sub(r"[\s*_`(\[【:|–—\-,]+$", "", text)
    return text.strip()


def day_offset(text: str, zero_based: bool) -> Offset | None:
    """``Day 1-2`` / ``Day -1`` / ``Week 2`` at the start of a cell or heading: days from go-live.

    With ``zero_based`` (the document says "Day 0") Day N is T+N days; else Day 1 is the go-live day.
    """
    stripped = text.strip().strip("*_ ")
    if match := _DAY.match(stripped):
        first = int(match["a"]) * (-1 if match["sign"] in ("-", "−") else 1)
        base = first if zero_based or first <= 0 else first - 1
        last = int(match["b"]) if match["b"] else None
        duration = None if last is None else (last - first + 1) * 86400.0
        return Offset(base * 86400.0, duration, 0, match.end(), match.group())
    if match := _WEEK.match(stripped):
        days = 7 if match["kind"].lower() == "week" else 30
        first = int(match["a"])
        last = int(match["b"]) if match["b"] else first
        duration = None if match["plus"] else (last - first + 1) * days * 86400.0
        return Offset((first - 1) * days * 86400.0, duration, 0, match.end(), match.group())
    return None


def is_zero_day(text: str) -> bool:
    """``Go-Live Day``, ``Launch day``, ``D-Day``: the day of T0."""
    return bool(_ZERO_DAY.match(text.strip()))


def clock_times(text: str) -> list[tuple[int, int, str | None, int, int, tuple[int, int] | None]]:
    """Clock times in ``text``: (hour, minute, zone, start, end, end time of a range or None)."""
    found: list[tuple[int, int, str | None, int, int, tuple[int, int] | None]] = []
    for match, is_range in _ranges_or_singles(text, _CLOCK_RANGE, _CLOCK_TIME, _both_clocks):
        if is_range:
            a = _hour_minute(match, "a_")
            b = _hour_minute(match, "b_")
            zone = match["b_tz"] or match["a_tz"]
            found.append((*a, zone, match.start(), match.end(), b))
        elif _is_clock(match, ""):
            found.append((*_hour_minute(match, ""), match["tz"], match.start(), match.end(), None))
    return found


def _is_clock(match: re.Match[str], prefix: str) -> bool:
    return bool(match[prefix + "m"] or match[prefix + "ampm"])


def _both_clocks(ranged: re.Match[str]) -> bool:
    return _is_clock(ranged, "a_") and _is_clock(ranged, "b_")


def _hour_minute(match: re.Match[str], prefix: str) -> tuple[int, int]:
    hour = int(match[prefix + "h"])
    minute = int(match[prefix + "m"] or 0)
    ampm = (match[prefix + "ampm"] or "").replace(".", "").lower()
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    return hour, minute


def lead_clock(text: str) -> tuple[tuple[int, int, str | None, tuple[int, int] | None], str] | None:
    """A clock time (or range) leading ``text``: ``06:00 War room opens``, ``**9am WAT**: launch``."""
    noise = re.match(r"^[\s*_`\[(]*", text)
    start = noise.end() if noise else 0
    times = clock_times(text)
    if not times or times[0][3] != start:
        return None
    hour, minute, zone, _, end, until = times[0]
    rest = text[end:]
    if rest and not re.match(r"^[\s*_`)\]]*(?:[:|–—\-.,)]|\s|$)", rest):
        return None
    return (hour, minute, zone, until), _strip_edges(rest)


def zone_name(abbreviation: str | None) -> str | None:
    if not abbreviation:
        return None
    if "/" in abbreviation:
        try:
            ZoneInfo(abbreviation)
        except (KeyError, ValueError, OSError):
            return None
        return abbreviation
    return TIMEZONES.get(abbreviation.upper())


def find_go_live(text: str, line: int) -> GoLive | None:
    """``Go-Live: 2026-02-01 00:00 UTC`` (and its like): T0 and the zone, when the line states a date."""
    if not _GO_LIVE.search(text):
        return None
    date_match = _DATE.search(text)
    if date_match is None:
        return None
    groups = date_match.groupdict()
    if groups["y"]:
        day = date(int(groups["y"]), int(groups["mo"]), int(groups["d"]))
    elif groups["y2"]:
        day = date(int(groups["y2"]), _MONTHS[groups["mon"].lower()], int(groups["d2"]))
    else:
        day = date(int(groups["y3"]), _MONTHS[groups["mon3"].lower()], int(groups["d3"]))
    rest = text[date_match.end() :] + " " + text[: date_match.start()]
    rest = re.sub(r"^T(?=\d)", " ", rest)
    times = clock_times(rest)
    hour, minute = (times[0][0], times[0][1]) if times else (0, 0)
    zone: str | None = None
    stated = True
    offset_match = _UTC_OFFSET.search(text)
    for candidate in [t[2] for t in times] + re.findall(r"\b[A-Z]{2,5}\b|\b[A-Z][a-z]+/[A-Za-z_]+\b", text):
        zone = zone_name(candidate)
        if zone:
            break
    if zone is None and re.search(r"\d{2}(?::\d{2})?Z\b", text):
        zone = "UTC"
    if offset_match and zone in (None, "UTC"):
        sign = -1 if offset_match["sign"] == "-" else 1
        delta = timedelta(hours=int(offset_match["h"]), minutes=int(offset_match["m"] or 0))
        t0 = datetime.combine(day, time(hour, minute), tzinfo=timezone(sign * delta))
        return GoLive(t0, "UTC", line, True)
    if zone is None:
        zone, stated = "UTC", False
    t0 = datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone))
    return GoLive(t0, zone, line, stated)


def clock_offset(
    go_live: GoLive, hour: int, minute: int, zone: str | None, day: float | None, previous: float | None
) -> float:
    """Seconds from T0 of a clock time on the go-live's calendar.

    ``day`` (days from the go-live date, from a heading such as "D-1") fixes
    the date; else the first time of a section is the one nearest T0 and each
    next one is later than the one before (a schedule running past midnight).
    """
    tz = ZoneInfo(zone_name(zone) or go_live.zone) if (zone_name(zone) or go_live.zone) != "UTC" else timezone.utc
    base = go_live.t0.astimezone(tz)
    if day is not None:
        when = datetime.combine(base.date() + timedelta(days=round(day / 86400.0)), time(hour, minute), tzinfo=tz)
        return (when - go_live.t0).total_seconds()
    candidates = [
        datetime.combine(base.date() + timedelta(days=shift), time(hour, minute), tzinfo=tz) for shift in (-1, 0, 1)
    ]
    offsets = [(c - go_live.t0).total_seconds() for c in candidates]
    if previous is not None:
        later = [o for o in offsets if o >= previous]
        if later:
            return min(later)
    return min(offsets, key=abs)


_DURATION_FIELD = re.compile(
    r"(?i)^(?:\*\*|__)?\s*(?:duration|est(?:imated)?(?:\.|\s+time|\s+duration)?|expected\s+duration|target\s+time|time\s+(?:box|needed|required)|timebox|eta|length)"
    r"\s*(?:\*\*|__)?\s*[:=]?\s*(?:\*\*|__)?\s*(?P<value>.+)$"
)
_DURATION_VALUE = re.compile(
    rf"(?i)(?:~|≈|<|<=|≤|up to|about|approx\.?|approximately|under|max\.?)?\s*(?P<a>\d+(?:\.\d+)?)\s*"
    rf"(?:(?P<a_unit>{_UNIT})(?![A-Za-z])\s*)?(?:(?:-|–|—|to)\s*(?P<b>\d+(?:\.\d+)?)\s*)?(?P<unit>{_UNIT})?(?![A-Za-z])"
)
_TITLE_DURATION = re.compile(
    rf"(?i)[(\[]\s*(?:~|≈|est\.?|duration:?|approx\.?|<)?\s*(?P<a>\d+(?:\.\d+)?)\s*(?:-|–|—|to)?\s*(?P<b>\d+(?:\.\d+)?)?\s*(?P<unit>{_UNIT})\s*[)\]]"
)


def duration_field(text: str) -> float | None:
    """``Duration: 2 hours``, ``**Est.** 30-45 min``, ``Target time: < 2 minutes``: the upper bound in seconds."""
    match = _DURATION_FIELD.match(text.strip())
    if match is None:
        return None
    return duration_value(match["value"])


def duration_value(text: str) -> float | None:
    """``10–15 min`` -> 900.0 (the upper bound: the plan must hold the longer time)."""
    for match in _DURATION_VALUE.finditer(text):
        unit = match["unit"] or match["a_unit"]
        if unit:
            return float(match["b"] or match["a"]) * SECONDS_PER_UNIT[unit.lower()]
    return None


def title_duration(text: str) -> tuple[float, str] | None:
    """A duration in brackets in a title, ``Deploy (10–15 min)``: seconds and the title without it."""
    match = _TITLE_DURATION.search(text)
    if match is None:
        return None
    seconds = float(match["b"] or match["a"]) * SECONDS_PER_UNIT[match["unit"].lower()]
    return seconds, (text[: match.start()] + text[match.end() :]).strip()
