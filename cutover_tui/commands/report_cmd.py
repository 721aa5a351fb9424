"""Command handlers (placeholder until implemented)."""

from __future__ import annotations

import argparse


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """Add ``command``'s arguments to its sub-parser."""


def run(command: str, args: argparse.Namespace) -> int:
    """Run ``command``; return the exit status."""
    print(f"cutover-tui {command}: not implemented yet")
    return 2
