"""``cutover-tui report FILE [-o OUT] [--format md|html|json] [--what-if SPEC ...]``: the post-mortem and release evidence.

The format comes from ``--format``, else from OUT's extension, else Markdown.
Without ``-o`` the report is written next to FILE as
``<session>-report-<YYYYmmddTHHMMSSZ>.<ext>`` and its path printed; ``-o -``
writes it to standard output. Exit 0 when written, 1 when written but the
log is tampered (the report says so first), 2 when FILE is not a session log.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from cutover_tui.commands.options import add_what_if

FORMAT_EXTENSIONS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json"}


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """Add ``report``'s arguments to its sub-parser."""
    parser.add_argument("file", metavar="FILE", help="a session log (*.cutover.db)")
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="where to write it ('-' for standard output); default: next to FILE, named after it and the time",
    )
    parser.add_argument(
        "--format",
        choices=("md", "html", "json"),
        help="md (release evidence), html (one self-contained page with charts) or json; default from OUT, else md",
    )
    add_what_if(
        parser,
        "re-evaluate the recorded readings with a changed stop condition, e.g. 'auth_errors: > 2%% for 2m' "
        "(repeatable); adds a What if section",
    )


def run(command: str, args: argparse.Namespace) -> int:
    """Write the report of ``args.file``; return 0, 1 (tampered log) or 2 (not a session log)."""
    from cutover_tui.redaction import Redactor, activate, redact_rendered, secret_env_names
    from cutover_tui.report import build_report, render
    from cutover_tui.store import SessionLog, SessionLogError

    fmt = args.format or report_format(args.output)
    try:
        report = build_report(args.file, what_if=getattr(args, "what_if", None) or ())
        with SessionLog.open_readonly(args.file) as log:
            names = secret_env_names(log.stored_runbook())
    except (SessionLogError, ValueError) as error:
        print(f"cutover-tui report: {error}", file=sys.stderr)
        return 2
    # The writer redacted what it stored; this catches a secret set here that the writer did not know.
    activate(Redactor(names))
    text = redact_rendered(render(report, fmt))
    if args.output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        out = Path(args.output) if args.output else default_output(Path(args.file), fmt, report.generated_at)
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"cutover-tui report: cannot write the report to {out} ({error.strerror or error}); "
                  "write it elsewhere with -o PATH, or to standard output with -o -", file=sys.stderr)  # fmt: skip
            return 2
        print(f"report written to {out}")
    if not report.integrity.intact:
        where = f"seq {report.integrity.bad_seq}: " if report.integrity.bad_seq is not None else ""
        print(f"cutover-tui report: {args.file} is TAMPERED: {where}{report.integrity.reason}", file=sys.stderr)
        return 1
    return 0


def report_format(output: str | None) -> str:
    """The format OUT's extension names; Markdown when it names none."""
    if not output or output == "-":
        return "md"
    return FORMAT_EXTENSIONS.get(Path(output).suffix.lower(), "md")


def default_output(db: Path, fmt: str, generated_at: datetime) -> Path:
    """``<session>-report-<YYYYmmddTHHMMSSZ>.<fmt>`` next to ``db``; the session is its name without ``.cutover.db``."""
    session = db.name.removesuffix(".db").removesuffix(".cutover") or db.name
    return db.with_name(f"{session}-report-{generated_at:%Y%m%dT%H%M%SZ}.{fmt}")
