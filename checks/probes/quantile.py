"""Telling when a ``histogram_quantile`` result is only a lower bound.

Prometheus' ``histogram_quantile(φ, b)`` on classic buckets returns the upper
bound of the highest finite bucket when the φ-quantile lies in the ``+Inf``
bucket (``bucketQuantile`` in ``promql/quantile.go``): with buckets up to
``le="1"``, every p95 above a second reads exactly ``1``. That value is a lower
bound: the quantile is above it, by how much nobody can say.

The bound is read from the data, never from the runbook: the promql probe
runs the call's bucket expression ``b`` as a second instant query at the same
evaluation time, groups its series as ``histogram_quantile`` does (all labels
but ``le``, without the metric name), and for each group takes the highest
finite ``le`` and the cumulative counts. A result is a lower bound when it
equals its group's highest finite bound and, φ being a number, the rank
``φ × count(+Inf)`` exceeds the count at that bound, as Prometheus decides it
(a rank landing exactly on the bound's count is an exact value).

``find_calls`` finds the calls with a small PromQL scanner (``scan``: strings,
comments and brackets are respected; ``checks.probes.inputs`` reads the range
selectors with it too). When the whole query is one call, each result
series is matched with its group; when the call is inside a larger
expression (``max(histogram_quantile(...))``, ``... * 1000``) no result can
be matched with a group, so a call whose quantile lies above its top bucket
in any group makes the result unjudgeable. Sources without classic buckets
(native histograms, recording rules without ``le``) give no groups and
change nothing.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_OPEN, _CLOSE = "([{", ")]}"


@dataclass(frozen=True, slots=True)
class Call:
    """One ``histogram_quantile(φ, b)`` in a query."""

    phi: float | None  # None when φ is not a number literal
    buckets: str  # the text of ``b``
    whole: bool  # the call is the whole query (outer parentheses aside)


@dataclass(frozen=True, slots=True)
class Group:
    """The buckets of one output series of ``histogram_quantile``."""

    top: float  # highest finite ``le``
    top_count: float  # cumulative count at ``top`` (made monotonic, as Prometheus does)
    total: float | None  # count of the ``+Inf`` bucket; None when there is none

    def above_top(self, phi: float | None) -> bool | None:
        """Whether the φ-quantile lies in the ``+Inf`` bucket; None when φ is unknown."""
        if self.total is None or not self.total:
            return False
        if phi is None:
            return None
        return self.top_count < phi * self.total


@functools.lru_cache(maxsize=256)
def find_calls(query: str) -> tuple[Call, ...]:
    """The ``histogram_quantile`` calls of ``query`` (none when it cannot be scanned)."""
    tokens = scan(query)
    if tokens is None:
        return ()
    calls = []
    for index, (kind, text, _, _) in enumerate(tokens):
        if kind != "name" or text != "histogram_quantile":
            continue
        if index + 1 >= len(tokens) or tokens[index + 1][1] != "(":
            continue
        arguments, close = _arguments(tokens, index + 1)
        if close is None or len(arguments) != 2:
            continue
        (phi_start, phi_end), (b_start, b_end) = arguments
        phi_text = query[tokens[phi_start][2] : tokens[phi_end][3]] if phi_end >= phi_start else ""
        buckets = query[tokens[b_start][2] : tokens[b_end][3]] if b_end >= b_start else ""
        if not buckets.strip():
            continue
        calls.append(Call(_number(phi_text), buckets, _is_whole(tokens, index, close)))
    return tuple(calls)


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def scan(query: str) -> list[tuple[str, str, int, int]] | None:
    """(kind, text, start, end) of names, brackets, commas and other lexemes; comments and spaces dropped."""
    tokens: list[tuple[str, str, int, int]] = []
    position, length = 0, len(query)
    while position < length:
        char = query[position]
        if char.isspace():
            position += 1
        elif char == "#":
            newline = query.find("\n", position)
            position = length if newline < 0 else newline + 1
        elif char in "\"'`":
            end = position + 1
            while end < length and query[end] != char:
                end += 2 if char != "`" and query[end] == "\\" else 1
            if end >= length:
                return None  # an unterminated string: Prometheus refuses the query anyway
            tokens.append(("string", query[position : end + 1], position, end + 1))
            position = end + 1
        elif char in _OPEN or char in _CLOSE or char == ",":
            tokens.append(("punct", char, position, position + 1))
            position += 1
        elif (match := _NAME.match(query, position)) is not None:
            tokens.append(("name", match.group(), position, match.end()))
            position = match.end()
        else:
            end = position + 1
            while (
                end < length
                and not query[end].isspace()
                and query[end] not in "\"'`#,([{)]}"
                and not _NAME.match(query, end)
            ):
                end += 1
            tokens.append(("other", query[position:end], position, end))
            position = end
    return tokens


def _arguments(tokens: list[tuple[str, str, int, int]], open_index: int) -> tuple[list[tuple[int, int]], int | None]:
    """Token ranges of the comma-separated arguments after ``(`` at ``open_index``, and the closing index."""
    depth, start, arguments = 0, open_index + 1, []
    for index in range(open_index, len(tokens)):
        kind, text = tokens[index][0], tokens[index][1]
        if kind != "punct":
            continue
        if text in _OPEN:
            depth += 1
        elif text in _CLOSE:
            depth -= 1
            if depth == 0:
                arguments.append((start, index - 1))
                return arguments, index
        elif text == "," and depth == 1:
            arguments.append((start, index - 1))
            start = index + 1
    return arguments, None


def _is_whole(tokens: list[tuple[str, str, int, int]], name_index: int, close_index: int) -> bool:
    """Whether the tokens outside the call are only matching pairs of parentheses around it."""
    before, after = tokens[:name_index], tokens[close_index + 1 :]
    return len(before) == len(after) and all(t[1] == "(" for t in before) and all(t[1] == ")" for t in after)


def groups(series: Iterable[tuple[Mapping[str, str], object]]) -> dict[tuple[tuple[str, str], ...], Group]:
    """Bucket series (labels, raw value) grouped as ``histogram_quantile`` groups them.

    Series without a numeric ``le`` are left out; groups without a finite
    bucket are left out (there is no top bound to land on).
    """
    counts: dict[tuple[tuple[str, str], ...], dict[float, float]] = {}
    for labels, raw in series:
        le = parse_float(labels.get("le"))
        value = parse_float(raw)
        if le is None or value is None or math.isnan(le) or math.isnan(value):
            continue
        buckets = counts.setdefault(group_key(labels), {})
        buckets[le] = buckets.get(le, 0.0) + value  # equal bounds are merged (coalesceBuckets)
    result = {}
    for key, buckets in counts.items():
        finite = sorted(le for le in buckets if math.isfinite(le))
        if not finite:
            continue
        top_count = max(buckets[le] for le in finite)  # ensureMonotonic: a count never falls
        total = buckets.get(math.inf)
        result[key] = Group(finite[-1], top_count, None if total is None else max(total, top_count))
    return result


def group_key(labels: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The labels ``histogram_quantile`` keeps: all but ``le`` and the metric name."""
    return tuple(sorted((str(k), str(v)) for k, v in labels.items() if k not in ("le", "__name__")))


def parse_float(raw: object) -> float | None:
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        return float(str(raw).strip())  # "+Inf", "1", "1.0", "2.5e-1"
    except ValueError:
        return None
