"""`cutover-tui serve FILE`: the follow view in a real browser (Debian's Chromium, headless, driven by Playwright).

The page draws the terminal on a canvas, so what it shows is read from the
bytes the browser itself received over its WebSocket, replayed through a
terminal emulator (pyte) at the size the page asked for; a screenshot proves
the canvas was drawn.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_status_cmd import write_session

from checks.clock import ManualClock
from cutover_tui.commands.serve_cmd import REFUSED, is_loopback
from cutover_tui.store import SessionLog

CHROMIUM = "/usr/bin/chromium"
#: This machine has no network: Chromium's own background connections are switched off.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

# One worker runs them one after another: three Chromiums at once beside the rest of the suite starved a viewer's
# app for the test's 30 s (it then said so: VIEW NOT READING, not the verdict the test waits for).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("chromium")]


def require_chromium() -> None:
    """Skip (under CI: fail) without Debian's chromium and the playwright package."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append("Debian package 'chromium'")
    try:
        import playwright  # noqa: F401
        import pyte  # noqa: F401
    except ImportError:
        missing.append("the test extras (pip install -e '.[test]')")
    if missing:
        reason = "needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


class Served:
    """``cutover-tui serve`` in a subprocess; ``url`` as printed (with its token, when one is asked)."""

    def __init__(self, db: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cutover_tui", "serve", str(db), "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        match = re.search(r"(http://\S+)", first)
        if match is None:
            self.stop()
            raise AssertionError(
                f"serve did not print its URL: {first!r} {self.process.stderr.read() if self.process.stderr else ''}"
            )
        self.url = match.group(1)
        parts = urllib.parse.urlsplit(self.url)
        self.port = parts.port
        self.base = f"http://127.0.0.1:{self.port}/"
        self.token = urllib.parse.parse_qs(parts.query).get("token", [None])[0]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):  # left open, a later test's collection warns
            if stream is not None:
                stream.close()


@pytest.fixture
def session_log(tmp_path: Path) -> Iterator[Path]:
    """A session whose rollback condition auth_errors is firing (ROLLBACK); its writer stamps a heartbeat each 0.5 s."""
    db = tmp_path / "bridge.cutover.db"
    clock = ManualClock()
    log = write_session(db, clock=clock)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(0.5):
            clock.advance((datetime.now(timezone.utc) - clock.now()).total_seconds())
            log.flush_ticks(heartbeat=True)

    writer = threading.Thread(target=beat, daemon=True)
    writer.start()
    yield db
    stop.set()
    writer.join(timeout=5)
    log.close()


@pytest.fixture
def served(session_log: Path) -> Iterator[Served]:
    server = Served(session_log, "--require-token")
    yield server
    server.stop()


def test_every_route_refuses_a_request_without_the_token(served: Served) -> None:
    """The page, its assets and the WebSocket answer 403 without the token; with it the page and a cookie come back."""
    assert served.token and served.token in served.url
    for path in ("", "ws", "static/js/textual.js"):
        response = httpx.get(served.base + path, timeout=5)
        assert response.status_code == 403 and response.text == REFUSED, path
    response = httpx.get(served.url, timeout=5)
    assert response.status_code == 200 and "textual-terminal" in response.text
    cookie = response.cookies
    assert httpx.get(served.base + "static/js/textual.js", cookies=cookie, timeout=5).status_code == 200
    assert "HttpOnly" in response.headers["set-cookie"] and "SameSite=Strict" in response.headers["set-cookie"]


def test_loopback_asks_no_token_but_refuses_a_foreign_host_name(session_log: Path) -> None:
    """On loopback by default no token is printed; a request naming another host (DNS rebinding) is refused."""
    server = Served(session_log)
    try:
        assert server.token is None and server.url.startswith("http://127.0.0.1:")
        assert httpx.get(server.base, timeout=5).status_code == 200
        assert httpx.get(server.base, headers={"Host": f"attacker.example:{server.port}"}, timeout=5).status_code == 403
    finally:
        server.stop()


def test_any_other_host_requires_the_token(session_log: Path) -> None:
    """Listening on every address prints a URL with a token and refuses requests without it."""
    server = Served(session_log, "--host", "0.0.0.0")
    try:
        assert server.token is not None and len(server.token) >= 24
        assert httpx.get(server.base, timeout=5).status_code == 403
        assert httpx.get(f"{server.base}?token={server.token}", timeout=5).status_code == 200
    finally:
        server.stop()
    assert (
        not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and is_loopback("127.0.0.2") and is_loopback("::1")
    )


def test_websocket_from_another_origin_and_past_the_cap_are_refused(session_log: Path) -> None:
    """A WebSocket opened by a page of another origin gets 403; one past --max-viewers gets 503; the first views."""
    import aiohttp

    server = Served(session_log, "--max-viewers", "1")

    async def scenario() -> None:
        async with aiohttp.ClientSession() as client:
            with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
                await client.ws_connect(f"{server.base}ws", headers={"Origin": "http://attacker.example"})
            assert foreign.value.status == 403
            async with client.ws_connect(f"{server.base}ws?width=100&height=30") as first:
                message = await asyncio.wait_for(first.receive(), timeout=30)
                assert message.type == aiohttp.WSMsgType.BINARY
                with pytest.raises(aiohttp.WSServerHandshakeError) as second:
                    await client.ws_connect(f"{server.base}ws")
                assert second.value.status == 503

    try:
        asyncio.run(scenario())
    finally:
        server.stop()


def test_a_file_that_is_not_a_session_log_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """serve on a file that is not a session log exits 2 with one line, before listening."""
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    done = subprocess.run([sys.executable, "-m", "cutover_tui", "serve", str(bogus), "--port", "0"],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr and str(bogus) in done.stderr


def test_behind_a_tls_proxy_the_page_opens_a_secure_websocket(session_log: Path) -> None:
    """The page names ws:// itself, and wss:// when a TLS proxy says the browser came over https."""
    server = Served(session_log)
    try:
        assert f'data-session-websocket-url="ws://127.0.0.1:{server.port}/ws"' in httpx.get(server.base, timeout=5).text
        page = httpx.get(server.base, headers={"X-Forwarded-Proto": "https"}, timeout=5).text
        assert f'data-session-websocket-url="wss://127.0.0.1:{server.port}/ws"' in page
        assert "googleapis" not in page  # nothing is fetched from the internet
    finally:
        server.stop()


# The browser tests come last in this module: while Playwright's sync API runs (the `chromium` fixture, kept for
# the module), this thread has a running event loop, and a test after them that runs one of its own would fail.


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium for this module's browser tests; each test opens a context of its own (its own cookies
    and storage, as a new profile has). Started once: Playwright's driver and the browser took 2-3 s of CPU a start."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def browser_screen(
    chromium: Any,
    url: str,
    *,
    keys: str = "",
    wait_for: str = "auth_errors",
    then_wait_for: str = "",
    timeout: float = 30.0,
) -> tuple[str, bytes, str]:
    """Open ``url`` in a new context of ``chromium``; return the terminal's text, a screenshot (PNG) and the page's
    text.

    ``keys`` are typed into the page once the view is drawn; then it waits for ``then_wait_for`` on screen.
    """
    import pyte

    frames: list[bytes] = []
    size = [80, 24]

    def on_websocket(websocket) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(websocket.url).query)
        size[:] = [int(query["width"][0]), int(query["height"][0])]
        websocket.on("framereceived", lambda payload: frames.append(payload) if isinstance(payload, bytes) else None)

    fed: dict[
        str, Any
    ] = {}  # one terminal, fed each frame once: re-reading every frame each time starves the heartbeat

    def text() -> str:
        if fed.get("size") != size:
            fed.update(size=list(size), screen=pyte.Screen(*size), count=0)
            fed["stream"] = pyte.ByteStream(fed["screen"])
        arrived = list(frames)
        for frame in arrived[fed["count"] :]:
            fed["stream"].feed(frame)
        fed["count"] = len(arrived)
        return "\n".join(fed["screen"].display)

    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.on("websocket", on_websocket)
        response = page.goto(url)
        page_text = page.inner_text("body")
        if response is None or response.status != 200:
            return "", b"", page_text
        deadline = time.monotonic() + timeout
        while wait_for not in text() and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        if keys:
            page.focus(".xterm-helper-textarea")  # the terminal takes keys once focused, as a click does
        for key in keys:
            page.keyboard.press(key)
            page.wait_for_timeout(300)
        if keys:  # the last key's answer, however busy the machine (a notice stays up for seconds)
            deadline = time.monotonic() + timeout
            while then_wait_for not in text() and time.monotonic() < deadline:
                page.wait_for_timeout(200)
        return text(), page.screenshot(), page_text
    finally:
        context.close()


def test_the_browser_shows_the_verdict_and_a_condition_state(chromium: Any, served: Served) -> None:
    """Chromium opening the printed URL shows FOLLOW (read-only), the verdict ROLLBACK and auth_errors FIRING."""
    screen, png, _ = browser_screen(chromium, served.url, wait_for="FIRING")
    assert "FOLLOW (read-only)" in screen, screen
    assert "ROLLBACK" in "".join(screen.splitlines()[:2]), screen  # the header's verdict
    assert "WRITER STOPPED" not in screen, screen
    assert re.search(r"FIRING\s+auth_errors", screen), screen
    assert len(png) > 20_000  # the canvas was drawn: a blank page compresses to a few kB


def test_write_keys_in_the_browser_write_nothing(chromium: Any, served: Served, session_log: Path) -> None:
    """Keys that write in a live session (s, d, n, t, R) change nothing in the log: the view is read-only."""
    with SessionLog.open_readonly(session_log) as log:
        before = log.head
    screen, _, _ = browser_screen(chromium, served.url, keys="sdntR", then_wait_for="read-only view")
    with SessionLog.open_readonly(session_log) as log:
        assert log.head == before
    assert "read-only view" in screen, screen  # the notice each write key answers with


def viewer_pids(server: int) -> list[int]:
    """The viewers a ``serve`` process started (its children, from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while the folder was read
            continue
        if int(fields[1]) == server:
            found.append(int(stat.parent.name))
    return found


def test_a_page_covers_its_last_frame_when_the_server_or_its_view_stops_answering(
    chromium: Any, served: Served
) -> None:
    """The connection stops carrying anything without closing (a network path that hangs, a proxy holding it, the
    server frozen): the page kept its last frame, the verdict with it, for as long as TCP let it. It pings the server
    every second; after 5 s without a message it covers the screen and says how long it has heard nothing, and a
    message coming again uncovers it. A screen that does not change (help open) is no silence.

    The server answers the ping by itself, so a viewer that stops (frozen, or starved of the CPU) while the server
    runs left its last frame up, answered and uncovered: the view now sends a frame every second, drawn or not, and
    the page covers the screen after 15 s without one, saying the view stopped drawing."""
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(served.url)
        page.wait_for_selector("body.-loaded", timeout=30_000)
        page.focus(".xterm-helper-textarea")
        page.keyboard.press("?")  # the help screen: nothing on it changes each second
        page.wait_for_timeout(7000)
        assert page.evaluate("document.body.classList.contains('-stale')") is False
        for stopped, says in (
            (served.process.pid, "from the server"),
            (viewer_pids(served.process.pid)[0], "from the view"),
        ):
            os.kill(stopped, signal.SIGSTOP)  # it answers nothing; the socket stays open
            try:
                page.wait_for_selector("body.-stale", timeout=30_000)  # 5 s for the server, 15 s for the view
                cover = page.inner_text(".stale")
                assert re.search(r"NO UPDATE for \d+s", cover) and "not a verdict" in cover, cover
                assert says in cover, cover
            finally:
                os.kill(stopped, signal.SIGCONT)
            page.wait_for_selector("body:not(.-stale)", timeout=30_000)
    finally:
        context.close()


def test_a_browser_without_the_token_is_refused(chromium: Any, served: Served) -> None:
    """Without the token (or with a wrong one) the browser gets the refusal, and no view starts."""
    for url in (served.base, f"{served.base}?token=not-the-token"):
        screen, _, page_text = browser_screen(chromium, url)
        assert screen == "" and "needs its access token" in page_text, (url, page_text)
