"""The network guard: unit rules, then real deliveries that are refused (or allowed) at connect time."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from hypothesis import given
from hypothesis import strategies as st

from quire.server.db import Database
from quire.server.delivery.guard import AddressRefused, NetworkGuard
from quire.server.delivery.sender import Sender, Target
from tests.server.delivery.conftest import StartDispatcher, add_webhook, attempts, queue_messages, settled
from tests.server.delivery.receiver import Receiver

DEFAULT = NetworkGuard()

REFUSED = {
    "10.0.0.5": "10.0.0.5 is in a private network (10.0.0.0/8)",
    "172.16.3.4": "private network (172.16.0.0/12)",
    "192.168.1.1": "private network (192.168.0.0/16)",
    "100.64.0.1": "carrier-grade NAT range (100.64.0.0/10)",
    "169.254.169.254": "169.254.169.254 is a cloud metadata address",
    "169.254.10.10": "link-local range (169.254.0.0/16)",
    "fd00:ec2::254": "fd00:ec2::254 is a cloud metadata address",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "224.0.0.251": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "192.0.2.10": "documentation",
    "198.18.0.1": "benchmarking",
    "fe80::1": "link-local",
    "fd12:3456::1": "unique local (private) network (fc00::/7)",
    "2001:db8::1": "documentation",
    "::ffff:10.0.0.1": "::ffff:10.0.0.1 embeds 10.0.0.1, which is in a private network (10.0.0.0/8)",
    "::ffff:169.254.169.254": "embeds 169.254.169.254, which is a cloud metadata address",
    "64:ff9b::a00:1": "64:ff9b::a00:1 embeds 10.0.0.1, which is in a private network",
    "64:ff9b::a9fe:a9fe": "embeds 169.254.169.254, which is a cloud metadata address",
    "2002:a00:1::1": "2002:a00:1::1 embeds 10.0.0.1, which is in a private network",
    "2002:c0a8:101::": "embeds 192.168.1.1",
    "::a00:1": "embeds 10.0.0.1",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe": "embeds 10.0.0.1",  # Teredo
}
ALLOWED = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "::ffff:127.0.0.1",
    "8.8.8.8",
    "2606:4700::1111",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize("address", list(REFUSED))
def test_refused_by_default(address: str) -> None:
    reason = DEFAULT.check(address)
    assert reason is not None and reason.startswith("refused: ") and REFUSED[address] in reason


@pytest.mark.parametrize("address", ALLOWED)
def test_allowed_by_default(address: str) -> None:
    assert DEFAULT.check(address) is None


def test_operator_lists_deny_wins_and_metadata_stays_refused() -> None:
    guard = NetworkGuard.from_lists(
        allow="10.1.0.0/16, 169.254.0.0/16, fd00::/8", deny="127.0.0.0/8,::1/128, 10.1.2.0/24"
    )
    assert guard.check("10.1.5.5") is None  # allowed although private
    assert guard.check("::ffff:10.1.5.5") is None  # and in its mapped form
    assert guard.check("10.2.0.1") is not None  # the rest of 10/8 is still refused
    assert "listed in QUIRE_WEBHOOK_DENY" in (guard.check("10.1.2.3") or "")  # deny wins over allow
    assert "QUIRE_WEBHOOK_DENY" in (guard.check("127.0.0.1") or "")  # loopback can be refused
    assert "QUIRE_WEBHOOK_DENY" in (guard.check("::1") or "")
    assert "QUIRE_WEBHOOK_DENY" in (guard.check("::ffff:127.0.0.1") or "")
    assert guard.check("169.254.1.1") is None
    assert "cloud metadata" in (guard.check("169.254.169.254") or "")  # no allow list opens it
    assert "cloud metadata" in (guard.check("fd00:ec2::254") or "")


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_ipv4_address_gets_the_same_verdict_in_its_ipv6_forms(value: int) -> None:
    v4 = ipaddress.IPv4Address(value)
    refused = DEFAULT.check(str(v4)) is not None
    mapped = ipaddress.IPv6Address(f"::ffff:{v4}")
    nat64 = ipaddress.IPv6Address((0x0064FF9B << 96) | value)
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (value << 80) | 1)
    assert (DEFAULT.check(str(mapped)) is not None) == refused
    assert (DEFAULT.check(str(nat64)) is not None) == refused
    if refused:  # a 6to4 address is refused when its IPv4 address is
        assert DEFAULT.check(str(sixtofour)) is not None


class FixedResolver(AbstractResolver):
    """A DNS that answers what the test says (a rebinding attacker's DNS)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.answers[host]
        ]

    async def close(self) -> None:
        return None


async def test_names_are_checked_on_what_they_resolve_to(receiver: Receiver) -> None:
    resolver = FixedResolver(
        {
            "evil.test": ["10.0.0.7"],
            "meta.test": ["169.254.169.254"],
            "mixed.test": ["10.0.0.7", "127.0.0.1"],  # only the allowed address is used
            "fine.test": ["127.0.0.1"],
        }
    )
    async with Sender(NetworkGuard(), resolver=resolver) as sender:

        async def send(host: str) -> tuple[str, str | None, int | None]:
            target = Target(
                url=f"http://{host}:{receiver.port}/ok", secrets=("whsec_" + "A" * 44,), timeout=2.0
            )
            result = await sender.send(target, b"{}", "msg_1")
            return result.kind, result.error, result.status_code

        assert await send("evil.test") == (
            "refused",
            "refused: evil.test resolves to 10.0.0.7, which is in a private network (10.0.0.0/8)",
            None,
        )
        kind, error, _ = await send("meta.test")
        assert kind == "refused" and error is not None and "cloud metadata" in error
        assert (await send("mixed.test"))[::2] == ("ok", 200)
        assert (await send("fine.test"))[::2] == ("ok", 200)


def test_the_socket_factory_is_the_last_check() -> None:
    with pytest.raises(AddressRefused, match="private network"):
        NetworkGuard().socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", 80)))
    sock = NetworkGuard().socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)))
    sock.close()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.5/hook", "refused: 10.0.0.5 is in a private network (10.0.0.0/8)"),
        ("http://169.254.169.254/latest/meta-data", "refused: 169.254.169.254 is a cloud metadata address"),
        ("http://[::ffff:10.0.0.1]/hook", "embeds 10.0.0.1, which is in a private network (10.0.0.0/8)"),
        ("http://[64:ff9b::a00:1]/hook", "embeds 10.0.0.1, which is in a private network (10.0.0.0/8)"),
        ("http://[fd00:ec2::254]/", "is a cloud metadata address"),
        ("http://100.64.1.2:8080/", "carrier-grade NAT"),
    ],
)
async def test_refused_deliveries_fail_without_retry_with_the_reason(
    url: str, reason: str, database: Database, start_dispatcher: StartDispatcher
) -> None:
    webhook = await add_webhook(database, url, policy="argilla")
    await start_dispatcher(database)
    await queue_messages(database, webhook, [{"n": 1}])
    (delivery,) = await settled(database, webhook)
    assert delivery.status == "failed" and delivery.attempts == 1
    (attempt,) = await attempts(database, delivery.id)
    assert attempt.outcome == "failed" and attempt.status_code is None
    assert attempt.error is not None and attempt.error.startswith("refused: ") and reason in attempt.error


async def test_loopback_is_allowed_by_default_and_refusable(
    database: Database, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    by_ip = await add_webhook(database, receiver.url("/ok"))
    by_name = await add_webhook(database, f"http://localhost:{receiver.port}/ok")
    dispatcher = await start_dispatcher(database)
    await queue_messages(database, by_ip, [{"n": 1}])
    await queue_messages(database, by_name, [{"n": 2}])
    assert {d.status for d in await settled(database)} == {"succeeded"}
    await dispatcher.stop()

    await start_dispatcher(database, webhook_deny="127.0.0.0/8,::1/128")
    await queue_messages(database, by_ip, [{"n": 3}])
    await queue_messages(database, by_name, [{"n": 4}])
    rows = await settled(database)
    refused = [d for d in rows if d.status == "failed"]
    assert len(refused) == 2 and len(receiver.received) == 2
    for delivery in refused:
        (attempt,) = await attempts(database, delivery.id)
        assert attempt.error is not None and "listed in QUIRE_WEBHOOK_DENY" in attempt.error
