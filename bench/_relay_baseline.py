"""The benchmark's baseline: stock aiortc `MediaRelay` behind the same RPC as a Jiayi media worker.

Run as ``python bench/_relay_baseline.py`` (token in ``JIAYI_MEDIA_WORKER_TOKEN``); prints the same ready line as
media/worker.py and stops when its standard input closes. Only what the load generator uses: ``join``,
``offer`` (a publisher's sendonly offer is answered and its track kept; a subscriber's recvonly offer is
answered with ``MediaRelay().subscribe(publisher track)``, aiortc's stock way, which decodes once and
encodes for each subscriber), ``answer``, ``leave`` and ``close``. ICE is the same explicit loopback set-up
as Jiayi's (media/ice.py), and both run on asyncio's default event loop: both relays differ only in how
they relay.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiohttp import WSMsgType, web  # noqa: E402
from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaRelay  # noqa: E402
from aiortc.mediastreams import MediaStreamTrack  # noqa: E402

from media.ice import create_peer_connection, prepare_gathering  # noqa: E402
from media.worker import TOKEN_ENV  # noqa: E402


class Baseline:
    """Rooms of one publisher track relayed to subscribers by `MediaRelay`."""

    def __init__(self) -> None:
        self.relay = MediaRelay()
        self.tracks: dict[str, MediaStreamTrack] = {}
        self.pcs: dict[tuple[str, str], RTCPeerConnection] = {}

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        consult_id = str(params.get("consult_id"))
        participant_id = str(params.get("participant_id"))
        if method in ("join", "answer"):
            return None
        if method == "offer":
            return {"sdp": await self.offer(consult_id, participant_id, str(params["sdp"]))}
        if method == "leave":
            pc = self.pcs.pop((consult_id, participant_id), None)
            if pc is not None:
                await pc.close()
            return None
        if method == "close":
            for key in [k for k in self.pcs if k[0] == consult_id]:
                await self.pcs.pop(key).close()
            self.tracks.pop(consult_id, None)
            return None
        raise ValueError(f"unknown method {method}")

    async def offer(self, consult_id: str, participant_id: str, sdp: str) -> str:
        pc = create_peer_connection()
        self.pcs[(consult_id, participant_id)] = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.tracks[consult_id] = track

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        if "a=recvonly" in sdp and consult_id in self.tracks:
            pc.addTrack(self.relay.subscribe(self.tracks[consult_id]))
        prepare_gathering(pc, ("127.0.0.1",))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def close(self) -> None:
        for pc in self.pcs.values():
            await pc.close()
        self.pcs.clear()


async def _rpc(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Authorization") != f"Bearer {os.environ[TOKEN_ENV]}":
        raise web.HTTPUnauthorized()
    baseline: Baseline = request.app["baseline"]
    ws = web.WebSocketResponse(max_msg_size=1 << 22)
    await ws.prepare(request)
    tasks: set[asyncio.Task[None]] = set()

    async def answer(message: dict[str, Any]) -> None:
        try:
            reply = {"id": message["id"], "result": await baseline.call(message["method"], message["params"])}
        except Exception as err:
            reply = {"id": message["id"], "error": {"code": "baseline_error", "message": repr(err)}}
        await ws.send_str(json.dumps(reply))

    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            task = asyncio.ensure_future(answer(json.loads(msg.data)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    return ws


async def main() -> None:
    app = web.Application()
    baseline = Baseline()
    app["baseline"] = baseline
    app.router.add_get("/rpc", _rpc)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": True, "port": sock.getsockname()[1], "pid": os.getpid()}), flush=True)
    while await reader.read(4096):
        pass
    await baseline.close()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
