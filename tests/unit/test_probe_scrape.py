"""The scrape probe: one series read from a real /metrics page."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from checks.clock import ManualClock
from checks.probes import run_probe
from checks.reading import Outcome


async def test_gauge_value_passes(poll, target):
    """A gauge under its threshold passes with the gauge's value."""
    reading = await poll(f'scrape: {target.url}/metrics\nmetric: auth_error_ratio\npass_when: "< 1%"')
    assert reading.outcome is Outcome.PASS
    assert reading.value == pytest.approx(0.002)


async def test_gauge_over_threshold_is_breach(poll, target):
    """A gauge failing pass_when is a breach."""
    target.set(auth_error_ratio=0.04)
    reading = await poll(f'scrape: {target.url}/metrics\nmetric: auth_error_ratio\npass_when: "< 1%"')
    assert reading.outcome is Outcome.BREACH
    assert reading.value == pytest.approx(0.04)


async def test_series_selected_by_label_subset(poll, target):
    """Labels pick one series of a counter by name as written on the page."""
    reading = await poll(
        f'scrape: {target.url}/metrics\nmetric: http_requests_total\nlabels: {{route: /auth, code: "500"}}'
    )
    assert reading.outcome is Outcome.PASS
    assert reading.value is not None and reading.value >= 0


async def test_several_matching_series_is_error_naming_them(poll, target):
    """Two series where one is expected is an error naming both."""
    reading = await poll(f"scrape: {target.url}/metrics\nmetric: http_requests_total\nlabels: {{route: /auth}}")
    assert reading.outcome is Outcome.ERROR
    assert 'http_requests_total{code="200",route="/auth"}' in reading.detail
    assert 'http_requests_total{code="500",route="/auth"}' in reading.detail


@pytest.mark.parametrize("page", ["errors 0.5\nerrors 0.001\n", "errors 0.001\nerrors 0.5\n"])
async def test_one_series_twice_on_a_page_is_an_error_whichever_comes_last(poll, canned_server, page):
    """The same series twice (a broken exporter): an error, as Prometheus rejects the scrape, never the last one's pass."""
    canned_server.respond(page, content_type="text/plain")
    reading = await poll(f'scrape: {canned_server.url}/metrics\nmetric: errors\npass_when: "< 1%"')
    assert reading.outcome is Outcome.ERROR
    first, second = (line.split()[1] for line in page.splitlines())
    assert reading.detail == f"the page has errors twice ({first} and {second}): one series cannot have two values"


async def test_reduce_sum_makes_one_value_of_several(make_context, canned_server):
    """reduce: sum adds the matching series."""
    canned_server.respond('jobs{queue="a"} 2\njobs{queue="b"} 3\n', content_type="text/plain")
    ctx = make_context(f"scrape: {canned_server.url}/metrics\nmetric: jobs")
    check = ctx.runbook.checks["probe"]
    check = dataclasses.replace(check, spec=dataclasses.replace(check.spec, reduce="sum"))
    reading = await run_probe(check, ctx)
    assert (reading.outcome, reading.value) == (Outcome.PASS, 5.0)


async def test_missing_series_is_nodata(poll, target):
    """A metric absent from the page is nodata, not 0."""
    reading = await poll(f"scrape: {target.url}/metrics\nmetric: queue_depth")
    assert reading.outcome is Outcome.NODATA
    assert reading.value is None
    assert "queue_depth" in reading.detail


async def test_nan_value_is_invalid(poll, target):
    """A NaN sample is invalid, never a pass."""
    target.set(latency_p95=float("nan"))
    reading = await poll(f'scrape: {target.url}/metrics\nmetric: http_request_duration_p95_seconds\npass_when: "< 1s"')
    assert reading.outcome is Outcome.INVALID
    assert "NaN" in reading.detail


async def test_rate_per_second_between_scrapes_and_counter_reset(make_context, canned_server):
    """Rate mode: first scrape is nodata, then increase per second; a reset counts from 0."""
    clock = ManualClock()
    ctx = make_context(f"scrape: {canned_server.url}/metrics\nmetric: logins_total\nmode: rate", clock=clock)
    check = ctx.runbook.checks["probe"]
    readings = []
    for counter, seconds in ((100, 0), (160, 2), (10, 1)):
        canned_server.respond(f"logins_total {counter}\n", content_type="text/plain")
        clock.advance(seconds)
        readings.append(await run_probe(check, ctx))
    assert readings[0].outcome is Outcome.NODATA and "first sample" in readings[0].detail
    assert (readings[1].outcome, readings[1].value) == (Outcome.PASS, 30.0)
    assert (readings[2].outcome, readings[2].value) == (Outcome.PASS, 10.0)


async def test_rate_of_target_traffic_is_positive(make_context, target):
    """The target's own traffic makes a real, positive request rate."""
    ctx = make_context(
        f'scrape: {target.url}/metrics\nmetric: http_requests_total\nlabels: {{route: /auth, code: "200"}}\n'
        'mode: rate\npass_when: "> 0"'
    )
    check = ctx.runbook.checks["probe"]
    first = await run_probe(check, ctx)
    await asyncio.sleep(0.5)
    second = await run_probe(check, ctx)
    assert first.outcome is Outcome.NODATA
    assert second.outcome is Outcome.PASS
    assert second.value is not None and second.value > 0


async def test_metrics_page_error_status_is_error(poll, target):
    """A proxy's HTML 502 in place of the page is an error "HTTP 502 Bad Gateway", no markup."""
    target.set(fault="html_502")
    reading = await poll(f"scrape: {target.url}/metrics\nmetric: auth_error_ratio")
    assert reading.outcome is Outcome.ERROR
    assert reading.detail == "HTTP 502 Bad Gateway"


async def test_unparseable_page_is_error(poll, canned_server):
    """A page that is not the exposition format is an error."""
    canned_server.respond("auth_error_ratio not-a-number\n", content_type="text/plain")
    reading = await poll(f"scrape: {canned_server.url}/metrics\nmetric: auth_error_ratio")
    assert reading.outcome is Outcome.ERROR
    assert "cannot parse" in reading.detail


async def test_a_sample_stamped_before_prometheus_lookback_is_no_data(poll, canned_server):
    """A page line with its own timestamp two hours old (a dead job's last push): Prometheus would have no value for
    it now (its 5-minute lookback), so it is no data, never the old pass; a fresh stamp passes and carries its age."""
    import time

    old_ms = int((time.time() - 7200) * 1000)
    canned_server.respond(f"errors 0.001 {old_ms}\n", content_type="text/plain")
    reading = await poll(f'scrape: {canned_server.url}/metrics\nmetric: errors\npass_when: "< 1%"')
    assert reading.outcome is Outcome.NODATA
    assert reading.detail.startswith("errors is stamped 2h") and "5-minute lookback" in reading.detail
    fresh_ms = int((time.time() - 30) * 1000)
    canned_server.respond(
        f'errors{{a="1"}} 0.001 {fresh_ms}\nerrors{{a="2"}} 0.5 {old_ms}\n', content_type="text/plain"
    )
    reading = await poll(f'scrape: {canned_server.url}/metrics\nmetric: errors\npass_when: "< 1%"')
    assert reading.outcome is Outcome.PASS and reading.value == pytest.approx(0.001)  # the old series is gone
    assert reading.sample_age == pytest.approx(30, abs=5)  # so a check's max_age applies to it


async def test_a_metrics_page_older_than_the_last_poll_from_a_cache_vouches_for_nothing(poll, canned_server):
    """The page comes from a cache in front of the exporter, a minute old (``Age: 63``): degraded, aged 63 s; the
    request asked the cache to ask the exporter again (``Cache-Control: no-cache``)."""
    canned_server.respond("errors 0.002\n", content_type="text/plain", headers={"Age": "63"})
    reading = await poll(f'scrape: {canned_server.url}/metrics\nmetric: errors\npass_when: "< 1%"\nevery: 5s')
    assert (reading.outcome, reading.degraded, reading.sample_age) == (Outcome.PASS, True, 63.0), reading
    assert canned_server.requests[-1].headers.get("cache-control") == "no-cache"
