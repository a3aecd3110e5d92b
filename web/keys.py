"""Every application-level object, each under a typed `web.AppKey` (aiohttp's "no singletons" advice)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.blobstore import BlobStore
from storage.crypto import FieldProtector
from web.auth import LoginThrottle, TokenIssuer
from web.metrics import HttpMetrics
from web.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
BLOBS = web.AppKey("blobs", BlobStore)
FIELDS = web.AppKey("fields", FieldProtector)
TOKENS = web.AppKey("tokens", TokenIssuer)
THROTTLE = web.AppKey("throttle", LoginThrottle)
#: The current time as aware UTC; tests replace it to control dates.
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
METRICS_REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)
METRICS = web.AppKey("metrics", HttpMetrics)
