"""The scripted target: behaviour over time, faults, traffic, and a clean stop."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from checks.clock import ManualClock
from checks.target import Behaviour, Phase, Scenario, Target


def metric_values(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    page = httpx.get(f"{url}/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
    }


def test_serves_the_demo_runbook_metrics(target):
    """/metrics has every series the demo runbook reads, with exactly its labels."""
    values = metric_values(target.url)
    for route in ("/auth", "/api"):
        for code in ("200", "500"):
            assert ("http_requests_total", (("code", code), ("route", route))) in values
    for gauge in (
        "auth_error_ratio",
        "api_error_ratio",
        "error_ratio",
        "login_success_ratio",
        "http_request_duration_p95_seconds",
    ):
        assert (gauge, ()) in values


def test_health_reflects_status(target):
    """/health answers 200 {"status": "ok"} when healthy and the scripted status with "down" otherwise."""
    healthy = httpx.get(f"{target.url}/health")
    assert healthy.status_code == 200
    assert healthy.json()["status"] == "ok" and healthy.json()["db"] == "ok"
    target.set(status=503, db="down")
    down = httpx.get(f"{target.url}/health")
    assert down.status_code == 503
    assert down.json() == {**down.json(), "status": "down", "db": "down", "ok": False}


def test_traffic_follows_the_error_ratio(target):
    """The generated traffic's 500 share matches the scripted ratio."""
    target.set(auth_error_ratio=0.5, requests_per_second=200)
    before = metric_values(target.url)
    time.sleep(0.6)
    after = metric_values(target.url)

    def increase(code: str) -> float:
        key = ("http_requests_total", (("code", code), ("route", "/auth")))
        return after[key] - before[key]

    assert increase("200") > 0
    assert increase("500") / (increase("500") + increase("200")) == pytest.approx(0.5, abs=0.15)


def test_scenario_phases_follow_the_clock():
    """Phases apply from their start for their duration; a later phase wins where they overlap."""
    clock = ManualClock()
    scenario = Scenario([Phase(10, 20, auth_error_ratio=0.04), Phase(15, 5, status=503, auth_error_ratio=0.5)])
    with Target(scenario=scenario, clock=clock) as target:
        assert target.behaviour == Behaviour()
        clock.advance(10)
        assert target.behaviour.auth_error_ratio == 0.04
        clock.advance(5)
        assert (target.behaviour.status, target.behaviour.auth_error_ratio) == (503, 0.5)
        assert httpx.get(f"{target.url}/health").status_code == 503
        clock.advance(5)
        assert (target.behaviour.status, target.behaviour.auth_error_ratio) == (200, 0.04)
        clock.advance(10)
        assert target.behaviour == Behaviour()


def test_play_starts_a_scenario_part_way():
    """play(scenario, elapsed=...) starts as if that much had passed."""
    clock = ManualClock()
    with Target(clock=clock) as target:
        target.play(Scenario([Phase(120, 120, latency_p95=0.7)]), elapsed=119)
        assert target.behaviour.latency_p95 == 0.18
        clock.advance(1)
        assert target.behaviour.latency_p95 == 0.7


def test_bad_settings_are_refused():
    """Unknown settings and out-of-range ratios fail where they are written."""
    with pytest.raises(ValueError, match="unknown behaviour setting"):
        Phase(0, 1, eror_ratio=0.1)
    with pytest.raises(ValueError, match="within 0..1"):
        Behaviour().changed({"auth_error_ratio": 4})
    with pytest.raises(ValueError, match="fault must be one of"):
        Behaviour().changed({"fault": "explode"})


def test_stop_ends_slow_requests_and_threads_promptly():
    """stop() returns quickly even with a delayed request and an open keep-alive connection."""
    target = Target().start()
    target.set(delay=30)
    client = httpx.Client()
    outcome: list[object] = []
    before = set(threading.enumerate())
    request = threading.Thread(target=lambda: outcome.append(_get(client, f"{target.url}/health")))
    request.start()
    time.sleep(0.2)
    threads = [  # the target's request threads (not another test's leftovers)
        thread
        for thread in threading.enumerate()
        if thread not in before and (thread.name.startswith("target-") or "process_request" in thread.name)
    ]
    assert threads, "the request never reached the target"
    started = time.monotonic()
    target.stop()
    request.join(timeout=5)
    client.close()
    for thread in threads:
        thread.join(timeout=max(0.0, 3 - (time.monotonic() - started)))
    assert time.monotonic() - started < 3
    assert not request.is_alive()
    assert not any(thread.is_alive() for thread in threads)


def _get(client: httpx.Client, url: str) -> object:
    try:
        return client.get(url, timeout=10)
    except httpx.HTTPError as exc:
        return exc
