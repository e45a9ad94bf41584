"""The ASGI entry point for uvicorn: `uvicorn app.asgi:app`."""

import logging

from app.main import create_app


def _application_log() -> None:
    """uvicorn configures only its own loggers. The application's (API key use, integrity
    conflicts, notification delivery in development) go to stderr beside them, at INFO."""
    logger = logging.getLogger("app")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


_application_log()
app = create_app()
