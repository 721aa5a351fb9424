"""The hash chain's arithmetic: the one JSON spelling hashed, an event's hash, a stored reading's digest and a seal's payload."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cutover_tui.store.records import format_ts


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


def _text(value: Any) -> str:
    """A column read as bytes, as text (ValueError when it is not UTF-8)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if value is None:
        raise ValueError("NULL")
    return str(value)


def tick_digest(row: Sequence[Any]) -> str:
    """``sha256(canonical_json(row))``: a reading's digest over its row as the format spells it."""
    return hashlib.sha256(canonical_json(list(row)).encode("utf-8")).hexdigest()


def seal_payload(first: int, last: int, digests: Sequence[str], field_value: Any) -> dict[str, Any]:
    """A ``ticks_sealed`` payload: the batch's first and last id, the sha256 of its readings' digests, each digest's start."""
    return {
        "first": first,
        "last": last,
        "sha256": hashlib.sha256("".join(digests).encode("ascii")).hexdigest(),
        "digests": field_value,
    }
