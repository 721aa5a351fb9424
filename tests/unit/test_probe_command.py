"""The command probe: real subprocesses with Nagios exit codes and perfdata."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time

import pytest

from checks.probes import run_probe
from checks.reading import Outcome


def python_check(code: str, **keys: str) -> str:
    """A command check running ``code`` with this Python, as runbook YAML."""
    lines = [f"command: {json.dumps([sys.executable, '-c', code])}"]
    lines += [f"{key}: {value}" for key, value in keys.items()]
    return "\n".join(lines)


def plugin(output: str, exit_code: int) -> str:
    return f"import sys; sys.stdout.write({output!r}); sys.exit({exit_code})"


@pytest.mark.parametrize(
    ("exit_code", "outcome", "detail"),
    [
        (0, Outcome.PASS, "OK: disk fine"),
        (1, Outcome.BREACH, "WARNING: disk fine"),
        (2, Outcome.BREACH, "CRITICAL: disk fine"),
        (3, Outcome.NODATA, "UNKNOWN: disk fine"),
        (4, Outcome.NODATA, "UNKNOWN (exit code 4): disk fine"),
    ],
)
async def test_nagios_exit_codes(poll, exit_code, outcome, detail):
    """0 passes, 1 and 2 breach (saying WARNING / CRITICAL), 3 and above are unknown."""
    reading = await poll(python_check(plugin("disk fine\n", exit_code)))
    assert reading.outcome is outcome
    assert reading.detail == detail
    assert reading.extra["exit_code"] == exit_code


async def test_unknown_exit_stays_unknown_despite_on_nodata(poll):
    """A plugin's UNKNOWN is never turned into a pass by on_nodata."""
    reading = await poll(python_check(plugin("cannot reach db\n", 3), on_nodata="pass"))
    assert reading.outcome is Outcome.NODATA


async def test_empty_output_with_exit_zero_is_nodata_unless_on_nodata_passes_it(poll):
    """Exit 0 that says nothing vouches for nothing (shown unknown); ``on_nodata: pass`` is the runbook accepting it."""
    reading = await poll(python_check("pass"))
    assert reading.outcome is Outcome.NODATA
    assert reading.detail == "exit 0 with no output"
    assert reading.value is None
    accepted = await poll(python_check("pass", on_nodata="pass"))
    assert accepted.outcome is Outcome.PASS
    said = await poll(python_check(plugin("migrations done\n", 0)))
    assert said.outcome is Outcome.PASS
    assert said.detail == "OK: migrations done"


async def test_perfdata_value_is_compared(poll):
    """The first perfdata value, % as a fraction, is judged against pass_when."""
    reading = await poll(
        python_check(plugin("DISK OK | 'used space'=93%;80;90;0;100 inodes=12\n", 0), pass_when='"< 90%"')
    )
    assert reading.outcome is Outcome.BREACH
    assert reading.value == pytest.approx(0.93)
    assert "< 90%" in reading.detail


async def test_perfdata_milliseconds_become_seconds(poll):
    """A time in ms is compared in seconds, as thresholds are normalised."""
    reading = await poll(python_check(plugin("HTTP OK | time=250ms;500;1000\n", 0), pass_when='"< 500ms"'))
    assert (reading.outcome, reading.value, reading.unit) == (Outcome.PASS, pytest.approx(0.25), "s")


async def test_perfdata_unknown_value_is_invalid(poll):
    """A perfdata value U (unknown) is invalid, never 0."""
    reading = await poll(python_check(plugin("LOAD ? | load1=U;5;10\n", 0), pass_when='"< 5"'))
    assert reading.outcome is Outcome.INVALID
    assert reading.value is None


async def test_perfdata_label_picks_the_item(make_context):
    """perfdata_label selects one item among several."""
    ctx = make_context(python_check(plugin("OK | a=1 b=7\n", 0)))
    check = ctx.runbook.checks["probe"]
    check = dataclasses.replace(check, spec=dataclasses.replace(check.spec, perfdata_label="b"))
    reading = await run_probe(check, ctx)
    assert reading.value == 7.0


async def test_pass_when_without_perfdata_is_nodata(poll):
    """With pass_when and no perfdata there is nothing to compare: nodata."""
    reading = await poll(python_check(plugin("all good\n", 0), pass_when='"< 1"'))
    assert reading.outcome is Outcome.NODATA


async def test_exit_code_breach_wins_over_passing_perfdata(poll):
    """CRITICAL with a value inside pass_when is still a breach."""
    reading = await poll(python_check(plugin("CRIT | x=1\n", 2), pass_when='"< 5"'))
    assert reading.outcome is Outcome.BREACH
    assert reading.value == 1.0


async def test_timeout_kills_the_whole_process_group(poll, tmp_path):
    """A command slower than its timeout is an error, and its children are killed too."""
    pid_file = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time;"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid));"
        "time.sleep(60)"
    )
    started = time.monotonic()
    reading = await poll(python_check(code, every="2s", timeout="700ms"))
    assert reading.outcome is Outcome.ERROR
    assert reading.detail == "timed out after 700ms"
    assert time.monotonic() - started < 5
    child_pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child_pid)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie awaiting its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


async def test_killed_by_signal_is_error(poll):
    """A command killed by a signal is an error naming the signal."""
    reading = await poll(python_check("import os, signal; os.kill(os.getpid(), signal.SIGTERM)"))
    assert reading.outcome is Outcome.ERROR
    assert reading.detail == "killed by signal SIGTERM"


async def test_missing_program_is_error(poll):
    """A program that does not exist is an error, not a crash."""
    reading = await poll('command: ["/nonexistent/check_disk"]')
    assert reading.outcome is Outcome.ERROR
    assert "cannot run /nonexistent/check_disk" in reading.detail


async def test_output_is_bounded(poll):
    """Only the first 4 KiB of output are kept, and a chatty command still finishes."""
    reading = await poll(python_check("import sys; sys.stdout.write('x' * 1_000_000)"))
    assert reading.outcome is Outcome.PASS
    assert len(reading.extra["output"]) == 4096


async def test_env_and_cwd_are_passed(poll, tmp_path):
    """The check's env and cwd reach the command."""
    code = "import os, sys; sys.stdout.write(os.environ['STAGE'] + ' ' + os.getcwd()); sys.exit(0 if os.environ['STAGE'] == 'prod' else 2)"
    reading = await poll(python_check(code, cwd=str(tmp_path), env="{STAGE: prod}"))
    assert reading.outcome is Outcome.PASS
    assert reading.detail == f"OK: prod {os.path.realpath(tmp_path)}"


def _processes_with(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if marker.encode() in cmdline.read() and _alive(int(entry)):
                    found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.mark.slow
async def test_a_child_left_holding_the_output_is_killed_every_poll(make_context):
    """A plugin that exits 0 leaving a child on its stdout leaks no process, over 50 polls."""
    marker = f"{os.getpid() % 1000 + 7}.{time.monotonic_ns() % 1000:03d}"
    ctx = make_context(f'command: ["/bin/sh", "-c", "sleep {marker} & echo fine"]\nevery: 10s\ntimeout: 5s')
    check = ctx.runbook.checks["probe"]
    started = time.monotonic()
    readings = [await run_probe(check, ctx) for _ in range(50)]
    assert all(r.outcome is Outcome.PASS and r.detail == "OK: fine" for r in readings)
    assert time.monotonic() - started < 30  # never waits for the orphan to close its output
    deadline = time.monotonic() + 5
    while _processes_with(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(f"sleep {marker}") == []


async def test_env_values_expand_variables(poll):
    """env: {PGPASSWORD: "${PGPASSWORD}"} passes the variable's value, not the literal text."""
    code = "import os, sys; print('checked'); sys.exit(0 if os.environ['PGPASSWORD'] == 's3cr3t-pw' else 2)"
    reading = await poll(python_check(code, env='{PGPASSWORD: "${PGPASSWORD}"}'), env={"PGPASSWORD": "s3cr3t-pw"})
    assert reading.outcome is Outcome.PASS


async def test_env_value_naming_an_unset_variable_is_an_error(poll):
    """A variable that is not set is an error naming it; the command does not run."""
    reading = await poll(python_check("pass", env='{PGPASSWORD: "${PGPASSWORD}"}'), env={})
    assert reading.outcome is Outcome.ERROR
    assert reading.detail == "environment variable PGPASSWORD is not set"
