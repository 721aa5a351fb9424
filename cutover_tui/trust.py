"""Commands from a runbook run only after the operator approved that runbook's exact command list.

A runbook is often someone else's pull request, and a ``command`` check runs
as the operator, with the operator's environment, on every poll. So before
``run`` or ``check`` polls anything, the command list (each check's argv, its
working directory resolved as the probe resolves it, and its ``env``
templates) is shown and approved once. The approval is remembered per
runbook sha256 in the user's configuration directory (``platformdirs``:
``~/.config/cutover-tui/trusted-runbooks.json`` on Linux) together with the
sha256 of the command list; a runbook whose text changed, or whose commands
would now run from another folder, asks again. ``--trust`` approves for one
headless run (``check`` in CI) and remembers nothing.

What an approval covers is the command lines, not the programs they start:
``./check.sh`` approved today runs whatever that file holds tomorrow.

Example::

    commands = runbook_commands(runbook)
    if commands and not is_approved(runbook):
        ...  # show describe(commands), ask, then approve(runbook)
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from runbooks.grammar import counted
from runbooks.model import CommandSpec, Runbook

APPROVALS_FILE = "trusted-runbooks.json"


class NotApproved(Exception):
    """The runbook's commands were not approved; nothing of it ran."""


@dataclass(frozen=True, slots=True)
class RunbookCommand:
    """One command a runbook would run, as the probe would run it."""

    check_id: str
    argv: tuple[str, ...]
    cwd: str
    env: tuple[tuple[str, str], ...]  # name, template (``${VAR}`` unexpanded)

    def as_json(self) -> dict[str, Any]:
        return {"check": self.check_id, "argv": list(self.argv), "cwd": self.cwd, "env": dict(self.env)}


def runbook_commands(runbook: Runbook) -> list[RunbookCommand]:
    """Every command check's command, in runbook order."""
    base = os.path.dirname(os.path.abspath(runbook.path)) if runbook.path else os.getcwd()
    commands = []
    for check in runbook.checks.values():
        if check.kind != "command":
            continue
        spec = check.spec_as(CommandSpec)
        cwd = spec.cwd
        folder = cwd if cwd is not None and os.path.isabs(cwd) else os.path.join(base, cwd or ".")
        commands.append(RunbookCommand(check.id, spec.argv, os.path.normpath(folder), tuple(sorted(spec.env.items()))))
    return commands


def commands_sha256(commands: list[RunbookCommand]) -> str:
    """The sha256 of the command list as approved (canonical JSON)."""
    text = json.dumps([c.as_json() for c in commands], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def approvals_path() -> Path:
    """Where approvals are remembered: the user's configuration directory for cutover-tui."""
    import platformdirs

    return platformdirs.user_config_path("cutover-tui") / APPROVALS_FILE


def _load() -> dict[str, Any]:
    try:
        document = json.loads(approvals_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    approved = document.get("approved") if isinstance(document, dict) else None
    return approved if isinstance(approved, dict) else {}


def is_approved(runbook: Runbook) -> bool:
    """Whether this runbook (its sha256) was approved with exactly these commands; True when it runs none."""
    commands = runbook_commands(runbook)
    if not commands:
        return True
    entry = _load().get(runbook.sha256)
    return isinstance(entry, dict) and entry.get("commands_sha256") == commands_sha256(commands)


def approve(runbook: Runbook) -> Path:
    """Remember that this runbook's commands are approved; returns the file written (mode 0600)."""
    commands = runbook_commands(runbook)
    approved = _load()
    approved[runbook.sha256] = {
        "runbook_name": runbook.name,
        "runbook_path": os.path.abspath(runbook.path) if runbook.path else None,
        "commands_sha256": commands_sha256(commands),
        "commands": [c.as_json() for c in commands],
        "approved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path = approvals_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".trusted-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"version": 1, "approved": approved}, out, indent=2, ensure_ascii=False)
            out.write("\n")
        os.replace(temporary, path)  # mkstemp made it 0600
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def describe(runbook: Runbook, commands: list[RunbookCommand]) -> str:
    """The command list as the operator is asked to approve it."""
    width = max(len(c.check_id) for c in commands)
    lines = [f"{runbook.name} runs {counted(len(commands), 'command')} on this machine, "
             "as you, with your environment, on every poll:"]  # fmt: skip
    for command in commands:
        env = "".join(f" {name}={value}" for name, value in command.env)
        lines.append(f"  {command.check_id:<{width}}  {' '.join(_quoted(a) for a in command.argv)}")
        lines.append(f"  {'':<{width}}  in {command.cwd}{'  env:' + env if env else ''}")
    return "\n".join(lines)


def _quoted(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def require_approval(
    runbook: Runbook,
    *,
    trust: bool,
    command: str,
    stdin: TextIO | None = None,
    stderr: TextIO | None = None,
) -> None:
    """Return when the runbook's commands may run; ask on a terminal; else raise ``NotApproved``.

    Args:
        runbook: the runbook about to be polled.
        trust: ``--trust``: approve for this run, remember nothing.
        command: the cutover-tui command asking (for the messages).
        stdin, stderr: where to ask (default the process's); asked only when both are terminals.

    Raises:
        NotApproved: declined, or not approved and there is no terminal to ask on.
    """
    commands = runbook_commands(runbook)
    if trust or not commands or is_approved(runbook):
        return
    stdin = stdin or sys.stdin
    stderr = stderr or sys.stderr
    listing = describe(runbook, commands)
    if not (_is_terminal(stdin) and _is_terminal(stderr)):
        raise NotApproved(
            f"{listing}\nThese commands are not approved, so nothing ran. Approve them once by running "
            f"`cutover-tui {command}` on a terminal, or pass --trust to approve them for this run only."
        )
    stderr.write(f"{listing}\nRun these commands? Approval is remembered for this runbook "
                 f"(sha256 {runbook.sha256[:12]}…) until its text changes. [y/N] ")  # fmt: skip
    stderr.flush()
    answer = stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise NotApproved("not approved, so nothing ran")
    approve(runbook)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
