"""The resources the probes of one session share."""

from __future__ import annotations

import asyncio
import os
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from checks.clock import Clock, SystemClock
from runbooks.model import Runbook, Step

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
            They wait here, in first-come order, not in aiohttp's pool: the pool
            hands a freed connection to a waiting request of a host picked at
            random, so one busy host's polls could keep another's waiting.

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
        self._max_http_connections = max_http_connections
        self._session: aiohttp.ClientSession | None = None
        # HTTP_PROXY / HTTPS_PROXY / NO_PROXY of this process, as curl and httpx apply them; read once.
        self._proxies = urllib.request.getproxies_environment()
        self._proxy_of: dict[tuple[str, str], str | None] = {}
        self._slots = asyncio.Semaphore(max_http_connections)
        self.scrape_memory: dict[str, ScrapeMemory] = {}
        self.expected_silences: tuple[ExpectedSilence, ...] = ()
        #: Alertmanager details the alerts probes cache between polls, per source URL.
        self.alerts_memory: dict[str, Any] = {}

    def http_session(self) -> aiohttp.ClientSession:
        """The session (created at the first request, on the loop the probes run on) every HTTP request goes through.

        One pool for TLS-verifying and non-verifying requests alike: the
        request's ``ssl`` argument sets verification, and the pool keeps the two
        kinds of connection apart. Redirects are not followed and every request
        bounds itself (``fetch``).
        """
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_http_connections)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def proxy_for(self, scheme: str, host: str) -> str | None:
        """The proxy a request to ``scheme://host`` goes through (``host`` with its port, if any), or None.

        From the environment: ``http_proxy`` / ``https_proxy`` (or ``all_proxy``),
        and ``no_proxy`` for the hosts that bypass them. A check's own headers
        go to the target, never to the proxy.
        """
        key = (scheme, host)
        if key not in self._proxy_of:
            proxy = self._proxies.get(scheme) or self._proxies.get("all")
            bypass = proxy is None or urllib.request.proxy_bypass(host)
            self._proxy_of[key] = None if bypass else proxy
        return self._proxy_of[key]

    def http_slot(self) -> asyncio.Semaphore:
        """Held for the length of one request: at most ``max_http_connections`` are in the pool at once."""
        return self._slots

    async def aclose(self) -> None:
        """Close the HTTP session and its connections; the context must not be used afterwards."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()
