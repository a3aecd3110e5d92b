"""Live state every node must agree on: the waiting queues and who is in which consult room.

`MemoryState` serves one node; `RedisState` lets several nodes share it. Both count a user's
connections to a room, so a second tab or a reconnect on another node does not make them "leave".
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any, Protocol

import redis.asyncio as aioredis

from consult.consult import ConsultKind
from consult.waiting_room import Presence, QueueEntry, RoomMember

log = logging.getLogger(__name__)

#: What one node tells the others: which cache entries a change made stale (see `Hub.invalidate`), or
#: whose connections leave a consult's room (see `Hub.evict`).
Announcement = dict[str, Any]


class StateUnavailable(Exception):
    """The shared state (Redis) cannot be reached."""


class RoomState(Protocol):
    """Queues per team, members per consult room."""

    async def enqueue(self, entry: QueueEntry) -> None:
        """Add or replace a waiting resident."""

    async def dequeue(self, team_id: int, consult_id: int) -> QueueEntry | None:
        """Remove a waiting resident, returning the entry if it was there."""

    async def queue(self, team_id: int) -> list[QueueEntry]:
        """Everyone waiting for the team, unordered."""

    async def connect(self, consult_id: int, member: RoomMember) -> int:
        """Count one more connection of `member` to the room; returns their connection count."""

    async def disconnect(self, consult_id: int, user_id: int) -> int:
        """Count one connection fewer; returns how many the user still has."""

    async def forget_connections(self, consult_id: int, user_id: int) -> None:
        """Count none of the user's connections any more (they were removed from the room)."""

    async def set_presence(self, consult_id: int, user_id: int, presence: Presence, since: datetime) -> None:
        """Change a member's presence (reconnecting, left)."""

    async def members(self, consult_id: int) -> list[RoomMember]:
        """Everyone the room knows of, including those who left."""

    async def forget_room(self, consult_id: int) -> None:
        """Drop a room's state (the consult ended)."""

    async def close(self) -> None:
        """Release connections."""

    async def ping(self) -> None:
        """Raise `StateUnavailable` when the backing store does not answer."""

    async def announce(self, announcement: Announcement) -> None:
        """Tell the other nodes (nothing to do with one node)."""

    async def listen(self, handler: Callable[[Announcement], None]) -> asyncio.Task[None] | None:
        """Once subscribed, call `handler` with every announcement, in a task the caller cancels."""


def _entry_json(entry: QueueEntry) -> str:
    data = asdict(entry)
    data["checked_in_at"] = entry.checked_in_at.isoformat()
    return json.dumps(data)


def _entry(raw: str | bytes) -> QueueEntry:
    data = json.loads(raw)
    data["checked_in_at"] = datetime.fromisoformat(data["checked_in_at"])
    data["kind"] = ConsultKind(data["kind"])
    data["presence"] = Presence(data["presence"])
    return QueueEntry(**data)


def _member_json(member: RoomMember) -> str:
    data: dict[str, Any] = asdict(member)
    data["since"] = member.since.isoformat()
    return json.dumps(data)


def _member(raw: str | bytes) -> RoomMember:
    data = json.loads(raw)
    data["since"] = datetime.fromisoformat(data["since"])
    data["presence"] = Presence(data["presence"])
    return RoomMember(**data)


class MemoryState:
    """State for a single node."""

    def __init__(self) -> None:
        self._queues: dict[int, dict[int, QueueEntry]] = {}
        self._members: dict[int, dict[int, RoomMember]] = {}
        self._connections: dict[tuple[int, int], int] = {}

    async def enqueue(self, entry: QueueEntry) -> None:
        self._queues.setdefault(entry.team_id, {})[entry.consult_id] = entry

    async def dequeue(self, team_id: int, consult_id: int) -> QueueEntry | None:
        return self._queues.get(team_id, {}).pop(consult_id, None)

    async def queue(self, team_id: int) -> list[QueueEntry]:
        return list(self._queues.get(team_id, {}).values())

    async def connect(self, consult_id: int, member: RoomMember) -> int:
        key = (consult_id, member.user_id)
        self._connections[key] = self._connections.get(key, 0) + 1
        self._members.setdefault(consult_id, {})[member.user_id] = member
        return self._connections[key]

    async def disconnect(self, consult_id: int, user_id: int) -> int:
        key = (consult_id, user_id)
        left = max(0, self._connections.get(key, 0) - 1)
        if left:
            self._connections[key] = left
        else:
            self._connections.pop(key, None)
        return left

    async def forget_connections(self, consult_id: int, user_id: int) -> None:
        self._connections.pop((consult_id, user_id), None)

    async def set_presence(self, consult_id: int, user_id: int, presence: Presence, since: datetime) -> None:
        members = self._members.get(consult_id, {})
        if user_id in members:
            members[user_id] = replace(members[user_id], presence=presence, since=since)

    async def members(self, consult_id: int) -> list[RoomMember]:
        return list(self._members.get(consult_id, {}).values())

    async def forget_room(self, consult_id: int) -> None:
        self._members.pop(consult_id, None)
        for key in [k for k in self._connections if k[0] == consult_id]:
            del self._connections[key]

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def announce(self, announcement: Announcement) -> None:
        return None

    async def listen(self, handler: Callable[[Announcement], None]) -> asyncio.Task[None] | None:
        return None


class RedisState:
    """State shared by every node through Redis (hashes per team queue and per consult room)."""

    def __init__(self, url: str, prefix: str = "jiayi") -> None:
        self._url = url
        self._redis = aioredis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=5)
        self._prefix = prefix

    def _key(self, *parts: object) -> str:
        return ":".join([self._prefix, *map(str, parts)])

    async def enqueue(self, entry: QueueEntry) -> None:
        await self._redis.hset(self._key("queue", entry.team_id), str(entry.consult_id), _entry_json(entry))

    async def dequeue(self, team_id: int, consult_id: int) -> QueueEntry | None:
        key = self._key("queue", team_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(key, str(consult_id))
            pipe.hdel(key, str(consult_id))
            raw, _ = await pipe.execute()
        return None if raw is None else _entry(raw)

    async def queue(self, team_id: int) -> list[QueueEntry]:
        values = await self._redis.hvals(self._key("queue", team_id))
        return [_entry(v) for v in values]

    async def connect(self, consult_id: int, member: RoomMember) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(self._key("conns", consult_id), str(member.user_id), 1)
            pipe.hset(self._key("room", consult_id), str(member.user_id), _member_json(member))
            count, _ = await pipe.execute()
        return int(count)

    async def disconnect(self, consult_id: int, user_id: int) -> int:
        key = self._key("conns", consult_id)
        count = int(await self._redis.hincrby(key, str(user_id), -1))
        if count <= 0:
            await self._redis.hdel(key, str(user_id))
        return max(0, count)

    async def forget_connections(self, consult_id: int, user_id: int) -> None:
        await self._redis.hdel(self._key("conns", consult_id), str(user_id))

    async def set_presence(self, consult_id: int, user_id: int, presence: Presence, since: datetime) -> None:
        key = self._key("room", consult_id)
        raw = await self._redis.hget(key, str(user_id))
        if raw is not None:
            member = replace(_member(raw), presence=presence, since=since)
            await self._redis.hset(key, str(user_id), _member_json(member))

    async def members(self, consult_id: int) -> list[RoomMember]:
        return [_member(v) for v in await self._redis.hvals(self._key("room", consult_id))]

    async def forget_room(self, consult_id: int) -> None:
        await self._redis.delete(self._key("room", consult_id), self._key("conns", consult_id))

    async def close(self) -> None:
        await self._redis.aclose()

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as err:
            raise StateUnavailable(f"Redis at {self._url} does not answer: {err}") from err

    async def announce(self, announcement: Announcement) -> None:
        await self._redis.publish(self._key("announce"), json.dumps(announcement))

    async def listen(self, handler: Callable[[Announcement], None]) -> asyncio.Task[None] | None:
        channel = self._key("announce")
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(channel)

        async def run() -> None:
            try:
                while True:
                    try:
                        message = await pubsub.get_message(timeout=None)
                        if message is not None:
                            handler(json.loads(message["data"]))
                    except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
                        # The subscription resumes when Redis is back; caches expire meanwhile.
                        log.warning("lost Redis subscription %s; retrying in 1 s", channel)
                        await asyncio.sleep(1)
                        await pubsub.subscribe(channel)
                    except Exception:
                        log.exception("bad announcement on %s", channel)
            finally:
                await pubsub.aclose()

        return asyncio.get_running_loop().create_task(run(), name="jiayi-announcements")
