from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError

from app.config import DEV_DATA_KEY, DEV_SECRET_KEY, Environment, Settings
from app.main import create_app

GOOD_SECRET = "s" * 40
GOOD_DATA_KEY = base64.b64encode(os.urandom(32)).decode()


def production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": Environment.PRODUCTION,
        "database_url": "sqlite://",
        "secret_key": GOOD_SECRET,
        "data_key": GOOD_DATA_KEY,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_production_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIANDAN_ENV", raising=False)
    assert Settings.model_fields["env"].default is Environment.PRODUCTION


@pytest.mark.parametrize(
    "overrides",
    [
        {"secret_key": None},
        {"secret_key": DEV_SECRET_KEY},
        {"secret_key": "short"},
        {"data_key": None},
        {"data_key": DEV_DATA_KEY},
    ],
    ids=["no-secret", "dev-secret", "short-secret", "no-data-key", "dev-data-key"],
)
def test_production_refuses_unsafe_secrets(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        production(**overrides)


def test_production_with_real_secrets_starts_without_dev_conveniences() -> None:
    app = create_app(production())
    assert app.state.sms_sender is None  # no codes in the log outside development
    assert app.state.wechat_client is None  # not configured


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIANDAN_ENV", "development")
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/x.db")
    settings = Settings()
    assert settings.env is Environment.DEVELOPMENT
    assert settings.database_url == "sqlite:////tmp/x.db"
