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


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # `is_global` is false for loopback, private (RFC 1918, IPv6 unique-local), link-local (cloud
    # metadata at 169.254.169.254 and Tencent's 169.254.0.23), shared (100.64/10, Alibaba's
    # metadata at 100.100.100.200), reserved and unspecified ranges.
    return ip.is_global and not ip.is_multicast


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
