"""SDP checks and the payload-type alignment that makes aiortc's re-offers acceptable to browsers.

Two pure helpers around aiortc's SDP model:

- `check_description` refuses what a client must not send: not text, too large, not parsable, no audio or
  video section, too many sections. The reason goes back to the client in `InvalidSdp`.
- `PayloadMap` and `align_offer`: when aiortc creates an offer it numbers every section's codecs and header
  extensions from its own table (opus 96, VP8 97, mid extension 1...), even for sections the browser offered
  first with its own numbers (Chrome: opus 111, VP8 96, mid extension 4...). A browser answering such a
  re-offer would switch the payload types it sends with (the relay's receiver, started with the first
  numbers, would drop everything), and would refuse header extension ids that change inside a BUNDLE.
  The room records the numbers the client used (`PayloadMap.learn`) and rewrites every server offer so that
  each codec and extension keeps the client's number; codecs the client never named keep aiortc's number
  unless that number is taken, in which case a free dynamic one is used. One payload type never names two
  codecs in the bundle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiortc import sdp as aiortc_sdp
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from media.errors import InvalidSdp

MAX_MEDIA_SECTIONS = 64
_DYNAMIC_PAYLOAD_TYPES = [*range(96, 128), *range(35, 64)]
_EXTENSION_IDS = range(1, 15)

CodecKey = tuple[str, int, int | None, tuple[str, ...]]


def check_description(text: object, kind: str, *, max_bytes: int) -> aiortc_sdp.SessionDescription:
    """Parse an offer or answer from a client, or raise `InvalidSdp` saying what is wrong with it."""
    if not isinstance(text, str):
        raise InvalidSdp(f"the {kind} must be SDP text, got {type(text).__name__}")
    if len(text.encode("utf-8", "replace")) > max_bytes:
        raise InvalidSdp(f"the {kind} is larger than {max_bytes} bytes")
    if not text.startswith("v=0"):
        raise InvalidSdp(f"the {kind} is not SDP (it must start with v=0)")
    try:
        description = aiortc_sdp.SessionDescription.parse(text)
    except Exception as err:  # aiortc's parser raises whatever it trips on (AssertionError, KeyError, ...)
        raise InvalidSdp(f"the {kind} could not be parsed: {type(err).__name__} {err}".strip()) from err
    media = [m for m in description.media if m.kind in ("audio", "video")]
    if not media:
        raise InvalidSdp(f"the {kind} has no audio or video section")
    if len(description.media) > MAX_MEDIA_SECTIONS:
        raise InvalidSdp(f"the {kind} has more than {MAX_MEDIA_SECTIONS} media sections")
    for m in media:
        if not m.rtp.muxId:
            raise InvalidSdp(f"the {kind} has a {m.kind} section without a=mid")
    return description


def codec_key(codec: RTCRtpCodecParameters) -> CodecKey:
    """What identifies a codec across offers: its MIME type and clock, and for H.264 its profile and mode."""
    extra: tuple[str, ...] = ()
    if codec.mimeType.lower() == "video/h264":
        extra = (
            str(codec.parameters.get("profile-level-id", "42e01f")).lower(),
            str(codec.parameters.get("packetization-mode", "0")),
        )
    channels = codec.channels if codec.mimeType.lower().startswith("audio/") else None
    return (codec.mimeType.lower(), codec.clockRate, channels, extra)


def _pt(codec: RTCRtpCodecParameters) -> int:
    if codec.payloadType is None:
        raise InvalidSdp(f"codec {codec.mimeType} has no payload type")
    return codec.payloadType


def _is_rtx(codec: RTCRtpCodecParameters) -> bool:
    return codec.mimeType.lower().endswith("/rtx")


@dataclass
class PayloadMap:
    """The payload types and header extension ids a client has used; the first use of each wins."""

    payload_types: dict[CodecKey, int] = field(default_factory=dict)
    #: Base payload type -> its RTX payload type.
    rtx: dict[int, int] = field(default_factory=dict)
    extensions: dict[str, int] = field(default_factory=dict)

    def learn(self, description: aiortc_sdp.SessionDescription) -> None:
        """Record the numbers of a client's offer or answer."""
        taken = set(self.payload_types.values()) | set(self.rtx.values())
        for media in description.media:
            if media.kind not in ("audio", "video"):
                continue
            by_pt = {_pt(c): c for c in media.rtp.codecs}
            for codec in media.rtp.codecs:
                if _is_rtx(codec):
                    continue
                key, pt = codec_key(codec), _pt(codec)
                if key not in self.payload_types and pt not in taken:
                    self.payload_types[key] = pt
                    taken.add(pt)
            for codec in media.rtp.codecs:
                apt, pt = codec.parameters.get("apt"), _pt(codec)
                if _is_rtx(codec) and isinstance(apt, int) and apt in by_pt:
                    base = self.payload_types.get(codec_key(by_pt[apt]))
                    if base == apt and base not in self.rtx and pt not in taken:
                        self.rtx[base] = pt
                        taken.add(pt)
            used_ids = set(self.extensions.values())
            for extension in media.rtp.headerExtensions:
                if extension.uri not in self.extensions and extension.id not in used_ids:
                    self.extensions[extension.uri] = extension.id
                    used_ids.add(extension.id)


def align_offer(offer: str, numbers: PayloadMap) -> str:
    """`offer` (made by aiortc) with the payload types and extension ids of `numbers` wherever it names them."""
    description = aiortc_sdp.SessionDescription.parse(offer)
    owner: dict[int, CodecKey | tuple[str, int]] = {pt: key for key, pt in numbers.payload_types.items()}
    for base, rtx in numbers.rtx.items():
        owner[rtx] = ("rtx", base)

    def claim(preferred: int, key: CodecKey | tuple[str, int]) -> int:
        if owner.get(preferred, key) == key:
            owner[preferred] = key
            return preferred
        for pt in _DYNAMIC_PAYLOAD_TYPES:
            if pt not in owner:
                owner[pt] = key
                return pt
        raise InvalidSdp("no free payload type is left in this session")

    ids = dict(numbers.extensions)
    for media in description.media:
        if media.kind not in ("audio", "video"):
            continue
        renumbered: dict[int, int] = {}
        for codec in media.rtp.codecs:
            if not _is_rtx(codec):
                key = codec_key(codec)
                renumbered[_pt(codec)] = claim(numbers.payload_types.get(key, _pt(codec)), key)
        for codec in media.rtp.codecs:
            apt = codec.parameters.get("apt")
            if _is_rtx(codec) and isinstance(apt, int) and apt in renumbered:
                base = renumbered[apt]
                renumbered[_pt(codec)] = claim(numbers.rtx.get(base, _pt(codec)), ("rtx", base))
                codec.parameters["apt"] = base
        for codec in media.rtp.codecs:
            codec.payloadType = renumbered.get(_pt(codec), _pt(codec))
        media.fmt = [c.payloadType for c in media.rtp.codecs]

        for extension in media.rtp.headerExtensions:
            wanted = ids.get(extension.uri, extension.id)
            if any(uri != extension.uri and i == wanted for uri, i in ids.items()):
                wanted = next(i for i in _EXTENSION_IDS if i not in ids.values())
            ids[extension.uri] = wanted
            extension.id = wanted
    return str(description)
