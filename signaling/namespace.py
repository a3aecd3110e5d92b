"""The base of Jiayi's namespaces: authentication on connect, and one wrapper for every event.

The wrapper checks the connection is authenticated, applies the per-connection rate limit and the
payload size limit, validates the payload against its model, runs the handler in one database
transaction, and only after commit sends what the handler queued: a refused event writes nothing
and tells nobody. The answer goes back through the ack: `{"ok": true, ...}` or
`{"error": {"code", "message", "field"?}}`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import socketio
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from consult.access import Actor
from consult.errors import AccessDenied, DomainError
from signaling import wire_json
from signaling.rate_limit import TokenBucket
from storage import audit

if TYPE_CHECKING:
    from signaling.hub import Hub


class HubBusy(Exception):
    """Too many events are running; the client should retry shortly."""


log = logging.getLogger(__name__)

#: Largest event payload, as JSON: a message is at most 2,000 characters, far below this.
MAX_EVENT_BYTES = 16 * 1024

P = TypeVar("P", bound=BaseModel)


class EventError(Exception):
    """A refusal that is not a domain rule (auth, rate, size, shape)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """An error ack."""
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    return {"error": body}


@dataclass
class Outbox:
    """What to send once the transaction has committed."""

    emits: list[tuple[str, str, Any, str, str | None]] = field(default_factory=list)
    after: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    stale: list[tuple[str, int | None]] = field(default_factory=list)

    def emit(self, namespace: str, event: str, data: Any, room: str, skip_sid: str | None = None) -> None:
        """Queue an emit to a room (but not to connection `skip_sid`)."""
        self.emits.append((namespace, event, data, room, skip_sid))

    def invalidate(self, cache: str, key: int | None = None) -> None:
        """Drop cached copies of what the event changed (see `Hub.invalidate`), first thing after commit,
        so nobody told of the change acts on the old copy."""
        self.stale.append((cache, key))

    def then(self, action: Callable[[], Awaitable[None]]) -> None:
        """Queue an action (enter a room, start a timer) for after commit."""
        self.after.append(action)


@dataclass
class EventContext:
    """What an event handler works with."""

    sid: str
    session: AsyncSession
    actor: Actor
    now: datetime
    today: date
    out: Outbox
    hub: Hub

    async def audit(
        self,
        action: str,
        entity_type: str,
        entity_id: object = None,
        *,
        resident_id: int | None = None,
        outcome: str = "success",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append an audit entry in this event's transaction."""
        await audit.append(
            self.session,
            audit_record(self.actor, action, entity_type, entity_id, resident_id, outcome, detail),
            at=self.now,
        )


def audit_record(
    actor: Actor | None,
    action: str,
    entity_type: str,
    entity_id: object,
    resident_id: int | None,
    outcome: str,
    detail: dict[str, Any] | None,
) -> audit.AuditRecord:
    """An audit record of an event sent over Socket.IO."""
    return audit.record_for(
        actor,
        action,
        entity_type,
        entity_id,
        resident_id=resident_id,
        outcome=outcome,
        detail={"via": "socket.io", **(detail or {})},
    )


Handler = Callable[[Any, EventContext, Any], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class EventOptions:
    """How `dispatch` runs an event."""

    #: Audit a refusal by a domain access rule (who tried to reach what).
    audit_denied: bool = False
    #: False: the event only reads, so it does not wait for SQLite's write turn.
    writes: bool = True
    #: The payload's largest size, as JSON.
    max_bytes: int = MAX_EVENT_BYTES


def event(
    model: type[BaseModel],
    *,
    audit_denied: bool = False,
    writes: bool = True,
    max_bytes: int = MAX_EVENT_BYTES,
) -> Callable[[Handler], Callable[..., Any]]:
    """Declare a client event whose payload is `model`; the handler gets the context and the payload.
    See `EventOptions` for the keywords."""
    options = EventOptions(audit_denied, writes, max_bytes)

    def decorate(handler: Handler) -> Callable[..., Any]:
        async def on_event(self: BaseNamespace, sid: str, data: Any = None) -> dict[str, Any]:
            return await self.dispatch(sid, data, model, handler, options)

        on_event.__doc__ = handler.__doc__
        on_event.payload_model = model  # type: ignore[attr-defined]
        return on_event

    return decorate


class BaseNamespace(socketio.AsyncNamespace):
    """Authenticates connections with the HTTP API's bearer token and runs events through `dispatch`."""

    def __init__(self, namespace: str, hub: Hub) -> None:
        super().__init__(namespace)
        self.hub = hub
        self._buckets: dict[str, TokenBucket] = {}

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Refuse, with the reason, a connection without a valid token or with a disabled account."""
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            raise socketio.exceptions.ConnectionRefusedError(
                "connect with auth: {token: <access_token>}", {"code": "not_authenticated"}
            )
        try:
            user_id = self.hub.verify_token(token)
        except Exception as err:  # the verifier's own error type belongs to web/; its text says why
            raise socketio.exceptions.ConnectionRefusedError(str(err), {"code": "invalid_token"}) from err
        async with self.hub.transaction(writes=False) as session:
            actor = await self.hub.actor(session, user_id, self.hub.today())
        if actor is None:
            raise socketio.exceptions.ConnectionRefusedError(
                "this account is disabled or gone", {"code": "not_authenticated"}
            )
        await self.save_session(sid, {"user_id": actor.user_id, "role": actor.role.value})
        await self.enter_room(sid, f"user:{actor.user_id}")
        self._buckets[sid] = TokenBucket(self.hub.event_rate, self.hub.event_burst)
        self.hub.metrics.connections.labels(self.namespace).inc()
        await self.connected(sid, actor)

    async def connected(self, sid: str, actor: Actor) -> None:
        """Hook for namespaces that join more rooms on connect."""

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """Forget the connection's rate limit; namespaces add their own clean-up in `disconnected`."""
        if self._buckets.pop(sid, None) is not None:
            self.hub.metrics.connections.labels(self.namespace).dec()
        try:
            session = await self.get_session(sid)
        except KeyError:
            return
        await self.disconnected(sid, int(session["user_id"]))

    async def disconnected(self, sid: str, user_id: int) -> None:
        """Hook for namespaces that track presence."""

    async def dispatch(
        self, sid: str, data: Any, model: type[BaseModel], handler: Handler, options: EventOptions
    ) -> dict[str, Any]:
        """Run one event and count it by outcome; see the module docstring."""
        name = handler.__name__.removeprefix("on_")
        started = time.perf_counter()
        answer = await self._dispatch(sid, data, model, handler, options)
        outcome = answer["error"]["code"] if "error" in answer else "ok"
        self.hub.metrics.events.labels(self.namespace, name, outcome).inc()
        self.hub.metrics.seconds.labels(self.namespace, name).observe(time.perf_counter() - started)
        return answer

    async def _dispatch(
        self, sid: str, data: Any, model: type[BaseModel], handler: Handler, options: EventOptions
    ) -> dict[str, Any]:
        try:
            session_data = await self.get_session(sid)
        except KeyError:
            return error("not_authenticated", "connect with a token first")
        bucket = self._buckets.get(sid)
        if bucket is not None and not bucket.take():
            return error("rate_limited", "too many events; slow down and retry in a moment")
        try:
            size = wire_json.size(data)
        except TypeError:
            return error("validation_failed", "the payload is not JSON")
        if size > options.max_bytes:
            return error("payload_too_large", f"this event's payload is limited to {options.max_bytes} bytes")
        try:
            payload = model.model_validate({} if data is None else data)
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or None
            return error("validation_failed", f"{where or 'payload'}: {first['msg']}", where)
        user_id = int(session_data["user_id"])
        actor: Actor | None = None
        out = Outbox()
        now = self.hub.clock()
        try:
            async with self.hub.event_slot(), self.hub.transaction(writes=options.writes) as session:
                today = self.hub.today(now)
                actor = await self.hub.actor(session, user_id, today)
                if actor is None:
                    raise EventError("not_authenticated", "this account is disabled or gone")
                ctx = EventContext(sid, session, actor, now, today, out, self.hub)
                result = await handler(self, ctx, payload)
        except EventError as err:
            return error(err.code, err.message, err.field)
        except HubBusy as err:
            return error("server_busy", str(err))
        except DomainError as err:
            if options.audit_denied and isinstance(err, AccessDenied):
                await self.hub.audit_separately(
                    audit_record(
                        actor,
                        handler.__name__,
                        self.namespace.strip("/"),
                        None,
                        None,
                        "denied",
                        {"code": err.code, "reason": err.message},
                    ),
                    now,
                )
            return error(err.code, err.message, err.field)
        except Exception:
            log.exception("event %s from user %s failed", handler.__name__, user_id)
            return error("internal", "the server failed to handle this event; it has been logged")
        for cache, key in out.stale:
            await self.hub.invalidate(cache, key)
        for namespace, name, body, room, skip_sid in out.emits:
            await self.hub.sio.emit(name, body, room=room, namespace=namespace, skip_sid=skip_sid)
        for action in out.after:
            await action()
        return {"ok": True, **(result or {})}
