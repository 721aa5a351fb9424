"""Command-line options that more than one command takes, written once."""

from __future__ import annotations

import argparse


def add_what_if(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--what-if SPEC`` (repeatable) into ``args.what_if``, a list of changed stop conditions (``runbooks.what_if``).

    ``help_text`` says what the command does with them.
    """
    parser.add_argument("--what-if", dest="what_if", metavar="SPEC", action="append", default=[], help=help_text)
