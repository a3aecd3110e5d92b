"""Where a consult's media lives, and how a node's hub reaches it.

Each node runs its own media workers (media/pool.py). A consult's media must live in one place, so
that every participant's peer connection ends in the same relay, even when their Socket.IO
connections land on different nodes. The first `media_join` of a consult claims it for the node it
arrives on (one node: always this one; several: `SET <prefix>:media:<consult> <node> NX` in Redis);
from then on every node routes the consult's media calls to that node. A call for a consult owned
elsewhere goes over Redis pub/sub to the owner's channel `<prefix>:media-rpc:<node>` and its reply comes
back on `<prefix>:media-reply:<node>`.

The owner keeps which connection (sid) joined the media for each participant, and sends what the
media room says to that sid; python-socketio's Redis manager carries it to whichever node holds the
connection. The owner also checks that offers, answers, candidates and state changes come from the
connection that joined.

A node that stops answering loses its consults: after `call_timeout_s` a caller drops the claim (if
it still names that node) and answers `worker_unavailable`; the next `media_join` places the consult
afresh.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis

from media.errors import MediaError

if TYPE_CHECKING:
    from media.pool import MediaPool

log = logging.getLogger(__name__)

#: How long a consult's media claim lives without being closed (a consult far longer than any visit).
CLAIM_TTL_S = 12 * 3600


class MediaRefused(Exception):
    """A media call was refused; `code` and `message` go back to the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class MediaRouter:
    """Routes media calls to the node that holds the consult's media; see the module docstring."""

    def __init__(self, *, redis_url: str | None, prefix: str, call_timeout_s: float = 10.0) -> None:
        self.node = uuid.uuid4().hex[:12]
        self.pool: MediaPool | None = None
        self.call_timeout_s = call_timeout_s
        #: On the owner: (consult, participant) → the sid that joined the media.
        self.sids: dict[tuple[int, str], str] = {}
        #: On the owner: how to unwrap a recording's data key (the hub's blob store and database).
        self.key_source: Callable[[str], Awaitable[tuple[str, bytes]]] | None = None
        self.blob_root: str = ""
        #: On the owner: recordings to start once the consult's media room exists (nobody had joined).
        self._pending_recordings: dict[int, dict[str, Any]] = {}
        self._prefix = prefix
        self._redis = aioredis.Redis.from_url(redis_url, decode_responses=True) if redis_url else None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._work: set[asyncio.Task[None]] = set()

    def _key(self, *parts: object) -> str:
        return ":".join([self._prefix, *map(str, parts)])

    # --- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """With several nodes, listen for calls from the others and for replies to ours."""
        if self._redis is None:
            return
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self._key("media-rpc", self.node), self._key("media-reply", self.node))
        self._listener = asyncio.get_running_loop().create_task(self._listen(pubsub), name="media-router")

    async def stop(self) -> None:
        """Stop listening; calls still waiting fail."""
        tasks = [t for t in [self._listener, *self._work] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._listener = None
        for future in self._replies.values():
            if not future.done():
                future.set_exception(MediaRefused("worker_unavailable", "the server is shutting down"))
        if self._redis is not None:
            await self._redis.aclose()

    # --- calls ------------------------------------------------------------------------------------

    async def call(self, consult_id: int, method: str, **params: Any) -> Any:
        """Run `method` on the consult's media room wherever it lives (see `_run` for the methods)."""
        owner = await self._owner(consult_id, claim=method == "join")
        if owner is None:
            return None  # nothing to leave or close: the consult has no media
        if owner == self.node:
            return await self._run(consult_id, method, params)
        return await self._remote(owner, consult_id, method, params)

    async def _owner(self, consult_id: int, *, claim: bool) -> str | None:
        if self._redis is None:
            if self.pool is None and claim:
                raise MediaRefused(
                    "media_unavailable", "video is switched off on this server; chat still works"
                )
            return self.node if self.pool is not None else None
        key = self._key("media", consult_id)
        if claim and self.pool is not None:
            await self._redis.set(key, self.node, nx=True, ex=CLAIM_TTL_S)
        owner = await self._redis.get(key)
        if owner is None and claim:
            raise MediaRefused("media_unavailable", "video is switched off on this node; chat still works")
        return None if owner is None else str(owner)

    async def _remote(self, owner: str, consult_id: int, method: str, params: dict[str, Any]) -> Any:
        assert self._redis is not None
        call_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[call_id] = future
        request = {
            "id": call_id,
            "reply_to": self.node,
            "consult_id": consult_id,
            "method": method,
            "params": params,
        }
        try:
            await self._redis.publish(self._key("media-rpc", owner), json.dumps(request))
            reply = await asyncio.wait_for(future, self.call_timeout_s)
        except TimeoutError as err:
            key = self._key("media", consult_id)
            if await self._redis.get(key) == owner:
                await self._redis.delete(key)
            log.warning("media node %s did not answer for consult %s; claim dropped", owner, consult_id)
            raise MediaRefused(
                "worker_unavailable", "the video server of this consult does not answer; join the video again"
            ) from err
        finally:
            self._replies.pop(call_id, None)
        if "error" in reply:
            raise MediaRefused(reply["error"]["code"], reply["error"]["message"])
        return reply.get("result")

    async def _listen(self, pubsub: Any) -> None:
        try:
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is None:
                    continue
                try:
                    data = json.loads(message["data"])
                except (TypeError, ValueError):
                    continue
                if message["channel"].endswith(f"media-reply:{self.node}"):
                    future = self._replies.get(str(data.get("id")))
                    if future is not None and not future.done():
                        future.set_result(data)
                else:
                    task = asyncio.get_running_loop().create_task(self._serve(data))
                    self._work.add(task)
                    task.add_done_callback(self._work.discard)
        finally:
            await pubsub.aclose()

    async def _serve(self, request: dict[str, Any]) -> None:
        assert self._redis is not None
        reply: dict[str, Any] = {"id": request.get("id")}
        try:
            reply["result"] = await self._run(
                int(request["consult_id"]), str(request["method"]), request["params"]
            )
        except MediaRefused as err:
            reply["error"] = {"code": err.code, "message": err.message}
        except Exception:
            log.exception("media call %s from node %s failed", request.get("method"), request.get("reply_to"))
            reply["error"] = {"code": "internal", "message": "the video server failed; it has been logged"}
        await self._redis.publish(self._key("media-reply", request.get("reply_to")), json.dumps(reply))

    # --- on the owner -----------------------------------------------------------------------------

    async def _run(self, consult_id: int, method: str, params: dict[str, Any]) -> Any:
        """Run a call on this node's pool: join, offer, answer, candidate, set_media, leave, close, and
        record_start, record_pause, record_resume, record_stop."""
        if self.pool is None:
            raise MediaRefused("media_unavailable", "video is switched off on this node")
        room = self.pool.room_for(str(consult_id))
        participant = str(params.get("participant_id", ""))
        sid = params.get("sid")
        try:
            if method == "join":
                # Known before the room answers: what it says to the newcomer while joining (who else
                # is there) must find their connection.
                previous = self.sids.get((consult_id, participant))
                self.sids[(consult_id, participant)] = str(sid)
                try:
                    await room.join(participant, str(params["user_id"]), str(params["role"]))
                except BaseException:
                    if previous is None:
                        self.sids.pop((consult_id, participant), None)
                    else:
                        self.sids[(consult_id, participant)] = previous
                    raise
                pending = self._pending_recordings.pop(consult_id, None)
                if pending is not None:
                    await self._run(consult_id, "record_start", pending)
                return None
            if method == "record_start":
                return await self._start_recording(consult_id, room, params)
            if method in ("record_pause", "record_resume", "record_stop"):
                if consult_id not in {k[0] for k in self.sids}:
                    if method == "record_stop":
                        self._pending_recordings.pop(consult_id, None)
                    return None  # no media room: nothing is being recorded
                if method == "record_pause":
                    return await room.pause_recording()
                if method == "record_resume":
                    return await room.resume_recording()
                return await room.stop_recording()
            if method == "leave":
                if self.sids.pop((consult_id, participant), None) is not None:
                    await room.leave(participant)
                return None
            if method == "close":
                self._pending_recordings.pop(consult_id, None)
                for key in [k for k in self.sids if k[0] == consult_id]:
                    del self.sids[key]
                await room.close()
                if self._redis is not None:
                    await self._redis.delete(self._key("media", consult_id))
                return None
            if self.sids.get((consult_id, participant)) != sid:
                raise MediaRefused("media_not_joined", "send media_join on this connection first")
            if method == "offer":
                return await room.offer(participant, str(params["sdp"]))
            if method == "answer":
                return await room.answer(participant, str(params["sdp"]))
            if method == "candidate":
                return await room.candidate(participant, params.get("candidate"))
            if method == "set_media":
                return await room.set_media(
                    participant,
                    audio=params.get("audio"),
                    video=params.get("video"),
                    receive_video=params.get("receive_video"),
                )
        except MediaError as err:
            raise MediaRefused(err.code, err.message) from err
        raise MediaRefused("invalid_request", f"unknown media call {method!r}")

    async def _start_recording(self, consult_id: int, room: Any, params: dict[str, Any]) -> None:
        if consult_id not in {k[0] for k in self.sids}:
            self._pending_recordings[consult_id] = params  # started by the first media_join
            return
        if self.key_source is None:
            raise MediaRefused("recording_unavailable", "this node cannot unwrap recording keys")
        algorithm, data_key = await self.key_source(str(params["key_id"]))
        await room.start_recording(
            int(params["recording_id"]),
            key_id=str(params["key_id"]),
            algorithm=algorithm,
            data_key=data_key,
            blob_root=self.blob_root,
        )

    def sid_of(self, consult_id: int, participant_id: str) -> str | None:
        """The connection that joined the consult's media as `participant_id` (on the owner)."""
        return self.sids.get((consult_id, participant_id))

    def forget_consult(self, consult_id: int) -> None:
        """The consult's worker died: nobody is in its media any more."""
        for key in [k for k in self.sids if k[0] == consult_id]:
            del self.sids[key]


EventCallback = Callable[[str, str | None, str, dict[str, Any]], None]
