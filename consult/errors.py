"""The domain's exceptions: each names the rule that was broken and, where one is to blame, the field."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the domain refuses; `code` is stable and machine-readable."""

    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field


class RuleViolation(DomainError):
    """The request is well formed but a rule of the domain refuses it (HTTP 422)."""

    code = "rule_violation"


class Conflict(DomainError):
    """The request clashes with the current state, e.g. a second active contract (HTTP 409)."""

    code = "conflict"


class AccessDenied(DomainError):
    """The caller may not see or do this (HTTP 403)."""

    code = "forbidden"


class NotFound(DomainError):
    """No such thing, or none the caller may know exists (HTTP 404)."""

    code = "not_found"
