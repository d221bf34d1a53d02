"""Which network addresses webhook deliveries may connect to.

The check runs on the address a socket is about to connect to, not on the URL's text: hostnames
are resolved by `GuardedResolver` (so a DNS answer that changes between a check and the connect —
DNS rebinding — cannot slip through), IP-literal hosts are checked before the request, and
`socket_factory` checks every address once more right before `connect()`.

Refused by default: cloud metadata endpoints, unspecified, private (RFC 1918, ULA `fc00::/7`),
carrier-grade NAT `100.64.0.0/10`, link-local, multicast, and reserved ranges (documentation,
benchmarking, `240.0.0.0/4` …) — also when an IPv6 address carries one of them inside
(IPv4-mapped `::ffff:10.0.0.1`, IPv4-compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, Teredo).
Loopback is allowed, for local development.

The operator changes that with two comma-separated CIDR lists, applied in this order:

1. `QUIRE_WEBHOOK_DENY`: refused, always (deny wins over allow). `127.0.0.0/8,::1/128` blocks
   loopback.
2. Cloud metadata addresses: refused, always; no allow list opens them.
3. `QUIRE_WEBHOOK_ALLOW`: allowed, even inside a range refused by default (an internal receiver
   at `10.1.2.3` needs `QUIRE_WEBHOOK_ALLOW=10.1.2.0/24`).
4. The default rules above.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REFUSED_PREFIX = "refused: "


class AddressRefused(OSError):
    """A connection the guard does not allow; `str()` is the reason, starting with `refused: `."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def _networks(pairs: Iterable[tuple[str, str]]) -> list[tuple[IPNetwork, str]]:
    return [(ipaddress.ip_network(cidr), what) for cidr, what in pairs]


_METADATA = _networks(
    [
        ("169.254.169.254/32", "a cloud metadata address"),  # AWS, GCP, Azure, OpenStack, …
        ("169.254.170.2/32", "a cloud metadata address"),  # AWS ECS task metadata
        ("169.254.169.253/32", "a cloud metadata address"),  # AWS VPC DNS
        ("100.100.100.200/32", "a cloud metadata address"),  # Alibaba Cloud
        ("fd00:ec2::254/128", "a cloud metadata address"),  # AWS IMDS over IPv6
        ("fd00:ec2::253/128", "a cloud metadata address"),
    ]
)

_DEFAULT_REFUSED = _networks(
    [
        ("0.0.0.0/8", 'the unspecified ("this host") network'),
        ("10.0.0.0/8", "a private network"),
        ("172.16.0.0/12", "a private network"),
        ("192.168.0.0/16", "a private network"),
        ("100.64.0.0/10", "the carrier-grade NAT range"),
        ("169.254.0.0/16", "the link-local range"),
        ("192.0.0.0/24", "a reserved range (IETF protocol assignments)"),
        ("192.0.2.0/24", "a reserved range (documentation)"),
        ("198.51.100.0/24", "a reserved range (documentation)"),
        ("203.0.113.0/24", "a reserved range (documentation)"),
        ("198.18.0.0/15", "a reserved range (benchmarking)"),
        ("192.88.99.0/24", "a reserved range (6to4 relay anycast)"),
        ("224.0.0.0/4", "the multicast range"),
        ("240.0.0.0/4", "a reserved range"),
        ("::/128", "the unspecified address range"),
        ("fe80::/10", "the link-local range"),
        ("fec0::/10", "a reserved range (site-local)"),
        ("fc00::/7", "a unique local (private) network"),
        ("ff00::/8", "the multicast range"),
        ("100::/64", "a reserved range (discard-only)"),
        ("2001:db8::/32", "a reserved range (documentation)"),
        ("3fff::/20", "a reserved range (documentation)"),
        ("2001:10::/28", "a reserved range (ORCHID)"),
        ("2001:20::/28", "a reserved range (ORCHIDv2)"),
        ("64:ff9b:1::/48", "a local-use NAT64 network"),
        ("::/8", "a reserved range"),  # IPv4-compatible and other legacy forms
    ]
)

# Inside the ranges above but allowed by default: loopback, and the IPv6 forms that are judged by
# the IPv4 address they carry (IPv4-mapped, SIIT, NAT64).
_DEFAULT_OPEN = _networks(
    [
        ("127.0.0.0/8", "loopback"),
        ("::1/128", "loopback"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("::ffff:0:0:0/96", "SIIT"),
        ("64:ff9b::/96", "NAT64"),
    ]
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_SIIT = ipaddress.ip_network("::ffff:0:0:0/96")


def parse_networks(value: str | Iterable[str] | None) -> list[IPNetwork]:
    """`"10.0.0.0/8, fd00::/8"` (or a list of CIDRs; a bare address is a /32 or /128)."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip()]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for or tunnels to, if any."""
    if address in _NAT64 or address in _SIIT:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _find(address: IPAddress, table: Sequence[tuple[IPNetwork, str]]) -> tuple[IPNetwork, str] | None:
    for network, what in table:
        if address.version == network.version and address in network:
            return network, what
    return None


class NetworkGuard:
    """Decides whether an address may receive webhooks. See the module docstring for the rules."""

    def __init__(self, *, allow: Iterable[IPNetwork] = (), deny: Iterable[IPNetwork] = ()) -> None:
        self.allow = [(network, "QUIRE_WEBHOOK_ALLOW") for network in allow]
        self.deny = [(network, "QUIRE_WEBHOOK_DENY") for network in deny]

    @classmethod
    def from_lists(
        cls, *, allow: str | Iterable[str] | None, deny: str | Iterable[str] | None
    ) -> NetworkGuard:
        return cls(allow=parse_networks(allow), deny=parse_networks(deny))

    def check(self, address: str | IPAddress) -> str | None:
        """None if the address may be used, else the reason it may not (`refused: …`)."""
        shown = str(address)
        try:
            ip = ipaddress.ip_address(shown.split("%", 1)[0])
        except ValueError:
            return f"{REFUSED_PREFIX}{shown} is not an IP address"
        inner: IPAddress | None = None
        if isinstance(ip, ipaddress.IPv6Address):
            inner = ip.ipv4_mapped or _embedded_ipv4(ip)
        # the embedded address first: its verdict is the more telling one
        candidates: list[IPAddress] = [ip] if inner is None else [inner, ip]

        for table, verdict in ((self.deny, False), (_METADATA, False), (self.allow, True)):
            for candidate in candidates:
                found = _find(candidate, table)
                if found is not None:
                    return None if verdict else _reason(shown, candidate is inner, candidate, found)
        for candidate in candidates:
            if _find(candidate, _DEFAULT_OPEN) is not None:
                continue
            found = _find(candidate, _DEFAULT_REFUSED)
            if found is not None:
                return _reason(shown, candidate is inner, candidate, found)
        return None

    def check_or_raise(self, address: str | IPAddress) -> None:
        reason = self.check(address)
        if reason is not None:
            raise AddressRefused(reason)

    def resolver(self, inner: AbstractResolver | None = None) -> GuardedResolver:
        return GuardedResolver(self, inner)

    def socket_factory(self, addr_info: Any) -> socket.socket:
        """aiohttp `socket_factory`: the last check, on the very address being connected to."""
        family, type_, proto, _canonname, sockaddr = addr_info
        self.check_or_raise(str(sockaddr[0]))
        return socket.socket(family=family, type=type_, proto=proto)


def _reason(shown: str, embedded: bool, candidate: IPAddress, found: tuple[IPNetwork, str]) -> str:
    network, what = found
    if what == "QUIRE_WEBHOOK_DENY":
        verdict = f"is in {network}, listed in QUIRE_WEBHOOK_DENY"
    elif what == "a cloud metadata address":
        verdict = f"is {what}"
    else:
        verdict = f"is in {what} ({network})"
    if embedded:
        return f"{REFUSED_PREFIX}{shown} embeds {candidate}, which {verdict}"
    return f"{REFUSED_PREFIX}{shown} {verdict}"


class GuardedResolver(AbstractResolver):
    """Resolves with another resolver and keeps only the addresses the guard allows; when none is
    left, fails with `AddressRefused` (aiohttp then connects to nothing)."""

    def __init__(self, guard: NetworkGuard, inner: AbstractResolver | None = None) -> None:
        self._guard = guard
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed: list[ResolveResult] = []
        refusals: list[str] = []
        for result in results:
            reason = self._guard.check(result["host"])
            if reason is None:
                allowed.append(result)
            else:
                verdict = reason.removeprefix(f"{REFUSED_PREFIX}{result['host']} ")
                refusals.append(f"{result['host']}, which {verdict}")
        if not allowed:
            detail = refusals[0] if refusals else "no address"
            raise AddressRefused(f"{REFUSED_PREFIX}{host} resolves to {detail}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()
