"""The media side's errors: each has a stable `code` that travels to the hub and on to the client."""

from __future__ import annotations


class MediaError(Exception):
    """A media request was refused; `code` names the rule, the message says what and why."""

    code = "media_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_dict(self) -> dict[str, str]:
        """The ``{"code", "message"}`` body of an error reply."""
        return {"code": self.code, "message": self.message}


class UnknownParticipant(MediaError):
    """The participant has not joined this consult's media room (or has left it)."""

    code = "unknown_participant"


class InvalidSdp(MediaError):
    """An offer or answer could not be parsed or applied."""

    code = "invalid_sdp"


class InvalidCandidate(MediaError):
    """A trickled ICE candidate could not be parsed."""

    code = "invalid_candidate"


class NegotiationCollision(MediaError):
    """Glare: the client offered while the server's own offer waits for its answer.

    The server is the impolite peer: the client rolls its offer back, answers the server's, then offers again.
    """

    code = "negotiation_collision"


class InvalidState(MediaError):
    """The request does not fit the negotiation's state (e.g. an answer with no offer pending)."""

    code = "invalid_state"


class RoomClosed(MediaError):
    """The consult's media room is closed."""

    code = "room_closed"


class WorkerUnavailable(MediaError):
    """No media worker can take the request (none started, or the consult's worker died)."""

    code = "worker_unavailable"


class WorkerCallTimeout(MediaError):
    """A media worker did not answer in time."""

    code = "worker_timeout"


class InvalidRequest(MediaError):
    """A worker request named an unknown method or had wrong parameters."""

    code = "invalid_request"


_BY_CODE: dict[str, type[MediaError]] = {
    cls.code: cls
    for cls in (
        MediaError,
        UnknownParticipant,
        InvalidSdp,
        InvalidCandidate,
        NegotiationCollision,
        InvalidState,
        RoomClosed,
        WorkerUnavailable,
        WorkerCallTimeout,
        InvalidRequest,
    )
}


def error_from_dict(error: dict[str, str]) -> MediaError:
    """Rebuild the error a worker replied with (an unknown code becomes a plain `MediaError`)."""
    cls = _BY_CODE.get(str(error.get("code")), MediaError)
    result = cls(str(error.get("message", "")))
    if cls is MediaError:
        result.code = str(error.get("code", MediaError.code))
    return result
