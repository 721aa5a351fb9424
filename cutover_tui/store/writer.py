"""Writing the log: events (durable when ``append`` returns), readings batched and sealed by a flush thread, the heartbeat, and write health."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checks.clock import Clock
from checks.reading import Reading
from checks.status import ConditionStatus
from cutover_tui.redaction import Redactor
from cutover_tui.store.chain import _plain, canonical_json, event_hash, seal_payload, tick_digest
from cutover_tui.store.errors import LogDisplaced, describe_write_error
from cutover_tui.store.queries import LogQueries
from cutover_tui.store.records import (
    EVENT_KINDS,
    NO_EXTRA,
    SYSTEM_ACTOR,
    EventRecord,
    TickRecord,
    WriteHealth,
    format_ts,
    parse_ts,
)
from cutover_tui.store.retention import RetentionPolicy, _Kept, _without_floats
from cutover_tui.store.schema import _transaction

if TYPE_CHECKING:
    from cutover_tui.store.lock import _WriterLock

# Flush pending ticks inline when the writer thread falls this far behind.
MAX_PENDING_TICKS = 20_000

FLUSH_INTERVAL_SECONDS = 1.0
#: An event whose wall time reads further than this before the last event's records ``clock_behind_by``.
CLOCK_BEHIND_TOLERANCE = timedelta(seconds=1)


def rescue_path(path: Path) -> Path:
    """Where a copy of a log that left its path goes: ``go-live.cutover.db`` -> ``go-live-rescued.cutover.db``."""
    name = path.name
    tail = ".cutover.db" if name.endswith(".cutover.db") else path.suffix
    return path.with_name(f"{name[: len(name) - len(tail)]}-rescued{tail}")


class LogWriter(LogQueries):
    """Writing a session log (``SessionLog`` is one): events, batched readings and their seals, write health."""

    # Set by ``SessionLog.__init__``.
    path: Path
    operator: str
    _lock: _WriterLock | None
    retention: RetentionPolicy
    _clock: Clock
    _pending: list[TickRecord]
    _pending_lock: threading.Lock
    _kept: dict[str, _Kept]
    _epsilon: dict[str, float]
    _aged: frozenset[str]
    _redact: Redactor
    _closed: bool
    _health: WriteHealth
    _health_lock: threading.Lock
    _stop: threading.Event
    _head_ts: datetime | None
    _next_tick_id: int
    _issued_tick_id: int
    _keep_every: dict[str, tuple[tuple[datetime, datetime], ...]]
    _pending_checks: Mapping[str, tuple[int, str]]
    _pending_head: tuple[int, str]
    #: While events wait in memory to be written with their original times (``hold_readings``).
    _readings_held: bool = False
    #: What else the heartbeat vouches for (a live session's polling): while it returns False no heartbeat
    #: is stamped, so a follower sees a writer whose polling stopped as one that is not writing.
    heartbeat_while: Callable[[], bool] | None = None
    #: While the writer's file is not at the log's path: why, where its copy went, how to go on (``_ensure_in_place``).
    _displaced: str | None = None

    def append(
        self,
        kind: str,
        payload: Mapping[str, Any],
        actor: str | None = None,
        *,
        ts: datetime | None = None,
        observed: bool = False,
    ) -> EventRecord:
        """Append one event; it is committed and fsynced when this returns.

        Pending ticks are written in the same transaction, so the ticks a
        decision was based on are as durable as the decision.

        Args:
            kind: one of ``EVENT_KINDS``.
            payload: the kind's payload (see ``cutover_tui.state``).
            actor: who did it; defaults to the operator.
            ts: when it happened, for an event held in memory while the log
                could not be written or observed before it was taken (default:
                now). Never earlier than the
                last event: the log's time order is its seq order. An event
                whose time read more than ``CLOCK_BEHIND_TOLERANCE`` earlier
                (the wall clock stepped back) is dated at the last event's and
                its payload gains ``clock_behind_by``: how many seconds earlier.
            observed: ``ts`` is when what the event records was observed (a
                condition change: when its poll's answer came), which may come before
                an event logged while its result was on its way. Such an event is
                dated at the last event's time, and ``clock_behind_by`` is recorded
                only if the wall clock now reads before that time too (it stepped
                back): lateness is not a clock step.

        Returns:
            The stored record, payload exactly as stored (so live folds equal replays).

        Raises:
            sqlite3.Error: the write failed (disk full, I/O error); nothing was
                written and ``write_health`` says why.
        """
        self._check_writable()
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        actor = self._redact(actor or self.operator or "system")
        stored = json.loads(canonical_json(self._redact(_plain(dict(payload)))))
        with self._db_lock:
            now = self._clock.now()
            moment = now if ts is None else ts
            if self._head_ts is not None and moment < self._head_ts:
                late = observed and now >= self._head_ts  # observed before the last event, taken after it
                if not late and self._head_ts - moment > CLOCK_BEHIND_TOLERANCE:  # the clock stepped back: by how much
                    stored = {**stored, "clock_behind_by": round((self._head_ts - moment).total_seconds(), 3)}
                moment = self._head_ts
            stamp = format_ts(moment)
            ticks = self._take_pending()
            try:
                self._ensure_in_place()
                with _transaction(self._connection):
                    # The readings this event was based on, sealed just before it.
                    self._write_ticks(ticks, stamp)
                    seq, prev_hash = self._pending_head
                    seq += 1
                    digest = event_hash(prev_hash, seq, stamp, kind, actor, stored)
                    self._insert_event(seq, stamp, kind, actor, stored, prev_hash, digest)
                    self._connection.execute(
                        "UPDATE sessions SET updated_at=?, head_seq=?, head_hash=?"
                        + (", actual_t0=?" if kind == "t0_set" else ""),
                        (stamp, seq, digest, *((stored.get("t0"),) if kind == "t0_set" else ())),
                    )
            except sqlite3.Error as error:
                self._return_pending(ticks)
                self._write_failed(error)
                raise
            self._write_ok()
            record = EventRecord(seq, parse_ts(stamp), kind, actor, stored, prev_hash, digest)
            self._committed(len(ticks), seq, digest, record.ts)
        return record

    def record_reading(self, reading: Reading, condition_statuses: Iterable[ConditionStatus] = ()) -> TickRecord | None:
        """Keep ``reading`` as a tick if ``RetentionPolicy`` says it is news.

        The tick is batched and written within ``FLUSH_INTERVAL_SECONDS`` (or
        with the next event). Feed the returned tick, if any, to the reducer:
        live state then equals replayed state.

        Args:
            reading: the probe's reading.
            condition_statuses: the statuses of the conditions on this check after it.

        Returns:
            The stored tick, or None when the reading was not news.
        """
        self._check_writable()
        stored = dict(reading.extra)
        if reading.sample_age is not None and reading.check_id in self._aged:  # a follower judges max_age from it
            stored["sample_age"] = reading.sample_age
        extra = canonical_json(self._redact(_plain(stored))) if stored else ""
        extra_key = canonical_json(_without_floats(json.loads(extra))) if extra else ""
        detail = self._redact(reading.detail)
        value = _plain(reading.value)
        states = tuple(sorted((s.id, s.state.value) for s in condition_statuses))
        with self._pending_lock:
            kept = self._kept.get(reading.check_id)
            if (
                kept is not None
                and not self._in_kept_window(reading)
                and not self._is_news(reading, kept, value, detail, extra_key, states)
            ):
                return None
            tick_id, self._issued_tick_id = self._issued_tick_id, self._issued_tick_id + 1
            tick = TickRecord(
                check_id=reading.check_id,
                ts=reading.observed_at.astimezone(timezone.utc),
                outcome=reading.outcome.value,
                value=value,
                unit=reading.unit,
                latency=reading.latency,
                degraded=reading.degraded,
                detail=detail,
                extra=json.loads(extra) if extra else NO_EXTRA,
                id=tick_id,
            )
            self._kept[reading.check_id] = _Kept(
                tick.ts, tick.outcome, value, reading.degraded, detail, extra_key, states
            )
            self._pending.append(tick)
            overflow = len(self._pending) >= MAX_PENDING_TICKS
        if overflow:
            self.flush_ticks()
        return tick

    def keep_every_reading(self, windows: Mapping[str, Sequence[tuple[datetime, datetime]]]) -> None:
        """Store every reading of these checks inside these windows, news or not (replaces earlier windows).

        A baseline is the median of *every* reading in its window; stored
        whole, it is the same in replay, the report and a what-if as it was live.
        """
        with self._pending_lock:
            self._keep_every = {check: tuple(spans) for check, spans in windows.items() if spans}

    def _in_kept_window(self, reading: Reading) -> bool:
        spans = self._keep_every.get(reading.check_id)
        return bool(spans) and any(start <= reading.observed_at <= end for start, end in spans)  # type: ignore[union-attr]

    def _is_news(
        self,
        reading: Reading,
        kept: _Kept,
        value: float | None,
        detail: str,
        extra_key: str,
        states: tuple[tuple[str, str], ...],
    ) -> bool:
        if (reading.outcome.value, reading.degraded, extra_key, states) != (
            kept.outcome,
            kept.degraded,
            kept.extra_key,
            kept.states,
        ):
            return True
        # A failing check's reason is evidence; a passing one's may hold timings.
        if reading.outcome.value != "pass" and detail != kept.detail:
            return True
        if (reading.observed_at - kept.ts).total_seconds() >= self.retention.keyframe_seconds:
            return True
        if value is None or kept.value is None:
            return value != kept.value
        tolerance = max(self.retention.relative_tolerance * abs(kept.value), self._epsilon.get(reading.check_id, 0.0))
        return abs(value - kept.value) > tolerance

    def flush_ticks(self, *, heartbeat: bool = False) -> int:
        """Write the pending ticks in one transaction; return how many.

        Args:
            heartbeat: also stamp ``sessions.heartbeat_at`` with now, even when
                no tick is pending: followers tell a live writer from a dead one
                by it, and a resumed session measures its real downtime from it.

        Raises:
            sqlite3.Error: the write failed; the ticks stay pending for the next try.
        """
        self._check_writable()
        with self._db_lock:
            ticks = [] if self._readings_held else self._take_pending()
            if not ticks and not heartbeat:
                return 0
            now = self._clock.now()
            if self._head_ts is not None and now < self._head_ts:
                now = self._head_ts
            try:
                self._ensure_in_place()
                with _transaction(self._connection):
                    if ticks:
                        self._write_ticks(ticks, format_ts(now))
                        seq, digest = self._pending_head
                        self._connection.execute(
                            "UPDATE sessions SET updated_at=?, head_seq=?, head_hash=?", (format_ts(now), seq, digest)
                        )
                    if heartbeat:
                        self._connection.execute("UPDATE sessions SET heartbeat_at=?", (format_ts(self._clock.now()),))
            except sqlite3.Error as error:
                self._return_pending(ticks)
                self._write_failed(error)
                raise
            self._write_ok()
            if ticks:
                self._committed(len(ticks), *self._pending_head, now)
        return len(ticks)

    def _ensure_in_place(self) -> None:
        """Raise ``LogDisplaced`` while the writer's file is not the one at the log's path.

        Written there, an event would reach no reader, no report and no
        resume, and be gone when this process exits. The first time, a copy
        of everything written so far goes beside the path (``rescue_path``).
        A file moved back is written again.
        """
        why = self._lock.displaced() if self._lock is not None else None
        if why is None:
            self._displaced = None
            return
        if self._displaced is None:
            self._displaced = self._copy_out(why)
        raise LogDisplaced(self._displaced)

    def _copy_out(self, why: str) -> str:
        """Copy the log (SQLite's backup: the write-ahead log's pages too) to ``rescue_path``; say where, and how to go on.

        Never at the log's own path, even when it is free: this connection still
        has its ``-wal`` and ``-shm`` open by that name, and a copy there would
        share them with it.
        """
        target = rescue_path(self.path)
        try:
            handle, part = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
            os.close(handle)
            try:
                with contextlib.closing(sqlite3.connect(part)) as copy:
                    self._connection.backup(copy)
                    # No process writes the copy: without a heartbeat, a follower or `status` of it says so at once
                    # rather than take the log's last one, a moment old, for a live writer.
                    if self._has_heartbeat:
                        copy.execute("UPDATE sessions SET heartbeat_at = NULL")
                        copy.commit()
                os.link(part, target)  # never over a file that came meanwhile
            finally:
                os.unlink(part)
        except (OSError, sqlite3.Error) as error:
            return (
                f"the log file was {why} at {self.path}, and no copy could be written ({describe_write_error(error)}): "
                "what was written is only in this process's open files"
            )
        return (
            f"the log file was {why} at {self.path}; a copy of everything written is at {target}: "
            f"quit, then resume it with `cutover-tui run RUNBOOK --db {target}`"
        )

    def _take_pending(self) -> list[TickRecord]:
        with self._pending_lock:
            ticks, self._pending = self._pending, []
        return ticks

    def _return_pending(self, ticks: list[TickRecord]) -> None:
        """Put ticks whose write failed back in front of those queued since, for the next try."""
        if ticks:
            with self._pending_lock:
                self._pending[:0] = ticks

    def _write_ticks(self, ticks: list[TickRecord], stamp: str) -> None:
        """Insert ``ticks`` and the ``ticks_sealed`` event chaining them, inside the caller's transaction.

        Sets ``_pending_head`` to the chain's head after it (unchanged when
        there are no ticks); ``_committed`` adopts it once the transaction commits.
        """
        self._pending_head = (self._head_seq, self._head_hash)
        self._pending_checks: Mapping[str, tuple[int, str]] = {}
        if not ticks:
            return
        encoded = self._format.encode(self._next_tick_id, ticks)
        if encoded.new_checks:
            self._connection.executemany(
                "INSERT INTO checks (id, name, unit) VALUES (?,?,?)",
                [(ref, name, unit) for name, (ref, unit) in encoded.new_checks.items()],
            )
        self._connection.executemany(
            f"INSERT INTO ticks ({self._format.columns}) VALUES (?,?,?,?,?,?,?,?,?,?)", encoded.rows
        )
        digests = [tick_digest(row) for row in encoded.digested]
        seal = seal_payload(encoded.rows[0][0], encoded.rows[-1][0], digests, self._format.digests_field(digests))
        self._pending_checks = encoded.new_checks
        seq, prev_hash = self._head_seq + 1, self._head_hash
        digest = event_hash(prev_hash, seq, stamp, "ticks_sealed", SYSTEM_ACTOR, seal)
        self._insert_event(seq, stamp, "ticks_sealed", SYSTEM_ACTOR, seal, prev_hash, digest)
        self._pending_head = (seq, digest)

    def _insert_event(
        self, seq: int, stamp: str, kind: str, actor: str, stored: Any, prev_hash: str, digest: str
    ) -> None:
        self._connection.execute(
            "INSERT INTO events (seq, ts, kind, actor, payload, prev_hash, hash) VALUES (?,?,?,?,?,?,?)",
            (seq, stamp, kind, actor, canonical_json(stored), prev_hash, digest),
        )

    def _committed(self, ticks: int, seq: int, digest: str, moment: datetime) -> None:
        """After a commit: the chain's new head, the next free tick id, and the checks registered with them."""
        self._next_tick_id += ticks
        if ticks and self._pending_checks:
            self._format.registered(self._pending_checks)
        if seq != self._head_seq:
            self._head_seq, self._head_hash = seq, digest
            self._head_ts = max(moment, self._head_ts) if self._head_ts else moment

    def hold_readings(self, held: bool) -> None:
        """Keep the pending readings back (``True``) while events wait in memory to be written.

        An event is never dated before the last one (the log's time order is its
        seq order): readings sealed first, when space returns, would date the
        waiting events at that moment instead of when they happened. Held, the
        readings go in with the first of them; the heartbeat still beats.
        """
        self._readings_held = held

    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_SECONDS):
            vouched = self.heartbeat_while
            try:
                self.flush_ticks(heartbeat=vouched is None or vouched())
            except sqlite3.Error:
                # A busy or full disk must not kill the thread: the ticks stay
                # pending, ``write_health`` says what failed, and the next
                # second tries again.
                continue
            except ValueError:  # closed meanwhile
                return

    @property
    def write_health(self) -> WriteHealth:
        """Whether the last write succeeded; when not, since when and why."""
        with self._health_lock:
            return self._health

    def _write_failed(self, error: BaseException) -> None:
        with self._health_lock:
            since = self._health.failing_since or self._clock.now()
            self._health = WriteHealth(failing_since=since, error=describe_write_error(error))

    def _write_ok(self) -> None:
        with self._health_lock:
            if self._health.failing_since is not None:
                self._health = WriteHealth()

    def _check_writable(self) -> None:
        if self.read_only:
            raise PermissionError(f"{self.path} is open read-only")
        if self._closed:
            raise ValueError(f"{self.path} is closed")
