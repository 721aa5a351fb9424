"""``run --publish-head CMD``: hand the log's head to a command after each decision.

Anyone who can write the session file can rewrite it whole, chain included.
What they cannot rewrite is a copy of the head held elsewhere: a message in
the incident channel, a line appended on another machine. After every
decision, rollback and at the session's end, ``CMD`` runs (``sh -c``, as the
operator typed it) with::

    stdin:               cutover-tui head FILE seq N sha256 HASH
    CUTOVER_HEAD_SEQ     N
    CUTOVER_HEAD_SHA256  HASH
    CUTOVER_LOG          FILE

and later ``cutover-tui verify FILE --expect-head HASH`` proves the file still
holds that head. A command that fails or runs longer than
``PUBLISH_TIMEOUT_SECONDS`` is logged as a note (the session goes on).
"""

from __future__ import annotations

import asyncio
import os
import signal
from contextlib import suppress
from typing import Any

from cutover_tui.backend import Acknowledged
from cutover_tui.live import LiveBackend

#: Events after which the head is published.
PUBLISH_AFTER = frozenset({"decision", "rollback_started", "session_ended"})
PUBLISH_TIMEOUT_SECONDS = 30.0


def head_line(path: str, seq: int, digest: str) -> str:
    """What the publish command reads on its standard input."""
    return f"cutover-tui head {path} seq {seq} sha256 {digest}\n"


class PublishingLiveBackend(LiveBackend):
    """A live session that publishes the head with ``command`` after each decision.

    Args:
        command: a shell command (``sh -c``), from the operator's command line, never from the runbook.
        (the rest as ``LiveBackend``)
    """

    def __init__(self, *args: Any, command: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.publish_command = command
        self.published: list[tuple[int, str, int | None]] = []  # seq, sha256, exit status (None: timed out)
        self._publishing: set[asyncio.Task[None]] = set()
        self._one_at_a_time = asyncio.Lock()

    async def append(self, kind: str, payload: dict[str, Any]) -> Acknowledged:
        acknowledged = await super().append(kind, payload)
        if kind in PUBLISH_AFTER:
            seq, digest = self.log.head
            task = asyncio.create_task(self._publish(seq, digest), name="publish-head")
            self._publishing.add(task)
            task.add_done_callback(self._publishing.discard)
        return acknowledged

    def end_at_once(self, outcome: str, reason: str) -> None:
        """As ``LiveBackend.end_at_once``, then publish the final head (bounded), without the event loop."""
        import subprocess

        super().end_at_once(outcome, reason)
        seq, digest = self.log.head
        env = {**os.environ, "CUTOVER_HEAD_SEQ": str(seq), "CUTOVER_HEAD_SHA256": digest, "CUTOVER_LOG": self.db_path}
        with suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["/bin/sh", "-c", self.publish_command], input=head_line(self.db_path, seq, digest),
                           text=True, env=env, timeout=PUBLISH_TIMEOUT_SECONDS, capture_output=True)  # fmt: skip

    async def stop(self) -> None:
        if self._publishing:  # the final head (session_ended) reaches its copy before the log closes
            await asyncio.gather(*self._publishing, return_exceptions=True)
        await super().stop()

    async def _publish(self, seq: int, digest: str) -> None:
        async with self._one_at_a_time:  # in order: a later head never lands before an earlier one
            status, problem = await self._run(seq, digest)
        self.published.append((seq, digest, status))
        if problem:
            with suppress(Exception):
                await super().append("note", {"text": f"publishing the log head (seq {seq}) failed: {problem}"})

    async def _run(self, seq: int, digest: str) -> tuple[int | None, str]:
        env = {**os.environ, "CUTOVER_HEAD_SEQ": str(seq), "CUTOVER_HEAD_SHA256": digest, "CUTOVER_LOG": self.db_path}
        try:
            process = await asyncio.create_subprocess_shell(
                self.publish_command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
        except OSError as error:
            return None, f"cannot run it: {error.strerror or error}"
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                _, stderr = await process.communicate(head_line(self.db_path, seq, digest).encode())
        except TimeoutError:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
            return None, f"still running after {PUBLISH_TIMEOUT_SECONDS:.0f}s, killed"
        if process.returncode != 0:
            lines = stderr.decode("utf-8", "replace").strip().splitlines()
            return process.returncode, f"exit status {process.returncode}" + (f": {lines[-1][:200]}" if lines else "")
        return 0, ""
