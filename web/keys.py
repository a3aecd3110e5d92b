"""Every application-level object, each under a typed `web.AppKey` (aiohttp's "no singletons" advice)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from signaling.hub import Hub
from storage.blobstore import BlobStore
from storage.crypto import FieldProtector
from web.auth import LoginThrottle, TokenIssuer
from web.metrics import HttpMetrics
from web.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
#: SQLite only: API transactions take turns. Nearly every request writes (its audit entry), SQLite has one
#: writer, and writers that collide back off in SQLite's busy handler, which sleeps in growing steps:
#: seconds of tail latency under load (bench/api.py). Queueing in asyncio is first come, first served.
SQLITE_WRITES = web.AppKey("sqlite_writes", asyncio.Lock)
BLOBS = web.AppKey("blobs", BlobStore)
FIELDS = web.AppKey("fields", FieldProtector)
TOKENS = web.AppKey("tokens", TokenIssuer)
#: Signs the short-lived tickets that open a recording's tracks after an audited view or export.
TICKET_KEY = web.AppKey("ticket_key", bytes)
THROTTLE = web.AppKey("throttle", LoginThrottle)
#: The current time as aware UTC; tests replace it to control dates.
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
METRICS_REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)
METRICS = web.AppKey("metrics", HttpMetrics)
HUB = web.AppKey("hub", Hub)
#: The OpenAPI document, built once at start-up from the operation table.
OPENAPI = web.AppKey("openapi", dict[str, Any])
