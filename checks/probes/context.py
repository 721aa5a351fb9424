"""The resources the probes of one session share."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from checks.clock import Clock, SystemClock
from runbooks.model import HttpSpec, Runbook, ScrapeSpec, Step

#: (value, monotonic time) of the last scrape of one series, per check, for rate mode.
ScrapeMemory = dict[tuple[tuple[str, str], ...], tuple[float, float]]


@dataclass(frozen=True, slots=True)
class ExpectedSilence:
    """Alerts that a step expects to be silenced or inhibited while it is active.

    ``matchers`` are Alertmanager matchers as the loader stores them
    (``severity="critical"``, ``alertname=~"Backend.*"``); an alert is expected
    to be suppressed when it matches all of them.
    """

    step: str
    matchers: tuple[str, ...]


def expected_silences(steps: Iterable[Step]) -> tuple[ExpectedSilence, ...]:
    """The ``expect_silenced`` entries of ``steps`` (the steps active now), for ``ProbeContext.expected_silences``."""
    return tuple(ExpectedSilence(step.id, matchers) for step in steps for matchers in step.expect_silenced)


class ProbeContext:
    """One per session: the HTTP connection pool, the clock, the environment, per-check memory.

    Use it from one event loop and close it with ``await ctx.aclose()``.

    Args:
        runbook: the runbook whose checks are polled (sources are looked up here).
        env: where ``${VAR}`` in headers and ``token_env`` are read, at request
            time; default ``os.environ`` (live, so a token exported later is seen).
        clock: default ``SystemClock()``.
        max_http_connections: connections the HTTP-based probes share, at most
            (requests beyond it wait for a free connection, within their timeout).
            They wait here, in first-come order, not in httpx's pool: httpcore
            1.0 scans every queued request against every connection each time
            a request starts or ends, so a thousand polls queued in the pool
            cost more CPU than the requests themselves.

    Attributes:
        expected_silences: the silences the runbook expects now: the
            ``expect_silenced`` entries of the steps that are active at this
            moment, default none. The session sets it whenever the set of active
            steps changes (a step started, completed, failed or skipped; the
            rollback began)::

                ctx.expected_silences = expected_silences(active_steps)

            Alerts probes read it at each poll, so the change applies from the
            next poll on; a step's expectation lapses when the attribute is set
            without it. Set it from the event loop the probes run on (or replace
            the whole tuple at once: the probes never see half an update).
    """

    def __init__(
        self,
        runbook: Runbook,
        *,
        env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        max_http_connections: int = 20,
    ) -> None:
        self.runbook = runbook
        self.env: Mapping[str, str] = env if env is not None else os.environ
        self.clock: Clock = clock or SystemClock()
        self._limits = httpx.Limits(
            max_connections=max_http_connections,
            max_keepalive_connections=max_http_connections,
        )
        # httpx sets TLS verification per client, so checks with verify_tls: false get their own.
        self._clients: dict[bool, httpx.AsyncClient] = {}
        self._slots = asyncio.Semaphore(max_http_connections)
        self.scrape_memory: dict[str, ScrapeMemory] = {}
        self.expected_silences: tuple[ExpectedSilence, ...] = ()
        #: Alertmanager details the alerts probes cache between polls, per source URL.
        self.alerts_memory: dict[str, Any] = {}

    def prepare(self) -> None:
        """Create the clients the runbook's checks will use now, so no poll pays for it within its timeout.

        Building a client (its TLS context above all) takes tens of milliseconds,
        hundreds on a loaded machine: inside the first poll it could turn a
        healthy check with a short timeout into a timeout.
        """
        settings = {
            check.spec.verify_tls if isinstance(check.spec, (HttpSpec, ScrapeSpec)) else True
            for check in self.runbook.checks.values()
            if check.kind != "command"
        }
        settings |= {source.verify_tls for source in self.runbook.sources.values()}
        for verify in settings:
            self.http_client(verify=verify)

    def http_client(self, *, verify: bool = True) -> httpx.AsyncClient:
        """The shared client (created on first use) for TLS-verifying or non-verifying requests."""
        client = self._clients.get(verify)
        if client is None:
            client = httpx.AsyncClient(limits=self._limits, verify=verify, follow_redirects=False)
            self._clients[verify] = client
        return client

    def http_slot(self) -> asyncio.Semaphore:
        """Held for the length of one request: at most ``max_http_connections`` are in httpx's pool at once."""
        return self._slots

    async def aclose(self) -> None:
        """Close the HTTP clients; the context must not be used afterwards."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
