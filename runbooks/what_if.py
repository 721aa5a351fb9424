"""``--what-if 'auth_errors: > 2% for 2m'``: a stop condition with changed thresholds, for a post-mortem.

The text is a condition id, a colon, and what changes, in the runbook's own
words; anything not named keeps the runbook's value::

    auth_errors: > 2% for 2m
    auth_errors: for 30s
    auth_errors_vs_baseline: > 3x baseline
    auth_errors_vs_baseline: baseline T-1h..T-0 min_samples 30 floor > 1%
    auth_errors_vs_baseline: judge mann_whitney window 2m

Words: a threshold (``> 2%``) or a comparison with the baseline
(``> 2x baseline``) first, then any of ``for``, ``keep_firing_for``,
``min_consecutive``, ``baseline FROM..TO``, ``min_samples``, ``floor``,
``judge``, ``window``, ``confidence``, ``tolerance``.

>>> spec = parse_what_if("auth_errors: > 2% for 2m")
>>> spec.condition, spec.changes["when"].text, spec.changes["for_"]
('auth_errors', '> 2%', 120.0)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runbooks import grammar
from runbooks.model import BaselineWindow, Runbook, StopCondition

#: Keywords and the condition field each sets.
KEYWORDS = (
    "keep_firing_for", "min_consecutive", "min_samples", "confidence", "tolerance",
    "baseline", "floor", "judge", "window", "for",
)  # fmt: skip
_KEYWORD = re.compile(r"(?:^|\s)(" + "|".join(KEYWORDS) + r")(?=\s|$)")
EXAMPLE = "'auth_errors: > 2% for 2m'"
_RELATIVE_HEAD = re.compile(r"\s*(?:>=|<=|==|!=|>|<)\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*[x×]\s*baseline(?=\s|$)", re.I)


@dataclass(frozen=True, slots=True)
class WhatIf:
    """A changed stop condition: its id, the text as given, and the changed fields."""

    condition: str
    text: str
    changes: Mapping[str, Any]

    @property
    def described(self) -> str:
        """What changes, as written: ``> 2% for 2m``."""
        return self.text.split(":", 1)[1].strip()

    def apply(self, runbook: Runbook) -> StopCondition:
        """The runbook's condition with the changes.

        Raises:
            ValueError: no such condition, or the changed condition does not hold together
                (a comparison with the baseline without a baseline window, ...).
        """
        try:
            original = runbook.condition(self.condition)
        except KeyError:
            known = ", ".join(c.id for c in runbook.stop_conditions) or "none"
            raise ValueError(
                f"--what-if {self.text!r}: no stop condition {self.condition!r} (known: {known})"
            ) from None
        changes = dict(self.changes)
        if "when" in changes:
            changes.setdefault("relative", None)
        if "relative" in changes and changes["relative"] is not None:
            changes.setdefault("when", None)
        baseline = changes.pop("baseline_window", None)
        min_samples = changes.pop("min_samples", None)
        if baseline is not None or min_samples is not None:
            current = baseline or original.baseline
            if baseline is not None and min_samples is None and original.baseline is not None:
                min_samples = original.baseline.min_samples  # a moved window keeps the runbook's count
            if current is None:
                raise ValueError(f"--what-if {self.text!r}: min_samples needs a baseline window (baseline T-30m..T-0)")
            if min_samples is not None:
                current = dataclasses.replace(current, min_samples=min_samples)
            changes["baseline"] = current
        changed = dataclasses.replace(original, **changes)
        if changed.relative is not None and changed.baseline is None:
            raise ValueError(
                f"--what-if {self.text!r}: a comparison with the baseline needs a window: add baseline T-30m..T-0"
            )
        if changed.judge == "mann_whitney" and changed.window is None:
            raise ValueError(f"--what-if {self.text!r}: judge mann_whitney needs a window: add window 5m")
        if changed.relative is None and (changed.floor is not None or changed.judge != "median"):
            changed = dataclasses.replace(changed, floor=None, judge="median", window=None)
        return changed


def parse_what_if(text: str) -> WhatIf:
    """``ID: changes`` as above.

    Raises:
        ValueError: the text does not say which condition, or a value does not parse.
    """
    if not isinstance(text, str) or ":" not in text:
        raise ValueError(f"--what-if {text!r}: expected CONDITION: CHANGES, e.g. {EXAMPLE}")
    condition, rest = (part.strip() for part in text.split(":", 1))
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", condition):
        raise ValueError(f"--what-if {text!r}: {condition!r} is not a stop condition id")
    if not rest:
        raise ValueError(f"--what-if {text!r}: say what changes, e.g. {EXAMPLE}")
    relative = _RELATIVE_HEAD.match(rest)  # "> 2x baseline" first: its last word is also a keyword
    body = rest[relative.end() :] if relative else rest
    pieces = _KEYWORD.split(" " + body)
    head, pairs = pieces[0].strip(), list(zip(pieces[1::2], (p.strip() for p in pieces[2::2]), strict=True))
    changes: dict[str, Any] = {}
    try:
        if relative:
            changes["relative"] = grammar.parse_relative(relative.group(0))
        if head:
            if relative:
                raise ValueError(f"{head!r} after {relative.group(0).strip()!r}: expected for, baseline, floor, ...")
            changes["when"] = grammar.parse_threshold(head)
        for keyword, value in pairs:
            if not value:
                raise ValueError(f"{keyword} needs a value")
            changes.update(_keyword(keyword, value))
    except ValueError as error:
        raise ValueError(f"--what-if {text!r}: {error}") from None
    return WhatIf(condition=condition, text=f"{condition}: {rest}", changes=changes)


def _keyword(keyword: str, value: str) -> dict[str, Any]:
    match keyword:
        case "for":
            return {"for_": grammar.parse_duration(value)}
        case "keep_firing_for":
            return {"keep_firing_for": grammar.parse_duration(value)}
        case "window":
            return {"window": grammar.parse_duration(value)}
        case "min_consecutive" | "min_samples":
            count = int(value) if value.isdigit() else 0
            if count < 1:
                raise ValueError(f"{keyword} must be a whole number of at least 1, got {value!r}")
            return {keyword: count}
        case "floor":
            return {"floor": grammar.parse_threshold(value)}
        case "judge":
            if value not in ("median", "mann_whitney"):
                raise ValueError(f"judge is median or mann_whitney, got {value!r}")
            return {"judge": value}
        case "confidence" | "tolerance":
            number = float(value)
            if keyword == "confidence" and not 0.5 <= number < 1:
                raise ValueError(f"confidence must be at least 0.5 and below 1, got {value!r}")
            if number < 0:
                raise ValueError(f"{keyword} must not be negative")
            return {keyword: number}
        case "baseline":
            if ".." not in value:
                raise ValueError(f"baseline is a window FROM..TO, e.g. T-30m..T-0, got {value!r}")
            start_text, end_text = value.split("..", 1)
            start, end = grammar.parse_offset(start_text.strip()), grammar.parse_offset(end_text.strip())
            if start >= end:
                raise ValueError(f"the baseline window {value!r} ends before it starts")
            return {"baseline_window": BaselineWindow(start, end)}
    raise AssertionError(keyword)
