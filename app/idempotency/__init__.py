"""Idempotency-Key handling for writes a flaky mobile network may retry (IETF draft semantics)."""
