"""A one-slot mailbox between threads: the writer replaces the value, readers take the newest."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Latest(Generic[T]):
    """Holds the newest value; a slow reader skips values instead of slowing the writer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: T | None = None
        self._version = 0

    def put(self, value: T) -> None:
        """Replace the held value."""
        with self._lock:
            self._value = value
            self._version += 1

    def get(self) -> T | None:
        """The newest value, or None before the first put."""
        with self._lock:
            return self._value

    @property
    def version(self) -> int:
        """How many values have been put (lets a reader tell whether anything is new)."""
        return self._version
