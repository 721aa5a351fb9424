"""``validate`` and ``import``: runbook files without a session."""

from __future__ import annotations

import argparse
import sys


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """Add ``command``'s arguments to its sub-parser."""
    if command == "validate":
        parser.add_argument("runbooks", nargs="+", metavar="RUNBOOK", help="runbook YAML files")
    elif command == "import":
        parser.add_argument("file", metavar="FILE", help="a Markdown checklist runbook")
        parser.add_argument("-o", "--output", metavar="FILE", help="write the YAML here instead of stdout")


def run(command: str, args: argparse.Namespace) -> int:
    """Run ``command``; return the exit status."""
    if command == "import":
        from runbooks.markdown_import import import_command

        return import_command(args)
    return validate(args.runbooks)


def validate(paths: list[str]) -> int:
    """Validate each runbook: ``OK`` line on stdout or the error on stderr; 2 if any failed."""
    from runbooks import RunbookError, load_runbook

    failed = False
    for path in paths:
        try:
            runbook = load_runbook(path)
        except RunbookError as error:
            print(error.format(), file=sys.stderr)
            failed = True
            continue
        print(f"OK  {path}  ({len(runbook.steps)} steps, {len(runbook.checks)} checks, "
              f"{len(runbook.stop_conditions)} stop conditions)")
    return 2 if failed else 0
