"""The report as JSON: field order as in ``Report``, UTC ISO 8601 times, normalised values."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from cutover_tui.report.model import Report
from cutover_tui.store import format_ts


def render_json(report: Report) -> str:
    """The report as JSON: field order as in ``Report``, UTC ISO 8601 times, normalised values."""
    return json.dumps(asdict(report), indent=2, ensure_ascii=False, allow_nan=False, default=_json_default) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_ts(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
