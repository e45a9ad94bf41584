"""Notifications: written to an outbox in the change's transaction, delivered after commit."""
