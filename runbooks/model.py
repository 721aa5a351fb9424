"""The runbook as a typed, immutable model.

Everything here is plain data: the loader (``runbooks.loader``) builds it from
YAML and validates every reference, so the rest of the program may trust it.
Durations and offsets are float seconds; thresholds are normalised (``99%`` is
``0.99``, ``500ms`` is ``0.5``) and compared as floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal, TypeVar


class Action(StrEnum):
    """What a firing stop condition asks of the commander."""

    INFO = "info"
    WARN = "warn"
    HALT = "halt"
    ROLLBACK = "rollback"


class StepKind(StrEnum):
    TASK = "task"
    GO_NO_GO = "go_no_go"
    APPROVAL = "approval"


ComparisonOp = Literal[">", ">=", "<", "<=", "==", "!="]
SourceKind = Literal["prometheus", "alertmanager"]
CheckKind = Literal["http", "promql", "alerts", "scrape", "command", "placeholder"]
Judge = Literal["median", "mann_whitney"]
Reduce = Literal["max", "min", "sum"]


@dataclass(frozen=True, slots=True)
class Threshold:
    """A comparison such as ``> 1%``: ``op`` and a normalised float ``value``.

    ``unit`` is the unit as written ("%", "ms", "s", "" ...) for display;
    ``value`` is already normalised (percent to a fraction, time to seconds).
    """

    op: ComparisonOp
    value: float
    unit: str
    text: str

    def holds(self, observed: float) -> bool:
        """Whether ``observed <op> value``. NaN never holds (callers treat NaN as invalid first)."""
        match self.op:
            case ">":
                return observed > self.value
            case ">=":
                return observed >= self.value
            case "<":
                return observed < self.value
            case "<=":
                return observed <= self.value
            case "==":
                return observed == self.value
            case "!=":
                return observed != self.value
        raise AssertionError(self.op)

    def holds_above(self, bound: float) -> bool | None:
        """Whether ``observed <op> value`` for every observed value above ``bound``.

        For a value known only to lie above ``bound`` (a quantile in a
        histogram's ``+Inf`` bucket): True or False when every such value
        gives that answer, None when it depends on how far above it is.
        ``> 1`` holds for anything above 2; ``< 1`` holds for nothing above 2;
        ``< 3`` may or may not.
        """
        if self.value > bound:
            return None
        return self.op in (">", ">=", "!=")


@dataclass(frozen=True, slots=True)
class RelativeThreshold:
    """A comparison with a multiple of the pre-T0 baseline: ``> 2x baseline``, ``< 0.5x baseline``.

    ``op`` is one of ``>``, ``>=``, ``<``, ``<=``; ``factor`` multiplies the
    baseline (the median of the check's readings in the condition's
    ``baseline`` window). A baseline of zero is compared like any other:
    ``> 2x baseline`` holds for every value above 0, never a division.
    """

    op: ComparisonOp
    factor: float
    text: str

    def against(self, baseline: float, unit: str = "") -> Threshold:
        """The absolute threshold this is for a given baseline: ``> 2x`` of 0.002 is ``> 0.004``."""
        return Threshold(op=self.op, value=self.factor * baseline, unit=unit, text=self.text)

    @property
    def increase(self) -> bool:
        """Whether a breach is a rise above the baseline (``>``, ``>=``) rather than a drop."""
        return self.op in (">", ">=")


@dataclass(frozen=True, slots=True)
class BaselineWindow:
    """``baseline: {from: T-30m, to: T-0, min_samples: 10}``: where the baseline readings are taken.

    ``start`` and ``end`` are T-offsets in seconds (``start < end``); the
    baseline is not established before the window holds ``min_samples``
    usable readings (a pass or a breach with a finite value).
    """

    start: float
    end: float
    min_samples: int = 10


@dataclass(frozen=True, slots=True)
class Source:
    """A named metrics or alerts backend. Secrets are named, never stored."""

    id: str
    kind: SourceKind
    url: str
    token_env: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # values may hold ${ENV}, expanded per request
    timeout: float | None = None
    verify_tls: bool = True


@dataclass(frozen=True, slots=True)
class HttpSpec:
    """``http: URL``: one request; its status and latency are judged, and a JSON value read when ``json_path`` is set."""

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)  # values may hold ${ENV}, expanded per request
    expect_status: tuple[int, ...] = ()  # empty: any 2xx
    max_latency: float | None = None  # seconds
    json_path: str | None = None  # ``status.checks[0].ok``
    verify_tls: bool = True


@dataclass(frozen=True, slots=True)
class PromqlSpec:
    """``promql: QUERY``: an instant query on a Prometheus source (its id)."""

    query: str
    source: str
    expect: Literal["one", "any", "all"] = "one"  # how many series the query may return
    reduce: Reduce | None = None  # several series reduced to one value
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertsSpec:
    """``alerts: {severity: critical}``: the active alerts of an Alertmanager source (its id) that match.

    ``matchers`` are Alertmanager filter strings (``severity="critical"``);
    ``watchdog`` names an alert that must be firing (Alertmanager itself is
    alive); ``suppressed`` says what a silenced or inhibited match means.
    """

    source: str
    matchers: tuple[str, ...] = ()
    watchdog: str | None = None
    receiver: str | None = None
    suppressed: Literal["unknown", "ignore"] = "unknown"


@dataclass(frozen=True, slots=True)
class ScrapeSpec:
    """``scrape: URL``: one series read straight from a ``/metrics`` page, its value or its rate."""

    url: str
    metric: str
    labels: Mapping[str, str] = field(default_factory=dict)
    mode: Literal["value", "rate"] = "value"
    reduce: Reduce | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    verify_tls: bool = True


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """``command: [argv...]``: a program run without a shell; Nagios exit codes, perfdata for a value."""

    argv: tuple[str, ...]
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # values may hold ${ENV}
    perfdata_label: str | None = None


@dataclass(frozen=True, slots=True)
class PlaceholderSpec:
    """``placeholder: WHAT``: a measure no probe reads yet (written by ``cutover-tui import``).

    It polls as no data, shown ``unknown — not wired``, and ``validate`` warns about it.
    """

    what: str


CheckSpec = HttpSpec | PromqlSpec | AlertsSpec | ScrapeSpec | CommandSpec | PlaceholderSpec
S = TypeVar("S", HttpSpec, PromqlSpec, AlertsSpec, ScrapeSpec, CommandSpec, PlaceholderSpec)


@dataclass(frozen=True, slots=True)
class Check:
    """One probe, polled every ``every`` seconds.

    ``kind`` selects the probe; ``spec`` holds the kind's validated settings,
    one dataclass per kind: ``HttpSpec``, ``PromqlSpec``, ``AlertsSpec``,
    ``ScrapeSpec``, ``CommandSpec``, ``PlaceholderSpec``.

    ``pass_when`` is the check's own criterion on its value (for gates); when
    absent, any valid value passes (http also applies expect_status and
    max_latency; alerts pass when no alert is active).
    """

    id: str
    kind: CheckKind
    spec: CheckSpec
    every: float = 15.0
    timeout: float = 5.0
    pass_when: Threshold | None = None
    on_nodata: Literal["pass", "breach", "unknown"] = "unknown"
    on_invalid: Literal["pass", "breach", "unknown"] = "unknown"
    max_age: float | None = None
    unit: str = ""
    title: str = ""

    def spec_as(self, kind: type[S]) -> S:
        """The spec as the probe of its kind reads it.

        Raises:
            TypeError: the spec is of another kind.
        """
        if not isinstance(self.spec, kind):
            raise TypeError(
                f"check {self.id!r} ({self.kind}) holds a {type(self.spec).__name__}, not a {kind.__name__}"
            )
        return self.spec


@dataclass(frozen=True, slots=True)
class ActiveWindow:
    """``active: T+0..T+72h`` — offsets from T0, either end open."""

    start: float | None
    end: float | None


@dataclass(frozen=True, slots=True)
class StopCondition:
    """A stop condition: a check's value breaching ``when`` for ``for_`` seconds.

    Without ``when`` (and without ``relative``) the condition is breached when
    the check's own outcome is ``breach``.

    Relative to the baseline (``when: "> 2x baseline"``): ``relative`` holds
    the comparison and ``when`` is None; ``baseline`` says where the baseline
    readings are; ``floor`` is an optional absolute guard (both must hold).
    ``judge`` is ``median`` (the latest value against the baseline's median)
    or ``mann_whitney`` (the readings of the last ``window`` seconds against
    the baseline's readings, at ``confidence``, with Kayenta's ``tolerance``
    band around the Hodges–Lehmann estimate and the factor as the effect size).
    """

    id: str
    check: str
    when: Threshold | None
    for_: float = 0.0
    min_consecutive: int = 1
    keep_firing_for: float = 0.0
    error_limit: int = 4
    max_age: float | None = None
    action: Action = Action.WARN
    decides: str | None = None  # a role id
    severity: str | None = None  # escalation matrix key
    active: ActiveWindow | None = None
    title: str = ""
    relative: RelativeThreshold | None = None
    baseline: BaselineWindow | None = None
    floor: Threshold | None = None
    judge: Judge = "median"
    window: float | None = None  # mann_whitney: seconds of recent readings compared with the baseline
    confidence: float = 0.98  # mann_whitney: confidence level of the interval
    tolerance: float = 0.25  # mann_whitney: the band around the estimate, as a fraction of it (Kayenta)

    @property
    def threshold_text(self) -> str:
        """The comparison as written: ``> 1%``, ``> 2x baseline``; empty when the check's own breach counts."""
        if self.relative is not None:
            return self.relative.text
        return self.when.text if self.when is not None else ""


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """A named piece of evidence a step asks for: each required one needs its own answer before the step completes."""

    id: str
    text: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    title: str
    at: float | None = None  # T-offset in seconds; None = unscheduled
    duration: float | None = None
    owner: str | None = None  # a role id
    kind: StepKind = StepKind.TASK
    phrase: str | None = None  # approval: the exact phrase to type
    items: tuple[Item, ...] = ()
    evidence_required: bool = False  # some evidence is required: one answer, or one per required named item
    evidence: tuple[EvidenceItem, ...] = ()  # the named evidence items, each answered on its own
    gate: tuple[str, ...] = ()  # check ids
    watch: tuple[str, ...] = ()  # stop condition ids
    depends_on: tuple[str, ...] = ()
    notes: str = ""
    # Alerts that may be silenced or inhibited while this step is active: each entry is one
    # set of Alertmanager matchers (all must match), written as an alerts check's matchers.
    expect_silenced: tuple[tuple[str, ...], ...] = ()
    approvers: int = 1  # approval: how many distinct people must each type the phrase


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    severity: str
    respond_within: float | None
    escalate_to: str | None  # a role id or free text
    description: str = ""


@dataclass(frozen=True, slots=True)
class ScorecardCategory:
    id: str
    title: str
    weight: float  # percent points; weights sum to 100


@dataclass(frozen=True, slots=True)
class Scorecard:
    categories: tuple[ScorecardCategory, ...]
    go: float = 90.0
    conditional: float = 80.0

    def result(self, scores: Mapping[str, float]) -> tuple[float, str]:
        """Weighted total (0–100) of per-category scores (0–100) and GO / CONDITIONAL / NO-GO."""
        total = sum(c.weight * scores.get(c.id, 0.0) / 100.0 for c in self.categories)
        total = round(total, 2)
        if total >= self.go:
            return total, "GO"
        if total >= self.conditional:
            return total, "CONDITIONAL"
        return total, "NO-GO"


@dataclass(frozen=True, slots=True)
class Runbook:
    name: str
    t0: datetime | None
    timezone: str | None
    roles: Mapping[str, str]
    sources: Mapping[str, Source]
    checks: Mapping[str, Check]
    stop_conditions: tuple[StopCondition, ...]
    steps: tuple[Step, ...]
    rollback: tuple[Step, ...]
    escalation: tuple[EscalationLevel, ...] = ()
    scorecard: Scorecard | None = None
    description: str = ""
    path: str = ""
    text: str = ""
    sha256: str = ""
    warnings: tuple[str, ...] = ()  # located, formatted like errors: FILE:LINE:COL: warning: ...

    def condition(self, condition_id: str) -> StopCondition:
        for c in self.stop_conditions:
            if c.id == condition_id:
                return c
        raise KeyError(condition_id)

    def step(self, step_id: str) -> Step:
        for s in (*self.steps, *self.rollback):
            if s.id == step_id:
                return s
        raise KeyError(step_id)
