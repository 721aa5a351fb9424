"""Alertmanager label matchers: an alerts check's, and the alerts a step expects silenced."""

from __future__ import annotations

import json
import re

from yaml.nodes import MappingNode, Node, SequenceNode

from runbooks.loader.nodes import NodeReader, describe, join, quoted

LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MATCHER = re.compile(r"\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>.*?)\s*")
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


class MatchersReader(NodeReader):
    """Reads label matchers and labels."""

    def matchers(self, node: Node, path: str) -> tuple[str, ...]:
        """Alert matchers as Alertmanager filter strings: ``severity="critical"``."""
        if isinstance(node, MappingNode):
            result = []
            for name, (key_node, value_node) in self.entries(node, path, "a mapping of label matchers").items():
                if not LABEL_NAME.fullmatch(name):
                    raise self.error(f"invalid label name {quoted(name)}", key_node, join(path, name))
                value = self.scalar(value_node, join(path, name), "a label value").value
                result.append(f"{name}={json.dumps(value, ensure_ascii=False)}")
            return tuple(result)
        result = []
        for index, item in enumerate(self.sequence(node, path, 'matchers such as severity="critical"')):
            item_path = f"{path}[{index}]"
            match = _MATCHER.fullmatch(self.text(item, item_path))
            if match is None:
                raise self.error(
                    f"invalid matcher {quoted(item.value)}",
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
            raise self.error(f"expected alert matchers, got {describe(node)}", node, path, example)
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
                                f"invalid regex in matcher {quoted(matcher)}: {error}", entry, f"{item_path}[{index}]"
                            ) from None
            sets.append(matchers)
        return tuple(sets)

    def labels(self, node: Node, path: str) -> dict[str, str]:
        result: dict[str, str] = {}
        for name, (key_node, value_node) in self.entries(node, path, "a mapping of labels").items():
            if not LABEL_NAME.fullmatch(name):
                raise self.error(f"invalid label name {quoted(name)}", key_node, join(path, name))
            result[name] = self.scalar(value_node, join(path, name), "a label value").value
        return result
