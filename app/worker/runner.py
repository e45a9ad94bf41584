from __future__ import annotations

import logging
import os
import socket
import threading

import httpx
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.config import Settings
from app.integrations.national.push import PushClient, Pusher
from app.integrations.sms import HttpSmsNotifier
from app.integrations.webhooks import WebhookSender
from app.integrations.wechat import WeChatSubscribeSender
from app.notifications.channels import Notifier
from app.worker.tasks import run_once

log = logging.getLogger(__name__)


def build_notifier(settings: Settings, http: httpx.Client) -> Notifier:
    wechat = None
    if settings.wechat_app_id and settings.wechat_app_secret and settings.wechat_templates:
        wechat = WeChatSubscribeSender(
            http,
            app_id=settings.wechat_app_id,
            app_secret=settings.wechat_app_secret.get_secret_value(),
            base_url=settings.wechat_api_base,
        )
    sms = None
    if settings.notify_by_sms and settings.sms_gateway_url:
        token = (
            settings.sms_gateway_token.get_secret_value() if settings.sms_gateway_token else None
        )
        sms = HttpSmsNotifier(http, settings.sms_gateway_url, token)
    return Notifier(
        codec=SensitiveCodec(settings.data_key_value),
        wechat=wechat,
        wechat_templates=settings.wechat_templates,
        sms=sms,
    )


def build_pusher(settings: Settings, http: httpx.Client) -> Pusher | None:
    """The national push connector, when `DIANDAN_NATIONAL_PUSH_URL` is set."""
    if not settings.national_push_url:
        return None
    token = settings.national_push_token
    client = PushClient(
        http,
        url=settings.national_push_url,
        token=token.get_secret_value() if token else None,
        timeout=settings.national_push_timeout_seconds,
    )
    return Pusher(client, settings, SensitiveCodec(settings.data_key_value))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Worker:
    """Runs `run_once` every `worker_interval_seconds` until stopped."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        notifier: Notifier,
        *,
        webhooks: WebhookSender | None = None,
        pusher: Pusher | None = None,
    ) -> None:
        self._factory = factory
        self._settings = settings
        self._notifier = notifier
        self._webhooks = webhooks
        self._pusher = pusher
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_forever(self) -> None:
        name = worker_name()
        while not self._stop.is_set():
            try:
                run_once(
                    self._factory,
                    self._settings,
                    self._notifier,
                    worker_id=name,
                    now=utcnow(),
                    webhooks=self._webhooks,
                    pusher=self._pusher,
                )
            except Exception:
                log.exception("worker pass failed")
            self._stop.wait(self._settings.worker_interval_seconds)

    def start_in_background(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="diandan-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
