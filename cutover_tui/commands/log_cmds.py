"""``cutover-tui verify FILE``: walk a session log's hash chain.

Exit 0 and ``N events verified`` when intact; 1 naming the first bad seq and
why (edited, deleted, reordered); 2 when the file is not a session log.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """Add ``verify``'s arguments to its sub-parser."""
    parser.add_argument("file", metavar="FILE", help="a session log (*.cutover.db)")


def run(command: str, args: argparse.Namespace) -> int:
    """Verify ``args.file``; return 0 intact, 1 tampered, 2 not a session log."""
    from cutover_tui.store import NotASessionLog, verify_file

    try:
        result = verify_file(args.file)
    except NotASessionLog as error:
        print(f"cutover-tui verify: {error}", file=sys.stderr)
        return 2
    if result.ok:
        print(f"{result.events} events verified")
        return 0
    where = f"seq {result.bad_seq}: " if result.bad_seq is not None else ""
    print(f"{args.file}: {where}{result.reason}")
    return 1
