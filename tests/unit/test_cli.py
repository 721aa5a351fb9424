"""The command line's dispatch: what each command starts with."""

from __future__ import annotations

import argparse
import gc

import pytest

from cutover_tui import cli


class RecordingCommand:
    """Stands in for a command's module: takes a path and records whether the cyclic collector was on."""

    def __init__(self) -> None:
        self.collecting: dict[str, bool] = {}

    def add_arguments(self, command: str, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("path")

    def run(self, command: str, args: argparse.Namespace) -> int:
        self.collecting[command] = gc.isenabled()
        return 0


def test_dashboard_commands_start_without_the_cyclic_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    """`run`, `demo`, `follow` and `replay` start with the cyclic collector off, the others with it on; on after each."""
    recording = RecordingCommand()
    monkeypatch.setattr(cli, "_module", lambda name: recording)
    for command in ("run", "follow", "replay", "validate", "verify", "status"):
        assert cli.main([command, "x"]) == 0
        assert gc.isenabled()
    assert recording.collecting == {
        "run": False, "follow": False, "replay": False, "validate": True, "verify": True, "status": True,
    }  # fmt: skip
