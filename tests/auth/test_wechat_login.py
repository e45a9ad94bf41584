"""WeChat mini-program sign-in through the real WeChatClient; code2Session faked by httpx."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlmodel import Session, func, select

from app.accounts.models import User
from app.config import Settings
from tests.auth.conftest import app_with_outside, me, problem
from tests.conftest import Backend, settings_for

APP_ID = "wx0123456789abcdef"
APP_SECRET = "wechat-app-secret-for-tests"
WECHAT_URL = "/api/v1/auth/wechat"


@dataclass
class FakeWeChat:
    """Answers code2Session: each js_code maps to a reply body (and optionally a status)."""

    replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: int = 200
    raw: bytes | None = None
    received: list[httpx.Request] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.received.append(request)
        if self.raw is not None:
            return httpx.Response(self.status, content=self.raw)
        js_code = request.url.params.get("js_code", "")
        body = self.replies.get(js_code, {"errcode": 40029, "errmsg": "invalid code"})
        return httpx.Response(self.status, json=body)


@pytest.fixture
def wechat() -> FakeWeChat:
    return FakeWeChat()


@pytest.fixture
def wechat_settings(backend: Backend) -> Settings:
    return settings_for(backend.url, wechat_app_id=APP_ID, wechat_app_secret=APP_SECRET)


@pytest.fixture
def wechat_client(
    wechat_settings: Settings, connection: Connection, wechat: FakeWeChat
) -> TestClient:
    return TestClient(app_with_outside(wechat_settings, connection, wechat))


def wechat_login(client: TestClient, js_code: str) -> httpx.Response:
    response: httpx.Response = client.post(WECHAT_URL, json={"js_code": js_code})
    return response


def ok(openid: str, unionid: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"openid": openid, "session_key": "c2Vzc2lvbi1rZXk="}
    if unionid:
        body["unionid"] = unionid
    return body


def users_with_openid(db: Session, openid: str) -> list[User]:
    db.expire_all()
    return list(db.exec(select(User).where(User.wechat_openid == openid)).all())


def test_wechat_login_creates_a_user_and_returns_a_token(
    wechat_client: TestClient, wechat: FakeWeChat, db: Session
) -> None:
    wechat.replies["code-1"] = ok("openid-aaa", unionid="union-aaa")

    response = wechat_login(wechat_client, "code-1")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    caller = me(wechat_client, body["access_token"])
    assert caller["roles"] == ["resident"]
    assert caller["display_name"] == "微信用户"
    assert caller["username"] is None
    assert caller["phone"] is None
    [user] = users_with_openid(db, "openid-aaa")
    assert caller["id"] == str(user.id)
    assert user.last_login_at is not None
    # The session key WeChat returns is never passed on.
    assert "c2Vzc2lvbi1rZXk=" not in response.text


def test_code2session_request_carries_app_credentials(
    wechat_client: TestClient, wechat: FakeWeChat
) -> None:
    wechat.replies["js-code-xyz"] = ok("openid-bbb")

    assert wechat_login(wechat_client, "js-code-xyz").status_code == 200

    [request] = wechat.received
    assert request.method == "GET"
    assert request.url.scheme == "https"
    assert request.url.host == "api.weixin.qq.com"
    assert request.url.path == "/sns/jscode2session"
    assert dict(request.url.params) == {
        "appid": APP_ID,
        "secret": APP_SECRET,
        "js_code": "js-code-xyz",
        "grant_type": "authorization_code",
    }


def test_same_openid_twice_is_the_same_user(
    wechat_client: TestClient, wechat: FakeWeChat, db: Session
) -> None:
    wechat.replies["first"] = ok("openid-ccc")
    wechat.replies["second"] = ok("openid-ccc")
    wechat.replies["someone-else"] = ok("openid-ddd")

    first = wechat_login(wechat_client, "first").json()["access_token"]
    second = wechat_login(wechat_client, "second").json()["access_token"]
    other = wechat_login(wechat_client, "someone-else").json()["access_token"]

    assert first != second
    first_id = me(wechat_client, first)["id"]
    assert me(wechat_client, second)["id"] == first_id
    assert me(wechat_client, other)["id"] != first_id
    assert len(users_with_openid(db, "openid-ccc")) == 1


def test_deactivated_wechat_user_is_refused(
    wechat_client: TestClient, wechat: FakeWeChat, db: Session
) -> None:
    wechat.replies["a"] = ok("openid-eee")
    wechat.replies["b"] = ok("openid-eee")
    assert wechat_login(wechat_client, "a").status_code == 200
    [user] = users_with_openid(db, "openid-eee")
    user.is_active = False
    db.add(user)
    db.flush()

    problem(wechat_login(wechat_client, "b"), 401, "inactive_account")


@pytest.mark.parametrize("errcode", [40029, 40163, 40226])
def test_invalid_or_used_code_is_401(
    wechat_client: TestClient, wechat: FakeWeChat, db: Session, errcode: int
) -> None:
    wechat.replies["bad"] = {"errcode": errcode, "errmsg": "invalid code"}
    users_before = db.exec(select(func.count()).select_from(User)).one()

    response = wechat_login(wechat_client, "bad")

    problem(response, 401, "wechat_code_invalid")
    assert db.exec(select(func.count()).select_from(User)).one() == users_before


@pytest.mark.parametrize(
    "reply",
    [
        {"errcode": -1, "errmsg": "system error"},
        {"errcode": 45011, "errmsg": "api minute-quota reach limit"},
        {"errcode": 40013, "errmsg": "invalid appid"},
        {"errcode": 0, "errmsg": "ok"},  # success code but no openid
    ],
)
def test_other_wechat_errors_are_502(
    wechat_client: TestClient, wechat: FakeWeChat, db: Session, reply: dict[str, Any]
) -> None:
    wechat.replies["x"] = reply
    users_before = db.exec(select(func.count()).select_from(User)).one()

    body = problem(wechat_login(wechat_client, "x"), 502, "wechat_error")

    assert APP_SECRET not in str(body)
    assert db.exec(select(func.count()).select_from(User)).one() == users_before


def test_wechat_http_error_is_502(wechat_client: TestClient, wechat: FakeWeChat) -> None:
    wechat.replies["x"] = ok("openid-fff")
    wechat.status = 500

    problem(wechat_login(wechat_client, "x"), 502, "wechat_error")


def test_wechat_answer_that_is_not_json_is_502(
    wechat_client: TestClient, wechat: FakeWeChat
) -> None:
    wechat.raw = b"<html>bad gateway</html>"
    wechat.status = 502

    problem(wechat_login(wechat_client, "x"), 502, "wechat_unavailable")


def test_wechat_unreachable_is_502(backend: Backend, connection: Connection) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    settings = settings_for(backend.url, wechat_app_id=APP_ID, wechat_app_secret=APP_SECRET)
    client = TestClient(app_with_outside(settings, connection, refuse))

    problem(wechat_login(client, "x"), 502, "wechat_unavailable")


def test_wechat_not_configured_is_503(client: TestClient) -> None:
    """The `app` fixture has no WeChat settings and refuses every outside call."""
    problem(wechat_login(client, "x"), 503, "wechat_not_configured")


def test_app_id_without_secret_is_not_configured(
    backend: Backend, connection: Connection, wechat: FakeWeChat
) -> None:
    settings = settings_for(backend.url, wechat_app_id=APP_ID)
    client = TestClient(app_with_outside(settings, connection, wechat))

    problem(wechat_login(client, "x"), 503, "wechat_not_configured")
    assert wechat.received == []


def test_empty_js_code_is_422(wechat_client: TestClient, wechat: FakeWeChat) -> None:
    problem(wechat_login(wechat_client, ""), 422, "validation_error")
    assert wechat.received == []


def test_api_base_is_configurable(
    backend: Backend, connection: Connection, wechat: FakeWeChat
) -> None:
    wechat.replies["c"] = ok("openid-ggg")
    settings = settings_for(
        backend.url,
        wechat_app_id=APP_ID,
        wechat_app_secret=APP_SECRET,
        wechat_api_base="https://wechat-proxy.example.test/",
    )
    client = TestClient(app_with_outside(settings, connection, wechat))

    assert wechat_login(client, "c").status_code == 200
    [request] = wechat.received
    assert str(request.url).startswith("https://wechat-proxy.example.test/sns/jscode2session?")


@pytest.mark.parametrize("raw", [b'"not an object"', b"[1, 2]", b"null"])
def test_wechat_answer_that_is_not_an_object_is_502(
    wechat_client: TestClient, wechat: FakeWeChat, raw: bytes
) -> None:
    wechat.raw = raw

    problem(wechat_login(wechat_client, "x"), 502, "wechat_unavailable")
