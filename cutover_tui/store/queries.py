"""Reading the log: the session's row, events, stored readings (by time, by id, the latest, what a seek needs), the head, the heartbeat."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cutover_tui.store.chain import _text
from cutover_tui.store.errors import DamagedLog, _database_error, _shortened
from cutover_tui.store.formats import _in_time_order, _TickFormat
from cutover_tui.store.records import (
    GENESIS_HASH,
    EventRecord,
    SessionInfo,
    TickRecord,
    VerifyResult,
    format_ts,
    parse_ts,
)
from cutover_tui.store.verify import _verify_connection
from runbooks.model import Runbook


class LogQueries:
    """Reading a session log (``SessionLog`` is one): queries under the one connection's lock."""

    # Set by ``SessionLog.__init__``.
    path: Path
    read_only: bool
    schema_version: int
    _connection: sqlite3.Connection
    _db_lock: threading.RLock
    _format: _TickFormat
    _has_heartbeat: bool
    _has_scope: bool
    _head_seq: int
    _head_hash: str

    def stored_runbook(self) -> Runbook:
        """The runbook exactly as the session stored it; follow, replay and report need no file.

        ``${VAR}`` in URLs stays unexpanded: those views poll nothing, and the
        variables may not be set where they run.
        """
        from runbooks import parse_runbook

        return parse_runbook(
            self.info().runbook_text, file=f"{self.path} (the runbook stored in the log)", expand_urls=False
        )

    def info(self) -> SessionInfo:
        """The ``sessions`` row."""
        row = self._query_one(
            "SELECT runbook_name, runbook_text, runbook_sha256, planned_t0, actual_t0, host, operator,"
            " tool_version, rehearsal, created_at, updated_at, head_seq, head_hash FROM sessions"
        )
        return SessionInfo(
            runbook_name=row[0],
            runbook_text=row[1],
            runbook_sha256=row[2],
            planned_t0=parse_ts(row[3]) if row[3] else None,
            actual_t0=parse_ts(row[4]) if row[4] else None,
            host=row[5] or "",
            operator=row[6] or "",
            tool_version=row[7] or "",
            rehearsal=bool(row[8]),
            created_at=parse_ts(row[9]),
            updated_at=parse_ts(row[10]),
            head_seq=row[11] or 0,
            head_hash=row[12] or GENESIS_HASH,
        )

    def events(self, after_seq: int = 0, until: datetime | None = None, *, seals: bool = False) -> list[EventRecord]:
        """Events with ``seq > after_seq`` (and ``ts <= until``), in order.

        Args:
            seals: include the log's own ``ticks_sealed`` events (only ``verify``
                needs them; every view folds the others).

        Raises:
            DamagedLog: a row cannot be read (not UTF-8, not JSON): the file was damaged or edited.
        """
        sql = "SELECT seq, ts, kind, actor, payload, prev_hash, hash FROM events WHERE seq > ?"
        params: list[Any] = [after_seq]
        if until is not None:
            sql += " AND ts <= ?"
            params.append(format_ts(until))
        if not seals:
            sql += " AND kind != 'ticks_sealed'"
        try:
            rows = self._query(sql + " ORDER BY seq", params)
        except DamagedLog:
            raise self._unreadable_event(after_seq) from None
        records = []
        for r in rows:
            try:
                records.append(EventRecord(r[0], parse_ts(r[1]), r[2], r[3], json.loads(r[4]), r[5], r[6]))
            except (TypeError, ValueError):
                raise DamagedLog(
                    f"{self.path}: event seq {r[0]} cannot be read (damaged or edited); "
                    f"`cutover-tui verify {self.path}` says what of the log still verifies"
                ) from None
        return records

    def _unreadable_event(self, after_seq: int) -> DamagedLog:
        """Which event SQLite could not read as text, named."""
        seq = "?"
        try:
            with self._db_lock:
                for row in self._connection.execute(
                    "SELECT seq, CAST(ts AS BLOB), CAST(kind AS BLOB), CAST(actor AS BLOB), CAST(payload AS BLOB)"
                    " FROM events WHERE seq > ? ORDER BY seq",
                    (after_seq,),
                ):
                    try:
                        [_text(v) for v in row[1:]]
                    except ValueError:
                        seq = str(row[0])
                        break
        except sqlite3.Error:
            pass
        return DamagedLog(
            f"{self.path}: event seq {seq} holds bytes that are not UTF-8 text (damaged or edited); "
            f"`cutover-tui verify {self.path}` says what of the log still verifies"
        )

    def holds_head(self, digest: str, seq: int | None = None) -> bool:
        """Whether an event's hash is ``digest`` (or starts with it, when it is unambiguous), at ``seq`` if given.

        A head published earlier is held by every later state of an honest
        log; a log cut short before it, or rewritten, no longer holds it.
        """
        digest = digest.lower()
        rows = self._query(
            "SELECT seq FROM events WHERE hash >= ? AND hash < ? ORDER BY seq LIMIT 2", [digest, digest + "g"]
        )
        if seq is not None:
            return any(row[0] == seq for row in rows) or bool(
                self._query("SELECT 1 FROM events WHERE seq = ? AND substr(hash, 1, ?) = ?", [seq, len(digest), digest])
            )
        return len(rows) == 1

    @property
    def head(self) -> tuple[int, str]:
        """The chain's head, ``(seq, hash)``: the last event, seals included (what to publish)."""
        if not self.read_only:
            with self._db_lock:
                return self._head_seq, self._head_hash
        row = self._query_one("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def ticks(
        self, until: datetime | None = None, check: str | None = None, after: datetime | None = None
    ) -> Iterator[TickRecord]:
        """Stored ticks in time order, optionally one check's, in ``(after, until]``."""
        fmt = self._format
        with self._db_lock:
            where, params = self._tick_filter(until=until, check=check, after=after)
        # One check: its index gives time order. All checks: insertion order,
        # which is time order up to the jitter of a flush batch, without
        # sorting millions of rows.
        order = f"{fmt.time_column}, id" if check is not None else "id"
        cursor = self._connection.cursor()
        with self._db_lock:
            cursor.execute(f"SELECT {fmt.columns} FROM ticks {where} ORDER BY {order}", params)
        while True:
            with self._db_lock:
                rows = cursor.fetchmany(5000)
                if not rows:
                    return
                decoded = self._decode(rows)
            yield from decoded

    def ticks_by_id(self, ids: Iterable[int]) -> list[TickRecord]:
        """The stored readings with these ids (those that exist), in id order."""
        wanted = sorted({int(i) for i in ids})
        rows: list[tuple] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self._query(f"SELECT {self._format.columns} FROM ticks WHERE id IN ({marks}) ORDER BY id", chunk)
        return self._decode(rows)

    def latest_ticks(self, until: datetime | None = None, per_check: int = 61) -> list[TickRecord]:
        """The last ``per_check`` ticks of every check up to ``until``, in time order.

        This is all the reducer keeps of ticks (``Reducer.ticks_kept``), so
        folding these equals folding every tick — at a fraction of the cost.
        """
        fmt = self._format
        with self._db_lock:
            try:
                checks = fmt.checks()
            except sqlite3.DatabaseError as error:
                raise _database_error(self.path, error) from None
            rows: list[tuple] = []
            for check in checks:
                clauses, params = [f"{fmt.check_column} = ?"], [check]
                if until is not None:
                    clauses.append(f"{fmt.time_column} <= ?")
                    params.append(fmt.time_key(until))
                rows.extend(
                    self._query(
                        f"SELECT {fmt.columns} FROM ticks WHERE {' AND '.join(clauses)}"
                        f" ORDER BY {fmt.time_column} DESC, id DESC LIMIT ?",
                        [*params, per_check],
                    )
                )
            return self._decode(_in_time_order(rows, fmt))

    def seek_ticks(
        self, until: datetime, windows: Mapping[str, datetime] | None = None, *, checks: Iterable[str] | None = None
    ) -> list[TickRecord]:
        """What a state at ``until`` reads of the ticks, in time order, from the index in one query.

        The latest tick at or before ``until`` of every check (of those in
        ``checks`` when it is given); for each check in ``windows`` (a
        condition's sparkline reads it), also every tick after
        ``windows[check]`` up to ``until``, and the last one at or before
        ``windows[check]``. Folding these gives the same views at ``until`` as
        folding every tick (the windows: ``Reducer._window_spans``). ``Reducer.state`` reads
        through this, lazily, the checks a view is asked for (``read_ticks``).
        """
        fmt = self._format
        check_col, time_col = fmt.check_column, fmt.time_column
        cols = ", ".join(f"t.{c.strip()}" for c in fmt.columns.split(","))
        until_key = fmt.time_key(until)
        with self._db_lock:
            # Resolved under the lock: a follower's format may read the checks table.
            bounds = [(fmt.check_key(check), fmt.time_key(start)) for check, start in (windows or {}).items()]
            bounds = [(key, start) for key, start in bounds if key != -1]
            windowed = {key for key, _ in bounds}
            keys = (
                None
                if checks is None
                else [k for k in dict.fromkeys(map(fmt.check_key, checks)) if k != -1 and k not in windowed]
            )
        latest_of = (
            f"SELECT id FROM ticks WHERE {check_col} = {{check}} AND {time_col} <= {{until}}"
            f" ORDER BY {time_col} DESC, id DESC LIMIT 1"
        )
        params: list[Any] = [until_key, *(item for bound in bounds for item in bound)]
        parts: list[str] = []
        ctes: list[str] = []
        if bounds:
            values = ",".join(f"(?{2 + 2 * n}, ?{3 + 2 * n})" for n in range(len(bounds)))
            ctes.append(f"w(key, start) AS (VALUES {values})")
        if keys is None:
            unwindowed = " WHERE c.id NOT IN (SELECT key FROM w)" if bounds else ""
            parts.append(
                f"SELECT {cols} FROM {fmt.check_table()} c JOIN ticks t ON t.id = "
                f"({latest_of.format(check='c.id', until='?1')}){unwindowed}"
            )
        elif keys:
            first = len(params) + 1
            ctes.append(f"k(key) AS (VALUES {','.join(f'(?{first + n})' for n in range(len(keys)))})")
            params.extend(keys)
            parts.append(f"SELECT {cols} FROM k JOIN ticks t ON t.id = ({latest_of.format(check='k.key', until='?1')})")
        if bounds:
            parts.append(
                f"SELECT {cols} FROM w JOIN ticks t ON t.{check_col} = w.key AND t.{time_col} > w.start"
                f" AND t.{time_col} <= ?1"
            )
            parts.append(
                f"SELECT {cols} FROM w JOIN ticks t ON t.id = ({latest_of.format(check='w.key', until='w.start')})"
            )
        if not parts:
            return []
        sql = (f"WITH {', '.join(ctes)} " if ctes else "") + " UNION ALL ".join(parts)
        with self._db_lock:
            rows = self._query(sql, params)
            return self._decode(_in_time_order(rows, fmt))

    def ticks_written_after(self, tick_id: int, *, newest: int | None = None) -> tuple[list[TickRecord], int]:
        """Ticks stored after row ``tick_id`` (in write order; only the ``newest`` last of them when given) and the
        newest row id: how a follower tails.

        Tailing by row id, not by time, never misses a tick that a batch
        flushed late with an earlier timestamp.
        """
        columns = self._format.columns
        with self._db_lock:
            if newest is None:
                rows = self._query(f"SELECT {columns} FROM ticks WHERE id > ? ORDER BY id", [tick_id])
            else:
                rows = self._query(
                    f"SELECT {columns} FROM ticks WHERE id > ? ORDER BY id DESC LIMIT ?", [tick_id, newest]
                )[::-1]
            return self._decode(rows), (rows[-1][0] if rows else tick_id)

    def last_tick_id(self) -> int:
        """The newest ``ticks`` row id (0 when none)."""
        return self._query_one("SELECT coalesce(max(id), 0) FROM ticks")[0]

    @property
    def last_write_ts(self) -> datetime | None:
        """The latest timestamp written: the last event, stored tick or writer heartbeat."""
        heartbeat = self.heartbeat_at()
        row = self._query_one("SELECT max(ts) FROM events")
        with self._db_lock:
            try:
                last_tick = self._format.last_ts()
            except sqlite3.DatabaseError as error:
                raise _database_error(self.path, error) from None
        stamps = [m for m in (parse_ts(row[0]) if row and row[0] else None, last_tick, heartbeat) if m is not None]
        return max(stamps) if stamps else None

    def _tick_filter(
        self, *, until: datetime | None = None, check: str | None = None, after: datetime | None = None
    ) -> tuple[str, list[Any]]:
        fmt = self._format
        clauses: list[str] = []
        params: list[Any] = []
        if check is not None:
            clauses.append(f"{fmt.check_column} = ?")
            params.append(fmt.check_key(check))
        if after is not None:
            clauses.append(f"{fmt.time_column} > ?")
            params.append(fmt.time_key(after))
        if until is not None:
            clauses.append(f"{fmt.time_column} <= ?")
            params.append(fmt.time_key(until))
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    def _decode(self, rows: Iterable[Sequence[Any]]) -> list[TickRecord]:
        """Rows of ``ticks`` as records; a row that cannot be read is a damaged or edited log, named."""
        decode = self._format.decode
        try:
            return [decode(row) for row in rows]
        except (ValueError, TypeError, KeyError) as error:
            raise DamagedLog(
                f"{self.path}: a stored reading cannot be read ({_shortened(str(error))}; damaged or edited); "
                f"`cutover-tui verify {self.path}` says what of the log still verifies"
            ) from None

    def writer_scope(self) -> str | None:
        """Where the last writer's lock on this file could be seen (``lock.lock_scope``), or None: unknown."""
        if not self._has_scope:
            return None
        row = self._query_one("SELECT writer_scope FROM sessions")
        return row[0] if row else None

    @property
    def keeps_heartbeat(self) -> bool:
        """Whether this log has a heartbeat column (every log a writer of this version opened)."""
        return self._has_heartbeat

    def heartbeat_at(self) -> datetime | None:
        """When the writer last stamped ``sessions.heartbeat_at`` (about once a second while it runs).

        None for a log written before heartbeats existed, or before the first one.
        """
        if not self._has_heartbeat:
            return None
        row = self._query_one("SELECT heartbeat_at FROM sessions")
        return parse_ts(row[0]) if row and row[0] else None

    def _query(self, sql: str, params: list[Any] | tuple) -> list[tuple]:
        with self._db_lock:
            try:
                return self._connection.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as error:
                raise _database_error(self.path, error) from None

    def _query_one(self, sql: str) -> tuple:
        with self._db_lock:
            try:
                return self._connection.execute(sql).fetchone()
            except sqlite3.DatabaseError as error:
                raise _database_error(self.path, error) from None

    def verify(self, *, ticks: bool = True) -> VerifyResult:
        """Walk the hash chain; name the first bad seq and why.

        Args:
            ticks: also check every stored reading against its ``ticks_sealed`` event.

        Returns:
            ``VerifyResult``: ``ok`` when every event (and reading) is intact and
            no break in the chain was ever accepted.

        Raises:
            DamagedLog: SQLite cannot read the file whole (a damaged page).
        """
        with self._db_lock:
            return _verify_connection(self._connection, self.path, ticks=ticks)
