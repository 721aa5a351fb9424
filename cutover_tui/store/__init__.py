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

The package, by responsibility: ``log`` (``SessionLog``: create, resume, open
read-only, close), ``writer`` (events, batched readings and their seals, the
flush thread, heartbeat, write health), ``queries`` (reading events and stored
readings), ``retention`` (which readings are stored), ``formats`` (schema 1
and 2 encodings of stored readings), ``chain`` (hashes and seals), ``verify``
(the chain walk), ``schema`` (tables, connections, transactions), ``lock``
(one writer per file), ``records`` and ``errors``.
"""

from cutover_tui.store.chain import canonical_json, event_hash, seal_payload, tick_digest
from cutover_tui.store.errors import (
    BrokenChain,
    CannotRead,
    CannotWrite,
    DamagedLog,
    NewerLog,
    NotASessionLog,
    RunbookChanged,
    SessionLocked,
    SessionLogError,
    describe_write_error,
)
from cutover_tui.store.formats import OUTCOME_CODES, READINGS_VIEW, from_ms, to_ms
from cutover_tui.store.lock import disk_full, lock_scope, writer_pid
from cutover_tui.store.log import SessionLog, verify_file
from cutover_tui.store.records import (
    EVENT_KINDS,
    GENESIS_HASH,
    NO_EXTRA,
    READABLE_SCHEMAS,
    SCHEMA_VERSION,
    SYSTEM_ACTOR,
    EventRecord,
    SessionInfo,
    TickRecord,
    VerifyResult,
    WriteHealth,
    format_ts,
    parse_ts,
)
from cutover_tui.store.retention import RetentionPolicy, _check_epsilons
from cutover_tui.store.verify import runbook_matches_chain
from cutover_tui.store.writer import FLUSH_INTERVAL_SECONDS, MAX_PENDING_TICKS

__all__ = [
    "BrokenChain",
    "CannotRead",
    "CannotWrite",
    "DamagedLog",
    "EVENT_KINDS",
    "EventRecord",
    "FLUSH_INTERVAL_SECONDS",
    "GENESIS_HASH",
    "MAX_PENDING_TICKS",
    "NO_EXTRA",
    "NewerLog",
    "NotASessionLog",
    "OUTCOME_CODES",
    "READABLE_SCHEMAS",
    "READINGS_VIEW",
    "RetentionPolicy",
    "RunbookChanged",
    "SCHEMA_VERSION",
    "SYSTEM_ACTOR",
    "SessionInfo",
    "SessionLocked",
    "SessionLog",
    "SessionLogError",
    "TickRecord",
    "VerifyResult",
    "WriteHealth",
    "_check_epsilons",
    "canonical_json",
    "describe_write_error",
    "event_hash",
    "format_ts",
    "from_ms",
    "lock_scope",
    "parse_ts",
    "runbook_matches_chain",
    "seal_payload",
    "tick_digest",
    "to_ms",
    "verify_file",
    "writer_pid",
    "disk_full",
]
