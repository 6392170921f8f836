"""Telling others what changed: plain callbacks and async iterators, no Qt.

`Observers[T]` is one kind of news (changed contract ids, a connection state, an outbox
entry). A callback is called synchronously, in registration order, on the event loop's
thread; an exception in one is logged and does not stop the others. `stream()` gives an
async iterator fed by an unbounded queue, so a slow reader never blocks the publisher.
The desktop adapts either to Qt signals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Observers(Generic[T]):
    """Subscribers to one kind of news."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[[T], None]] = []
        self._queues: list[asyncio.Queue[T]] = []

    def subscribe(self, callback: Callable[[T], None]) -> Callable[[], None]:
        """Call `callback(news)` on every publish; returns the function that unsubscribes."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    async def stream(self) -> AsyncGenerator[T, None]:
        """Every piece of news published from now on, until the iterator is closed."""
        queue: asyncio.Queue[T] = asyncio.Queue()
        self._queues.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.remove(queue)

    def publish(self, news: T) -> None:
        for callback in list(self._callbacks):
            try:
                callback(news)
            except Exception:
                log.exception("%s observer %r failed", self.name, callback)
        for queue in self._queues:
            queue.put_nowait(news)
