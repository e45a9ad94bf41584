"""Webhooks: integrators subscribe to change types; deliveries follow Standard Webhooks."""
