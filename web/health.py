"""Operational endpoints: health, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from web import keys

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 (with the reason) when it does not."""
    try:
        async with request.app[keys.ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as err:  # any failure means "not healthy"; say which
        log.warning("health check: database unreachable: %s", err)
        return web.json_response(
            {"status": "unavailable", "database": f"error: {type(err).__name__}"}, status=503
        )
    return web.json_response({"status": "ok", "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of this node's metrics."""
    body = generate_latest(request.app[keys.METRICS_REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI document."""
    return web.json_response(request.app[keys.OPENAPI])


@web.middleware
async def metrics_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Count and time every request by its route template."""
    started = time.perf_counter()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    status = 500
    try:
        response: web.StreamResponse = await handler(request)
        status = response.status
        return response
    except web.HTTPException as err:
        status = err.status
        raise
    finally:
        m = request.app[keys.METRICS]
        m.requests.labels(request.method, route, str(status)).inc()
        m.latency.labels(request.method, route).observe(time.perf_counter() - started)
