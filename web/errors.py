"""Errors as RFC 9457 problem details (`application/problem+json`), one middleware for the whole app."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from consult.errors import AccessDenied, Conflict, DomainError, NotFound, RuleViolation

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class ApiError(Exception):
    """An HTTP-level refusal that is not a domain rule (bad JSON, auth, size, throttling)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.errors = errors
        self.headers = headers or {}


def problem(
    status: int,
    detail: str,
    *,
    code: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": f"https://jiayi.example/problems/{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type=PROBLEM_JSON,
        headers=headers,
    )


def validation_errors(err: ValidationError) -> list[dict[str, str]]:
    """Pydantic's errors as `{field, message}` pairs, the field as a dotted path."""
    out = []
    for item in err.errors(include_url=False):
        loc = ".".join(str(part) for part in item["loc"]) or "body"
        out.append({"field": loc, "message": item["msg"]})
    return out


def from_domain(err: DomainError) -> web.Response:
    """Map a domain refusal to its HTTP status."""
    status = 422
    if isinstance(err, AccessDenied):
        status = 403
    elif isinstance(err, NotFound):
        status = 404
    elif isinstance(err, Conflict):
        status = 409
    elif isinstance(err, RuleViolation):
        status = 422
    errors = [{"field": err.field, "message": err.message}] if err.field else None
    return problem(status, err.message, code=err.code, errors=errors)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn every failure into problem+json for API paths; pages get aiohttp's own error pages."""
    try:
        return await handler(request)
    except ApiError as err:
        return problem(err.status, err.detail, code=err.code, errors=err.errors, headers=err.headers)
    except DomainError as err:
        return from_domain(err)
    except web.HTTPException as err:
        if not request.path.startswith("/api/") or err.status < 400:
            raise
        return problem(err.status, err.reason, code=f"http_{err.status}")
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "the server failed to handle this request; it has been logged", code="internal")
