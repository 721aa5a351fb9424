"""Setting T-0: now, a wall-clock time, an ISO 8601 instant, or an offset from now.

``parse_t0`` is the grammar (pure, no Textual): what the commander types and
the instant it means. ``SetT0Screen`` asks for it, shows the instant it will
log as it is typed, and refuses a bad entry with a reason on its error line.

>>> parse_t0("-5m", now, zone)          # doctest: +SKIP
datetime.datetime(2026, 12, 1, 16, 25, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from textual import on
from textual.app import ComposeResult
from textual.widgets import Button, Input, Static

from cutover_tui.labels import format_duration, format_wall_clock, to_zone
from cutover_tui.screens.dialog import DialogScreen, buttons, error_line, hint
from runbooks.grammar import parse_duration

#: What the dialog accepts, as its hint says it.
T0_EXAMPLES = "now, 16:30, 16:30:15, 2026-12-01T16:30+05:30, -5m, +10m"
_CLOCK = re.compile(r"(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?")
_RELATIVE = re.compile(r"(?P<sign>[+-])\s*(?P<duration>\S.*)")
#: A wall-clock time means its nearest occurrence to now: at most this far away.
HALF_DAY = timedelta(hours=12)


def parse_t0(text: str, now: datetime, zone: tzinfo | None) -> datetime:
    """The instant ``text`` names, in UTC.

    - ``now`` (or nothing): ``now``;
    - ``16:30`` / ``16:30:15``: that wall-clock time in ``zone`` (the runbook's,
      else the machine's), on the day that puts it nearest to now (``00:10``
      typed at 23:50 is twenty minutes ahead, not a day back);
    - an ISO 8601 instant (``2026-12-01T16:30:00+05:30``; without an offset,
      in ``zone``);
    - ``-5m`` / ``+1h30m``: that far before or after now (durations as in a runbook).

    Raises:
        ValueError: the text is none of these, said so a person can fix it.
    """
    entry = text.strip()
    if entry.lower() in ("", "now"):
        return now.astimezone(timezone.utc)
    relative = _RELATIVE.fullmatch(entry)
    if relative is not None:
        try:
            seconds = parse_duration(relative["duration"].strip())
        except ValueError:
            raise ValueError(f"{entry!r}: after {relative['sign']} write a duration such as 5m, 90s or 1h30m") from None
        sign = -1 if relative["sign"] == "-" else 1
        return (now + timedelta(seconds=sign * seconds)).astimezone(timezone.utc)
    clock = _CLOCK.fullmatch(entry)
    if clock is not None:
        wanted = time(int(clock["h"]), int(clock["m"]), int(clock["s"] or 0))
        local_now = to_zone(now, zone)
        candidates = [_at(local_now.date() + timedelta(days=shift), wanted, local_now.tzinfo) for shift in (-1, 0, 1)]
        return min(candidates, key=lambda moment: abs(moment - now)).astimezone(timezone.utc)
    if re.fullmatch(r"\d{1,2}:\d{1,2}(:\d{1,2})?", entry):
        raise ValueError(f"{entry!r} is not a time of day: hours 0–23, minutes and seconds 00–59")
    try:
        moment = datetime.fromisoformat(entry)
    except ValueError:
        raise ValueError(f"{entry!r} is not a time T-0 can be set to: try {T0_EXAMPLES}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or to_zone(now, None).tzinfo)
    return moment.astimezone(timezone.utc)


def _at(day: date, wanted: time, zone: tzinfo | None) -> datetime:
    """``wanted`` on ``day`` in ``zone``, as an aware instant."""
    return datetime.combine(day, wanted, tzinfo=zone)


def describe_t0(moment: datetime, now: datetime, zone: tzinfo | None) -> str:
    """``T-0 at 16:30:00 IST (in 4m12s)``: the instant a typed entry means, against now."""
    local = to_zone(moment, zone)
    today = to_zone(now, zone).date()
    day = "" if local.date() == today else f"{local:%Y-%m-%d} "
    seconds = (moment - now).total_seconds()
    if abs(seconds) < 1:
        relation = "now"
    elif seconds > 0:
        relation = f"in {format_duration(seconds)}"
    else:
        relation = f"{format_duration(seconds)} ago"
    return f"T-0 at {day}{format_wall_clock(moment, zone)} ({relation})"


class SetT0Screen(DialogScreen[datetime]):
    """Ask when T-0 is: dismisses with the instant (UTC), or None when cancelled.

    Args:
        clock: the session's clock: ``now`` and ``-5m`` are read against it when Enter is pressed.
        zone: the runbook's display zone (wall-clock times are read in it).
        current: the T-0 in force, when re-baselining.
    """

    DEFAULT_CSS = """
    SetT0Screen #t0-preview { color: $text-muted; }
    """

    def __init__(self, clock: Callable[[], datetime], zone: tzinfo | None, current: datetime | None = None) -> None:
        super().__init__("Re-baseline T-0" if current is not None else "Set T-0")
        self.clock = clock
        self.zone = zone
        self.current = current

    def compose_dialog(self) -> ComposeResult:
        if self.current is not None:
            yield Static(
                f"T-0 is {format_wall_clock(self.current, self.zone)}. Every planned time moves to the new T-0.",
                id="t0-current",
                markup=False,
            )
        yield Static("When is T-0? Left empty, it is now (when Enter is pressed).", markup=False)
        yield Input(placeholder="now", id="t0")
        now = self.clock()
        yield Static(describe_t0(now, now, self.zone), id="t0-preview", markup=False)
        yield error_line()
        yield hint(f"Accepts {T0_EXAMPLES}. Escape cancels.")
        yield buttons("Set T-0")

    def on_mount(self) -> None:
        self.query_one("#t0", Input).focus()

    def _parse(self) -> datetime:
        return parse_t0(self.query_one("#t0", Input).value, self.clock(), self.zone)

    @on(Input.Changed, "#t0")
    def _preview(self) -> None:
        preview = self.query_one("#t0-preview", Static)
        try:
            moment = self._parse()
        except ValueError:
            preview.update("")
            self.query_one("#confirm", Button).disabled = True
            return
        preview.update(describe_t0(moment, self.clock(), self.zone))
        self.query_one("#confirm", Button).disabled = False
        self.refuse("")

    @on(Input.Submitted, "#t0")
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        try:
            moment = self._parse()
        except ValueError as error:
            self.refuse(str(error))
            return
        self.dismiss(moment)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
