"""The timeline as Server-Sent Events."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.orders.conftest import OrderWorld


def _read(client: TestClient, path: str, headers: dict[str, str]) -> tuple[int, str]:
    with client.stream("GET", path, headers=headers) as response:
        return response.status_code, "".join(response.iter_text())


def test_stream_replays_the_timeline_and_ends_with_the_order(
    ow: OrderWorld, client: TestClient
) -> None:
    w = ow.world
    order = ow.place()
    client.post(
        f"/api/v1/orders/{order['id']}/reject",
        json={"reason": "重复下单"},
        headers=ow.as_(w.station_admin),
    )
    status, text = _read(client, f"/api/v1/orders/{order['id']}/stream", ow.as_(w.resident))
    assert status == 200
    assert "id: 1\nevent: placed\n" in text
    assert "id: 2\nevent: rejected\n" in text
    assert '"reason": "重复下单"' in text

    _, resumed = _read(
        client, f"/api/v1/orders/{order['id']}/stream", {**ow.as_(w.resident), "Last-Event-ID": "1"}
    )
    assert "event: placed" not in resumed
    assert "id: 2\nevent: rejected\n" in resumed


def test_stream_is_scoped(ow: OrderWorld, client: TestClient) -> None:
    order = ow.place()
    stranger = ow.make.user(display_name="外人", home_region="140803100200")
    status, _ = _read(client, f"/api/v1/orders/{order['id']}/stream", ow.as_(stranger))
    assert status == 404


def test_an_open_order_streams_keep_alives_until_the_time_limit(
    ow: OrderWorld, client: TestClient
) -> None:
    ow.client.app.state.settings.stream_max_seconds = 2.0  # type: ignore[attr-defined]
    ow.client.app.state.settings.stream_poll_seconds = 0.05  # type: ignore[attr-defined]
    order = ow.place()
    status, text = _read(client, f"/api/v1/orders/{order['id']}/stream", ow.as_(ow.world.resident))
    assert status == 200
    assert text.startswith("retry: 3000\n\n")
    assert "event: placed" in text
    assert ": keep-alive" in text
