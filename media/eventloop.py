"""The media worker's event loop: asyncio's, with a selector that runs the relay's socket readers itself.

`new_event_loop` makes an `asyncio.SelectorEventLoop` on a `MediaSelector`, an `selectors.EpollSelector`
whose `select` is `media.fastpath.MediaPoller.select`: the readers `RtpLink` installs for the media sockets
(`fastpath.Inbound.read_ready`) are registered with the selector too (`media_reader`) and run inside
`select`, so a wake-up of the worker for media packets costs no turn of the loop's Python ``_run_once``;
`select` returns to the loop as soon as anything needs it (a callback queued, a timer due sooner, another
socket, a write, an error). Everything else about the loop is asyncio's.

On any other loop (tests, uvloop) the readers are ordinary asyncio readers and nothing changes but the cost.
The asyncio names this relies on are checked by `media.aiortc_internals.check`.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any

from media import fastpath


class MediaSelector(selectors.EpollSelector):
    """An epoll selector whose media readers run inside `select` (see `fastpath.MediaPoller`)."""

    def __init__(self) -> None:
        super().__init__()
        self._poller = fastpath.MediaPoller(self._selector.fileno(), self._fd_to_key)  # type: ignore[attr-defined]

    @property
    def poller(self) -> fastpath.MediaPoller:
        return self._poller

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Let `select` run media readers for `loop` (this selector's loop)."""
        self._poller.attach(loop)

    def media_reader(self, fd: int, handle: asyncio.Handle, reader: Any) -> None:
        """Run `reader` inside `select` when `fd` is readable, while `handle` is its reader in the loop."""
        self._poller.add(fd, handle, reader, self.get_key(fd))

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        return self._poller.select(timeout)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        key = super().unregister(fileobj)
        self._poller.discard(key.fd)
        return key

    def close(self) -> None:
        self._poller.clear()
        super().close()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """An asyncio event loop whose selector runs the relay's media readers (the media worker's loop)."""
    selector = MediaSelector()
    loop = asyncio.SelectorEventLoop(selector)
    selector.attach(loop)
    return loop


def add_media_reader(loop: asyncio.AbstractEventLoop, fd: int, reader: Any) -> asyncio.Handle:
    """Make `reader` `fd`'s reader in `loop` (in place of any), run inside `select` on a media loop."""
    handle: asyncio.Handle = loop._add_reader(fd, reader)  # type: ignore[attr-defined]
    selector = getattr(loop, "_selector", None)
    if isinstance(selector, MediaSelector):
        owner = getattr(reader, "__self__", None)
        selector.media_reader(fd, handle, owner if type(owner) is fastpath.Inbound else reader)
    return handle
