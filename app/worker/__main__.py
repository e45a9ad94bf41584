"""`python -m app.worker`: a worker process. Run one or several against PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
import signal

import httpx

from app.config import get_settings
from app.db import make_engine, make_sessionmaker
from app.integrations.webhooks import WebhookSender
from app.worker.runner import Worker, build_notifier, build_pusher


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    settings = get_settings()
    engine = make_engine(settings)
    with httpx.Client(follow_redirects=False) as http:
        worker = Worker(
            make_sessionmaker(engine),
            settings,
            build_notifier(settings, http),
            webhooks=WebhookSender(http, https_only=settings.webhook_https_only_value),
            pusher=build_pusher(settings, http),
        )
        signal.signal(signal.SIGTERM, lambda *_: worker.stop())
        with contextlib.suppress(KeyboardInterrupt):
            worker.run_forever()
    engine.dispose()


if __name__ == "__main__":
    main()
