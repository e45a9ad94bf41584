"""The hand-written part of the client: transport, sign-in and RFC 9457 errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from enum import Enum
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote
from uuid import UUID

import httpx


class ProblemError(Exception):
    """An RFC 9457 problem answer. The standard members are attributes (`type`, `title`,
    `status`, `detail`, `instance`), as are diandan's `code` (stable, machine-readable) and
    `errors` (the fields of an invalid request); `problem` holds the whole answer, extensions
    such as `current_state` included. An answer that is no problem document (a proxy's HTML
    page) still raises, with its text as `detail`."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.problem: dict[str, Any] = dict(problem)
        self.status: int = int(problem.get("status") or status)
        self.type: str = str(problem.get("type") or "about:blank")
        self.title: str | None = problem.get("title")
        self.detail: str | None = problem.get("detail")
        self.instance: str | None = problem.get("instance")
        self.code: str | None = problem.get("code")
        self.errors: list[dict[str, Any]] = list(problem.get("errors") or [])
        super().__init__(f"{self.status} {self.code or self.title}: {self.detail or self.title}")


def _wire(value: Any) -> Any:
    """A parameter value as the contract spells it: ISO dates and times, UUIDs and enums as
    their text, lists item by item."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (UUID, Enum)):
        return str(value.value if isinstance(value, Enum) else value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return value


class BaseClient:
    """Sign in with `login()` (or give `token=` / `api_key=`); use as a context manager or
    `close()` it. Pass `http=` to bring an `httpx.Client` of your own (its base URL is used)."""

    def __init__(
        self,
        base_url: str = "",
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
        """Sign in with a password (`POST /api/v1/auth/token`); later calls carry the token."""
        answer = self._json(
            "POST", "/api/v1/auth/token", data={"username": username, "password": password}
        )
        self.token = str(answer["access_token"])

    @staticmethod
    def _path(template: str, values: Mapping[str, Any]) -> str:
        """The path with its parameters filled in, each percent-encoded as one segment."""
        for name, value in values.items():
            template = template.replace("{" + name + "}", quote(str(_wire(value)), safe=""))
        return template

    def _build(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> httpx.Request:
        sent = {k: str(_wire(v)) for k, v in (headers or {}).items() if v is not None}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        if self.api_key:
            sent["X-API-Key"] = self.api_key
        query = {k: _wire(v) for k, v in (params or {}).items() if v is not None}
        form = {k: _wire(v) for k, v in data.items() if v is not None} if data else None
        return self._http.build_request(
            method, url, params=query, headers=sent, json=json, data=form, files=files
        )

    @staticmethod
    def _raise_for_problem(response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if not isinstance(problem, dict):
            problem = {"detail": response.text or response.reason_phrase}
        raise ProblemError(response.status_code, problem)

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = self._http.send(self._build(method, url, **kwargs))
        self._raise_for_problem(response)
        return response

    def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        """The answer's JSON (None when it has no body)."""
        response = self._request(method, url, **kwargs)
        return response.json() if response.content else None

    def _raw(self, method: str, url: str, **kwargs: Any) -> bytes:
        """The answer's bytes (a file: CSV, PDF, JSON Lines ...)."""
        return self._request(method, url, **kwargs).content

    def _auto(self, method: str, url: str, **kwargs: Any) -> Any:
        """JSON when the answer is JSON, else its bytes: for operations that answer either."""
        response = self._request(method, url, **kwargs)
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media == "application/json" or media.endswith("+json"):
            return response.json()
        return response.content

    def _lines(self, method: str, url: str, **kwargs: Any) -> Iterator[str]:
        """A streamed answer (Server-Sent Events) line by line, as it comes."""
        response = self._http.send(self._build(method, url, **kwargs), stream=True)
        try:
            if response.status_code >= 400:
                response.read()
                self._raise_for_problem(response)
            yield from response.iter_lines()
        finally:
            response.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
