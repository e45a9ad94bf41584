"""Pure parts of webhooks: Standard Webhooks signatures and the target address checks."""

from __future__ import annotations

import pytest

from app.errors import Invalid
from app.webhooks import signing
from app.webhooks.targets import check_target

# The reference vector published with the Standard Webhooks libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_reference_vector() -> None:
    assert signing.signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_a_receiver_verifies_fresh_signed_messages_only() -> None:
    new = signing.new_secret()
    sent = signing.headers([new, SPEC_SECRET], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    now = SPEC_TIMESTAMP + 10
    assert signing.verify(new, sent, SPEC_BODY, now=now)
    assert signing.verify(SPEC_SECRET, sent, SPEC_BODY, now=now)  # the rotated-out secret
    assert not signing.verify(signing.new_secret(), sent, SPEC_BODY, now=now)
    assert not signing.verify(new, sent, SPEC_BODY + b" ", now=now)  # altered body
    assert not signing.verify(new, sent, SPEC_BODY, now=SPEC_TIMESTAMP + 301)  # replayed late


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    return lambda host, _port: table.get(host, [])


DOCUMENTATION = "203.0.113.10"  # TEST-NET-3: reserved, so not global
GLOBAL = "93.184.216.34"


@pytest.mark.parametrize(
    ("url", "addresses", "https_only", "allowed"),
    [
        ("https://hooks.example.com/in", [GLOBAL], True, True),
        ("http://hooks.example.com/in", [GLOBAL], False, True),
        ("http://hooks.example.com/in", [GLOBAL], True, False),  # production: https only
        ("ftp://hooks.example.com/in", [GLOBAL], False, False),
        ("https://user:pw@hooks.example.com/in", [GLOBAL], False, False),
        ("https://hooks.example.com/in", [], False, False),  # does not resolve
        ("https://hooks.example.com/in", ["127.0.0.1"], False, False),  # loopback
        ("https://hooks.example.com/in", ["10.1.2.3"], False, False),  # private
        ("https://hooks.example.com/in", ["172.16.0.9"], False, False),
        ("https://hooks.example.com/in", ["192.168.1.1"], False, False),
        ("https://hooks.example.com/in", ["169.254.169.254"], False, False),  # metadata
        ("https://hooks.example.com/in", ["100.100.100.200"], False, False),  # Alibaba metadata
        ("https://hooks.example.com/in", ["0.0.0.0"], False, False),  # noqa: S104
        ("https://hooks.example.com/in", ["::1"], False, False),
        ("https://hooks.example.com/in", ["fd00::1"], False, False),  # IPv6 unique-local
        ("https://hooks.example.com/in", ["fe80::1"], False, False),  # IPv6 link-local
        ("https://hooks.example.com/in", ["::ffff:127.0.0.1"], False, False),  # mapped loopback
        ("https://hooks.example.com/in", ["224.0.0.1"], False, False),  # multicast
        ("https://hooks.example.com/in", [GLOBAL, "10.0.0.1"], False, False),  # any private
        ("https://hooks.example.com/in", [DOCUMENTATION], False, False),
        ("https://127.0.0.1/in", [], False, False),  # a literal address is checked too
        ("https://[::1]/in", [], False, False),
        (f"https://{GLOBAL}/in", [], False, True),
        ("not a url", [], False, False),
    ],
)
def test_targets(url: str, addresses: list[str], https_only: bool, allowed: bool) -> None:
    resolve = resolver({"hooks.example.com": addresses})
    if allowed:
        assert check_target(url, https_only=https_only, resolve=resolve).address in (
            *addresses,
            GLOBAL,
        )
    else:
        with pytest.raises(Invalid) as refused:
            check_target(url, https_only=https_only, resolve=resolve)
        assert refused.value.code == "webhook_url_refused"


# IPv6 forms that lead to an IPv4 address (Python 3.11 calls all of these global): the embedded
# address decides. Each private case has a public twin that is allowed, so the unwrapping itself
# (not a blanket refusal of the range) is what is tested.
@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("64:ff9b::7f00:1", False),  # NAT64 → 127.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 → 10.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 → 169.254.169.254 (metadata)
        ("64:ff9b::6464:64c8", False),  # NAT64 → 100.100.100.200 (Alibaba metadata)
        ("64:ff9b::5db8:d822", True),  # NAT64 → 93.184.216.34
        ("2002:7f00:1::", False),  # 6to4 → 127.0.0.1
        ("2002:c0a8:101::1", False),  # 6to4 → 192.168.1.1
        ("2002:a9fe:a9fe::1", False),  # 6to4 → 169.254.169.254
        ("2002:5db8:d822::1", True),  # 6to4 → 93.184.216.34
        ("::127.0.0.1", False),  # IPv4-compatible
        ("::10.0.0.1", False),
        ("::169.254.169.254", False),
        ("::93.184.216.34", True),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped
        ("::ffff:169.254.169.254", False),
        ("::ffff:100.64.0.1", False),
        ("::ffff:93.184.216.34", True),
        ("::", False),
        ("100.64.0.1", False),  # carrier-grade NAT, 100.64.0.0/10
        ("100.127.255.254", False),
        ("100.128.0.1", True),  # just outside it
        ("0.1.2.3", False),  # "this network", 0.0.0.0/8
        ("0.255.255.255", False),
        ("1.0.0.1", True),
        ("2606:4700:4700::1111", True),  # ordinary global IPv6
    ],
)
def test_addresses_embedding_ipv4_are_judged_by_the_ipv4(address: str, allowed: bool) -> None:
    resolve = resolver({"hooks.example.com": [address]})
    if allowed:
        target = check_target("https://hooks.example.com/in", https_only=True, resolve=resolve)
        assert target.address == address
    else:
        with pytest.raises(Invalid) as refused:
            check_target("https://hooks.example.com/in", https_only=True, resolve=resolve)
        assert refused.value.code == "webhook_url_refused"
