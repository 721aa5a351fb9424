"""The ``command`` probe: run a Nagios-style plugin (argv, never a shell).

- Exit 0 OK is PASS, 1 WARNING and 2 CRITICAL are BREACH, 3 UNKNOWN and any
  other code are NODATA ("UNKNOWN", shown unknown whatever ``on_nodata`` says).
- Killed by a signal: ERROR. Timed out: the whole process group is killed
  (SIGKILL) and the poll is an ERROR ("timed out after 5s").
- The value is the first perfdata item after ``|`` on the first output line
  (or the one labelled ``perfdata_label``): ``'label'=value[UOM];warn;crit;min;max``.
  A ``%`` value becomes a fraction and ``ms``/``us`` become seconds, as
  thresholds are normalised. ``U`` is INVALID.
- Exit 0 with no output at all (stdout and stderr empty) is NODATA ("exit 0
  with no output"): a plugin says what it saw, and a script that skipped its
  check and fell through to the end says nothing (``on_nodata: pass`` accepts
  it). A ``pass_when`` without a perfdata value to compare is NODATA too.
- Output (stdout and stderr together) is kept up to 4 KiB for the detail.
- ``env`` values expand ``${VAR}`` from the session's environment when the
  command starts (an unset variable without a default is an ERROR naming it);
  cutover-tui counts those names as secrets, so their values are redacted.
- Every poll ends with the whole process group killed, whatever the plugin
  did: a plugin that exits leaving a child behind (holding its output open)
  leaks nothing. A child that starts a session of its own escapes the group.
- A relative ``cwd`` (default ``.``) is taken from the runbook file's folder.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from contextlib import suppress

from checks.probes.common import Observation, ProbeFailed, error, expand_env, judge, parse_number, shorten
from checks.probes.context import ProbeContext
from checks.reading import Outcome
from runbooks.model import Check, CommandSpec

MAX_OUTPUT_BYTES = 4096
#: After the plugin exits, how long its output may still arrive before the group is killed.
DRAIN_SECONDS = 0.1
#: While its output is open, how often to look whether the plugin itself has exited.
EXIT_POLL_SECONDS = 0.05

_STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL"}
_PERFDATA_ITEM = re.compile(r"""('(?:[^']|'')+'|[^'=\s]+)=(\S+)""")
_PERFDATA_VALUE = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|U)([a-zA-Z%]*)$")
_UNIT_SCALE = {"%": ("", 0.01), "ms": ("s", 0.001), "us": ("s", 0.000001), "s": ("s", 1.0)}


async def probe(check: Check, ctx: ProbeContext) -> Observation:
    """Run the command, wait for it within the poll's timeout, and judge exit code and perfdata."""
    spec = check.spec_as(CommandSpec)
    argv = list(spec.argv)
    env = {**ctx.env, **{name: expand_env(value, ctx.env) for name, value in spec.env.items()}}
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=_working_directory(ctx, spec.cwd),
            env=env,
            start_new_session=True,  # its own process group, so every poll can end all of it
        )
    except OSError as exc:
        raise error(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    assert process.stdout is not None
    reader = asyncio.ensure_future(_read_bounded(process.stdout))
    try:
        while not reader.done():
            if process.returncode is not None:
                # The plugin exited but a child of it still holds the output open.
                with suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(reader), DRAIN_SECONDS)
                _kill_group(process.pid)  # its pipe closes with the killed children
                break
            await asyncio.wait({reader}, timeout=EXIT_POLL_SECONDS)
        output = await reader
        code = await process.wait()
    finally:
        _kill_group(process.pid)
        if process.returncode is None:  # cancelled, usually by the poll's timeout
            await process.wait()
        if not reader.done():
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    return _judge_exit(check, code, output.decode("utf-8", "replace"))


def _kill_group(group: int) -> None:
    """SIGKILL every process left in the plugin's process group (none left is fine)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def _working_directory(ctx: ProbeContext, cwd: str | None) -> str | None:
    """``cwd`` resolved against the runbook's folder (None when the runbook has no file)."""
    if cwd is not None and os.path.isabs(cwd):
        return cwd
    if not ctx.runbook.path:
        return cwd
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(ctx.runbook.path)), cwd or "."))


async def _read_bounded(stream: asyncio.StreamReader) -> bytes:
    """All of ``stream`` read to EOF, only the first ``MAX_OUTPUT_BYTES`` kept (the rest drained)."""
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) < MAX_OUTPUT_BYTES:
            kept += chunk[: MAX_OUTPUT_BYTES - len(kept)]
    return bytes(kept)


def _judge_exit(check: Check, code: int, output: str) -> Observation:
    """The observation for an exit code and the plugin's output."""
    first_line, _, perfdata = output.partition("\n")[0].partition("|")
    text = shorten(first_line) or shorten(output)
    extra = {"exit_code": code, "output": output}
    if code < 0:
        raise error(f"killed by signal {_signal_name(-code)}", **extra)
    if code not in _STATES:
        reason = "UNKNOWN" if code == 3 else f"UNKNOWN (exit code {code})"
        return Observation(Outcome.NODATA, None, f"{reason}: {text}" if text else reason, extra=extra, final=True)

    state = _STATES[code]
    detail = f"{state}: {text}" if text else state
    measured = _perfdata_value(perfdata, check.spec_as(CommandSpec).perfdata_label)
    if measured is None:
        if code == 0 and not output.strip():
            raise ProbeFailed(Outcome.NODATA, "exit 0 with no output", extra=extra)
        if check.pass_when is not None:
            raise ProbeFailed(Outcome.NODATA, f"{detail} (no perfdata value to compare)", extra=extra)
        outcome = Outcome.PASS if code == 0 else Outcome.BREACH
        return Observation(outcome, None, detail, extra=extra)
    value, unit = measured
    breaches = [] if code == 0 else [detail]
    return judge(check, value, breaches=breaches, detail=detail, extra=extra, unit=check.unit or unit)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _perfdata_value(perfdata: str, label: str | None) -> tuple[float, str] | None:
    """(value, unit) of the first perfdata item, or of the one named ``label``; None if absent.

    Raises:
        ProbeFailed: INVALID for ``U`` or an unparseable value.
    """
    for match in _PERFDATA_ITEM.finditer(perfdata):
        name = match.group(1).strip("'").replace("''", "'")
        if label is not None and name != label:
            continue
        raw_value = match.group(2).split(";")[0]
        parsed = _PERFDATA_VALUE.match(raw_value)
        if parsed is None or parsed.group(1) == "U":
            raise ProbeFailed(Outcome.INVALID, f"perfdata {name}={raw_value or '(empty)'} is not a number")
        unit, scale = _UNIT_SCALE.get(parsed.group(2), (parsed.group(2), 1.0))
        return parse_number(parsed.group(1), f"perfdata {name}") * scale, unit
    return None
