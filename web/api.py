"""The API's operation table: each operation's schemas validate its requests and describe it in OpenAPI.

An operation is declared once with `@api.operation(...)`; the wrapper authenticates the caller,
validates query and body against pydantic models, runs the handler in one database transaction
(rolled back on any refusal, so a rejected request writes nothing), writes a "denied" audit entry
for refused access, and serialises the response model. `openapi()` builds the document from the
very same models.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from sqlalchemy.ext.asyncio import AsyncSession

from consult.access import Actor
from consult.errors import AccessDenied, NotFound
from storage import audit
from storage.people import load_actor
from web import keys
from web.auth import InvalidToken
from web.errors import ApiError, validation_errors

Handler = Callable[..., Awaitable[Any]]
_PATH_PARAM = re.compile(r"{(\w+)}")


@dataclass
class RequestContext:
    """What a handler works with: the request, its transaction, the caller and the time."""

    request: web.Request
    session: AsyncSession
    actor: Actor | None
    now: datetime
    today: date
    query: Any = None
    body: Any = None
    #: Run after the transaction commits (tell the live side what changed); never on a refusal.
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def me(self) -> Actor:
        """The authenticated caller (operations without auth have none)."""
        if self.actor is None:
            raise ApiError(401, "log in first", code="not_authenticated")
        return self.actor

    @property
    def app(self) -> web.Application:
        """The application."""
        return self.request.app

    def invalidate(self, cache: str, key: int | None = None) -> None:
        """Once committed, drop the live side's cached copies of what this request changed, on every
        node (see `signaling.hub.Hub.invalidate`)."""
        hub = self.app[keys.HUB]
        self.after_commit.append(lambda: hub.invalidate(cache, key))

    def path_int(self, name: str) -> int:
        """An integer path parameter; anything else is a 404, as no such thing exists."""
        raw = self.request.match_info[name]
        if not raw.isdigit() or len(raw) > 18:
            raise NotFound(f"no {name.removesuffix('_id')} {raw!r}")
        return int(raw)

    async def audit(
        self,
        action: str,
        entity_type: str,
        entity_id: object = None,
        *,
        resident_id: int | None = None,
        outcome: str = "success",
        purpose: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append an audit entry in this request's transaction."""
        await audit.append(
            self.session,
            audit_record(
                self.request,
                self.actor,
                action,
                entity_type,
                entity_id,
                resident_id,
                outcome,
                purpose,
                detail,
            ),
            at=self.now,
        )


def audit_record(
    request: web.Request,
    actor: Actor | None,
    action: str,
    entity_type: str,
    entity_id: object,
    resident_id: int | None,
    outcome: str,
    purpose: str | None,
    detail: dict[str, Any] | None,
) -> audit.AuditRecord:
    """An audit record about `actor` acting through `request` (its client address recorded)."""
    return audit.record_for(
        actor,
        action,
        entity_type,
        entity_id,
        resident_id=resident_id,
        outcome=outcome,
        purpose=purpose,
        detail=detail,
        remote_addr=request.remote,
    )


@dataclass(frozen=True)
class Operation:
    """One HTTP operation and the models that describe it."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    operation_id: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: bool = True
    errors: tuple[int, ...] = ()
    description: str = ""


@dataclass
class Api:
    """A table of operations, added to an app by `register`."""

    operations: list[Operation] = field(default_factory=list)

    def operation(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        auth: bool = True,
        errors: tuple[int, ...] = (),
    ) -> Callable[[Handler], Handler]:
        """Declare an operation; the decorated coroutine takes a `RequestContext`."""

        def decorate(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    tag=tag,
                    operation_id=handler.__name__,
                    query=query,
                    body=body,
                    response=response,
                    status=status,
                    auth=auth,
                    errors=errors,
                    description=(handler.__doc__ or "").strip(),
                )
            )
            return handler

        return decorate

    def register(self, app: web.Application) -> None:
        """Add every operation's route to `app`."""
        for op in self.operations:
            app.router.add_route(op.method, op.path, _wrap(op), name=op.operation_id)


def _wrap(op: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        app = request.app
        user_id = _authenticate(request) if op.auth else None
        query = _parse(op.query, dict(request.query), "query") if op.query else None
        body = await _read_body(request, op.body) if op.body else None
        now = app[keys.CLOCK]()
        today = now.astimezone(ZoneInfo(app[keys.SETTINGS].timezone)).date()
        actor = None
        try:
            async with _serialised(app), app[keys.SESSIONS]() as session, session.begin():
                if user_id is not None:
                    actor = await load_actor(session, user_id, today)
                    if actor is None:
                        raise ApiError(401, "this account is disabled or gone", code="not_authenticated")
                ctx = RequestContext(request, session, actor, now, today, query, body)
                result = await op.handler(ctx)
        except AccessDenied as err:
            await _audit_denied(request, actor, op, err, now)
            raise
        for action in ctx.after_commit:
            await action()
        if isinstance(result, web.StreamResponse):
            return result
        payload = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
        return web.json_response(payload, status=op.status, dumps=_dumps)

    return handle


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _authenticate(request: web.Request) -> int:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="jiayi"'}
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "send `Authorization: Bearer <token>` from /api/auth/login",
            code="not_authenticated",
            headers=challenge,
        )
    try:
        claims = request.app[keys.TOKENS].check(token.strip(), now=request.app[keys.CLOCK]().timestamp())
    except InvalidToken as err:
        raise ApiError(401, str(err), code="invalid_token", headers=challenge) from err
    return claims.user_id


def _parse(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        errors = validation_errors(err)
        if where == "query":
            errors = [{"field": f"query.{e['field']}", "message": e["message"]} for e in errors]
        raise ApiError(
            422, f"the {where} is not valid: see errors", code="validation_failed", errors=errors
        ) from err


async def _read_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    limit = request.app[keys.SETTINGS].max_json_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"JSON bodies are limited to {limit} bytes", code="body_too_large")
    if request.content_type != "application/json":
        raise ApiError(415, "send the body as application/json", code="unsupported_media_type")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, f"JSON bodies are limited to {limit} bytes", code="body_too_large")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ApiError(400, f"the body is not valid JSON: {err}", code="invalid_json") from err
    return _parse(model, data, "body")


async def _audit_denied(
    request: web.Request, actor: Actor | None, op: Operation, err: AccessDenied, now: datetime
) -> None:
    """Refused access is traced too, in its own transaction (the request's was rolled back)."""
    raw = request.match_info.get("resident_id", "")
    resident_id = int(raw) if raw.isdigit() else None
    record = audit_record(
        request,
        actor,
        op.operation_id,
        op.tag,
        None,
        resident_id,
        "denied",
        None,
        {"code": err.code, "reason": err.message, "path": request.path},
    )
    async with _serialised(request.app):
        await audit_separately(request.app, record, now)


def _serialised(app: web.Application) -> AbstractAsyncContextManager[object]:
    """On SQLite, one request transaction at a time (see `keys.SQLITE_WRITES`); elsewhere nothing."""
    lock = app.get(keys.SQLITE_WRITES)
    return lock if lock is not None else nullcontext()


async def audit_separately(app: web.Application, record: audit.AuditRecord, at: datetime) -> None:
    """Commit an audit entry on its own, for outcomes whose request transaction will not commit."""
    async with app[keys.SESSIONS]() as session, session.begin():
        await audit.append(session, record, at=at)


def openapi(api: Api, *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `api`, built from the models that validate it."""
    models: set[type[BaseModel]] = set()
    for op in api.operations:
        for model in (op.query, op.body, op.response):
            if model is not None:
                models.add(model)
    from web.schemas import Problem  # the error shape every operation may answer with

    models.add(Problem)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, top = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in api.operations:
        item: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": [],
            "responses": {},
        }
        if op.description:
            item["description"] = op.description
        for name in _PATH_PARAM.findall(op.path):
            item["parameters"].append(
                {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}
            )
        if op.query is not None:
            schema = op.query.model_json_schema(ref_template="#/components/schemas/{model}")
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                item["parameters"].append(
                    {"name": name, "in": "query", "required": name in required, "schema": prop}
                )
        if op.body is not None:
            item["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}
                },
            }
        ok: dict[str, Any] = {"description": "OK"}
        if op.response is not None:
            ok["content"] = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{op.response.__name__}"}}
            }
        item["responses"][str(op.status)] = ok
        problem_ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        codes = (
            set(op.errors) | ({401, 403} if op.auth else set()) | ({400, 413, 415, 422} if op.body else set())
        )
        if op.query is not None or _PATH_PARAM.search(op.path):
            codes |= {404, 422}
        for code in sorted(codes):
            item["responses"][str(code)] = {"description": "problem", "content": problem_ref}
        if op.auth:
            item["security"] = [{"bearer": []}]
        # aiohttp and OpenAPI write path parameters the same way: {name}
        paths.setdefault(op.path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
