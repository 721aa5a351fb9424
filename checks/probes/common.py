"""What every probe shares: observations, judging a value, headers, bounded HTTP GETs."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from checks.reading import Outcome
from checks.wording import format_value
from runbooks.model import AlertsSpec, Check, PromqlSpec, Reduce, Source

if TYPE_CHECKING:
    from checks.probes.context import ProbeContext

#: Largest response body a probe reads; a bigger one is an error, not a memory spike.
MAX_BODY_BYTES = 10 * 1024 * 1024
#: Longest detail line kept from a server's error text.
MAX_DETAIL_CHARS = 200

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True, slots=True)
class Observation:
    """What a probe saw, before timing and the ``on_nodata``/``on_invalid`` mapping.

    ``final`` marks an outcome the check's ``on_nodata``/``on_invalid`` must not
    rewrite (a missing watchdog or a plugin's UNKNOWN: we cannot tell, whatever
    the runbook says about an empty result).
    """

    outcome: Outcome
    value: float | None = None
    detail: str = ""
    degraded: bool = False
    sample_age: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    unit: str | None = None  # None: the check's own unit
    final: bool = False


class ProbeFailed(Exception):
    """Raised inside a probe to end the poll with ``outcome`` and ``detail``."""

    def __init__(self, outcome: Outcome, detail: str, *, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
        self.extra = dict(extra or {})


def error(detail: str, **extra: Any) -> ProbeFailed:
    """An ``ERROR`` outcome to raise: ``raise error("HTTP 502 Bad Gateway")``."""
    return ProbeFailed(Outcome.ERROR, detail, extra=extra)


def shorten(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """The first line of ``text``, stripped and cut to ``limit`` characters."""
    lines = text.strip().splitlines()
    line = lines[0].strip() if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def describe_series(labels: Mapping[str, str], metric: str = "") -> str:
    """``name{a="1",b="2"}`` as Prometheus writes a series (``__name__`` becomes the name)."""
    labels = dict(labels)
    name = labels.pop("__name__", metric)
    inner = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return f"{name}{{{inner}}}" if inner or not name else name


def several_series_error(described: list[str]) -> ProbeFailed:
    """ERROR naming (up to three of) the series found where one was expected."""
    shown = ", ".join(sorted(described)[:3])
    more = f" and {len(described) - 3} more" if len(described) > 3 else ""
    return error(f"{len(described)} series where one was expected: {shown}{more}")


#: ``reduce: max | min | sum`` — several series to one value.
REDUCERS: dict[Reduce, Callable[[Iterable[float]], float]] = {"max": max, "min": min, "sum": math.fsum}


def format_seconds(seconds: float) -> str:
    """``5s``, ``1.5s``, ``250ms``: a duration as a person writes it."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:g}s"


def format_number(value: float, unit: str = "") -> str:
    """A value for a detail line, in ``unit`` as the screen shows values (``checks.conditions.format_value``)."""
    return format_value(value, unit)


def judge(check: Check, value: float, *, breaches: list[str] | None = None, **fields: Any) -> Observation:
    """Compare a finite ``value`` with the check's ``pass_when`` and return the observation.

    Args:
        check: the check whose ``pass_when`` applies (absent: any value passes).
        value: a finite number (callers turn NaN and ±Inf into INVALID first).
        breaches: kind-specific reasons already breached (e.g. ``"HTTP 503"``).
        **fields: passed on to ``Observation`` (extra, sample_age, degraded, unit, detail).

    Returns:
        A ``BREACH`` naming every reason, or a ``PASS``.
    """
    reasons = list(breaches or ())
    if check.pass_when is not None and not check.pass_when.holds(value):
        when = check.pass_when
        reasons.append(f"{format_value(value, when.unit, near=when.value)} fails {when.text}")
    detail = fields.pop("detail", "")
    if reasons:
        return Observation(Outcome.BREACH, value, "; ".join(reasons), **fields)
    return Observation(Outcome.PASS, value, detail, **fields)


def parse_number(raw: object, what: str) -> float:
    """A finite float from a JSON or text value; ``ProbeFailed`` INVALID otherwise.

    Booleans count as 1 and 0; numeric strings (as Prometheus sends) are read;
    NaN, ±Inf and anything else are INVALID, never coerced to 0.
    """
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, (int, float)):
        number = float(raw)
    elif isinstance(raw, str):
        try:
            number = float(raw)
        except ValueError:
            raise ProbeFailed(Outcome.INVALID, f"{what} is {shorten(raw, 40)!r}, not a number") from None
    else:
        raise ProbeFailed(Outcome.INVALID, f"{what} is a {type(raw).__name__}, not a number")
    if math.isnan(number):
        raise ProbeFailed(Outcome.INVALID, f"{what} is NaN")
    if math.isinf(number):
        raise ProbeFailed(Outcome.INVALID, f"{what} is {'+' if number > 0 else '-'}Inf")
    return number


def expand_env(template: str, env: Mapping[str, str]) -> str:
    """Expand ``${NAME}`` and ``${NAME:-default}`` from ``env``.

    Raises:
        ProbeFailed: ERROR naming the variable when it is unset and has no default
            (an empty header must never be sent in its place).
    """

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise error(f"environment variable {name} is not set")

    return _ENV_REFERENCE.sub(replace, template)


def build_headers(
    env: Mapping[str, str],
    *header_sets: Mapping[str, str] | None,
    token_env: str | None = None,
) -> dict[str, str]:
    """Request headers: later sets win, ``${ENV}`` expanded now, bearer token from ``token_env``."""
    headers: dict[str, str] = {}
    for header_set in header_sets:
        for name, template in (header_set or {}).items():
            headers[name] = expand_env(str(template), env)
    if token_env:
        token = env.get(token_env)
        if not token:
            raise error(f"environment variable {token_env} is not set")
        headers["Authorization"] = f"Bearer {token}"
    return headers


def source_of(check: Check, ctx: ProbeContext, kind: str) -> Source:
    """The source a promql/alerts check reads: named in its spec, else the only one of ``kind``."""
    source_id = check.spec.source if isinstance(check.spec, (PromqlSpec, AlertsSpec)) else None
    sources = ctx.runbook.sources
    if source_id:
        try:
            return sources[source_id]
        except KeyError:
            raise error(f"unknown source {source_id!r}") from None
    candidates = [s for s in sources.values() if s.kind == kind]
    if len(candidates) != 1:
        raise error(f"check names no source and the runbook has {len(candidates)} {kind} sources")
    return candidates[0]


@dataclass(frozen=True, slots=True)
class Fetched:
    """A response read in full (up to ``MAX_BODY_BYTES``)."""

    status: int
    reason: str
    content_type: str
    body: bytes
    age: float | None = None  # the ``Age`` header: seconds a cache held this answer

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error_detail(self) -> str:
        """``HTTP 503 Service Unavailable`` plus the first line of a plain-text body.

        HTML bodies (proxies' error pages) are never quoted: one line of markup
        tells a person nothing.
        """
        detail = f"HTTP {self.status} {self.reason}".rstrip()
        text = self.body[:1024].decode("utf-8", "replace")
        if text.strip() and "html" not in self.content_type and not text.lstrip().startswith("<"):
            detail += f": {shorten(text)}"
        return detail


async def fetch(
    ctx: ProbeContext,
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    params: Any = None,
    timeout: float,
    verify: bool = True,
) -> Fetched:
    """One request on the context's shared session, redirects not followed, the body read up to ``MAX_BODY_BYTES``.

    It says ``Cache-Control: no-cache`` (unless ``headers`` set it): a cache in front of the service must ask the
    service again, not answer from its copy. A cache that answers anyway says how old its copy is (``Fetched.age``).

    Raises:
        aiohttp.ClientError: on transport failures (``run_probe`` reports them).
        TimeoutError: when the request is not done within ``timeout`` seconds.
        ProbeFailed: ERROR when the body is too large.
    """
    session = ctx.http_session()
    target = urlsplit(url)
    if not any(name.lower() == "cache-control" for name in headers or {}):
        headers = {**(headers or {}), "Cache-Control": "no-cache"}
    async with (
        ctx.http_slot(),
        session.request(
            method,
            url,
            headers=headers,
            params=params,
            timeout=aiohttp.ClientTimeout(total=timeout),
            ssl=verify,
            allow_redirects=False,
            proxy=ctx.proxy_for(target.scheme, target.netloc.rpartition("@")[2]),
        ) as response,
    ):
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise error(f"response body larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB")
            chunks.append(chunk)
        return Fetched(
            status=response.status,
            reason=response.reason or "",
            content_type=response.headers.get("content-type", "").lower(),
            body=b"".join(chunks),
            age=_seconds(response.headers.get("age")),
        )


def _seconds(header: str | None) -> float | None:
    """An ``Age`` header's whole seconds (a negative one as 0); None when absent or not a number."""
    try:
        return float(max(0, int(header))) if header is not None else None
    except ValueError:
        return None


def cache_fields(check: Check, response: Fetched, extra: dict[str, Any]) -> dict[str, Any]:
    """An answer's age as a cache gave it (``Age``), as the reading's ``sample_age``; older than the check's interval,
    the answer is the service as it was before the last poll: ``degraded``, its warning added to ``extra``.

    A pass from it vouches for nothing; a breach still shows.
    """
    if response.age is None:
        return {}
    if response.age <= check.every:
        return {"sample_age": response.age}
    extra["warnings"] = [f"answered by a cache: {response.age:.0f}s old (its Age header), older than the last poll"]
    return {"sample_age": response.age, "degraded": True}
