"""The JSON codec of the Socket.IO wire: orjson behind the `dumps`/`loads` pair python-socketio and
python-engineio call (`AsyncServer(json=...)`), for every packet, ack and Redis manager message, and
`JsonPacket`, the Socket.IO packet class (`AsyncServer(serializer=JsonPacket)`).

The standard library's encoder was about a tenth of the hub's CPU per chat message (each message is
encoded for its ack, for every recipient's packet and, with several nodes, for Redis). orjson writes
compact UTF-8 (Chinese text as itself rather than six-byte `\\uXXXX` escapes, so packets are smaller
too) and accepts the integer dictionary keys some payloads carry.
"""

from __future__ import annotations

from typing import Any

import orjson
from socketio.packet import Packet

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(obj: Any, **_layout: Any) -> str:
    """JSON text of `obj`; layout keywords (`separators`, ...) are accepted and ignored: the output is
    always compact."""
    return orjson.dumps(obj, option=_OPTIONS).decode()


def loads(text: str | bytes, **_options: Any) -> Any:
    """The value of a JSON text."""
    return orjson.loads(text)


def size(obj: Any) -> int:
    """Bytes of `obj` as compact UTF-8 JSON (what an event's size limit counts); TypeError if it is not
    JSON."""
    return len(orjson.dumps(obj, option=_OPTIONS))


class JsonPacket(Packet):
    """Socket.IO packets that never carry binary attachments.

    python-socketio's own packet walks every payload, each dict and list in it, to find `bytes` to send
    as binary attachments: about 4% of the hub's CPU per chat message, for nothing, since Jiayi's events
    are JSON only (files go over HTTP). Here the walk is skipped; a payload holding bytes fails to
    encode (orjson refuses them) instead of being sent. Packets a client sends are decoded as before.
    """

    uses_binary_events = False
