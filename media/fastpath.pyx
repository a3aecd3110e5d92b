# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The forwarding fast path, compiled: what the relay does for every RTP packet it receives and sends.

This is the per-packet code of `media.forwarding` and `media.aiortc_internals` (whose module docstrings
describe the path, and which re-export these names), in Cython: the same steps and the same checks, with
the state each packet touches held in C fields instead of Python objects. Why it is compiled: at the loads a
consult has (a few streams), the worker is woken for each frame with its caches cold (the VM runs other work
in between), and in Python a frame touched thousands of scattered objects (each int attribute its own
object, each function its own code and frame), so it cost about three times what it costs warm. Compiling
the same Python without types changed nothing (measured); what helps is touching less memory per packet.

Everything here is part of the aiortc boundary of `media.aiortc_internals` (which checks, at import, the
private aiortc, aioice, asyncio and pylibsrtp names used here): the DTLS transport's ``_state``,
``_rx_srtp``/``_tx_srtp`` and counters, aioice's nominated pairs, asyncio's datagram transport ``_sock`` and
``_buffer``, the sender's counters, the receiver's ``_enabled``, and libsrtp's ``srtp_protect`` and
``srtp_unprotect`` called through the addresses pylibsrtp's binding gives.

A stale build is refused: `SOURCE_SHA256` is the hash of this file the module was built from, and
`media.aiortc_internals` compares it with the file next to it (``make`` rebuilds).
"""

import collections
import logging
import os
import random
import selectors
import time

import pylibsrtp
from asyncio.selector_events import _SelectorDatagramTransport
from aiortc.codecs.h264 import h264_depayload
from aiortc.codecs.vpx import vp8_depayload
from aiortc import clock as _clock
from aiortc.rtcdtlstransport import State as _DtlsState
from aiortc.rtcrtpreceiver import RTCRtpReceiver as _RTCRtpReceiver
from aiortc.rtcrtpsender import RTT_ALPHA as _RTT_ALPHA, RTCRtpSender as _RTCRtpSender
from aiortc.rtp import RTCP_RR as _RTCP_RR, RTCP_SDES as _RTCP_SDES, RTCP_SR as _RTCP_SR, RTP_HISTORY_SIZE
from aiortc.stats import RTCRemoteInboundRtpStreamStats, RTCRemoteOutboundRtpStreamStats

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.ref cimport PyObject
from libc.errno cimport EAGAIN, EINTR, errno
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t, uintptr_t
from libc.string cimport memcpy, memset
from libc.math cimport ceil
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    struct sockaddr:
        pass
    struct sockaddr_storage:
        pass
    ssize_t c_recvfrom "recvfrom"(int fd, void *buf, size_t n, int flags, sockaddr *addr, socklen_t *addrlen)
    ssize_t c_sendto "sendto"(int fd, const void *buf, size_t n, int flags, const sockaddr *addr, socklen_t addrlen)
    int MSG_DONTWAIT
    int SOCK_DGRAM

cdef extern from "<errno.h>" nogil:
    int EWOULDBLOCK

cdef extern from "<netdb.h>" nogil:
    struct addrinfo:
        int ai_flags
        int ai_family
        int ai_socktype
        int ai_protocol
        socklen_t ai_addrlen
        sockaddr *ai_addr
        addrinfo *ai_next
    int getaddrinfo(const char *node, const char *service, const addrinfo *hints, addrinfo **res)
    void freeaddrinfo(addrinfo *res)
    int getnameinfo(const sockaddr *addr, socklen_t addrlen, char *host, socklen_t hostlen, char *serv,
                    socklen_t servlen, int flags)
    int AI_NUMERICHOST
    int AI_NUMERICSERV
    int NI_NUMERICHOST
    int NI_NUMERICSERV
    int NI_MAXHOST

cdef extern from "<sys/epoll.h>" nogil:
    ctypedef union epoll_data_t:
        void *ptr
        int fd
        uint32_t u32
        uint64_t u64
    struct epoll_event:
        uint32_t events
        epoll_data_t data
    int epoll_wait(int epfd, epoll_event *events, int maxevents, int timeout)
    uint32_t EPOLLIN
    uint32_t EPOLLOUT

cdef extern from "Python.h":
    int PyContext_Enter(object context) except -1
    int PyContext_Exit(object context) except -1
    int PyErr_CheckSignals() except -1

cdef extern from *:
    """
    #ifndef JIAYI_FASTPATH_SHA256
    #define JIAYI_FASTPATH_SHA256 ""
    #endif
    """
    const char *JIAYI_FASTPATH_SHA256

#: The sha256 of the fastpath.pyx this module was built from (set by setup.py).
SOURCE_SHA256 = JIAYI_FASTPATH_SHA256.decode()

logger = logging.getLogger("media.aiortc_internals")

ctypedef int (*srtp_call)(void *ctx, void *data, int *length) noexcept nogil

cdef object _CONNECTED = _DtlsState.CONNECTED

cdef enum:
    #: The largest SRTP packet `Srtp` takes, as pylibsrtp (longer ones are refused with ValueError).
    SRTP_MAX_PACKET = 1500
    #: Room for the authentication tag and MKI that protecting appends (pylibsrtp's SRTP_MAX_TRAILER_LEN).
    SRTP_MAX_TRAILER = 144
    MAX_DATAGRAM = 65536
    #: aiortc's RTP_HISTORY_SIZE: the packets a writer can send again.
    HISTORY = 128
#: Datagrams read per wake-up of a socket beyond the first (a few frames' worth: fair to other sockets).
DRAIN_DATAGRAMS = 16
cdef int _DRAIN = DRAIN_DATAGRAMS
#: A placeholder abs-send-time value, replaced in each frame's header extension.
ABS_SEND_TIME_MARK = 0xA5C3E1
#: Seconds from the NTP epoch (1900) to the Unix epoch (1970).
cdef uint64_t NTP_UNIX_OFFSET_S = 2208988800
assert RTP_HISTORY_SIZE == HISTORY, "aiortc's RTP_HISTORY_SIZE changed"

# One receive buffer for the drain loop: the event loop is one thread, and what is read is handled (copied
# into the session's buffer) before the next read.
cdef char _rx_buffer[MAX_DATAGRAM]

_VP8_KEYFRAME_START_CODE = b"\x9d\x01\x2a"


cdef inline uint32_t _be16(const uint8_t *p) noexcept nogil:
    return (<uint32_t>p[0] << 8) | <uint32_t>p[1]


cdef inline uint32_t _be32(const uint8_t *p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | <uint32_t>p[3]


cdef inline void _put16(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = (v >> 8) & 0xFF
    p[1] = v & 0xFF


cdef inline void _put32(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = (v >> 24) & 0xFF
    p[1] = (v >> 16) & 0xFF
    p[2] = (v >> 8) & 0xFF
    p[3] = v & 0xFF


cdef inline double _monotonic_now() noexcept nogil:
    # time.monotonic()'s clock, which is the event loop's.
    cdef timespec now
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now.tv_sec + now.tv_nsec * 1e-9


def ntp_now():
    """The current time as a 64-bit NTP timestamp (what `aiortc.clock.current_ntp_time` returns, cheaper)."""
    return _ntp_now()


cdef uint64_t _ntp_now() except? 0:
    cdef uint64_t ns = time.time_ns()
    cdef uint64_t seconds = ns // 1000000000
    cdef uint64_t fraction = ns % 1000000000
    return ((seconds + NTP_UNIX_OFFSET_S) << 32) | ((fraction << 32) // 1000000000)


# --- packets ----------------------------------------------------------------------------------------------


cdef class RelayedPacket:
    """The fixed RTP header fields and payload of one relayed packet (what `RtpPacket` has, minus extensions).

    Its attribute names are `RtpPacket`'s, so aiortc's `StreamStatistics` and the frame assembler take either.
    """

    cdef readonly int payload_type
    cdef readonly int marker
    cdef readonly int sequence_number
    cdef readonly uint32_t timestamp
    cdef readonly uint32_t ssrc
    cdef readonly bytes payload

    def __init__(self, int payload_type, int marker, int sequence_number, uint32_t timestamp, uint32_t ssrc,
                 bytes payload):
        self.payload_type = payload_type
        self.marker = marker
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = payload


cdef RelayedPacket _parse(const uint8_t *data, Py_ssize_t size):
    # `parse_rtp` of size bytes at data.
    cdef RelayedPacket packet
    cdef Py_ssize_t pos, end
    if size < 12:
        raise ValueError("RTP packet length is less than 12 bytes")
    cdef uint8_t first = data[0]
    if first >> 6 != 2:
        raise ValueError("RTP packet has invalid version")
    pos = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        if size < pos + 4:
            raise ValueError("RTP packet has truncated extension profile / length")
        pos += 4 + 4 * <Py_ssize_t>_be16(data + pos + 2)
    end = size
    if first & 0x20:
        end -= data[size - 1]
    if pos > end:
        raise ValueError("RTP packet is truncated")
    packet = RelayedPacket.__new__(RelayedPacket)
    packet.payload_type = data[1] & 0x7F
    packet.marker = data[1] >> 7
    packet.sequence_number = _be16(data + 2)
    packet.timestamp = _be32(data + 4)
    packet.ssrc = _be32(data + 8)
    packet.payload = PyBytes_FromStringAndSize(<const char *>data + pos, end - pos)
    return packet


def parse_rtp(bytes data):
    """Parse an RTP packet's fixed header, skip its CSRCs and header extension, strip its padding.

    Raises ValueError for what is not RTP (the same checks as `RtpPacket.parse`).
    """
    return _parse(<const uint8_t *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))


# --- SRTP -------------------------------------------------------------------------------------------------


cdef object _srtp_error(int status):
    # What pylibsrtp raises for a libsrtp status (its ERRORS list is indexed by status).
    errors = pylibsrtp.ERRORS
    return pylibsrtp.Error(errors[status] if 0 <= status < len(errors) else f"libsrtp status {status}")


cdef class Srtp:
    """Protects and unprotects RTP (parsed) and RTCP with a pylibsrtp `Session`'s libsrtp context, directly.

    Get it with `media.aiortc_internals.srtp_of(session)` (one per session). The same context and the same
    checks as `Session.protect`, `unprotect`, `protect_rtcp` and `unprotect_rtcp`, minus what those
    allocate per packet. Errors are pylibsrtp's: `pylibsrtp.Error` from libsrtp, ValueError for a packet
    that is too long.
    """

    cdef object _owner  # pylibsrtp's gc-owned ``srtp_t *``: the context lives as long as this does
    cdef void *_context
    cdef srtp_call _protect
    cdef srtp_call _unprotect
    cdef srtp_call _protect_rtcp
    cdef srtp_call _unprotect_rtcp
    cdef char _buffer[SRTP_MAX_PACKET + SRTP_MAX_TRAILER]

    def __init__(self, session, uintptr_t protect, uintptr_t unprotect, uintptr_t protect_rtcp,
                 uintptr_t unprotect_rtcp):
        from pylibsrtp._binding import ffi

        self._owner = session._srtp
        self._context = <void *><uintptr_t>int(ffi.cast("uintptr_t", session._srtp[0]))
        self._protect = <srtp_call>protect
        self._unprotect = <srtp_call>unprotect
        self._protect_rtcp = <srtp_call>protect_rtcp
        self._unprotect_rtcp = <srtp_call>unprotect_rtcp

    def unprotect_rtp(self, bytes data):
        """The RTP packet inside SRTP packet `data` (authentic, not replayed), parsed as `parse_rtp` does."""
        return self._unprotect_rtp(<const char *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))

    cdef RelayedPacket _unprotect_rtp(self, const char *data, Py_ssize_t size):
        return _parse(<const uint8_t *>self._buffer, self._apply(self._unprotect, data, size))

    cdef int _apply(self, srtp_call call, const char *data, Py_ssize_t size) except -1:
        # `call` (libsrtp's protect or unprotect, RTP or RTCP) on a copy of `data` in the buffer; its length.
        cdef int length = <int>size
        if size > SRTP_MAX_PACKET:
            raise ValueError("packet is too long")
        memcpy(self._buffer, data, size)
        cdef int status = call(self._context, self._buffer, &length)
        if status != 0:
            raise _srtp_error(status)
        return length

    def protect(self, bytes header, bytes payload):
        """The SRTP packet of the RTP packet `header` + `payload`."""
        cdef Py_ssize_t head = PyBytes_GET_SIZE(header)
        cdef Py_ssize_t size = head + PyBytes_GET_SIZE(payload)
        if size > SRTP_MAX_PACKET:
            raise ValueError("packet is too long")
        memcpy(self._buffer, PyBytes_AS_STRING(header), head)
        memcpy(self._buffer + head, PyBytes_AS_STRING(payload), size - head)
        cdef int length = self._protect_buffer(<int>size)
        return PyBytes_FromStringAndSize(self._buffer, length)

    cdef int _protect_buffer(self, int size) except -1:
        # Protect the `size` bytes of RTP in the buffer in place; the SRTP length.
        cdef int length = size
        cdef int status = self._protect(self._context, self._buffer, &length)
        if status != 0:
            raise _srtp_error(status)
        return length

    def protect_rtcp(self, bytes packet):
        """The SRTCP packet of the compound RTCP packet `packet`."""
        cdef int length = self._apply(self._protect_rtcp, PyBytes_AS_STRING(packet), PyBytes_GET_SIZE(packet))
        return PyBytes_FromStringAndSize(self._buffer, length)

    def unprotect_rtcp(self, bytes data):
        """The compound RTCP packet inside SRTCP packet `data` (authentic, not replayed)."""
        return self._unprotect_rtcp_bytes(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))

    cdef bytes _unprotect_rtcp_bytes(self, const char *data, Py_ssize_t size):
        return PyBytes_FromStringAndSize(self._buffer, self._apply(self._unprotect_rtcp, data, size))


# --- receive statistics -----------------------------------------------------------------------------------


cdef class StreamStatistics:
    """aiortc's receive statistics for one stream (what its RTCP receiver reports say), in C fields.

    The attributes and arithmetic of `aiortc.rtcrtpreceiver.StreamStatistics` (checked against it at import
    and in tests), which the receiver's RTCP task and `getStats` read from its table of remote streams.
    """

    cdef public int64_t cycles
    cdef public int64_t packets_received
    cdef public int64_t _clockrate
    cdef public int64_t _jitter_q4
    cdef public int64_t _expected_prior
    cdef public int64_t _received_prior
    cdef int _base_seq
    cdef int _max_seq
    cdef int64_t _arrival
    cdef int64_t _timestamp
    cdef bint _has_arrival

    def __init__(self, int64_t clockrate):
        self._clockrate = clockrate
        self._base_seq = -1
        self._max_seq = -1

    @property
    def base_seq(self):
        return None if self._base_seq < 0 else self._base_seq

    @property
    def max_seq(self):
        return None if self._max_seq < 0 else self._max_seq

    @property
    def _last_arrival(self):
        return self._arrival if self._has_arrival else None

    @property
    def _last_timestamp(self):
        return self._timestamp if self._has_arrival else None

    def add(self, packet):
        """Count one received packet (a relayed one or an `RtpPacket`)."""
        if type(packet) is RelayedPacket:
            self._add((<RelayedPacket>packet).sequence_number, (<RelayedPacket>packet).timestamp)
        else:
            self._add(packet.sequence_number, packet.timestamp)

    cdef void _add(self, int seq, int64_t timestamp):
        cdef int64_t arrival, diff
        cdef int max_seq = self._max_seq
        self.packets_received += 1
        if self._base_seq < 0:
            self._base_seq = seq
        if max_seq >= 0 and not 0 < ((seq - max_seq) & 0xFFFF) < 0x8000:
            return  # not newer than the newest (aiortc's uint16_gt)
        arrival = <int64_t>(time.time() * self._clockrate)  # (looked up each time, as aiortc's)
        if max_seq >= 0 and seq < max_seq:
            self.cycles += 1 << 16
        self._max_seq = seq
        if self._has_arrival and timestamp != self._timestamp and self.packets_received > 1:
            diff = (arrival - self._arrival) - (timestamp - self._timestamp)
            if diff < 0:
                diff = -diff
            self._jitter_q4 += diff - ((self._jitter_q4 + 8) >> 4)
        self._arrival = arrival
        self._timestamp = timestamp
        self._has_arrival = True

    @property
    def fraction_lost(self):
        expected_interval = self.packets_expected - self._expected_prior
        self._expected_prior = self.packets_expected
        received_interval = self.packets_received - self._received_prior
        self._received_prior = self.packets_received
        lost_interval = expected_interval - received_interval
        if expected_interval == 0 or lost_interval <= 0:
            return 0
        return (lost_interval << 8) // expected_interval

    @property
    def jitter(self):
        return self._jitter_q4 >> 4

    @property
    def packets_expected(self):
        return self.cycles + self._max_seq - self._base_seq + 1

    @property
    def packets_lost(self):
        from aiortc.rtp import clamp_packets_lost

        return clamp_packets_lost(self.packets_expected - self.packets_received)


# --- frames -----------------------------------------------------------------------------------------------


cdef class EncodedFrame:
    """One whole encoded frame as the publisher sent it.

    A frame from a `FrameAssembler` also has `payloads`, its RTP payloads as they arrived: a subscriber's
    `RtpWriter` sends those as they are (no depayloading, no re-packetizing), and `data` is only built if
    something asks for it.
    """

    cdef public object _bytes
    cdef public object _join
    cdef public object payloads
    #: In the codec's clock, counted from the first frame of this `epoch` (may be negative after reordering).
    cdef public int64_t timestamp
    cdef public bint keyframe
    #: `time.monotonic()` when its last packet arrived.
    cdef public double arrival
    #: Changes when the publisher's stream restarts (new SSRC): timestamps of two epochs are unrelated.
    cdef public int64_t epoch

    def __init__(self, data, int64_t timestamp, keyframe, double arrival, int64_t epoch, payloads=None,
                 join=None):
        if data is None and join is None:
            raise ValueError("an EncodedFrame needs its data or a way to join it")
        self._bytes = data
        self._join = join
        self.payloads = payloads
        self.timestamp = timestamp
        self.keyframe = bool(keyframe)
        self.arrival = arrival
        self.epoch = epoch

    @property
    def data(self):
        """The encoded frame (depayloaded, joined)."""
        if self._bytes is None:
            self._bytes = self._join()
        return self._bytes


def is_keyframe(str mime_type, bytes data):
    """Whether an encoded frame can be decoded on its own (every Opus frame can)."""
    mime = mime_type.lower()
    if mime == "video/vp8":
        return _vp8_keyframe(<const uint8_t *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
    if mime == "video/h264":
        return any(nal_type == 5 for nal_type in _h264_nal_types(data))
    return True


cdef bint _vp8_keyframe(const uint8_t *data, Py_ssize_t size) noexcept:
    # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for key frames, which carry a start code.
    return size >= 10 and not data[0] & 0x01 and data[3] == 0x9D and data[4] == 0x01 and data[5] == 0x2A


def vp8_descriptor_length(bytes payload):
    """The length of a VP8 RTP payload descriptor (RFC 7741 section 4.2), or -1 when it is truncated.

    What `aiortc.codecs.vpx.VpxPayloadDescriptor.parse` skips, without building the descriptor.
    """
    return _vp8_descriptor_length(<const uint8_t *>PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload))


cdef Py_ssize_t _vp8_descriptor_length(const uint8_t *payload, Py_ssize_t size) noexcept:
    cdef Py_ssize_t position
    cdef uint8_t extended
    if size < 1:
        return -1
    if not payload[0] & 0x80:  # no extended control bits
        return 1
    if size < 2:
        return -1
    extended = payload[1]
    position = 2
    if extended & 0x80:  # PictureID, 7 or 15 bits
        if size < position + 1:
            return -1
        position += 2 if payload[position] & 0x80 else 1
    if extended & 0x40:  # TL0PICIDX
        position += 1
    if extended & 0x30:  # TID/Y/KEYIDX
        position += 1
    return position if position <= size else -1


def _h264_nal_types(bytes data):
    """NAL unit types of an Annex B byte stream (what aiortc's H.264 depayloader produces)."""
    types = []
    position = data.find(b"\x00\x00\x01")
    while position != -1 and position + 3 < len(data):
        types.append(data[position + 3] & 0x1F)
        position = data.find(b"\x00\x00\x01", position + 3)
    return types


def depayload(str mime_type, bytes payload):
    """The codec data of one RTP payload (VP8 and H.264 payloads carry a descriptor; Opus is its payload)."""
    mime = mime_type.lower()
    if mime == "video/vp8":
        return vp8_depayload(payload)
    if mime == "video/h264":
        return h264_depayload(payload)
    return payload


cdef inline object _packet_data(object packet):
    # The depayloaded bytes aiortc's receiver stored on a packet (its ``_data``), or None (relayed packets).
    if type(packet) is RelayedPacket:
        return None
    return getattr(packet, "_data", None)


cdef class Unwrapper:
    """Extends RTP sequence numbers or timestamps past their wrap-around, allowing for reordering."""

    cdef int64_t _mask
    cdef int64_t _half
    cdef int64_t _last
    cdef bint _started

    def __init__(self, int bits):
        self._mask = (<int64_t>1 << bits) - 1
        self._half = <int64_t>1 << (bits - 1)

    def unwrap(self, int64_t value):
        return self._unwrap(value)

    cdef int64_t _unwrap(self, int64_t value) noexcept:
        cdef int64_t delta, extended
        if not self._started:
            self._started = True
            self._last = value + self._mask + 1
            return self._last
        delta = (value - self._last) & self._mask
        if delta >= self._half:
            delta -= self._mask + 1
        extended = self._last + delta
        if delta > 0:
            self._last = extended
        return extended

    def advance(self, int64_t extended):
        """Take `extended`, the value that follows the last one, as the newest (what `unwrap` would do)."""
        self._last = extended


cdef class NackTracker:
    """The packets missing from one RTP stream, for NACKs: O(1) amortized per packet.

    aiortc's `NackGenerator` walks every missing packet on every packet it receives; here the missing
    sequence numbers are kept in arrival order, so forgetting the old ones only looks at the oldest.
    At most `history` packets behind the newest are asked for (aiortc: `RTP_HISTORY_SIZE`).
    """

    cdef int64_t _history
    cdef Unwrapper _seq
    cdef int64_t _max
    cdef bint _has_max
    cdef object _missing

    def __init__(self, int64_t history=128):
        if history < 1:
            raise ValueError(f"history must be at least 1, got {history!r}")
        self._history = history
        self._seq = Unwrapper(16)
        self._missing = collections.OrderedDict()

    def add(self, int sequence_number):
        """Note a received packet; True when it revealed newly missing packets (a NACK is due)."""
        return self._add(sequence_number)

    cdef bint _add(self, int sequence_number) except -1:
        cdef int64_t newest = self._max, extended, oldest, seq
        missing = self._missing
        if self._has_max and sequence_number == ((newest + 1) & 0xFFFF) and not missing:
            # The next packet in order with nothing missing (the common case): only the newest moves on.
            self._max = newest + 1
            self._seq._last = newest + 1
            return False
        extended = self._seq._unwrap(sequence_number)
        if not self._has_max:
            self._max = extended
            self._has_max = True
            return False
        if extended <= self._max:
            missing.pop(extended, None)  # a retransmission or a reordered packet
            return False
        oldest = extended - self._history
        for seq in range(max(self._max + 1, oldest), extended):
            missing[seq] = None
        missed = extended > self._max + 1
        self._max = extended
        while missing and next(iter(missing)) < oldest:
            missing.popitem(last=False)
        return missed

    def missing(self):
        """The missing sequence numbers, oldest first."""
        return [seq & 0xFFFF for seq in self._missing]


cdef class FrameAssembler:
    """Rebuilds frames from a receiver's depayloaded RTP packets; releases each frame on its marker packet.

    It takes the place of aiortc's jitter buffer (same `add` shape) but never returns a frame to aiortc:
    whole frames go to `on_frame`, and `on_need_keyframe` is called when a frame was lost (the stream then
    waits for a keyframe) or when the stream starts with a delta frame.
    """

    cdef readonly object codec
    cdef bint _video
    cdef bint _vp8
    cdef str _mime
    cdef object _on_frame
    cdef object _on_need_keyframe
    cdef double _loss_wait
    cdef Py_ssize_t _capacity
    cdef object _clock
    cdef public object ssrc
    cdef public int64_t epoch
    #: Frames released, and frames given up (lost, or skipped while waiting for a keyframe).
    cdef public int64_t frames
    cdef public int64_t frames_lost
    cdef Unwrapper _seq
    cdef Unwrapper _ts
    cdef int64_t _ts_origin
    cdef bint _has_ts_origin
    cdef int64_t _next
    cdef bint _has_next
    cdef dict _packets
    cdef dict _markers
    # The common case, kept out of the dicts above: packets in order from `_next` on, none missing, the
    # frame's last one not in yet. Whenever that stops being so, the run moves into `_packets`.
    cdef list _run
    cdef bint _waiting_keyframe

    def __init__(self, codec, on_frame, on_need_keyframe, *, double loss_wait_s=0.1, Py_ssize_t capacity=512,
                 clock=time.monotonic):
        if loss_wait_s <= 0:
            raise ValueError(f"loss_wait_s must be positive, got {loss_wait_s!r}")
        self.codec = codec
        self._video = codec.kind == "video"
        self._mime = codec.mime_type.lower()
        self._vp8 = self._mime == "video/vp8"
        self._on_frame = on_frame
        self._on_need_keyframe = on_need_keyframe
        self._loss_wait = loss_wait_s
        self._capacity = capacity
        self._clock = clock
        self.ssrc = None
        self.epoch = 0
        self.frames = 0
        self.frames_lost = 0
        self._reset()

    cdef void _reset(self):
        self._seq = Unwrapper(16)
        self._ts = Unwrapper(32)
        self._has_ts_origin = False
        self._has_next = False
        self._packets = {}
        self._markers = {}
        self._run = []
        self._waiting_keyframe = self._video

    @property
    def waiting_keyframe(self):
        """Whether frames are held back until the publisher sends a keyframe."""
        return self._waiting_keyframe

    def add(self, packet):
        """Take one packet (a relayed one, or one that aiortc's receiver depayloaded for its jitter buffer)."""
        self._add(packet)
        return (False, None)

    cdef int _add(self, object packet) except -1:
        cdef RelayedPacket relayed
        cdef int sequence_number, marker
        cdef uint32_t ssrc
        cdef int64_t extended
        cdef list run
        if type(packet) is RelayedPacket:
            relayed = <RelayedPacket>packet
            ssrc, sequence_number, marker = relayed.ssrc, relayed.sequence_number, relayed.marker
        else:
            ssrc, sequence_number, marker = packet.ssrc, packet.sequence_number, packet.marker
        if self.ssrc is None or ssrc != self.ssrc:
            if self.ssrc is not None:
                self.epoch += 1
            self.ssrc = ssrc
            self._reset()
        extended = self._seq._unwrap(sequence_number)
        run = self._run
        if (
            self._video
            and self._has_next
            and extended == self._next + len(run)
            and not self._packets
            and len(run) < self._capacity
        ):
            # In order, nothing missing (the fast path): the frame is whole on its marker.
            run.append(packet)
            if marker:
                self._next = extended + 1
                self._run = []
                self._complete(run, self._clock())
            return 0
        if run:
            self._unstage()
        now = self._clock()
        if self._has_next and extended < self._next:
            return 0  # a duplicate, or too late: its frame was released or given up
        if not self._video:
            self._next = extended + 1
            self._has_next = True
            payload = packet.payload
            if payload:
                data = _packet_data(packet)
                self._release(
                    EncodedFrame(payload if data is None else data, 0, True, now, self.epoch, [payload]),
                    packet.timestamp,
                )
            return 0
        if extended in self._packets:
            return 0
        self._packets[extended] = packet
        if marker:
            self._markers[extended] = now
        if not self._has_next:
            # Join the stream on its first frame boundary.
            if marker:
                self._discard_through(extended)
                self._next = extended + 1
                self._has_next = True
            elif len(self._packets) > self._capacity:
                self._packets.clear()
            return 0
        if self._markers or len(self._packets) > self._capacity:
            # (With no frame's last packet in, no frame can be complete: nothing to look at.)
            self._drain(now)
        return 0

    cdef void _unstage(self):
        # The run leaves the fast path: its packets join the others (it holds no frame's last packet).
        cdef int64_t offset = self._next
        packets = self._packets
        for staged in self._run:
            packets[offset] = staged
            offset += 1
        self._run = []

    cdef int _drain(self, now) except -1:
        cdef int64_t start, end
        packets = self._packets
        while self._has_next:
            start = self._next
            # Padding packets (no payload) between frames belong to no frame.
            while (p := packets.get(start)) is not None and not p.marker and not p.payload:
                del packets[start]
                start += 1
            self._next = start
            end = start
            while (p := packets.get(end)) is not None and not p.marker:
                end += 1
            if p is not None:
                run = [packets.pop(seq) for seq in range(start, end + 1)]
                del self._markers[end]
                self._next = end + 1
                self._complete(run, now)
                continue
            # A packet is missing. Wait for its retransmission while the later frames are recent.
            if not self._markers:
                if len(packets) > self._capacity:
                    self._lose()
                    self._packets.clear()
                    self._has_next = False
                return 0
            boundary = min(self._markers)
            if len(packets) <= self._capacity and now - self._markers[boundary] < self._loss_wait:
                return 0
            self._discard_through(boundary)
            self._next = boundary + 1
            self._lose()
        return 0

    cdef void _discard_through(self, int64_t last):
        for seq in [s for s in self._packets if s <= last]:
            del self._packets[seq]
        for seq in [s for s in self._markers if s <= last]:
            del self._markers[seq]

    def _frame_data(self, packet):
        data = _packet_data(packet)
        return depayload(self._mime, packet.payload) if data is None else data

    cdef int _complete(self, list run, now) except -1:
        cdef RelayedPacket relayed
        cdef Py_ssize_t start
        cdef bytes payload
        cdef uint32_t timestamp = run[len(run) - 1].timestamp
        cdef list kept = []
        cdef list payloads = []
        cdef bint relayed_only = True
        cdef uint32_t packet_timestamp
        for p in run:
            if type(p) is RelayedPacket:
                relayed = <RelayedPacket>p
                payload, packet_timestamp = relayed.payload, relayed.timestamp
            else:
                relayed_only = False
                payload, packet_timestamp = p.payload, p.timestamp
            if not payload:
                continue
            if packet_timestamp != timestamp:
                # The previous frame's marker never came: this run mixes two frames.
                self._lose()
                return 0
            kept.append(p)
            payloads.append(payload)
        if not kept:
            return 0
        frame = EncodedFrame.__new__(EncodedFrame)
        frame._join = _Joiner(self, kept)
        frame.payloads = payloads
        frame.arrival = now
        frame.epoch = self.epoch
        if self._vp8:
            # The frame tag is in the first packet, after its payload descriptor.
            first = kept[0]
            data = None if relayed_only else _packet_data(first)
            if data is None:
                payload = payloads[0]
                start = _vp8_descriptor_length(<const uint8_t *>PyBytes_AS_STRING(payload), len(payload))
                # A truncated descriptor is no keyframe (the relay forwards what it cannot read as it came).
                if start < 0:
                    data = b""
                elif len(payload) - start < 10 and len(kept) > 1:
                    data = frame.data  # a first packet too short to hold the frame tag and start code
                else:
                    frame.keyframe = _vp8_keyframe(
                        <const uint8_t *>PyBytes_AS_STRING(payload) + start, len(payload) - start
                    )
                    self._release(frame, timestamp)
                    return 0
            frame.keyframe = is_keyframe(self._mime, data)
        else:
            frame.keyframe = is_keyframe(self._mime, frame.data)
        self._release(frame, timestamp)
        return 0

    cdef int _release(self, EncodedFrame frame, uint32_t rtp_timestamp) except -1:
        cdef int64_t extended
        if self._waiting_keyframe:
            if not frame.keyframe:
                self.frames_lost += 1
                self._on_need_keyframe()
                return 0
            self._waiting_keyframe = False
        extended = self._ts._unwrap(rtp_timestamp)
        if not self._has_ts_origin:
            self._ts_origin = extended
            self._has_ts_origin = True
        self.frames += 1
        frame.timestamp = extended - self._ts_origin
        if type(self._on_frame) is Fanout:
            (<Fanout>self._on_frame)._deliver(frame)
        else:
            self._on_frame(frame)
        return 0

    cdef void _lose(self):
        self.frames_lost += 1
        self._waiting_keyframe = True
        self._on_need_keyframe()


cdef class _Joiner:
    # A frame's data, joined from its packets only when something asks for it (a recorder, a fallback).
    cdef FrameAssembler _assembler
    cdef list _packets

    def __init__(self, FrameAssembler assembler, list packets):
        self._assembler = assembler
        self._packets = packets

    def __call__(self):
        return b"".join([self._assembler._frame_data(p) for p in self._packets])


# --- receiving --------------------------------------------------------------------------------------------


#: How stale aiortc's "last packet from this source" time (RTCRtpSynchronizationSource.timestamp) may be.
#: getSynchronizationSources lists the sources heard in the last 10 s; nothing in Jiayi reads the time.
#: Measured (two workers side by side under one generator, 10 streams): 1 s in place of 0.1 s cut a
#: worker's CPU by 5-6%, the UTC time and a new datetime per publisher 10 times a second on cold caches.
ACTIVE_SSRC_RESOLUTION_S = 1.0


cdef class ReceiverTap:
    """What a relayed receiver does for each of its RTP packets (`media.aiortc_internals.relay_receiver`).

    What aiortc's `_handle_rtp_packet` does is kept (enabled check, codec check, statistics for RTCP receiver
    reports, NACKs through `nacks`, `None` for audio) except the REMB estimator and depayloading.
    """

    cdef object _receiver
    cdef dict _codecs
    cdef dict _streams
    cdef dict _active
    cdef object _handler
    cdef FrameAssembler _assembler
    cdef object _nacks
    cdef NackTracker _tracker
    cdef object _send_nacks
    cdef object _now_datetime
    cdef dict _noted  # SSRC -> when its entry in `active` was last written (monotonic)

    def __init__(self, receiver, codecs, streams, active, handler, nacks, send_nacks, now_datetime):
        self._receiver = receiver
        self._codecs = codecs
        self._streams = streams
        self._active = active
        self._handler = handler
        # The assembler's own `add`, called without going through Python, when that is the handler.
        handler_self = getattr(handler, "__self__", None)
        if type(handler_self) is FrameAssembler and getattr(handler, "__name__", "") == "add":
            self._assembler = <FrameAssembler>handler_self
        self._nacks = nacks
        if type(nacks) is NackTracker:
            self._tracker = <NackTracker>nacks
        self._send_nacks = send_nacks
        self._now_datetime = now_datetime
        self._noted = {}

    def __call__(self, packet):
        self._take(packet)

    cdef int _take(self, object packet) except -1:
        cdef RelayedPacket relayed
        cdef StreamStatistics fast_stats
        cdef int payload_type, sequence_number, marker
        cdef uint32_t ssrc, timestamp
        cdef double now
        if not self._receiver._enabled:
            return 0
        if type(packet) is RelayedPacket:
            relayed = <RelayedPacket>packet
            payload_type, sequence_number = relayed.payload_type, relayed.sequence_number
            marker, ssrc, timestamp = relayed.marker, relayed.ssrc, relayed.timestamp
        else:
            payload_type, sequence_number = packet.payload_type, packet.sequence_number
            marker, ssrc, timestamp = packet.marker, packet.ssrc, packet.timestamp
        codec = self._codecs.get(payload_type)
        if codec is None:
            return 0
        stats = self._streams.get(ssrc)
        if stats is None:
            stats = self._streams[ssrc] = StreamStatistics(codec.clockRate)
        if type(stats) is StreamStatistics:
            fast_stats = <StreamStatistics>stats
            fast_stats._add(sequence_number, timestamp)
        else:
            stats.add(packet)
        # aiortc notes when each source last sent a packet (getSynchronizationSources, which keeps the last
        # 10 s): here at most every ACTIVE_SSRC_RESOLUTION_S, as a new datetime each time is dear.
        now = _monotonic_now()
        noted = self._noted.get(ssrc)
        if noted is None or now - <double>noted >= ACTIVE_SSRC_RESOLUTION_S:
            self._noted[ssrc] = now
            self._active[ssrc] = self._now_datetime()
        if self._tracker is not None:
            if self._tracker._add(sequence_number):
                self._send_nacks(ssrc)
        elif self._nacks is not None and self._nacks.add(sequence_number):
            self._send_nacks(ssrc)
        if self._assembler is not None:
            self._assembler._add(packet)
        else:
            self._handler(packet)
        return 0


cdef class Inbound:
    """What a media socket's datagrams go through first: routed SRTP is decrypted and handled right here.

    Made by `RtpLink` for the nominated pair's ``StunProtocol``. When the pair's transport is asyncio's
    selector datagram transport, `read_ready` is the socket's reader in place of the transport's
    ``_read_ready`` (which allocates a 256 KiB buffer and runs Python for each datagram): each wake-up of
    the socket reads the datagrams waiting, at most ``DRAIN_DATAGRAMS + 1``, into one static buffer. RTP
    (first byte 128-191, RFC 7983, and not RTCP: second byte 192-223) whose SSRC is routed goes to its
    handler; SRTCP of a connected transport is decrypted and its compound RTCP packet given to `on_rtcp`
    (what aiortc's DTLS transport does with it, without its queue and task); every other datagram to the
    protocol's own ``datagram_received``, with the bytes and address asyncio would have given it, and read
    errors to its ``error_received``, as asyncio does. With another event loop's transport, `__call__`
    replaces the protocol's ``datagram_received`` instead (one datagram per call).
    """

    cdef object _dtls
    cdef dict _routes
    cdef object _original
    cdef object _protocol
    cdef object _transport  # asyncio's transport whose socket `read_ready` reads, or None
    cdef int _fd
    cdef object _srtp_session
    cdef Srtp _srtp
    cdef object _srtp_of
    cdef object _on_rtcp
    cdef int64_t _rx_bytes
    cdef int64_t _rx_packets

    def __init__(self, dtls, dict routes, protocol, transport, srtp_of, on_rtcp=None):
        self._dtls = dtls
        self._routes = routes
        self._protocol = protocol
        self._original = protocol.datagram_received
        self._transport = transport
        self._fd = transport._sock_fd if transport is not None else -1
        self._srtp_of = srtp_of
        self._on_rtcp = on_rtcp

    def __call__(self, bytes data, addr):
        try:
            if not self._dispatch(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data)):
                self._original(data, addr)
        finally:
            self._flush()

    cpdef read_ready(self):
        """The socket is readable: read and handle what waits on it (asyncio's reader callback)."""
        cdef ssize_t size
        cdef sockaddr_storage source
        cdef socklen_t source_length
        cdef int drained, code
        transport = self._transport
        try:
            for drained in range(_DRAIN + 1):
                if transport._conn_lost:
                    return  # closed (by a handler, too): asyncio removes the reader
                source_length = sizeof(source)
                size = c_recvfrom(self._fd, _rx_buffer, MAX_DATAGRAM, MSG_DONTWAIT, <sockaddr *>&source,
                                  &source_length)
                if size < 0:
                    code = errno
                    if code != EAGAIN and code != EWOULDBLOCK and code != EINTR:
                        import os

                        self._protocol.error_received(OSError(code, os.strerror(code)))
                    return
                if not self._dispatch(_rx_buffer, size):
                    self._unrouted(size, &source, source_length)
        finally:
            self._flush()

    cdef int _unrouted(self, ssize_t size, sockaddr_storage *source, socklen_t source_length) except -1:
        # Not routed RTP: the protocol's own callback, given what asyncio would have given it.
        cdef char host[1025]
        cdef char port[32]
        data = PyBytes_FromStringAndSize(_rx_buffer, size)
        if getnameinfo(<sockaddr *>source, source_length, host, sizeof(host), port, sizeof(port),
                       NI_NUMERICHOST | NI_NUMERICSERV) != 0:
            return 0
        # Its errors reach asyncio's handler, as from the transport's own reader (the transport stays open).
        self._original(data, self._address(host.decode(), int(port.decode())))
        return 0

    cdef object _address(self, str host, int port):
        # asyncio gives (host, port) for IPv4 and (host, port, flowinfo, scope_id) for IPv6 (as the socket
        # module does: scope and flow are 0 for the addresses the relay gathers on; otherwise ask Python).
        if ":" not in host:
            return (host, port)
        if "%" in host:
            import socket

            return socket.getaddrinfo(host, port, socket.AF_INET6, socket.SOCK_DGRAM)[0][4]
        return (host, port, 0, 0)

    cdef bint _dispatch(self, const char *data, Py_ssize_t size) except -1:
        # True when the datagram was routed RTP or SRTCP of a connected transport (handled, or dropped as
        # not authentic).
        cdef const uint8_t *p = <const uint8_t *>data
        cdef PyObject *found
        cdef RelayedPacket packet
        if size < 12 or not (127 < p[0] < 192):
            return False
        if 191 < p[1] < 224:
            return self._rtcp(data, size)
        dtls = self._dtls
        if dtls._state is not _CONNECTED:
            return False
        found = PyDict_GetItem(self._routes, _be32(p + 8))
        if found is NULL:
            return False
        handler = <object>found
        self._rx_bytes += size
        self._rx_packets += 1
        try:
            packet = self._rx_srtp(dtls._rx_srtp)._unprotect_rtp(data, size)
        except (pylibsrtp.Error, ValueError):
            return True  # not authentic, replayed, or not RTP: dropped, as aiortc does
        try:
            if type(handler) is ReceiverTap:
                (<ReceiverTap>handler)._take(packet)
            else:
                handler(packet)
        except Exception:
            # Never let it reach asyncio: the socket's transport would be closed.
            logger.exception("relayed RTP packet handler failed")
        return True

    cdef bint _rtcp(self, const char *data, Py_ssize_t size) except -1:
        on_rtcp = self._on_rtcp
        if on_rtcp is None:
            return False
        dtls = self._dtls
        if dtls._state is not _CONNECTED:
            return False
        session = dtls._rx_srtp
        if session is None:
            return False
        self._rx_bytes += size
        self._rx_packets += 1
        try:
            packet = self._rx_srtp(session)._unprotect_rtcp_bytes(data, size)
        except (pylibsrtp.Error, ValueError):
            return True  # not authentic, replayed or too long: dropped (aiortc drops the first two)
        try:
            on_rtcp(packet)
        except Exception:
            # Never let it reach asyncio (nor stop the socket's other datagrams).
            logger.exception("RTCP handler failed")
        return True

    cdef Srtp _rx_srtp(self, session):
        # The `Srtp` of the transport's receiving session (a new one after DTLS renegotiates keys).
        if session is not self._srtp_session:
            self._srtp = self._srtp_of(session)
            self._srtp_session = session
        return self._srtp

    cdef void _flush(self):
        # The transport's packet and byte counters (its getStats), once per wake-up.
        if self._rx_packets:
            dtls = self._dtls
            dtls._RTCDtlsTransport__rx_bytes += self._rx_bytes
            dtls._RTCDtlsTransport__rx_packets += self._rx_packets
            self._rx_bytes = 0
            self._rx_packets = 0


# --- RTCP reports ---------------------------------------------------------------------------------------

cdef enum:
    RTCP_SR = 200
    RTCP_RR = 201
    RTCP_SDES = 202
assert (_RTCP_SR, _RTCP_RR, _RTCP_SDES) == (RTCP_SR, RTCP_RR, RTCP_SDES)

cdef object _receiver_logger = logging.getLogger("aiortc.rtcrtpreceiver")
cdef object _sender_logger = logging.getLogger("aiortc.rtcrtpsender")
cdef object _wall_time = time.time
cdef double _rtt_alpha = _RTT_ALPHA


cdef bint _sdes_valid(const uint8_t *data, Py_ssize_t size, int count) noexcept:
    # What `RtcpSdesPacket.parse` accepts (the same walk; aiortc routes SDES nowhere).
    cdef Py_ssize_t pos = 0
    cdef int chunk
    cdef uint8_t item_type, item_length
    for chunk in range(count):
        if size < pos + 4:
            return False
        pos += 4
        while pos < size - 1:
            item_type, item_length = data[pos], data[pos + 1]
            pos += 2
            if size < pos + item_length:
                return False
            pos += item_length
            if item_type == 0:
                break
    return True


cdef class RtcpReports:
    """A transport's incoming compound RTCP packets (`RtpLink`'s ``on_rtcp``): the periodic reports in C.

    What browsers and aiortc send every second or so is a compound of sender reports, receiver reports and
    SDES. Such a compound is parsed and validated here as aiortc's `RtcpPacket.parse` would, routed as the
    transport's `RtpRouter.route_rtcp` would, and what aiortc's receiver and sender ``_handle_rtcp_packet``
    do with it is done here: the receiver's remote-outbound statistics and last-SR time (for the RR's LSR
    and DLSR), the sender's round-trip time and remote-inbound statistics. Every other compound (feedback:
    NACK, PLI, FIR, REMB; BYE; other types; anything malformed; a recipient of another class) goes whole to
    `fallback`, which is aiortc's own path; so does everything while aiortc's receiver or sender logger
    logs debug messages, so that its log stays whole.
    """

    cdef object _dtls
    cdef object _fallback
    #: Compound packets handled here, and given to `fallback`.
    cdef readonly int64_t handled
    cdef readonly int64_t passed_on

    def __init__(self, dtls, fallback):
        self._dtls = dtls
        self._fallback = fallback

    def __call__(self, bytes data):
        if self._handle(<const uint8_t *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data)):
            self.handled += 1
        else:
            self.passed_on += 1
            self._fallback(data)

    cdef bint _handle(self, const uint8_t *data, Py_ssize_t size) except -1:
        cdef Py_ssize_t pos = 0, start, end, length, block
        cdef int count, packet_type, index
        cdef uint8_t padding
        cdef const uint8_t *p
        if size == 0 or _receiver_logger.isEnabledFor(logging.DEBUG) or _sender_logger.isEnabledFor(
            logging.DEBUG
        ):
            return False
        router = self._dtls._rtp_router
        ssrc_table = router.ssrc_table
        senders = router.senders
        # First the whole compound is checked (aiortc handles none of it when any part is malformed).
        while pos < size:
            if size < pos + 4 or data[pos] >> 6 != 2:
                return False
            count = data[pos] & 0x1F
            packet_type = data[pos + 1]
            start = pos + 4
            end = start + <Py_ssize_t>_be16(data + pos + 2) * 4
            if size < end:
                return False
            length = end - start
            if data[pos] & 0x20:
                padding = data[end - 1] if length else 0
                if not padding or padding > length:
                    return False
                length -= padding
            p = data + start
            if packet_type == RTCP_SR:
                if length != 24 + 24 * count:
                    return False
                receiver = ssrc_table.get(_be32(p))
                if receiver is not None and type(receiver) is not _RTCRtpReceiver:
                    return False
                block = 24
            elif packet_type == RTCP_RR:
                if length != 4 + 24 * count:
                    return False
                block = 4
            elif packet_type == RTCP_SDES:
                if not _sdes_valid(p, length, count):
                    return False
                count = 0
            else:
                return False
            for index in range(count):
                sender = senders.get(_be32(p + block + 24 * index))
                if sender is not None and type(sender) is not _RTCRtpSender:
                    return False
            pos = end
        # Then each report goes where aiortc's router would send it.
        pos = 0
        while pos < size:
            count = data[pos] & 0x1F
            packet_type = data[pos + 1]
            p = data + pos + 4
            pos += 4 + <Py_ssize_t>_be16(data + pos + 2) * 4
            if packet_type == RTCP_SR:
                receiver = ssrc_table.get(_be32(p))
                if receiver is not None:
                    self._sender_report(receiver, p)
                block = 24
            elif packet_type == RTCP_RR:
                block = 4
            else:
                continue
            for index in range(count):
                sender = senders.get(_be32(p + block + 24 * index))
                if sender is not None:
                    self._receiver_report(sender, _be32(p), p + block + 24 * index)
        return True

    cdef int _sender_report(self, receiver, const uint8_t *p) except -1:
        # RTCRtpReceiver._handle_rtcp_packet, for an RtcpSrPacket.
        cdef uint32_t ssrc = _be32(p)
        cdef uint64_t ntp = (<uint64_t>_be32(p + 4) << 32) | _be32(p + 8)
        receiver._RTCRtpReceiver__stats.add(
            RTCRemoteOutboundRtpStreamStats(
                timestamp=_clock.current_datetime(),
                type="remote-outbound-rtp",
                id=f"remote-outbound-rtp_{id(receiver)}",
                ssrc=ssrc,
                kind=receiver._RTCRtpReceiver__kind,
                transportId=receiver.transport._stats_id,
                packetsSent=_be32(p + 16),
                bytesSent=_be32(p + 20),
                remoteTimestamp=_clock.datetime_from_ntp(ntp),
            )
        )
        receiver._RTCRtpReceiver__lsr[ssrc] = (ntp >> 16) & 0xFFFFFFFF
        receiver._RTCRtpReceiver__lsr_time[ssrc] = _wall_time()
        return 0

    cdef int _receiver_report(self, sender, uint32_t packet_ssrc, const uint8_t *report) except -1:
        # RTCRtpSender._handle_rtcp_packet, for one report block of an RtcpRrPacket or RtcpSrPacket.
        cdef uint32_t dlsr = _be32(report + 20)
        cdef int32_t packets_lost = <int32_t>(_be32(report + 4) << 8) >> 8  # signed 24 bits
        if _be32(report) != sender._ssrc:
            return 0
        if sender._RTCRtpSender__lsr == _be32(report + 16) and dlsr:
            rtt = _wall_time() - sender._RTCRtpSender__lsr_time - (dlsr / 65536.0)
            previous = sender._RTCRtpSender__rtt
            sender._RTCRtpSender__rtt = rtt if previous is None else _rtt_alpha * previous + (1 - _rtt_alpha) * rtt
        sender._RTCRtpSender__stats.add(
            RTCRemoteInboundRtpStreamStats(
                timestamp=_clock.current_datetime(),
                type="remote-inbound-rtp",
                id="remote-inbound-rtp_" + str(id(sender)),
                ssrc=packet_ssrc,
                kind=sender._RTCRtpSender__kind,
                transportId=sender.transport._stats_id,
                packetsReceived=sender._RTCRtpSender__packet_count - packets_lost,
                packetsLost=packets_lost,
                jitter=_be32(report + 12),
                roundTripTime=sender._RTCRtpSender__rtt,
                fractionLost=report[4],
            )
        )
        return 0


# --- sending ----------------------------------------------------------------------------------------------


cdef class RtpLink:
    """Sends and receives SRTP on one `RTCDtlsTransport` without aiortc's per-packet coroutines and queues.

    Get it with `media.aiortc_internals.rtp_link(transport)`. Receiving: `route(ssrc, handler)` makes every
    later RTP packet of `ssrc` go to `handler`, called in the socket's reader, and SRTCP goes to `on_rtcp`
    decrypted, once the link has a pair (it routes a stream or sends). Sending: `send(header, payload)`,
    `send_rtcp(packet)`, and `RtpWriter` straight from the session's buffer.
    """

    cdef object _dtls
    cdef dict _routes
    cdef set _hooked
    cdef object _srtp_of
    cdef object _on_rtcp
    # aioice's nominated pairs (the same dict for the connection's life) and the one sent on.
    cdef dict _nominated
    cdef object _pair
    cdef object _transport
    cdef object _addr
    cdef object _tx_session
    cdef Srtp _tx
    cdef int _fd
    cdef sockaddr_storage _sockaddr
    cdef socklen_t _sockaddr_length

    def __init__(self, dtls, srtp_of, on_rtcp=None):
        self._dtls = dtls
        self._routes = {}
        self._hooked = set()
        self._srtp_of = srtp_of
        self._on_rtcp = on_rtcp
        self._nominated = dtls.transport._connection._nominated
        self._fd = -1

    @property
    def on_rtcp(self):
        """What the link hands incoming compound RTCP packets to (decrypted), or None."""
        return self._on_rtcp

    # sending

    def send(self, bytes header, bytes payload):
        """Encrypt and send one RTP packet now; `ConnectionError` when the transport is not connected."""
        self.send_all(((header, payload),))

    def send_all(self, packets):
        """Encrypt and send RTP packets, each given as (header, payload), now and back to back.

        `ConnectionError` when the transport is not connected (nothing is sent then).
        """
        cdef Srtp srtp = self._tx_srtp()
        cdef bytes header, payload
        cdef Py_ssize_t head, size
        self._ready()
        octets = count = 0
        for header, payload in packets:
            head = PyBytes_GET_SIZE(header)
            size = head + PyBytes_GET_SIZE(payload)
            if size > SRTP_MAX_PACKET:
                raise ValueError("packet is too long")
            memcpy(srtp._buffer, PyBytes_AS_STRING(header), head)
            memcpy(srtp._buffer + head, PyBytes_AS_STRING(payload), size - head)
            octets += self._send(srtp._buffer, srtp._protect_buffer(<int>size))
            count += 1
        self._count(octets, count)

    def send_rtcp(self, bytes packet):
        """Encrypt and send one compound RTCP packet now; `ConnectionError` when not connected."""
        if self._dtls._state is not _CONNECTED:
            raise ConnectionError("Cannot send encrypted RTCP, not connected")
        data = self._tx_srtp().protect_rtcp(packet)
        self._ready()
        self._count(self._send(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data)), 1)

    cdef Srtp _tx_srtp(self):
        dtls = self._dtls
        if dtls._state is not _CONNECTED:
            raise ConnectionError("Cannot send encrypted RTP, not connected")
        session = dtls._tx_srtp
        if session is not self._tx_session:
            self._tx = self._srtp_of(session)
            self._tx_session = session
        return self._tx

    cdef int _ready(self) except -1:
        # The nominated pair to send on (it changes only on an ICE restart), or ConnectionError.
        pair = self._nominated.get(1)
        if pair is None:
            raise ConnectionError("Cannot send data, not connected")
        if pair is not self._pair:
            self._use_pair(pair)
        elif self._fd >= 0 and self._transport._sock is None:
            # asyncio closed the socket (its number may be reused): its transport says what happens now.
            self._fd = -1
        return 0

    cdef int _send(self, const char *data, Py_ssize_t size) except -1:
        # What asyncio's transport would do, minus its checks: the socket takes the datagram or, when its
        # buffer is full, the datagram is dropped (as the kernel would drop it on the way).
        cdef ssize_t sent
        transport = self._transport
        if self._fd < 0 or transport._buffer:
            transport.sendto(PyBytes_FromStringAndSize(data, size), self._addr)
            return <int>size
        sent = c_sendto(self._fd, data, size, 0, <sockaddr *>&self._sockaddr, self._sockaddr_length)
        if sent < 0 and errno != EAGAIN and errno != EWOULDBLOCK and errno != EINTR:
            import os

            code = errno
            self._pair.protocol.error_received(OSError(code, os.strerror(code)))
        return <int>size

    cdef void _count(self, int64_t octets, int64_t count):
        dtls = self._dtls
        dtls._RTCDtlsTransport__tx_bytes += octets
        dtls._RTCDtlsTransport__tx_packets += count

    cdef int _use_pair(self, pair) except -1:
        # Resolve the pair's socket and address once (numeric, as aioice's candidates are).
        cdef addrinfo hints
        cdef addrinfo *found = NULL
        self._pair = pair
        self._transport = pair.protocol.transport
        self._addr = pair.remote_addr
        self._fd = -1
        self._hook()  # its datagrams (RTCP, for a link that only sends) are read here too
        sock = getattr(self._transport, "_sock", None)
        if sock is None or not hasattr(self._transport, "_buffer"):
            return 0
        host = str(self._addr[0]).encode()
        port = str(self._addr[1]).encode()
        memset(&hints, 0, sizeof(hints))
        hints.ai_family = sock.family
        hints.ai_socktype = SOCK_DGRAM
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        if getaddrinfo(host, port, &hints, &found) != 0 or found == NULL:
            return 0  # not numeric: asyncio's transport resolves it
        if found.ai_addrlen <= sizeof(self._sockaddr):
            memcpy(&self._sockaddr, found.ai_addr, found.ai_addrlen)
            self._sockaddr_length = found.ai_addrlen
            self._fd = sock.fileno()
        freeaddrinfo(found)
        return 0

    # receiving

    def route(self, ssrc, handler):
        """Hand every later RTP packet of `ssrc` to `handler` (replacing an earlier one)."""
        self._routes[ssrc] = handler
        self._hook()

    def handler(self, ssrc):
        """The handler that packets of `ssrc` go to, or None."""
        return self._routes.get(ssrc)

    def unroute(self, handler):
        """Stop handing packets to `handler`."""
        for ssrc in [s for s, h in self._routes.items() if h == handler]:
            del self._routes[ssrc]

    cdef void _hook(self):
        # The nominated pair's protocol carries the media; hook it (again after an ICE restart picks another).
        for pair in self._nominated.values():
            protocol = pair.protocol
            if id(protocol) in self._hooked:
                continue
            self._hooked.add(id(protocol))
            transport = protocol.transport
            if not isinstance(transport, _SelectorDatagramTransport) or transport._sock is None:
                protocol.datagram_received = Inbound(
                    self._dtls, self._routes, protocol, None, self._srtp_of, self._on_rtcp
                )
                continue
            inbound = Inbound(self._dtls, self._routes, protocol, transport, self._srtp_of, self._on_rtcp)
            if not transport._conn_lost:
                # In place of the transport's reader (asyncio replaces the handle; closing removes it); on the
                # media worker's loop (media.eventloop) run inside its selector's select.
                loop = transport._loop
                handle = loop._add_reader(transport._sock_fd, inbound.read_ready)
                media_reader = getattr(loop._selector, "media_reader", None)
                if media_reader is not None:
                    media_reader(transport._sock_fd, handle, inbound)


cdef class RtpWriter:
    """Sends pre-packetized frames on one `RTCRtpSender`, as that sender would, without its encoder or task.

    Made by `media.aiortc_internals.on_sender_started` from the parameters the sender was started with:
    the RTP payloads of a frame as they came from the publisher, under this sender's SSRC, payload type,
    sequence numbers and header extension (mid, abs-send-time), with the counters its RTCP sender reports
    read; NACKs are answered (RTX when negotiated) from a history of the last `RTP_HISTORY_SIZE` packets.
    """

    cdef object _sender
    cdef RtpLink _link
    cdef int _payload_type
    cdef int _rtx_payload_type
    cdef uint32_t _ssrc
    cdef uint32_t _rtx_ssrc
    cdef bytes _extension
    cdef Py_ssize_t _extension_at
    cdef uint32_t _sequence
    cdef uint32_t _rtx_sequence
    cdef uint32_t _origin
    # The history, by seq % HISTORY: the payload sent, and what its header was made of.
    cdef list _payloads
    cdef int _history_seq[HISTORY]
    cdef uint8_t _history_m_pt[HISTORY]
    cdef uint32_t _history_timestamp[HISTORY]
    cdef uint32_t _history_abs[HISTORY]
    cdef public int64_t packets
    cdef public int64_t octets
    #: The sender's header extensions (aiortc's `HeaderExtensionsMap`) and mid, as negotiated.
    cdef readonly object header_extensions
    cdef readonly object mid

    def __init__(self, sender, RtpLink link, int payload_type, rtx_payload_type, bytes extension,
                 Py_ssize_t extension_at, header_extensions=None, mid=None):
        """`extension` is the header extension with `ABS_SEND_TIME_MARK` at `extension_at` (-1: none)."""
        self.header_extensions = header_extensions
        self.mid = mid
        self._sender = sender
        self._link = link
        self._payload_type = payload_type
        self._rtx_payload_type = -1 if rtx_payload_type is None else rtx_payload_type
        self._ssrc = sender._ssrc
        self._rtx_ssrc = sender._rtx_ssrc
        self._extension = extension
        self._extension_at = extension_at
        self._sequence = random.getrandbits(16)
        self._rtx_sequence = random.getrandbits(16)
        self._origin = random.getrandbits(32)
        self._payloads = [None] * HISTORY
        for index in range(HISTORY):
            self._history_seq[index] = -1

    cdef int _header(self, uint8_t *out, uint8_t m_pt, uint32_t seq, uint32_t timestamp, uint32_t ssrc,
                     uint32_t abs_send_time) noexcept:
        # Write the RTP header (fixed part and extension) at `out`; its length.
        cdef Py_ssize_t size = PyBytes_GET_SIZE(self._extension)
        out[0] = 0x90 if size else 0x80
        out[1] = m_pt
        _put16(out + 2, seq)
        _put32(out + 4, timestamp)
        _put32(out + 8, ssrc)
        if size:
            memcpy(out + 12, PyBytes_AS_STRING(self._extension), size)
            if self._extension_at >= 0:
                out[12 + self._extension_at] = (abs_send_time >> 16) & 0xFF
                out[13 + self._extension_at] = (abs_send_time >> 8) & 0xFF
                out[14 + self._extension_at] = abs_send_time & 0xFF
        return 12 + <int>size

    cpdef write(self, payloads, int64_t timestamp):
        """Send one frame: its RTP payloads in order, the marker on the last; `timestamp` in the codec clock.

        Raises `ConnectionError` when the transport is not connected (nothing is sent then).
        """
        cdef Srtp srtp = self._link._tx_srtp()
        cdef uint64_t ntp_time = _ntp_now()
        cdef uint32_t abs_send_time = (ntp_time >> 14) & 0x00FFFFFF
        cdef uint32_t rtp_timestamp = <uint32_t>((self._origin + timestamp) & 0xFFFFFFFF)
        cdef uint32_t seq = self._sequence
        cdef Py_ssize_t last = len(payloads) - 1, index = 0, size, head
        cdef int64_t octets = 0, sent = 0
        cdef uint8_t m_pt
        cdef bytes payload
        cdef int slot
        self._link._ready()
        for payload in payloads:
            if 12 + PyBytes_GET_SIZE(self._extension) + PyBytes_GET_SIZE(payload) > SRTP_MAX_PACKET:
                raise ValueError("packet is too long")  # (before any of the frame is sent)
        for payload in payloads:
            m_pt = self._payload_type | 0x80 if index == last else self._payload_type
            head = self._header(<uint8_t *>srtp._buffer, m_pt, seq, rtp_timestamp, self._ssrc, abs_send_time)
            size = head + PyBytes_GET_SIZE(payload)
            memcpy(srtp._buffer + head, PyBytes_AS_STRING(payload), size - head)
            sent += self._link._send(srtp._buffer, srtp._protect_buffer(<int>size))
            slot = seq % HISTORY
            self._payloads[slot] = payload
            self._history_seq[slot] = seq
            self._history_m_pt[slot] = m_pt
            self._history_timestamp[slot] = rtp_timestamp
            self._history_abs[slot] = abs_send_time
            octets += size - head
            seq = (seq + 1) & 0xFFFF
            index += 1
        self._link._count(sent, index)
        self._sequence = seq
        self.packets += index
        self.octets += octets
        sender = self._sender
        # What the sender's RTCP task puts in its sender reports.
        sender._RTCRtpSender__ntp_timestamp = ntp_time
        sender._RTCRtpSender__rtp_timestamp = rtp_timestamp
        sender._RTCRtpSender__octet_count += octets
        sender._RTCRtpSender__packet_count += index

    @property
    def sequence(self):
        """The sequence number the next packet will have."""
        return self._sequence

    def sent_packet(self, int sequence_number):
        """(header, payload) of a packet still in the history, or None (for tests and retransmissions)."""
        cdef int slot = sequence_number % HISTORY
        cdef uint8_t header[12 + 1024]
        cdef int head
        if self._history_seq[slot] != sequence_number or PyBytes_GET_SIZE(self._extension) > 1024:
            return None
        head = self._header(header, self._history_m_pt[slot], sequence_number, self._history_timestamp[slot],
                            self._ssrc, self._history_abs[slot])
        return PyBytes_FromStringAndSize(<char *>header, head), self._payloads[slot]

    async def retransmit(self, int sequence_number):
        """Send a packet again (RTX when negotiated), as `RTCRtpSender._retransmit` does."""
        entry = self.sent_packet(sequence_number)
        if entry is None:
            return
        header, payload = entry
        if self._rtx_payload_type >= 0:
            rtx = bytearray(header)
            rtx[1] = (rtx[1] & 0x80) | self._rtx_payload_type
            rtx[2] = (self._rtx_sequence >> 8) & 0xFF
            rtx[3] = self._rtx_sequence & 0xFF
            rtx[8:12] = int(self._rtx_ssrc).to_bytes(4, "big")
            self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
            header, payload = bytes(rtx), int(sequence_number).to_bytes(2, "big") + payload
        try:
            self._link.send(header, payload)
        except ConnectionError:
            pass


# --- fan-out ----------------------------------------------------------------------------------------------


cdef class Outlet:
    """One subscriber track's forwarding state and its per-frame step (`media.forwarding.ForwardedTrack`).

    A frame is written at once through the track's `RtpWriter` once its sender started, from a keyframe on
    (video), under rebased timestamps; what cannot be written that way goes to `enqueue` (the track's
    bounded queue, read by the sender's own task).
    """

    cdef public bint video
    cdef public bint paused
    cdef public bint started
    #: Whether delta frames are held back until a keyframe (video).
    cdef public bint waiting
    #: The `Publication` forwarded, or None.
    cdef public object source
    cdef public int64_t dropped
    cdef public int64_t sent
    cdef RtpWriter _writer
    cdef object _enqueue
    # Timestamp rebasing: output = input + offset, continuous across sources and epochs.
    cdef int64_t _offset
    cdef int64_t _last_out
    cdef bint _has_last_out
    cdef uintptr_t _epoch_source
    cdef int64_t _epoch
    cdef bint _has_epoch
    cdef int64_t _step
    cdef int64_t _clock_rate

    def __init__(self, bint video, int64_t clock_rate, int64_t step, enqueue):
        self.video = video
        self.waiting = video
        self._clock_rate = clock_rate
        self._step = step
        self._enqueue = enqueue

    @property
    def writer(self):
        """The `RtpWriter` frames are written through, or None (not started: the queue is used)."""
        return self._writer

    @writer.setter
    def writer(self, RtpWriter writer):
        self._writer = writer

    @property
    def waiting_keyframe(self):
        """Whether this subscriber holds back delta frames until a keyframe."""
        return self.waiting and self.started and not self.paused

    def push(self, EncodedFrame frame):
        """Send one frame now, or hand it to `enqueue`."""
        self._push(frame)

    cdef int _push(self, EncodedFrame frame) except -1:
        if self.paused or not self.started:
            return 0
        if self.waiting:
            if not frame.keyframe:
                return 0
            self.waiting = False
        if self._writer is not None and frame.payloads is not None:
            # Nothing waits: the frame's packets are written to the subscriber's socket right now.
            try:
                self._writer.write(frame.payloads, self._rebase(frame))
            except ConnectionError:
                # Not connected yet (or any more): start again from a keyframe once it is.
                self.dropped += 1
                if self.video:
                    self.waiting = True
                    if self.source is not None:
                        self.source.request_keyframe()
                return 0
            self.sent += 1
            return 0
        self._enqueue(frame)
        return 0

    def rebase(self, EncodedFrame frame):
        """The frame's timestamp as this subscriber's stream carries it (continuous across sources)."""
        return self._rebase(frame)

    cdef int64_t _rebase(self, EncodedFrame frame) noexcept:
        cdef uintptr_t source = <uintptr_t><PyObject *>self.source
        cdef int64_t start, out
        if not self._has_epoch or source != self._epoch_source or frame.epoch != self._epoch:
            self._has_epoch = True
            self._epoch_source = source
            self._epoch = frame.epoch
            start = self._last_out + self._step if self._has_last_out else 0
            self._offset = start - frame.timestamp
        out = frame.timestamp + self._offset
        if self._has_last_out and out <= self._last_out - self._clock_rate * 2:
            # A timestamp far behind the last one (a publisher restarted mid-epoch): start afresh.
            self._offset = self._last_out + self._step - frame.timestamp
            out = frame.timestamp + self._offset
        self._last_out = out
        self._has_last_out = True
        return out


cdef class Fanout:
    """A publication's frames to its taps and to each subscriber track's `Outlet` (`Publication.deliver`).

    `tracks` and `taps` are the publication's own sets; each track has its `Outlet` as ``_outlet``.
    """

    cdef public bint enabled
    cdef public int64_t frames_in
    cdef set _tracks
    cdef set _taps
    cdef object _request_keyframe

    def __init__(self, set tracks, set taps, request_keyframe):
        self.enabled = True
        self._tracks = tracks
        self._taps = taps
        self._request_keyframe = request_keyframe

    def __call__(self, EncodedFrame frame):
        self._deliver(frame)

    cdef int _deliver(self, EncodedFrame frame) except -1:
        cdef Outlet outlet
        cdef bint waiting = False
        self.frames_in += 1
        if not self.enabled:
            return 0
        for tap in self._taps:
            tap(frame)
        for track in self._tracks:
            outlet = <Outlet?>track._outlet
            outlet._push(frame)
            if outlet.waiting and outlet.started and not outlet.paused:
                waiting = True
        if waiting and not frame.keyframe:
            self._request_keyframe()
        return 0


# --- the event loop's selector ----------------------------------------------------------------------------


cdef enum:
    #: Events taken from the kernel per epoll_wait.
    POLL_EVENTS = 256

cdef int _EVENT_READ = selectors.EVENT_READ
cdef int _EVENT_WRITE = selectors.EVENT_WRITE


cdef class MediaPoller:
    """`media.eventloop.MediaSelector.select`: epoll, with the media sockets' readers run right here.

    asyncio's loop takes one turn of its Python ``_run_once`` per wake-up: the selector's list of ready keys,
    a `Handle` per ready socket through the ready queue, the timer heap. At a consult's loads the worker
    is woken a few hundred times a second, nearly all for one media socket's packets, and that turn is a
    good part of what a wake-up costs. Here the readers registered with `add` (the relay's `Inbound`
    readers) are run inside `select` when their socket is only readable, in their handle's context and
    with their exceptions given to the loop's exception handler (what ``Handle._run`` does); `select`
    waits again, until its timeout, without returning to the loop, unless what they did needs it: a
    callback queued (``call_soon``, a future's result), a timer that is now due sooner, ``loop.stop()``.
    Every other event (other sockets, writes, errors) returns as `selectors.EpollSelector.select` returns it.

    A reader is run this way only while asyncio's key for its socket is the one it was added with (so a
    reader asyncio replaced, or a new socket on a reused descriptor, takes the usual path), and only once
    the poller is `attach`-ed to its loop.
    """

    cdef int _epfd
    cdef dict _fd_to_key
    cdef dict _media  # fd -> (asyncio's Handle, reader, the SelectorKey it was added under)
    cdef object _loop
    cdef epoll_event _events[POLL_EVENTS]
    #: Readers run inside `select`, and the times `select` returned (for tests and benchmarks).
    cdef public int64_t readers_run
    cdef public int64_t returns

    def __init__(self, int epfd, dict fd_to_key):
        self._epfd = epfd
        self._fd_to_key = fd_to_key
        self._media = {}

    def attach(self, loop):
        """Run the readers added for `loop` (whose selector this is) inside `select`."""
        self._loop = loop

    def add(self, int fd, handle, reader, key):
        """Run `reader` (an `Inbound` or a callable) for `fd` while `key` is asyncio's key for it."""
        self._media[fd] = (handle, reader, key)

    def discard(self, int fd):
        self._media.pop(fd, None)

    def clear(self):
        self._media.clear()
        self._loop = None

    def __len__(self):
        return len(self._media)

    def select(self, timeout=None):
        cdef bint forever = timeout is None
        cdef double deadline = 0.0, remaining
        cdef int ms, count, index, fd, events, code
        cdef uint32_t mask
        cdef PyObject *entry
        cdef bint ran
        ready = []
        if not forever:
            deadline = _monotonic_now() + (<double>timeout if timeout > 0 else 0.0)
        loop = self._loop
        queue = first = None
        if loop is not None:
            queue = loop._ready
            scheduled = loop._scheduled
            first = scheduled[0] if scheduled else None
        while True:
            if forever:
                ms = -1
            else:
                remaining = deadline - _monotonic_now()
                # epoll_wait's resolution is 1 ms: round up, to wait at least the timeout (as asyncio does).
                ms = 0 if remaining <= 0 else <int>ceil(remaining * 1e3)
            with nogil:
                count = epoll_wait(self._epfd, self._events, POLL_EVENTS, ms)
            if count < 0:
                code = errno
                if code == EINTR:
                    PyErr_CheckSignals()  # the signal's Python handler runs (and may raise), as in select.epoll
                    self.returns += 1
                    return ready
                raise OSError(code, os.strerror(code))
            ran = False
            for index in range(count):
                fd = self._events[index].data.fd
                mask = self._events[index].events
                if mask == EPOLLIN and loop is not None:
                    entry = PyDict_GetItem(self._media, fd)
                    if entry is not NULL and self._run(<tuple>entry, fd):
                        ran = True
                        continue
                key = self._fd_to_key.get(fd)
                if key is not None:
                    # What EpollSelector.select makes of the mask.
                    events = 0
                    if mask & ~EPOLLIN:
                        events |= _EVENT_WRITE
                    if mask & ~EPOLLOUT:
                        events |= _EVENT_READ
                    ready.append((key, events & key.events))
            if ready or not ran or queue or loop._stopping:
                self.returns += 1
                return ready
            scheduled = loop._scheduled
            if (scheduled[0] if scheduled else None) is not first:
                self.returns += 1
                return ready  # a timer was added that is due first: the loop works out the timeout again
            if not forever and _monotonic_now() >= deadline:
                self.returns += 1
                return ready

    cdef bint _run(self, tuple entry, int fd) except -1:
        # Run one media reader, as its Handle would run; False when its registration is stale.
        handle, reader, key = entry
        if PyDict_GetItem(self._fd_to_key, fd) is not <PyObject *>key or handle._cancelled:
            return False
        context = handle._context
        PyContext_Enter(context)
        try:
            if type(reader) is Inbound:
                (<Inbound>reader).read_ready()
            else:
                reader()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler(
                {"message": f"Exception in the media reader of fd {fd}", "exception": exc, "handle": handle}
            )
        finally:
            PyContext_Exit(context)
        self.readers_run += 1
        return True
