"""Load a runbook from YAML into the model, validating everything on the way.

The YAML is composed into nodes (never constructed into arbitrary objects),
so every error can name the file, the 1-based line and column, and the key
path (``stop_conditions[0].for``). Every failure raises ``RunbookError``.

>>> runbook = parse_runbook("name: Go-live\\nsteps:\\n  - {title: Deploy backend, at: T-0}\\n")
>>> runbook.steps[0].id, runbook.steps[0].at
('deploy_backend', 0.0)
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal, TypedDict, TypeVar
from zoneinfo import ZoneInfo

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runbooks import grammar
from runbooks.errors import RunbookError
from runbooks.model import (
    Action,
    ActiveWindow,
    AlertsSpec,
    BaselineWindow,
    Check,
    CheckKind,
    CheckSpec,
    CommandSpec,
    EscalationLevel,
    HttpSpec,
    Item,
    Judge,
    PlaceholderSpec,
    PromqlSpec,
    Reduce,
    RelativeThreshold,
    Runbook,
    Scorecard,
    ScorecardCategory,
    ScrapeSpec,
    Source,
    SourceKind,
    Step,
    StepKind,
    StopCondition,
    Threshold,
)

T = TypeVar("T")
D = TypeVar("D")
C = TypeVar("C", bound=str)

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + name for name in ("str", "int", "float", "bool", "null"))

TOP_KEYS = (
    "name",
    "description",
    "t0",
    "timezone",
    "roles",
    "sources",
    "checks",
    "stop_conditions",
    "steps",
    "rollback",
    "escalation",
    "scorecard",
)
SOURCE_KINDS: tuple[SourceKind, ...] = ("prometheus", "alertmanager")
SOURCE_KEYS = ("kind", "url", "token_env", "headers", "timeout", "verify_tls")
CHECK_KINDS: tuple[CheckKind, ...] = ("http", "promql", "alerts", "scrape", "command", "placeholder")
COMMON_CHECK_KEYS = ("every", "timeout", "pass_when", "on_nodata", "on_invalid", "max_age", "unit", "title")
KIND_CHECK_KEYS: dict[str, tuple[str, ...]] = {
    "http": ("method", "headers", "expect_status", "max_latency", "json_path", "verify_tls"),
    "promql": ("source", "expect", "reduce", "headers"),
    "alerts": ("source", "watchdog", "receiver", "suppressed"),
    "scrape": ("metric", "labels", "mode", "reduce", "headers", "verify_tls"),
    "command": ("cwd", "env", "perfdata_label"),
    "placeholder": (),
}
CONDITION_KEYS = (
    "id",
    "title",
    "check",
    "when",
    "for",
    "min_consecutive",
    "keep_firing_for",
    "error_limit",
    "max_age",
    "action",
    "decides",
    "severity",
    "active",
    "baseline",
    "floor",
    "judge",
    "window",
    "confidence",
    "tolerance",
)
BASELINE_KEYS = ("from", "to", "min_samples")
JUDGES: tuple[Judge, ...] = ("median", "mann_whitney")
#: What ``judge: mann_whitney`` needs installed, and how to get it.
MANN_WHITNEY_PACKAGE = "scipy"
MANN_WHITNEY_INSTALL = "pip install 'cutover-tui[judge]' (or pip install scipy)"
STEP_KEYS = (
    "id",
    "title",
    "at",
    "duration",
    "owner",
    "kind",
    "phrase",
    "items",
    "evidence",
    "gate",
    "watch",
    "depends_on",
    "notes",
    "expect_silenced",
    "approvers",
)
ESCALATION_KEYS = ("severity", "respond_within", "escalate_to", "description")
SCORECARD_KEYS = ("go", "conditional", "categories")
CATEGORY_KEYS = ("id", "title", "weight")
ITEM_KEYS = ("id", "text")
OUTCOME_CHOICES: tuple[Literal["unknown", "pass", "breach"], ...] = ("unknown", "pass", "breach")
SUPPRESSED_CHOICES: tuple[Literal["unknown", "ignore"], ...] = ("unknown", "ignore")
EXPECT_CHOICES: tuple[Literal["one", "any", "all"], ...] = ("one", "any", "all")
REDUCE_CHOICES: tuple[Reduce, ...] = ("max", "min", "sum")
MODE_CHOICES: tuple[Literal["value", "rate"], ...] = ("value", "rate")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_EVERY = 15.0
DEFAULT_TIMEOUT = 5.0

_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_METRIC_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_MATCHER = re.compile(r"\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>.*?)\s*")
_JSON_PATH = re.compile(r"(?:[^.\[\]]+|\[\d+\])(?:\.[^.\[\]]+|\[\d+\])*")
# Keys people use for inline credentials: never valid, and worth a specific message.
_SECRET_KEY = re.compile(
    r"(?:.*_)?(?:token|password|passwd|secret|api_?key|credentials?|authorization|bearer)(?:_.*)?", re.I
)
_SECRET_NAME = re.compile(r"auth|token|key|secret|passw|cookie|session|credential|signature", re.I)
_AUTH_SCHEME = re.compile(r"\s*(?:bearer|basic|token|apikey|api-key|digest|negotiate)\b", re.I)
_ENV_REFERENCE = re.compile(r"\$\{[^}]*\}")
_SECRET_HINT = (
    "name the environment variable that holds it instead: token_env: API_TOKEN on a source, "
    'or a header such as Authorization: "Bearer ${API_TOKEN}"'
)


def load_runbook(path: str | os.PathLike[str]) -> Runbook:
    """Read and validate the runbook at ``path``.

    Raises:
        RunbookError: the file cannot be read, is not UTF-8, or is not a valid runbook.
    """
    file = os.fspath(path)
    try:
        data = Path(file).read_bytes()
    except OSError as error:
        raise RunbookError(f"cannot read the runbook: {error.strerror or error}", file=file) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise RunbookError(
            f"the file is not UTF-8 text (byte 0x{data[error.start]:02x})",
            file=file,
            line=line,
            column=column,
            hint="save the runbook as UTF-8",
        ) from None
    return _Reader(file).runbook(text, hashlib.sha256(data).hexdigest())


def parse_runbook(text: str, file: str = "<runbook>", *, expand_urls: bool = True) -> Runbook:
    """Validate runbook YAML given as text; ``file`` names it in errors.

    Args:
        text: the YAML.
        file: names the runbook in errors.
        expand_urls: False keeps ``${VAR}`` in URLs as written, for reading a
            runbook stored in a session log (follow, replay, report poll
            nothing, and the variables may not be set where they run).

    Raises:
        RunbookError: the text is not a valid runbook.
    """
    sha256 = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return _Reader(file, expand_urls=expand_urls).runbook(text, sha256)


def _slug(text: str) -> str:
    """An id from a title: ``Deploy backend`` -> ``deploy_backend``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _suggest(word: str, candidates: Iterable[str], listing: bool = True) -> str:
    """``did you mean 'x'?`` for a near match, else the valid choices (when ``listing``)."""
    candidates = list(candidates)
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if not candidates or not listing:
        return ""
    shown = ", ".join(sorted(candidates)[:12]) + (", ..." if len(candidates) > 12 else "")
    return f"valid: {shown}"


def _a(word: str) -> str:
    """``a promql``, ``an alerts``."""
    return f"an {word}" if word[:1] in ("a", "e", "i", "o", "u") else f"a {word}"


def _shown(value: str) -> str:
    """A value quoted for a message, cut short: a mistake may be a whole paragraph."""
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "nothing"
    return "a number" if node.tag in (_INT, _FLOAT) else "a boolean" if node.tag == _BOOL else "text"


class _Fields:
    """A YAML mapping whose keys were checked: typed access with key paths."""

    def __init__(self, node: Node, path: str, entries: dict[str, tuple[Node, Node]]) -> None:
        self.node = node
        self.path = path
        self.entries = entries

    def get(self, key: str) -> Node | None:
        """The value node, or None when the key is absent or null."""
        entry = self.entries.get(key)
        if entry is None or (isinstance(entry[1], ScalarNode) and entry[1].tag == _NULL):
            return None
        return entry[1]

    def value(self, key: str) -> Node:
        """The value node of a key the reader made sure is there (``required``, or checked before)."""
        node = self.get(key)
        if node is None:
            raise KeyError(f"{self.key_path(key)} was checked to be present")
        return node

    def key_path(self, key: str) -> str:
        return _join(self.path, key)


class _BaselineKeys(TypedDict, total=False):
    """A stop condition's keys relative to the baseline, as ``StopCondition`` takes them."""

    baseline: BaselineWindow
    floor: Threshold | None
    judge: Judge
    window: float | None
    confidence: float
    tolerance: float


class _Reader:
    """Turns YAML nodes into the model; knows the file name for errors."""

    def __init__(self, file: str, *, expand_urls: bool = True) -> None:
        self.file = file
        self.expand_urls = expand_urls
        self._constructor = SafeConstructor()
        self.warnings: list[str] = []

    # -- errors ------------------------------------------------------------------

    def error(self, message: str, node: Node | None, path: str, hint: str = "") -> RunbookError:
        line = column = None
        if node is not None and node.start_mark is not None:
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
        return RunbookError(message, file=self.file, line=line, column=column, key_path=path, hint=hint)

    # -- structure -----------------------------------------------------------------

    def compose(self, text: str) -> Node:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            message = " ".join(part for part in (error.context, error.problem) if part) or "invalid YAML"
            hint = ""
            if error.context and "block scalar" in error.context:
                hint = 'quote a value that starts with ">" or "|", e.g. when: "> 1%"'
            elif error.problem and "found character '\\t'" in error.problem:
                hint = "indent with spaces, not tabs"
            raise RunbookError(
                f"invalid YAML: {message}",
                file=self.file,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
                hint=hint,
            ) from None
        except yaml.YAMLError as error:  # ReaderError: a character YAML does not allow
            position = getattr(error, "position", None)
            line = column = None
            if isinstance(position, int):
                line = text.count("\n", 0, position) + 1
                column = position - (text.rfind("\n", 0, position) + 1) + 1
            raise RunbookError(
                f"invalid YAML: {error}".splitlines()[0], file=self.file, line=line, column=column
            ) from None
        except RecursionError:
            raise RunbookError("invalid YAML: nested too deeply", file=self.file) from None
        if root is None:
            raise RunbookError(
                "the runbook is empty: expected a mapping with at least a name", file=self.file, line=1, column=1
            )
        return root

    def mapping(self, node: Node, path: str, allowed: Collection[str], required: Collection[str] = ()) -> _Fields:
        """A mapping with a fixed set of keys: unknown keys get a suggestion."""
        entries = self.entries(node, path, what="a mapping")
        for key, (key_node, _) in entries.items():
            if key in allowed:
                continue
            # `token_en` is a typo of token_env; `token` and `password` are inline credentials.
            nearly = difflib.get_close_matches(key, allowed, n=1, cutoff=0.85)
            if _SECRET_KEY.fullmatch(key) and not nearly:
                raise self.error(
                    f"'{key}' looks like an inline credential; secrets are never written in a runbook",
                    key_node,
                    _join(path, key),
                    _SECRET_HINT,
                )
            raise self.error(f"unknown key '{key}'", key_node, _join(path, key), _suggest(key, allowed))
        fields = _Fields(node, path, entries)
        for key in required:
            if key not in entries:
                raise self.error(f"missing required key '{key}'", node, path)
            if fields.get(key) is None:
                raise self.error(f"'{key}' must have a value", entries[key][1], _join(path, key))
        return fields

    def entries(self, node: Node, path: str, what: str) -> dict[str, tuple[Node, Node]]:
        """A mapping's entries by key text; merge keys applied, duplicate keys rejected."""
        if not isinstance(node, MappingNode):
            raise self.error(f"expected {what}, got {_describe(node)}", node, path)
        seen: dict[str, Node] = {}
        for key_node, _ in node.value:
            key = self.key_text(key_node, path)
            if key_node.tag == _TAG + "merge":
                continue
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise self.error(f"duplicate key '{key}' (first on line {first})", key_node, _join(path, key))
            seen[key] = key_node
        try:
            self._constructor.flatten_mapping(node)
        except yaml.YAMLError as error:
            raise self.error(f"invalid merge key: {getattr(error, 'problem', error)}", node, path) from None
        # After merging, a later entry overrides an earlier one, as in YAML; merged keys are checked too.
        return {self.key_text(key_node, path): (key_node, value_node) for key_node, value_node in node.value}

    def key_text(self, node: Node, path: str) -> str:
        if not isinstance(node, ScalarNode) or node.tag == _NULL:
            raise self.error("a key must be a plain name", node, path)
        key: str = node.value
        return key

    def id_mapping(self, node: Node, path: str, what: str) -> dict[str, tuple[Node, Node]]:
        """A mapping keyed by ids (roles, sources, checks)."""
        entries = self.entries(node, path, what=f"a mapping of {what}")
        for key, (key_node, _) in entries.items():
            self.check_id(key, key_node, _join(path, key))
        return entries

    def sequence(self, node: Node, path: str, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.error(f"expected a list of {what}, got {_describe(node)}", node, path)
        return list(node.value)

    def check_id(self, value: str, node: Node, path: str) -> str:
        if not _ID.fullmatch(value):
            raise self.error(f"invalid id {_shown(value)}: use letters, digits, '_', '-' or '.'", node, path)
        return value

    # -- scalars -------------------------------------------------------------------

    def scalar(self, node: Node, path: str, expected: str) -> ScalarNode:
        if not isinstance(node, ScalarNode):
            raise self.error(f"expected {expected}, got {_describe(node)}", node, path)
        if not node.tag.startswith(_TAG):
            raise self.error(
                f"unexpected YAML tag {_shown(node.tag)}",
                node,
                path,
                f'quote the whole value if the "!" belongs to it: "{node.tag} {node.value}"',
            )
        return node

    def text(self, node: Node, path: str) -> str:
        """Any scalar as written (``title: 2024`` is the text ``2024``); never empty."""
        value: str = self.scalar(node, path, "text").value
        if not value.strip():
            raise self.error("must not be empty", node, path)
        return value

    def any_text(self, node: Node, path: str) -> str:
        """Any scalar as written, empty allowed (units, notes)."""
        value: str = self.scalar(node, path, "text").value
        return value

    def ident(self, node: Node, path: str) -> str:
        return self.check_id(self.text(node, path), node, path)

    def construct(self, node: ScalarNode, path: str, build: Callable[[ScalarNode], T], expected: str) -> T:
        try:
            return build(node)
        except (ValueError, TypeError, OverflowError, yaml.YAMLError):
            raise self.error(f"expected {expected}, got {_shown(node.value)}", node, path) from None

    def number(self, node: Node, path: str) -> float:
        node = self.scalar(node, path, "a number")
        if node.tag == _INT:
            value = self.construct(node, path, lambda n: float(self._constructor.construct_yaml_int(n)), "a number")
        elif node.tag == _FLOAT:
            value = self.construct(node, path, self._constructor.construct_yaml_float, "a number")
        else:
            raise self.error(f"expected a number, got {_describe(node)} {_shown(node.value)}", node, path)
        if not math.isfinite(value):
            raise self.error(f"expected a finite number, got {_shown(node.value)}", node, path)
        return value

    def integer(self, node: Node, path: str, minimum: int | None = None) -> int:
        node = self.scalar(node, path, "a whole number")
        if node.tag != _INT:
            raise self.error(f"expected a whole number, got {_describe(node)} {_shown(node.value)}", node, path)
        value = self.construct(node, path, self._constructor.construct_yaml_int, "a whole number")
        if minimum is not None and value < minimum:
            raise self.error(f"must be at least {minimum}, got {value}", node, path)
        return value

    def count(self, node: Node, path: str) -> int:
        return self.integer(node, path, minimum=1)

    def boolean(self, node: Node, path: str) -> bool:
        node = self.scalar(node, path, "true or false")
        if node.tag != _BOOL:
            raise self.error(f"expected true or false, got {_shown(node.value)}", node, path)
        return self.construct(node, path, self._constructor.construct_yaml_bool, "true or false")

    def one_of(self, choices: Sequence[C]) -> Callable[[Node, str], C]:
        """A reader of one of ``choices``, for ``optional``."""
        return lambda node, path: self.choice(node, path, choices)

    def choice(self, node: Node, path: str, choices: Sequence[C]) -> C:
        value: str = self.scalar(node, path, "one of " + " | ".join(choices)).value
        for choice in choices:
            if choice == value:
                return choice
        raise self.error(
            f"expected one of {' | '.join(choices)}, got {_shown(value)}", node, path, _suggest(value, choices)
        )

    def grammar(self, node: Node, path: str, parse: Callable[[str], T], expected: str) -> T:
        """A value in one of the grammar's languages, given as text."""
        value = self.scalar(node, path, expected)
        if value.tag in (_NULL, _BOOL):
            raise self.error(f"expected {expected}, got {_shown(value.value)}", node, path)
        try:
            return parse(value.value)
        except ValueError as error:
            raise self.error(str(error), node, path) from None

    def duration(self, node: Node, path: str, positive: bool = False) -> float:
        value = self.scalar(node, path, "a duration")
        if value.tag == _INT and ":" in value.value:
            # YAML 1.1 reads 1:30 as 90 (base 60); nobody means that.
            raise self.error(
                f"ambiguous duration {_shown(value.value)}", node, path, "write it with units, e.g. 1m30s or 1h30m"
            )
        if value.tag in (_INT, _FLOAT):
            try:
                seconds = grammar.parse_duration(self.number(node, path))
            except ValueError as error:
                raise self.error(str(error), node, path) from None
        else:
            seconds = self.grammar(node, path, grammar.parse_duration, "a duration")
        if positive and seconds <= 0:
            raise self.error("must be longer than 0s", node, path)
        return seconds

    def positive_duration(self, node: Node, path: str) -> float:
        return self.duration(node, path, positive=True)

    def offset(self, node: Node, path: str) -> float:
        return self.grammar(node, path, grammar.parse_offset, f"a T-offset ({grammar.OFFSET_EXAMPLES})")

    def threshold(self, node: Node, path: str) -> Threshold:
        value = self.scalar(node, path, "a threshold")
        if value.tag in (_INT, _FLOAT):
            raise self.error(
                f"a threshold needs a comparison, got {_shown(value.value)}",
                node,
                path,
                f'write it as a quoted string, e.g. "> {value.value}"',
            )
        return self.grammar(node, path, grammar.parse_threshold, f"a threshold ({grammar.THRESHOLD_EXAMPLES})")

    def id_list(self, node: Node, path: str, what: str) -> list[tuple[str, Node, str]]:
        """A list of ids (a single id is accepted too): (id, node, path) each."""
        if isinstance(node, ScalarNode):
            return [(self.ident(node, path), node, path)]
        found = []
        for index, item in enumerate(self.sequence(node, path, what)):
            item_path = f"{path}[{index}]"
            found.append((self.ident(item, item_path), item, item_path))
        return found

    def reference(self, node: Node, path: str, known: Collection[str], what: str) -> str:
        value = self.ident(node, path)
        if value not in known:
            raise self.error(f"unknown {what} '{value}'", node, path, _suggest(value, known))
        return value

    # -- secrets and environment ------------------------------------------------------

    def url(self, node: Node, path: str) -> str:
        """A URL with ``${VAR:-default}`` expanded now; credentials in it are refused."""
        raw = self.text(node, path)
        if not self.expand_urls and "${" in raw:
            return raw  # checked, expanded, when the session that stored it began
        try:
            url = grammar.expand_env(raw)
        except ValueError as error:
            raise self.error(str(error), node, path) from None
        try:
            parts = urllib.parse.urlsplit(url)
            _ = parts.port  # raises on a port that is not a number in 0-65535
            has_password = parts.password is not None
            query_keys = [key for key, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=False)]
        except ValueError as error:
            raise self.error(f"invalid URL: {error}", node, path) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # The expanded URL is shown only when nothing in it could be secret.
            shown = f" {_shown(url)}" if url == raw else ""
            raise self.error(f"expected an http:// or https:// URL with a host{shown}", node, path)
        if has_password:
            raise self.error("the URL carries a password (user:pass@host)", node, path, _SECRET_HINT)
        for key in query_keys:
            if _SECRET_NAME.search(key):
                raise self.error(
                    f"the URL carries a credential in its query parameter '{key}'", node, path, _SECRET_HINT
                )
        return url

    def secret_free_values(self, node: Node, path: str, what: str, name_pattern: re.Pattern[str]) -> dict[str, str]:
        """Headers or environment: values kept unexpanded (``${VAR}`` is resolved at request time)."""
        result: dict[str, str] = {}
        for key, (key_node, value_node) in self.entries(node, path, what=f"a mapping of {what}").items():
            key_path = _join(path, key)
            if not name_pattern.fullmatch(key):
                raise self.error(f"invalid {what} name {_shown(key)}", key_node, key_path)
            value = self.scalar(value_node, key_path, "text").value
            try:
                grammar.env_references(value)
            except ValueError as error:
                raise self.error(str(error), value_node, key_path) from None
            if _inline_secret(key, value):
                raise self.error(f"{what} '{key}' holds an inline credential", value_node, key_path, _SECRET_HINT)
            result[key] = value
        return result

    def headers(self, node: Node, path: str) -> dict[str, str]:
        return self.secret_free_values(node, path, "header", re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"))

    def env_name(self, node: Node, path: str) -> str:
        value = self.text(node, path)
        if not _ENV_NAME.fullmatch(value):
            raise self.error(
                f"expected an environment variable name, got {_shown(value)}",
                node,
                path,
                "token_env names the variable that holds the token, e.g. token_env: PROM_TOKEN",
            )
        return value

    # -- the runbook ---------------------------------------------------------------

    def runbook(self, text: str, sha256: str) -> Runbook:
        top = self.mapping(self.compose(text), "", TOP_KEYS, required=("name",))
        name = self.text(top.value("name"), "name")
        description = self.optional(top, "description", self.text, "")
        t0 = self.optional(top, "t0", self.t0, None)
        timezone = self.optional(top, "timezone", self.timezone, None)
        roles = self.roles(top)
        sources = self.sources(top)
        checks = self.checks(top, sources)
        escalation = self.escalation(top)
        severities = {level.severity for level in escalation}
        conditions = self.conditions(top, checks, roles, severities)
        condition_ids = {c.id for c in conditions}
        steps = self.steps(top, "steps", roles, checks, condition_ids)
        rollback = self.steps(top, "rollback", roles, checks, condition_ids)
        self.unique_ids([*steps, *rollback], "step")
        return Runbook(
            name=name,
            description=description,
            t0=t0,
            timezone=timezone,
            roles=roles,
            sources=sources,
            checks=checks,
            stop_conditions=tuple(conditions),
            steps=tuple(step for step, _, _ in steps),
            rollback=tuple(step for step, _, _ in rollback),
            escalation=tuple(escalation),
            scorecard=self.optional(top, "scorecard", self.scorecard, None),
            path="" if self.file == "<runbook>" else self.file,
            text=text,
            sha256=sha256,
            warnings=tuple(self.warnings),
        )

    def optional(self, fields: _Fields, key: str, read: Callable[[Node, str], T], default: D) -> T | D:
        node = fields.get(key)
        return default if node is None else read(node, fields.key_path(key))

    def t0(self, node: Node, path: str) -> datetime:
        raw = self.scalar(node, path, "a date and time").value
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise self.error(
                f"invalid t0 {_shown(raw)}", node, path, "write ISO 8601 with a UTC offset: 2026-12-01T22:00:00+05:30"
            ) from None
        if value.utcoffset() is None:
            raise self.error(
                f"t0 {_shown(raw)} has no UTC offset", node, path, "add one, e.g. 2026-12-01T22:00:00+05:30 or ...Z"
            )
        return value

    def timezone(self, node: Node, path: str) -> str:
        name = self.text(node, path)
        try:
            ZoneInfo(name)
        except (KeyError, ValueError, OSError):
            raise self.error(
                f"unknown time zone {_shown(name)}", node, path, "use an IANA name such as Asia/Kolkata or UTC"
            ) from None
        return name

    def roles(self, top: _Fields) -> dict[str, str]:
        node = top.get("roles")
        if node is None:
            return {}
        return {
            key: self.text(value, _join("roles", key))
            for key, (_, value) in self.id_mapping(node, "roles", "roles").items()
        }

    def sources(self, top: _Fields) -> dict[str, Source]:
        node = top.get("sources")
        if node is None:
            return {}
        return {
            key: self.source(key, value, _join("sources", key))
            for key, (_, value) in self.id_mapping(node, "sources", "sources").items()
        }

    def source(self, source_id: str, node: Node, path: str) -> Source:
        fields = self.mapping(node, path, SOURCE_KEYS, required=("url",))
        kind_node = fields.get("kind")
        named = [kind for kind in SOURCE_KINDS if kind == source_id]  # a source called prometheus is one
        if kind_node is not None:
            kind = self.choice(kind_node, fields.key_path("kind"), SOURCE_KINDS)
        elif named:
            kind = named[0]
        else:
            raise self.error("missing required key 'kind'", node, path, "add kind: prometheus or kind: alertmanager")
        return Source(
            id=source_id,
            kind=kind,
            url=self.url(fields.value("url"), fields.key_path("url")),
            token_env=self.optional(fields, "token_env", self.env_name, None),
            headers=self.optional(fields, "headers", self.headers, {}),
            timeout=self.optional(fields, "timeout", self.positive_duration, None),
            verify_tls=self.optional(fields, "verify_tls", self.boolean, True),
        )

    def checks(self, top: _Fields, sources: Mapping[str, Source]) -> dict[str, Check]:
        node = top.get("checks")
        if node is None:
            return {}
        return {
            key: self.check(key, value, _join("checks", key), sources)
            for key, (_, value) in self.id_mapping(node, "checks", "checks").items()
        }

    def check(self, check_id: str, node: Node, path: str, sources: Mapping[str, Source]) -> Check:
        allowed = {*CHECK_KINDS, *COMMON_CHECK_KEYS, *(key for keys in KIND_CHECK_KEYS.values() for key in keys)}
        fields = self.mapping(node, path, allowed)
        kinds = [kind for key in fields.entries for kind in CHECK_KINDS if kind == key]
        if not kinds:
            raise self.error(f"a check needs exactly one of {', '.join(CHECK_KINDS)}", node, path)
        if len(kinds) > 1:
            raise self.error(
                f"a check has exactly one kind, found {kinds[0]} and {kinds[1]}",
                fields.entries[kinds[1]][0],
                fields.key_path(kinds[1]),
                "split it into two checks",
            )
        kind = kinds[0]
        for key, (key_node, _) in fields.entries.items():
            owners = [k for k, keys in KIND_CHECK_KEYS.items() if key in keys]
            if owners and kind not in owners:
                raise self.error(
                    f"'{key}' applies to {' and '.join(owners)} checks, not to {_a(kind)} check",
                    key_node,
                    fields.key_path(key),
                )
        if fields.get(kind) is None and kind != "alerts":
            raise self.error(f"'{kind}' must have a value", fields.entries[kind][1], fields.key_path(kind))
        every = self.optional(fields, "every", self.positive_duration, DEFAULT_EVERY)
        timeout_node = fields.get("timeout")
        if timeout_node is None:
            timeout = min(DEFAULT_TIMEOUT, every / 2)
        else:
            timeout = self.duration(timeout_node, fields.key_path("timeout"), positive=True)
            if timeout >= every:
                raise self.error(
                    f"timeout ({grammar.format_duration(timeout)}) must be shorter than every ({grammar.format_duration(every)})",
                    timeout_node,
                    fields.key_path("timeout"),
                    "polls of one check never overlap",
                )
        spec = self.check_spec(kind, fields, sources)
        return Check(
            id=check_id,
            kind=kind,
            spec=spec,
            every=every,
            timeout=timeout,
            pass_when=self.optional(fields, "pass_when", self.threshold, None),
            on_nodata=self.optional(fields, "on_nodata", self.one_of(OUTCOME_CHOICES), "unknown"),
            on_invalid=self.optional(fields, "on_invalid", self.one_of(OUTCOME_CHOICES), "unknown"),
            max_age=self.optional(fields, "max_age", self.positive_duration, None),
            unit=self.optional(fields, "unit", self.any_text, ""),
            title=self.optional(fields, "title", self.text, ""),
        )

    def check_spec(self, kind: CheckKind, fields: _Fields, sources: Mapping[str, Source]) -> CheckSpec:
        """The kind's own keys, read into its spec."""
        match kind:
            case "http":
                return self.spec_http(fields)
            case "promql":
                return self.spec_promql(fields, sources)
            case "alerts":
                return self.spec_alerts(fields, sources)
            case "scrape":
                return self.spec_scrape(fields)
            case "command":
                return self.spec_command(fields)
            case "placeholder":
                return self.spec_placeholder(fields)

    def spec_http(self, fields: _Fields) -> HttpSpec:
        return HttpSpec(
            url=self.url(fields.value("http"), fields.key_path("http")),
            method=self.optional(fields, "method", self.one_of(HTTP_METHODS), "GET"),
            headers=self.optional(fields, "headers", self.headers, {}),
            expect_status=self.optional(fields, "expect_status", self.statuses, ()),
            max_latency=self.optional(fields, "max_latency", self.positive_duration, None),
            json_path=self.optional(fields, "json_path", self.json_path, None),
            verify_tls=self.optional(fields, "verify_tls", self.boolean, True),
        )

    def statuses(self, node: Node, path: str) -> tuple[int, ...]:
        items = (
            [(node, path)]
            if isinstance(node, ScalarNode)
            else [
                (item, f"{path}[{index}]") for index, item in enumerate(self.sequence(node, path, "HTTP status codes"))
            ]
        )
        if not items:
            raise self.error("expected at least one HTTP status code", node, path)
        codes = []
        for item, item_path in items:
            code = self.integer(item, item_path)
            if not 100 <= code <= 599:
                raise self.error(f"expected an HTTP status code (100-599), got {code}", item, item_path)
            codes.append(code)
        return tuple(codes)

    def json_path(self, node: Node, path: str) -> str:
        value = self.text(node, path)
        if not _JSON_PATH.fullmatch(value):
            raise self.error(
                f"invalid json_path {_shown(value)}",
                node,
                path,
                "a dotted path with [n] indexes, e.g. status.ok or items[0].state",
            )
        return value

    def spec_promql(self, fields: _Fields, sources: Mapping[str, Source]) -> PromqlSpec:
        return PromqlSpec(
            query=self.text(fields.value("promql"), fields.key_path("promql")),
            source=self.source_reference(fields, sources, "prometheus", "promql"),
            expect=self.optional(fields, "expect", self.one_of(EXPECT_CHOICES), "one"),
            reduce=self.optional(fields, "reduce", self.one_of(REDUCE_CHOICES), None),
            headers=self.optional(fields, "headers", self.headers, {}),
        )

    def spec_alerts(self, fields: _Fields, sources: Mapping[str, Source]) -> AlertsSpec:
        matchers = self.optional(fields, "alerts", self.matchers, ())
        return AlertsSpec(
            source=self.source_reference(fields, sources, "alertmanager", "alerts"),
            matchers=matchers,
            watchdog=self.optional(fields, "watchdog", self.text, None),
            receiver=self.optional(fields, "receiver", self.text, None),
            suppressed=self.optional(fields, "suppressed", self.one_of(SUPPRESSED_CHOICES), "unknown"),
        )

    def matchers(self, node: Node, path: str) -> tuple[str, ...]:
        """Alert matchers as Alertmanager filter strings: ``severity="critical"``."""
        if isinstance(node, MappingNode):
            result = []
            for name, (key_node, value_node) in self.entries(node, path, "a mapping of label matchers").items():
                if not _LABEL_NAME.fullmatch(name):
                    raise self.error(f"invalid label name {_shown(name)}", key_node, _join(path, name))
                value = self.scalar(value_node, _join(path, name), "a label value").value
                result.append(f"{name}={json.dumps(value, ensure_ascii=False)}")
            return tuple(result)
        result = []
        for index, item in enumerate(self.sequence(node, path, 'matchers such as severity="critical"')):
            item_path = f"{path}[{index}]"
            match = _MATCHER.fullmatch(self.text(item, item_path))
            if match is None:
                raise self.error(
                    f"invalid matcher {_shown(item.value)}",
                    item,
                    item_path,
                    'write name="value", name!="value", name=~"regex" or name!~"regex"',
                )
            value = match["value"]
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            result.append(f"{match['name']}{match['op']}{json.dumps(value, ensure_ascii=False)}")
        return tuple(result)

    def matcher_sets(self, node: Node, path: str) -> tuple[tuple[str, ...], ...]:
        """``expect_silenced``: one set of matchers (as an alerts check's), or a list of such sets.

        Each set must name a label: an empty one would expect every alert to
        be silenced. Regexes are checked here, since they are matched here.
        """
        example = "e.g. {alertname: BackendDown} or ['alertname=~\"Backend.*\"', 'severity=\"critical\"']"
        if (
            isinstance(node, SequenceNode)
            and node.value
            and all(isinstance(item, (MappingNode, SequenceNode)) for item in node.value)
        ):
            items = [(item, f"{path}[{index}]") for index, item in enumerate(node.value)]
        elif isinstance(node, (MappingNode, SequenceNode)):
            items = [(node, path)]
        else:
            raise self.error(f"expected alert matchers, got {_describe(node)}", node, path, example)
        sets = []
        for item, item_path in items:
            if isinstance(item, SequenceNode) and any(isinstance(entry, MappingNode) for entry in item.value):
                raise self.error(
                    "expected a list of matcher strings or a list of matcher sets, not both", item, item_path, example
                )
            matchers = self.matchers(item, item_path)
            if not matchers:
                raise self.error(
                    "an empty matcher set would expect every alert to be silenced",
                    item,
                    item_path,
                    f"name the alerts, {example}",
                )
            if isinstance(item, SequenceNode):  # mappings hold equality matchers only
                for index, (matcher, entry) in enumerate(zip(matchers, item.value, strict=True)):
                    _, op, value = split_matcher(matcher)
                    if op in ("=~", "!~"):
                        try:
                            re.compile(value)
                        except re.error as error:
                            raise self.error(
                                f"invalid regex in matcher {_shown(matcher)}: {error}", entry, f"{item_path}[{index}]"
                            ) from None
            sets.append(matchers)
        return tuple(sets)

    def source_reference(self, fields: _Fields, sources: Mapping[str, Source], kind: str, check_kind: str) -> str:
        of_kind = sorted(key for key, source in sources.items() if source.kind == kind)
        node = fields.get("source")
        if node is not None:
            path = fields.key_path("source")
            source_id = self.reference(node, path, sources, "source")
            if sources[source_id].kind != kind:
                raise self.error(
                    f"source '{source_id}' is {_a(sources[source_id].kind)} source; {_a(check_kind)} check needs {_a(kind)} source",
                    node,
                    path,
                    _suggest(source_id, of_kind),
                )
            return source_id
        if len(of_kind) == 1:
            return of_kind[0]
        if not of_kind:
            raise self.error(
                f"{_a(check_kind)} check needs {_a(kind)} source",
                fields.node,
                fields.path,
                f"add one under sources:, e.g. {kind}: {{kind: {kind}, url: ...}}",
            )
        raise self.error(
            f"several {kind} sources ({', '.join(of_kind)}): say which with source:", fields.node, fields.path
        )

    def spec_placeholder(self, fields: _Fields) -> PlaceholderSpec:
        """A check no probe reads yet: valid, polled as no data, and a warning naming where it is."""
        node = fields.value("placeholder")
        what = self.text(node, fields.key_path("placeholder"))
        warning = self.error(
            f"check '{fields.path.split('.', 1)[1]}' is a placeholder, not wired: {what}",
            node,
            fields.key_path("placeholder"),
            "replace 'placeholder:' with an http, promql, alerts, scrape or command probe; "
            "until then it reads unknown — not wired",
        )
        self.warnings.append(warning.format().replace(": error: ", ": warning: ", 1))
        return PlaceholderSpec(what=what)

    def spec_scrape(self, fields: _Fields) -> ScrapeSpec:
        metric_node = fields.get("metric")
        if metric_node is None:
            raise self.error("a scrape check needs 'metric'", fields.node, fields.path)
        metric = self.text(metric_node, fields.key_path("metric"))
        if not _METRIC_NAME.fullmatch(metric):
            raise self.error(f"invalid metric name {_shown(metric)}", metric_node, fields.key_path("metric"))
        return ScrapeSpec(
            url=self.url(fields.value("scrape"), fields.key_path("scrape")),
            metric=metric,
            labels=self.optional(fields, "labels", self.labels, {}),
            mode=self.optional(fields, "mode", self.one_of(MODE_CHOICES), "value"),
            reduce=self.optional(fields, "reduce", self.one_of(REDUCE_CHOICES), None),
            headers=self.optional(fields, "headers", self.headers, {}),
            verify_tls=self.optional(fields, "verify_tls", self.boolean, True),
        )

    def labels(self, node: Node, path: str) -> dict[str, str]:
        result: dict[str, str] = {}
        for name, (key_node, value_node) in self.entries(node, path, "a mapping of labels").items():
            if not _LABEL_NAME.fullmatch(name):
                raise self.error(f"invalid label name {_shown(name)}", key_node, _join(path, name))
            result[name] = self.scalar(value_node, _join(path, name), "a label value").value
        return result

    def spec_command(self, fields: _Fields) -> CommandSpec:
        node, path = fields.value("command"), fields.key_path("command")
        if isinstance(node, ScalarNode):
            raise self.error(
                "expected the command as an argv list, e.g. [./check.sh, --prod]",
                node,
                path,
                "commands never run through a shell",
            )
        items = self.sequence(node, path, "arguments")
        argv = tuple(self.text(item, f"{path}[{index}]") for index, item in enumerate(items))
        if not argv:
            raise self.error("the command must not be empty", node, path)
        cwd = self.optional(fields, "cwd", self.text, None)
        perfdata_label = self.optional(fields, "perfdata_label", self.text, None)
        return CommandSpec(
            argv=argv,
            cwd=cwd,
            env=self.optional(
                fields, "env", lambda n, p: self.secret_free_values(n, p, "environment variable", _ENV_NAME), {}
            ),
            perfdata_label=perfdata_label,
        )

    def escalation(self, top: _Fields) -> list[EscalationLevel]:
        node = top.get("escalation")
        if node is None:
            return []
        levels: list[EscalationLevel] = []
        for index, item in enumerate(self.sequence(node, "escalation", "escalation levels")):
            path = f"escalation[{index}]"
            fields = self.mapping(item, path, ESCALATION_KEYS, required=("severity",))
            severity = self.text(fields.value("severity"), fields.key_path("severity"))
            if any(level.severity == severity for level in levels):
                raise self.error(
                    f"duplicate severity '{severity}'", fields.get("severity"), fields.key_path("severity")
                )
            levels.append(
                EscalationLevel(
                    severity=severity,
                    respond_within=self.optional(fields, "respond_within", self.duration, None),
                    escalate_to=self.optional(fields, "escalate_to", self.text, None),  # a role id or free text
                    description=self.optional(fields, "description", self.text, ""),
                )
            )
        return levels

    def conditions(
        self, top: _Fields, checks: Mapping[str, Check], roles: Mapping[str, str], severities: Collection[str]
    ) -> list[StopCondition]:
        node = top.get("stop_conditions")
        if node is None:
            return []
        conditions: list[StopCondition] = []
        seen: dict[str, str] = {}
        for index, item in enumerate(self.sequence(node, "stop_conditions", "stop conditions")):
            path = f"stop_conditions[{index}]"
            fields = self.mapping(item, path, CONDITION_KEYS, required=("check",))
            condition_id = self.derived_id(fields, "title")
            if condition_id in seen:
                raise self.error(
                    f"duplicate stop condition id '{condition_id}' (also {seen[condition_id]})", item, path
                )
            seen[condition_id] = path
            severity = self.optional(fields, "severity", self.text, None)
            if severity is not None and severities and severity not in severities:
                raise self.error(
                    f"severity '{severity}' is not in the escalation list",
                    fields.get("severity"),
                    fields.key_path("severity"),
                    _suggest(severity, severities),
                )
            when, relative = self.comparison(fields)
            baseline = self.baseline_keys(fields, relative)
            conditions.append(
                StopCondition(
                    id=condition_id,
                    check=self.reference(fields.value("check"), fields.key_path("check"), checks, "check"),
                    when=when,
                    relative=relative,
                    **baseline,
                    for_=self.optional(fields, "for", self.duration, 0.0),
                    min_consecutive=self.optional(fields, "min_consecutive", self.count, 1),
                    keep_firing_for=self.optional(fields, "keep_firing_for", self.duration, 0.0),
                    error_limit=self.optional(fields, "error_limit", self.count, 4),
                    max_age=self.optional(fields, "max_age", self.positive_duration, None),
                    action=Action(self.optional(fields, "action", self.one_of([a.value for a in Action]), "warn")),
                    decides=self.optional(fields, "decides", lambda n, p: self.reference(n, p, roles, "role"), None),
                    severity=severity,
                    active=self.optional(fields, "active", self.active, None),
                    title=self.optional(fields, "title", self.text, ""),
                )
            )
        return conditions

    def comparison(self, fields: _Fields) -> tuple[Threshold | None, RelativeThreshold | None]:
        """``when`` as an absolute threshold, or as a comparison with the baseline (``> 2x baseline``)."""
        node = fields.get("when")
        if node is None:
            return None, None
        if isinstance(node, ScalarNode) and grammar.is_relative(node.value):
            relative = self.grammar(
                node,
                fields.key_path("when"),
                grammar.parse_relative,
                f"a comparison with the baseline ({grammar.RELATIVE_EXAMPLES})",
            )
            return None, relative
        return self.threshold(node, fields.key_path("when")), None

    def baseline_keys(self, fields: _Fields, relative: RelativeThreshold | None) -> _BaselineKeys:
        """``baseline``, ``floor`` and the judge's keys; each needs a ``when`` relative to the baseline."""
        for key in ("baseline", "floor", "judge", "window", "confidence", "tolerance"):
            node = fields.get(key)
            if node is not None and relative is None:
                raise self.error(
                    f"'{key}' applies to a stop condition whose 'when' is relative to the baseline",
                    node,
                    fields.key_path(key),
                    'e.g. when: "> 2x baseline"',
                )
        if relative is None:
            return {}
        baseline_node = fields.get("baseline")
        if baseline_node is None:
            raise self.error(
                f"'when: {relative.text}' needs the window the baseline is taken from",
                fields.node,
                fields.path,
                "add baseline: {from: T-30m, to: T-0, min_samples: 10}",
            )
        judge: Judge = self.optional(fields, "judge", self.one_of(JUDGES), "median")
        window = self.optional(fields, "window", self.positive_duration, None)
        if judge == "mann_whitney":
            if window is None:
                raise self.error(
                    "judge: mann_whitney compares the readings of a recent window with the baseline's: say how long",
                    fields.get("judge"),
                    fields.key_path("judge"),
                    "add window: 5m",
                )
            self.judge_available(fields.get("judge"), fields.key_path("judge"))
        elif window is not None:
            raise self.error("'window' applies to judge: mann_whitney", fields.get("window"), fields.key_path("window"))
        confidence = self.optional(fields, "confidence", self.number, 0.98)
        if not 0.5 <= confidence < 1.0:
            raise self.error(
                f"confidence must be at least 0.5 and below 1, got {confidence:g}",
                fields.get("confidence"),
                fields.key_path("confidence"),
                "e.g. confidence: 0.98",
            )
        tolerance = self.optional(fields, "tolerance", self.number, 0.25)
        if tolerance < 0:
            raise self.error(
                f"tolerance must not be negative, got {tolerance:g}",
                fields.get("tolerance"),
                fields.key_path("tolerance"),
            )
        return {
            "baseline": self.baseline_window(baseline_node, fields.key_path("baseline")),
            "floor": self.optional(fields, "floor", self.threshold, None),
            "judge": judge,
            "window": window,
            "confidence": confidence,
            "tolerance": tolerance,
        }

    def baseline_window(self, node: Node, path: str) -> BaselineWindow:
        fields = self.mapping(node, path, BASELINE_KEYS, required=("from", "to"))
        start = self.offset(fields.value("from"), fields.key_path("from"))
        end = self.offset(fields.value("to"), fields.key_path("to"))
        if start >= end:
            raise self.error(
                f"the baseline window ends before it starts ({grammar.format_offset(start)} to "
                f"{grammar.format_offset(end)})",
                fields.get("to"),
                fields.key_path("to"),
            )
        return BaselineWindow(start=start, end=end, min_samples=self.optional(fields, "min_samples", self.count, 10))

    def judge_available(self, node: Node | None, path: str) -> None:
        """A warning, not an error, when scipy is missing: a stored runbook must still load for replay and report."""
        import importlib.util

        try:
            missing = importlib.util.find_spec(MANN_WHITNEY_PACKAGE) is None
        except (ImportError, ValueError, AttributeError):  # blocked in sys.modules, or a broken install
            missing = True
        if missing:
            warning = self.error(
                f"judge: mann_whitney needs the Python package {MANN_WHITNEY_PACKAGE}, which is not installed",
                node,
                path,
                MANN_WHITNEY_INSTALL,
            )
            self.warnings.append(warning.format().replace(": error: ", ": warning: ", 1))

    def derived_id(self, fields: _Fields, title_key: str) -> str:
        """The explicit ``id``, else a slug of the title."""
        node = fields.get("id")
        if node is not None:
            return self.ident(node, fields.key_path("id"))
        title = fields.get(title_key)
        if title is None:
            raise self.error(f"needs an 'id' or a '{title_key}'", fields.node, fields.path)
        derived = _slug(self.text(title, fields.key_path(title_key)))
        if not derived:
            raise self.error(
                f"cannot derive an id from this {title_key}",
                title,
                fields.key_path(title_key),
                "give it an explicit id:",
            )
        return derived

    def active(self, node: Node, path: str) -> ActiveWindow:
        raw = self.scalar(node, path, "a window such as T+0..T+72h").value
        if ".." not in raw:
            raise self.error(
                f"invalid active window {_shown(raw)}", node, path, 'write "T+0..T+72h", "T+0.." or "..T+72h"'
            )
        start_text, end_text = (part.strip() for part in raw.split("..", 1))
        if not start_text and not end_text:
            raise self.error(
                "an active window needs a start or an end", node, path, 'write "T+0..T+72h", "T+0.." or "..T+72h"'
            )
        try:
            start = grammar.parse_offset(start_text) if start_text else None
            end = grammar.parse_offset(end_text) if end_text else None
        except ValueError as error:
            raise self.error(str(error), node, path) from None
        if start is not None and end is not None and start > end:
            raise self.error(f"the active window {_shown(raw)} ends before it starts", node, path)
        return ActiveWindow(start=start, end=end)

    def steps(
        self,
        top: _Fields,
        key: str,
        roles: Mapping[str, str],
        checks: Mapping[str, Check],
        condition_ids: Collection[str],
    ) -> list[tuple[Step, Node, str]]:
        """One list of steps (``steps`` or ``rollback``), with their nodes and paths for later checks."""
        node = top.get(key)
        if node is None:
            return []
        steps: list[tuple[Step, Node, str]] = []
        dependencies: dict[str, list[tuple[str, Node, str]]] = {}
        for index, item in enumerate(self.sequence(node, key, "steps")):
            path = f"{key}[{index}]"
            step, step_dependencies = self.step(item, path, roles, checks, condition_ids)
            dependencies[step.id] = step_dependencies
            steps.append((step, item, path))
        step_ids = [step.id for step, _, _ in steps]
        for deps in dependencies.values():
            for dep, dep_node, dep_path in deps:
                if dep not in step_ids:
                    hint = _suggest(dep, step_ids, listing=False) or f"depends_on names steps in the same list ({key})"
                    raise self.error(f"unknown step '{dep}' in depends_on", dep_node, dep_path, hint)
        self.no_cycles(dependencies)
        return steps

    def step(
        self,
        node: Node,
        path: str,
        roles: Mapping[str, str],
        checks: Mapping[str, Check],
        condition_ids: Collection[str],
    ) -> tuple[Step, list[tuple[str, Node, str]]]:
        """A step, and its depends_on entries (checked once the whole list is known)."""
        fields = self.mapping(node, path, STEP_KEYS, required=("title",))
        kind = StepKind(self.optional(fields, "kind", self.one_of([k.value for k in StepKind]), "task"))
        phrase_node = fields.get("phrase")
        if kind is StepKind.APPROVAL and phrase_node is None:
            raise self.error(
                "an approval step needs the 'phrase' to type", node, path, "e.g. phrase: APPROVE PROD DEPLOY"
            )
        if kind is not StepKind.APPROVAL and phrase_node is not None:
            raise self.error(
                "'phrase' applies to approval steps only", phrase_node, fields.key_path("phrase"), "add kind: approval"
            )
        no_evidence: tuple[bool, tuple[Item, ...]] = (False, ())
        evidence_required, evidence = self.optional(fields, "evidence", self.evidence, no_evidence)
        deps_node = fields.get("depends_on")
        dependencies = [] if deps_node is None else self.id_list(deps_node, fields.key_path("depends_on"), "step ids")
        step = Step(
            id=self.derived_id(fields, "title"),
            title=self.text(fields.value("title"), fields.key_path("title")),
            at=self.optional(fields, "at", self.offset, None),
            duration=self.optional(fields, "duration", self.duration, None),
            owner=self.optional(fields, "owner", lambda n, p: self.reference(n, p, roles, "role"), None),
            kind=kind,
            phrase=None if phrase_node is None else self.text(phrase_node, fields.key_path("phrase")),
            items=self.optional(fields, "items", self.items, ()),
            evidence_required=evidence_required,
            evidence=evidence,
            gate=self.optional(fields, "gate", lambda n, p: self.references(n, p, checks, "check"), ()),
            watch=self.optional(
                fields, "watch", lambda n, p: self.references(n, p, condition_ids, "stop condition"), ()
            ),
            depends_on=tuple(dep for dep, _, _ in dependencies),
            notes=self.optional(fields, "notes", self.any_text, ""),
            expect_silenced=self.optional(fields, "expect_silenced", self.matcher_sets, ()),
            approvers=self.approvers(fields, kind),
        )
        return step, dependencies

    def approvers(self, fields: _Fields, kind: StepKind) -> int:
        node = fields.get("approvers")
        if node is None:
            return 1
        if kind is not StepKind.APPROVAL:
            raise self.error(
                "'approvers' applies to approval steps only",
                node,
                fields.key_path("approvers"),
                "add kind: approval and a phrase",
            )
        return self.count(node, fields.key_path("approvers"))

    def references(self, node: Node, path: str, known: Collection[str], what: str) -> tuple[str, ...]:
        ids = []
        for value, item, item_path in self.id_list(node, path, f"{what} ids"):
            if value not in known:
                raise self.error(f"unknown {what} '{value}'", item, item_path, _suggest(value, known))
            ids.append(value)
        return tuple(ids)

    def items(self, node: Node, path: str) -> tuple[Item, ...]:
        """Checklist items: strings, or ``{id, text}``; ids derived from the text when absent."""
        items: list[Item] = []
        seen: dict[str, str] = {}
        for index, entry in enumerate(self.sequence(node, path, "items")):
            item_path = f"{path}[{index}]"
            if isinstance(entry, MappingNode):
                fields = self.mapping(entry, item_path, ITEM_KEYS, required=("text",))
                text = self.text(fields.value("text"), fields.key_path("text"))
                item_id = self.derived_id(fields, "text")
            else:
                text = self.text(entry, item_path)
                item_id = _slug(text) or str(index + 1)
            if item_id in seen:
                raise self.error(
                    f"duplicate item id '{item_id}' (also {seen[item_id]})",
                    entry,
                    item_path,
                    "give one an explicit id: {id: ..., text: ...}",
                )
            seen[item_id] = item_path
            items.append(Item(id=item_id, text=text))
        return tuple(items)

    def evidence(self, node: Node, path: str) -> tuple[bool, tuple[Item, ...]]:
        if isinstance(node, ScalarNode):
            return self.choice(node, path, ("required", "optional")) == "required", ()
        return True, self.items(node, path)

    def unique_ids(self, steps: list[tuple[Step, Node, str]], what: str) -> None:
        seen: dict[str, str] = {}
        for step, node, path in steps:
            if step.id in seen:
                raise self.error(
                    f"duplicate {what} id '{step.id}': {seen[step.id]} has it too",
                    node,
                    path,
                    "ids are derived from titles when absent; give one of them an explicit id",
                )
            seen[step.id] = f"{path} (line {node.start_mark.line + 1})"

    def no_cycles(self, dependencies: Mapping[str, list[tuple[str, Node, str]]]) -> None:
        """Depth-first search; a cycle is reported as ``a -> b -> a`` at its first dependency."""
        done: set[str] = set()
        for start in dependencies:
            stack: list[tuple[str, int]] = [(start, 0)]
            trail: list[str] = [start]
            while stack:
                current, position = stack[-1]
                deps = dependencies.get(current, [])
                if current in done or position >= len(deps):
                    done.add(current)
                    stack.pop()
                    trail.pop()
                    continue
                stack[-1] = (current, position + 1)
                dep, dep_node, dep_path = deps[position]
                if dep in trail:
                    cycle = " -> ".join([*trail[trail.index(dep) :], dep])
                    raise self.error(f"depends_on forms a cycle: {cycle}", dep_node, dep_path)
                if dep not in done:
                    stack.append((dep, 0))
                    trail.append(dep)

    def scorecard(self, node: Node, path: str) -> Scorecard:
        fields = self.mapping(node, path, SCORECARD_KEYS, required=("categories",))
        go = self.optional(fields, "go", self.percent, 90.0)
        conditional = self.optional(fields, "conditional", self.percent, 80.0)
        if conditional > go:
            raise self.error(
                f"conditional ({conditional:g}) must not be above go ({go:g})",
                fields.get("conditional") or node,
                fields.key_path("conditional"),
            )
        categories_node = fields.value("categories")
        categories: list[ScorecardCategory] = []
        for index, item in enumerate(self.sequence(categories_node, fields.key_path("categories"), "categories")):
            item_path = f"{fields.key_path('categories')}[{index}]"
            category = self.mapping(item, item_path, CATEGORY_KEYS, required=("title", "weight"))
            category_id = self.derived_id(category, "title")
            if any(c.id == category_id for c in categories):
                raise self.error(f"duplicate category id '{category_id}'", item, item_path)
            categories.append(
                ScorecardCategory(
                    id=category_id,
                    title=self.text(category.value("title"), category.key_path("title")),
                    weight=self.percent(category.value("weight"), category.key_path("weight")),
                )
            )
        total = sum(c.weight for c in categories)
        if not math.isclose(total, 100.0, abs_tol=1e-6):
            raise self.error(
                f"scorecard weights sum to {total:g}, not 100", categories_node, fields.key_path("categories")
            )
        return Scorecard(categories=tuple(categories), go=go, conditional=conditional)

    def percent(self, node: Node, path: str) -> float:
        value = self.number(node, path)
        if not 0 <= value <= 100:
            raise self.error(f"expected 0 to 100, got {value:g}", node, path)
        return value


_STORED_MATCHER = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>=~|!~|!=|=)(?P<value>\".*\")", re.S)


def split_matcher(matcher: str) -> tuple[str, str, str]:
    """``('severity', '=', 'critical')`` from a matcher as the loader stores it: ``severity="critical"``.

    Raises:
        ValueError: the text is not a stored matcher.
    """
    match = _STORED_MATCHER.fullmatch(matcher)
    if match is None:
        raise ValueError(f"not a matcher: {matcher!r}")
    return match["name"], match["op"], json.loads(match["value"])


def _inline_secret(name: str, value: str) -> bool:
    """Whether a header or environment value holds a literal credential rather than ``${VAR}``."""
    literal = _ENV_REFERENCE.sub("", value)
    scheme = _AUTH_SCHEME.match(literal)
    if scheme is None and not _SECRET_NAME.search(name):
        return False
    if scheme is not None:
        literal = literal[scheme.end() :]
    # What is left besides references, scheme words and `name=` separators is a literal secret.
    return bool(re.sub(r"[A-Za-z0-9_.-]+=|[;,\s]", "", literal))
