"""The small languages inside a runbook: durations, T-offsets, thresholds, ``${ENV}``.

Each parser takes the text as written and returns plain floats (seconds,
fractions) or a ``Threshold``; each raises ``ValueError`` with a message a
person can act on (the loader adds file, line and column; argparse shows it
as is when used as an argument ``type``).

>>> parse_duration("1h30m"), parse_offset("T-00:15"), format_offset(-86400.0)
(5400.0, -900.0, 'T-24h')
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import cast

from runbooks.model import ComparisonOp, RelativeThreshold, Threshold

_NUMBER = r"\d+(?:\.\d+)?"
# Units in descending order, each at most once: "1h30m", "2d", "1m30s", "500ms".
_DURATION = re.compile(
    rf"(?:(?P<d>{_NUMBER})d)?(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m(?!s))?"
    rf"(?:(?P<s>{_NUMBER})s)?(?:(?P<ms>{_NUMBER})ms)?"
)
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_CLOCK = re.compile(r"(?P<h>\d{1,3}):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?")
_OFFSET = re.compile(r"T(?P<sign>[+-]?)(?P<rest>.*)")
_THRESHOLD = re.compile(
    r"(?P<op>>=|<=|==|!=|>|<)\s*(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<unit>\S*)"
)
# Threshold units and the factor that normalises them.
# Sub-units divide (95 / 100 is exactly 0.95; 95 * 0.01 is 0.9500000000000001, which moves the boundary).
_THRESHOLD_UNITS = {
    "": (1.0, 1.0),
    "%": (1.0, 100.0),
    "ms": (1.0, 1000.0),
    "s": (1.0, 1.0),
    "m": (60.0, 1.0),
    "h": (3600.0, 1.0),
}
_RELATIVE = re.compile(r"(?P<op>>=|<=|==|!=|>|<)\s*(?P<factor>[+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*[x×]\s*baseline", re.I)
_ENV_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")

DURATION_EXAMPLES = "500ms, 30s, 5m, 1h30m, 2d or a number of seconds"
OFFSET_EXAMPLES = "T-7d, T-24h, T-00:15, T+30m, T+1h30m, T-0"
THRESHOLD_EXAMPLES = '"> 0.01", ">= 99%", "< 500ms", "== 200", "!= 0"'
RELATIVE_EXAMPLES = '"> 2x baseline", ">= 1.5x baseline", "< 0.5x baseline"'


def parse_duration(text: str | int | float) -> float:
    """Seconds in a duration such as ``500ms``, ``30s``, ``5m``, ``1h30m``, ``2d``.

    A bare number (``90``, ``"90"``, ``1.5``) is seconds. Negative, empty and
    non-finite durations are rejected.

    Raises:
        ValueError: the text is not a duration.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"expected a duration ({DURATION_EXAMPLES}), got {type(text).__name__}")
    if isinstance(text, (int, float)):
        try:
            seconds = float(text)
        except OverflowError:
            raise ValueError("a duration must be a finite number of seconds >= 0, got a number too large") from None
    else:
        stripped = text.strip()
        if re.fullmatch(_NUMBER, stripped):
            seconds = float(stripped)
        else:
            seconds = _duration_units(stripped)
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"a duration must be a finite number of seconds >= 0, got {text!r}")
    return seconds


def _duration_units(text: str) -> float:
    match = _DURATION.fullmatch(text)
    if not text or match is None or not any(match.groupdict().values()):
        raise ValueError(f"invalid duration {text!r}: expected {DURATION_EXAMPLES}")
    return sum(float(amount) * _UNIT_SECONDS[unit] for unit, amount in match.groupdict().items() if amount)


def parse_offset(text: str) -> float:
    """Seconds from T0 in a T-offset: negative before T0.

    Accepted: ``T-7d``, ``T-24h``, ``T+30m``, ``T+1h30m`` (durations),
    ``T-00:15`` (hh:mm, or hh:mm:ss), and ``T-0``, ``T+0``, ``T0`` for T0 itself.

    Raises:
        ValueError: the text is not a T-offset.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a T-offset ({OFFSET_EXAMPLES}), got {type(text).__name__}")
    match = _OFFSET.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid T-offset {text!r}: expected {OFFSET_EXAMPLES}")
    sign, rest = match["sign"], match["rest"]
    if rest == "0":
        return 0.0
    if not sign:
        raise ValueError(
            f"invalid T-offset {text!r}: say T-... (before T0) or T+... (after); expected {OFFSET_EXAMPLES}"
        )
    clock = _CLOCK.fullmatch(rest)
    if clock:
        seconds = int(clock["h"]) * 3600.0 + int(clock["m"]) * 60.0 + int(clock["s"] or 0)
    else:
        try:
            seconds = _duration_units(rest)
        except ValueError:
            raise ValueError(f"invalid T-offset {text!r}: expected {OFFSET_EXAMPLES}") from None
    return -seconds if sign == "-" and seconds else seconds


def format_duration(seconds: float) -> str:
    """A duration for display, largest units first: ``90`` -> ``1m30s``, ``0.5`` -> ``500ms``.

    Days are used only beyond 72 hours, as runbooks say ``T-24h`` and ``T+72h``
    but ``T-7d``. Rounded to the millisecond; the sign is dropped (see ``format_offset``).
    """
    milliseconds = round(abs(seconds) * 1000)
    if milliseconds == 0:
        return "0s"
    units: tuple[tuple[str, int], ...] = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))
    if milliseconds <= 72 * 3_600_000:
        units = units[1:]
    parts = []
    for unit, size in units:
        amount, milliseconds = divmod(milliseconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """A count and its noun for messages: ``counted(1, "step")`` -> ``1 step``, ``counted(3, "step")`` -> ``3 steps``.

    The plural is the noun with an ``s`` unless given (``counted(2, "series", "series")``).
    """
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def format_offset(seconds: float) -> str:
    """A T-offset for display, the inverse of ``parse_offset``: ``-86400`` -> ``T-1d``; T0 is ``T-0``."""
    if round(abs(seconds) * 1000) == 0:
        return "T-0"
    return ("T-" if seconds < 0 else "T+") + format_duration(seconds)


def parse_threshold(text: str) -> Threshold:
    """A comparison such as ``> 0.01``, ``>= 99%``, ``< 500ms``, ``== 200``, ``!= 0``, ``> 1 s``.

    Percent becomes a fraction (``99%`` -> ``0.99``) and time becomes seconds
    (``500ms`` -> ``0.5``); the value is a float.

    Raises:
        ValueError: the text is not a threshold.
    """
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"expected a threshold ({THRESHOLD_EXAMPLES}) as a quoted string, got {type(text).__name__}")
    stripped = text.strip()
    match = _THRESHOLD.fullmatch(stripped)
    if match is None:
        raise ValueError(
            f"invalid threshold {text!r}: expected an operator (> >= < <= == !=) and a number, e.g. {THRESHOLD_EXAMPLES}"
        )
    unit = match["unit"]
    if unit not in _THRESHOLD_UNITS:
        known = ", ".join(repr(u) for u in _THRESHOLD_UNITS if u)
        raise ValueError(f"invalid threshold {text!r}: unknown unit {unit!r} (known: {known}, or none)")
    multiply, divide = _THRESHOLD_UNITS[unit]
    value = float(match["number"]) * multiply / divide
    if not math.isfinite(value):
        raise ValueError(f"invalid threshold {text!r}: the number is too large")
    return Threshold(op=cast(ComparisonOp, match["op"]), value=value, unit=unit, text=stripped)


def is_relative(text: object) -> bool:
    """Whether a ``when`` is written relative to the baseline (it names ``baseline``)."""
    return isinstance(text, str) and "baseline" in text.lower()


def parse_relative(text: str) -> RelativeThreshold:
    """A comparison with a multiple of the baseline: ``> 2x baseline``, ``>= 1.5x baseline``, ``< 0.5x baseline``.

    Raises:
        ValueError: the text is not such a comparison, compares for equality,
            or its factor is not a positive number.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a comparison with the baseline ({RELATIVE_EXAMPLES}), got {type(text).__name__}")
    stripped = text.strip()
    match = _RELATIVE.fullmatch(stripped)
    if match is None:
        raise ValueError(f"invalid comparison with the baseline {text!r}: expected e.g. {RELATIVE_EXAMPLES}")
    if match["op"] in ("==", "!="):
        raise ValueError(f"{text!r}: a value never equals a multiple of a median exactly; use >, >=, < or <=")
    factor = float(match["factor"])
    if not math.isfinite(factor) or factor <= 0:
        raise ValueError(f"{text!r}: the factor must be a positive number, e.g. {RELATIVE_EXAMPLES}")
    return RelativeThreshold(op=cast(ComparisonOp, match["op"]), factor=factor, text=stripped)


def env_references(text: str) -> list[str]:
    """Names of the ``${VAR}`` / ``${VAR:-default}`` references in ``text``.

    Raises:
        ValueError: a ``${`` that is not a well-formed reference.
    """
    names = [m["name"] for m in _ENV_REFERENCE.finditer(text)]
    if "${" in _ENV_REFERENCE.sub("", text):
        raise ValueError("malformed ${...}: write ${NAME} or ${NAME:-default} (NAME: letters, digits, _)")
    return names


def expand_env(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with each ``${VAR}`` / ``${VAR:-default}`` replaced from ``environ`` (default ``os.environ``).

    As in the shell, ``:-`` uses the default when the variable is unset or empty.

    Raises:
        ValueError: a variable without a default is unset, or a reference is malformed.
    """
    env_references(text)
    environ = os.environ if environ is None else environ

    def substitute(match: re.Match[str]) -> str:
        value = environ.get(match["name"], "")
        if value:
            return value
        if match["default"] is not None:
            return match["default"]
        if match["name"] in environ:
            return value
        raise ValueError(f"environment variable {match['name']} is not set (or write ${{{match['name']}:-default}})")

    return _ENV_REFERENCE.sub(substitute, text)
