"""The session log: one SQLite file per session, event-sourced and hash-chained.

Its tables (``docs/session-log.md`` is the reviewer's reference):

- ``sessions``: one row, the runbook (text and sha256), T0, host, operator,
  version, the on-disk format (``schema_version``) and the chain head
  (``head_seq``, ``head_hash``);
- ``events``: append-only; each row's ``hash`` is
  ``sha256(prev_hash + canonical_json({seq, ts, kind, actor, payload}))``;
- ``ticks``: readings, kept on change, beyond a tolerance and as keyframes
  (``RetentionPolicy``), batched by a writer thread, each batch chained by a
  ``ticks_sealed`` event. Schema 2 stores a check number (``checks``),
  integer milliseconds and an outcome code (``outcomes``); the view
  ``readings`` spells each reading out, as its digest covers it. Schema 1
  (logs written before) spelled every row out; it is still read, verified,
  and resumed in its own format.

Example::

    log = SessionLog.create("go-live.cutover.db", runbook, operator="alice")
    log.append("step_started", {"step": "deploy"})   # durable when it returns
    log.record_reading(reading, statuses)            # batched, flushed within 1 s
    log.close()

One writer per file: ``create``/``open`` hold an ``flock`` on the database
file itself that dies with the process, so a ``kill -9`` never leaves a stale lock.
Readers (``open_readonly``) take no lock and never write; WAL lets them read
while the writer runs.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import hashlib
import json
import math
import os
import socket
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from checks.clock import Clock, SystemClock
from checks.reading import Reading
from checks.state import ConditionStatus
from cutover_tui import __version__
from cutover_tui.redaction import Redactor, secret_env_names
from runbooks.model import HttpSpec, Runbook

#: The on-disk format this code writes (``sessions.schema_version``); 1 is still read, and resumed in its own format.
SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
GENESIS_HASH = "0" * 64

#: Every event kind the log accepts (payloads: ``cutover_tui.state``).
EVENT_KINDS = frozenset(
    {
        "session_started",
        "session_resumed",
        "runbook_changed",
        "t0_set",
        "step_started",
        "step_completed",
        "step_failed",
        "step_skipped",
        "item_checked",
        "evidence_added",
        "note",
        "decision",
        "condition_changed",
        "condition_acknowledged",
        "rollback_started",
        "session_ended",
        "chain_break_accepted",
        "ticks_sealed",
        "baseline_fetched",
    }
)

#: Who writes the events the log makes itself (seals).
SYSTEM_ACTOR = "system"

# Flush pending ticks inline when the writer thread falls this far behind.
MAX_PENDING_TICKS = 20_000
FLUSH_INTERVAL_SECONDS = 1.0


class SessionLogError(Exception):
    """Base class for session log errors a person can act on."""


class NotASessionLog(SessionLogError):
    """The file is missing, not SQLite, or lacks the session tables."""


class DamagedLog(SessionLogError):
    """The file is a session log SQLite cannot read whole: a damaged page, an unreadable row."""


class CannotRead(SessionLogError):
    """The session log cannot be opened for reading: permission denied."""


class CannotWrite(SessionLogError):
    """The session log cannot be created or written here: permission, read-only media, no folder, no space."""


class NewerLog(SessionLogError):
    """The log was written in an on-disk format newer than this cutover-tui reads."""


class SessionLocked(SessionLogError):
    """Another process is writing this session."""


class BrokenChain(SessionLogError):
    """Resuming was refused: the log's hash chain does not verify."""

    def __init__(self, path: str, result: VerifyResult) -> None:
        self.result = result
        where = f"seq {result.bad_seq}: " if result.bad_seq is not None else ""
        super().__init__(
            f"{path}: the hash chain does not verify ({where}{result.reason}); refusing to resume it. "
            "Keep the file as evidence; pass --accept-broken-chain to resume anyway (the acceptance is logged)"
        )


class RunbookChanged(SessionLogError):
    """The runbook differs from the one the session was started with."""

    def __init__(self, path: str, stored_sha256: str, new_sha256: str) -> None:
        self.stored_sha256 = stored_sha256
        self.new_sha256 = new_sha256
        super().__init__(
            f"{path}: the runbook changed since this session started "
            f"(stored sha256 {stored_sha256}, this runbook sha256 {new_sha256}); "
            "pass --accept-runbook-change to resume with it (the change is logged)"
        )


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Which readings become stored ticks.

    A reading is stored when it is the check's first; when its outcome,
    degraded flag, non-pass detail, ``extra`` (ignoring float measurements
    such as an HTTP latency, which the value and keyframes cover) or any of
    its conditions' states changed since the last stored tick; when its value
    moved from the last stored value by more than
    ``max(relative_tolerance * |last|, absolute)``, where ``absolute`` is
    ``threshold_fraction`` of the smallest threshold the check is compared
    against (``pass_when``, a condition's ``when``, an HTTP ``max_latency``);
    and at least every ``keyframe_seconds``. Replayed values are therefore
    within that tolerance of what was polled.
    """

    # 2% of the threshold is a third of a bar of the conditions' 8-level
    # sparkline (its scale spans the values and the threshold); threshold
    # crossings change a condition's state and are always kept. These store
    # 6.8% of readings: under 400 MB with their seals for 1,000 checks x 72 h
    # x 5 s in schema 2 (benchmarks/log_size.py).
    relative_tolerance: float = 0.02
    threshold_fraction: float = 0.02
    keyframe_seconds: float = 120.0


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One row of ``events``."""

    seq: int
    ts: datetime
    kind: str
    actor: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


#: The ``extra`` of a reading without one: empty and read-only, shared.
NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


class TickRecord(NamedTuple):
    """One row of ``ticks``: a stored reading. Immutable, and a tuple: a seek builds thousands of them."""

    check_id: str
    ts: datetime
    outcome: str
    value: float | None
    unit: str = ""
    latency: float | None = None
    degraded: bool = False
    detail: str = ""
    extra: Mapping[str, Any] = NO_EXTRA
    id: int | None = None  # its row id: given when it is recorded, so an event can name it before it is written


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """The ``sessions`` row."""

    runbook_name: str
    runbook_text: str
    runbook_sha256: str
    planned_t0: datetime | None
    actual_t0: datetime | None
    host: str
    operator: str
    tool_version: str
    rehearsal: bool
    created_at: datetime
    updated_at: datetime
    head_seq: int
    head_hash: str


@dataclass(frozen=True, slots=True)
class WriteHealth:
    """Whether the log is being written: ``failing_since`` is None while every write succeeds.

    Attributes:
        failing_since: when the first write of the current failure failed.
        error: what failed, for people: "disk full", "I/O error", ...
    """

    failing_since: datetime | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.failing_since is None


def describe_write_error(error: BaseException) -> str:
    """A failed write in a few words: ``database or disk is full`` -> ``disk full``."""
    text = str(error)
    lowered = text.lower()
    if "disk is full" in lowered or "no space" in lowered:
        return "disk full"
    if "readonly" in lowered or "read-only" in lowered:
        return "the file became read-only"
    if "disk i/o" in lowered:
        return "disk I/O error"
    if "locked" in lowered or "busy" in lowered:
        return "the file is locked by another program"
    return text or type(error).__name__


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What ``verify`` found: ``reason`` says what is wrong; ``bad_seq`` names the row when one is.

    ``head_seq`` and ``head_hash`` are the last event's: publish them, and a
    copy held elsewhere catches a log later cut short or rewritten.
    ``bad_tick`` names a stored reading that does not match its seal.
    """

    events: int
    bad_seq: int | None = None
    reason: str = ""
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    ticks: int = 0  # readings checked against their seals
    bad_tick: int | None = None

    @property
    def ok(self) -> bool:
        return self.bad_seq is None and not self.reason


# ----------------------------------------------------------------- formats


def format_ts(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds and ``Z``: ``2026-12-01T16:30:00.123Z``."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_ts(text: str) -> datetime:
    """Inverse of ``format_ts`` (accepts any ISO 8601 with an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _plain(value: Any) -> Any:
    """JSON-ready copy: datetimes as ``format_ts``, non-finite floats as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return format_ts(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    """The one JSON spelling hashed and stored: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def event_hash(prev_hash: str, seq: int, ts: str, kind: str, actor: str, payload: Any) -> str:
    """``sha256(prev_hash + canonical_json({seq, ts, kind, actor, payload}))`` as hex."""
    body = canonical_json({"seq": seq, "ts": ts, "kind": kind, "actor": actor, "payload": payload})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


# ----------------------------------------------------------------- secrets

# The writer's second line against secrets; the one redaction every output uses.
_Redactor = Redactor


# ----------------------------------------------------------------- schema


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
   "heartbeat_at" TEXT
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


def _database_error(path: Path, error: sqlite3.Error, *, writing: bool = False) -> SessionLogError:
    """One line a person can act on, naming the database file, for what SQLite said."""
    text = str(error)
    if "file is not a database" in text or "not a database" in text:
        return NotASessionLog(f"{path}: not a session log ({text})")
    if "malformed" in text or "could not decode" in text.lower() or isinstance(error, sqlite3.DataError):
        return DamagedLog(
            f"{path}: the file is damaged ({_shortened(text)}); `cutover-tui verify {path}` says what of it still verifies"
        )
    if "readonly" in text or "unable to open" in text or "disk i/o" in text.lower():
        if writing:
            return CannotWrite(f"{path}: cannot write the session log here ({text}); "
                               f"the folder or the medium is read-only (read it with cutover-tui follow/replay/report/verify)")  # fmt: skip
        return DamagedLog(f"{path}: cannot read the session log ({text})")
    if "full" in text:
        return CannotWrite(f"{path}: cannot write the session log: the disk is full ({text})")
    if "locked" in text or "busy" in text:
        return SessionLocked(f"{path}: another process holds the database busy ({text})")
    return DamagedLog(f"{path}: {text}")


def _shortened(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _os_error(path: Path, error: OSError, doing: str) -> SessionLogError:
    """A one-line error naming the database (never a lock or a temporary file) for a failed open/create."""
    import errno

    reasons = {
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EROFS: "the file system is read-only",
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EISDIR: "it is a folder",
    }
    if error.errno == errno.ENOENT:
        folder = path.parent if str(path.parent) else Path(".")
        reason = f"the folder {folder} does not exist" if not folder.is_dir() else "no such file"
    else:
        reason = reasons.get(error.errno or 0, error.strerror or str(error))
    kind = CannotRead if doing.startswith("read") else CannotWrite
    return kind(f"{path}: cannot {doing}: {reason}")


# ----------------------------------------------------------------- the lock


class _WriterLock:
    """An ``flock`` on the database file itself: one writer per file, whatever path names it.

    A symlink, a hard link or another spelling of the path reaches the same
    file, and so the same lock. The kernel drops it when the process exits,
    even on ``kill -9``, and there is no lock file to leave behind. SQLite's
    own locks are POSIX locks, which ``flock`` does not touch.

    Closing any descriptor of a file drops the POSIX locks this process's
    SQLite connections hold on it, so the descriptor is opened before SQLite
    opens the file and closed after SQLite closed it, and a second writer in
    this process is refused before it opens one.
    """

    _held: dict[tuple[int, int], str] = {}  # (device, inode) -> the path it was locked through
    _held_guard = threading.Lock()

    def __init__(self, db_path: Path, *, create: bool = False) -> None:
        self.db_path = db_path
        if not create:
            try:
                existing = os.stat(db_path)
            except FileNotFoundError:
                raise NotASessionLog(f"{db_path}: no such session log") from None
            except OSError as error:
                raise _os_error(db_path, error, "open the session log") from None
            if (existing.st_dev, existing.st_ino) in self._held:
                raise SessionLocked(self._refusal(f"pid {os.getpid()} on host {socket.gethostname()}"))
        flags = os.O_RDWR | os.O_CLOEXEC | ((os.O_CREAT | os.O_EXCL) if create else 0)
        try:
            # O_EXCL: never adopt a file someone else made; 0600 before SQLite
            # touches it, and SQLite gives -wal and -shm the same mode.
            fd = os.open(db_path, flags, 0o600)
        except FileExistsError:
            raise
        except OSError as error:
            raise _os_error(db_path, error, "create the session log" if create else "open the session log for writing") from None
        identity = os.fstat(fd)
        self._key = (identity.st_dev, identity.st_ino)
        with self._held_guard:
            if self._key in self._held:
                os.close(fd)
                raise SessionLocked(self._refusal(f"pid {os.getpid()} on host {socket.gethostname()}"))
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise SessionLocked(self._refusal(_flock_holder(identity))) from None
            self._held[self._key] = str(db_path)
        self._fd: int | None = fd

    def _refusal(self, holder: str) -> str:
        return (f"{self.db_path} is being written by {holder}; "
                f"use `cutover-tui follow {self.db_path}` to watch it read-only")  # fmt: skip

    def release(self) -> None:
        """Drop the lock (after SQLite closed the file: see the class notes)."""
        if self._fd is not None:
            with self._held_guard:
                self._held.pop(self._key, None)
                os.close(self._fd)
                self._fd = None


def _flock_holder(identity: os.stat_result) -> str:
    """``pid N on host H`` for the process holding an ``flock`` on this file (Linux ``/proc/locks``)."""
    device = f"{os.major(identity.st_dev):02x}:{os.minor(identity.st_dev):02x}:{identity.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii") as locks:
            for line in locks:
                fields = line.split()
                if len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == device and fields[4].isdigit():
                    if int(fields[4]) > 0:
                        return f"pid {fields[4]} on host {socket.gethostname()}"
    except OSError:
        pass
    return "another process"


# ----------------------------------------------------------------- the log


@dataclass(slots=True)
class _Kept:
    """The last stored tick of a check, to decide whether the next reading is news."""

    ts: datetime
    outcome: str
    value: float | None
    degraded: bool
    detail: str
    extra_key: str  # extra without its float measurements
    states: tuple[tuple[str, str], ...]


class SessionLog:
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
        self._redact = _Redactor(secret_env_names(runbook) if runbook else ())
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

    # ------------------------------------------------------------ opening

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
                    " head_seq, head_hash, schema_version) VALUES (1,?,?,?,?,NULL,?,?,?,?,?,?,0,?,?)",
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
        log = cls(
            db_path, connection, read_only=False, operator=operator, runbook=runbook, clock=clock,
            retention=retention, lock=lock,
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
            if changed and not accept_runbook_change:
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
        try:
            log = cls(
                db_path, connection, read_only=False, operator=operator, runbook=runbook, clock=clock,
                retention=retention, lock=lock,
            )
        except sqlite3.DatabaseError as error:
            connection.close()
            lock.release()
            raise _database_error(db_path, error, writing=True) from None
        last_write = log.opened_after
        now = log._clock.now()
        log.append(
            "session_resumed",
            {
                "gap_seconds": round(max(0.0, (now - last_write).total_seconds()), 3) if last_write else 0.0,
                "last_write_ts": format_ts(last_write) if last_write else None,
                "accepted_runbook_change": changed,
            },
        )
        if not chain.ok:
            log.append("chain_break_accepted", {"bad_seq": chain.bad_seq, "reason": chain.reason})
        if changed:
            assert runbook is not None
            log._change_runbook(stored_sha, runbook)
        return log

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
        with self._db_lock:
            with _transaction(self._connection):
                _remember_runbook(self._connection, runbook, format_ts(self._clock.now()))
                self._connection.execute(
                    "UPDATE sessions SET runbook_name=?, runbook_text=?, runbook_sha256=?",
                    (runbook.name, runbook.text, runbook.sha256),
                )
        self.append("runbook_changed", {"old_sha256": old_sha, "new_sha256": runbook.sha256})

    # ------------------------------------------------------------ writing

    def append(
        self, kind: str, payload: Mapping[str, Any], actor: str | None = None, *, ts: datetime | None = None
    ) -> EventRecord:
        """Append one event; it is committed and fsynced when this returns.

        Pending ticks are written in the same transaction, so the ticks a
        decision was based on are as durable as the decision.

        Args:
            kind: one of ``EVENT_KINDS``.
            payload: the kind's payload (see ``cutover_tui.state``).
            actor: who did it; defaults to the operator.
            ts: when it happened, for an event held in memory while the log
                could not be written (default: now). Never earlier than the
                last event: the log's time order is its seq order.

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
            moment = self._clock.now() if ts is None else ts
            if self._head_ts is not None and moment < self._head_ts:
                moment = self._head_ts
            stamp = format_ts(moment)
            ticks = self._take_pending()
            try:
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

    def record_reading(
        self, reading: Reading, condition_statuses: Iterable[ConditionStatus] = ()
    ) -> TickRecord | None:
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
        extra = canonical_json(self._redact(_plain(dict(reading.extra)))) if reading.extra else ""
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
        tolerance = max(
            self.retention.relative_tolerance * abs(kept.value), self._epsilon.get(reading.check_id, 0.0)
        )
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
            ticks = self._take_pending()
            if not ticks and not heartbeat:
                return 0
            now = self._clock.now()
            if self._head_ts is not None and now < self._head_ts:
                now = self._head_ts
            try:
                with _transaction(self._connection):
                    if ticks:
                        self._write_ticks(ticks, format_ts(now))
                        seq, digest = self._pending_head
                        self._connection.execute(
                            "UPDATE sessions SET updated_at=?, head_seq=?, head_hash=?", (format_ts(now), seq, digest)
                        )
                    if heartbeat:
                        self._connection.execute(
                            "UPDATE sessions SET heartbeat_at=?", (format_ts(self._clock.now()),)
                        )
            except sqlite3.Error as error:
                self._return_pending(ticks)
                self._write_failed(error)
                raise
            self._write_ok()
            if ticks:
                self._committed(len(ticks), *self._pending_head, now)
        return len(ticks)

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

    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_SECONDS):
            try:
                self.flush_ticks(heartbeat=True)
            except sqlite3.Error:
                # A busy or full disk must not kill the thread: the ticks stay
                # pending, ``write_health`` says what failed, and the next
                # second tries again.
                continue
            except ValueError:  # closed meanwhile
                return

    # ------------------------------------------------------------ write health

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

    # ------------------------------------------------------------ reading

    def stored_runbook(self) -> Runbook:
        """The runbook exactly as the session stored it; follow, replay and report need no file.

        ``${VAR}`` in URLs stays unexpanded: those views poll nothing, and the
        variables may not be set where they run.
        """
        from runbooks import parse_runbook

        return parse_runbook(self.info().runbook_text, file=f"{self.path} (the runbook stored in the log)", expand_urls=False)

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
                    " FROM events WHERE seq > ? ORDER BY seq", (after_seq,)
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
        folding every tick (``Reducer.window_starts``). ``Reducer.state`` reads
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
            keys = None if checks is None else [k for k in dict.fromkeys(map(fmt.check_key, checks)) if k != -1 and k not in windowed]
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
            parts.append(f"SELECT {cols} FROM w JOIN ticks t ON t.id = ({latest_of.format(check='w.key', until='w.start')})")
        if not parts:
            return []
        sql = (f"WITH {', '.join(ctes)} " if ctes else "") + " UNION ALL ".join(parts)
        with self._db_lock:
            rows = self._query(sql, params)
            return self._decode(_in_time_order(rows, fmt))

    def ticks_written_after(self, tick_id: int) -> tuple[list[TickRecord], int]:
        """Ticks stored after row ``tick_id`` (in write order) and the newest row id: how a follower tails.

        Tailing by row id, not by time, never misses a tick that a batch
        flushed late with an earlier timestamp.
        """
        with self._db_lock:
            rows = self._query(f"SELECT {self._format.columns} FROM ticks WHERE id > ? ORDER BY id", [tick_id])
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

    # ------------------------------------------------------------ verifying

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


def _verify_connection(connection: sqlite3.Connection, path: Path, *, ticks: bool) -> VerifyResult:
    """``SessionLog.verify`` on an open connection (resuming verifies before it writes anything)."""
    try:
        # One read transaction: a writer appending meanwhile must not make
        # the head in sessions look ahead of the rows read.
        connection.execute("BEGIN")
        try:
            # As bytes: a payload that is not UTF-8 is an edit to name, not a crash.
            rows = connection.execute(
                "SELECT seq, CAST(ts AS BLOB), CAST(kind AS BLOB), CAST(actor AS BLOB), CAST(payload AS BLOB),"
                " CAST(prev_hash AS BLOB), CAST(hash AS BLOB) FROM events ORDER BY seq"
            ).fetchall()
            head = connection.execute("SELECT head_seq, head_hash, CAST(runbook_text AS BLOB) FROM sessions").fetchone()
            tick_rows = _TickRows(_tick_format(connection, _schema_version(connection))) if ticks else None
            return _verify_events(rows, head, tick_rows)
        finally:
            connection.execute("COMMIT")
    except sqlite3.DatabaseError as error:
        raise _database_error(path, error) from None


def _text(value: Any) -> str:
    """A column read as bytes, as text (ValueError when it is not UTF-8)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if value is None:
        raise ValueError("NULL")
    return str(value)


def _verify_events(rows: list[tuple], head: tuple, tick_rows: _TickRows | None) -> VerifyResult:
    """The chain walk behind ``SessionLog.verify`` over rows read as bytes."""
    count = len(rows)
    later_hashes = {row[6]: row[0] for row in rows}
    expected_prev, expected_seq = GENESIS_HASH, 1
    events: list[EventRecord] = []
    for seq, *raw in rows:
        ts_raw, kind_raw, actor_raw, payload_raw, prev_raw, hash_raw = raw
        if seq != expected_seq:
            missing = f"seq {expected_seq}" if seq == expected_seq + 1 else f"seqs {expected_seq}..{seq - 1}"
            return VerifyResult(count, expected_seq, f"deleted: {missing} missing before seq {seq}")
        try:
            ts, kind, actor, payload_text, prev_hash, stored_hash = (
                _text(v) for v in (ts_raw, kind_raw, actor_raw, payload_raw, prev_raw, hash_raw)
            )
        except ValueError:
            return VerifyResult(count, seq, "edited: the row holds bytes that are not UTF-8 text (damaged or edited)")
        if prev_hash != expected_prev:
            linked = later_hashes.get(prev_raw)
            if linked is not None and linked > seq:
                return VerifyResult(count, seq, f"reordered: its prev_hash is the hash of seq {linked}, which comes after it")
            return VerifyResult(
                count, seq - 1, f"edited: seq {seq - 1}'s hash was rewritten (seq {seq}'s prev_hash does not match it)"
            )
        try:
            payload = json.loads(payload_text)
            actual = event_hash(prev_hash, seq, ts, kind, actor, payload)
            event = EventRecord(seq, parse_ts(ts), kind, actor, payload, prev_hash, stored_hash)
        except (TypeError, ValueError):
            actual = None
        if actual != stored_hash:
            return VerifyResult(count, seq, "edited: the row's contents do not match its hash")
        events.append(event)
        expected_prev, expected_seq = stored_hash, seq + 1
    last_seq = expected_seq - 1
    head_seq, head_hash, runbook_raw = head
    if head_seq is not None and head_seq > last_seq:
        return VerifyResult(count, last_seq + 1, f"deleted: the log ends at seq {last_seq} but its head is seq {head_seq}")
    if head_seq == last_seq and head_hash != expected_prev and last_seq > 0:
        return VerifyResult(count, last_seq, "edited: the last event does not match the head hash in sessions")
    found = {"head_seq": last_seq, "head_hash": expected_prev}
    # The runbook text lives in sessions, outside the chain: it must hash to what the chain last recorded.
    try:
        runbook_ok = runbook_matches_chain(_text(runbook_raw), events)
    except ValueError:
        runbook_ok = False
    if not runbook_ok:
        return VerifyResult(
            count, None, "edited: the runbook text in the sessions table does not match the sha256 its events recorded", **found
        )
    checked = 0
    if tick_rows is not None:
        bad_tick, reason, checked = tick_rows.verify(events)
        if reason:
            return VerifyResult(count, None, reason, ticks=checked, bad_tick=bad_tick, **found)
    # A break accepted when resuming is still a break: the log is whole only after it.
    for event in events:
        if event.kind == "chain_break_accepted":
            bad = event.payload.get("bad_seq")
            return VerifyResult(
                count, bad if isinstance(bad, int) else event.seq,
                f"{event.payload.get('reason', 'the chain was broken')} (accepted when resumed by {event.actor} at seq {event.seq})",
                ticks=checked, **found,
            )  # fmt: skip
    return VerifyResult(count, ticks=checked, **found)


class _TickRows:
    """The stored readings, checked against the ``ticks_sealed`` events that chain them.

    Seals cover ids 1, 2, 3 ... in order without gaps, so a deleted reading
    leaves a hole, an inserted one is covered by no seal, and an edited one
    no longer matches its digest (named) or its batch's sha256.
    """

    def __init__(self, tick_format: _TickFormat) -> None:
        self._format = tick_format

    def verify(self, events: Sequence[EventRecord]) -> tuple[int | None, str, int]:
        """(first bad tick id, why, readings checked); why is empty when every reading matches."""
        import itertools

        if isinstance(self._format, _TicksV2):
            problem = self._format.check_format()
            if problem:
                return None, problem, 0
        rows = self._format.verify_rows()
        checked, expected = 0, 1
        for seal in (e for e in events if e.kind == "ticks_sealed"):
            first, last = seal.payload.get("first"), seal.payload.get("last")
            if not (isinstance(first, int) and isinstance(last, int)) or first != expected or last < first:
                return expected, f"edited: the ticks_sealed event at seq {seal.seq} does not continue the one before it", checked
            problem = _check_sealed(seal, list(itertools.islice(rows, last - first + 1)))
            if problem is not None:
                return problem[0], problem[1], checked
            checked, expected = checked + last - first + 1, last + 1
        extra = next(rows, None)
        if extra is not None:
            return extra[0], f"inserted: reading {extra[3]} is sealed by no ticks_sealed event", checked
        return None, "", checked


def _seal_digests(seal: EventRecord) -> list[str] | None:
    """The digest starts a seal lists: a JSON list (schema 1) or one string of equal parts (schema 2); None if malformed."""
    first, last = seal.payload["first"], seal.payload["last"]
    count = last - first + 1
    digests = seal.payload.get("digests")
    if isinstance(digests, list) and len(digests) == count and all(isinstance(d, str) for d in digests):
        return digests
    if isinstance(digests, str) and count > 0 and len(digests) >= count and len(digests) % count == 0:
        width = len(digests) // count
        return [digests[n * width : (n + 1) * width] for n in range(count)]
    return None


def _check_sealed(seal: EventRecord, rows: list[tuple[int, Any, list[Any] | None, str]]) -> tuple[int, str] | None:
    """The first reading in ``rows`` (from ``verify_rows``) that does not match ``seal``, and why; None when all do."""
    first = seal.payload["first"]
    digests = _seal_digests(seal)
    if digests is None:
        return first, f"edited: the ticks_sealed event at seq {seal.seq} lists the wrong number of readings"
    full: list[str] = []
    if len(rows) < len(digests) and all(row[0] == first + n for n, row in enumerate(rows)):
        missing = first + len(rows)
        return missing, f"deleted: reading {missing} (sealed at seq {seal.seq}) is missing"
    for offset, (tick_id, _, digested, name) in enumerate(rows):
        if tick_id != first + offset:
            return first + offset, f"deleted: reading {first + offset} (sealed at seq {seal.seq}) is missing"
        try:
            digest = tick_digest(digested) if digested is not None else ""
        except (ValueError, TypeError):
            digest = ""
        if not digest or digest[: len(digests[offset])] != digests[offset]:
            return tick_id, f"edited: reading {name} does not match its seal (seq {seal.seq})"
        full.append(digest)
    if hashlib.sha256("".join(full).encode("ascii")).hexdigest() != seal.payload.get("sha256"):
        return first, f"edited: readings {first}..{first + len(rows) - 1} do not match their seal (seq {seal.seq})"
    return None


def runbook_matches_chain(text: str, events: Sequence[EventRecord]) -> bool:
    """Whether ``text`` hashes to the sha256 the chain last recorded (True when no event records one)."""
    recorded = ""
    for event in events:
        if event.kind == "session_started":
            recorded = str(event.payload.get("runbook_sha256") or "")
        elif event.kind == "runbook_changed":
            recorded = str(event.payload.get("new_sha256") or recorded)
    if not recorded:
        return True
    encoded = text.encode("utf-8", "surrogatepass")
    # load_runbook hashes the file's bytes, which may start with a UTF-8 byte order mark the text lacks.
    return recorded in (hashlib.sha256(encoded).hexdigest(), hashlib.sha256(codecs.BOM_UTF8 + encoded).hexdigest())


def verify_file(path: str | os.PathLike[str]) -> VerifyResult:
    """Open ``path`` read-only and verify its chain and readings.

    Raises:
        NotASessionLog: the file is not a session log.
        DamagedLog: SQLite cannot read it whole.
    """
    with SessionLog.open_readonly(path) as log:
        return log.verify()


# ----------------------------------------------------------------- readings on disk

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


def tick_digest(row: Sequence[Any]) -> str:
    """``sha256(canonical_json(row))``: a reading's digest over its row as the format spells it."""
    return hashlib.sha256(canonical_json(list(row)).encode("utf-8")).hexdigest()


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
        for ref, name, unit in self._connection.execute("SELECT id, CAST(name AS BLOB), CAST(unit AS BLOB) FROM checks"):
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
        view = self._connection.execute("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'readings'").fetchone()
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


def seal_payload(first: int, last: int, digests: Sequence[str], field_value: Any) -> dict[str, Any]:
    """A ``ticks_sealed`` payload: the batch's first and last id, the sha256 of its readings' digests, each digest's start."""
    return {
        "first": first,
        "last": last,
        "sha256": hashlib.sha256("".join(digests).encode("ascii")).hexdigest(),
        "digests": field_value,
    }


# ----------------------------------------------------------------- helpers


def _check_epsilons(runbook: Runbook, retention: RetentionPolicy) -> dict[str, float]:
    """Per check, ``threshold_fraction`` of the smallest non-zero threshold it is compared with."""
    thresholds: dict[str, list[float]] = {}
    for check in runbook.checks.values():
        if check.pass_when is not None:
            thresholds.setdefault(check.id, []).append(abs(check.pass_when.value))
        if isinstance(check.spec, HttpSpec) and check.spec.max_latency is not None:
            thresholds.setdefault(check.id, []).append(abs(check.spec.max_latency))
    for condition in runbook.stop_conditions:
        for threshold in (condition.when, condition.floor):
            if threshold is not None:
                thresholds.setdefault(condition.check, []).append(abs(threshold.value))
    return {
        check_id: retention.threshold_fraction * min(nonzero)
        for check_id, values in thresholds.items()
        if (nonzero := [v for v in values if v > 0])
    }


def _without_floats(value: Any) -> Any:
    """``value`` with every float replaced by None: what makes an ``extra`` news."""
    if isinstance(value, float):
        return None
    if isinstance(value, dict):
        return {k: _without_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_floats(v) for v in value]
    return value


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
