"""The ``http`` probe: status, latency and optionally one JSON field of an endpoint.

- A status outside ``expect_status`` (default: any 2xx) is a BREACH ("HTTP 503").
- Slower than ``max_latency`` is a BREACH.
- With ``json_path`` the value is that JSON field (booleans are 1/0); a missing
  or null field is NODATA, never 0; a non-number is INVALID, and so is a field
  on the path given twice in one object (parsers disagree on which value wins);
  a body that is not JSON is an ERROR. Without ``json_path`` the value is the latency in seconds.
- Transport failures and timeouts are ERRORs (``run_probe`` reports them).
- A cache's answer (``Age`` older than the check's interval, though the request
  said ``no-cache``) is the service as it was before the last poll: degraded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from checks.probes.common import (
    Observation,
    ProbeFailed,
    build_headers,
    cache_fields,
    error,
    fetch,
    format_seconds,
    judge,
    parse_number,
)
from checks.probes.context import ProbeContext
from checks.reading import Outcome
from runbooks.model import Check, HttpSpec

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


async def probe(check: Check, ctx: ProbeContext) -> Observation:
    """Request the check's URL once and judge status, latency and value."""
    spec = check.spec_as(HttpSpec)
    headers = build_headers(ctx.env, spec.headers)
    started = ctx.clock.monotonic()
    response = await fetch(
        ctx,
        spec.url,
        method=spec.method,
        headers=headers,
        timeout=check.timeout,
        verify=spec.verify_tls,
    )
    latency = max(0.0, ctx.clock.monotonic() - started)
    extra: dict[str, Any] = {"status": response.status, "latency": latency}
    cached = cache_fields(check, response, extra)

    expected = frozenset(spec.expect_status)  # empty: any 2xx
    if not (response.status in expected if expected else response.ok):
        return Observation(Outcome.BREACH, None, f"HTTP {response.status}", extra=extra, **cached)

    breaches = []
    if spec.max_latency is not None and latency > spec.max_latency:
        breaches.append(f"latency {format_seconds(latency)} > {format_seconds(spec.max_latency)}")

    if not spec.json_path:
        return judge(check, latency, breaches=breaches, unit="s", extra=extra, **cached)
    try:
        value = _json_value(response.body, spec.json_path)
    except ProbeFailed as failure:
        if breaches:  # a breach we can see outranks a value we cannot read
            return Observation(Outcome.BREACH, None, "; ".join([*breaches, failure.detail]), extra=extra, **cached)
        raise
    return judge(check, value, breaches=breaches, extra=extra, **cached)


def _json_value(body: bytes, json_path: str) -> float:
    """The number at ``json_path`` (``status.ok``, ``items[0].value``) in a JSON body."""
    try:
        document = json.loads(body, object_pairs_hook=_JsonObject.of)
    except (ValueError, UnicodeDecodeError):
        raise error("response body is not valid JSON") from None
    node: Any = document
    for key in _path_parts(json_path):
        if isinstance(key, int):
            present = isinstance(node, list) and -len(node) <= key < len(node)
        else:
            present = isinstance(node, dict) and key in node
        if not present:
            raise ProbeFailed(Outcome.NODATA, f"{json_path} is missing from the response")
        if isinstance(node, _JsonObject) and key in node.twice:
            raise ProbeFailed(Outcome.INVALID, f"{json_path} is given twice in the response")
        node = node[key]
    if node is None:
        raise ProbeFailed(Outcome.NODATA, f"{json_path} is null")
    return parse_number(node, json_path)


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers the keys it was given more than once (parsers disagree on which value wins)."""

    twice: frozenset[str] = frozenset()

    @classmethod
    def of(cls, pairs: list[tuple[str, Any]]) -> _JsonObject:
        made = cls(pairs)
        if len(made) < len(pairs):
            keys = [key for key, _ in pairs]
            made.twice = frozenset(key for key in made if keys.count(key) > 1)
        return made


def _path_parts(json_path: str) -> Iterable[str | int]:
    """``a.b[0].c`` -> ``a``, ``b``, ``0``, ``c``."""
    position = 0
    for match in _PATH_PART.finditer(json_path):
        if match.start() != position and json_path[position : match.start()] != ".":
            raise error(f"bad json_path {json_path!r}")
        position = match.end()
        name, index = match.groups()
        yield int(index) if index is not None else name
    if position != len(json_path):
        raise error(f"bad json_path {json_path!r}")
