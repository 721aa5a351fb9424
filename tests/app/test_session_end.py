"""How a live session ends: quit, ctrl+q, SIGTERM and SIGHUP all log session_ended and leave the .db whole."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from checks.target import Target
from cutover_tui.store import SessionLog
from fault_kit import close_private_tmux, private_tmux

RUNBOOK = """\
name: Ending test
checks:
  api_health:
    http: "{url}/health"
    every: 300ms
    timeout: 250ms
stop_conditions:
  - id: api_down
    check: api_health
    action: halt
steps:
  - title: Deploy
    at: T-0
"""


def _tmux() -> str:
    program = shutil.which("tmux")
    if program is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tmux is missing (.ci/run installs it)")
        pytest.skip("needs Debian package 'tmux'")
    return program


class Session:
    """``cutover-tui run`` in a real terminal (tmux), so keys and signals reach it as they would an operator's."""

    def __init__(self, tmp_path: Path, url: str, *extra: str, under_make: bool = False, replay: bool = False) -> None:
        program = _tmux()
        self.db = tmp_path / "end.cutover.db"
        runbook = tmp_path / "end.yaml"
        runbook.write_text(RUNBOOK.format(url=url), encoding="utf-8")
        exe = Path(sys.executable).with_name("cutover-tui")
        self.name = f"end{os.getpid()}-{time.monotonic_ns()}"
        self.tmux = [program, *private_tmux(self.name)[1:]]  # a server of its own
        command = f"{exe} run {runbook} --db {self.db} --as tester {' '.join(extra)}"
        if replay:
            command = f"{exe} replay {self.db}"
        if under_make:  # make leads the terminal's session, as with `make demo`: a hang-up's SIGHUP goes to make alone
            makefile = tmp_path / "Makefile"
            makefile.write_text(f"run:\n\t{command}\n", encoding="utf-8")
            command = f"make -s -f {makefile} run"
        subprocess.run(
            [*self.tmux, "new", "-d", "-s", self.name, "-x", "120", "-y", "36", f"exec {command}"], check=True
        )
        self.pid = int(subprocess.run([*self.tmux, "display", "-p", "-t", self.name, "#{pane_pid}"],
                                      capture_output=True, text=True, check=True).stdout)  # fmt: skip
        if under_make:
            self.pid = self._child_of(self.pid)

    @staticmethod
    def _child_of(parent: int) -> int:
        """The one child ``parent`` started (bounded wait)."""
        children = Path(f"/proc/{parent}/task/{parent}/children")
        deadline = time.monotonic() + 10
        while not children.read_text().split():
            assert time.monotonic() < deadline, "make started nothing"
            time.sleep(0.05)
        return int(children.read_text().split()[0])

    def wait_for_readings(self, count: int = 3) -> None:
        """Until the session stored ``count`` readings (it polls every 300 ms)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.db.exists():
                try:
                    with SessionLog.open_readonly(self.db) as reader:
                        if reader.last_tick_id() >= count:
                            return
                except Exception:
                    pass
            time.sleep(0.1)
        raise AssertionError("the session never stored readings")

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        return subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        ).stdout

    def wait_for_screen(self, predicate, timeout: float = 10) -> bool:
        """Wait (bounded) until ``predicate(screen text)`` holds; whether it did."""
        deadline = time.monotonic() + timeout
        while not predicate(self.screen()):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def wait_exit(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise AssertionError("cutover-tui did not exit")

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-session", "-t", self.name], capture_output=True)
        close_private_tmux(self.tmux)


@pytest.fixture
def target():
    with Target() as running:
        yield running


def ended(db: Path) -> tuple[dict, list, int]:
    """The session_ended payload, the kinds of the last events, and how many readings the file holds."""
    with SessionLog.open_readonly(db) as reader:
        events = reader.events()
        assert reader.verify().ok
        endings = [e.payload for e in events if e.kind == "session_ended"]
        return (endings[-1] if endings else {}), [e.kind for e in events[-2:]], reader.last_tick_id()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP"])
def test_a_signal_ends_the_session_as_a_quit_does(tmp_path: Path, target: Target, how: str) -> None:
    """SIGTERM, or SIGHUP when the terminal goes (the SSH session dropped): session_ended logged, readings flushed, no -wal left."""
    session = Session(tmp_path, target.url)
    try:
        session.wait_for_readings()
        if how == "SIGTERM":
            os.kill(session.pid, 15)
        else:
            session.close()  # tmux hangs up the terminal, as a dropped SSH connection does
        session.wait_exit()
    finally:
        session.close()
    wal = Path(f"{session.db}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed: the .db alone is the whole session
    ending, _, readings = ended(session.db)
    assert ending == {"outcome": "abandoned", "reason": how}
    assert readings >= 3
    assert not any(p.name.endswith(".lock") for p in tmp_path.iterdir())


@pytest.mark.slow
def test_a_terminal_gone_under_make_ends_the_session_as_sighup_does(tmp_path: Path, target: Target) -> None:
    """The terminal goes while make runs the dashboard (no SIGHUP reaches it): session_ended logged, and it exits within seconds."""
    session = Session(tmp_path, target.url, under_make=True)
    try:
        session.wait_for_readings()
        session.close()  # tmux hangs up the terminal; the kernel signals make, which waits for its child
        session.wait_exit()
    finally:
        session.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(session.pid, signal.SIGKILL)  # a dashboard still running on a dead terminal
    ending, _, readings = ended(session.db)
    assert ending == {"outcome": "abandoned", "reason": "SIGHUP"}
    assert readings >= 3


@pytest.mark.slow
def test_a_replay_whose_terminal_is_gone_exits(tmp_path: Path, target: Target) -> None:
    """A replay under make whose terminal hangs up exits within seconds instead of reading the dead terminal forever."""
    session = Session(tmp_path, target.url)
    try:
        session.wait_for_readings()
        os.kill(session.pid, signal.SIGTERM)
        session.wait_exit()
    finally:
        session.close()
    replay = Session(tmp_path, target.url, under_make=True, replay=True)
    try:
        assert replay.wait_for_screen(lambda screen: "Ending test" in screen), replay.screen()
        replay.close()
        replay.wait_exit()
    finally:
        replay.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(replay.pid, signal.SIGKILL)


@pytest.mark.slow
def test_ctrl_q_asks_like_q_and_logs_how_the_session_ended(tmp_path: Path, target: Target) -> None:
    """ctrl+q opens the same quit dialog as q; escape keeps the session, confirming logs session_ended."""
    session = Session(tmp_path, target.url)
    try:
        session.wait_for_readings(1)
        session.keys("C-q")
        assert session.wait_for_screen(lambda screen: "end the session as abandoned" in screen), session.screen()
        session.keys("Escape")
        assert session.wait_for_screen(lambda screen: "end the session as abandoned" not in screen), session.screen()
        time.sleep(0.5)
        os.kill(session.pid, 0)  # still running: ctrl+q asked, it did not quit at once
        session.keys("C-q")
        assert session.wait_for_screen(lambda screen: "end the session as abandoned" in screen), session.screen()
        session.keys("Enter")
        session.wait_exit()
    finally:
        session.close()
    ending, kinds, _ = ended(session.db)
    assert ending == {"outcome": "abandoned", "reason": "quit"} and kinds[-1] == "session_ended"
