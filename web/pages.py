"""The pages: static HTML shells that fetch their data from the API with the bearer token."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)

PAGES = Path(__file__).with_name("pages")
STATIC = Path(__file__).with_name("static")
#: Browser packages installed by `npm ci` (see package.json); served as they are, no build step.
VENDOR = Path(__file__).resolve().parents[1] / "node_modules" / "socket.io-client" / "dist"

#: route → page file
ROUTES = {
    "/login": "login.html",
    "/workbench": "workbench.html",
    "/residents/{resident_id}": "record.html",
    "/home": "home.html",
    "/chat": "chat.html",  # the resident's (or proxy's) conversation with the care team
    "/inbox": "inbox.html",  # the doctor's conversations, waiting queue, duty switch and broadcasts
    "/consults/{consult_id}": "room.html",  # check-in, waiting, and the consult room
    "/join/{token}": "join.html",  # a specialist's invite link
    "/review": "recordings.html",  # recordings to review (compliance), or one's own (resident, proxy)
    "/review/{recording_id}": "recording.html",  # one recording: purpose, playback, timeline, holds
}


def _page(name: str) -> Handler:
    path = PAGES / name

    async def handler(request: web.Request) -> web.FileResponse:
        response = web.FileResponse(path, headers={"Cache-Control": "no-cache"})
        response.content_type = "text/html"
        response.charset = "utf-8"
        return response

    return handler


async def root(request: web.Request) -> web.Response:
    """The site's entry: the login page decides where each user goes next."""
    raise web.HTTPFound("/login")


def add_routes(app: web.Application) -> None:
    """Serve the pages and /static."""
    app.router.add_get("/", root)
    for route, name in ROUTES.items():
        app.router.add_get(route, _page(name))
    if VENDOR.is_dir():  # before /static, which would otherwise claim the prefix
        app.router.add_static("/static/vendor", VENDOR, append_version=True)
    else:
        log.warning("%s is missing: run `npm ci` (make does); live pages will not connect", VENDOR)
    app.router.add_static("/static", STATIC, append_version=True)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Pages load nothing from elsewhere; say so to the browser, and keep health data out of caches."""
    response = await handler(request)
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "connect-src 'self' ws: wss:; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response
