"""The session log file: create, resume (``open``) or read (``open_readonly``) one, and close it."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from checks.clock import Clock, SystemClock
from cutover_tui import __version__
from cutover_tui.redaction import Redactor, secret_env_names
from cutover_tui.store.errors import BrokenChain, RunbookChanged, _database_error, _os_error
from cutover_tui.store.formats import _tick_format, _TickFormat
from cutover_tui.store.lock import _WriterLock, lock_scope
from cutover_tui.store.records import (
    GENESIS_HASH,
    READABLE_SCHEMAS,
    SCHEMA_VERSION,
    TickRecord,
    VerifyResult,
    WriteHealth,
    format_ts,
    parse_ts,
)
from cutover_tui.store.retention import RetentionPolicy, _check_epsilons, _Kept
from cutover_tui.store.schema import (
    _connect,
    _create_schema,
    _open_existing,
    _prepare_writer,
    _remember_runbook,
    _schema_version,
    _transaction,
)
from cutover_tui.store.verify import _verify_connection
from cutover_tui.store.writer import CLOCK_BEHIND_TOLERANCE, LogWriter
from runbooks.model import Runbook


class SessionLog(LogWriter):
    """A session log file. Use ``create``, ``open`` (resume) or ``open_readonly``.

    Writers are thread-safe: ``append`` may be called from a worker thread
    while ``record_reading`` is called from the poller; one lock serialises
    use of the one connection.
    """

    def __init__(
        self,
        path: Path,
        connection: sqlite3.Connection,
        *,
        read_only: bool,
        operator: str = "",
        runbook: Runbook | None = None,
        clock: Clock | None = None,
        retention: RetentionPolicy | None = None,
        lock: _WriterLock | None = None,
    ) -> None:
        self.path = path
        self.read_only = read_only
        self.operator = operator
        self.retention = retention or RetentionPolicy()
        self._connection = connection
        self._clock = clock or SystemClock()
        self._lock = lock
        self._db_lock = threading.RLock()
        self._pending: list[TickRecord] = []
        self._pending_lock = threading.Lock()
        self._kept: dict[str, _Kept] = {}
        self._epsilon: dict[str, float] = _check_epsilons(runbook, self.retention) if runbook else {}
        # Checks whose stored readings keep their sample's age: those with a max_age, the one rule that reads it.
        self._aged = (
            frozenset(c.id for c in runbook.checks.values() if c.max_age is not None) if runbook else frozenset()
        )
        self._redact = Redactor(secret_env_names(runbook) if runbook else ())
        self._closed = False
        self._health = WriteHealth()
        self._health_lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        columns = {row[1] for row in connection.execute("PRAGMA table_info(sessions)")}
        if "heartbeat_at" not in columns and not read_only:
            connection.execute("ALTER TABLE sessions ADD COLUMN heartbeat_at TEXT")  # a log from before heartbeats
            columns.add("heartbeat_at")
        self._has_heartbeat = "heartbeat_at" in columns
        if "writer_scope" not in columns and not read_only:
            connection.execute("ALTER TABLE sessions ADD COLUMN writer_scope TEXT")  # a log from before scopes
            columns.add("writer_scope")
        self._has_scope = "writer_scope" in columns
        if lock is not None:  # where this writer's lock can be seen (none where it cannot: ``lock_scope``)
            connection.execute("UPDATE sessions SET writer_scope=?", (lock_scope() if lock.visible() else None,))
        self._pending_checks: Mapping[str, tuple[int, str]] = {}
        #: The on-disk format of this file's readings (``SCHEMA_VERSION`` for a new log).
        self.schema_version = _schema_version(connection)
        self._format: _TickFormat = _tick_format(connection, self.schema_version)
        head = connection.execute("SELECT seq, hash, ts FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        self._head_seq, self._head_hash = (head[0], head[1]) if head else (0, GENESIS_HASH)
        self._head_ts: datetime | None = parse_ts(head[2]) if head else None
        # Ticks get their ids here, so each batch's seal can name and hash them before the insert.
        self._next_tick_id = connection.execute("SELECT coalesce(max(id), 0) + 1 FROM ticks").fetchone()[0]
        # Ids handed to recorded ticks (in order; written in that order, so they are the rows' ids).
        self._issued_tick_id = self._next_tick_id
        # Per check, windows in which every reading is stored (a baseline's readings, whole).
        self._keep_every: dict[str, tuple[tuple[datetime, datetime], ...]] = {}
        # Read before the heartbeat thread stamps anything: how long the file was left alone.
        self.opened_after = self.last_write_ts
        if not read_only:
            self._flusher = threading.Thread(target=self._flush_loop, name=f"ticks:{path.name}", daemon=True)
            self._flusher.start()

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        runbook: Runbook,
        *,
        operator: str,
        rehearsal: bool = False,
        clock: Clock | None = None,
        retention: RetentionPolicy | None = None,
        schema_version: int = SCHEMA_VERSION,
    ) -> SessionLog:
        """Create a new session file (mode 0600) and log ``session_started``.

        ``schema_version`` 1 writes the first on-disk format, to compare the
        two formats on the same readings; every session uses the default.

        Raises:
            FileExistsError: the file exists (resume it with ``open``).
            SessionLocked: another process holds the file's lock.
        """
        db_path = Path(path)
        lock = _WriterLock(db_path, create=True)
        connection: sqlite3.Connection | None = None
        try:
            connection = _connect(db_path, read_only=False)
            _prepare_writer(connection)
            clock = clock or SystemClock()
            now = format_ts(clock.now())
            planned_t0 = format_ts(runbook.t0) if runbook.t0 else None
            with _transaction(connection):
                if schema_version not in READABLE_SCHEMAS:
                    raise ValueError(f"no log schema {schema_version}")
                _create_schema(connection, schema_version)
                connection.execute(
                    "INSERT INTO sessions (id, runbook_name, runbook_text, runbook_sha256, planned_t0,"
                    " actual_t0, host, operator, tool_version, rehearsal, created_at, updated_at,"
                    " head_seq, head_hash, schema_version, heartbeat_at) VALUES (1,?,?,?,?,NULL,?,?,?,?,?,?,0,?,?,?)",
                    (
                        runbook.name,
                        runbook.text,
                        runbook.sha256,
                        planned_t0,
                        socket.gethostname(),
                        operator,
                        __version__,
                        int(rehearsal),
                        now,
                        now,
                        GENESIS_HASH,
                        schema_version,
                        now,  # the writer that makes the log is alive: only a copy has no heartbeat (``_copy_out``)
                    ),
                )
                _remember_runbook(connection, runbook, now)
        except BaseException as error:
            # A half-made file would later read as "not a session log".
            if connection is not None:
                connection.close()
            for leftover in (db_path, *(db_path.with_name(db_path.name + s) for s in ("-wal", "-shm"))):
                leftover.unlink(missing_ok=True)
            lock.release()
            if isinstance(error, sqlite3.Error):
                raise _database_error(db_path, error, writing=True) from None
            if isinstance(error, OSError):
                raise _os_error(db_path, error, "create the session log") from None
            raise
        log = cls._writer(
            db_path, connection, lock, operator=operator, runbook=runbook, clock=clock, retention=retention
        )
        log.append(
            "session_started",
            {
                "runbook_name": runbook.name,
                "runbook_sha256": runbook.sha256,
                "planned_t0": planned_t0,
                "rehearsal": rehearsal,
            },
        )
        return log

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        runbook: Runbook | None = None,
        *,
        operator: str,
        accept_runbook_change: bool = False,
        accept_broken_chain: bool = False,
        clock: Clock | None = None,
        retention: RetentionPolicy | None = None,
    ) -> SessionLog:
        """Resume an existing session: log ``session_resumed`` with the gap.

        Raises:
            NotASessionLog: the file is not a session log.
            SessionLocked: another process is writing it.
            RunbookChanged: ``runbook``'s sha256 differs and the change was not accepted.
            BrokenChain: the hash chain does not verify and ``accept_broken_chain`` is False
                (when True, a ``chain_break_accepted`` event records what was accepted).
            DamagedLog, CannotWrite: the file is damaged, or cannot be written here.
        """
        db_path = Path(path)
        lock = _WriterLock(db_path)
        try:
            connection = _open_existing(db_path, read_only=False)
            stored_sha = connection.execute("SELECT runbook_sha256 FROM sessions").fetchone()[0]
            changed = runbook is not None and runbook.sha256 != stored_sha
            if runbook is not None and changed and not accept_runbook_change:
                connection.close()
                raise RunbookChanged(str(db_path), stored_sha, runbook.sha256)
            # Before anything is written: appending to a broken chain would bury the break.
            chain = _verify_connection(connection, db_path, ticks=False)
            if not chain.ok and not accept_broken_chain:
                connection.close()
                raise BrokenChain(str(db_path), chain)
        except BaseException as error:
            lock.release()
            if isinstance(error, sqlite3.Error):
                raise _database_error(db_path, error, writing=True) from None
            raise
        log = cls._writer(
            db_path, connection, lock, operator=operator, runbook=runbook, clock=clock, retention=retention
        )
        last_write = log.opened_after
        now = log._clock.now()
        log.append(
            "session_resumed",
            {
                "gap_seconds": _gap_seconds(last_write, now),
                "last_write_ts": format_ts(last_write) if last_write else None,
                "accepted_runbook_change": changed,
                # The last reading before the resume, by log order: a clock stepped back or forward across the
                # crash makes times unfit to tell the readings before it from those after it.
                "last_tick_id": log._issued_tick_id - 1,
            },
        )
        if not chain.ok:
            log.append("chain_break_accepted", {"bad_seq": chain.bad_seq, "reason": chain.reason})
        if changed:
            assert runbook is not None
            log._change_runbook(stored_sha, runbook)
        return log

    @classmethod
    def _writer(
        cls,
        db_path: Path,
        connection: sqlite3.Connection,
        lock: _WriterLock,
        *,
        operator: str,
        runbook: Runbook | None,
        clock: Clock | None,
        retention: RetentionPolicy | None,
    ) -> SessionLog:
        """The writing ``SessionLog`` on a connection ``create`` or ``open`` made, holding ``lock``.

        Raises:
            DamagedLog, CannotWrite: SQLite cannot read the file's head (the connection is closed, the lock released).
        """
        try:
            return cls(
                db_path,
                connection,
                read_only=False,
                operator=operator,
                runbook=runbook,
                clock=clock,
                retention=retention,
                lock=lock,
            )
        except sqlite3.DatabaseError as error:
            connection.close()
            lock.release()
            raise _database_error(db_path, error, writing=True) from None

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str]) -> SessionLog:
        """Open for reading (follow, replay, report, verify); takes no lock, never writes."""
        db_path = Path(path)
        connection = _open_existing(db_path, read_only=True)
        try:
            return cls(db_path, connection, read_only=True)
        except sqlite3.DatabaseError as error:
            connection.close()
            raise _database_error(db_path, error) from None

    def _change_runbook(self, old_sha: str, runbook: Runbook) -> None:
        with self._db_lock, _transaction(self._connection):
            _remember_runbook(self._connection, runbook, format_ts(self._clock.now()))
            self._connection.execute(
                "UPDATE sessions SET runbook_name=?, runbook_text=?, runbook_sha256=?",
                (runbook.name, runbook.text, runbook.sha256),
            )
        self.append("runbook_changed", {"old_sha256": old_sha, "new_sha256": runbook.sha256})

    def close(self) -> None:
        """Flush pending ticks, fold the WAL into the database file, close it and release the writer lock.

        After a clean close the ``.db`` alone is the whole session (no ``-wal``
        to copy along). Raises the flush's error, if any, after closing.
        """
        if self._closed:
            return
        failure: sqlite3.Error | None = None
        if self._flusher is not None:
            self._stop.set()
            self._flusher.join()
            try:
                self.flush_ticks()
            except sqlite3.Error as error:
                failure = error
            with self._db_lock, contextlib.suppress(sqlite3.Error):
                self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with self._db_lock:
            self._closed = True
            self._connection.close()
        if self._lock is not None:
            self._lock.release()
        if failure is not None:
            raise failure

    def __enter__(self) -> SessionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _gap_seconds(last_write: datetime | None, now: datetime) -> float | None:
    """Seconds since the last write; None when the wall clock reads before it (stepped back: the gap is unknown)."""
    if last_write is None:
        return 0.0
    if last_write - now > CLOCK_BEHIND_TOLERANCE:
        return None
    return round(max(0.0, (now - last_write).total_seconds()), 3)


def verify_file(path: str | os.PathLike[str]) -> VerifyResult:
    """Open ``path`` read-only and verify its chain and readings.

    Raises:
        NotASessionLog: the file is not a session log.
        DamagedLog: SQLite cannot read it whole.
    """
    with SessionLog.open_readonly(path) as log:
        return log.verify()
