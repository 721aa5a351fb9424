"""Probes: poll one check, return one ``Reading``.

Example::

    ctx = ProbeContext(runbook)
    reading = await run_probe(runbook.checks["api_health"], ctx)
    await ctx.aclose()

``run_probe`` never raises (except ``CancelledError``): every failure is a
``Reading`` with outcome ``ERROR`` and a short detail. The whole poll is bounded
by the check's ``timeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp

from checks.probes import alerts, command, http, placeholder, promql, scrape
from checks.probes.common import Observation, ProbeFailed, format_seconds, shorten
from checks.probes.context import ProbeContext
from checks.reading import Outcome, Reading
from runbooks.model import Check

__all__ = ["PAST_KINDS", "ProbeContext", "run_probe"]

_PROBES: dict[str, Callable[[Check, ProbeContext], Awaitable[Observation]]] = {
    "http": http.probe,
    "promql": promql.probe,
    "alerts": alerts.probe,
    "scrape": scrape.probe,
    "command": command.probe,
    "placeholder": placeholder.probe,
}

#: The probes whose source can be asked what it said at a past instant (``run_probe``'s ``at``).
_PAST_PROBES: dict[str, Callable[[Check, ProbeContext, float], Awaitable[Observation]]] = {"promql": promql.probe}
#: The kinds those probes serve.
PAST_KINDS = frozenset(_PAST_PROBES)

_MAPPED = {"pass": Outcome.PASS, "breach": Outcome.BREACH}


async def run_probe(check: Check, ctx: ProbeContext, *, at: float | None = None) -> Reading:
    """Poll ``check`` once and return what was observed.

    Applies the check's ``pass_when``, ``on_nodata`` and ``on_invalid``; the
    poll, including any command it runs, ends within ``check.timeout``.
    ``at`` (POSIX seconds, for the ``PAST_KINDS`` only) asks the source what it
    said at that past instant; the reading is still stamped when it was taken.
    """
    if at is not None and check.kind not in PAST_KINDS:
        raise ValueError(f"a {check.kind} check cannot be asked about the past")
    started = ctx.clock.monotonic()
    try:
        async with asyncio.timeout(check.timeout):
            if at is None:
                observation = await _PROBES[check.kind](check, ctx)
            else:
                observation = await _PAST_PROBES[check.kind](check, ctx, at)
    except ProbeFailed as failure:
        observation = Observation(failure.outcome, detail=failure.detail, extra=failure.extra)
    except TimeoutError:
        observation = Observation(Outcome.ERROR, detail=f"timed out after {format_seconds(check.timeout)}")
    except aiohttp.ClientError as exc:
        observation = Observation(Outcome.ERROR, detail=_transport_detail(exc))
    except Exception as exc:  # a probe bug must still be a visible ERROR, never a crash or a pass
        observation = Observation(Outcome.ERROR, detail=shorten(f"{type(exc).__name__}: {exc}"))
    observation = _apply_on_nodata_on_invalid(check, observation)
    finished = ctx.clock.monotonic()
    return Reading(
        check_id=check.id,
        outcome=observation.outcome,
        value=observation.value,
        unit=check.unit if observation.unit is None else observation.unit,
        latency=max(0.0, finished - started),
        observed_at=ctx.clock.now(),
        monotonic=finished,
        detail=observation.detail,
        degraded=observation.degraded,
        sample_age=observation.sample_age,
        extra=observation.extra,
    )


def _apply_on_nodata_on_invalid(check: Check, observation: Observation) -> Observation:
    """Rewrite NODATA / INVALID as the check asks (``pass`` or ``breach``); ``unknown`` keeps it."""
    if observation.final:
        return observation
    if observation.outcome is Outcome.NODATA:
        policy, key = check.on_nodata, "on_nodata"
    elif observation.outcome is Outcome.INVALID:
        policy, key = check.on_invalid, "on_invalid"
    else:
        return observation
    if policy not in _MAPPED:
        return observation
    return Observation(
        _MAPPED[policy],
        observation.value,
        f"{observation.detail} ({key}: {policy})",
        observation.degraded,
        observation.sample_age,
        {**observation.extra, "raw_outcome": observation.outcome.value},
        observation.unit,
    )


def _transport_detail(exc: aiohttp.ClientError) -> str:
    """A one-line reason for a transport failure, without the request's headers."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return shorten(f"cannot connect: {exc.certificate_error}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return shorten(f"cannot connect: {exc.os_error}")
    reason = str(exc) or type(exc).__name__
    return shorten(f"{type(exc).__name__}: {reason}")
