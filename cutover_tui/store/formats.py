"""Stored readings on disk: schema 1 spells each one out; schema 2 stores a check number, integer milliseconds and an outcome code."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from typing import Any

from cutover_tui.store.chain import _text, canonical_json
from cutover_tui.store.records import NO_EXTRA, TickRecord, format_ts, parse_ts

#: ``ticks.outcome_code`` (schema 2); the ``outcomes`` table spells the codes out.
OUTCOME_CODES: Mapping[str, int] = {"pass": 0, "breach": 1, "nodata": 2, "invalid": 3, "error": 4}


_OUTCOME_NAMES = {code: name for name, code in OUTCOME_CODES.items()}


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


_ONE_MS = timedelta(milliseconds=1)


#: Schema 2's view of every stored reading spelled out. A reading's digest is
#: computed over its columns ``id, ts_ms, check_id, outcome, value, unit,
#: latency_ms, degraded, detail, extra`` (``ts`` is ``ts_ms`` for people).
READINGS_VIEW = """CREATE VIEW readings AS
SELECT t.id, strftime('%Y-%m-%dT%H:%M:%fZ', t.ts_ms / 1000.0, 'unixepoch') AS ts, t.ts_ms,
       c.name AS check_id, o.name AS outcome, t.value, coalesce(t.unit, c.unit) AS unit,
       t.latency_ms, t.degraded, t.detail, t.extra
FROM ticks t LEFT JOIN checks c ON c.id = t.check_ref LEFT JOIN outcomes o ON o.code = t.outcome_code"""


def to_ms(moment: datetime) -> int:
    """Whole milliseconds since 1970-01-01 UTC, truncated as ``format_ts`` truncates."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return (moment - _EPOCH) // _ONE_MS


def from_ms(ms: int) -> datetime:
    """Inverse of ``to_ms``: a UTC datetime."""
    return _EPOCH + timedelta(milliseconds=ms)


@dataclass(frozen=True, slots=True)
class _Encoded:
    """A batch of ticks ready to insert: the rows, what each one's digest covers, and the checks new to the log."""

    rows: list[tuple]
    digested: list[list[Any]]
    new_checks: dict[str, tuple[int, str]]


class _TicksV1:
    """Schema 1: each reading spelled out, ISO text times and the check and outcome as text.

    Read, verified, and written by a session resumed from such a log, so one
    file never holds two formats.
    """

    version = 1
    columns = "id, ts, check_id, outcome, value, unit, latency_ms, degraded, detail, extra"
    check_column, time_column = "check_id", "ts"
    #: Hex digits of each reading's digest a seal lists (a JSON list of strings).
    digest_chars = 8

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def encode(self, first_id: int, ticks: Sequence[TickRecord]) -> _Encoded:
        rows = []
        for n, tick in enumerate(ticks):
            rows.append((
                first_id + n if tick.id is None else tick.id,
                format_ts(tick.ts),
                tick.check_id,
                tick.outcome,
                None if tick.value is None else float(tick.value),
                tick.unit,
                None if tick.latency is None else round(tick.latency * 1000),
                int(tick.degraded),
                tick.detail,
                canonical_json(tick.extra) if tick.extra else None,
            ))  # fmt: skip
        return _Encoded(rows, [list(row) for row in rows], {})

    def registered(self, new_checks: Mapping[str, tuple[int, str]]) -> None:
        """Nothing to remember: schema 1 has no checks table."""

    def decode(self, row: Sequence[Any]) -> TickRecord:
        tick_id, ts, check_id, outcome, value, unit, latency_ms, degraded, detail, extra = row
        return TickRecord(
            check_id=check_id,
            ts=parse_ts(ts),
            outcome=outcome,
            value=value,
            unit=unit or "",
            latency=None if latency_ms is None else latency_ms / 1000,
            degraded=bool(degraded),
            detail=detail or "",
            extra=json.loads(extra) if extra else NO_EXTRA,
            id=tick_id,
        )

    def check_key(self, check: str) -> Any:
        return check

    def time_key(self, moment: datetime) -> Any:
        return format_ts(moment)

    def checks(self) -> list[Any]:
        """The check keys that have readings (a scan of the index: schema 1 has no checks table)."""
        return [row[0] for row in self._connection.execute("SELECT DISTINCT check_id FROM ticks")]

    def check_table(self) -> str:
        return "(SELECT DISTINCT check_id AS id FROM ticks)"

    def last_ts(self) -> datetime | None:
        row = self._connection.execute("SELECT max(ts) FROM ticks").fetchone()
        return parse_ts(row[0]) if row and row[0] else None

    def digests_field(self, digests: Sequence[str]) -> Any:
        return [d[: self.digest_chars] for d in digests]

    def verify_rows(self) -> Iterator[tuple[int, Any, list[Any] | None, str]]:
        """Each stored reading in id order: (id, raw id, what its digest covers or None when unreadable, its name)."""
        cursor = self._connection.execute(
            "SELECT id, CAST(ts AS BLOB), CAST(check_id AS BLOB), CAST(outcome AS BLOB), value,"
            " CAST(unit AS BLOB), latency_ms, degraded, CAST(detail AS BLOB), CAST(extra AS BLOB) FROM ticks ORDER BY id"
        )
        while batch := cursor.fetchmany(5000):
            for row in batch:
                name = _reading_name(row[0], row[2], row[1])
                try:
                    digested: list[Any] | None = [row[0], *(_text(v) if isinstance(v, bytes) else v for v in row[1:])]
                except ValueError:
                    digested = None
                yield row[0], row[0], digested, name


class _TicksV2:
    """Schema 2: integer milliseconds, a check table instead of repeated check ids, outcome codes.

    ``checks`` holds each check's name and unit (its first reading's); a tick
    stores its unit only when it differs. A reading's digest covers it spelled
    out (``readings``), so the checks table is as sealed as the ticks are.
    """

    version = 2
    columns = "id, check_ref, ts_ms, outcome_code, value, unit, latency_ms, degraded, detail, extra"
    check_column, time_column = "check_ref", "ts_ms"
    #: Hex digits of each reading's digest a seal lists, concatenated in one string.
    digest_chars = 6

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._by_name: dict[str, tuple[int, str]] = {}
        self._by_ref: dict[int, tuple[str, str]] = {}
        self.reload()

    def reload(self) -> None:
        """Read the checks table again (a follower meets checks the writer registered since)."""
        rows = self._connection.execute("SELECT id, name, unit FROM checks").fetchall()
        self._by_ref = {ref: (name, unit or "") for ref, name, unit in rows}
        self._by_name = {name: (ref, unit) for ref, (name, unit) in self._by_ref.items()}

    def encode(self, first_id: int, ticks: Sequence[TickRecord]) -> _Encoded:
        rows: list[tuple] = []
        digested: list[list[Any]] = []
        new: dict[str, tuple[int, str]] = {}
        next_ref = max(self._by_ref, default=0) + 1
        for n, tick in enumerate(ticks):
            known = self._by_name.get(tick.check_id) or new.get(tick.check_id)
            if known is None:
                known = new[tick.check_id] = (next_ref + len(new), tick.unit)
            ref, check_unit = known
            tick_id, ms = first_id + n if tick.id is None else tick.id, to_ms(tick.ts)
            value = None if tick.value is None else float(tick.value)
            latency_ms = None if tick.latency is None else round(tick.latency * 1000)
            extra = canonical_json(tick.extra) if tick.extra else None
            rows.append((tick_id, ref, ms, OUTCOME_CODES[tick.outcome], value,
                         None if tick.unit == check_unit else tick.unit, latency_ms, int(tick.degraded), tick.detail, extra))  # fmt: skip
            digested.append([tick_id, ms, tick.check_id, tick.outcome, value, tick.unit, latency_ms,
                             int(tick.degraded), tick.detail, extra])  # fmt: skip
        return _Encoded(rows, digested, new)

    def registered(self, new_checks: Mapping[str, tuple[int, str]]) -> None:
        """The checks of a committed batch are in the checks table now."""
        for name, (ref, unit) in new_checks.items():
            self._by_name[name] = (ref, unit)
            self._by_ref[ref] = (name, unit)

    def decode(self, row: Sequence[Any]) -> TickRecord:
        tick_id, ref, ms, code, value, unit, latency_ms, degraded, detail, extra = row
        check = self._by_ref.get(ref)
        if check is None:
            self.reload()
            check = self._by_ref.get(ref)
        outcome = _OUTCOME_NAMES.get(code)
        if check is None or outcome is None or ms.__class__ is not int:
            raise ValueError(f"reading {tick_id} cannot be read (check {ref!r}, outcome {code!r}, time {ms!r})")
        # A float of whole milliseconds is within a quarter of a microsecond: fromtimestamp rounds it exactly.
        return TickRecord(
            check[0],
            datetime.fromtimestamp(ms / 1000, timezone.utc),
            outcome,
            value,
            check[1] if unit is None else unit,
            None if latency_ms is None else latency_ms / 1000,
            bool(degraded),
            detail or "",
            json.loads(extra) if extra else NO_EXTRA,
            tick_id,
        )

    def check_key(self, check: str) -> Any:
        known = self._by_name.get(check)
        if known is None:
            self.reload()
            known = self._by_name.get(check)
        return known[0] if known else -1  # no check has ref -1: no rows

    def time_key(self, moment: datetime) -> Any:
        return to_ms(moment)

    def checks(self) -> list[Any]:
        self.reload()
        return list(self._by_ref)

    def check_table(self) -> str:
        return "checks"

    def last_ts(self) -> datetime | None:
        # Each check's newest tick from the index: a max over the whole table would read every row.
        row = self._connection.execute(
            "SELECT max((SELECT max(ts_ms) FROM ticks WHERE check_ref = checks.id)) FROM checks"
        ).fetchone()
        return from_ms(row[0]) if row and row[0] is not None else None

    def digests_field(self, digests: Sequence[str]) -> Any:
        return "".join(d[: self.digest_chars] for d in digests)

    def verify_rows(self) -> Iterator[tuple[int, Any, list[Any] | None, str]]:
        """As ``_TicksV1.verify_rows``; the check's name and unit are read from the checks table as stored."""
        checks: dict[Any, tuple[Any, Any]] = {}
        for ref, name, unit in self._connection.execute(
            "SELECT id, CAST(name AS BLOB), CAST(unit AS BLOB) FROM checks"
        ):
            checks[ref] = (name, unit)
        cursor = self._connection.execute(
            "SELECT id, ts_ms, check_ref, outcome_code, value, CAST(unit AS BLOB), latency_ms, degraded,"
            " CAST(detail AS BLOB), CAST(extra AS BLOB) FROM ticks ORDER BY id"
        )
        while batch := cursor.fetchmany(5000):
            for tick_id, ms, ref, code, value, unit, latency_ms, degraded, detail, extra in batch:
                name, check_unit = checks.get(ref, (None, None))
                when = format_ts(from_ms(ms)) if isinstance(ms, int) and 0 <= ms < 253402300800000 else ms
                label = _reading_name(tick_id, name, when)
                try:
                    digested: list[Any] | None = [
                        tick_id, ms, _maybe_text(name), _OUTCOME_NAMES.get(code) if isinstance(code, int) else None,
                        value, _maybe_text(check_unit if unit is None else unit), latency_ms, degraded,
                        _maybe_text(detail), _maybe_text(extra),
                    ]  # fmt: skip
                except ValueError:
                    digested = None
                yield tick_id, tick_id, digested, label

    def check_format(self) -> str:
        """Why the outcome names or the ``readings`` view are not the ones written, or ``""``."""
        outcomes = dict(self._connection.execute("SELECT code, name FROM outcomes").fetchall())
        if outcomes != _OUTCOME_NAMES:
            return "edited: the outcomes table no longer names the outcome codes as written"
        view = self._connection.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'readings'"
        ).fetchone()
        if view is None or view[0] != READINGS_VIEW:
            return "edited: the readings view is not the one the log was written with"
        return ""


_TickFormat = _TicksV1 | _TicksV2


def _tick_format(connection: sqlite3.Connection, version: int) -> _TickFormat:
    return _TicksV2(connection) if version >= 2 else _TicksV1(connection)


def _in_time_order(rows: list[tuple], fmt: _TickFormat) -> list[tuple]:
    """Rows of ``ticks`` sorted by (time, id), as the reducer folds them."""
    rows.sort(key=itemgetter(1 if fmt.version == 1 else 2, 0))
    return rows


def _maybe_text(value: Any) -> Any:
    return _text(value) if isinstance(value, bytes) else value


def _reading_name(tick_id: int, check: Any, when: Any) -> str:
    """``17 (api_health at 2026-12-01T16:30:00.123Z)`` for a reading read as bytes."""
    try:
        return f"{tick_id} ({_text(check) if check is not None else '?'} at {_text(when) if isinstance(when, bytes) else when})"
    except ValueError:
        return str(tick_id)
