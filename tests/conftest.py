"""Shared fixtures: a running scripted target, checks written as runbook YAML, and the dashboard over a session.

The suite runs in parallel processes (``make test``: pytest-xdist). Whatever a
test starts or writes is its own: servers on free ports, files under
``tmp_path``, tmux on a socket of its own (``fault_kit.private_tmux``), the user
config directory of its process (``private_config_home``).
"""

from __future__ import annotations

import gc
import os
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

from canned_server import CannedServer
from checks.clock import Clock
from checks.probes import ProbeContext, run_probe
from checks.reading import Reading
from checks.target import Target
from fault_kit import TmpfsDisk
from runbooks.loader import parse_runbook

if TYPE_CHECKING:
    from app_driver import Dashboard

# The suite proves behaviour, never speed (that is benchmarks/): no Hypothesis example has a deadline, which
# a test worker sharing two cores with seven others can miss (a 258 ms example against the default 200 ms).
settings.register_profile("behaviour", deadline=None)
settings.load_profile("behaviour")

# A test process holds far more than a dashboard does (every test module, Hypothesis, the dashboards of earlier
# tests waiting to be collected), and a full collection walks it all. With Python's thresholds `test_app_actions.py`
# spent 7.4 s of its 38 s of CPU collecting (26 full passes of about 220 ms); with ten times fewer young collections,
# 4.0 s (5 full passes). The dashboard itself keeps Python's thresholds: its full passes are kept short otherwise
# (``cutover_tui.collector``), and raising them did not lower the demo's CPU.
gc.set_threshold(10_000, 10, 10)

MakeContext = Callable[..., ProbeContext]
Poll = Callable[..., Awaitable[Reading]]


@pytest.hookimpl(trylast=True)
def pytest_unconfigure() -> None:
    """What the tests made is kept out of the full collections pytest makes as the process closes.

    Its unraisable-exception plugin then collects the whole heap five times (after this hook), 2 to 5.5 s in
    each of eight workers sharing two cores, the suite's controller waiting 5.6 to 6.6 s at the end; past 5 s
    execnet interrupts the worker (SIGINT: a KeyboardInterrupt in whatever runs, Hypothesis's gc callback once).
    A ``__del__`` that raises during the tests is still reported when the collector reaches it then.
    """
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first, those on real servers (the longest: the demo's spike, the benchmarks) before the rest.

    In parallel the longest start at once and the short ones fill in around them; the demo's spike (about a
    minute) started last of the slow ones made the suite's tail.
    """
    items.sort(
        key=lambda item: (item.get_closest_marker("slow") is None, item.get_closest_marker("integration") is None)
    )


@pytest.fixture(scope="session", autouse=True)
def private_config_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Command approvals (the user config directory, XDG_CONFIG_HOME) go to this test process's own folder.

    Never the user's own, and never another parallel test process's.
    """
    home = tmp_path_factory.mktemp("config-home")
    previous = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = previous


@pytest.fixture
def canned_server() -> Iterator[CannedServer]:
    """A ``CannedServer`` on 127.0.0.1, stopped after the test."""
    server = CannedServer().start()
    yield server
    server.stop()


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


@pytest.fixture
def small_disk(tmp_path) -> Iterator[TmpfsDisk]:
    """A 2 MiB tmpfs mounted under the test's tmp dir (needs root, as CI has): ``fill()``, ``free()``.

    Without the privilege the test is skipped locally and fails under CI=true,
    like the integration tests.
    """
    try:
        disk = TmpfsDisk(tmp_path / "small-disk")
    except PermissionError as refused:
        reason = f"cannot mount a tmpfs for a real disk-full test: {refused}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with disk:
        yield disk


# ----------------------------------------------------------------- the dashboard


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Any:
    """The in-memory session a dashboard test starts from: its ``scenario`` mark's, else mid-cutover.

    The scenarios are ``app_backend.SCENARIOS``: ``in progress`` (T+2m,
    ``verify_endpoints`` active), ``fresh`` (just started, no T-0), ``firing``
    (a ROLLBACK banner), ``rolling back``, ``following`` (read-only) and
    ``rehearsal``.
    """
    from app_backend import SCENARIOS

    marker = request.node.get_closest_marker("scenario")
    return SCENARIOS[marker.args[0] if marker is not None else "in progress"]()


@pytest.fixture
async def dashboard(backend: Any, request: pytest.FixtureRequest) -> AsyncIterator[Dashboard]:
    """The real dashboard over ``backend`` in a 120×36 terminal (``@pytest.mark.size(width, height)`` for another)."""
    from app_driver import SIZE, open_dashboard

    marker = request.node.get_closest_marker("size")
    size = (marker.args[0], marker.args[1]) if marker is not None else SIZE
    async with open_dashboard(backend, size=size) as opened:
        yield opened


@pytest.fixture
def app(dashboard: Dashboard) -> Any:
    """The dashboard's app (``dashboard.app``)."""
    return dashboard.app


@pytest.fixture
def pilot(dashboard: Dashboard) -> Any:
    """The dashboard's pilot (``dashboard.pilot``): keys, clicks, pauses."""
    return dashboard.pilot
