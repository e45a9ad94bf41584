"""The worker: offer expiry, auto-close, overdue flags and notification delivery.

Embedded in the web process for the SQLite default; `python -m app.worker` processes against
PostgreSQL, as many as needed: they never process the same row at once (row leases and
FOR UPDATE SKIP LOCKED), and a worker killed mid-task loses nothing.
"""
