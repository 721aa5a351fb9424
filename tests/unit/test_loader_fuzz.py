"""Whatever a runbook file contains, the loader answers with a model or a RunbookError, never a traceback."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from runbooks import RunbookError, parse_runbook
from runbooks.loader import (
    CHECK_KINDS,
    COMMON_CHECK_KEYS,
    CONDITION_KEYS,
    SOURCE_KEYS,
    STEP_KEYS,
    TOP_KEYS,
)

ROOT = Path(__file__).resolve().parents[2]
# The format reference's example: valid (test_loader checks it) and touching every key.
VALID_RUNBOOK = re.search(
    r"```yaml\n(.*?)```", (ROOT / "docs" / "runbook-format.md").read_text(encoding="utf-8"), re.S
)[1]  # type: ignore[index]
VALID_DOCUMENT = yaml.safe_load(VALID_RUNBOOK)
KNOWN_KEYS = sorted(
    {*TOP_KEYS, *SOURCE_KEYS, *CHECK_KINDS, *COMMON_CHECK_KEYS, *CONDITION_KEYS, *STEP_KEYS, "<<", "token"}
)
# Fragments that reach deep into the grammar and the YAML syntax.
FRAGMENTS = [
    "T-0",
    "T+72h",
    "T-00:15",
    "5m",
    "1:30",
    "-5m",
    "> 1%",
    ">= 99%",
    "!= 0",
    "== 200",
    "${X}",
    "${X:-http://127.0.0.1}",
    "http://a:b@127.0.0.1/",
    "Bearer abc",
    "&a",
    "*a",
    "<<: *a",
    "!!python/object:os.system",
    "!!int x",
    "!!float",
    "? ",
    "- ",
    ": ",
    "{",
    "}",
    "[",
    "]",
    "'",
    '"',
    "#",
    "|",
    ">",
    "\t",
    "\n",
    "\r",
    "\x00",
    "\ufeff",
    "\ud800",
    "é",
    "...",
    "---",
    ".nan",
    ".inf",
    "1e999",
    "0x1F",
    "0o17",
    "9" * 400,
    "null",
    "~",
    "yes",
    "2026-13-45T25:61:00+99:99",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.just(10**400),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(FRAGMENTS),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def assert_loads_or_runbook_error(text: str) -> None:
    """parse_runbook either returns or raises RunbookError with a printable message."""
    try:
        parse_runbook(text, file="fuzz.yaml")
    except RunbookError as error:
        assert error.format().startswith("fuzz.yaml")
        event("invalid YAML" if error.message.startswith("invalid YAML") else "runbook error")
    else:
        event("loaded")


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_text_mutations_raise_only_runbook_errors(data: st.DataObject) -> None:
    """Deleting, duplicating and swapping lines and changing characters yields a runbook or a RunbookError."""
    lines = VALID_RUNBOOK.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 4))):
        operation = data.draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "insert"]))
        index = data.draw(st.integers(0, len(lines) - 1))
        if operation == "delete" and len(lines) > 1:
            del lines[index]
        elif operation == "duplicate":
            lines.insert(index, lines[index])
        elif operation == "swap":
            other = data.draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        else:
            line = lines[index]
            column = data.draw(st.integers(0, len(line)))
            fragment = data.draw(st.sampled_from(FRAGMENTS) | st.text(min_size=1, max_size=4))
            end = column + (1 if operation == "replace" else 0)
            lines[index] = line[:column] + fragment + line[end:]
    assert_loads_or_runbook_error("".join(lines))


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into nested dicts and lists, the root included."""
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_structural_mutations_raise_only_runbook_errors(data: st.DataObject) -> None:
    """Replacing, deleting and adding values anywhere in a valid runbook yields a runbook or a RunbookError."""
    document = copy.deepcopy(VALID_DOCUMENT)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(document)))
        if not path:
            document = data.draw(values) if data.draw(st.integers(0, 9)) == 0 else document
            continue
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        operation = data.draw(st.sampled_from(["replace", "delete", "add", "wrap", "stringify"]))
        if operation == "replace":
            parent[path[-1]] = data.draw(values)
        elif operation == "delete":
            del parent[path[-1]]
        elif operation == "add" and isinstance(parent, dict):
            parent[data.draw(st.sampled_from(KNOWN_KEYS) | st.text(max_size=8))] = data.draw(values)
        elif operation == "wrap":
            parent[path[-1]] = [parent[path[-1]]]
        else:
            parent[path[-1]] = str(parent[path[-1]])
    assert_loads_or_runbook_error(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))


@given(st.binary(max_size=200).map(lambda raw: raw.decode("utf-8", "replace")) | st.text(max_size=200))
@settings(max_examples=100, deadline=None)
def test_arbitrary_text_raises_only_runbook_errors(text: str) -> None:
    """Arbitrary text, YAML or not, yields a RunbookError (or, rarely, a runbook)."""
    assert_loads_or_runbook_error(text)
