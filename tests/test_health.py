from __future__ import annotations

import gc

from fastapi import FastAPI
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


def test_a_started_app_has_frozen_its_startup_heap(app: FastAPI) -> None:
    """Full collections then skip the imports' objects (`app.common.heap`)."""
    with TestClient(app) as started:  # runs the lifespan
        assert started.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 0
