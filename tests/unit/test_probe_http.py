"""The http probe against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gc
import socket
import ssl
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from canned_server import CannedServer
from checks.probes import ProbeContext, run_probe
from checks.reading import Outcome


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server-side TLS context with a certificate for 127.0.0.1 that no authority signed (made by openssl)."""
    folder: Path = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def tls_server(self_signed: ssl.SSLContext) -> Iterator[CannedServer]:
    """A ``CannedServer`` speaking HTTPS with the self-signed certificate, stopped after the test."""
    server = CannedServer(tls=self_signed).start()
    yield server
    server.stop()


async def test_healthy_endpoint_passes_with_latency_as_value(poll, target):
    """A 200 passes; without json_path the value is the latency in seconds."""
    reading = await poll(f"http: {target.url}/health")
    assert reading.outcome is Outcome.PASS
    assert reading.unit == "s"
    assert reading.value is not None and 0 < reading.value < 5
    assert reading.extra["status"] == 200
    assert reading.check_id == "probe"


async def test_status_outside_expect_status_is_breach(poll, target):
    """A 503 where 200 is expected is a breach saying "HTTP 503"."""
    target.set(status=503)
    reading = await poll(f"http: {target.url}/health\nexpect_status: 200")
    assert reading.outcome is Outcome.BREACH
    assert reading.detail == "HTTP 503"


async def test_non_2xx_breaches_when_expect_status_is_absent(poll, target):
    """Without expect_status any 2xx passes and anything else breaches."""
    target.set(status=500)
    reading = await poll(f"http: {target.url}/health")
    assert reading.outcome is Outcome.BREACH
    assert reading.detail == "HTTP 500"


async def test_expected_non_200_status_passes(poll, target):
    """A status listed in expect_status passes, even a 503."""
    target.set(status=503)
    reading = await poll(f"http: {target.url}/health\nexpect_status: [200, 503]")
    assert reading.outcome is Outcome.PASS


async def test_slower_than_max_latency_is_breach(poll, target):
    """A response slower than max_latency is a breach naming the latency."""
    target.set(delay=0.3)
    reading = await poll(f"http: {target.url}/health\nmax_latency: 100ms")
    assert reading.outcome is Outcome.BREACH
    assert "> 100ms" in reading.detail


async def test_json_field_value_compared_as_float(poll, target):
    """0.004 compared with < 1% passes and stays 0.004 (never rounded)."""
    target.set(auth_error_ratio=0.004)
    reading = await poll(f'http: {target.url}/health\njson_path: auth_error_ratio\npass_when: "< 1%"')
    assert reading.outcome is Outcome.PASS
    assert reading.value == pytest.approx(0.004)
    assert reading.value != 0.0


async def test_json_field_over_threshold_is_breach(poll, target):
    """A JSON value failing pass_when is a breach naming the value and threshold."""
    target.set(auth_error_ratio=0.04)
    reading = await poll(f'http: {target.url}/health\njson_path: auth_error_ratio\npass_when: "< 1%"')
    assert reading.outcome is Outcome.BREACH
    assert reading.value == pytest.approx(0.04)
    assert "< 1%" in reading.detail


async def test_boolean_json_field_counts_as_one_or_zero(poll, target):
    """true is 1 and false is 0."""
    reading = await poll(f'http: {target.url}/health\njson_path: ok\npass_when: "== 1"')
    assert (reading.outcome, reading.value) == (Outcome.PASS, 1.0)
    target.set(status=503)
    reading = await poll(f'http: {target.url}/health\nexpect_status: 503\njson_path: ok\npass_when: "== 1"')
    assert (reading.outcome, reading.value) == (Outcome.BREACH, 0.0)


@pytest.mark.parametrize("pass_when", ["< 1%", "!= 0"])
async def test_missing_json_field_is_nodata_never_zero(poll, target, pass_when):
    """A missing field is nodata under < and under != (never read as 0)."""
    reading = await poll(f'http: {target.url}/health\njson_path: checks.cache\npass_when: "{pass_when}"')
    assert reading.outcome is Outcome.NODATA
    assert reading.value is None
    assert "checks.cache is missing" in reading.detail


async def test_on_nodata_breach_turns_missing_field_into_breach(poll, target):
    """on_nodata: breach makes a missing field a breach, and the detail says why."""
    reading = await poll(f"http: {target.url}/health\njson_path: nope\non_nodata: breach")
    assert reading.outcome is Outcome.BREACH
    assert "on_nodata: breach" in reading.detail
    assert reading.extra["raw_outcome"] == "nodata"


async def test_string_json_field_is_invalid(poll, target):
    """A non-number field ("ok") is invalid, not 0 and not a pass."""
    reading = await poll(f'http: {target.url}/health\njson_path: status\npass_when: "< 1"')
    assert reading.outcome is Outcome.INVALID
    assert reading.value is None


async def test_on_invalid_pass_is_applied(poll, target):
    """on_invalid: pass makes an invalid value pass, saying so."""
    reading = await poll(f"http: {target.url}/health\njson_path: status\non_invalid: pass")
    assert reading.outcome is Outcome.PASS
    assert "on_invalid: pass" in reading.detail


@pytest.mark.parametrize(
    ("body", "outcome", "detail"),
    [
        ('{"a": {"items": [{"v": 0.5}]}}', Outcome.PASS, ""),
        ('{"a": {"items": []}}', Outcome.NODATA, "missing"),
        ('{"a": {"items": [{"v": null}]}}', Outcome.NODATA, "null"),
        ('{"a": {"items": [{"v": "NaN"}]}}', Outcome.INVALID, "NaN"),
        ('{"a": {"items": [{"v": "0.25"}]}}', Outcome.PASS, ""),
    ],
)
async def test_json_path_with_index(poll, canned_server, body, outcome, detail):
    """Dotted paths with [n] indexes; null and missing are nodata, "NaN" is invalid."""
    canned_server.respond(body)
    reading = await poll(f'http: {canned_server.url}/health\njson_path: "a.items[0].v"')
    assert reading.outcome is outcome
    assert detail in reading.detail


@pytest.mark.parametrize("body", ['{"a": {"v": 5, "v": 0.5}}', '{"a": {"v": 0.5, "v": 5}}'])
async def test_a_json_field_given_twice_is_invalid_whichever_comes_last(poll, canned_server, body):
    """The field on the path given twice in one object (parsers disagree on which wins): invalid, never the last one's pass."""
    canned_server.respond(body)
    reading = await poll(f'http: {canned_server.url}/health\njson_path: a.v\npass_when: "< 1"')
    assert reading.outcome is Outcome.INVALID
    assert reading.detail == "a.v is given twice in the response"


@pytest.mark.parametrize("body", ['{"a": {"v": 0.5}, "b": 1, "b": 2}', '{"a": {"v": 0.5, "w": 1, "w": 2}}'])
async def test_a_key_given_twice_off_the_path_does_not_matter(poll, canned_server, body):
    """Only the path is read: a duplicate elsewhere in the body leaves the value alone."""
    canned_server.respond(body)
    reading = await poll(f'http: {canned_server.url}/health\njson_path: a.v\npass_when: "< 1"')
    assert (reading.outcome, reading.value) == (Outcome.PASS, 0.5)


async def test_truncated_json_body_is_error(poll, target):
    """A cut-off JSON body is an error, not a pass and not nodata."""
    target.set(fault="truncated")
    reading = await poll(f"http: {target.url}/health\njson_path: ok")
    assert reading.outcome is Outcome.ERROR
    assert "not valid JSON" in reading.detail


async def test_proxy_html_502_is_breach_without_html(poll, target):
    """A proxy's HTML 502 page is a breach "HTTP 502"; no markup in the detail."""
    target.set(fault="html_502")
    reading = await poll(f"http: {target.url}/health\njson_path: ok")
    assert reading.outcome is Outcome.BREACH
    assert reading.detail == "HTTP 502"


async def test_dropped_connection_is_error(poll, target):
    """A server closing the connection without answering is an error."""
    target.set(fault="drop")
    reading = await poll(f"http: {target.url}/health")
    assert reading.outcome is Outcome.ERROR
    assert reading.detail


async def test_connection_refused_is_error(poll):
    """Nothing listening is an error saying it could not connect."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reading = await poll(f"http: http://127.0.0.1:{port}/health")
    assert reading.outcome is Outcome.ERROR
    assert reading.detail.startswith("cannot connect")


async def test_slower_than_timeout_is_error(poll, target):
    """A poll slower than its timeout ends at the timeout as an error."""
    target.set(delay=3)
    reading = await poll(f"http: {target.url}/health\nevery: 1s\ntimeout: 300ms")
    assert reading.outcome is Outcome.ERROR
    assert reading.detail == "timed out after 300ms"
    assert reading.latency < 2


async def test_header_variable_expanded_at_request_time(poll, canned_server):
    """${API_TOKEN} in a header is read from the environment when the request is made."""
    token = f"fake-{id(canned_server)}"
    reading = await poll(
        f'http: {canned_server.url}/health\nheaders: {{Authorization: "Bearer ${{API_TOKEN}}"}}',
        env={"API_TOKEN": token},
    )
    assert reading.outcome is Outcome.PASS
    assert canned_server.requests[-1].headers["authorization"] == f"Bearer {token}"


async def test_missing_header_variable_is_error_and_sends_nothing(poll, canned_server):
    """An unset ${VAR} is an error naming the variable; no request goes out with an empty header."""
    reading = await poll(f'http: {canned_server.url}/health\nheaders: {{X-Api-Key: "${{API_KEY}}"}}', env={})
    assert reading.outcome is Outcome.ERROR
    assert reading.detail == "environment variable API_KEY is not set"
    assert canned_server.requests == []


async def test_redirect_is_not_followed(poll, canned_server):
    """A redirect is the status it is (outside 2xx: a breach); its Location is never requested."""
    canned_server.respond("", status=302, headers={"Location": f"{canned_server.url}/elsewhere"})
    reading = await poll(f"http: {canned_server.url}/health")
    assert reading.outcome is Outcome.BREACH
    assert reading.detail == "HTTP 302"
    assert [request.path for request in canned_server.requests] == ["/health"]


async def test_self_signed_certificate_is_error_unless_verification_is_off(poll, tls_server):
    """TLS is verified by default (a self-signed certificate cannot connect); ``verify_tls: false`` reads it."""
    refused = await poll(f"http: {tls_server.url}/health")
    assert refused.outcome is Outcome.ERROR
    assert refused.detail.startswith("cannot connect")
    assert "certificate verify failed" in refused.detail

    reading = await poll(f"http: {tls_server.url}/health\nverify_tls: false")
    assert reading.outcome is Outcome.PASS
    assert tls_server.requests[-1].path == "/health"


async def test_polls_reuse_one_connection(make_context, canned_server):
    """Polls of one context, one after another, go over the same kept-alive connection."""
    ctx = make_context(f"http: {canned_server.url}/health")
    for _ in range(3):
        assert (await run_probe(ctx.runbook.checks["probe"], ctx)).outcome is Outcome.PASS
    assert len({request.client_port for request in canned_server.requests}) == 1
    assert len(canned_server.requests) == 3


async def test_closed_context_leaves_nothing_unclosed(make_context, canned_server):
    """After ``aclose`` nothing warns of an unclosed session or connection when it is collected."""
    runbook = make_context(f"http: {canned_server.url}/health").runbook
    problems: list[str] = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: problems.append(context["message"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ctx = ProbeContext(runbook, env={})
        assert (await run_probe(runbook.checks["probe"], ctx)).outcome is Outcome.PASS
        await ctx.aclose()
        del ctx
        gc.collect()
    problems += [str(warning.message) for warning in caught if issubclass(warning.category, ResourceWarning)]
    assert problems == []


async def test_requests_go_through_the_environments_proxy_unless_no_proxy_names_the_host(
    make_context, canned_server, monkeypatch
):
    """HTTP_PROXY carries a poll to a host it could not reach itself; NO_PROXY naming the host sends it direct."""
    with socket.socket() as probe_socket:  # a port nothing listens on: only the proxy can answer for it
        probe_socket.bind(("127.0.0.1", 0))
        closed = probe_socket.getsockname()[1]
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.setenv("HTTP_PROXY", canned_server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    check = f"http: http://127.0.0.1:{closed}/health"
    proxied = make_context(check)
    reading = await run_probe(proxied.runbook.checks["probe"], proxied)
    assert reading.outcome is Outcome.PASS, reading.detail
    assert [request.path for request in canned_server.requests] == ["/health"]

    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    direct = make_context(check)
    reading = await run_probe(direct.runbook.checks["probe"], direct)
    assert reading.outcome is Outcome.ERROR
    assert reading.detail.startswith("cannot connect")
    assert len(canned_server.requests) == 1


async def test_every_request_asks_caches_to_ask_the_service_again(poll, canned_server):
    """A reverse proxy or CDN in front of /health would answer from its copy: every poll says ``Cache-Control:
    no-cache``, unless the runbook sets that header itself."""
    canned_server.respond('{"ok": true}')
    await poll(f"http: {canned_server.url}/health")
    await poll(f'http: {canned_server.url}/health\nheaders: {{Cache-Control: "max-age=5"}}')
    assert [r.headers.get("cache-control") for r in canned_server.requests] == ["no-cache", "max-age=5"]


@pytest.mark.parametrize(
    ("age", "degraded"), [(None, False), ("0", False), ("-5", False), ("4", False), ("63", True), ("x", False)]
)
async def test_an_answer_older_than_the_last_poll_from_a_cache_vouches_for_nothing(poll, canned_server, age, degraded):
    """A cache that ignores ``no-cache`` (or serves its copy while the service is down: ``stale-if-error``) answers
    200 with an ``Age`` of a minute: that is the service as it was before the last poll, not now. Older than the
    check's interval (5 s), the reading is degraded (a pass vouches for nothing) and its age is the answer's."""
    canned_server.respond('{"ok": true}', headers={} if age is None else {"Age": age})
    reading = await poll(f"http: {canned_server.url}/health\nevery: 5s")
    assert (reading.outcome, reading.degraded) == (Outcome.PASS, degraded), reading
    assert reading.sample_age == {"0": 0.0, "-5": 0.0, "4": 4.0, "63": 63.0}.get(age)  # no Age, or none readable: none
    if degraded:
        assert reading.sample_age == 63.0
        assert reading.extra["warnings"] == ["answered by a cache: 63s old (its Age header), older than the last poll"]
