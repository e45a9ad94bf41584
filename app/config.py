"""Settings from environment variables, with safe production defaults."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.integrations.national.personal import PersonalData
from app.scoring.rules import DEFAULT_STAR_HOURS, ScoreSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'diandan.db'}"

# Development-only secrets. Production refuses to start with them (see `_refuse_unsafe_production`).
SERVICE_TIME_RULE = "实际服务时长,不含往返路途时间 / actual time spent serving, travel excluded"

DEV_SECRET_KEY = "dev-only-secret-key-never-use-in-production-0123456789"  # noqa: S105
DEV_DATA_KEY = "ZGV2LW9ubHktZGF0YS1rZXktMzItYnl0ZXMtbG9uZyE="


class WeChatTemplate(BaseModel):
    template_id: str
    fields: dict[str, str] = Field(default_factory=lambda: {"thing1": "text"})


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIANDAN_", extra="ignore")

    env: Environment = Environment.PRODUCTION
    database_url: str = Field(
        default=DEFAULT_SQLITE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "DIANDAN_DATABASE_URL"),
    )
    db_pool_size: int = 10

    # Signs access tokens (HS256). Required in production.
    secret_key: SecretStr | None = None
    # 32 bytes, base64: encrypts ID and phone numbers at rest and keys their lookup hashes.
    data_key: SecretStr | None = None

    jwt_issuer: str = "diandan"
    jwt_audience: str = "diandan-api"
    access_token_minutes: int = 12 * 60

    # Password sign-in: this many wrong passwords for one username within the window, and the
    # username is refused (429) until the oldest of them is older than the window.
    login_max_failures: int = 10
    login_lockout_minutes: int = 15

    sms_code_ttl_seconds: int = 300
    sms_code_resend_seconds: int = 60
    sms_code_max_attempts: int = 5
    # Empty: codes are written to the log (development only). Otherwise an HTTP SMS gateway.
    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None

    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    # Subscribe-message templates by notification topic, as JSON in the environment, e.g.
    # {"order.status_changed": {"template_id": "…", "fields": {"thing1": "title",
    #  "phrase2": "status_label", "thing3": "text"}}}: each template field names the payload
    # value it shows ("text" is the topic's sentence).
    wechat_templates: dict[str, WeChatTemplate] = Field(default_factory=dict)
    # Status notifications by SMS as well (through the SMS gateway); off by default, SMS costs.
    notify_by_sms: bool = False

    # How long a web process may serve a category's rules and a region's reviewing site from
    # memory; a change made through another process shows within this time. 0: always read.
    reference_cache_seconds: float = 5.0
    # How long a web process may trust who a signed-in caller is (account active, roles, admin
    # regions, volunteer status, teams) without reading it again. A change made in this process
    # applies at once; one made through another process (another uvicorn worker) within this
    # time. 0: read on every request.
    principal_cache_seconds: float = 5.0
    # 派单 and the timers the worker runs.
    offer_timeout_minutes: int = 30
    auto_close_days: int = 7
    idempotency_ttl_hours: int = 24
    # Run the worker inside the web process (the embedded SQLite default). With PostgreSQL,
    # run `python -m app.worker` processes instead. None: embedded for SQLite outside production.
    embedded_worker: bool | None = None
    worker_interval_seconds: float = 2.0
    stream_poll_seconds: float = 1.0
    stream_max_seconds: float = 300.0
    # How near the activity's place a phone check-in must be.
    activity_checkin_meters: int = Field(default=500, ge=10, le=100_000)
    # The activity record (志愿服务活动记录表) is due this many days after the activity ends.
    activity_report_days: int = Field(default=3, ge=1, le=60)
    # Where people reach the API (certificates' verification links and QR codes).
    public_base_url: str = "http://127.0.0.1:8000"
    # How long a leaderboard page may be served from this process's memory before it is read
    # from the totals again (0: always read). Boards lag records by at most this.
    leaderboard_cache_seconds: float = Field(default=10.0, ge=0, le=3600)

    # Exports to national platforms: "masked" personal numbers, or "full" where the receiving
    # system requires them (national registration is keyed by the ID number).
    export_personal_data: PersonalData = PersonalData.MASKED

    # The push connector to a national platform (off without a URL; https in production).
    national_push_url: str | None = None
    national_push_token: SecretStr | None = None
    national_push_batch: int = Field(default=200, ge=1, le=5000)
    national_push_max_attempts: int = Field(default=5, ge=1, le=20)
    # Runs (each of up to max_attempts tries) a batch may keep failing before it is parked as a
    # dead letter and the connector goes on with the next one.
    national_push_max_runs: int = Field(default=20, ge=1, le=10000)
    national_push_base_delay_seconds: float = Field(default=1.0, ge=0)
    national_push_timeout_seconds: float = Field(default=10.0, gt=0)

    # Webhooks: https only (None: in production only), when a failing subscription is disabled,
    # and how long a rotated secret keeps signing beside the new one.
    webhook_https_only: bool | None = None
    webhook_disable_after_hours: float = 120.0
    webhook_secret_grace_hours: float = 24.0

    # What counts as service time, as stated in the records API and on every record read.
    service_time_rule: str = Field(default=SERVICE_TIME_RULE, min_length=1, max_length=500)

    # Star levels by recorded hours, per jurisdiction (the common national scale by default).
    star_thresholds_hours: list[int] = Field(default_factory=lambda: list(DEFAULT_STAR_HOURS))
    # Grant stars as soon as hours qualify, instead of on an admin's review.
    star_auto_grant: bool = False
    # Team score (see app/scoring/rules.py).
    score_rating_prior_mean: float = 4.0
    score_rating_prior_weight: float = 5.0
    score_completion_prior_rate: float = 0.8
    score_completion_prior_weight: float = 3.0
    score_accept_target_hours: float = 2.0
    score_weight_rating: float = 0.5
    score_weight_completion: float = 0.2
    score_weight_speed: float = 0.15
    score_weight_regularity: float = 0.15

    @model_validator(mode="after")
    def _stars_ascend(self) -> Settings:
        stars = self.star_thresholds_hours
        if not stars or any(h <= 0 for h in stars) or stars != sorted(set(stars)):
            raise ValueError("DIANDAN_STAR_THRESHOLDS_HOURS must be positive and strictly rising")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env is not Environment.PRODUCTION:
            return self
        secret = self.secret_key.get_secret_value() if self.secret_key else ""
        if not secret or secret == DEV_SECRET_KEY or len(secret) < 32:
            raise ValueError(
                "DIANDAN_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (or set DIANDAN_ENV=development for local use)"
            )
        if self.national_push_url and not self.national_push_url.startswith("https://"):
            raise ValueError("DIANDAN_NATIONAL_PUSH_URL must be https in production")
        data_key = self.data_key.get_secret_value() if self.data_key else ""
        if not data_key or data_key == DEV_DATA_KEY:
            raise ValueError(
                "DIANDAN_DATA_KEY must be set to 32 random bytes, base64, in production"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def secret_key_value(self) -> str:
        return self.secret_key.get_secret_value() if self.secret_key else DEV_SECRET_KEY

    @property
    def data_key_value(self) -> str:
        return self.data_key.get_secret_value() if self.data_key else DEV_DATA_KEY

    @property
    def score_settings(self) -> ScoreSettings:
        return ScoreSettings(
            rating_prior_mean=self.score_rating_prior_mean,
            rating_prior_weight=self.score_rating_prior_weight,
            completion_prior_rate=self.score_completion_prior_rate,
            completion_prior_weight=self.score_completion_prior_weight,
            accept_target_hours=self.score_accept_target_hours,
            weight_rating=self.score_weight_rating,
            weight_completion=self.score_weight_completion,
            weight_speed=self.score_weight_speed,
            weight_regularity=self.score_weight_regularity,
        )

    @property
    def run_embedded_worker(self) -> bool:
        if self.embedded_worker is not None:
            return self.embedded_worker
        return self.is_sqlite and self.env is Environment.DEVELOPMENT

    @property
    def webhook_https_only_value(self) -> bool:
        return self.is_production if self.webhook_https_only is None else self.webhook_https_only

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
