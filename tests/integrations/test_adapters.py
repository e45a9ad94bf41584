"""The outside adapters, over httpx.MockTransport: WeChat subscribe messages, the SMS relay, and
the choice of channel in `Notifier.deliver`. No database."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from app.accounts.models import User
from app.accounts.service import phone_fields
from app.common.crypto import SensitiveCodec
from app.config import DEV_DATA_KEY, WeChatTemplate
from app.integrations.sms import HttpSmsNotifier
from app.integrations.wechat import WeChatSubscribeSender
from app.notifications.channels import TOPIC_TEXT, Notifier
from app.notifications.models import OutboxMessage

WECHAT_BASE = "https://wx.example.test"
SMS_URL = "https://sms.example.test/notify"
APP_ID = "wx-app-id"
APP_SECRET = "wx-app-secret"
OPENID = "o-openid-0001"
PHONE = "13912345678"
ORDER_ID = "0190c0de-0000-7000-8000-000000000001"


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeWeChat:
    """Hands out tokens `token-1`, `token-2`, …; answers sends with the queued errcodes (else 0)."""

    expires_in: int = 7200
    token_error: int | None = None
    send_errcodes: list[int] = field(default_factory=list)
    token_requests: list[httpx.Request] = field(default_factory=list)
    sends: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/token":
            assert request.method == "GET"
            self.token_requests.append(request)
            if self.token_error is not None:
                return httpx.Response(
                    200, json={"errcode": self.token_error, "errmsg": "invalid appid"}
                )
            token = f"token-{len(self.token_requests)}"
            return httpx.Response(200, json={"access_token": token, "expires_in": self.expires_in})
        if request.url.path == "/cgi-bin/message/subscribe/send":
            assert request.method == "POST"
            self.sends.append(request)
            errcode = self.send_errcodes.pop(0) if self.send_errcodes else 0
            return httpx.Response(200, json={"errcode": errcode, "errmsg": "ok"})
        raise AssertionError(f"unexpected call {request.method} {request.url}")

    def tokens_used(self) -> list[str]:
        return [r.url.params["access_token"] for r in self.sends]


def _sender(fake: FakeWeChat, clock: FakeClock) -> WeChatSubscribeSender:
    return WeChatSubscribeSender(
        httpx.Client(transport=httpx.MockTransport(fake)),
        app_id=APP_ID,
        app_secret=APP_SECRET,
        base_url=WECHAT_BASE + "/",
        clock=clock,
    )


def _body(request: httpx.Request) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.content)
    return body


# ---- WeChat subscribe messages -----------------------------------------------------------------


def test_wechat_gets_a_token_then_sends_the_subscribe_message() -> None:
    fake, clock = FakeWeChat(), FakeClock()
    sender = _sender(fake, clock)

    sender.send(OPENID, "tmpl-1", "pages/order/detail?id=1", {"thing1": "已接单", "time2": "9:00"})

    [token_request] = fake.token_requests
    assert token_request.url.host == "wx.example.test"
    assert dict(token_request.url.params) == {
        "grant_type": "client_credential",
        "appid": APP_ID,
        "secret": APP_SECRET,
    }
    [send] = fake.sends
    assert str(send.url) == f"{WECHAT_BASE}/cgi-bin/message/subscribe/send?access_token=token-1"
    assert send.headers["content-type"] == "application/json"
    assert _body(send) == {
        "touser": OPENID,
        "template_id": "tmpl-1",
        "page": "pages/order/detail?id=1",
        "data": {"thing1": {"value": "已接单"}, "time2": {"value": "9:00"}},
    }


def test_wechat_token_is_cached_until_five_minutes_before_expiry() -> None:
    fake, clock = FakeWeChat(expires_in=7200), FakeClock(now=1000.0)
    sender = _sender(fake, clock)

    sender.send(OPENID, "t", "p", {"thing1": "a"})
    clock.now = 1000.0 + 7200 - 300 - 0.5  # still valid
    sender.send(OPENID, "t", "p", {"thing1": "b"})
    assert len(fake.token_requests) == 1
    clock.now = 1000.0 + 7200 - 300  # renewed five minutes early
    sender.send(OPENID, "t", "p", {"thing1": "c"})
    sender.send(OPENID, "t", "p", {"thing1": "d"})

    assert len(fake.token_requests) == 2
    assert fake.tokens_used() == ["token-1", "token-1", "token-2", "token-2"]


@pytest.mark.parametrize("errcode", [40001, 42001])
def test_wechat_token_is_renewed_after_it_was_refused(errcode: int) -> None:
    fake, clock = FakeWeChat(send_errcodes=[errcode]), FakeClock()
    sender = _sender(fake, clock)

    with pytest.raises(RuntimeError, match=f"WeChat subscribe message error {errcode}"):
        sender.send(OPENID, "t", "p", {"thing1": "a"})
    sender.send(OPENID, "t", "p", {"thing1": "a"})  # same clock: renewed because it was refused

    assert len(fake.token_requests) == 2
    assert fake.tokens_used() == ["token-1", "token-2"]


def test_wechat_other_errcode_raises_and_keeps_the_token() -> None:
    fake, clock = FakeWeChat(send_errcodes=[43101]), FakeClock()  # 43101: user refused
    sender = _sender(fake, clock)

    with pytest.raises(RuntimeError, match="WeChat subscribe message error 43101"):
        sender.send(OPENID, "t", "p", {"thing1": "a"})
    sender.send(OPENID, "t", "p", {"thing1": "a"})

    assert len(fake.token_requests) == 1
    assert fake.tokens_used() == ["token-1", "token-1"]


def test_wechat_token_error_raises_and_sends_nothing() -> None:
    fake, clock = FakeWeChat(token_error=40013), FakeClock()
    sender = _sender(fake, clock)

    with pytest.raises(RuntimeError, match="WeChat token error 40013"):
        sender.send(OPENID, "t", "p", {"thing1": "a"})

    assert len(fake.token_requests) == 1
    assert fake.sends == []


# ---- SMS relay ---------------------------------------------------------------------------------


@dataclass
class FakeSms:
    status: int = 200
    received: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        return httpx.Response(self.status, json={"ok": self.status < 400})


RELAY_TOKEN = "relay-token"


def _sms(fake: FakeSms, *, with_token: bool = True) -> HttpSmsNotifier:
    client = httpx.Client(transport=httpx.MockTransport(fake))
    return HttpSmsNotifier(client, SMS_URL, RELAY_TOKEN if with_token else None)


def test_sms_posts_phone_template_and_params_with_the_bearer_token() -> None:
    fake = FakeSms()
    _sms(fake).send(PHONE, "order.status_changed", {"text": "已接单", "order_id": "42"})

    [request] = fake.received
    assert (request.method, str(request.url)) == ("POST", SMS_URL)
    assert request.headers["authorization"] == f"Bearer {RELAY_TOKEN}"
    assert _body(request) == {
        "phone": PHONE,
        "template": "order.status_changed",
        "params": {"text": "已接单", "order_id": "42"},
    }


def test_sms_without_a_token_sends_no_authorization_header() -> None:
    fake = FakeSms()
    _sms(fake, with_token=False).send(PHONE, "t", {})

    [request] = fake.received
    assert "authorization" not in request.headers


@pytest.mark.parametrize("status", [400, 500, 503])
def test_sms_gateway_error_raises(status: int) -> None:
    fake = FakeSms(status=status)
    with pytest.raises(httpx.HTTPStatusError) as raised:
        _sms(fake).send(PHONE, "t", {"text": "x"})
    assert raised.value.response.status_code == status
    assert len(fake.received) == 1


# ---- Notifier: which channel -------------------------------------------------------------------

CODEC = SensitiveCodec(DEV_DATA_KEY)
TOPIC = "order.status_changed"


def _user(*, openid: str | None = None, phone: str | None = None) -> User:
    user = User(display_name="居民", wechat_openid=openid)
    if phone is not None:
        columns = phone_fields(CODEC, phone)
        user.phone_cipher = columns["phone_cipher"]
        user.phone_hash = columns["phone_hash"]
        user.phone_masked = columns["phone_masked"]
    return user


def _message(recipient: User | None, topic: str = TOPIC) -> OutboxMessage:
    return OutboxMessage(
        id=uuid.UUID("0190c0de-0000-7000-8000-0000000000aa"),
        topic=topic,
        recipient_user_id=recipient.id if recipient else None,
        payload={"order_id": ORDER_ID, "status": "accepted", "reason": None, "count": 3},
    )


@dataclass
class Channels:
    wechat: FakeWeChat
    sms: FakeSms

    def notifier(
        self, *, wechat: bool = True, sms: bool = True, templates: dict[str, str] | None = None
    ) -> Notifier:
        chosen = {TOPIC: "tmpl-status"} if templates is None else templates
        fields = {"thing1": "text", "character_string2": "order_id", "phrase3": "status"}
        return Notifier(
            codec=CODEC,
            wechat=_sender(self.wechat, FakeClock()) if wechat else None,
            wechat_templates={
                topic: WeChatTemplate(template_id=template_id, fields=fields)
                for topic, template_id in chosen.items()
            },
            sms=_sms(self.sms) if sms else None,
        )

    def used(self) -> tuple[int, int]:
        return len(self.wechat.sends), len(self.sms.received)


@pytest.fixture
def channels() -> Channels:
    return Channels(wechat=FakeWeChat(), sms=FakeSms())


def test_deliver_prefers_wechat_when_the_recipient_has_an_openid_and_a_template(
    channels: Channels,
) -> None:
    user = _user(openid=OPENID, phone=PHONE)
    assert channels.notifier().deliver(_message(user), user) == "wechat"

    assert channels.used() == (1, 0)
    [send] = channels.wechat.sends
    assert _body(send) == {
        "touser": OPENID,
        "template_id": "tmpl-status",
        "page": f"pages/order/detail?id={ORDER_ID}",
        "data": {
            "thing1": {"value": TOPIC_TEXT[TOPIC]},
            "character_string2": {"value": ORDER_ID[:20]},
            "phrase3": {"value": "accepted"},
        },
    }


def test_deliver_uses_sms_when_the_topic_has_no_template(channels: Channels) -> None:
    user = _user(openid=OPENID, phone=PHONE)
    notifier = channels.notifier(templates={"offer.created": "tmpl-offer"})
    assert notifier.deliver(_message(user), user) == "sms"

    assert channels.used() == (0, 1)
    assert _body(channels.sms.received[0]) == {
        "phone": PHONE,
        "template": TOPIC,
        "params": {
            "text": TOPIC_TEXT[TOPIC],
            "order_id": ORDER_ID,
            "status": "accepted",
            "count": "3",
        },
    }


def test_deliver_uses_sms_when_the_recipient_has_no_openid(channels: Channels) -> None:
    user = _user(phone=PHONE)
    assert channels.notifier().deliver(_message(user), user) == "sms"
    assert channels.used() == (0, 1)


def test_deliver_uses_sms_when_wechat_is_not_configured(channels: Channels) -> None:
    user = _user(openid=OPENID, phone=PHONE)
    assert channels.notifier(wechat=False).deliver(_message(user), user) == "sms"
    assert channels.used() == (0, 1)


def test_deliver_logs_when_sms_is_not_configured(
    channels: Channels, caplog: pytest.LogCaptureFixture
) -> None:
    user = _user(phone=PHONE)
    caplog.set_level("INFO", logger="app.notifications.channels")
    assert channels.notifier(sms=False).deliver(_message(user), user) == "log"
    assert channels.used() == (0, 0)
    assert [r.getMessage() for r in caplog.records] == [
        f"notification {TOPIC} to {user.id}: {TOPIC_TEXT[TOPIC]} "
        f"{{'order_id': '{ORDER_ID}', 'status': 'accepted', 'count': '3'}}"
    ]


def test_deliver_logs_when_the_recipient_has_neither_openid_nor_phone(
    channels: Channels,
) -> None:
    user = _user()
    assert channels.notifier().deliver(_message(user), user) == "log"
    assert channels.used() == (0, 0)


def test_deliver_logs_without_a_recipient(channels: Channels) -> None:
    assert channels.notifier().deliver(_message(None), None) == "log"
    assert channels.used() == (0, 0)


def test_deliver_unknown_topic_uses_the_topic_as_text(channels: Channels) -> None:
    user = _user(phone=PHONE)
    assert channels.notifier().deliver(_message(user, "custom.topic"), user) == "sms"
    assert _body(channels.sms.received[0])["params"]["text"] == "custom.topic"


def test_deliver_raises_when_the_channel_fails(channels: Channels) -> None:
    channels.sms.status = 500
    user = _user(phone=PHONE)
    with pytest.raises(httpx.HTTPStatusError):
        channels.notifier().deliver(_message(user), user)
    channels.wechat.send_errcodes.append(43101)
    wechat_user = _user(openid=OPENID)
    with pytest.raises(RuntimeError, match="43101"):
        channels.notifier().deliver(_message(wechat_user), wechat_user)
