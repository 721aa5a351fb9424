"""What the fault tests and the fault benchmark share: a runbook, a writer in a real terminal, faketime.

Everything here runs the real thing: ``cutover-tui`` in tmux, Debian's
libfaketime stepping only the wall clock, the scripted target on loopback.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: A release watched by a scrape (auth errors, rollback) and an http check (health, halt).
FAULT_RUNBOOK = """\
name: Fault test release
roles: {{commander: Incident commander, cto: CTO}}
checks:
  api_health: {{http: "{url}/health", expect_status: 200, every: {every}, timeout: {timeout}}}
  auth_error_ratio:
    scrape: "{url}/metrics"
    metric: auth_error_ratio
    every: {every}
    timeout: {timeout}
stop_conditions:
  - id: auth_errors
    check: auth_error_ratio
    when: "> 1%"
    for: {hold}
    action: rollback
    decides: cto
  - id: health_down
    check: api_health
    action: halt
    decides: commander
steps:
  - title: Deploy
    at: T-0
    gate: [api_health]
    watch: [auth_errors]
rollback:
  - title: helm rollback
"""

LIBFAKETIME_PATHS = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
)


def write_fault_runbook(
    directory: Path, url: str, *, hold: str = "4s", health: bool = True, every: str = "500ms", timeout: str = "400ms"
) -> Path:
    """The runbook above against ``url``, as a file.

    Args:
        every, timeout: of both checks. A test whose point is not a timeout gives
            a generous one, so that a busy machine (tests in parallel) cannot
            turn a slow answer into an unknown.
        health: keep the http check. Without it every reading is the same
            (a steady ratio), so the log stores a tick only on change and as a
            keyframe: nothing but the heartbeat says the writer was alive.
    """
    text = FAULT_RUNBOOK.format(url=url, hold=hold, every=every, timeout=timeout)
    if not health:
        text = text.replace(
            f'  api_health: {{http: "{url}/health", expect_status: 200, every: {every}, timeout: {timeout}}}\n', ""
        )
        text = (
            text.split("  - id: health_down")[0]
            + "steps:"
            + text.split("steps:")[1].replace("    gate: [api_health]\n", "")
        )
    path = directory / "release.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def libfaketime() -> str | None:
    """Debian's libfaketime, when installed."""
    return next((path for path in LIBFAKETIME_PATHS if Path(path).exists()), None)


def wall_clock_env(offset_file: Path) -> dict[str, str]:
    """An environment whose programs read the wall clock shifted by what ``offset_file`` says ("-10m").

    Only the wall clock moves: monotonic time is left alone, as NTP or a
    laptop resume leave it. The file is read on every call, so rewriting it
    steps the clock of a running program.
    """
    library = libfaketime()
    if library is None:
        raise FileNotFoundError("libfaketime is not installed (Debian package 'faketime')")
    return {
        **os.environ,
        "LD_PRELOAD": library,
        "FAKETIME_TIMESTAMP_FILE": str(offset_file),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


def cutover_tui() -> str:
    """The ``cutover-tui`` executable beside this Python."""
    return str(Path(sys.executable).with_name("cutover-tui"))


def private_tmux(name: str) -> list[str]:
    """The ``tmux`` argv prefix for a server of its own, on a socket in the temp dir, with no user config.

    A server of its own per terminal: its sessions get this process's environment (a shared
    server hands every new session the environment of whoever started it), and nothing
    another test or user does to their tmux reaches it. ``close_private_tmux`` ends it.
    """
    socket = Path(tempfile.gettempdir()) / f"cutover-test-tmux-{name}"
    return ["tmux", "-S", str(socket), "-f", "/dev/null"]


def close_private_tmux(tmux: list[str]) -> None:
    """Kill the server of ``private_tmux`` (and the programs in its terminals), remove its socket."""
    subprocess.run([*tmux, "kill-server"], capture_output=True)
    Path(tmux[2]).unlink(missing_ok=True)


class TmuxSession:
    """``cutover-tui ARGS`` in a real terminal (tmux), killable with SIGKILL like a crashed laptop.

    Example::

        with TmuxSession(["run", runbook, "--db", db]) as writer:
            ...
            writer.kill()
    """

    def __init__(
        self, args: list[str], *, size: tuple[int, int] = (120, 36), env: dict[str, str] | None = None
    ) -> None:
        if shutil.which("tmux") is None:
            raise FileNotFoundError("tmux is not installed")
        self.name = f"fault{os.getpid()}-{time.monotonic_ns()}"
        self._tmux = private_tmux(self.name)
        command = " ".join([cutover_tui(), *map(str, args)])
        extra: list[str] = []
        for key, value in (env or {}).items():
            extra += ["-e", f"{key}={value}"]
        subprocess.run([*self._tmux, "new", "-d", "-s", self.name, "-x", str(size[0]), "-y", str(size[1]), *extra, command],
                       check=True)  # fmt: skip
        self.pid = int(
            subprocess.run(
                [*self._tmux, "list-panes", "-t", self.name, "-F", "#{pane_pid}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[0]  # fmt: skip
        )

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a tmux command on this terminal's own server, e.g. ``tmux("set-option", "-t", name, ...)``."""
        return subprocess.run([*self._tmux, *args], capture_output=True, text=True)

    def screen(self) -> str:
        """The terminal's text now."""
        return subprocess.run(
            [*self._tmux, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        ).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run([*self._tmux, "send-keys", "-t", self.name, *keys], check=True)

    def kill(self) -> None:
        """SIGKILL the program: no handler runs, nothing is flushed."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        self.kill()
        close_private_tmux(self._tmux)

    def __enter__(self) -> TmuxSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for(predicate, timeout: float, interval: float = 0.1):
    """Poll ``predicate`` until it returns something true (returned) or ``timeout`` passes (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


class TmpfsDisk:
    """A tiny tmpfs mounted at ``path`` (needs root): a real disk that can be filled and emptied.

    Example::

        with TmpfsDisk(tmp / "disk") as disk:   # mounted; unmounted on exit
            disk.fill()                         # the next write that needs a block fails with ENOSPC
            disk.free()

    Raises:
        PermissionError: the mount was refused (not root); ``str(error)`` says why.
    """

    def __init__(self, path: Path, size: str = "2m") -> None:
        self.path = path
        self._ballast = path / ".ballast"
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise PermissionError(f"cannot mount a tmpfs at {path}: {done.stderr.strip() or done.returncode}")

    def fill(self, leave: int = 0) -> None:
        """Take every free byte but about ``leave``, so a write that needs more fails with ENOSPC."""
        fd = os.open(self._ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            if leave:
                stat = os.statvfs(self.path)
                os.write(fd, b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))
                return
            for size in (65536, 4096, 512, 1):
                try:
                    while os.write(fd, b"\0" * size):
                        pass
                except OSError:
                    continue
        finally:
            os.close(fd)

    def free(self) -> None:
        """Give the space back."""
        self._ballast.unlink(missing_ok=True)

    def unmount(self) -> None:
        """Unmount (lazily: a file still open there does not keep it mounted)."""
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)

    def __enter__(self) -> TmpfsDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()
        self.unmount()
