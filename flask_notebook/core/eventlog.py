"""The numbered events of one piece of work (a REST execution, a run), and a signal when
anything about it changes: what their SSE streams and their waiters read.

Events are ``(name, payload)`` pairs numbered from 0 in the order they were added. The last
one of a finished piece of work is ``done``. Everything happens in one thread (gevent's
hub): nothing yields between a reader's last look at the events and its wait, so no event
is missed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, overload

from gevent.event import Event

#: One event: its number, name and payload.
Numbered = tuple[int, str, Any]


class EventLog:
    """Events kept in order, with their numbers, and a change signal.

    :param events: the first events, ``(name, payload)`` pairs.
    """

    def __init__(self, events: Iterable[tuple[str, Any]] = ()) -> None:
        self._events: list[tuple[str, Any]] = list(events)
        #: The number of the first event still kept (``forget_all_but_last`` moves it).
        self._first = 0
        self._changed = Event()

    # The events still kept, as a list of (name, payload) pairs: all of them until
    # ``forget_all_but_last``.
    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self._events)

    @overload
    def __getitem__(self, index: int) -> tuple[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> tuple[str, Any] | list[tuple[str, Any]]:
        return self._events[index]

    def append(self, name: str, payload: Any) -> None:
        self._events.append((name, payload))
        self.notify()

    def notify(self) -> None:
        """Wake every waiter: something changed (an event, or a field the record shows)."""
        event, self._changed = self._changed, Event()
        event.set()

    def wait(self, timeout: float | None) -> bool:
        """Until something changes (True) or `timeout` seconds pass (False)."""
        return bool(self._changed.wait(timeout))

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """Until `predicate()` holds (True) or `timeout` seconds pass (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not predicate():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self.wait(left)
        return True

    def since(self, start: int) -> Iterator[Numbered]:
        """The events numbered `start` and after that are kept, those added meanwhile included."""
        index = start
        while True:
            index = max(index, self._first)
            if index - self._first >= len(self._events):
                return
            name, payload = self._events[index - self._first]
            yield index, name, payload
            index += 1

    def stream(self, start: int, *, ended: Callable[[], bool], keepalive: float) -> Iterator[Numbered | None]:
        """Events from number `start` as they come, ending after ``done`` (at once when the work
        has `ended` and no event after `start` is left); None every `keepalive` seconds
        without one, so a caller can find out whether anyone still listens."""
        index = max(start, 0)
        while True:
            for number, name, payload in self.since(index):
                yield number, name, payload
                index = number + 1
                if name == "done":
                    return
            if ended():
                return
            if not self.wait(keepalive):
                yield None

    def forget_all_but_last(self) -> None:
        """Drop every event but the last (its number kept)."""
        if len(self._events) > 1:
            self._first += len(self._events) - 1
            self._events = self._events[-1:]
