"""The log's tables and how a file is opened as one: the schema in plain SQL, connections, the checks that a file is a session log, transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cutover_tui import __version__
from cutover_tui.store.errors import DamagedLog, NewerLog, NotASessionLog, SessionLogError, _database_error, _os_error
from cutover_tui.store.formats import OUTCOME_CODES, READINGS_VIEW
from cutover_tui.store.records import READABLE_SCHEMAS, SCHEMA_VERSION
from runbooks.model import Runbook

# The tables in plain SQL, as sqlite-utils wrote them for the first logs (the same text, so every log
# has the same schema); importing sqlite-utils (and the numpy it loads) cost the first frame 0.4 s.
_SCHEMA = """
CREATE TABLE "sessions" (
   "id" INTEGER PRIMARY KEY,
   "runbook_name" TEXT NOT NULL,
   "runbook_text" TEXT NOT NULL,
   "runbook_sha256" TEXT NOT NULL,
   "planned_t0" TEXT,
   "actual_t0" TEXT,
   "host" TEXT,
   "operator" TEXT,
   "tool_version" TEXT,
   "rehearsal" INTEGER,
   "created_at" TEXT NOT NULL,
   "updated_at" TEXT NOT NULL,
   "head_seq" INTEGER,
   "head_hash" TEXT,
   "schema_version" INTEGER,
   "heartbeat_at" TEXT,
   "writer_scope" TEXT
);
CREATE TABLE "runbook_versions" (
   "sha256" TEXT PRIMARY KEY,
   "runbook_name" TEXT,
   "text" TEXT,
   "first_seen" TEXT
);
CREATE TABLE "events" (
   "seq" INTEGER PRIMARY KEY,
   "ts" TEXT NOT NULL,
   "kind" TEXT NOT NULL,
   "actor" TEXT NOT NULL,
   "payload" TEXT NOT NULL,
   "prev_hash" TEXT NOT NULL,
   "hash" TEXT NOT NULL
);
CREATE INDEX "idx_events_kind"
    ON "events" ("kind");
"""


#: Schema 2's readings: ``checks`` and ``outcomes`` name what ``ticks`` stores as small integers;
#: ``readings`` is the view a reviewer reads (every stored reading spelled out, with the columns its
#: digest is computed over).
_SCHEMA_READINGS = """
CREATE TABLE "checks" (
   "id" INTEGER PRIMARY KEY,
   "name" TEXT NOT NULL,
   "unit" TEXT NOT NULL
);
CREATE UNIQUE INDEX "idx_checks_name"
    ON "checks" ("name");
CREATE TABLE "outcomes" (
   "code" INTEGER PRIMARY KEY,
   "name" TEXT NOT NULL
);
CREATE TABLE "ticks" (
   "id" INTEGER PRIMARY KEY,
   "check_ref" INTEGER NOT NULL REFERENCES "checks"("id"),
   "ts_ms" INTEGER NOT NULL,
   "outcome_code" INTEGER NOT NULL REFERENCES "outcomes"("code"),
   "value" REAL,
   "unit" TEXT,
   "latency_ms" INTEGER,
   "degraded" INTEGER NOT NULL DEFAULT 0,
   "detail" TEXT NOT NULL DEFAULT '',
   "extra" TEXT
);
CREATE INDEX "idx_ticks_check_ref_ts_ms"
    ON "ticks" ("check_ref", "ts_ms");
"""


#: Schema 1's readings: every column spelled out in each row (kept to compare the formats).
_SCHEMA_READINGS_V1 = """
CREATE TABLE "ticks" (
   "id" INTEGER PRIMARY KEY,
   "check_id" TEXT NOT NULL,
   "ts" TEXT NOT NULL,
   "outcome" TEXT NOT NULL,
   "value" REAL,
   "unit" TEXT,
   "latency_ms" INTEGER,
   "degraded" INTEGER,
   "detail" TEXT,
   "extra" TEXT
);
CREATE INDEX "idx_ticks_check_id_ts"
    ON "ticks" ("check_id", "ts");
"""


# The chain already makes edits detectable; the triggers make accidental edits (a reviewer's UPDATE
# in a SQL shell) fail loudly instead.
_TRIGGERS = """
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
"""


def _create_schema(connection: sqlite3.Connection, version: int = SCHEMA_VERSION) -> None:
    """The log's tables, indexes, view and triggers (in the caller's transaction)."""
    for statement in _statements(_SCHEMA + (_SCHEMA_READINGS if version >= 2 else _SCHEMA_READINGS_V1)):
        connection.execute(statement)
    if version >= 2:
        connection.executemany("INSERT INTO outcomes (code, name) VALUES (?, ?)",
                               [(code, name) for name, code in OUTCOME_CODES.items()])  # fmt: skip
        connection.execute(READINGS_VIEW)
    for statement in _statements(_TRIGGERS):
        connection.execute(statement)


def _statements(script: str) -> list[str]:
    """A script's statements (a trigger's body ends with ``END;``)."""
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current)
        if text.endswith(";") and sqlite3.complete_statement(text):
            statements.append(text[:-1])
            current = []
    return statements


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    if read_only:
        connection = _connect_read_only(path)
    else:
        connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA busy_timeout=5000")
    return connection


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """``mode=ro``; on read-only media, where SQLite cannot make the WAL index, ``immutable=1``.

    An archived log (a reviewer's copy, a write-once evidence store) has no
    writer, so reading it as immutable is exact, as long as no ``-wal`` file
    beside it holds events that never reached the database file.
    """
    uri = path.resolve().as_uri()
    connection = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False, isolation_level=None)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return connection
    except sqlite3.OperationalError as error:
        connection.close()
        if "unable to open" not in str(error) and "readonly" not in str(error):
            raise
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise DamagedLog(
            f"{path}: its -wal file holds writes that never reached the database file, and SQLite cannot "
            f"read them where it lies (read-only media or folder); copy {path.name} and {wal.name} to a "
            "writable folder and open the copy"
        )
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=False, isolation_level=None)


def _prepare_writer(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA journal_mode=WAL")
    # FULL: every commit fsyncs the WAL, so an acknowledged event survives power loss.
    connection.execute("PRAGMA synchronous=FULL")


def _check_session_log(connection: sqlite3.Connection, path: Path) -> None:
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as error:
        raise _database_error(path, error) from None
    missing = {"sessions", "events", "ticks"} - tables
    if missing:
        raise NotASessionLog(f"{path}: not a session log (no {', '.join(sorted(missing))} table)")
    try:
        rows = connection.execute("SELECT count(*) FROM sessions").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise _database_error(path, error) from None
    if rows != 1:
        raise NotASessionLog(f"{path}: not a session log (sessions table must hold one row)")
    version = _schema_version(connection)
    if version not in READABLE_SCHEMAS:
        raise NewerLog(
            f"{path}: written in log schema {version}, which this cutover-tui ({__version__}) cannot read "
            f"(it reads schemas {', '.join(map(str, READABLE_SCHEMAS))}); open it with a newer cutover-tui"
        )


def _schema_version(connection: sqlite3.Connection) -> int:
    """``sessions.schema_version``; a log from before the column existed is schema 1."""
    try:
        row = connection.execute("SELECT schema_version FROM sessions").fetchone()
    except sqlite3.OperationalError:
        return 1
    return row[0] if row and isinstance(row[0], int) else 1


def _open_existing(path: Path, *, read_only: bool) -> sqlite3.Connection:
    if not path.is_file():
        raise NotASessionLog(f"{path}: no such session log")
    try:
        with open(path, "rb"):  # SQLite would only say "unable to open database file"
            pass
    except OSError as error:
        raise _os_error(path, error, "read the session log") from None
    try:
        connection = _connect(path, read_only=read_only)
    except sqlite3.DatabaseError as error:
        raise _database_error(path, error) from None
    try:
        _check_session_log(connection, path)  # before any write: a foreign file stays untouched
        if not read_only:
            _prepare_writer(connection)
    except sqlite3.DatabaseError as error:
        connection.close()
        raise _database_error(path, error, writing=not read_only) from None
    except SessionLogError:
        connection.close()
        raise
    return connection


def _remember_runbook(connection: sqlite3.Connection, runbook: Runbook, now: str) -> None:
    connection.execute(
        "INSERT OR IGNORE INTO runbook_versions (sha256, runbook_name, text, first_seen) VALUES (?,?,?,?)",
        (runbook.sha256, runbook.name, runbook.text, now),
    )


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rollback on error) on an autocommit connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __enter__(self) -> None:
        self._connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._connection.execute("ROLLBACK" if exc_type else "COMMIT")
