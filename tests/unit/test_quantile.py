"""Finding histogram_quantile calls in PromQL and the top bucket of each output series."""

from __future__ import annotations

import math
import time

import httpx
import pytest

from checks.probes.quantile import Call, Group, find_calls, group_key, groups
from checks.target import LATENCY_BUCKETS, Target

BUCKETS = "sum by (le) (rate(http_request_duration_seconds_bucket[5m]))"


@pytest.mark.parametrize(
    ("query", "calls"),
    [
        (f"histogram_quantile(0.95, {BUCKETS})", [Call(0.95, BUCKETS, True)]),
        (f"( histogram_quantile(.5,{BUCKETS}) )", [Call(0.5, BUCKETS, True)]),
        (f"histogram_quantile(\n  0.99, # p99\n  {BUCKETS}\n)", [Call(0.99, BUCKETS, True)]),
        (f"max(histogram_quantile(0.9, {BUCKETS}))", [Call(0.9, BUCKETS, False)]),
        (f"histogram_quantile(0.9, {BUCKETS}) * 1000", [Call(0.9, BUCKETS, False)]),
        (f"(histogram_quantile(0.9, {BUCKETS})) > 0.5", [Call(0.9, BUCKETS, False)]),
        ("histogram_quantile(scalar(q), b)", [Call(None, "b", True)]),
        ("histogram_quantile(0.5, a) / histogram_quantile(0.9, b)", [Call(0.5, "a", False), Call(0.9, "b", False)]),
        (
            'histogram_quantile(0.99, sum by (le) (rate(x_bucket{a="1,2)",b=~"x,(y"}[5m])))',
            [Call(0.99, 'sum by (le) (rate(x_bucket{a="1,2)",b=~"x,(y"}[5m]))', True)],
        ),
    ],
)
def test_calls_are_found_with_their_arguments(query, calls):
    """Each call's φ, bucket expression and whether it is the whole query are read as Prometheus parses them."""
    assert list(find_calls(query)) == calls


@pytest.mark.parametrize(
    "query",
    [
        'up{job="histogram_quantile(0.5, x)"}',
        "# histogram_quantile(0.5, x)\nup",
        "my_histogram_quantile(0.5, x)",
        "histogram_quantile",
        "histogram_quantile(0.5)",
        'histogram_quantile(0.5, x{a="unterminated)',
    ],
)
def test_no_call_outside_code_or_without_two_arguments(query):
    """Strings, comments, longer names and malformed calls hold no call."""
    assert find_calls(query) == ()


def test_groups_take_the_top_finite_bound_and_counts():
    """Series are grouped without le and the metric name; equal bounds merge; counts never fall."""
    rows = [
        ({"__name__": "x_bucket", "le": "0.5", "route": "/a"}, "10"),
        ({"__name__": "x_bucket", "le": "1", "route": "/a"}, "12"),
        ({"__name__": "x_bucket", "le": "1.0", "route": "/a"}, "3"),  # the same bound written otherwise
        ({"__name__": "x_bucket", "le": "+Inf", "route": "/a"}, "20"),
        ({"le": "0.25", "route": "/b"}, "9"),
        ({"le": "2.5", "route": "/b"}, "4"),  # not monotonic: Prometheus raises it to 9
        ({"le": "+Inf", "route": "/b"}, "9"),
        ({"route": "/c"}, "7"),  # no le: not a bucket
        ({"le": "+Inf", "route": "/d"}, "5"),  # no finite bucket: no top bound
    ]
    found = groups(rows)
    assert found == {
        (("route", "/a"),): Group(top=1.0, top_count=15.0, total=20.0),
        (("route", "/b"),): Group(top=2.5, top_count=9.0, total=9.0),
    }
    assert group_key({"__name__": "x", "le": "1", "route": "/a"}) == (("route", "/a"),)


@pytest.mark.parametrize(
    ("group", "phi", "above"),
    [
        (Group(1.0, 15.0, 20.0), 0.95, True),  # rank 19 > 15
        (Group(1.0, 19.0, 20.0), 0.95, False),  # rank 19 lands exactly on the bound's count: exact
        (Group(1.0, 20.0, 20.0), 1.0, False),  # nothing in +Inf
        (Group(1.0, 15.0, 20.0), None, None),  # φ unknown
        (Group(1.0, 0.0, 0.0), 0.95, False),  # no observations: NaN, not a bound
        (Group(1.0, 5.0, None), 0.95, False),  # no +Inf bucket: NaN
    ],
)
def test_quantile_above_the_top_bucket_as_prometheus_decides(group, phi, above):
    """The quantile is above the top bucket when its rank exceeds the count at that bound."""
    assert group.above_top(phi) is above


def test_target_serves_a_latency_histogram_that_overflows_its_top_bucket():
    """The scripted target's histogram puts every request above 1 s in +Inf once latency_p95 is 3 s."""
    with Target() as target:
        target.set(latency_p95=3.0, requests_per_second=200)
        text = ""
        for _ in range(50):  # the traffic ticks every 0.1 s
            text = httpx.get(f"{target.url}/metrics", timeout=5).text
            if _bucket(text, "/auth", "+Inf") > 0:
                break
            time.sleep(0.1)
        assert _bucket(text, "/auth", "+Inf") > 0
        assert _bucket(text, "/auth", "1.0") == 0
        assert max(LATENCY_BUCKETS) == 1.0


def _bucket(text: str, route: str, le: str) -> float:
    needle = f'http_request_duration_seconds_bucket{{le="{le}",route="{route}"}} '
    for line in text.splitlines():
        if line.startswith(needle):
            return float(line[len(needle) :])
    return math.nan
