"""The served app's own log lines (API key use among them) reach the process's stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_the_asgi_entry_point_gives_the_application_log_a_handler(tmp_path: Path) -> None:
    script = (
        "import logging, app.asgi\n"
        "logging.getLogger('app.apikeys.usage').info('api_key.used key=k1 scope=changes:read')\n"
        "logging.getLogger('app.apikeys.usage').debug('not shown')\n"
    )
    env = {
        **os.environ,
        "DIANDAN_ENV": "test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'log.db'}",
        "DIANDAN_EMBEDDED_WORKER": "false",
    }
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "INFO app.apikeys.usage api_key.used key=k1 scope=changes:read" in done.stderr
    assert "not shown" not in done.stderr
