from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.accounts.models import User
from tests.factories import Factory
from tests.orders.conftest import OrderWorld, ow

__all__ = ["Change", "Feed", "OrderWorld", "feed", "ow"]

FEED = "/api/v1/sync/changes"
Change = tuple[str, str, str]  # entity, entity_id, op


@dataclass
class Feed:
    """A reader of the change feed that checks, at every step, that the new changes are numbered
    without gaps and that walking them one page of one at a time gives the same changes."""

    client: TestClient
    make: Factory
    reader: User
    cursor: str = "0"
    origin: str = "0"
    log: list[dict[str, Any]] = field(default_factory=list)

    def page(self, cursor: str, limit: int, user: User | None = None) -> dict[str, Any]:
        response = self.client.get(
            FEED,
            params={"cursor": cursor, "limit": limit},
            headers=self.make.headers(user or self.reader),
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def drain(self, cursor: str, user: User | None = None) -> tuple[list[dict[str, Any]], str]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.page(cursor, 1000, user)
            items += page["items"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return items, cursor

    def start(self) -> None:
        """Skip what is in the feed so far; later steps report only what follows."""
        _, self.cursor = self.drain(self.cursor)
        self.origin, self.log = self.cursor, []

    def changes(self) -> list[dict[str, Any]]:
        """The changes since the last step, checked for order and resumability."""
        start = self.cursor
        whole, end = self.drain(start)
        first = int(start) + 1
        assert [c["seq"] for c in whole] == list(range(first, first + len(whole)))
        walked: list[dict[str, Any]] = []
        cursor = start
        while True:
            page = self.page(cursor, 1)
            walked += page["items"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        assert walked == whole
        assert cursor == end
        self.cursor = end
        self.log += whole
        return whole

    def step(self) -> list[Change]:
        return [(c["entity"], c["entity_id"], c["op"]) for c in self.changes()]

    def replay(self) -> None:
        """Read once more from where `start` left off: every step's changes, in step order."""
        assert self.drain(self.origin)[0] == self.log


@pytest.fixture
def feed(client: TestClient, make: Factory) -> Feed:
    return Feed(client=client, make=make, reader=make.platform_admin())
