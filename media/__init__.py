"""Media: aiortc peers, the selective-forwarding relay, keyframe handling, media workers and their placement.

- `media.pool` is the hub's whole interface (`MediaPool`, `RoomHandle`): worker processes, placement, calls.
- `media.worker` is a worker process (a JSON RPC over a WebSocket on 127.0.0.1); `media.client` its hub side;
  `media.placement` picks a worker for a consult.
- `media.room` is one consult's media room: one peer connection per participant, server-initiated
  renegotiation, the glare rule, audio-only.
- `media.forwarding` forwards encoded VP8, H.264 and Opus frames without decoding: frame assembly on the
  marker bit, keyframe requests, bounded subscriber queues.
- `media.aiortc_internals` is the only module that touches aiortc's and aioice's private names, checked at
  import against the pinned aiortc version.
- `media.negotiation` (SDP checks, payload-type alignment), `media.ice` (explicit ICE), `media.turn` (TURN REST
  credentials), `media.settings`, `media.errors`.

The recorder (encoded frames into encrypted segments of `storage/blobstore.py` while `consult/` says every
present participant consented) comes with the recording issue.
"""
