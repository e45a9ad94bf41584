"""Where a webhook may be sent. Checked when a subscription is made and again before every
delivery, after resolving the name, so that a name that later points inside the network (DNS
rebinding) is refused too; the delivery then goes to the address that was checked."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from app.errors import Invalid

Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Target:
    url: httpx.URL
    address: str  # the checked address the request goes to


def _refuse(reason: str) -> Invalid:
    return Invalid(f"不允许的回调地址 / webhook URL refused: {reason}", code="webhook_url_refused")


# IPv6 ranges that carry an IPv4 address inside them: a request to one reaches (through a
# translator, a relay or the dual stack) the IPv4 address, which is what must be checked. Python
# 3.11 counts all of them as global. 6to4 (2002::/16, RFC 3056) carries it in bits 16-48.
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # RFC 4291 (deprecated): the last 32 bits
# Refused whatever `is_global` says on the running Python: shared address space (carrier-grade
# NAT, and Alibaba's metadata at 100.100.100.200) and "this network".
REFUSED_V4 = (ipaddress.ip_network("100.64.0.0/10"), ipaddress.ip_network("0.0.0.0/8"))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 address leads to."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):  # not :: or ::1
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _public(address: str) -> bool:
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is None:
            return ip.is_global and not ip.is_multicast
        ip = inner
    # `is_global` is false for loopback, private (RFC 1918, IPv6 unique-local), link-local (cloud
    # metadata at 169.254.169.254 and Tencent's 169.254.0.23), reserved and unspecified ranges.
    return ip.is_global and not ip.is_multicast and not any(ip in net for net in REFUSED_V4)


def check_target(url: str, *, https_only: bool, resolve: Resolver) -> Target:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise _refuse("not a URL") from exc
    if parsed.scheme not in ("https", "http") or (https_only and parsed.scheme != "https"):
        raise _refuse("https only" if https_only else "http or https only")
    if not parsed.host or parsed.userinfo:
        raise _refuse("a host and no user name or password")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(parsed.host))]
    except ValueError:
        addresses = resolve(parsed.host, port)
    if not addresses:
        raise _refuse(f"{parsed.host} does not resolve")
    if not all(_public(a) for a in addresses):
        raise _refuse(f"{parsed.host} points to a private, loopback or link-local address")
    return Target(url=parsed, address=addresses[0])
