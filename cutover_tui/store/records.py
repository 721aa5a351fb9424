"""What the log holds and hands out: its format's constants, the records of events and stored readings, the session's row, write health, a verification's result, and the one timestamp format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple

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


#: The ``extra`` of a reading without one: empty, shared, never changed (read-only by its type). A plain
#: empty dict, which the cyclic garbage collector does not track: a tick holding it is a tuple of atoms,
#: which the collector stops tracking once it has seen it, so thousands of ticks kept in memory never
#: lengthen its passes (a ``MappingProxyType`` would keep every tick tracked).
NO_EXTRA: Mapping[str, Any] = {}


class TickRecord(NamedTuple):
    """One row of ``ticks``: a stored reading. Immutable, and a tuple: a seek builds thousands of them.

    Every field is an atom (str, number, None, a datetime) and ``extra`` an
    untracked dict unless its values hold containers, so the cyclic garbage
    collector stops tracking a tick after its first pass over it.
    """

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


def format_ts(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds and ``Z``: ``2026-12-01T16:30:00.123Z``."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_ts(text: str) -> datetime:
    """Inverse of ``format_ts`` (accepts any ISO 8601 with an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
