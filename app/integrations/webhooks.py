"""Delivering one webhook over HTTP: the target checked again and pinned, signed, no redirects."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from app.errors import Invalid
from app.webhooks import signing
from app.webhooks.targets import Resolver, check_target, system_resolver


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None

    @property
    def gone(self) -> bool:
        """410 Gone: the receiver asks never to be called again."""
        return self.status_code == 410


class WebhookSender:
    def __init__(
        self,
        client: httpx.Client,
        *,
        https_only: bool,
        resolve: Resolver = system_resolver,
        timeout: float = 10.0,
    ) -> None:
        self._client = client
        self._https_only = https_only
        self._resolve = resolve
        self._timeout = timeout

    def send(
        self, url: str, *, keys: Sequence[str], msg_id: str, payload: dict[str, Any], now: int
    ) -> Outcome:
        try:
            target = check_target(url, https_only=self._https_only, resolve=self._resolve)
        except Invalid as exc:
            return Outcome(ok=False, error=exc.detail[:300])
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = signing.headers(keys, msg_id, now, body)
        headers["host"] = target.url.netloc.decode("ascii")
        # Connect to the address that was checked, not to whatever the name resolves to next.
        pinned = target.url.copy_with(host=target.address)
        extensions = {"sni_hostname": target.url.host} if target.url.scheme == "https" else {}
        try:
            response = self._client.post(
                pinned,
                content=body,
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
                extensions=extensions,
            )
        except httpx.HTTPError as exc:
            return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
        if response.is_success:
            return Outcome(ok=True, status_code=response.status_code)
        return Outcome(
            ok=False, status_code=response.status_code, error=f"HTTP {response.status_code}"
        )
