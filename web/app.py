"""The application factory: `create_app(settings)` wires storage, the API, pages and metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CollectorRegistry

from media.pool import MediaPool
from signaling.hub import Hub
from signaling.metrics import HubMetrics
from storage.blobstore import BlobStore
from storage.crypto import FieldProtector, MasterKey, derive_key
from storage.db import create_engine, create_sessionmaker
from web import (
    alerts,
    attachments,
    audit_trail,
    broadcasts,
    consults,
    contracts,
    fhir,
    followups,
    invites,
    keys,
    login,
    recordings,
    referrals,
    residents,
    standing_consents,
    workbench,
)
from web.api import Api, openapi
from web.auth import LoginThrottle, RedisFailureLog, TokenIssuer
from web.errors import error_middleware
from web.health import healthz, metrics, metrics_middleware, openapi_json
from web.metrics import HttpMetrics
from web.pages import add_routes as add_pages
from web.pages import security_headers
from web.retention import periodic_purge
from web.settings import Settings

log = logging.getLogger(__name__)

VERSION = "0.1.0"

#: Every module's operations, in the order the OpenAPI document lists them.
API = Api(
    [
        *login.api.operations,
        *residents.api.operations,
        *workbench.api.operations,
        *consults.api.operations,
        *followups.api.operations,
        *referrals.api.operations,
        *contracts.api.operations,
        *standing_consents.api.operations,
        *audit_trail.api.operations,
        *attachments.api.operations,
        *broadcasts.api.operations,
        *alerts.api.operations,
        *invites.api.operations,
        *recordings.api.operations,
        *fhir.api.operations,
    ]
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    engine = create_engine(settings.database_url)
    app[keys.ENGINE] = engine
    app[keys.SESSIONS] = create_sessionmaker(engine)
    if engine.dialect.name == "sqlite":
        app[keys.SQLITE_WRITES] = asyncio.Lock()
    log.info("database: %s", engine.url.render_as_string(hide_password=True))
    yield
    await engine.dispose()


async def _hub(app: web.Application) -> AsyncIterator[None]:
    hub = app[keys.HUB]
    await hub.start(app[keys.SESSIONS], app.get(keys.SQLITE_WRITES))
    yield
    await hub.stop()
    failures = app[keys.THROTTLE].log
    if isinstance(failures, RedisFailureLog):
        await failures.close()


#: How long shutdown waits for recordings being finished before closing the media workers.
MEDIA_SETTLE_S = 30.0


async def _media(app: web.Application) -> AsyncIterator[None]:
    """The media worker processes (video), when switched on; after the hub, which routes their events."""
    settings = app[keys.SETTINGS].media
    if settings is None:
        log.info("video is off (JIAYI_MEDIA_WORKERS=0): chat and consult rooms only")
        yield
        return
    hub = app[keys.HUB]
    pool = MediaPool(settings, hub.consult.on_media_event)
    await pool.start()
    hub.media_router.pool = pool
    try:
        yield
    finally:
        # Recordings being finished (a consult that just ended) get their last segments stored first.
        try:
            await asyncio.wait_for(hub.consult.settle_media(), MEDIA_SETTLE_S)
        except TimeoutError:
            log.warning(
                "media work still under way after %s s at shutdown: left to the workers' end", MEDIA_SETTLE_S
            )
        hub.media_router.pool = None
        await pool.close()


def blob_store(settings: Settings) -> BlobStore:
    """The node's encrypted blob store (its master key given, or derived from the secret)."""
    master = settings.master_key or derive_key(settings.secret_key, "jiayi blob master key")
    return BlobStore(settings.blob_dir, MasterKey(master, settings.cipher), settings.cipher)


def create_app(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> web.Application:
    """A Jiayi application for `settings`; `clock` replaces the wall clock (tests)."""
    app = web.Application(
        middlewares=[security_headers, metrics_middleware, error_middleware],
        client_max_size=settings.max_json_bytes,
    )
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock or _utcnow
    secret = settings.secret_key
    app[keys.BLOBS] = blob_store(settings)
    app[keys.FIELDS] = FieldProtector(
        encryption_key=derive_key(secret, "jiayi field encryption"),
        index_key=derive_key(secret, "jiayi field index"),
        cipher_name=settings.cipher,
    )
    app[keys.TOKENS] = TokenIssuer(derive_key(secret, "jiayi access tokens"), settings.token_ttl_s)
    app[keys.TICKET_KEY] = derive_key(secret, "jiayi playback tickets")
    recordings.setup(app)
    failures = RedisFailureLog(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
    app[keys.THROTTLE] = LoginThrottle(
        settings.login_max_failures,
        settings.login_max_failures_per_address,
        settings.login_window_s,
        failures,
    )
    registry = CollectorRegistry()
    app[keys.METRICS_REGISTRY] = registry
    app[keys.METRICS] = HttpMetrics(registry)
    app[keys.OPENAPI] = openapi(API, title="Jiayi (家医) API", version=VERSION)
    tokens = app[keys.TOKENS]
    app[keys.HUB] = hub = Hub(
        verify_token=lambda token: tokens.check(token, now=app[keys.CLOCK]().timestamp()).user_id,
        clock=app[keys.CLOCK],
        timezone=settings.timezone,
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        grace_period_s=settings.grace_period_s,
        cache_ttl_s=settings.cache_ttl_s,
        metrics=HubMetrics(registry),
        ice=settings.ice,
        blobs=app[keys.BLOBS],
        retention=settings.retention,
    )
    hub.sio.attach(app, socketio_path="socket.io")
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_hub)
    app.cleanup_ctx.append(_media)
    app.cleanup_ctx.append(periodic_purge)

    API.register(app)
    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    add_pages(app)
    return app
