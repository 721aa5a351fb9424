"""The range selectors of a query, and the question whether any of them is still collected (``checks.probes.inputs``)."""

from __future__ import annotations

import pytest

from checks.probes.inputs import range_selectors, stale_query

RATIO = (
    'sum(rate(http_requests_total{route="/auth",code="500"}[5m])) / sum(rate(http_requests_total{route="/auth"}[5m]))'
)


@pytest.mark.parametrize(
    ("query", "selectors"),
    [
        (RATIO, [('http_requests_total{route="/auth",code="500"}', "5m"),
                 ('http_requests_total{route="/auth"}', "5m")]),
        ("rate(errors_total[1m30s])", [("errors_total", "1m30s")]),
        ('increase({__name__="errors_total", job="api"}[10m])', [('{__name__="errors_total", job="api"}', "10m")]),
        ("sum(rate(a[5m])) / sum(rate(a[5m]))", [("a", "5m")]),  # each once
        ("rate(a[5m] offset 1h)", []),  # the past on purpose
        ("rate(a[5m] @ 1700000000)", []),
        ("max_over_time(rate(a[1m])[10m:1m])", [("a", "1m")]),  # the subquery is not a selector
        ('rate(a{path="/x[5m]"}[2m])', [('a{path="/x[5m]"}', "2m")]),  # brackets inside a string
        ("auth_error_ratio", []),  # an instant selector finds nothing once stale: nothing to ask
        ("histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m])))", [("h_bucket", "5m")]),
        ('rate(a{b="unterminated}[5m])', []),  # not scannable: Prometheus refuses it anyway
    ],
)  # fmt: skip
def test_range_selectors(query, selectors):
    """Each range selector with its range, from the name or the ``{`` it begins with, in order and once."""
    assert list(range_selectors(query)) == selectors


def test_the_stale_question_asks_for_a_series_within_each_range_and_none_now():
    """A sample only when some selector had series within its range and no selector has one now."""
    assert stale_query(range_selectors(RATIO)) == (
        '(count(last_over_time(http_requests_total{route="/auth",code="500"}[5m]))'
        ' or count(last_over_time(http_requests_total{route="/auth"}[5m])))'
        ' unless (count(http_requests_total{route="/auth",code="500"}) or count(http_requests_total{route="/auth"}))'
    )
