"""WeChat mini-program login: exchange a `js_code` for the user's openid (code2Session)."""

from __future__ import annotations

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
