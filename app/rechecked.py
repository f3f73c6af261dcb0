"""Values read from the database that each process trusts for a moment: custom order
fields, status mappings. A change made in another process applies here once the moment
has passed; the process that made it calls ``forget`` and sees it at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


class Rechecked(Generic[T]):
    """``load(db)``'s answer, read again when older than ``seconds`` or when another
    database (another app in the same process) asks."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._held: tuple[Any, float, T] | None = None

    def get(self, db: Session, load: Callable[[Session], T]) -> T:
        now = time.monotonic()
        engine = db.get_bind()
        held = self._held
        if held is not None and held[0] is engine and now - held[1] < self.seconds:
            return held[2]
        value = load(db)
        with self._lock:
            self._held = (engine, now, value)
        return value

    def forget(self) -> None:
        with self._lock:
            self._held = None
