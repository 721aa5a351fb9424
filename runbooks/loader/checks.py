"""Sources and checks: each check's kind and its spec (``HttpSpec``, ``PromqlSpec``, ...)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from yaml.nodes import Node, ScalarNode

from runbooks import grammar
from runbooks.loader.credentials import ENV_NAME, CredentialsReader
from runbooks.loader.matchers import MatchersReader
from runbooks.loader.nodes import Fields, join, suggest, with_article
from runbooks.model import (
    AlertsSpec,
    Check,
    CheckKind,
    CheckSpec,
    CommandSpec,
    HttpSpec,
    PlaceholderSpec,
    PromqlSpec,
    Reduce,
    ScrapeSpec,
    Source,
    SourceKind,
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
OUTCOME_CHOICES: tuple[Literal["unknown", "pass", "breach"], ...] = ("unknown", "pass", "breach")
SUPPRESSED_CHOICES: tuple[Literal["unknown", "ignore"], ...] = ("unknown", "ignore")
EXPECT_CHOICES: tuple[Literal["one", "any", "all"], ...] = ("one", "any", "all")
REDUCE_CHOICES: tuple[Reduce, ...] = ("max", "min", "sum")
MODE_CHOICES: tuple[Literal["value", "rate"], ...] = ("value", "rate")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_EVERY = 15.0
DEFAULT_TIMEOUT = 5.0
_METRIC_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_JSON_PATH = re.compile(r"(?:[^.\[\]]+|\[\d+\])(?:\.[^.\[\]]+|\[\d+\])*")


class ChecksReader(CredentialsReader, MatchersReader):
    """Reads the runbook's sources and checks."""

    def sources(self, top: Fields) -> dict[str, Source]:
        node = top.get("sources")
        if node is None:
            return {}
        return {
            key: self.source(key, value, join("sources", key))
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

    def checks(self, top: Fields, sources: Mapping[str, Source]) -> dict[str, Check]:
        node = top.get("checks")
        if node is None:
            return {}
        return {
            key: self.check(key, value, join("checks", key), sources)
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
                    f"'{key}' applies to {' and '.join(owners)} checks, not to {with_article(kind)} check",
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
        max_age = self.optional(fields, "max_age", self.positive_duration, None)
        if isinstance(spec, AlertsSpec) and spec.watchdog and max_age is None:
            self.warn_watchdog_without_max_age(check_id, fields)
        elif isinstance(spec, AlertsSpec) and not spec.watchdog:
            self.warn_alerts_without_watchdog(check_id, fields)
        return Check(
            id=check_id,
            kind=kind,
            spec=spec,
            every=every,
            timeout=timeout,
            pass_when=self.optional(fields, "pass_when", self.threshold, None),
            on_nodata=self.optional(fields, "on_nodata", self.one_of(OUTCOME_CHOICES), "unknown"),
            on_invalid=self.optional(fields, "on_invalid", self.one_of(OUTCOME_CHOICES), "unknown"),
            max_age=max_age,
            unit=self.optional(fields, "unit", self.any_text, ""),
            title=self.optional(fields, "title", self.text, ""),
        )

    def check_spec(self, kind: CheckKind, fields: Fields, sources: Mapping[str, Source]) -> CheckSpec:
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

    def spec_http(self, fields: Fields) -> HttpSpec:
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
        return self.text_matching(
            node,
            path,
            _JSON_PATH,
            "invalid json_path {}",
            "a dotted path with [n] indexes, e.g. status.ok or items[0].state",
        )

    def spec_promql(self, fields: Fields, sources: Mapping[str, Source]) -> PromqlSpec:
        return PromqlSpec(
            query=self.text(fields.value("promql"), fields.key_path("promql")),
            source=self.source_reference(fields, sources, "prometheus", "promql"),
            expect=self.optional(fields, "expect", self.one_of(EXPECT_CHOICES), "one"),
            reduce=self.optional(fields, "reduce", self.one_of(REDUCE_CHOICES), None),
            headers=self.optional(fields, "headers", self.headers, {}),
        )

    def spec_alerts(self, fields: Fields, sources: Mapping[str, Source]) -> AlertsSpec:
        matchers = self.optional(fields, "alerts", self.matchers, ())
        return AlertsSpec(
            source=self.source_reference(fields, sources, "alertmanager", "alerts"),
            matchers=matchers,
            watchdog=self.optional(fields, "watchdog", self.text, None),
            receiver=self.optional(fields, "receiver", self.text, None),
            suppressed=self.optional(fields, "suppressed", self.one_of(SUPPRESSED_CHOICES), "unknown"),
        )

    def source_reference(self, fields: Fields, sources: Mapping[str, Source], kind: str, check_kind: str) -> str:
        of_kind = sorted(key for key, source in sources.items() if source.kind == kind)
        node = fields.get("source")
        if node is not None:
            path = fields.key_path("source")
            source_id = self.reference(node, path, sources, "source")
            if sources[source_id].kind != kind:
                raise self.error(
                    f"source '{source_id}' is {with_article(sources[source_id].kind)} source; {with_article(check_kind)} check needs {with_article(kind)} source",
                    node,
                    path,
                    suggest(source_id, of_kind),
                )
            return source_id
        if len(of_kind) == 1:
            return of_kind[0]
        if not of_kind:
            raise self.error(
                f"{with_article(check_kind)} check needs {with_article(kind)} source",
                fields.node,
                fields.path,
                f"add one under sources:, e.g. {kind}: {{kind: {kind}, url: ...}}",
            )
        raise self.error(
            f"several {kind} sources ({', '.join(of_kind)}): say which with source:", fields.node, fields.path
        )

    def warn_watchdog_without_max_age(self, check_id: str, fields: Fields) -> None:
        """Alertmanager keeps a dead Prometheus' watchdog active until its endsAt: only max_age tells sooner."""
        self.warn(
            f"check '{check_id}' names a watchdog but no max_age: Alertmanager keeps the watchdog of a Prometheus "
            "that died active until its endsAt (4 minutes by Prometheus' defaults), and it vouches until then",
            fields.get("watchdog"),
            fields.key_path("watchdog"),
            "add max_age: a little over Prometheus' --rules.alert.resend-delay and a rule evaluation, "
            "e.g. max_age: 1m30s for the default 1m",
        )

    def warn_alerts_without_watchdog(self, check_id: str, fields: Fields) -> None:
        """An alerts check with no alert that must always fire: "no alerts" may be a Prometheus that stopped sending."""
        self.warn(
            f"check '{check_id}' names no watchdog: \"no alerts\" cannot tell a quiet system from a Prometheus that "
            "died or stopped sending to Alertmanager, and it vouches for both",
            fields.get("alerts"),
            fields.key_path("alerts"),
            "name an alert that always fires (kube-prometheus' Watchdog, or a rule `vector(1)`) and how recent it must "
            "be: watchdog: Watchdog, max_age: 1m30s",
        )

    def spec_placeholder(self, fields: Fields) -> PlaceholderSpec:
        """A check no probe reads yet: valid, polled as no data, and a warning naming where it is."""
        node = fields.value("placeholder")
        what = self.text(node, fields.key_path("placeholder"))
        self.warn(
            f"check '{fields.path.split('.', 1)[1]}' is a placeholder, not wired: {what}",
            node,
            fields.key_path("placeholder"),
            "replace 'placeholder:' with an http, promql, alerts, scrape or command probe; "
            "until then it reads unknown — not wired",
        )
        return PlaceholderSpec(what=what)

    def spec_scrape(self, fields: Fields) -> ScrapeSpec:
        metric_node = fields.get("metric")
        if metric_node is None:
            raise self.error("a scrape check needs 'metric'", fields.node, fields.path)
        metric = self.text_matching(metric_node, fields.key_path("metric"), _METRIC_NAME, "invalid metric name {}")
        return ScrapeSpec(
            url=self.url(fields.value("scrape"), fields.key_path("scrape")),
            metric=metric,
            labels=self.optional(fields, "labels", self.labels, {}),
            mode=self.optional(fields, "mode", self.one_of(MODE_CHOICES), "value"),
            reduce=self.optional(fields, "reduce", self.one_of(REDUCE_CHOICES), None),
            headers=self.optional(fields, "headers", self.headers, {}),
            verify_tls=self.optional(fields, "verify_tls", self.boolean, True),
        )

    def spec_command(self, fields: Fields) -> CommandSpec:
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
                fields, "env", lambda n, p: self.secret_free_values(n, p, "environment variable", ENV_NAME), {}
            ),
            perfdata_label=perfdata_label,
        )
