"""The ``cutover-tui`` command line.

Each command's handler lives in ``cutover_tui.commands`` and is imported only
when that command runs, so ``--help`` and ``validate`` stay fast and never
import Textual.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Sequence

from cutover_tui import __version__

# command -> (module in cutover_tui.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("app_cmds", "run a live session (resumes when --db exists)"),
    "demo": ("app_cmds", "a complete session against a simulated service, no setup"),
    "follow": ("app_cmds", "read-only view of a session another process is writing"),
    "replay": ("app_cmds", "scrub through a recorded session"),
    "serve": ("serve_cmd", "the follow view in a browser, read-only (token required off loopback)"),
    "check": ("check_cmd", "headless gate: poll the checks, print states, exit 0/1/3/4"),
    "validate": ("runbook_cmds", "validate runbooks; exit 2 on the first error in each"),
    "import": ("runbook_cmds", "convert a Markdown checklist runbook to YAML"),
    "verify": ("log_cmds", "verify a session log's hash chain and readings; print its head"),
    "seal": ("log_cmds", "sign a session log's head with an SSH key (ssh-keygen -Y sign)"),
    "report": ("report_cmd", "post-mortem timeline report (md, html, json)"),
    "status": (
        "status_cmd",
        "five lines for the incident channel: verdict, clock, step, conditions, decision, log head",
    ),
}


#: The commands that open the dashboard. They start without the cyclic garbage collector: its passes over
#: everything start-up makes (Textual, the widgets, the runbook) cost more than a third of what the dashboard
#: adds to Textual's own start, and start-up makes little garbage. The dashboard turns it on once its first
#: frame is on screen (``CutoverApp``).
DASHBOARD_COMMANDS = frozenset({"run", "demo", "follow", "replay"})


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, that command's arguments alone are added (the others' modules stay unimported)."""
    parser = argparse.ArgumentParser(
        prog="cutover-tui",
        description="A terminal dashboard for cutover (go-live) day.",
    )
    parser.add_argument("--version", action="version", version=f"cutover-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            _module(module).add_arguments(name, cmd)
    return parser


def _module(name: str):
    return importlib.import_module(f"cutover_tui.commands.{name}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, dispatch, and turn user errors into exit status 2."""
    words = sys.argv[1:] if argv is None else list(argv)
    # The first word that is not an option names the command (the top level's options take no value).
    command = next((word for word in words if not word.startswith("-")), None)
    collecting = gc.isenabled()
    if command in DASHBOARD_COMMANDS:
        gc.disable()
    try:
        return _main(words, command)
    finally:
        if collecting:
            gc.enable()


def _main(words: list[str], command: str | None) -> int:
    from runbooks.errors import RunbookError

    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(words)
    if not args.command:
        parser.print_help()
        return 2
    module, _ = COMMANDS[args.command]
    from cutover_tui.redaction import redact_text

    try:
        return int(_module(module).run(args.command, args) or 0)
    except RunbookError as error:
        print(redact_text(error.format()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        import sqlite3

        from cutover_tui.store import SessionLogError

        # A session log, a file or the database said no: one line, never a traceback.
        if isinstance(error, (SessionLogError, OSError, sqlite3.Error)):
            print(redact_text(f"cutover-tui {args.command}: {error}"), file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
