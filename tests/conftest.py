"""Shared fixtures: a running scripted target, and checks written as runbook YAML."""

from __future__ import annotations

import textwrap
from typing import AsyncIterator, Awaitable, Callable, Iterator, Mapping

import pytest

from canned_server import CannedServer
from checks.clock import Clock
from checks.probes import ProbeContext, run_probe
from checks.reading import Reading
from checks.target import Target
from runbooks.loader import parse_runbook

MakeContext = Callable[..., ProbeContext]
Poll = Callable[..., Awaitable[Reading]]


@pytest.fixture
def canned_server() -> Iterator[CannedServer]:
    """A ``CannedServer`` on 127.0.0.1, stopped after the test."""
    server = CannedServer()
    server._thread.start()
    yield server
    server._http.shutdown()
    server._http.server_close()
    server._thread.join(timeout=5)


@pytest.fixture
def target() -> Iterator[Target]:
    """A healthy ``Target`` on 127.0.0.1, stopped after the test."""
    with Target() as running:
        yield running


@pytest.fixture
async def make_context() -> AsyncIterator[MakeContext]:
    """Build a ``ProbeContext`` for one check, ``probe``, written as YAML; closed after the test.

    Example: ``ctx = make_context(f"http: {url}/health")``, then
    ``await run_probe(ctx.runbook.checks["probe"], ctx)``.
    """
    contexts: list[ProbeContext] = []

    def build(
        check_yaml: str,
        *,
        sources: str = "",
        env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> ProbeContext:
        text = "name: probe test\n"
        if sources:
            text += "sources:\n" + textwrap.indent(textwrap.dedent(sources).strip(), "  ") + "\n"
        text += "checks:\n  probe:\n" + textwrap.indent(textwrap.dedent(check_yaml).strip(), "    ") + "\n"
        context = ProbeContext(parse_runbook(text), env=env if env is not None else {}, clock=clock)
        contexts.append(context)
        return context

    yield build
    for context in contexts:
        await context.aclose()


@pytest.fixture
def poll(make_context: MakeContext) -> Poll:
    """Poll a check written as YAML once: ``await poll(f"http: {url}/health")``."""

    async def run(check_yaml: str, **context_options: object) -> Reading:
        context = make_context(check_yaml, **context_options)
        return await run_probe(context.runbook.checks["probe"], context)

    return run
