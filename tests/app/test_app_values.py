"""Values read the same wherever they reach the screen: the card, the banner, the header's countdown, the gates."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from app_backend import session_in_progress
from app_driver import select
from cutover_tui.app import make_app
from cutover_tui.widgets.conditions_list import ConditionsList

pytestmark = pytest.mark.slow  # every test drives the real app with Pilot: seconds each

SIZE = (140, 40)


async def test_a_health_card_reads_latency_never_check_fails() -> None:
    """An http health condition reads "latency 0.11s", in its card and its gate line; no "check fails", no 0.1086s."""
    backend = session_in_progress()
    backend.tick("api_health", "pass", 0.1086, detail="HTTP 200")
    backend.condition("health_down", "ok", 0.1086, "HTTP 200")
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        top = app.query_one(ConditionsList).card("health_down").plain_lines()[0]
        assert "health_down" in top and top.rstrip().endswith("latency 0.11s")
        assert "check fails" not in top and "0.1086" not in top
        await select(pilot, "verify_endpoints")
        gate = str(app.query_one("#detail-body", Static).render())
        assert "● api_health pass  latency 0.11s HTTP 200" in gate


async def test_one_value_reads_the_same_on_the_card_the_header_and_its_reason() -> None:
    """A pending 4.123% against > 1%: "4.1%" on the card, in its reason and in the header's countdown."""
    backend = session_in_progress()
    backend.tick("auth_error_ratio", "breach", 0.04123)
    backend.condition("auth_errors", "pending", 0.04123, "0.04123 > 0.01")
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        card = app.query_one(ConditionsList).card("auth_errors").plain_lines()
        assert card[0].rstrip().endswith("4.1% > 1%")
        assert card[2].strip().startswith("4.1% > 1% for 0s of 1m")
        assert "auth_errors 4.1% > 1% — fires in 1:00" in str(app.query_one("#header-next", Static).render())


async def test_the_banner_of_a_failing_health_check_names_what_fails() -> None:
    """A firing health condition's banner says why its check fails and that it is failing, not the answer's latency
    (which reads healthy) nor "threshold check fails"."""
    backend = session_in_progress()
    backend.tick("api_health", "breach", 0.0123, detail="HTTP 503")
    backend.condition("health_down", "firing", 0.0123, "HTTP 503", breach_held=60.0)
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        banner = app.banner.text.plain
        assert "health_down firing: HTTP 503 (api_health failing) for 1m" in banner
        assert "check fails" not in banner and "latency" not in banner
