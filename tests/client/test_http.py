"""The HTTP layer against real loopback servers: retries with backoff (what is retried and what is
not), `Retry-After`, timeouts, connection errors, and the error classes of each status."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

import quire as rg
from quire.client.http import HTTPClient, backoff_seconds, retry_after_seconds
from tests.client.flaky import FlakyServer, Step, closed_port, flaky_server


@pytest.fixture
def flaky() -> Iterator[FlakyServer]:
    with flaky_server() as server:
        yield server


_open: list[HTTPClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _open:
        _open.pop().close()


def client_for(url: str, *, retries: int = 3, timeout: float = 5.0) -> tuple[HTTPClient, list[float]]:
    """An HTTP client that records its backoff delays instead of sleeping them."""
    delays: list[float] = []
    http = HTTPClient(url, "key", retries=retries, timeout=timeout, sleep=delays.append)
    _open.append(http)
    return http, delays


def test_a_get_is_retried_on_5xx_until_it_succeeds(flaky: FlakyServer) -> None:
    flaky.script = [Step(500), Step(502), Step(200, {"items": []})]
    http, delays = client_for(flaky.url)
    assert http.get("/api/v1/users") == {"items": []}
    assert [s.method for s in flaky.seen] == ["GET"] * 3
    assert len(delays) == 2 and delays[0] < delays[1] * 2  # growing backoff


def test_retries_run_out_and_the_error_keeps_status_and_message(flaky: FlakyServer) -> None:
    flaky.script = [Step(500, {"detail": "boom"}) for _ in range(3)]
    http, delays = client_for(flaky.url, retries=2)
    with pytest.raises(rg.ServerError) as caught:
        http.get("/api/v1/things")
    assert caught.value.status_code == 500
    assert caught.value.message.startswith("boom")
    assert caught.value.body == {"detail": "boom"}
    assert len(flaky.seen) == 3 and len(delays) == 2


def test_a_post_is_not_retried_on_500(flaky: FlakyServer) -> None:
    flaky.script = [Step(500, {"detail": "half done"})]
    http, delays = client_for(flaky.url)
    with pytest.raises(rg.ServerError):
        http.post("/api/v1/datasets", json={"name": "x"})
    assert len(flaky.seen) == 1 and delays == []


def test_a_post_marked_idempotent_is_retried(flaky: FlakyServer) -> None:
    flaky.script = [Step(500), Step(200, {"total": 0, "items": []})]
    http, _ = client_for(flaky.url)
    assert http.post("/search", json={}, idempotent=True) == {"total": 0, "items": []}
    assert len(flaky.seen) == 2


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_are_retried_for_every_method_honouring_retry_after(
    flaky: FlakyServer, status: int
) -> None:
    flaky.script = [Step(status, headers={"Retry-After": "7"}), Step(201, {"id": "x"})]
    http, delays = client_for(flaky.url)
    assert http.post("/api/v1/datasets", json={}) == {"id": "x"}
    assert delays == [7.0]


def test_retry_after_is_really_waited(flaky: FlakyServer) -> None:
    flaky.script = [Step(429, headers={"Retry-After": "1"}), Step(200)]
    http = HTTPClient(flaky.url, "key", retries=1)
    _open.append(http)
    started = time.monotonic()
    http.get("/x")
    assert time.monotonic() - started >= 1.0
    assert flaky.seen[1].at - flaky.seen[0].at >= 1.0


def test_a_rate_limit_that_persists_raises_rate_limit_error(flaky: FlakyServer) -> None:
    flaky.script = [Step(429, {"detail": "slow down"}, {"Retry-After": "0"}) for _ in range(2)]
    http, _ = client_for(flaky.url, retries=1)
    with pytest.raises(rg.RateLimitError) as caught:
        http.get("/x")
    assert caught.value.status_code == 429 and "slow down" in caught.value.message


def test_retry_after_parsing() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    request = httpx.Request("GET", "http://x")

    def after(value: str) -> float | None:
        return retry_after_seconds(
            httpx.Response(429, headers={"Retry-After": value}, request=request), now=now
        )

    assert after("3") == 3.0
    assert after("0.5") == 0.5
    assert after(format_datetime(now + timedelta(seconds=30), usegmt=True)) == 30.0
    assert after(format_datetime(now - timedelta(seconds=30), usegmt=True)) == 0.0
    assert after("soon") is None
    assert retry_after_seconds(httpx.Response(429, request=request)) is None


def test_a_long_retry_after_falls_back_to_backoff(flaky: FlakyServer) -> None:
    flaky.script = [Step(503, headers={"Retry-After": "3600"}), Step(200)]
    http, delays = client_for(flaky.url)
    http.get("/x")
    assert len(delays) == 1 and delays[0] <= 1.0


def test_backoff_grows_is_capped_and_jittered() -> None:
    samples = [backoff_seconds(n) for n in range(8) for _ in range(50)]
    assert all(0 < s <= 8.0 for s in samples)
    first = [backoff_seconds(0) for _ in range(200)]
    assert min(first) >= 0.25 and max(first) <= 0.5 and len(set(first)) > 100
    assert min(backoff_seconds(6) for _ in range(50)) >= 4.0


def test_connection_refused_is_retried_then_raises_api_connection_error() -> None:
    http, delays = client_for(f"http://127.0.0.1:{closed_port()}", retries=2)
    with pytest.raises(rg.APIConnectionError) as caught:
        http.post("/api/v1/datasets", json={})  # never reached the server: retried even for POST
    assert not isinstance(caught.value, rg.APITimeoutError)
    assert "is the quire server running?" in str(caught.value)
    assert len(delays) == 2


def test_a_dropped_connection_is_retried_for_a_get_but_not_for_a_post(flaky: FlakyServer) -> None:
    flaky.script = [Step(drop=True), Step(200, {"fine": 1})]
    http, _ = client_for(flaky.url)
    assert http.get("/x") == {"fine": 1}

    flaky.script = [Step(drop=True), Step(200)]
    flaky.seen.clear()
    with pytest.raises(rg.APIConnectionError):
        http.post("/x", json={})
    assert len(flaky.seen) == 1


def test_a_slow_answer_raises_api_timeout_error(flaky: FlakyServer) -> None:
    flaky.script = [Step(200, delay=1.0), Step(200, delay=1.0)]
    http, delays = client_for(flaky.url, retries=1, timeout=0.2)
    with pytest.raises(rg.APITimeoutError):
        http.get("/slow")
    assert len(delays) == 1  # a read timeout on a GET is retried once here


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, rg.BadRequestError),
        (401, rg.AuthenticationError),
        (403, rg.PermissionDeniedError),
        (404, rg.NotFoundError),
        (405, rg.APIError),
        (409, rg.ConflictError),
        (422, rg.ValidationError),
        (429, rg.RateLimitError),
        (500, rg.ServerError),
        (504, rg.ServerError),
    ],
)
def test_each_status_has_its_error_class(flaky: FlakyServer, status: int, error: type[rg.APIError]) -> None:
    body = {"detail": {"code": "argilla.api.errors::X", "params": {"detail": f"said {status}"}}}
    flaky.script = [Step(status, body)]
    http, _ = client_for(flaky.url, retries=0)
    with pytest.raises(error) as caught:
        http.request("PATCH", "/api/v1/thing")
    assert type(caught.value) is error
    assert isinstance(caught.value, rg.APIError) and isinstance(caught.value, rg.QuireError)
    assert caught.value.status_code == status
    assert caught.value.message == f"said {status} (PATCH /api/v1/thing)"
    assert caught.value.body == body
    assert str(caught.value) == f"{status}: said {status} (PATCH /api/v1/thing)"


def test_the_client_takes_url_and_key_from_the_environment(
    flaky: FlakyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUIRE_API_URL", flaky.url)
    monkeypatch.setenv("QUIRE_API_KEY", "from-env")
    client = rg.Quire()
    _open.append(client.http)
    assert client.api_url == flaky.url
    assert client.http._client.headers["X-Argilla-Api-Key"] == "from-env"
    assert rg.default_client() is client
    other = rg.Quire(api_url=flaky.url, api_key="explicit", retries=0, timeout=1)
    _open.append(other.http)
    assert rg.default_client() is other  # the last client created is the default
    assert other.http.retries == 0 and other.http.timeout.read == 1
