"""The runbook language: load and validate runbooks, and the small grammars inside them.

>>> from runbooks import load_runbook
>>> runbook = load_runbook("sample_runbooks/demo.yaml")  # doctest: +SKIP
"""

from runbooks.errors import RunbookError
from runbooks.grammar import (
    expand_env,
    format_duration,
    format_offset,
    parse_duration,
    parse_offset,
    parse_threshold,
)
from runbooks.loader import load_runbook, parse_runbook

__all__ = [
    "RunbookError",
    "expand_env",
    "format_duration",
    "format_offset",
    "load_runbook",
    "parse_duration",
    "parse_offset",
    "parse_threshold",
    "parse_runbook",
]
