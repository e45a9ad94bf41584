"""The hand-written part of the client: transport, sign-in and RFC 9457 errors."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx


class ProblemError(Exception):
    """An RFC 9457 problem answer: `status`, `code` (stable), `detail` and the rest."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code: str | None = problem.get("code")
        self.detail: str = str(problem.get("detail") or problem.get("title") or status)
        super().__init__(f"{status} {self.code}: {self.detail}")


class BaseClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        api_key: str | None = None,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._owns_http = http is None
        self.token = token
        self.api_key = api_key

    def login(self, username: str, password: str) -> None:
        """Sign in with a password; later calls carry the token."""
        answer = self._call(
            "POST", "/api/v1/auth/token", data={"username": username, "password": password}
        )
        self.token = str(answer["access_token"])

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> httpx.Response:
        sent = {k: str(v) for k, v in (headers or {}).items() if v is not None}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        if self.api_key:
            sent["X-API-Key"] = self.api_key
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = self._http.request(
            method, url, params=query, headers=sent, json=json, data=data, files=files
        )
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text}
            raise ProblemError(
                response.status_code, problem if isinstance(problem, dict) else {"detail": problem}
            )
        return response

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self._request(method, url, **kwargs)
        return response.json() if response.content else None

    def _raw(self, method: str, url: str, **kwargs: Any) -> bytes:
        return self._request(method, url, **kwargs).content

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
