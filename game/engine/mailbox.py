"""A one-slot mailbox between threads: the writer replaces the value, a reader takes the newest."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Latest(Generic[T]):
    """Holds the newest value; a slow reader skips values instead of slowing the writer.

    ``merge(old, new)`` decides what a value replaced before anyone took it passes on to its
    successor (the mirror carries the old frame's events); by default nothing. ``wait`` lets an
    idle reader be called back at the next put, so the writer wakes it only when it is waiting.
    """

    def __init__(self, merge: Callable[[T, T], T] | None = None) -> None:
        self._lock = threading.Lock()
        self._value: T | None = None
        self._taken = True
        self._version = 0
        self._merge = merge
        self._waiter: Callable[[], None] | None = None

    def put(self, value: T) -> None:
        """Replace the held value (and call the waiting reader back, if one is waiting)."""
        with self._lock:
            if self._value is not None and not self._taken and self._merge is not None:
                value = self._merge(self._value, value)
            self._value = value
            self._taken = False
            self._version += 1
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter()

    def get(self) -> T | None:
        """The newest value, taken or not, or None before the first put."""
        with self._lock:
            return self._value

    def take(self) -> T | None:
        """The newest value if no one has taken it yet, else None."""
        with self._lock:
            if self._taken:
                return None
            self._taken = True
            return self._value

    def wait(self, waiter: Callable[[], None]) -> bool:
        """Have ``waiter`` called at the next put; False (no call) if a value is waiting now."""
        with self._lock:
            if not self._taken:
                return False
            self._waiter = waiter
            return True

    @property
    def version(self) -> int:
        """How many values have been put (lets a reader tell whether anything is new)."""
        return self._version
