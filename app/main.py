"""The application factory: settings, database, adapters, routers and the error handler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError

from app.accounts.router import router as accounts_router
from app.activities.router import router as activities_router
from app.apikeys.router import router as apikeys_router
from app.auth.router import router as auth_router
from app.catalog.router import router as catalog_router
from app.certificates.router import router as certificates_router
from app.common.crypto import SensitiveCodec
from app.common.heap import freeze_startup_heap
from app.common.refcache_notify import Listener, libpq_dsn
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.dispatch.router import router as dispatch_router
from app.errors import install_error_handlers, problem_response
from app.health import install_metrics
from app.health import router as health_router
from app.integrations.national.import_router import router as imports_router
from app.integrations.national.push_router import router as push_router
from app.integrations.national.router import router as exports_router
from app.integrations.sms import HttpSmsSender, LogSmsSender, SmsSender
from app.integrations.webhooks import WebhookSender
from app.integrations.wechat import WeChatClient
from app.open311.router import router as open311_router
from app.orders.router import router as orders_router
from app.points.router import router as points_router
from app.records.router import router as records_router
from app.regions.router import router as regions_router
from app.scoring.honours import router as honours_router
from app.scoring.leaderboards import router as leaderboards_router
from app.scoring.router import router as scoring_router
from app.scoring.star_router import router as star_router
from app.sites.router import router as sites_router
from app.sync.router import router as sync_router
from app.teams.projects import router as projects_router
from app.teams.router import router as teams_router
from app.volunteers.router import router as volunteers_router
from app.webhooks.router import router as webhooks_router
from app.webhooks.targets import Resolver, system_resolver
from app.worker.runner import Worker, build_notifier, build_pusher

API_PREFIX = "/api/v1"
log = logging.getLogger(__name__)


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def _default_sms_sender(settings: Settings, http: httpx.Client) -> SmsSender | None:
    if settings.sms_gateway_url:
        token = (
            settings.sms_gateway_token.get_secret_value() if settings.sms_gateway_token else None
        )
        return HttpSmsSender(http, settings.sms_gateway_url, token)
    # Codes in the log are for local development only: production needs a gateway for SMS login.
    return None if settings.is_production else LogSmsSender()


def _default_wechat_client(settings: Settings, http: httpx.Client) -> WeChatClient | None:
    if not (settings.wechat_app_id and settings.wechat_app_secret):
        return None
    return WeChatClient(
        http,
        app_id=settings.wechat_app_id,
        app_secret=settings.wechat_app_secret.get_secret_value(),
        base_url=settings.wechat_api_base,
    )


def create_app(
    settings: Settings | None = None,
    *,
    http_client: httpx.Client | None = None,
    webhook_resolver: Resolver = system_resolver,
) -> FastAPI:
    """Build the app. `http_client` carries every outside call (SMS, WeChat, webhooks); tests
    pass one whose transport is an httpx.MockTransport, production the default client.
    `webhook_resolver` turns webhook host names into the addresses that are checked."""
    settings = settings or get_settings()
    engine = make_engine(settings)
    http = http_client or httpx.Client(follow_redirects=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if settings.run_embedded_worker:
            worker = Worker(
                app.state.sessionmaker,
                settings,
                build_notifier(settings, http),
                webhooks=WebhookSender(
                    http, https_only=settings.webhook_https_only_value, resolve=webhook_resolver
                ),
                pusher=build_pusher(settings, http),
            )
            worker.start_in_background()
        listener = None
        if engine.dialect.name == "postgresql":
            listener = Listener(libpq_dsn(engine.url))
            listener.start()
        freeze_startup_heap()
        yield
        if listener is not None:
            listener.stop()
        if worker is not None:
            worker.stop()
        http.close()
        engine.dispose()

    app = FastAPI(
        title="diandan 点单",
        version="0.1.0",
        summary="点单 → 派单 → 接单 → 评单: volunteer service requests, dispatch and scoring",
        generate_unique_id_function=_operation_id,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.webhook_resolver = webhook_resolver
    app.state.sessionmaker = make_sessionmaker(
        engine,
        reference_ttl=settings.reference_cache_seconds,
        principal_ttl=settings.principal_cache_seconds,
    )
    app.state.codec = SensitiveCodec(settings.data_key_value)
    app.state.sms_sender = _default_sms_sender(settings, http)
    app.state.wechat_client = _default_wechat_client(settings, http)

    install_error_handlers(app)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # Reached only when a concurrent request won a race that the service checks could not see.
        log.info("integrity conflict on %s: %s", request.url.path, exc.orig)
        return problem_response(
            status=409,
            title="Conflict",
            code="concurrent_conflict",
            detail="数据已被并发修改,请重试 / a concurrent change conflicted with this one; retry",
            request=request,
        )

    install_metrics(app, api_prefix=API_PREFIX)
    app.include_router(health_router)
    for router in (
        auth_router,
        accounts_router,
        regions_router,
        catalog_router,
        sites_router,
        teams_router,
        projects_router,
        volunteers_router,
        orders_router,
        dispatch_router,
        scoring_router,
        star_router,
        records_router,
        leaderboards_router,
        honours_router,
        points_router,
        activities_router,
        certificates_router,
        apikeys_router,
        sync_router,
        webhooks_router,
        exports_router,
        imports_router,
        open311_router,
        push_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    return app
