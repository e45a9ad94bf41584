from __future__ import annotations

from fastapi.testclient import TestClient


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    client.get("/api/v1/categories")
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert (
        'http_requests_total{method="GET",route="/api/v1/categories",status="200"}' in metrics.text
    )
