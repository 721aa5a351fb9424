"""The ``scrape`` probe: one series read straight from a ``/metrics`` page.

For targets without a Prometheus yet. The series is found by sample name
(``http_requests_total``, as written on the page) and a label subset.

- No matching series: NODATA. NaN or ±Inf: INVALID. Not HTTP 2xx or an
  unparseable page: ERROR.
- Several matching series: ERROR naming them, unless ``reduce`` (max | min | sum).
  One series twice on the page (a broken exporter): ERROR, as Prometheus
  rejects the scrape, never the value that happens to come last.
- ``mode: rate``: per-second increase between this scrape and the previous one
  of the same check (monotonic clock). A value lower than before is a counter
  reset, and, as Prometheus' ``rate()`` does, the new value is taken as the
  increase since the reset. The first scrape is NODATA ("first sample").
- A sample with its own timestamp on the page: older than Prometheus's
  lookback (5 minutes), Prometheus would have no value for it now, so the
  series is left out (none left: NODATA); a younger one carries its age as
  ``sample_age``, so the check's ``max_age`` applies.
- A page from a cache (``Age`` older than the check's interval, though the
  request said ``no-cache``) is the exporter as it was before the last poll:
  degraded, aged as the cache says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from checks.probes.common import (
    REDUCERS,
    Observation,
    ProbeFailed,
    build_headers,
    cache_fields,
    describe_series,
    error,
    fetch,
    judge,
    parse_number,
    several_series_error,
)
from checks.probes.context import ProbeContext
from checks.reading import Outcome
from runbooks.grammar import format_duration
from runbooks.model import Check, Reduce, ScrapeSpec

SeriesKey = tuple[tuple[str, str], ...]
#: Prometheus's default lookback delta: an instant query finds no sample older than this.
LOOKBACK_SECONDS = 300.0


async def probe(check: Check, ctx: ProbeContext) -> Observation:
    """Fetch the page, pick the series, and judge its value or rate."""
    spec = check.spec_as(ScrapeSpec)
    metric = spec.metric
    wanted = spec.labels
    response = await fetch(
        ctx,
        spec.url,
        headers=build_headers(ctx.env, spec.headers),
        timeout=check.timeout,
        verify=spec.verify_tls,
    )
    scraped_at = ctx.clock.monotonic()
    if not response.ok:
        raise error(response.error_detail())
    try:
        page = response.body.decode("utf-8")
        found, stamps = _unique(_matching_series(page, metric, wanted), metric)
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"cannot parse the metrics page: {exc}") from None
    if not found:
        raise ProbeFailed(Outcome.NODATA, f"no series {describe_series(wanted, metric)} on the page")
    sample_age = None
    if stamps:  # lines with their own timestamps
        now = ctx.clock.now().timestamp()
        ages = {key: max(0.0, now - stamp) for key, stamp in stamps.items()}
        expired = [key for key, age in ages.items() if age > LOOKBACK_SECONDS]
        for key in expired:
            del found[key]
        if not found:
            oldest = expired[0]
            raise ProbeFailed(
                Outcome.NODATA,
                f"{describe_series(dict(oldest), metric)} is stamped {format_duration(int(ages[oldest]))} ago: "
                "older than Prometheus's 5-minute lookback, it is no current value",
            )
        kept = [ages[key] for key in found if key in ages]
        sample_age = max(kept) if kept else None

    extra: dict[str, Any] = {}
    cached = cache_fields(check, response, extra)
    # A stamped sample's age counts the cache's time already: the older of the two.
    sample_age = max((age for age in (sample_age, cached.pop("sample_age", None)) if age is not None), default=None)
    values = {key: parse_number(value, describe_series(dict(key), metric)) for key, value in found.items()}
    if spec.mode == "rate":
        values = _rates(ctx.scrape_memory.setdefault(check.id, {}), values, scraped_at)
        if not values:
            raise ProbeFailed(Outcome.NODATA, "first sample: a rate needs two scrapes")
    value = _one_value(values, metric, spec.reduce)
    return judge(check, value, extra={"series": len(values), **extra}, sample_age=sample_age, **cached)


def _matching_series(
    page: str, metric: str, wanted: Mapping[str, str]
) -> Iterable[tuple[SeriesKey, float, float | None]]:
    """(labels, value, timestamp or None) of every sample named ``metric`` whose labels include ``wanted``."""
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name != metric:
                continue
            if all(sample.labels.get(name) == value for name, value in wanted.items()):
                stamp = None if sample.timestamp is None else float(sample.timestamp)
                yield tuple(sorted(sample.labels.items())), sample.value, stamp


def _unique(
    series: Iterable[tuple[SeriesKey, float, float | None]], metric: str
) -> tuple[dict[SeriesKey, float], dict[SeriesKey, float]]:
    """Each series' value, and the timestamps the page gives; ERROR for a series the page has twice (Prometheus
    rejects such a scrape too)."""
    found: dict[SeriesKey, float] = {}
    stamps: dict[SeriesKey, float] = {}
    for key, value, stamp in series:
        if key in found:
            raise error(
                f"the page has {describe_series(dict(key), metric)} twice ({found[key]:g} and {value:g}): "
                "one series cannot have two values"
            )
        found[key] = value
        if stamp is not None:
            stamps[key] = stamp
    return found, stamps


def _rates(
    memory: dict[SeriesKey, tuple[float, float]], values: dict[SeriesKey, float], now: float
) -> dict[SeriesKey, float]:
    """Per-second increase of each series since the last scrape; remembers this scrape.

    Series seen for the first time (or with no time elapsed) have no rate yet.
    """
    rates: dict[SeriesKey, float] = {}
    for key, value in values.items():
        previous = memory.get(key)
        memory[key] = (value, now)
        if previous is None or now <= previous[1]:
            continue
        before, then = previous
        increase = value - before if value >= before else value  # a reset restarts the counter at 0
        rates[key] = increase / (now - then)
    for gone in set(memory) - set(values):
        del memory[gone]
    return rates


def _one_value(values: dict[SeriesKey, float], metric: str, reduce: Reduce | None) -> float:
    """The single value, or several reduced by ``reduce``; several without it is an ERROR."""
    if len(values) == 1:
        return next(iter(values.values()))
    if reduce is not None:
        return float(REDUCERS[reduce](values.values()))
    raise several_series_error([describe_series(dict(key), metric) for key in values])
