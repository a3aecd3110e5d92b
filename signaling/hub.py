"""The Socket.IO hub: the server, its namespaces, the shared room state, grace timers, and what the
HTTP side tells the live side (a consult ended, messages to deliver).

One per application; created by `web/app.py`, started once the database is up, stopped on shutdown.
With `REDIS_URL` the Socket.IO manager and the room state go through Redis, so several nodes serve
the same rooms and queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import socketio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from consult.access import Actor
from consult.messaging import Conversation, Message
from consult.retention import RetentionPolicy
from consult.waiting_room import GRACE_PERIOD, Presence, QueueEntry, queue_order
from media.turn import IceSettings
from signaling import wire_json
from signaling.cache import TtlCache
from signaling.chat_namespace import NAMESPACE as CHAT
from signaling.chat_namespace import ChatNamespace, TeamInfo, deliver_now
from signaling.consult_namespace import NAMESPACE as CONSULT
from signaling.consult_namespace import ConsultNamespace
from signaling.media_router import MediaRouter
from signaling.metrics import HubMetrics
from signaling.namespace import HubBusy
from signaling.presenters import queue_json
from signaling.state import MemoryState, RedisState, RoomState
from signaling.writer import MessageWriter
from storage import audit, consults, messages
from storage.blobstore import BlobStore
from storage.db import SqliteWriteThread, create_engine, create_sessionmaker
from storage.people import load_actor

if TYPE_CHECKING:
    from media.pool import MediaPool

log = logging.getLogger(__name__)

GraceCallback = Callable[[int, int], Awaitable[None]]


class Hub:
    """Owns the Socket.IO server and everything live: see the module docstring."""

    def __init__(
        self,
        *,
        blobs: BlobStore,
        verify_token: Callable[[str], int],
        clock: Callable[[], datetime],
        timezone: str,
        redis_url: str | None = None,
        redis_prefix: str = "jiayi",
        grace_period_s: float = GRACE_PERIOD.total_seconds(),
        event_rate: float = 10.0,
        event_burst: float = 30.0,
        metrics: HubMetrics | None = None,
        cache_ttl_s: float = 300.0,
        max_in_flight: int = 16,
        busy_wait_s: float = 5.0,
        ice: IceSettings | None = None,
        retention: RetentionPolicy | None = None,
    ) -> None:
        manager = (
            socketio.AsyncRedisManager(redis_url, channel=f"{redis_prefix}:socketio") if redis_url else None
        )
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            client_manager=manager,
            max_http_buffer_size=256 * 1024,
            # Socket.IO's defaults: pings cost CPU per connection (13% idle at 10 s with 2,000 clients).
            ping_interval=25,
            ping_timeout=20,
            logger=False,
            engineio_logger=False,
            json=wire_json,
            serializer=wire_json.JsonPacket,
        )
        self.verify_token = verify_token
        self.clock = clock
        self.timezone = timezone
        self.grace_period_s = grace_period_s
        self.event_rate = event_rate
        self.event_burst = event_burst
        self.redis_url = redis_url
        self.state: RoomState = RedisState(redis_url, redis_prefix) if redis_url else MemoryState()
        self.chat = ChatNamespace(CHAT, self)
        self.consult = ConsultNamespace(CONSULT, self)
        self.sio.register_namespace(self.chat)
        self.sio.register_namespace(self.consult)
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._side_sessions: async_sessionmaker[AsyncSession] | None = None
        self._side_engine: AsyncEngine | None = None
        self._serial: asyncio.Lock | None = None
        self._timers: dict[tuple[int, int], asyncio.Task[None]] = {}
        #: Events in their database transaction at once: no more than the connection pool holds, so an
        #: overloaded node answers "busy" quickly instead of timing out on the pool after 30 s.
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self.busy_wait_s = busy_wait_s
        self.metrics = metrics or HubMetrics()
        # What every event would read again otherwise; see signaling/cache.py. Changes made through
        # Jiayi call `invalidate`; `cache_ttl_s` bounds how long one made outside it goes unseen.
        #: Who a user is on a given day (role, teams, bindings, referred residents).
        self.actors: TtlCache[tuple[int, date], Actor | None] = TtlCache(cache_ttl_s)
        #: Who receives a care-team conversation's messages.
        self.members: TtlCache[int, dict[int, str]] = TtlCache(cache_ttl_s)
        #: Everyone ever admitted to a consult (its chat's members).
        self.participants: TtlCache[int, frozenset[int]] = TtlCache(cache_ttl_s)
        #: Conversations themselves never change.
        self.conversations: TtlCache[int, Conversation | None] = TtlCache(3600)
        #: Each team's members on duty, red flags and emergency path.
        self.teams: TtlCache[int, TeamInfo] = TtlCache(min(cache_ttl_s, 2.0))
        #: The sensitive-word list.
        self.words: TtlCache[str, list[str]] = TtlCache(cache_ttl_s)
        self._listener: asyncio.Task[None] | None = None
        #: Where each consult's media lives; `web/app.py` gives it this node's media workers.
        self.media_router = MediaRouter(redis_url=redis_url, prefix=redis_prefix)
        #: The encrypted blob store (recording segments) and how long recordings are kept.
        self.blobs = blobs
        self.retention = retention or RetentionPolicy()
        self.media_router.blob_root = str(self.blobs.root)
        self.media_router.key_source = self._recording_key
        #: The STUN/TURN servers clients are told about.
        self.ice = ice or IceSettings()
        #: Stores chat messages with group commit (see signaling/writer.py).
        self.writer = MessageWriter(self._store_messages)
        self._sqlite_writer: SqliteWriteThread | None = None

    # --- life cycle -------------------------------------------------------------------------------

    async def start(self, sessions: async_sessionmaker[AsyncSession], serial: asyncio.Lock | None) -> None:
        """Give the hub its database (the same sessions and SQLite write turn as the HTTP API) and,
        with several nodes, check Redis answers now rather than at the first event."""
        self._sessions, self._serial = sessions, serial
        # Writes that events wait for (the message writer, a message's alerts) get connections of
        # their own: an event holding a pooled connection while it waits for them must never starve
        # them of one (16 such events would empty the main pool, and each would wait for the others).
        bind = sessions.kw["bind"]
        self._side_engine = create_engine(bind.url.render_as_string(hide_password=False), pool_size=2)
        self._side_sessions = create_sessionmaker(self._side_engine)
        if bind.dialect.name == "sqlite":
            self._sqlite_writer = SqliteWriteThread(bind.url.render_as_string(hide_password=False))
        await self.state.ping()
        self._listener = await self.state.listen(self._forget)
        self.writer.start()
        await self.media_router.start()

    async def stop(self) -> None:
        """Write the messages queued, cancel every grace timer and close the shared state."""
        await self.writer.stop()
        await self.media_router.stop()
        timers = list(self._timers.values())
        self._timers.clear()
        for task in timers:
            task.cancel()
        if self._listener is not None:
            timers.append(self._listener)
            self._listener.cancel()
            self._listener = None
        await asyncio.gather(*timers, return_exceptions=True)
        await self.state.close()
        if self._side_engine is not None:
            await self._side_engine.dispose()
        if self._sqlite_writer is not None:
            await self._sqlite_writer.close()
            self._sqlite_writer = None

    @property
    def timer_count(self) -> int:
        """Grace timers running (tests check nothing leaks)."""
        return len(self._timers)

    @contextlib.asynccontextmanager
    async def event_slot(self) -> AsyncIterator[None]:
        """A place among the events running now, or `HubBusy` after waiting `busy_wait_s`."""
        try:
            if self._in_flight.locked():  # only a full hub pays for wait_for's task and timer
                await asyncio.wait_for(self._in_flight.acquire(), self.busy_wait_s)
            else:
                await self._in_flight.acquire()
        except TimeoutError as err:
            raise HubBusy(
                f"the server is busy; retry in a few seconds (waited {self.busy_wait_s:g} s)"
            ) from err
        try:
            yield
        finally:
            self._in_flight.release()

    @contextlib.asynccontextmanager
    async def transaction(self, *, writes: bool = True) -> AsyncIterator[AsyncSession]:
        """One database transaction, taking the SQLite write turn when it may write (on SQLite in WAL
        mode readers never wait for the writer, nor it for them)."""
        if self._sessions is None:
            raise RuntimeError("the hub has not been started")
        turn = self._serial if writes and self._serial is not None else contextlib.nullcontext()
        async with turn:
            session = self._sessions()
            # The transaction begins with the first statement (SQLAlchemy's autobegin), not here: most
            # events find all they read in the hub's caches, and a transaction begun, committed and
            # closed for nothing costs three trips through SQLAlchemy's greenlet bridge per event.
            used = False
            try:
                yield session
                used = session.in_transaction()
                if used:
                    await session.commit()
            except BaseException:
                used = used or session.in_transaction()
                raise
            finally:
                if used:
                    await session.close()  # and so roll back what was not committed

    @contextlib.asynccontextmanager
    async def side_transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction on the hub's own small pool, for writes events wait for (see `start`)."""
        if self._side_sessions is None:
            raise RuntimeError("the hub has not been started")
        async with (
            self._serial or contextlib.nullcontext(),
            self._side_sessions() as session,
            session.begin(),
        ):
            yield session

    async def _store_messages(self, batch: list[messages.NewMessage]) -> list[tuple[Message, bool]]:
        """The message writer's store: one transaction, on SQLite on the writer's own connection."""
        if self._sqlite_writer is not None:
            async with self._serial or contextlib.nullcontext():
                return await self._sqlite_writer.run(
                    lambda connection: messages.add_messages_sync(connection, batch)
                )
        async with self.side_transaction() as session:
            return await messages.add_messages(session, batch)

    async def _recording_key(self, key_id: str) -> tuple[str, bytes]:
        async with self.transaction(writes=False) as session:
            return await self.blobs.data_key(session, key_id)

    def today(self, now: datetime | None = None) -> date:
        """The service's date."""
        return (now or self.clock()).astimezone(ZoneInfo(self.timezone)).date()

    async def audit_separately(self, record: audit.AuditRecord, at: datetime) -> None:
        """Commit an audit entry on its own (for refusals, whose transaction rolled back)."""
        async with self.transaction() as session:
            await audit.append(session, record, at=at)

    @property
    def media(self) -> MediaPool | None:
        """This node's media workers (None: video is off here)."""
        return self.media_router.pool

    # --- caches -------------------------------------------------------------------------------------

    async def invalidate(self, cache: str, key: int | None = None) -> None:
        """A change made cached entries stale: drop them here and on every other node.

        `cache` is "actors" (key: a user id), "participants" (a consult id), "members" (a
        conversation id), "teams" (a team id) or "words"; no key drops the whole cache.
        """
        announcement = {"cache": cache, "key": key}
        self._forget(announcement)
        await self.state.announce(announcement)

    async def evict(self, consult_id: int, user_id: int) -> None:
        """A participant was removed: take every connection of theirs out of the consult's room, here
        and on every other node, so they hear nothing more of it (presence, recording, media)."""
        announcement = {"evict": {"consult_id": consult_id, "user_id": user_id}}
        self._forget(announcement)
        await self.state.announce(announcement)

    def _forget(self, announcement: dict[str, Any]) -> None:
        if isinstance(evicted := announcement.get("evict"), dict):
            self.consult.evict(int(evicted["consult_id"]), int(evicted["user_id"]))
            return
        cache, key = announcement.get("cache"), announcement.get("key")
        caches: dict[str, TtlCache[Any, Any]] = {
            "actors": self.actors,
            "participants": self.participants,
            "members": self.members,
            "teams": self.teams,
            "words": self.words,
        }
        target = caches.get(str(cache))
        if target is None:
            log.warning("unknown cache in announcement %r", announcement)
        elif key is None:
            target.clear()
        elif cache == "actors":
            target.forget_if(lambda k: k[0] == key)
        else:
            target.forget(key)

    async def actor(self, session: AsyncSession, user_id: int, today: date) -> Actor | None:
        """Who the user is today, from the cache or the database."""
        return await self.actors.get((user_id, today), lambda: load_actor(session, user_id, today))

    # --- grace periods ------------------------------------------------------------------------------

    def start_grace(self, consult_id: int, user_id: int, expired: GraceCallback) -> None:
        """After the grace period, call `expired` unless the user came back first."""
        self.cancel_grace(consult_id, user_id)
        key = (consult_id, user_id)

        async def wait() -> None:
            try:
                await asyncio.sleep(self.grace_period_s)
                await expired(consult_id, user_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consult %s: grace period of user %s failed", consult_id, user_id)
            finally:
                if self._timers.get(key) is task:
                    del self._timers[key]

        task = asyncio.get_running_loop().create_task(wait(), name=f"grace-{consult_id}-{user_id}")
        self._timers[key] = task

    def cancel_grace(self, consult_id: int, user_id: int) -> None:
        """The user is back: stop their grace timer on this node (other nodes' timers check the state)."""
        task = self._timers.pop((consult_id, user_id), None)
        if task is not None:
            task.cancel()

    # --- queues -----------------------------------------------------------------------------------

    async def broadcast_queue(self, team_id: int) -> None:
        """Send the team's queue to everyone watching it."""
        entries = queue_order(await self.state.queue(team_id))
        await self.sio.emit(
            "queue",
            {"team_id": team_id, "queue": queue_json(entries, self.clock())},
            room=f"queue:{team_id}",
            namespace=CONSULT,
        )

    async def _entry_of(self, consult_id: int) -> QueueEntry | None:
        async with self.transaction() as session:
            consult = await consults.get(session, consult_id)
        if consult is None or consult.team_id is None:
            return None
        return next((e for e in await self.state.queue(consult.team_id) if e.consult_id == consult_id), None)

    async def broadcast_queue_of(self, consult_id: int, *, reconnecting_user: int | None = None) -> None:
        """A waiting resident's connection changed: mark them in the queue and tell the watchers."""
        entry = await self._entry_of(consult_id)
        if entry is None:
            return
        if reconnecting_user == entry.user_id:
            await self.state.enqueue(replace(entry, presence=Presence.RECONNECTING))
        await self.broadcast_queue(entry.team_id)

    async def drop_from_queue(self, consult_id: int, user_id: int) -> None:
        """Take a resident who did not come back out of the queue."""
        entry = await self._entry_of(consult_id)
        if entry is not None and entry.user_id == user_id:
            await self.state.dequeue(entry.team_id, consult_id)
            await self.broadcast_queue(entry.team_id)

    # --- what the HTTP side tells the live side -----------------------------------------------------

    async def consult_ended(
        self, consult_id: int, team_id: int | None, next_task_due: date | None = None
    ) -> None:
        """Tell the room the consult is over (and when the next follow-up is due) and forget its
        live state."""
        body = {
            "consult_id": consult_id,
            "next_task_due": next_task_due.isoformat() if next_task_due else None,
        }
        await self.sio.emit("ended", body, room=f"consult:{consult_id}", namespace=CONSULT)
        if team_id is not None and await self.state.dequeue(team_id, consult_id) is not None:
            await self.broadcast_queue(team_id)
        await self.state.forget_room(consult_id)
        for key in [k for k in self._timers if k[0] == consult_id]:
            self.cancel_grace(*key)
        self.consult.finish_media(consult_id)

    async def deliver(self, batches: list[tuple[Any, list[int]]]) -> None:
        """Deliver stored messages (e.g. a broadcast) to their recipients' connections."""
        for message, user_ids in batches:
            await deliver_now(self.sio, message, user_ids)
