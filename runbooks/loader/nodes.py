"""YAML nodes read with their places: the reader every part of the loader builds on.

The YAML is composed into nodes (never constructed into arbitrary objects), so
every error names the file, the 1-based line and column, and the key path.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runbooks import grammar
from runbooks.errors import RunbookError
from runbooks.model import Threshold

T = TypeVar("T")
D = TypeVar("D")
C = TypeVar("C", bound=str)
TAG = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (TAG + name for name in ("str", "int", "float", "bool", "null"))
#: libyaml's safe loader when PyYAML was built with it. A runbook it cannot compose is composed again
#: by PyYAML's pure-Python loader, whose errors name the line and column.
FAST_LOADER = getattr(yaml, "CSafeLoader", None)
ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
# Keys people use for inline credentials: never valid, and worth a specific message.
SECRET_KEY = re.compile(
    r"(?:.*_)?(?:token|password|passwd|secret|api_?key|credentials?|authorization|bearer)(?:_.*)?", re.I
)
SECRET_HINT = (
    "name the environment variable that holds it instead: token_env: API_TOKEN on a source, "
    'or a header such as Authorization: "Bearer ${API_TOKEN}"'
)


def slug(text: str) -> str:
    """An id from a title: ``Deploy backend`` -> ``deploy_backend``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def suggest(word: str, candidates: Iterable[str], listing: bool = True) -> str:
    """``did you mean 'x'?`` for a near match, else the valid choices (when ``listing``)."""
    candidates = list(candidates)
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if not candidates or not listing:
        return ""
    shown = ", ".join(sorted(candidates)[:12]) + (", ..." if len(candidates) > 12 else "")
    return f"valid: {shown}"


def with_article(word: str) -> str:
    """``a promql``, ``an alerts``."""
    return f"an {word}" if word[:1] in ("a", "e", "i", "o", "u") else f"a {word}"


def quoted(value: str) -> str:
    """A value quoted for a message, cut short: a mistake may be a whole paragraph."""
    return repr(value if len(value) <= 40 else value[:37] + "...")


def describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == NULL:
        return "nothing"
    return "a number" if node.tag in (INT, FLOAT) else "a boolean" if node.tag == BOOL else "text"


class Fields:
    """A YAML mapping whose keys were checked: typed access with key paths."""

    def __init__(self, node: Node, path: str, entries: dict[str, tuple[Node, Node]]) -> None:
        self.node = node
        self.path = path
        self.entries = entries

    def get(self, key: str) -> Node | None:
        """The value node, or None when the key is absent or null."""
        entry = self.entries.get(key)
        if entry is None or (isinstance(entry[1], ScalarNode) and entry[1].tag == NULL):
            return None
        return entry[1]

    def value(self, key: str) -> Node:
        """The value node of a key the reader made sure is there (``required``, or checked before)."""
        node = self.get(key)
        if node is None:
            raise KeyError(f"{self.key_path(key)} was checked to be present")
        return node

    def key_path(self, key: str) -> str:
        return join(self.path, key)


class NodeReader:
    """Turns YAML nodes into values; knows the file name for errors."""

    def __init__(self, file: str, *, expand_urls: bool = True) -> None:
        self.file = file
        self.expand_urls = expand_urls
        self._constructor = SafeConstructor()
        self.warnings: list[str] = []

    def error(self, message: str, node: Node | None, path: str, hint: str = "") -> RunbookError:
        line = column = None
        if node is not None and node.start_mark is not None:
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
        return RunbookError(message, file=self.file, line=line, column=column, key_path=path, hint=hint)

    def warn(self, message: str, node: Node | None, path: str, hint: str = "") -> None:
        """Note a warning, placed and worded as an error is (``validate`` and ``run`` print it; nothing stops)."""
        self.warnings.append(self.error(message, node, path, hint).format().replace(": error: ", ": warning: ", 1))

    def compose(self, text: str) -> Node:
        if FAST_LOADER is not None:
            try:  # libyaml's composer: the same nodes and marks, ten times sooner
                fast = yaml.compose(text, Loader=FAST_LOADER)
            except Exception:  # PyYAML's own composer below says what is wrong, as it always has
                pass
            else:
                if fast is None:
                    raise RunbookError(
                        "the runbook is empty: expected a mapping with at least a name",
                        file=self.file,
                        line=1,
                        column=1,
                    )
                return fast
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

    def mapping(self, node: Node, path: str, allowed: Collection[str], required: Collection[str] = ()) -> Fields:
        """A mapping with a fixed set of keys: unknown keys get a suggestion."""
        entries = self.entries(node, path, what="a mapping")
        for key, (key_node, _) in entries.items():
            if key in allowed:
                continue
            # `token_en` is a typo of token_env; `token` and `password` are inline credentials.
            nearly = difflib.get_close_matches(key, allowed, n=1, cutoff=0.85)
            if SECRET_KEY.fullmatch(key) and not nearly:
                raise self.error(
                    f"'{key}' looks like an inline credential; secrets are never written in a runbook",
                    key_node,
                    join(path, key),
                    SECRET_HINT,
                )
            raise self.error(f"unknown key '{key}'", key_node, join(path, key), suggest(key, allowed))
        fields = Fields(node, path, entries)
        for key in required:
            if key not in entries:
                raise self.error(f"missing required key '{key}'", node, path)
            if fields.get(key) is None:
                raise self.error(f"'{key}' must have a value", entries[key][1], join(path, key))
        return fields

    def entries(self, node: Node, path: str, what: str) -> dict[str, tuple[Node, Node]]:
        """A mapping's entries by key text; merge keys applied, duplicate keys rejected."""
        if not isinstance(node, MappingNode):
            raise self.error(f"expected {what}, got {describe(node)}", node, path)
        seen: dict[str, Node] = {}
        for key_node, _ in node.value:
            key = self.key_text(key_node, path)
            if key_node.tag == TAG + "merge":
                continue
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise self.error(f"duplicate key '{key}' (first on line {first})", key_node, join(path, key))
            seen[key] = key_node
        try:
            self._constructor.flatten_mapping(node)
        except yaml.YAMLError as error:
            raise self.error(f"invalid merge key: {getattr(error, 'problem', error)}", node, path) from None
        # After merging, a later entry overrides an earlier one, as in YAML; merged keys are checked too.
        return {self.key_text(key_node, path): (key_node, value_node) for key_node, value_node in node.value}

    def key_text(self, node: Node, path: str) -> str:
        if not isinstance(node, ScalarNode) or node.tag == NULL:
            raise self.error("a key must be a plain name", node, path)
        key: str = node.value
        return key

    def id_mapping(self, node: Node, path: str, what: str) -> dict[str, tuple[Node, Node]]:
        """A mapping keyed by ids (roles, sources, checks)."""
        entries = self.entries(node, path, what=f"a mapping of {what}")
        for key, (key_node, _) in entries.items():
            self.check_id(key, key_node, join(path, key))
        return entries

    def sequence(self, node: Node, path: str, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.error(f"expected a list of {what}, got {describe(node)}", node, path)
        return list(node.value)

    def check_id(self, value: str, node: Node, path: str) -> str:
        if not ID.fullmatch(value):
            raise self.error(f"invalid id {quoted(value)}: use letters, digits, '_', '-' or '.'", node, path)
        return value

    def scalar(self, node: Node, path: str, expected: str) -> ScalarNode:
        if not isinstance(node, ScalarNode):
            raise self.error(f"expected {expected}, got {describe(node)}", node, path)
        if not node.tag.startswith(TAG):
            raise self.error(
                f"unexpected YAML tag {quoted(node.tag)}",
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

    def text_matching(self, node: Node, path: str, pattern: re.Pattern[str], problem: str, hint: str = "") -> str:
        """Text that ``pattern`` matches whole; otherwise the error ``problem`` with the quoted text in its ``{}``."""
        value = self.text(node, path)
        if not pattern.fullmatch(value):
            raise self.error(problem.format(quoted(value)), node, path, hint)
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
            raise self.error(f"expected {expected}, got {quoted(node.value)}", node, path) from None

    def number(self, node: Node, path: str) -> float:
        node = self.scalar(node, path, "a number")
        if node.tag == INT:
            value = self.construct(node, path, lambda n: float(self._constructor.construct_yaml_int(n)), "a number")
        elif node.tag == FLOAT:
            value = self.construct(node, path, self._constructor.construct_yaml_float, "a number")
        else:
            raise self.error(f"expected a number, got {describe(node)} {quoted(node.value)}", node, path)
        if not math.isfinite(value):
            raise self.error(f"expected a finite number, got {quoted(node.value)}", node, path)
        return value

    def integer(self, node: Node, path: str, minimum: int | None = None) -> int:
        node = self.scalar(node, path, "a whole number")
        if node.tag != INT:
            raise self.error(f"expected a whole number, got {describe(node)} {quoted(node.value)}", node, path)
        value = self.construct(node, path, self._constructor.construct_yaml_int, "a whole number")
        if minimum is not None and value < minimum:
            raise self.error(f"must be at least {minimum}, got {value}", node, path)
        return value

    def count(self, node: Node, path: str) -> int:
        return self.integer(node, path, minimum=1)

    def boolean(self, node: Node, path: str) -> bool:
        node = self.scalar(node, path, "true or false")
        if node.tag != BOOL:
            raise self.error(f"expected true or false, got {quoted(node.value)}", node, path)
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
            f"expected one of {' | '.join(choices)}, got {quoted(value)}", node, path, suggest(value, choices)
        )

    def grammar(self, node: Node, path: str, parse: Callable[[str], T], expected: str) -> T:
        """A value in one of the grammar's languages, given as text."""
        value = self.scalar(node, path, expected)
        if value.tag in (NULL, BOOL):
            raise self.error(f"expected {expected}, got {quoted(value.value)}", node, path)
        try:
            return parse(value.value)
        except ValueError as error:
            raise self.error(str(error), node, path) from None

    def duration(self, node: Node, path: str, positive: bool = False) -> float:
        value = self.scalar(node, path, "a duration")
        if value.tag == INT and ":" in value.value:
            # YAML 1.1 reads 1:30 as 90 (base 60); nobody means that.
            raise self.error(
                f"ambiguous duration {quoted(value.value)}", node, path, "write it with units, e.g. 1m30s or 1h30m"
            )
        if value.tag in (INT, FLOAT):
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
        if value.tag in (INT, FLOAT):
            raise self.error(
                f"a threshold needs a comparison, got {quoted(value.value)}",
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
            raise self.error(f"unknown {what} '{value}'", node, path, suggest(value, known))
        return value

    def optional(self, fields: Fields, key: str, read: Callable[[Node, str], T], default: D) -> T | D:
        node = fields.get(key)
        return default if node is None else read(node, fields.key_path(key))

    def derived_id(self, fields: Fields, title_key: str) -> str:
        """The explicit ``id``, else a slug of the title."""
        node = fields.get("id")
        if node is not None:
            return self.ident(node, fields.key_path("id"))
        title = fields.get(title_key)
        if title is None:
            raise self.error(f"needs an 'id' or a '{title_key}'", fields.node, fields.path)
        derived = slug(self.text(title, fields.key_path(title_key)))
        if not derived:
            raise self.error(
                f"cannot derive an id from this {title_key}",
                title,
                fields.key_path(title_key),
                "give it an explicit id:",
            )
        return derived
