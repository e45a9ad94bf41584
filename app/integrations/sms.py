"""Sending one-time SMS codes: an HTTP gateway in production, the log in development."""

from __future__ import annotations

import logging
from typing import Protocol

import httpx

from app.errors import BadGateway

log = logging.getLogger(__name__)


class SmsSender(Protocol):
    def send_login_code(self, phone: str, code: str) -> None: ...


class LogSmsSender:
    """Development only: writes the code to the log instead of sending it."""

    def send_login_code(self, phone: str, code: str) -> None:
        log.warning("SMS login code for %s: %s (development sender, nothing was sent)", phone, code)


class HttpSmsSender:
    """Posts `{phone, template, params}` as JSON to an SMS gateway that answers 2xx on success.

    Vendor gateways (Aliyun, Tencent Cloud) sit behind a small relay that speaks this shape, so
    the product never holds vendor signing code.
    """

    def __init__(self, client: httpx.Client, url: str, token: str | None) -> None:
        self._client = client
        self._url = url
        self._token = token

    def send_login_code(self, phone: str, code: str) -> None:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        payload = {"phone": phone, "template": "login_code", "params": {"code": code}}
        try:
            response = self._client.post(self._url, json=payload, headers=headers, timeout=5.0)
        except httpx.HTTPError as exc:
            raise BadGateway(
                "短信发送失败,请稍后再试 / the SMS could not be sent, try again later",
                code="sms_send_failed",
            ) from exc
        if response.is_error:
            log.error("SMS gateway answered %s", response.status_code)
            raise BadGateway(
                "短信发送失败,请稍后再试 / the SMS could not be sent, try again later",
                code="sms_send_failed",
            )


class HttpSmsNotifier:
    """Status notifications through the same SMS relay: `{phone, template, params}`."""

    def __init__(self, client: httpx.Client, url: str, token: str | None) -> None:
        self._client = client
        self._url = url
        self._token = token

    def send(self, phone: str, template: str, params: dict[str, str]) -> None:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        response = self._client.post(
            self._url,
            json={"phone": phone, "template": template, "params": params},
            headers=headers,
            timeout=5.0,
        )
        response.raise_for_status()
