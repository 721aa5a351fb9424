"""Verifying a log: the chain walk over its events, and every stored reading against its seal."""

from __future__ import annotations

import codecs
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cutover_tui.store.chain import _text, event_hash, tick_digest
from cutover_tui.store.errors import _database_error
from cutover_tui.store.formats import _tick_format, _TickFormat, _TicksV2
from cutover_tui.store.records import GENESIS_HASH, EventRecord, VerifyResult, parse_ts
from cutover_tui.store.schema import _schema_version


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
                return VerifyResult(
                    count, seq, f"reordered: its prev_hash is the hash of seq {linked}, which comes after it"
                )
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
        return VerifyResult(
            count, last_seq + 1, f"deleted: the log ends at seq {last_seq} but its head is seq {head_seq}"
        )
    if head_seq == last_seq and head_hash != expected_prev and last_seq > 0:
        return VerifyResult(count, last_seq, "edited: the last event does not match the head hash in sessions")
    # The runbook text lives in sessions, outside the chain: it must hash to what the chain last recorded.
    try:
        runbook_ok = runbook_matches_chain(_text(runbook_raw), events)
    except ValueError:
        runbook_ok = False
    if not runbook_ok:
        return VerifyResult(
            count,
            None,
            "edited: the runbook text in the sessions table does not match the sha256 its events recorded",
            head_seq=last_seq,
            head_hash=expected_prev,
        )
    checked = 0
    if tick_rows is not None:
        bad_tick, reason, checked = tick_rows.verify(events)
        if reason:
            return VerifyResult(
                count, None, reason, ticks=checked, bad_tick=bad_tick, head_seq=last_seq, head_hash=expected_prev
            )
    # A break accepted when resuming is still a break: the log is whole only after it.
    for event in events:
        if event.kind == "chain_break_accepted":
            bad = event.payload.get("bad_seq")
            return VerifyResult(
                count, bad if isinstance(bad, int) else event.seq,
                f"{event.payload.get('reason', 'the chain was broken')} (accepted when resumed by {event.actor} at seq {event.seq})",
                ticks=checked, head_seq=last_seq, head_hash=expected_prev,
            )  # fmt: skip
    return VerifyResult(count, ticks=checked, head_seq=last_seq, head_hash=expected_prev)


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
                return (
                    expected,
                    f"edited: the ticks_sealed event at seq {seal.seq} does not continue the one before it",
                    checked,
                )
            broken = _check_sealed(seal, list(itertools.islice(rows, last - first + 1)))
            if broken is not None:
                return broken[0], broken[1], checked
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
