"""Group commit for chat messages: one transaction stores every message that arrived meanwhile.

Each `send_message` used to be its own write transaction, and on SQLite transactions take turns:
the node stored about 100 messages a second however idle its CPU was, since each turn waits on
SQLite's thread. The writer keeps one task that takes everything queued, stores it in one statement
and one commit (`store`: `storage.messages.add_messages`, on SQLite through a connection of the
writer's own, `storage.db.SqliteWriteThread`), then answers each sender; while it writes, the next
batch gathers. Before each batch the writer lingers `linger_s` (3 ms) so that, under load,
a batch holds tens of messages rather than one or two: a batch costs about the same however many
messages it holds (the trips to SQLite's thread, the commit), so this is what makes 500 messages a
second affordable. A sender is answered only after the commit, so an acknowledged message is never
lost.

If a batch fails (say, an attachment deleted in between), it is halved and each half written again,
until the bad message fails alone and the others are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from consult.messaging import Message
from storage.messages import NewMessage

log = logging.getLogger(__name__)

#: Stores a batch in one transaction: each message and whether it was new (`storage.messages.add_messages`).
Store = Callable[[list[NewMessage]], Awaitable[list[tuple[Message, bool]]]]
Pending = tuple[NewMessage, "asyncio.Future[tuple[Message, bool]]"]


class MessageWriter:
    """Stores messages in batches; see the module docstring."""

    def __init__(self, store: Store, max_batch: int = 256, linger_s: float = 0.003) -> None:
        self._store = store
        self.max_batch = max_batch
        self.linger_s = linger_s
        self._pending: list[Pending] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Batches written and messages in them (the metrics and the tests read these).
        self.batches = 0
        self.written = 0

    def start(self) -> None:
        """Start the writing task."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="jiayi-message-writer")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        if self._pending and not task.done():
            await self._idle.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for _, future in self._pending:
            if not future.done():
                future.set_exception(RuntimeError("the server is shutting down; send the message again"))
        self._pending.clear()

    async def add(self, item: NewMessage) -> tuple[Message, bool]:
        """Store a message with the next batch: the message and whether it was new (not a retry)."""
        if self._task is None:
            raise RuntimeError("the message writer is not running")
        future: asyncio.Future[tuple[Message, bool]] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._idle.clear()
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.linger_s > 0:
                await asyncio.sleep(self.linger_s)
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._write(batch)
            self._idle.set()

    async def _write(self, batch: list[Pending]) -> None:
        try:
            results = await self._store([item for item, _ in batch])
        except Exception:
            if len(batch) == 1:
                item, future = batch[0]
                log.exception("storing a message of user %s failed", item.sender_user_id)
                if not future.done():
                    future.set_exception(RuntimeError("the message could not be stored"))
                return
            half = len(batch) // 2  # halve until the bad message is alone
            await self._write(batch[:half])
            await self._write(batch[half:])
            return
        self.batches += 1
        self.written += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # the sender may have gone
                future.set_result(result)
