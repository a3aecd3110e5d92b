"""The media worker's event loop (media/eventloop.py): media readers run inside the selector's `select`,
and everything the loop owes its other work still happens when it should."""

from __future__ import annotations

import asyncio
import contextvars
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from media import eventloop

WHO = contextvars.ContextVar("who", default="nobody")


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A non-blocking UDP socket to read, and one to send to it from."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.connect(receiver.getsockname())
    yield receiver, sender
    receiver.close()
    sender.close()


def _drain(
    receiver: socket.socket, got: list[bytes], then: Callable[[bytes], None] | None = None
) -> Callable[[], None]:
    def read() -> None:
        while True:
            try:
                data = receiver.recv(2048)
            except BlockingIOError:
                return
            got.append(data)
            if then is not None:
                then(data)

    return read


def _send_from_thread(sender: socket.socket, count: int, interval: float) -> threading.Thread:
    def run() -> None:
        for index in range(count):
            sender.send(b"%d" % index)
            time.sleep(interval)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _poller() -> Any:
    selector = asyncio.get_running_loop()._selector  # type: ignore[attr-defined]
    assert isinstance(selector, eventloop.MediaSelector)
    return selector.poller


async def test_media_readers_run_inside_select_without_a_turn_of_the_loop(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    receiver, sender = pair
    loop = asyncio.get_running_loop()
    got: list[bytes] = []
    done = loop.create_future()
    eventloop.add_media_reader(
        loop, receiver.fileno(), _drain(receiver, got, lambda _: len(got) == 30 and done.set_result(None))
    )
    poller = _poller()
    returns, run = poller.returns, poller.readers_run
    _send_from_thread(sender, 30, 0.003)
    await asyncio.wait_for(done, 5)
    assert got == [b"%d" % i for i in range(30)]
    assert poller.readers_run > run
    # The datagrams came in many wake-ups (one per datagram, unless the process was kept off the CPU);
    # the loop came round only for the future's callback.
    assert poller.readers_run - run >= 10
    assert poller.returns - returns <= 5
    loop.remove_reader(receiver.fileno())


async def test_a_timer_fires_on_time_while_media_keeps_coming(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    receiver, sender = pair
    loop = asyncio.get_running_loop()
    got: list[bytes] = []
    eventloop.add_media_reader(loop, receiver.fileno(), _drain(receiver, got))
    thread = _send_from_thread(sender, 1500, 0.001)  # 1.5 s or more of datagrams, one every millisecond
    start = loop.time()
    fired = loop.create_future()
    loop.call_later(0.2, lambda: fired.set_result(loop.time()))
    late = await fired - start - 0.2
    assert thread.is_alive() and got  # media was flowing the whole time
    assert late < 0.5
    loop.remove_reader(receiver.fileno())
    thread.join()


async def test_what_a_reader_queues_or_schedules_runs_when_due(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    # A far timer keeps select waiting long; what a reader queues (a future's result) or schedules sooner
    # brings the loop round at once, or when it is due.
    receiver, sender = pair
    loop = asyncio.get_running_loop()
    far = loop.call_later(30, lambda: None)
    soon, later = loop.create_future(), loop.create_future()

    def on_datagram(data: bytes) -> None:
        if data == b"now":
            soon.set_result(None)  # the waiting task is woken through the loop's ready queue
        else:
            loop.call_later(0.05, lambda: later.set_result(loop.time()))

    eventloop.add_media_reader(loop, receiver.fileno(), _drain(receiver, [], on_datagram))
    start = loop.time()
    sender.send(b"now")
    await asyncio.wait_for(soon, 3)
    assert loop.time() - start < 1
    start = loop.time()
    sender.send(b"in 50 ms")
    assert 0.05 <= await asyncio.wait_for(later, 3) - start < 1
    far.cancel()
    loop.remove_reader(receiver.fileno())


def test_a_reader_can_stop_the_loop(pair: tuple[socket.socket, socket.socket]) -> None:
    receiver, sender = pair
    loop = eventloop.new_event_loop()
    try:
        loop.call_later(10, loop.stop)  # (only if the reader's stop is lost)
        eventloop.add_media_reader(loop, receiver.fileno(), _drain(receiver, [], lambda _: loop.stop()))
        loop.call_soon(sender.send, b"stop")
        start = time.monotonic()
        loop.run_forever()
        assert time.monotonic() - start < 5
    finally:
        loop.close()


async def test_a_reader_runs_in_its_context_and_its_exceptions_reach_the_loop(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    receiver, sender = pair
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    seen: list[str] = []
    two = loop.create_future()

    def on_datagram(data: bytes) -> None:
        seen.append(WHO.get())
        if data == b"bad":
            raise ValueError("a broken reader")
        two.set_result(None)

    WHO.set("the relay")  # the context the reader is added in
    eventloop.add_media_reader(loop, receiver.fileno(), _drain(receiver, [], on_datagram))
    WHO.set("someone else")
    sender.send(b"bad")
    await asyncio.sleep(0.1)
    sender.send(b"good")
    await asyncio.wait_for(two, 3)
    assert seen == ["the relay", "the relay"]
    assert [type(context["exception"]) for context in reported] == [ValueError]
    assert "media reader" in reported[0]["message"]
    loop.set_exception_handler(None)
    loop.remove_reader(receiver.fileno())


async def test_a_reader_asyncio_replaced_or_removed_is_not_run(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    receiver, sender = pair
    loop = asyncio.get_running_loop()
    media: list[bytes] = []
    plain: list[bytes] = []
    arrived = asyncio.Event()
    eventloop.add_media_reader(loop, receiver.fileno(), _drain(receiver, media))
    assert len(_poller()) == 1
    # Another reader for the socket, added the usual way, takes its place.
    loop.add_reader(receiver.fileno(), _drain(receiver, plain, lambda _: arrived.set()))
    sender.send(b"to the new reader")
    await asyncio.wait_for(arrived.wait(), 3)
    assert (media, plain) == ([], [b"to the new reader"])
    loop.remove_reader(receiver.fileno())
    assert len(_poller()) == 0  # forgotten with the socket's registration
    sender.send(b"to nobody")
    await asyncio.sleep(0.05)
    assert media == [] and plain == [b"to the new reader"]


def test_on_another_loop_a_media_reader_is_an_ordinary_reader(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    receiver, sender = pair
    loop = asyncio.SelectorEventLoop()
    try:
        got: list[bytes] = []
        eventloop.add_media_reader(loop, receiver.fileno(), _drain(receiver, got, lambda _: loop.stop()))
        loop.call_soon(sender.send, b"hello")
        loop.call_later(5, loop.stop)
        loop.run_forever()
        assert got == [b"hello"]
    finally:
        loop.close()
