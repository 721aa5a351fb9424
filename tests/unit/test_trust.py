"""Commands from a runbook run only once their exact list is approved; every output is redacted."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cutover_tui import trust
from runbooks import load_runbook


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Approvals go to a private config directory (platformdirs follows XDG_CONFIG_HOME)."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def command_runbook(folder: Path, marker: Path, *, argument: str = "ran") -> Path:
    """A runbook with one command check that writes ``marker`` when it runs."""
    path = folder / "cmd.yaml"
    code = f"open({str(marker)!r}, 'a').write({argument!r}); print('OK - marker written')"
    path.write_text(
        "name: Command gate\n"
        "checks:\n"
        "  migrations:\n"
        f"    command: {json.dumps([sys.executable, '-c', code])}\n"
        '    env: {PGPASSWORD: "${PGPASSWORD}"}\n'
        "    every: 5s\n",
        encoding="utf-8",
    )
    return path


def check(*args: object, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(config), "PGPASSWORD": "pg-secret-value"}
    return subprocess.run([sys.executable, "-m", "cutover_tui", "check", *map(str, args)], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, env=env)  # fmt: skip


def test_check_without_approval_runs_nothing_and_says_how(tmp_path: Path, config_home: Path) -> None:
    """Headless and unapproved: the commands are listed, none runs, exit 2 naming --trust."""
    marker = tmp_path / "ran"
    done = check(command_runbook(tmp_path, marker), config=config_home)
    assert done.returncode == 2 and "--trust" in done.stderr and "migrations" in done.stderr
    assert "PGPASSWORD=${PGPASSWORD}" in done.stderr  # the template, never the value
    assert not marker.exists()


def test_check_with_trust_runs_the_commands_and_remembers_nothing(tmp_path: Path, config_home: Path) -> None:
    """--trust approves for one run (CI): the command runs, and no approval is stored."""
    marker = tmp_path / "ran"
    done = check(command_runbook(tmp_path, marker), "--trust", config=config_home)
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "ran"
    assert not trust.approvals_path().exists()


def test_an_approval_is_remembered_per_runbook_and_a_changed_command_asks_again(
    tmp_path: Path, config_home: Path
) -> None:
    """Approved once, the same runbook runs; a changed command list is not approved."""
    marker = tmp_path / "ran"
    path = command_runbook(tmp_path, marker)
    trust.approve(load_runbook(path))
    assert trust.approvals_path().is_relative_to(config_home)
    assert check(path, config=config_home).returncode == 0
    assert marker.read_text() == "ran"
    changed = command_runbook(tmp_path, marker, argument="changed")
    assert not trust.is_approved(load_runbook(changed))
    assert check(changed, config=config_home).returncode == 2 and marker.read_text() == "ran"


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_run_asks_once_on_a_terminal_and_remembers(tmp_path: Path) -> None:
    """On a terminal the commands are shown and asked about; yes is remembered, no runs nothing."""
    runbook = load_runbook(command_runbook(tmp_path, tmp_path / "ran"))
    shown = Terminal()
    with pytest.raises(trust.NotApproved):
        trust.require_approval(runbook, trust=False, command="run", stdin=Terminal("n\n"), stderr=shown)
    assert "migrations" in shown.getvalue() and "[y/N]" in shown.getvalue()
    assert not trust.is_approved(runbook)
    trust.require_approval(runbook, trust=False, command="run", stdin=Terminal("y\n"), stderr=Terminal())
    assert trust.is_approved(runbook)
    asked = Terminal()
    trust.require_approval(runbook, trust=False, command="run", stdin=Terminal(""), stderr=asked)
    assert asked.getvalue() == ""  # asked once


def test_run_refuses_unapproved_commands_before_creating_the_log(tmp_path: Path, config_home: Path) -> None:
    """`run` headless without approval exits 2 and neither runs a command nor creates the log."""
    marker, db = tmp_path / "ran", tmp_path / "s.cutover.db"
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home)}
    done = subprocess.run(
        [sys.executable, "-m", "cutover_tui", "run", str(command_runbook(tmp_path, marker)), "--db", str(db)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert done.returncode == 2 and "not approved" in done.stderr
    assert not marker.exists() and not db.exists()


def test_runbook_without_commands_needs_no_approval(tmp_path: Path) -> None:
    """Only command checks ask: a runbook of HTTP checks is approved as it is."""
    path = tmp_path / "http.yaml"
    path.write_text("name: HTTP only\nchecks:\n  up: {http: 'http://127.0.0.1:9/', every: 5s}\n", encoding="utf-8")
    assert trust.is_approved(load_runbook(path))


def test_command_env_names_are_secrets(tmp_path: Path) -> None:
    """${VAR} in a command's env counts as a secret, as token_env and header references do."""
    from cutover_tui.redaction import secret_env_names

    runbook = load_runbook(command_runbook(tmp_path, tmp_path / "ran"))
    assert "PGPASSWORD" in secret_env_names(runbook)


def test_check_redacts_a_secret_echoed_by_a_command(tmp_path: Path, config_home: Path) -> None:
    """A plugin that prints the password it was given: check's table, JSON and progress show ${PGPASSWORD}."""
    path = tmp_path / "echo.yaml"
    code = "import os, sys; print('CRITICAL: login failed for ' + os.environ['PGPASSWORD']); sys.exit(2)"
    path.write_text(
        "name: Echo\n"
        "checks:\n"
        "  db:\n"
        f"    command: {json.dumps([sys.executable, '-c', code])}\n"
        '    env: {PGPASSWORD: "${PGPASSWORD}"}\n'
        "    every: 1s\n"
        "    timeout: 900ms\n"
        "stop_conditions:\n"
        "  - {id: db_down, check: db, action: halt}\n",
        encoding="utf-8",
    )
    for args in ([], ["--json"], ["--for", "2s"]):
        done = check(path, "--trust", *args, config=config_home)
        assert done.returncode in (1, 3), done.stderr
        assert "pg-secret-value" not in done.stdout + done.stderr, args
        assert "${PGPASSWORD}" in done.stdout, args
