"""Telling when a query's value comes only from samples its source no longer collects.

When Prometheus stops scraping a target (it died, the network between them
broke, its new version moved ``/metrics``), it marks the target's series stale:
an instant selector finds nothing at once. A range selector does not: stale
markers are dropped from range vectors, so ``rate(errors[5m])`` keeps computing
from the samples still in its window, and the error share of a dead service
reads as it last was ("0.2%, ok") for the range's length.

``range_selectors`` finds the query's range selectors (``name{matchers}[5m]``)
with the quantile module's scanner; those with ``offset`` or ``@`` look at the
past on purpose and are left out, as are subqueries (``(...)[5m:1m]``).
``stale_query`` builds one instant query that returns a sample only when some
selector had series within its range and none has one now:

    (count(last_over_time(S1[R1])) or count(last_over_time(S2[R2])))
      unless (count(S1) or count(S2))

"None has one now" and not "one lacks one": in a rolling deploy the old pods'
series go stale while the new pods' are current, and a series that exists only
once an error happened (``code="500"``) may not exist yet on a new pod. Both
are current data, not a dead source.

One target of several dying is another matter: the error share of three pods
reads as the two live ones' ("0.2%, ok") while the third, the one failing, is
not measured at all. A pod that left service discovery (a rolling deploy) has
no ``up`` series any more; a target Prometheus still tries and cannot scrape
has ``up == 0``. ``down_query`` asks for each target (``job``, ``instance``)
that is down now and fed one of the selectors within its range, or within
``DOWN_LOOKBACK`` when that is longer (a ``[30s]`` rate forgets a dead pod
after 30 s). ``inputs_query`` asks both questions in one instant query: the
stale answer is one sample without labels, a down target one with its
``job`` and ``instance``.
"""

from __future__ import annotations

import functools
import re

from checks.probes.quantile import scan

_DURATION = re.compile(r"^\s*(?:\d+(?:ms|s|m|h|d|w|y))+\s*$")
#: What may follow a range selector's ``]`` and moves it into the past.
_TIME_MODIFIERS = frozenset({"offset", "@"})


@functools.lru_cache(maxsize=256)
def range_selectors(query: str) -> tuple[tuple[str, str], ...]:
    """The ``(selector, range)`` pairs of ``query``'s range vectors, each once, in order (none when unscannable)."""
    tokens = scan(query)
    if tokens is None:
        return ()
    found: list[tuple[str, str]] = []
    for index, (kind, text, _, end) in enumerate(tokens):
        if kind != "punct" or text != "[" or index == 0:
            continue
        close = next((i for i in range(index + 1, len(tokens)) if tokens[i][1] == "]"), None)
        if close is None:
            continue
        duration = query[end : tokens[close][2]]
        if not _DURATION.match(duration):
            continue  # a subquery ("5m:1m"), or something else
        if close + 1 < len(tokens) and tokens[close + 1][1] in _TIME_MODIFIERS:
            continue
        start = _selector_start(tokens, index - 1)
        if start is None:
            continue
        selector = (query[tokens[start][2] : tokens[index - 1][3]], duration.strip())
        if selector not in found:
            found.append(selector)
    return tuple(found)


def _selector_start(tokens: list[tuple[str, str, int, int]], last: int) -> int | None:
    """The index of the token a selector ending at ``last`` begins with: its name, or its ``{``; None if none."""
    kind, text = tokens[last][0], tokens[last][1]
    if kind == "name":
        return last
    if text != "}":
        return None  # ")" before "[": a subquery
    depth = 0
    for index in range(last, -1, -1):
        if tokens[index][1] == "}":
            depth += 1
        elif tokens[index][1] == "{":
            depth -= 1
            if depth == 0:
                return index - 1 if index > 0 and tokens[index - 1][0] == "name" else index
    return None


#: A target fed the query lately when one of its selectors had its series within this long, or the selector's range.
DOWN_LOOKBACK = "15m"


def inputs_query(selectors: tuple[tuple[str, str], ...]) -> str:
    """``stale_query`` or ``down_query``: one instant query for both (``unless`` binds tighter than ``or``)."""
    return f"{stale_query(selectors)} or {down_query(selectors)}"


def down_query(selectors: tuple[tuple[str, str], ...]) -> str:
    """An instant query with a sample for each target that is down now (``up == 0``) and had series of a selector
    within its range, or within ``DOWN_LOOKBACK``."""
    looks = dict.fromkeys(
        look for selector, duration in selectors for look in ((selector, duration), (selector, DOWN_LOOKBACK))
    )
    fed = " or ".join(f"count by (job, instance) (last_over_time({s}[{d}]))" for s, d in looks)
    return f"(up == 0) and on (job, instance) ({fed})"


def stale_query(selectors: tuple[tuple[str, str], ...]) -> str:
    """An instant query with a sample only when a selector had series within its range and none has one now."""
    before = " or ".join(f"count(last_over_time({selector}[{duration}]))" for selector, duration in selectors)
    now = " or ".join(f"count({selector})" for selector in dict.fromkeys(selector for selector, _ in selectors))
    return f"({before}) unless ({now})"
