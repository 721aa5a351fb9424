"""``validate`` and ``import``: runbook files without a session."""

from __future__ import annotations

import argparse
import sys


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """Add ``command``'s arguments to its sub-parser."""
    if command == "validate":
        parser.add_argument("runbooks", nargs="+", metavar="RUNBOOK", help="runbook YAML files")
        parser.add_argument(
            "--strict",
            action="store_true",
            help="a warning (such as a placeholder check not wired to a probe) fails the runbook",
        )
    elif command == "import":
        parser.add_argument("file", metavar="FILE", help="a Markdown runbook (checklists, timelines, tables)")
        parser.add_argument("-o", "--output", metavar="FILE", help="write the YAML here instead of stdout")
        parser.add_argument(
            "--report",
            action="store_true",
            help="print what was understood, and what was kept only as notes or skipped, "
            "with line numbers (to stderr when the YAML goes to stdout)",
        )


def run(command: str, args: argparse.Namespace) -> int:
    """Run ``command``; return the exit status."""
    if command == "import":
        from runbooks.markdown_import import import_command

        return import_command(args)
    return validate(args.runbooks, strict=getattr(args, "strict", False))


def validate(paths: list[str], strict: bool = False) -> int:
    """Validate each runbook: ``OK`` line on stdout or the error on stderr; 2 if any failed.

    Warnings (a placeholder check not wired to a probe) go to stderr after the
    runbook's line; with ``strict`` they fail the runbook like errors.
    """
    from runbooks import RunbookError, load_runbook
    from runbooks.grammar import counted

    failed = False
    for path in paths:
        try:
            runbook = load_runbook(path)
        except RunbookError as error:
            print(error.format(), file=sys.stderr)
            failed = True
            continue
        counts = (
            f"({counted(len(runbook.steps), 'step')}, {counted(len(runbook.checks), 'check')}, "
            f"{counted(len(runbook.stop_conditions), 'stop condition')}"
        )
        warned = f", {counted(len(runbook.warnings), 'warning')})" if runbook.warnings else ")"
        if strict and runbook.warnings:
            print(f"FAIL  {path}  {counts}{warned}: --strict fails on warnings")
            failed = True
        else:
            print(f"OK  {path}  {counts}{warned}")
        for warning in runbook.warnings:
            print(warning, file=sys.stderr)
    return 2 if failed else 0
