"""Stop conditions (absolute or relative to the pre-T0 baseline) and the escalation levels they name."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TypedDict

from yaml.nodes import Node, ScalarNode

from runbooks import grammar
from runbooks.loader.nodes import Fields, NodeReader, quoted, suggest
from runbooks.model import (
    Action,
    ActiveWindow,
    BaselineWindow,
    Check,
    EscalationLevel,
    Judge,
    RelativeThreshold,
    StopCondition,
    Threshold,
)

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
ESCALATION_KEYS = ("severity", "respond_within", "escalate_to", "description")


class _BaselineKeys(TypedDict, total=False):
    """A stop condition's keys relative to the baseline, as ``StopCondition`` takes them."""

    baseline: BaselineWindow
    floor: Threshold | None
    judge: Judge
    window: float | None
    confidence: float
    tolerance: float


class ConditionsReader(NodeReader):
    """Reads the escalation levels and the stop conditions."""

    def escalation(self, top: Fields) -> list[EscalationLevel]:
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
        self, top: Fields, checks: Mapping[str, Check], roles: Mapping[str, str], severities: Collection[str]
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
                    suggest(severity, severities),
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

    def comparison(self, fields: Fields) -> tuple[Threshold | None, RelativeThreshold | None]:
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

    def baseline_keys(self, fields: Fields, relative: RelativeThreshold | None) -> _BaselineKeys:
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
            self.warn(
                f"judge: mann_whitney needs the Python package {MANN_WHITNEY_PACKAGE}, which is not installed",
                node,
                path,
                MANN_WHITNEY_INSTALL,
            )

    def active(self, node: Node, path: str) -> ActiveWindow:
        raw = self.scalar(node, path, "a window such as T+0..T+72h").value
        if ".." not in raw:
            raise self.error(
                f"invalid active window {quoted(raw)}", node, path, 'write "T+0..T+72h", "T+0.." or "..T+72h"'
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
            raise self.error(f"the active window {quoted(raw)} ends before it starts", node, path)
        return ActiveWindow(start=start, end=end)
