"""WeChat mini-program login: exchange a `js_code` for the user's openid (code2Session)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from app.errors import BadGateway, Unauthorized

INVALID_CODE_ERRORS = {40029, 40163, 40226}  # invalid, already used, high-risk user


@dataclass(frozen=True)
class WeChatIdentity:
    openid: str
    unionid: str | None


class WeChatClient:
    def __init__(
        self, client: httpx.Client, *, app_id: str, app_secret: str, base_url: str
    ) -> None:
        self._client = client
        self._app_id = app_id
        self._app_secret = app_secret
        self._base_url = base_url.rstrip("/")

    def code_to_session(self, js_code: str) -> WeChatIdentity:
        params = {
            "appid": self._app_id,
            "secret": self._app_secret,
            "js_code": js_code,
            "grant_type": "authorization_code",
        }
        try:
            response = self._client.get(
                f"{self._base_url}/sns/jscode2session", params=params, timeout=5.0
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise BadGateway(
                "微信登录暂不可用 / WeChat login is unavailable right now",
                code="wechat_unavailable",
            ) from exc
        if not isinstance(body, dict):  # JSON, but not the object code2Session answers
            raise BadGateway(
                "微信登录暂不可用 / WeChat login is unavailable right now",
                code="wechat_unavailable",
            )
        errcode = body.get("errcode") or 0
        if errcode in INVALID_CODE_ERRORS:
            raise Unauthorized(
                "微信登录凭证无效或已使用 / the WeChat login code is invalid or already used",
                code="wechat_code_invalid",
            )
        if errcode or response.is_error or not body.get("openid"):
            raise BadGateway(
                f"微信登录失败 / WeChat login failed (errcode {errcode})", code="wechat_error"
            )
        return WeChatIdentity(openid=str(body["openid"]), unionid=body.get("unionid"))


class WeChatSubscribeSender:
    """Mini-program subscribe messages (订阅消息): an access token, then message/subscribe/send."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        app_id: str,
        app_secret: str,
        base_url: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._app_id = app_id
        self._app_secret = app_secret
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._token: str | None = None
        self._token_until = 0.0

    def _access_token(self) -> str:
        if self._token is not None and self._clock() < self._token_until:
            return self._token
        response = self._client.get(
            f"{self._base_url}/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": self._app_id,
                "secret": self._app_secret,
            },
            timeout=5.0,
        )
        body = response.json()
        if not body.get("access_token"):
            raise RuntimeError(f"WeChat token error {body.get('errcode')}")
        self._token = str(body["access_token"])
        # Renew five minutes early.
        self._token_until = self._clock() + int(body.get("expires_in", 7200)) - 300
        return self._token

    def send(self, openid: str, template_id: str, page: str, data: dict[str, str]) -> None:
        payload = {
            "touser": openid,
            "template_id": template_id,
            "page": page,
            "data": {key: {"value": value} for key, value in data.items()},
        }
        response = self._client.post(
            f"{self._base_url}/cgi-bin/message/subscribe/send",
            params={"access_token": self._access_token()},
            json=payload,
            timeout=5.0,
        )
        body = response.json()
        if body.get("errcode") in (40001, 42001):  # token expired or revoked: renew next time
            self._token = None
        if body.get("errcode"):
            raise RuntimeError(f"WeChat subscribe message error {body.get('errcode')}")
