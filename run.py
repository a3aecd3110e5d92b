"""Jiayi's one entry point: `python run.py [serve|migrate|demo|create-user|verify-audit] ...`.

It reads settings from the environment, then starts the app or runs a command; nothing more.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import os
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from consult.roles import Role
from signaling.state import StateUnavailable
from storage import audit, demo, recordings
from storage.crypto import FieldProtector, derive_key
from storage.db import create_engine, create_sessionmaker
from storage.migrate import upgrade
from storage.models import TombstoneRow, UserRow
from storage.passwords import hash_password
from web import demo_recording
from web.app import blob_store, create_app
from web.retention import purge_expired
from web.settings import Settings, SettingsError, from_env

log = logging.getLogger("jiayi")


def _protector(settings: Settings) -> FieldProtector:
    return FieldProtector(
        encryption_key=derive_key(settings.secret_key, "jiayi field encryption"),
        index_key=derive_key(settings.secret_key, "jiayi field index"),
        cipher_name=settings.cipher,
    )


async def migrate(settings: Settings) -> None:
    """Bring the database schema up to date."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def load_demo(settings: Settings, *, only_if_empty: bool) -> bool:
    """Load the demo data set; returns whether it was loaded."""
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            if not await demo.is_empty(session):
                if only_if_empty:
                    return False
                raise SystemExit("the database already has users; demo data goes only into an empty database")
            today = datetime.now(ZoneInfo(settings.timezone)).date()
            await demo.load(session, _protector(settings), today, settings.timezone)
            await demo_recording.load(
                session, blob_store(settings), today, settings.timezone, settings.retention
            )
            return True
    finally:
        await engine.dispose()


async def create_user(
    settings: Settings, username: str, role: Role, display_name: str, password: str
) -> None:
    """Create an account (practitioner, resident and proxy links are made through the API or by an admin)."""
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            session.add(
                UserRow(
                    username=username,
                    password_hash=hash_password(password),
                    role=role.value,
                    display_name=display_name,
                )
            )
            await session.flush()
            await audit.append(
                session,
                audit.AuditRecord(
                    action="create",
                    entity_type="user",
                    entity_id=username,
                    detail={"role": role.value, "via": "run.py"},
                ),
            )
    finally:
        await engine.dispose()


async def purge(settings: Settings) -> tuple[list[recordings.Purged], list[TombstoneRow]]:
    """Destroy what expired now (the same job a node runs every JIAYI_PURGE_INTERVAL)."""
    engine = create_engine(settings.database_url)
    try:
        return await purge_expired(
            create_sessionmaker(engine),
            blob_store(settings),
            datetime.now(UTC),
            settings.timezone,
            settings.retention,
        )
    finally:
        await engine.dispose()


async def verify_audit(settings: Settings) -> int:
    """Walk the audit chain; exit status 0 when intact, 1 naming the first bad entry."""
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            report = await audit.verify_chain(session)
    finally:
        await engine.dispose()
    if report.ok:
        print(f"audit chain intact: {report.checked} entries verified")
        return 0
    print(
        f"audit chain BROKEN at entry {report.first_bad_seq}: {report.problem} "
        f"({report.checked} entries verified before it)"
    )
    return 1


async def _settle_memory(_: web.Application) -> None:
    """Once started, move what lives as long as the process (modules, the app, the ORM's mappings) out
    of the collector's sight, and collect young objects less often: a full collection walking those
    objects stalled every event for tens of milliseconds under load (bench/signaling.py shows it)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    # aiosqlite runs each statement on its own thread; a thread waiting for the GIL waits up to the
    # switch interval (5 ms by default) while the event loop is busy: 1 ms keeps database turns short.
    sys.setswitchinterval(0.001)


def _event_loop(choice: str) -> asyncio.AbstractEventLoop:
    """The server's event loop (`Settings.event_loop`). The hub spends most of its CPU in the loop's
    socket writes, wake-ups and thread hand-offs (every SQLite statement comes back from aiosqlite's
    thread through `call_soon_threadsafe`); uvloop does those in C, which took a chat message from
    1.58 to 1.31 ms of server CPU in bench/signaling.py."""
    if choice == "asyncio":
        return asyncio.new_event_loop()
    import uvloop

    return uvloop.new_event_loop()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it."""
    parser = argparse.ArgumentParser(prog="run.py", description="Jiayi (家医) teleconsultation server")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="migrate and serve (the default)")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="demo mode: a generated secret is kept under the data folder and demo data is "
        "loaded into an empty database",
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    sub.add_parser("migrate", help="bring the database schema up to date")
    demo_cmd = sub.add_parser("demo", help="load demo data into an empty database")
    demo_cmd.add_argument("--demo", action="store_true", default=True, help=argparse.SUPPRESS)
    user_cmd = sub.add_parser("create-user", help="create an account")
    user_cmd.add_argument("username")
    user_cmd.add_argument("--role", required=True, choices=[r.value for r in Role])
    user_cmd.add_argument("--name", required=True, help="display name (real name for practitioners)")
    user_cmd.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    sub.add_parser("purge", help="destroy recordings whose retention ran out (not those on legal hold)")
    sub.add_parser(
        "verify-audit", help="check the audit chain; names the first edited, inserted or removed entry"
    )
    args = parser.parse_args(argv)
    command = args.command or "serve"
    logging.basicConfig(
        level=os.environ.get("JIAYI_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    demo_mode = bool(getattr(args, "demo", False)) or command == "demo"
    try:
        settings = from_env(os.environ, demo=demo_mode)
    except SettingsError as err:
        print(f"jiayi: {err}", file=sys.stderr)
        return 2

    if command == "migrate":
        asyncio.run(migrate(settings))
        print("database is up to date")
    elif command == "demo":
        asyncio.run(migrate(settings))
        loaded = asyncio.run(load_demo(settings, only_if_empty=False))
        print("demo data loaded" if loaded else "demo data not loaded")
    elif command == "create-user":
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
        try:
            asyncio.run(create_user(settings, args.username, Role(args.role), args.name, password))
        except IntegrityError:
            print(f"jiayi: user {args.username!r} already exists", file=sys.stderr)
            return 2
        except ValueError as err:
            print(f"jiayi: {err}", file=sys.stderr)
            return 2
        print(f"user {args.username} created")
    elif command == "purge":
        purged, stones = asyncio.run(purge(settings))
        print(
            f"purged {len(purged)} recording(s)"
            + "".join(
                f"\n  recording {p.recording_id} (consult {p.consult_id}, "
                f"{p.segments} segments, expired {p.expired_on})"
                for p in purged
            )
        )
        print(
            f"purged {len(stones)} other record(s)"
            + "".join(
                f"\n  {s.kind} of {s.entity_type} {s.entity_id} (expired {s.expired_on})" for s in stones
            )
        )
    elif command == "verify-audit":
        return asyncio.run(verify_audit(settings))
    else:
        asyncio.run(migrate(settings))
        if demo_mode and asyncio.run(load_demo(settings, only_if_empty=True)):
            log.info("demo data loaded; log in as doctor / %s", demo.DEMO_PASSWORD)
        host = args.host or settings.host
        port = args.port or settings.port
        log.info(
            "Jiayi serving on http://%s:%d%s",
            host,
            port,
            f" (demo: log in as doctor / {demo.DEMO_PASSWORD})" if demo_mode else "",
        )
        app = create_app(settings)
        app.on_startup.append(_settle_memory)
        try:
            web.run_app(
                app, host=host, port=port, print=lambda _: None, loop=_event_loop(settings.event_loop)
            )
        except StateUnavailable as err:
            print(f"jiayi: {err}; check REDIS_URL", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
